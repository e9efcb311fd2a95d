"""PNG charts for staff reports, drawn with matplotlib's Agg canvas (no display, no pyplot global state).

The title is drawn on the chart and also written into the PNG's metadata (``Title``), so a test or an
archive can tell charts apart without reading pixels.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

GOOD = "#2e7d32"
MIDDLE = "#f9a825"
BAD = "#c62828"
PLAIN = "#1565c0"


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    png: bytes
    filename: str = "chart.png"


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    note: str = ""  # written at the end of the bar
    color: str = PLAIN


def horizontal_bars(
    title: str, bars: Sequence[Bar], *, xlabel: str, xmax: float | None = None, filename: str = "chart.png"
) -> Chart:
    """One bar per row, first bar on top; sized for a phone screen."""
    from matplotlib.figure import Figure

    height = max(2.4, 0.55 * len(bars) + 1.4)
    figure = Figure(figsize=(6.4, height), dpi=110)
    axes = figure.add_subplot()
    labels = [bar.label for bar in bars]
    values = [bar.value for bar in bars]
    positions = list(range(len(bars)))
    axes.barh(positions, values, color=[bar.color for bar in bars])
    axes.set_yticks(positions, labels)
    axes.invert_yaxis()
    top = xmax if xmax is not None else max([*values, 1.0]) * 1.25
    axes.set_xlim(0, top)
    for position, bar in zip(positions, bars, strict=True):
        if bar.note:
            axes.text(bar.value + top * 0.01, position, bar.note, va="center", fontsize=9)
    axes.set_xlabel(xlabel)
    axes.set_title(title, fontsize=11, loc="left")
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Title": title, "Software": "Momento"})
    return Chart(title=title, png=buffer.getvalue(), filename=filename)


def share_color(share: float | None, *, good: float = 0.8, bad: float = 0.6) -> str:
    """Traffic-light colour of a satisfaction share."""
    if share is None:
        return PLAIN
    if share >= good:
        return GOOD
    if share >= bad:
        return MIDDLE
    return BAD

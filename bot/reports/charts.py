"""PNG charts for staff reports, drawn with matplotlib's Agg canvas (no display, no pyplot global state).

Made to be read at a glance on a phone: 1280 px wide or more, large fonts, one measure per visual channel, a
legend for every colour, the period's dates (and the company) in the title. The title is also written into
the PNG's metadata (``Title``), and each chart keeps its axis range and plotted values, so a test or an
archive can tell what it shows without reading pixels.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

GOOD = "#2e7d32"
MIDDLE = "#f9a825"
BAD = "#c62828"
PLAIN = "#1565c0"
TARGET = "#212121"
WIDTH_PX = 1280
DPI = 160
WIDTH_IN = WIDTH_PX / DPI
TITLE_SIZE = 13
LABEL_SIZE = 12
TICK_SIZE = 11
NOTE_SIZE = 11
# Share turning negative: green (none) to red (the scale's top); the colour bar says so.
NEGATIVE_MAP = "RdYlGn_r"
# One style per reference line (tier minimums), told apart in the legend.
LINE_STYLES = ("--", ":", "-.", (0, (5, 1, 1, 1)))


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    png: bytes
    filename: str = "chart.png"
    # What the value axis spans and what was plotted on it (in drawing order), for checks without pixels.
    limits: tuple[float, float] = (0.0, 0.0)
    values: tuple[float, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    note: str = ""  # written at the end of the bar
    color: str = PLAIN


@dataclass(frozen=True, slots=True)
class Legend:
    color: str
    label: str


@dataclass(frozen=True, slots=True)
class Line:
    """A reference line across the bars (a target, a minimum)."""

    value: float
    label: str


def _figure(rows: int, *, extra: float = 1.8) -> Figure:
    from matplotlib.figure import Figure

    height = max(4.0, 0.55 * rows + extra)
    return Figure(figsize=(WIDTH_IN, height), dpi=DPI)


def _finish(
    figure: Figure, title: str, filename: str, limits: tuple[float, float], values: Sequence[float]
) -> Chart:
    figure.suptitle(title, fontsize=TITLE_SIZE, x=0.01, ha="left")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Title": title, "Software": "Momento"})
    return Chart(title, buffer.getvalue(), filename, (float(limits[0]), float(limits[1])), tuple(values))


def _legend_rows(legend: Sequence[Legend], lines: Sequence[Line]) -> int:
    return (len(legend) + len(lines) + 1) // 2


def horizontal_bars(
    title: str,
    bars: Sequence[Bar],
    *,
    xlabel: str,
    xmin: float = 0.0,
    xmax: float | None = None,
    lines: Sequence[Line] = (),
    legend: Sequence[Legend] = (),
    filename: str = "chart.png",
) -> Chart:
    """One bar per row, first bar on top; values below zero are drawn to the left of a zero line."""
    figure = _figure(len(bars), extra=2.2 + 0.35 * _legend_rows(legend, lines))
    axes = figure.add_subplot()
    positions = list(range(len(bars)))
    values = [bar.value for bar in bars]
    axes.barh(positions, values, color=[bar.color for bar in bars])
    axes.set_yticks(positions, [bar.label for bar in bars], fontsize=LABEL_SIZE)
    axes.tick_params(axis="x", labelsize=TICK_SIZE)
    axes.invert_yaxis()
    top = xmax if xmax is not None else max([*values, 1.0]) * 1.3
    axes.set_xlim(xmin, top)
    span = top - xmin
    for position, bar in zip(positions, bars, strict=True):
        if bar.note:
            left = bar.value < 0
            x = bar.value - span * 0.01 if left else bar.value + span * 0.01
            axes.text(x, position, bar.note, va="center", ha="right" if left else "left", fontsize=NOTE_SIZE)
    if xmin < 0:
        axes.axvline(0, color=TARGET, linewidth=1)
    handles: list[Artist] = []
    for line, style in zip(lines, LINE_STYLES, strict=False):
        handles.append(
            axes.axvline(line.value, color=TARGET, linestyle=style, linewidth=1.6, label=line.label)
        )
    if legend or lines:
        from matplotlib.patches import Patch

        patches: list[Artist] = [Patch(color=item.color, label=item.label) for item in legend]
        handles = patches + handles
        # Below the plot, never over a bar.
        axes.legend(
            handles=handles,
            fontsize=TICK_SIZE,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.2),
            ncol=2,
            frameon=False,
        )
    axes.set_xlabel(xlabel, fontsize=LABEL_SIZE)
    axes.spines[["top", "right"]].set_visible(False)
    return _finish(figure, title, filename, (xmin, top), values)


def colored_bars(
    title: str,
    bars: Sequence[Bar],
    shades: Sequence[float | None],
    *,
    xlabel: str,
    scale_label: str,
    side_title: str = "",
    side: Sequence[Bar] = (),
    side_xlabel: str = "",
    filename: str = "chart.png",
) -> Chart:
    """Bar length for one measure, colour (with a colour bar) for a share in [0, 1]; an optional second panel
    of bars (drop-out per touchpoint, 0–100 %) below."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.ticker import MaxNLocator

    figure = _figure(len(bars) + len(side), extra=4.0 if side else 2.6)
    grid = figure.add_gridspec(
        2 if side else 1, 1, height_ratios=[max(len(bars), 1), max(len(side), 1)] if side else [1]
    )
    axes = figure.add_subplot(grid[0])
    cmap = colormaps[NEGATIVE_MAP]
    norm = Normalize(0.0, 1.0)
    values = [bar.value for bar in bars]
    colors = [cmap(norm(shade)) if shade is not None else "#9e9e9e" for shade in shades]
    positions = list(range(len(bars)))
    axes.barh(positions, values, color=colors)
    axes.set_yticks(positions, [bar.label for bar in bars], fontsize=LABEL_SIZE)
    axes.tick_params(axis="x", labelsize=TICK_SIZE)
    axes.invert_yaxis()
    top = max([*values, 1.0]) * 1.6
    axes.set_xlim(0, top)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    for position, bar in zip(positions, bars, strict=True):
        if bar.note:
            axes.text(bar.value + top * 0.01, position, bar.note, va="center", fontsize=NOTE_SIZE)
    axes.set_xlabel(xlabel, fontsize=LABEL_SIZE)
    axes.spines[["top", "right"]].set_visible(False)
    colorbar = figure.colorbar(
        ScalarMappable(norm=norm, cmap=cmap),
        ax=axes,
        orientation="horizontal",
        location="top",
        shrink=0.6,
        pad=0.05,
        aspect=40,
    )
    colorbar.set_label(scale_label, fontsize=TICK_SIZE)
    colorbar.ax.xaxis.set_major_formatter(lambda value, _: f"{value * 100:.0f}%")
    colorbar.ax.tick_params(labelsize=TICK_SIZE)
    if side:
        lower = figure.add_subplot(grid[1])
        places = list(range(len(side)))
        lower.barh(places, [bar.value for bar in side], color=[bar.color for bar in side])
        lower.set_yticks(places, [bar.label for bar in side], fontsize=LABEL_SIZE)
        lower.invert_yaxis()
        lower.set_xlim(0, 125)
        lower.set_xticks([0, 20, 40, 60, 80, 100])
        lower.tick_params(axis="x", labelsize=TICK_SIZE)
        for place, bar in zip(places, side, strict=True):
            if bar.note:
                lower.text(bar.value + 1, place, bar.note, va="center", fontsize=NOTE_SIZE)
        lower.set_xlabel(side_xlabel, fontsize=LABEL_SIZE)
        lower.set_title(side_title, fontsize=LABEL_SIZE, loc="left")
        lower.spines[["top", "right"]].set_visible(False)
    return _finish(figure, title, filename, (0.0, top), values)


def weekly_trend(
    title: str,
    weeks: Sequence[str],
    csat: Sequence[float | None],
    net: Sequence[float | None],
    *,
    csat_label: str,
    net_label: str,
    lines: Sequence[Line] = (),
    filename: str = "trend.png",
) -> Chart:
    """Two panels over the same weeks: CSAT on 0–100 % (with the target line), net sentiment on −1…+1."""
    figure = _figure(8, extra=1.0)
    upper, lower = figure.subplots(2, 1, sharex=True)
    positions = list(range(len(weeks)))

    def plot(axes: Axes, values: Sequence[float | None], color: str) -> None:
        points = [(p, v) for p, v in zip(positions, values, strict=True) if v is not None]
        if points:
            xs, ys = zip(*points, strict=True)
            axes.plot(xs, ys, marker="o", color=color, linewidth=2)

    shown_csat = [None if v is None else v * 100 for v in csat]
    plot(upper, shown_csat, PLAIN)
    upper.set_ylim(0, 100)
    upper.set_ylabel(csat_label, fontsize=LABEL_SIZE)
    for line, style in zip(lines, LINE_STYLES, strict=False):
        upper.axhline(line.value, color=TARGET, linestyle=style, linewidth=1.6, label=line.label)
    if lines:
        upper.legend(fontsize=TICK_SIZE, loc="lower right")
    plot(lower, net, GOOD)
    lower.set_ylim(-1, 1)
    lower.axhline(0, color=TARGET, linewidth=1)
    lower.set_ylabel(net_label, fontsize=LABEL_SIZE)
    lower.set_xticks(positions, list(weeks), fontsize=TICK_SIZE, rotation=0)
    for axes in (upper, lower):
        axes.tick_params(axis="y", labelsize=TICK_SIZE)
        axes.grid(axis="y", alpha=0.3)
        axes.spines[["top", "right"]].set_visible(False)
    plotted = [v for v in shown_csat if v is not None]
    return _finish(figure, title, filename, (0.0, 100.0), plotted)


def share_color(share: float | None, *, good: float = 0.8, bad: float = 0.6) -> str:
    """Traffic-light colour of a satisfaction share."""
    if share is None:
        return PLAIN
    if share >= good:
        return GOOD
    if share >= bad:
        return MIDDLE
    return BAD

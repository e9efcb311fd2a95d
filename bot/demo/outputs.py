"""What the demo leaves behind: the staff reports as plain text, their charts, a CSV export, transcripts.

The reports are the staff commands' own (bot.reports), so the demo shows exactly what a CX team would read
in Telegram after a month of real traffic.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.config import Settings
from bot.reports.common import Report, Scope
from bot.reports.drivers import build_drivers, render_drivers
from bot.reports.exports import ExportRequest, export_answers
from bot.reports.journey import build_journey, render_journey
from bot.reports.periods import parse_period
from bot.reports.segments import build_segments, render_segments
from bot.reports.summary import build_summary, render_summary
from storage.db import Database

_TAG = re.compile(r"<[^>]+>")


def plain(text: str) -> str:
    """Telegram HTML as terminal text."""
    return html.unescape(_TAG.sub("", text))


@dataclass
class Outputs:
    reports: dict[str, str] = field(default_factory=dict)  # name -> plain text
    charts: list[Path] = field(default_factory=list)
    export: Path | None = None
    export_rows: int = 0


async def write_outputs(db: Database, settings: Settings, out_dir: Path, *, now: datetime) -> Outputs:
    """The /summary, /touchpoints (drivers), /journey and /segments reports over the last 30 days, their
    charts and a CSV export; files are named after the staff commands."""
    out_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - small local writes, once
    scope = Scope(parse_period(None, now=now, timezone=settings.survey.default_timezone))
    outputs = Outputs()
    reports: dict[str, Report] = {
        "summary": render_summary(await build_summary(db, settings, scope), settings, "en"),
        "touchpoints": render_drivers(await build_drivers(db, settings, scope), settings, "en"),
        "journey": render_journey(await build_journey(db, settings, scope), settings, "en"),
        "segments": render_segments(await build_segments(db, settings, scope), settings, "en"),
    }
    for name, report in reports.items():
        outputs.reports[name] = plain(report.text)
        (out_dir / f"{name}.txt").write_text(outputs.reports[name] + "\n", encoding="utf-8")
        if report.chart is not None:
            path = out_dir / f"{name}.png"
            path.write_bytes(report.chart.png)
            outputs.charts.append(path)
    destination = out_dir / "answers.csv"
    destination.unlink(missing_ok=True)  # the demo starts afresh each run
    result = await export_answers(db, ExportRequest(format="csv"), destination, settings, actor="demo")
    outputs.export, outputs.export_rows = result.path, result.rows
    return outputs

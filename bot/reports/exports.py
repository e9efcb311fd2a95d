"""Exports of every answer to CSV, XLSX or JSONL: streamed row by row, safe to open in a spreadsheet, audited.

- CSV is UTF-8 with a BOM so Excel shows Spanish accents right.
- XLSX is streamed into the zip by bot.reports.xlsx_stream (flat memory, ~10× faster than a general writer).
- Text cells starting with = + - @ (or a tab / carriage return) get a leading apostrophe in CSV and XLSX so a
  spreadsheet never runs customer text as a formula. JSONL is data, not a spreadsheet: it keeps the database
  values exactly.
Used by /export (bot/telegram/admin.py) and `momento export` (bot/cli/export.py).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from bot.config import Settings
from bot.reports.periods import Period, PeriodError, looks_like_period, parse_period
from bot.reports.xlsx_stream import XlsxStreamWriter
from storage import audit
from storage import exports as export_queries
from storage.db import Database
from storage.exports import EXPORT_COLUMNS

ExportFormat = Literal["csv", "xlsx", "jsonl"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "xlsx", "jsonl")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
PROGRESS_EVERY = 10_000
# Excel's limit per sheet; a larger export must use CSV or JSONL.
XLSX_MAX_ROWS = 1_048_575


class ExportError(ValueError):
    """The export cannot be made as asked; the message says how to ask instead."""


@dataclass(frozen=True, slots=True)
class ExportRequest:
    format: ExportFormat = "csv"
    period: Period | None = None  # None: everything
    touchpoint: str | None = None

    def filename(self, now: datetime) -> str:
        parts = ["momento-answers"]
        if self.touchpoint:
            parts.append(self.touchpoint)
        parts.append(self.period.label.replace("..", "_to_") if self.period else "all")
        parts.append(now.strftime("%Y%m%d-%H%M"))
        return "-".join(parts) + "." + self.format


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    rows: int
    request: ExportRequest


def neutralise(value: str) -> str:
    """Make a text cell inert in spreadsheets (OWASP CSV injection)."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def parse_export_request(args: list[str], settings: Settings, *, now: datetime) -> ExportRequest:
    """``[csv|xlsx|jsonl] [period] [touchpoint]`` in any order."""
    export_format: ExportFormat = "csv"
    period: Period | None = None
    touchpoint: str | None = None
    keys = {tp.key for tp in settings.touchpoints}
    for raw in args:
        value = raw.strip().lower()
        if value in FORMATS:
            export_format = FORMATS[FORMATS.index(value)]
        elif looks_like_period(value):
            try:
                period = (
                    None
                    if value == "all"
                    else parse_period(value, now=now, timezone=settings.survey.default_timezone)
                )
            except PeriodError as exc:
                raise ExportError(str(exc)) from exc
        elif value in keys:
            touchpoint = value
        else:
            raise ExportError(
                f"“{raw[:40]}” is not a format (csv, xlsx, jsonl), a period (7d, 30d, this-month, "
                f"YYYY-MM-DD..YYYY-MM-DD, all) or a touchpoint ({', '.join(sorted(keys)) or '–'})"
            )
    return ExportRequest(export_format, period, touchpoint)


async def count_rows(db: Database, request: ExportRequest) -> int:
    return await export_queries.count_answers(
        db,
        start=request.period.start if request.period else None,
        end=request.period.end if request.period else None,
        touchpoint_id=await export_queries.touchpoint_filter(db, request.touchpoint),
    )


async def write_export(
    db: Database,
    request: ExportRequest,
    destination: Path,
    *,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Stream the answers into *destination*; returns the number of rows. Calls *progress(rows_so_far)*."""
    rows = export_queries.iter_answers(
        db,
        start=request.period.start if request.period else None,
        end=request.period.end if request.period else None,
        touchpoint_id=await export_queries.touchpoint_filter(db, request.touchpoint),
    )
    count = 0
    if request.format == "csv":
        with destination.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(EXPORT_COLUMNS)
            async for row in rows:
                writer.writerow(
                    ["" if v is None else neutralise(v) if isinstance(v, str) else v for v in row]
                )
                count += 1
                if progress is not None and count % PROGRESS_EVERY == 0:
                    progress(count)
    elif request.format == "jsonl":
        with destination.open("w", encoding="utf-8", newline="\n") as handle:
            async for row in rows:
                handle.write(json.dumps(dict(zip(EXPORT_COLUMNS, row, strict=True)), ensure_ascii=False))
                handle.write("\n")
                count += 1
                if progress is not None and count % PROGRESS_EVERY == 0:
                    progress(count)
    else:
        count = await _write_xlsx(rows, destination, progress)
    if progress is not None:
        progress(count)
    return count


async def _write_xlsx(rows: Any, destination: Path, progress: Callable[[int], None] | None) -> int:
    with XlsxStreamWriter(destination, "answers", EXPORT_COLUMNS) as sheet:
        count = 0
        async for row in rows:
            count += 1
            if count > XLSX_MAX_ROWS:
                raise ExportError(
                    f"more than {XLSX_MAX_ROWS:,} rows do not fit in one Excel sheet: use csv or jsonl, "
                    "or a shorter period"
                )
            sheet.write_row([neutralise(value) if isinstance(value, str) else value for value in row])
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress(count)
    return count


async def export_answers(
    db: Database,
    request: ExportRequest,
    destination: Path,
    *,
    actor: str,
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Write the export and record it in the audit log (who, what, how many rows)."""
    if request.format == "xlsx" and await count_rows(db, request) > XLSX_MAX_ROWS:
        raise ExportError(
            f"more than {XLSX_MAX_ROWS:,} rows do not fit in one Excel sheet: use csv or jsonl, "
            "or a shorter period"
        )
    rows = await write_export(db, request, destination, progress=progress)
    await audit.record(
        db,
        actor=actor,
        action="export",
        subject="answers",
        details={
            "format": request.format,
            "period": request.period.label if request.period else "all",
            "start": request.period.start.isoformat() if request.period else None,
            "end": request.period.end.isoformat() if request.period else None,
            "touchpoint": request.touchpoint,
            "rows": rows,
            "file": destination.name,
        },
    )
    return ExportResult(destination, rows, request)

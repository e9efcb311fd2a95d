"""Exports to CSV, XLSX or JSONL, one row per answer or one row per survey: streamed row by row, ready to
open in a spreadsheet, audited.

- Dates are the company's local time (survey.default_timezone; the header names the zone): real date-time
  cells in XLSX, ``2026-10-18 16:05:12`` in CSV (which spreadsheets read as dates). JSONL keeps the
  database's UTC values exactly.
- CSV is UTF-8 with a BOM so Excel shows Spanish accents right; text cells starting with = + - @ (or a tab /
  carriage return) get a leading apostrophe so a spreadsheet never runs customer text as a formula. XLSX
  text cells are inline strings, never formulas, so they keep the customer's words exactly.
- XLSX is streamed into the zip by bot.reports.xlsx_stream (flat memory) with fitted, wrapped columns, a
  frozen header and an autofilter.
- Touchpoint names (in the company's default language) stand beside their keys.
Used by /export (bot/telegram/admin.py) and `momento export` (bot/cli/export.py).
"""

from __future__ import annotations

import csv
import difflib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.reports.periods import (
    ACCEPTED,
    Period,
    PeriodError,
    looks_like_period,
    meant_as_period,
    parse_period,
)
from bot.reports.xlsx_stream import Column, ColumnKind, XlsxStreamWriter
from storage import audit
from storage import exports as export_queries
from storage.db import Database
from storage.exports import EXPORT_COLUMNS, SURVEY_COLUMNS

ExportFormat = Literal["csv", "xlsx", "jsonl"]
ExportRows = Literal["answers", "surveys"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "xlsx", "jsonl")
ROW_SHAPES: tuple[ExportRows, ...] = ("answers", "surveys")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
PROGRESS_EVERY = 10_000
# Excel's limit per sheet; a larger export must use CSV or JSONL.
XLSX_MAX_ROWS = 1_048_575

DATETIME_COLUMNS = frozenset(
    {"received_at", "invited_at", "completed_at", "alert_created_at", "alert_resolved_at"}
)
NUMBER_COLUMNS = frozenset(
    {
        "answer_id",
        "survey_id",
        "rating",
        "truncated",
        "sentiment_score",
        "callback_requested",
        "hours_to_resolve",
    }
)
WRAPPED_COLUMNS = frozenset({"text", "expectation", "experience", "improvement"})


class ExportError(ValueError):
    """The export cannot be made as asked; the message says how to ask instead."""


@dataclass(frozen=True, slots=True)
class ExportRequest:
    format: ExportFormat = "csv"
    period: Period | None = None  # None: everything
    touchpoint: str | None = None
    rows: ExportRows = "answers"

    def filename(self, now: datetime) -> str:
        """A name with the filters and the time to the second (two exports a minute apart never clash)."""
        parts = ["momento-" + self.rows]
        if self.touchpoint:
            parts.append(self.touchpoint)
        parts.append(self.period.label.replace("..", "_to_") if self.period else "all")
        parts.append(now.strftime("%Y%m%d-%H%M%S"))
        return "-".join(parts) + "." + self.format


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    rows: int
    request: ExportRequest


def neutralise(value: str) -> str:
    """Make a CSV text cell inert in spreadsheets (OWASP CSV injection)."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def free_path(path: Path) -> Path:
    """*path*, or ``name-2.ext``, ``name-3.ext`` … when it exists: an export never overwrites a file."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate


def _unreadable(raw: str, keys: set[str]) -> str:
    """Which of period, touchpoint or format a word was probably meant as, and what that accepts."""
    value = raw.strip().lower()
    if meant_as_period(value):
        return f"“{raw[:40]}” is not a period: use {ACCEPTED}"
    near_touchpoint = difflib.get_close_matches(value, sorted(keys), n=1, cutoff=0.6)
    near_format = difflib.get_close_matches(value, [*FORMATS, *ROW_SHAPES], n=1, cutoff=0.6)
    # A short word (pdf, xls) is a file format more likely than a touchpoint key.
    if not near_touchpoint and (near_format or len(value) <= 5):
        return f"“{raw[:40]}” is not a format: use csv, xlsx or jsonl (and answers or surveys for the rows)"
    return f"“{raw[:40]}” is not a touchpoint: use one of {', '.join(sorted(keys)) or '–'}"


def parse_period_option(value: str, settings: Settings, *, now: datetime) -> Period | None:
    """A period as typed (None for "all"), or ExportError naming the period."""
    lowered = value.strip().lower()
    if lowered == "all":
        return None
    if not looks_like_period(lowered):
        raise ExportError(f"“{value[:40]}” is not a period: use {ACCEPTED}")
    try:
        return parse_period(lowered, now=now, timezone=settings.survey.default_timezone)
    except PeriodError as exc:
        raise ExportError(f"period “{value[:40]}”: {exc}") from exc


def parse_export_request(args: list[str], settings: Settings, *, now: datetime) -> ExportRequest:
    """``[csv|xlsx|jsonl] [answers|surveys] [period] [touchpoint]`` in any order."""
    export_format: ExportFormat = "csv"
    rows: ExportRows = "answers"
    period: Period | None = None
    touchpoint: str | None = None
    keys = {tp.key for tp in settings.touchpoints}
    for raw in args:
        value = raw.strip().lower()
        if value in FORMATS:
            export_format = FORMATS[FORMATS.index(value)]
        elif value in ROW_SHAPES:
            rows = ROW_SHAPES[ROW_SHAPES.index(value)]
        elif looks_like_period(value):
            period = parse_period_option(value, settings, now=now)
        elif value in keys:
            touchpoint = value
        else:
            raise ExportError(_unreadable(raw, keys))
    return ExportRequest(export_format, period, touchpoint, rows)


def _range(request: ExportRequest) -> dict[str, Any]:
    return {
        "start": request.period.start if request.period else None,
        "end": request.period.end if request.period else None,
    }


async def count_rows(db: Database, request: ExportRequest) -> int:
    touchpoint_id = await export_queries.touchpoint_filter(db, request.touchpoint)
    if request.rows == "surveys":
        return await export_queries.count_surveys(db, **_range(request), touchpoint_id=touchpoint_id)
    return await export_queries.count_answers(db, **_range(request), touchpoint_id=touchpoint_id)


class LocalTimes:
    """Database UTC text -> naive local datetime, with the zone's offset looked up once per hour."""

    def __init__(self, timezone: str) -> None:
        self.zone = ZoneInfo(timezone)
        self._offsets: dict[str, timedelta] = {}

    def __call__(self, value: str | None) -> datetime | None:
        if not value:
            return None
        # "2026-10-18T14:05:12.000000Z": the first 19 characters are the UTC time to the second.
        moment = datetime.fromisoformat(value[:19])
        hour = value[:13]
        offset = self._offsets.get(hour)
        if offset is None:
            local = moment.replace(tzinfo=UTC).astimezone(self.zone)
            offset = self._offsets[hour] = local.utcoffset() or timedelta()
        return moment + offset


def _names(settings: Settings) -> Callable[[str | None, str | None], str | None]:
    """The touchpoint's display name in the company's language (config first, else the stored names)."""
    language = settings.survey.default_language
    cache: dict[str | None, str | None] = {}

    def name(key: str | None, stored: str | None) -> str | None:
        if key in cache:
            return cache[key]
        configured = settings.touchpoint(key) if key else None
        if configured is not None:
            found: str | None = configured.name(language)
        else:
            names = json.loads(stored) if stored else {}
            found = names.get(language) or names.get("en") or key
        cache[key] = found
        return found

    return name


def columns(request: ExportRequest, settings: Settings) -> list[Column]:
    """The header, with the time zone named on every date-time column."""
    zone = settings.survey.default_timezone
    names = SURVEY_COLUMNS if request.rows == "surveys" else EXPORT_COLUMNS
    found = []
    for name in names:
        kind: ColumnKind = (
            "datetime"
            if name in DATETIME_COLUMNS
            else "number"
            if name in NUMBER_COLUMNS
            else "wrap"
            if name in WRAPPED_COLUMNS
            else "text"
        )
        shown = f"{name} ({zone})" if kind == "datetime" and request.format != "jsonl" else name
        found.append(Column(shown, kind))
    return found


async def _shaped_batches(
    db: Database, request: ExportRequest, settings: Settings
) -> AsyncIterator[list[list[Any]]]:
    """Rows with local date-times and touchpoint names; JSONL rows keep the stored UTC text."""
    touchpoint_id = await export_queries.touchpoint_filter(db, request.touchpoint)
    if request.rows == "surveys":
        source = export_queries.survey_batches(db, **_range(request), touchpoint_id=touchpoint_id)
        header = SURVEY_COLUMNS
    else:
        source = export_queries.answer_batches(db, **_range(request), touchpoint_id=touchpoint_id)
        header = EXPORT_COLUMNS
    name_at = header.index("touchpoint_name")
    key_at = header.index("touchpoint")
    date_at = [i for i, column in enumerate(header) if column in DATETIME_COLUMNS]
    local = LocalTimes(settings.survey.default_timezone)
    name = _names(settings)
    convert = request.format != "jsonl"
    async for rows in source:
        for row in rows:
            row[name_at] = name(row[key_at], row[name_at])
            if convert:
                for i in date_at:
                    row[i] = local(row[i])
        yield rows


async def write_export(
    db: Database,
    request: ExportRequest,
    destination: Path,
    settings: Settings,
    *,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Stream the rows into *destination*; returns the number of rows. Calls *progress(rows_so_far)*."""
    batches = _shaped_batches(db, request, settings)
    header = columns(request, settings)
    count = 0
    if request.format == "csv":
        with destination.open("x", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([column.name for column in header])
            async for rows in batches:
                writer.writerows(
                    [
                        ""
                        if v is None
                        else neutralise(v)
                        if type(v) is str
                        else v.isoformat(sep=" ")
                        if type(v) is datetime
                        else v
                        for v in row
                    ]
                    for row in rows
                )
                count = _counted(count, len(rows), progress)
    elif request.format == "jsonl":
        names = [column.name for column in header]
        with destination.open("x", encoding="utf-8", newline="\n") as handle:
            async for rows in batches:
                for row in rows:
                    handle.write(json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False))
                    handle.write("\n")
                count = _counted(count, len(rows), progress)
    else:
        count = await _write_xlsx(batches, header, request.rows, destination, progress)
    if progress is not None:
        progress(count)
    return count


def _counted(count: int, added: int, progress: Callable[[int], None] | None) -> int:
    """*count* + *added*, telling *progress* each time another PROGRESS_EVERY rows are written."""
    total = count + added
    if progress is not None and total // PROGRESS_EVERY > count // PROGRESS_EVERY:
        progress(total)
    return total


async def _write_xlsx(
    batches: AsyncIterator[list[list[Any]]],
    header: list[Column],
    sheet: str,
    destination: Path,
    progress: Callable[[int], None] | None,
) -> int:
    with XlsxStreamWriter(destination, sheet, header) as writer:
        count = 0
        async for rows in batches:
            if count + len(rows) > XLSX_MAX_ROWS:
                raise ExportError(
                    f"more than {XLSX_MAX_ROWS:,} rows do not fit in one Excel sheet: use csv or jsonl, "
                    "or a shorter period"
                )
            for row in rows:
                writer.write_row(row)
            count = _counted(count, len(rows), progress)
    return count


async def export_answers(
    db: Database,
    request: ExportRequest,
    destination: Path,
    settings: Settings,
    *,
    actor: str,
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Write the export (never over an existing file) and record it in the audit log."""
    if request.format == "xlsx" and await count_rows(db, request) > XLSX_MAX_ROWS:
        raise ExportError(
            f"more than {XLSX_MAX_ROWS:,} rows do not fit in one Excel sheet: use csv or jsonl, "
            "or a shorter period"
        )
    rows = await write_export(db, request, destination, settings, progress=progress)
    await audit.record(
        db,
        actor=actor,
        action="export",
        subject=request.rows,
        details={
            "format": request.format,
            "rows_shape": request.rows,
            "period": request.period.label if request.period else "all",
            "start": request.period.start.isoformat() if request.period else None,
            "end": request.period.end.isoformat() if request.period else None,
            "touchpoint": request.touchpoint,
            "rows": rows,
            "file": destination.name,
        },
    )
    return ExportResult(destination, rows, request)

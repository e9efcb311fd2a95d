"""CSV import of customers and touchpoint events: every row is checked before anything is written.

Two passes over the file (check, then import) keep memory flat for files of millions of rows, and let
``all_or_nothing`` refuse a file with a single bad row without having touched the database.

``occurred_at`` is ISO 8601 (``2026-10-18T16:05:12+02:00``) or the ``date_format`` given (strptime, e.g.
``%d/%m/%Y %H:%M`` for European systems); a time without an offset is read in survey.default_timezone.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from bot.api import ingest
from bot.api.models import CustomerIn, EventIn, field_errors
from bot.config import Settings
from storage.db import Database

ImportKind = Literal["customers", "events"]

CUSTOMER_COLUMNS = ("external_id", "name", "language", "timezone", "tier")
CUSTOMER_REQUIRED = ("external_id",)
EVENT_COLUMNS = ("external_id", "customer_external_id", "touchpoint", "occurred_at", "attributes")
# Rows written per commit.
CHUNK = 500
EVENT_REQUIRED = ("external_id", "customer_external_id", "touchpoint", "occurred_at")


class ImportFileError(Exception):
    """The file as a whole cannot be imported (missing, not UTF-8, no header, required columns missing)."""


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


# Marks a row whose date does not match --date-format (a clearer message than the model's).
_BAD_DATE = "\0bad_date"

# The import's outcome names, as the result line says them.
OUTCOME_WORDS = {
    "scheduled": "invitation scheduled",
    "customer_not_linked": "customer not linked yet (the invitation goes out when they link)",
    "no_consent": "no consent yet",
    "opted_out": "customer opted out",
    "unreachable": "customer blocked the bot",
    "erased": "customer erased",
    "too_late": "too late for a survey",
    "frequency_cap": "asked recently (frequency cap)",
    "other": "no survey",
}


@dataclass(slots=True)
class ImportReport:
    kind: ImportKind
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    imported: int = 0
    # Customers: created / updated. Events: scheduled, or the reason no survey was scheduled.
    outcomes: Counter[str] = field(default_factory=Counter)
    # False when nothing was written (all-or-nothing with bad rows, or a dry run).
    written: bool = False

    @property
    def valid(self) -> int:
        return self.rows - len(self.errors)

    def result_line(self, timezone: str | None = None) -> str:
        """One unambiguous line: what was imported, what waits without an invitation and why, what was
        refused and why, e.g. ``events: 6 rows: 2 imported and scheduled, 2 imported and waiting: customer
        not linked yet (the invitation goes out when they link), 2 refused: duplicate event id …``."""
        if self.kind == "customers":
            parts = [
                f"{self.outcomes['created']} imported as new customers",
                f"{self.outcomes['updated']} updated",
            ]
        else:
            parts = (
                [f"{self.outcomes['scheduled']} imported and scheduled"] if self.outcomes["scheduled"] else []
            )
            for name, count in sorted(self.outcomes.items()):
                if name not in ("scheduled", "duplicate") and count:
                    parts.append(f"{count} imported and waiting: {OUTCOME_WORDS.get(name, name)}")
            if self.outcomes["duplicate"]:
                parts.append(
                    f"{self.outcomes['duplicate']} refused: duplicate event id (sent before; nothing changed)"
                )
        bad = len(self.errors)
        parts.append(
            f"{bad} refused: bad row{'' if bad == 1 else 's'} (listed above)" if bad else "no bad rows"
        )
        line = f"{self.kind}: {self.rows} rows: " + ", ".join(parts) + "."
        if timezone and self.kind == "events":
            line += f" Times without an offset were read in {timezone}."
        return line


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    values: dict[str, str]


def _open_rows(path: Path, required: tuple[str, ...]) -> Iterator[_Row]:
    """Rows named by the header; *line* is where each row starts in the file (quoted cells may span lines)."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise ImportFileError(f"{path}: file not found") from None
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot be read: {exc.strerror}") from None
    with handle:
        try:
            # Spreadsheets in many locales write ';' (or tabs): the header line's commonest separator wins.
            first_line = handle.readline()
            handle.seek(0)
            delimiter = max(",;\t", key=first_line.count)
            reader = csv.reader(handle, delimiter=delimiter)
            header = next(reader, None)
            if header is None or not any(cell.strip() for cell in header):
                raise ImportFileError(f"{path}: the file is empty; the first line must name the columns")
            names = [cell.strip().lower() for cell in header]
            missing = [column for column in required if column not in names]
            if missing:
                raise ImportFileError(
                    f"{path}: missing column(s) {', '.join(missing)} in the first line "
                    f"(found: {', '.join(name for name in names if name) or 'none'})"
                )
            duplicated = sorted({name for name in names if name and names.count(name) > 1})
            if duplicated:
                raise ImportFileError(f"{path}: column(s) named twice: {', '.join(duplicated)}")
            line = reader.line_num
            for cells in reader:
                start, line = line + 1, reader.line_num
                if not any(cell.strip() for cell in cells):
                    continue
                if len(cells) > len(names):
                    extra = cells[len(names) :]
                    if any(cell.strip() for cell in extra):
                        yield _Row(start, {"\0too_many": str(len(cells))})
                        continue
                values = {name: cells[i] if i < len(cells) else "" for i, name in enumerate(names) if name}
                yield _Row(start, values)
        except UnicodeDecodeError:
            raise ImportFileError(f"{path}: not UTF-8 text (in a spreadsheet, save as 'CSV UTF-8')") from None
        except csv.Error as exc:
            raise ImportFileError(f"{path}: not a readable CSV file: {exc}") from None


def _customer(values: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for column in CUSTOMER_COLUMNS:
        value = values.get(column, "").strip()
        if value:
            data[column] = value
    unknown = sorted(set(values) - set(CUSTOMER_COLUMNS))
    if unknown:
        # Reported as a field error by the model (extra fields are forbidden), with the column's name.
        data.update({column: values[column] for column in unknown if values[column].strip()})
    return data


def read_time(value: str, timezone: str, date_format: str | None = None) -> str:
    """*value* as ISO 8601 with an offset: parsed with *date_format* (or as ISO), a naive time placed in
    *timezone*. Unreadable text comes back unchanged for the model to refuse with the column's name."""
    try:
        moment = datetime.strptime(value, date_format) if date_format else datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.isoformat()


def _event(values: dict[str, str], timezone: str = "UTC", date_format: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        column: values.get(column, "").strip() for column in EVENT_REQUIRED if values.get(column, "").strip()
    }
    if "occurred_at" in data:
        parsed = read_time(data["occurred_at"], timezone, date_format)
        if parsed == data["occurred_at"] and date_format:
            example = datetime(2026, 10, 18, 16, 5, 12).strftime(date_format)
            data[_BAD_DATE] = (
                f"occurred_at: {parsed[:40]!r} does not match --date-format {date_format} (e.g. {example})"
            )
        else:
            data["occurred_at"] = parsed
    attributes: dict[str, Any] = {}
    raw = values.get("attributes", "").strip()
    if raw:
        try:
            attributes = json.loads(raw)
        except json.JSONDecodeError:
            data["attributes"] = "not JSON"  # the model refuses it with the column's name
            return data
    if isinstance(attributes, dict):
        # Any other column is an attribute (order_id, store, agent, amount ...), kept as text.
        for column, value in values.items():
            if column not in EVENT_COLUMNS and value.strip():
                attributes.setdefault(column, value.strip())
    data["attributes"] = attributes
    return data


def _check(
    row: _Row, model: type[BaseModel], build: Callable[[dict[str, str]], dict[str, Any]]
) -> tuple[BaseModel | None, str | None]:
    if "\0too_many" in row.values:
        return None, "more cells than the header has columns (a stray delimiter?)"
    data = build(row.values)
    if _BAD_DATE in data:
        return None, str(data[_BAD_DATE])
    try:
        return model.model_validate(data), None
    except ValidationError as exc:
        return None, "; ".join(f"{error.path}: {error.message}" for error in field_errors(exc))


def check_file(
    path: Path, kind: ImportKind, settings: Settings, *, date_format: str | None = None
) -> ImportReport:
    """The first pass: every row checked, nothing written."""
    report = ImportReport(kind=kind)
    model, build, required = _shape(kind, settings, date_format)
    seen: dict[str, int] = {}
    for row in _open_rows(path, required):
        report.rows += 1
        parsed, problem = _check(row, model, build)
        if parsed is not None:
            problem = _semantic_problem(parsed, settings, seen, row.line)
        if problem is not None:
            report.errors.append(RowError(row.line, problem))
    return report


def _shape(
    kind: ImportKind, settings: Settings, date_format: str | None
) -> tuple[type[BaseModel], Callable[[dict[str, str]], dict[str, Any]], tuple[str, ...]]:
    if kind == "customers":
        return CustomerIn, _customer, CUSTOMER_REQUIRED
    build = partial(_event, timezone=settings.survey.default_timezone, date_format=date_format)
    return EventIn, build, EVENT_REQUIRED


def _semantic_problem(parsed: BaseModel, settings: Settings, seen: dict[str, int], line: int) -> str | None:
    """What a valid-looking row can still get wrong: an unknown touchpoint, an id used twice in the file."""
    assert isinstance(parsed, CustomerIn | EventIn)
    if isinstance(parsed, EventIn) and settings.touchpoint(parsed.touchpoint) is None:
        known = ", ".join(tp.key for tp in settings.touchpoints) or "none configured"
        return f"touchpoint: no touchpoint {parsed.touchpoint!r} is configured (known: {known})"
    first = seen.setdefault(parsed.external_id, line)
    if first != line:
        return f"external_id: {parsed.external_id!r} already appears on line {first}"
    return None


async def import_file(
    db: Database,
    settings: Settings,
    path: Path,
    kind: ImportKind,
    *,
    now: datetime,
    all_or_nothing: bool = False,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    checked: ImportReport | None = None,
    date_format: str | None = None,
) -> ImportReport:
    """Check every row, then import the good ones (none with *all_or_nothing* if any row is bad).

    *progress* is called with the number of rows just processed during the import pass; *checked* is the
    first pass's report when the caller already ran :func:`check_file` (to size a progress bar).
    """
    report = checked if checked is not None else check_file(path, kind, settings, date_format=date_format)
    if dry_run or (all_or_nothing and report.errors):
        return report
    bad_lines = {error.line for error in report.errors}
    model, build, required = _shape(kind, settings, date_format)
    report.written = True
    events: list[tuple[int, EventIn]] = []
    people: list[CustomerIn] = []

    async def flush() -> None:
        # Rows go in chunks: one commit (one fsync) per chunk instead of one per row.
        if people:
            async with db.batch():
                for customer in people:
                    _, created = await ingest.upsert_customer(db, customer)
                    report.outcomes["created" if created else "updated"] += 1
            report.imported += len(people)
        if events:
            results = await ingest.ingest_events(db, settings, [event for _, event in events], now=now)
            for (line, _), result in zip(events, results, strict=True):
                if result.outcome == "rejected":
                    report.errors.append(RowError(line, result.message or "rejected"))
                else:
                    if result.reason != "duplicate":
                        report.imported += 1
                    report.outcomes[result.reason or result.outcome] += 1
        if progress:
            progress(len(people) + len(events))
        people.clear()
        events.clear()

    for row in _open_rows(path, required):
        if row.line in bad_lines:
            if progress:
                progress(1)
            continue
        parsed, _ = _check(row, model, build)
        if isinstance(parsed, CustomerIn):
            people.append(parsed)
        elif isinstance(parsed, EventIn):
            events.append((row.line, parsed))
        if len(people) + len(events) >= CHUNK:
            await flush()
    await flush()
    report.errors.sort(key=lambda error: error.line)
    return report

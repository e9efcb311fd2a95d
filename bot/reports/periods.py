"""Report periods as staff type them, the same in every command (/summary, /quotes, /export, the CLI):

``7d``, ``30d``, ``this-week``, ``last-week``, ``this-month``, ``last-month``, ``2026-10`` (a calendar
month), ``2026-01-01..2026-01-31`` and ``all``.

Days, weeks (Monday first) and months are those of the company's time zone (survey.default_timezone), so "this
month" starts at local midnight on the 1st; the result is a half-open UTC range ``[start, end)``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_PERIOD = "30d"
MAX_DAYS = 3660
_DAYS = re.compile(r"^(\d{1,4})d$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
NAMED = ("this-week", "last-week", "this-month", "last-month", "all")
# Shown whenever a period is not understood: every accepted form.
ACCEPTED = "7d, 30d, this-week, last-week, this-month, last-month, YYYY-MM, YYYY-MM-DD..YYYY-MM-DD or all"
BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)


class PeriodError(ValueError):
    """The text is not a period we understand; the message says what is accepted."""


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime
    label: str  # as the user wrote it, for titles

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def previous(self) -> Period:
        """The period of the same length just before this one (for "change vs previous")."""
        return Period(self.start - self.length, self.start, f"before {self.label}")


def looks_like_period(text: str) -> bool:
    """Whether *text* is written like a period (it may still be a wrong one, e.g. 2026-13)."""
    lowered = text.strip().lower()
    return bool(_DAYS.match(lowered) or _RANGE.match(lowered) or _MONTH.match(lowered)) or lowered in NAMED


def meant_as_period(text: str) -> bool:
    """A word that is no period but was surely meant as one (2026-13, lastweek, 7 days), so the answer can
    say the period is what was not understood rather than list every kind of argument."""
    lowered = text.strip().lower()
    if any(ch.isdigit() for ch in lowered) or lowered.startswith(("this", "last")):
        return True
    return bool(difflib.get_close_matches(lowered, NAMED, n=1, cutoff=0.75))


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _month_start(year: int, month: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def parse_period(text: str | None, *, now: datetime, timezone: str) -> Period:
    """``None`` means the default (30 days). Raises PeriodError with every accepted form."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    raw = (text or DEFAULT_PERIOD).strip().lower()
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    if match := _DAYS.match(raw):
        days = int(match.group(1))
        if not 1 <= days <= MAX_DAYS:
            raise PeriodError(f"the number of days must be between 1 and {MAX_DAYS}")
        return Period(now - timedelta(days=days), now, raw)
    monday = today - timedelta(days=today.weekday())
    first = today.replace(day=1)
    if raw == "this-week":
        return Period(_midnight(monday, zone), now, raw)
    if raw == "last-week":
        return Period(_midnight(monday - timedelta(days=7), zone), _midnight(monday, zone), raw)
    if raw == "this-month":
        return Period(_midnight(first, zone), now, raw)
    if raw == "last-month":
        previous = _month_start(first.year, first.month - 1)
        return Period(_midnight(previous, zone), _midnight(first, zone), raw)
    if raw == "all":
        return Period(BEGINNING, now, raw)
    if match := _MONTH.match(raw):
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12 or year < 2000:
            raise PeriodError(f"{raw} is not a month (YYYY-MM, e.g. 2026-10)")
        start = _month_start(year, month)
        return Period(_midnight(start, zone), _midnight(_month_start(year, month + 1), zone), raw)
    if match := _RANGE.match(raw):
        try:
            first_day = date.fromisoformat(match.group(1))
            last_day = date.fromisoformat(match.group(2))
        except ValueError as exc:
            raise PeriodError(f"{raw} contains a date that does not exist") from exc
        if last_day < first_day:
            raise PeriodError("the first date must not be after the second")
        return Period(_midnight(first_day, zone), _midnight(last_day + timedelta(days=1), zone), raw)
    raise PeriodError(f"use {ACCEPTED}")

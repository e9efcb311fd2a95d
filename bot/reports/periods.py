"""Report periods as staff type them: ``7d``, ``30d``, ``this-month``, ``2026-01-01..2026-01-31``.

Days and months are those of the company's time zone (survey.default_timezone), so "this month" starts at
local midnight on the 1st; the result is a half-open UTC range ``[start, end)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_PERIOD = "30d"
MAX_DAYS = 3660
_DAYS = re.compile(r"^(\d{1,4})d$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


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
    lowered = text.strip().lower()
    return bool(_DAYS.match(lowered) or _RANGE.match(lowered)) or lowered in ("this-month", "all")


def parse_period(text: str | None, *, now: datetime, timezone: str) -> Period:
    """``None`` means the default (30 days). Raises PeriodError with an example of every accepted form."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    raw = (text or DEFAULT_PERIOD).strip().lower()
    zone = ZoneInfo(timezone)
    local_now = now.astimezone(zone)
    if match := _DAYS.match(raw):
        days = int(match.group(1))
        if not 1 <= days <= MAX_DAYS:
            raise PeriodError(f"the number of days must be between 1 and {MAX_DAYS}")
        return Period(now - timedelta(days=days), now, raw)
    if raw == "this-month":
        first = datetime.combine(local_now.date().replace(day=1), time(0), tzinfo=zone)
        return Period(first.astimezone(UTC), now, raw)
    if raw == "all":
        return Period(datetime(2000, 1, 1, tzinfo=UTC), now, raw)
    if match := _RANGE.match(raw):
        try:
            first_day = date.fromisoformat(match.group(1))
            last_day = date.fromisoformat(match.group(2))
        except ValueError as exc:
            raise PeriodError(f"{raw} contains a date that does not exist") from exc
        if last_day < first_day:
            raise PeriodError("the first date must not be after the second")
        start = datetime.combine(first_day, time(0), tzinfo=zone).astimezone(UTC)
        end = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        return Period(start, end, raw)
    raise PeriodError("use 7d, 30d, this-month or YYYY-MM-DD..YYYY-MM-DD")

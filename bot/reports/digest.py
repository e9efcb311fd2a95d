"""The daily or weekly digest for the staff chat: when one is due, what it says, and remembering it was sent.

Plain async code (no Telegram): the job in bot/handlers/staff.py asks :func:`due_digest` every minute and
posts the text. The last digest sent is kept in app_state, so a restart never sends the same one twice; a
bot that was down at digest time catches up once when it comes back. A period with no data at all is
marked done without a message (nothing to say).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.i18n import translate
from bot.reports.common import Scope, heading
from bot.reports.periods import Period
from bot.reports.summary import build_summary, figure_lines, next_step
from bot.reports.texts import REPORTS
from bot.reports.themes import theme_lines
from storage import state
from storage.db import Database

STATE_KEY = "digest.last_sent"


@dataclass(frozen=True, slots=True)
class DueDigest:
    key: str  # "daily:2026-11-24" / "weekly:2026-W48": what was last sent, as remembered
    kind: str
    period: Period


def digest_for(settings: Settings, now: datetime) -> DueDigest | None:
    """The digest whose time has come at *now* (whether or not it was sent already)."""
    mode = settings.reports.digest
    if mode == "off":
        return None
    zone = ZoneInfo(settings.survey.default_timezone)
    local = now.astimezone(zone)
    today = local.date()

    def midnight(day: object) -> datetime:
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)  # type: ignore[arg-type]

    if mode == "daily":
        if local.time() < settings.reports.digest_time:
            return None
        yesterday = today - timedelta(days=1)
        # The label is a period staff can type, so the digest's "/summary … {period}" hint works as sent.
        period = Period(
            midnight(yesterday), midnight(today), f"{yesterday.isoformat()}..{yesterday.isoformat()}"
        )
        return DueDigest(f"daily:{today.isoformat()}", "daily", period)
    monday = today - timedelta(days=today.weekday())
    if today == monday and local.time() < settings.reports.digest_time:
        return None
    year, week, _ = monday.isocalendar()
    last_monday = monday - timedelta(days=7)
    period = Period(
        midnight(last_monday), midnight(monday), f"{last_monday.isoformat()}..{monday - timedelta(1)}"
    )
    return DueDigest(f"weekly:{year}-W{week:02d}", "weekly", period)


async def due_digest(db: Database, settings: Settings, now: datetime) -> DueDigest | None:
    """A digest that is due and was not sent yet."""
    found = digest_for(settings, now)
    if found is None:
        return None
    if await state.get_value(db, STATE_KEY) == found.key:
        return None
    return found


async def digest_text(db: Database, settings: Settings, due: DueDigest, language: str = "en") -> str | None:
    """The digest message, or None when the period holds no data at all."""
    summary = await build_summary(db, settings, Scope(period=due.period))
    if summary.current.empty:
        return None
    title = translate(REPORTS, "digest_weekly" if due.kind == "weekly" else "digest_daily", language)
    lines = [
        *heading(title, due.period, settings, language),
        *figure_lines(summary.current, summary.previous, language),
        *await theme_lines(
            db, settings, None, now=due.period.end - timedelta(microseconds=1), language=language
        ),
        "",
        next_step(summary, settings, language),
    ]
    return "\n".join(lines)


async def mark_sent(db: Database, due: DueDigest) -> None:
    await state.set_value(db, STATE_KEY, due.key)


async def claim(db: Database, due: DueDigest) -> bool:
    """Take the due digest for posting: True for exactly one of several workers whose clocks fire at once."""
    return await state.claim_value(db, STATE_KEY, due.key)

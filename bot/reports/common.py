"""What every report shares: its result type, argument parsing, and how touchpoints and periods are named."""

from __future__ import annotations

import difflib
import html
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.i18n import translate
from bot.reports.charts import Chart
from bot.reports.periods import (
    ACCEPTED,
    BEGINNING,
    Period,
    PeriodError,
    looks_like_period,
    meant_as_period,
    parse_period,
)
from bot.reports.texts import REPORTS
from storage import reports as report_queries
from storage.db import Database


@dataclass(frozen=True, slots=True)
class Report:
    """What a command answers: HTML text (customer words already escaped) and an optional chart."""

    text: str
    chart: Chart | None = None


class ReportError(Exception):
    """The request cannot be answered as asked; ``str(error)`` is the polite, translated explanation."""


@dataclass(frozen=True, slots=True)
class Scope:
    period: Period
    touchpoint: str | None = None
    tier: str | None = None


def touchpoint_name(settings: Settings, key: str | None, language: str) -> str:
    """Display name from the config; a touchpoint removed from the config keeps its key."""
    if key is None:
        return translate(REPORTS, "general_feedback", language)
    configured = settings.touchpoint(key)
    return html.escape(configured.name(language) if configured else key)


def heading(title: str, period: Period, settings: Settings, language: str) -> list[str]:
    """The first lines of every report: its title in bold, the local dates it covers, a blank line."""
    return [f"<b>{title}</b>", period_dates(period, settings, language), ""]


def period_dates(period: Period, settings: Settings, language: str) -> str:
    """The local dates a period covers, last day inclusive."""
    zone = ZoneInfo(settings.survey.default_timezone)
    first = period.start.astimezone(zone).date()
    last = (period.end - timedelta(microseconds=1)).astimezone(zone).date()
    if period.start <= BEGINNING:
        return translate(
            REPORTS,
            "dates_all",
            language,
            end=last.isoformat(),
            zone=html.escape(settings.survey.default_timezone),
        )
    return translate(
        REPORTS,
        "dates",
        language,
        start=first.isoformat(),
        end=last.isoformat(),
        zone=html.escape(settings.survey.default_timezone),
    )


async def known_tiers(db: Database, settings: Settings) -> list[str]:
    found = set(settings.reports.tier_minimum_csat) | set(await report_queries.tiers(db))
    return sorted(found)


async def parse_scope(
    db: Database,
    settings: Settings,
    args: list[str],
    *,
    now: datetime,
    language: str,
    allow_touchpoint: bool = True,
    allow_tier: bool = True,
) -> Scope:
    """Arguments in any order: a touchpoint key, a period, a tier. Anything else is a clear error."""
    period_text: str | None = None
    touchpoint: str | None = None
    tier: str | None = None
    tiers = await known_tiers(db, settings) if allow_tier else []
    keys = [tp.key for tp in settings.touchpoints] if allow_touchpoint else []
    for raw in args:
        value = raw.strip()
        lowered = value.lower()
        if not value:
            continue
        if looks_like_period(lowered) and period_text is None:
            period_text = lowered
        elif lowered in keys and touchpoint is None:
            touchpoint = lowered
        elif value in tiers and tier is None:
            tier = value
        elif lowered in [t.lower() for t in tiers] and tier is None:
            tier = next(t for t in tiers if t.lower() == lowered)
        elif meant_as_period(lowered):
            raise ReportError(
                translate(
                    REPORTS, "bad_period", language, reason=html.escape(f"“{value[:40]}”: use {ACCEPTED}")
                )
            )
        elif allow_tier and _closest(lowered, [t.lower() for t in tiers]) and not _closest(lowered, keys):
            raise ReportError(
                translate(
                    REPORTS,
                    "bad_tier",
                    language,
                    value=html.escape(value[:40]),
                    tiers=html.escape(", ".join(tiers)) or "–",
                )
            )
        elif allow_touchpoint:
            raise ReportError(
                translate(
                    REPORTS,
                    "bad_touchpoint",
                    language,
                    value=html.escape(value[:40]),
                    touchpoints=", ".join(keys) or "–",
                )
            )
        else:
            raise ReportError(
                translate(
                    REPORTS,
                    "bad_argument",
                    language,
                    value=html.escape(value[:40]),
                    touchpoints=", ".join(keys) or "–",
                    tiers=html.escape(", ".join(tiers)) or "–",
                    periods=ACCEPTED,
                )
            )
    try:
        period = parse_period(period_text, now=now, timezone=settings.survey.default_timezone)
    except PeriodError as exc:
        raise ReportError(translate(REPORTS, "bad_period", language, reason=html.escape(str(exc)))) from exc
    return Scope(period=period, touchpoint=touchpoint, tier=tier)


def _closest(text: str, choices: list[str]) -> bool:
    return bool(difflib.get_close_matches(text, choices, n=1, cutoff=0.6))


# Suggested when a period holds too little: the next longer one staff can type.
LONGER_PERIODS = (("7d", 7), ("30d", 30), ("90d", 90), ("365d", 365))


def longer_period(period: Period) -> str | None:
    """The next longer period to suggest ("all" after a year); None when *period* already is everything."""
    if period.label == "all":
        return None
    days = period.length.total_seconds() / 86400
    return next((label for label, n in LONGER_PERIODS if n > days + 0.5), "all")


def try_longer(command: str, period: Period, language: str) -> str:
    """'Try a longer period: /journey 90d' — a command that works as typed — or that there is no data."""
    longer = longer_period(period)
    if longer is None:
        return translate(REPORTS, "nothing_yet", language)
    return translate(REPORTS, "try_longer", language, command=html.escape(f"{command} {longer}"))


def company_name(settings: Settings) -> str:
    """The company's name for chart titles: ``[company] name`` once that section exists, else
    ``reports.company_name`` (may be empty)."""
    company = getattr(settings, "company", None)
    name = getattr(company, "name", None) if company is not None else None
    return str(name or settings.reports.company_name or "").strip()


def chart_title(settings: Settings, title: str, period: Period, language: str) -> str:
    """A chart's title: company · what it shows · the local dates it covers (readable without the message)."""
    dates = html.unescape(period_dates(period, settings, language))
    parts = [company_name(settings), title]
    return " · ".join(part for part in parts if part) + "\n" + dates


async def touchpoint_ids(db: Database) -> dict[str, int]:
    return {key: tp_id for tp_id, key in (await report_queries.touchpoint_keys(db)).items()}

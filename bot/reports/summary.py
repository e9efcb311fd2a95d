"""/summary: how customers felt in a period, against the period before, with a chart.

Without a touchpoint, every touchpoint is ranked by CSAT on one screen and the chart compares them; with
one, the chart shows its rating distribution.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.i18n import translate, translate_plural
from bot.reports.charts import (
    BAD,
    GOOD,
    MIDDLE,
    Bar,
    Chart,
    Legend,
    Line,
    horizontal_bars,
    share_color,
    weekly_trend,
)
from bot.reports.common import (
    Report,
    Scope,
    chart_title,
    heading,
    touchpoint_ids,
    touchpoint_name,
    try_longer,
)
from bot.reports.figures import Figures, figures, total
from bot.reports.numbers import (
    change_count,
    change_points,
    change_value,
    count,
    duration,
    number,
    pct,
    signed,
)
from bot.reports.periods import Period
from bot.reports.texts import REPORTS
from storage import reports as report_queries
from storage.db import Database

WEEK = timedelta(days=7)
# A trend of more weeks than this is cut (a year of weeks still reads on a phone).
MAX_WEEKS = 53
# Traffic light without tier minimums in the config.
DEFAULT_GOOD = 0.8
DEFAULT_BAD = 0.6


@dataclass(frozen=True, slots=True)
class RankedTouchpoint:
    key: str
    figures: Figures


@dataclass(frozen=True, slots=True)
class Summary:
    scope: Scope
    current: Figures
    previous: Figures | None  # None: the period before has no data for the whole span ("no earlier data")
    ranked: list[RankedTouchpoint]  # empty when the summary is about one touchpoint
    weeks: list[WeekPoint] = field(default_factory=list)  # one touchpoint: its weekly trend


@dataclass(frozen=True, slots=True)
class WeekPoint:
    start: datetime
    csat: float | None
    ratings: int
    net_sentiment: float | None
    analysed: int


async def comparable_previous(db: Database, period: Period) -> Period | None:
    """The period just before *period*, only when data was being collected for all of it."""
    previous = period.previous()
    first = await report_queries.first_data_at(db)
    if first is None or first > previous.start:
        return None
    return previous


async def build_summary(db: Database, settings: Settings, scope: Scope) -> Summary:
    ids = await touchpoint_ids(db)
    touchpoint_id = ids.get(scope.touchpoint) if scope.touchpoint else None
    if scope.touchpoint and touchpoint_id is None:
        # Configured but not synced yet: nothing can have been recorded against it.
        touchpoint_id = -1
    now_groups = await report_queries.aggregates(
        db, scope.period.start, scope.period.end, touchpoint_id=touchpoint_id, tier=scope.tier
    )
    previous = await comparable_previous(db, scope.period)
    before: Figures | None = None
    if previous is not None:
        before_groups = await report_queries.aggregates(
            db, previous.start, previous.end, touchpoint_id=touchpoint_id, tier=scope.tier, with_alerts=False
        )
        before = figures(total(before_groups))
    ranked: list[RankedTouchpoint] = []
    if scope.touchpoint is None:
        keys = {tp_id: key for key, tp_id in ids.items()}
        configured = {tp.key for tp in settings.touchpoints}
        for tp_id, aggregate in now_groups.items():
            key = keys.get(tp_id) if isinstance(tp_id, int) else None
            if key is None or key not in configured:
                continue
            found = figures(aggregate)
            if not found.empty:
                ranked.append(RankedTouchpoint(key, found))
        ranked.sort(key=lambda item: (-(item.figures.csat or 0.0), -item.figures.ratings, item.key))
    weeks = await weekly(db, scope, touchpoint_id) if scope.touchpoint else []
    return Summary(
        scope=scope, current=figures(total(now_groups)), previous=before, ranked=ranked, weeks=weeks
    )


async def weekly(db: Database, scope: Scope, touchpoint_id: int | None) -> list[WeekPoint]:
    """CSAT and net sentiment per week of the period (the last week may be shorter)."""
    points = []
    start = scope.period.start
    while start < scope.period.end:
        end = min(start + WEEK, scope.period.end)
        found = figures(
            total(
                await report_queries.aggregates(
                    db, start, end, touchpoint_id=touchpoint_id, tier=scope.tier, with_alerts=False
                )
            )
        )
        points.append(WeekPoint(start, found.csat, found.ratings, found.net_sentiment, found.analysed))
        start = end
        if len(points) >= MAX_WEEKS:
            break
    return points


def scope_label(settings: Settings, scope: Scope, language: str) -> str:
    parts = [
        touchpoint_name(settings, scope.touchpoint, language)
        if scope.touchpoint
        else translate(REPORTS, "all_touchpoints", language)
    ]
    if scope.tier:
        parts.append(translate(REPORTS, "tier", language, tier=html.escape(scope.tier)))
    return ", ".join(parts)


def render_summary(summary: Summary, settings: Settings, language: str, *, with_chart: bool = True) -> Report:
    scope, now, before = summary.scope, summary.current, summary.previous
    title = translate(
        REPORTS,
        "summary_title",
        language,
        scope=scope_label(settings, scope, language),
        period=scope.period.label,
    )
    lines = heading(title, scope.period, settings, language)
    if now.empty:
        command = "/summary" + (f" {scope.touchpoint}" if scope.touchpoint else "")
        lines.append(
            translate(REPORTS, "no_data", language, hint=try_longer(command, scope.period, language))
        )
        return Report("\n".join(lines))
    lines.extend(figure_lines(now, before, language))
    lines.append(f"<i>{comparison_note(scope.period, before, language)}</i>")
    if summary.ranked:
        lines.extend(["", translate(REPORTS, "ranked_header", language)])
        for rank, item in enumerate(summary.ranked, start=1):
            lines.append(
                translate(
                    REPORTS,
                    "ranked_row",
                    language,
                    rank=rank,
                    name=touchpoint_name(settings, item.key, language),
                    csat=pct(item.figures.csat, language),
                    ratings=count(item.figures.ratings, language),
                    net=signed(item.figures.net_sentiment, 2, language),
                )
            )
    lines.extend(["", next_step(summary, settings, language)])
    chart = summary_chart(summary, settings, language) if with_chart else None
    return Report("\n".join(lines), chart)


def comparison_note(period: Period, before: Figures | None, language: str) -> str:
    """What the ▲/▼ changes are against, or that there is nothing to compare with."""
    if before is None or before.empty:
        return translate(REPORTS, "no_earlier_data", language)
    days = round(period.length.total_seconds() / 86400)
    return translate_plural(REPORTS, "vs_previous", days, language, days=days)


def figure_lines(now: Figures, before: Figures | None, language: str) -> list[str]:
    """The figure block shared by /summary and the digest; no change is shown without comparable data."""
    if before is not None and before.empty:
        before = None
    lines = [
        translate_plural(
            REPORTS,
            "responses",
            now.invited,
            language,
            responses=count(now.responses, language),
            invited=count(now.invited, language),
            rate=pct(now.response_rate, language),
            completed=translate_plural(
                REPORTS, "completed", now.completed, language, completed=count(now.completed, language)
            ),
            change=change_count(now.responses, before.responses, language) if before else "",
        ).rstrip(),
        translate_plural(
            REPORTS,
            "csat",
            now.ratings,
            language,
            csat=pct(now.csat, language),
            ratings=count(now.ratings, language),
            mean=number(now.mean_rating, 1, language),
            change=change_points(now.csat, before.csat if before else None, language),
        ).rstrip(),
    ]
    if now.analysed:
        lines.append(
            translate(
                REPORTS,
                "sentiment",
                language,
                positive=pct(now.positive, language),
                neutral=pct(now.neutral, language),
                negative=pct(now.negative, language),
                net=signed(now.net_sentiment, 2, language),
                change=change_value(now.net_sentiment, before.net_sentiment if before else None, 2, language),
            ).rstrip()
        )
    if now.top_emotions:
        emotions = ", ".join(f"{html.escape(name)} {count(n, language)}" for name, n in now.top_emotions)
        lines.append(translate(REPORTS, "emotions", language, emotions=emotions))
    if now.gap_surveys:
        lines.append(
            translate_plural(
                REPORTS,
                "gap",
                now.gap_surveys,
                language,
                gap=signed(now.gap, 2, language),
                surveys=count(now.gap_surveys, language),
                change=change_value(now.gap, before.gap if before else None, 2, language),
            ).rstrip()
        )
    lines.append(
        translate_plural(
            REPORTS,
            "alerts",
            now.open_alerts,
            language,
            open=count(now.open_alerts, language),
            median=duration(now.median_resolve_seconds, language),
        )
    )
    return lines


def next_step(summary: Summary, settings: Settings, language: str) -> str:
    scope = summary.scope
    if scope.touchpoint:
        return translate(REPORTS, "next_touchpoint", language, key=scope.touchpoint)
    rated = [item for item in summary.ranked if item.figures.csat is not None]
    if len(rated) >= 2:
        worst = rated[-1]
        return translate(
            REPORTS,
            "next_worst",
            language,
            name=touchpoint_name(settings, worst.key, language),
            key=worst.key,
            period=scope.period.label,
        )
    open_alerts = summary.current.open_alerts
    return translate_plural(REPORTS, "next_alerts", open_alerts, language, open=count(open_alerts, language))


def csat_bands(settings: Settings, tier: str | None) -> tuple[float, float]:
    """(good, bad) shares for the traffic light: the tier's minimum, or the tier minimums' range."""
    minimums = settings.reports.tier_minimum_csat
    if tier is not None and tier in minimums:
        return minimums[tier], minimums[tier]
    if minimums:
        return max(minimums.values()), min(minimums.values())
    return DEFAULT_GOOD, DEFAULT_BAD


def csat_lines(settings: Settings, tier: str | None, language: str) -> list[Line]:
    minimums = settings.reports.tier_minimum_csat
    shown = {tier: minimums[tier]} if tier is not None and tier in minimums else minimums
    return [
        Line(
            value * 100, translate(REPORTS, "chart_minimum", language, tier=name, share=pct(value, language))
        )
        for name, value in sorted(shown.items(), key=lambda item: item[1])
    ]


def csat_legend(good: float, bad: float, language: str) -> list[Legend]:
    if good == bad:
        return [
            Legend(GOOD, translate(REPORTS, "chart_at_minimum", language, share=pct(good, language))),
            Legend(BAD, translate(REPORTS, "chart_below_minimum", language, share=pct(good, language))),
        ]
    return [
        Legend(GOOD, translate(REPORTS, "chart_band_good", language, share=pct(good, language))),
        Legend(
            MIDDLE,
            translate(
                REPORTS, "chart_band_middle", language, low=pct(bad, language), high=pct(good, language)
            ),
        ),
        Legend(BAD, translate(REPORTS, "chart_band_bad", language, share=pct(bad, language))),
    ]


def summary_chart(summary: Summary, settings: Settings, language: str) -> Chart:
    scope = summary.scope
    if scope.touchpoint:
        return trend_chart(summary, settings, language)
    good, bad = csat_bands(settings, scope.tier)
    title = chart_title(
        settings,
        translate(REPORTS, "chart_csat_title", language, period=scope.period.label),
        scope.period,
        language,
    )
    bars = [
        Bar(
            label=html.unescape(touchpoint_name(settings, item.key, language)),
            value=(item.figures.csat or 0.0) * 100,
            note=f"{pct(item.figures.csat, language)} (n={count(item.figures.ratings, language)})",
            color=share_color(item.figures.csat, good=good, bad=bad),
        )
        for item in summary.ranked
    ]
    return horizontal_bars(
        title,
        bars,
        xlabel=translate(REPORTS, "chart_csat_axis", language),
        xmax=100,
        lines=csat_lines(settings, scope.tier, language),
        legend=csat_legend(good, bad, language),
        filename="summary.png",
    )


def trend_chart(summary: Summary, settings: Settings, language: str) -> Chart:
    """/summary <touchpoint>: weekly CSAT (against the tier minimum or target) and net sentiment."""
    scope = summary.scope
    title = chart_title(
        settings,
        translate(
            REPORTS,
            "chart_trend_title",
            language,
            scope=html.unescape(scope_label(settings, scope, language)),
            period=scope.period.label,
        ),
        scope.period,
        language,
    )
    zone = ZoneInfo(settings.survey.default_timezone)
    lines = csat_lines(settings, scope.tier, language)
    return weekly_trend(
        title,
        [
            point.start.astimezone(zone).strftime("%d %b" if language == "en" else "%d/%m")
            for point in summary.weeks
        ],
        [point.csat for point in summary.weeks],
        [point.net_sentiment for point in summary.weeks],
        csat_label=translate(REPORTS, "chart_trend_csat", language),
        net_label=translate(REPORTS, "chart_trend_net", language),
        lines=lines,
        filename="summary.png",
    )

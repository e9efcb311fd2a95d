"""/summary: how customers felt in a period, against the period before, with a chart.

Without a touchpoint, every touchpoint is ranked by CSAT on one screen and the chart compares them; with
one, the chart shows its rating distribution.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from bot.config import Settings
from bot.i18n import translate, translate_plural
from bot.reports.charts import Bar, Chart, horizontal_bars, share_color
from bot.reports.common import Report, Scope, heading, touchpoint_ids, touchpoint_name
from bot.reports.figures import Figures, figures, total
from bot.reports.numbers import (
    change_count,
    change_points,
    change_value,
    count,
    duration,
    number,
    pct,
    ratio,
    signed,
)
from bot.reports.texts import REPORTS
from storage import reports as report_queries
from storage.db import Database


@dataclass(frozen=True, slots=True)
class RankedTouchpoint:
    key: str
    figures: Figures


@dataclass(frozen=True, slots=True)
class Summary:
    scope: Scope
    current: Figures
    previous: Figures
    ranked: list[RankedTouchpoint]  # empty when the summary is about one touchpoint


async def build_summary(db: Database, settings: Settings, scope: Scope) -> Summary:
    ids = await touchpoint_ids(db)
    touchpoint_id = ids.get(scope.touchpoint) if scope.touchpoint else None
    if scope.touchpoint and touchpoint_id is None:
        # Configured but not synced yet: nothing can have been recorded against it.
        touchpoint_id = -1
    now_groups = await report_queries.aggregates(
        db, scope.period.start, scope.period.end, touchpoint_id=touchpoint_id, tier=scope.tier
    )
    previous = scope.period.previous()
    before_groups = await report_queries.aggregates(
        db, previous.start, previous.end, touchpoint_id=touchpoint_id, tier=scope.tier, with_alerts=False
    )
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
    return Summary(
        scope=scope, current=figures(total(now_groups)), previous=figures(total(before_groups)), ranked=ranked
    )


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
        lines.append(translate(REPORTS, "no_data", language))
        return Report("\n".join(lines))
    lines.extend(figure_lines(now, before, language))
    days = round(scope.period.length.total_seconds() / 86400)
    lines.append(f"<i>{translate_plural(REPORTS, 'vs_previous', days, language, days=days)}</i>")
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


def figure_lines(now: Figures, before: Figures, language: str) -> list[str]:
    """The figure block shared by /summary and the digest."""
    lines = [
        translate(
            REPORTS,
            "responses",
            language,
            completed=count(now.completed, language),
            invited=count(now.invited, language),
            rate=pct(now.response_rate, language),
            change=change_count(now.completed, before.completed, language),
        ).rstrip(),
        translate_plural(
            REPORTS,
            "csat",
            now.ratings,
            language,
            csat=pct(now.csat, language),
            ratings=count(now.ratings, language),
            mean=number(now.mean_rating, 1, language),
            change=change_points(now.csat, before.csat, language),
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
                change=change_value(now.net_sentiment, before.net_sentiment, 2, language),
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
                change=change_value(now.gap, before.gap, 2, language),
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


def summary_chart(summary: Summary, settings: Settings, language: str) -> Chart:
    scope = summary.scope
    if summary.ranked:
        title = translate(REPORTS, "chart_csat_title", language, period=scope.period.label)
        bars = [
            Bar(
                label=html.unescape(touchpoint_name(settings, item.key, language)),
                value=(item.figures.csat or 0.0) * 100,
                note=f"{pct(item.figures.csat, language)} (n={count(item.figures.ratings, language)})",
                color=share_color(item.figures.csat),
            )
            for item in summary.ranked
        ]
        return horizontal_bars(
            title,
            bars,
            xlabel=translate(REPORTS, "chart_csat_axis", language),
            xmax=125,
            filename="summary.png",
        )
    title = translate(
        REPORTS,
        "chart_ratings_title",
        language,
        scope=html.unescape(scope_label(settings, scope, language)),
        period=scope.period.label,
    )
    counts = summary.current.rating_counts
    ratings = summary.current.ratings
    colors = {1: "#c62828", 2: "#ef6c00", 3: "#f9a825", 4: "#7cb342", 5: "#2e7d32"}
    bars = [
        Bar(
            label=f"{'★' * stars}",
            value=float(counts.get(stars, 0)),
            note=f"{counts.get(stars, 0)} ({pct(ratio(counts.get(stars, 0), ratings), language)})",
            color=colors[stars],
        )
        for stars in (5, 4, 3, 2, 1)
    ]
    return horizontal_bars(
        title, bars, xlabel=translate(REPORTS, "chart_ratings_axis", language), filename="summary.png"
    )

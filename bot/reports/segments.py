"""/segments: results per customer tier against the minimum CSAT the config sets for each tier."""

from __future__ import annotations

import html
from dataclasses import dataclass

from bot.config import Settings
from bot.i18n import translate, translate_plural
from bot.reports.common import Report, Scope, heading, try_longer
from bot.reports.figures import Figures, figures
from bot.reports.numbers import count, number, pct, signed
from bot.reports.texts import REPORTS
from storage import reports as report_queries
from storage.db import Database


@dataclass(frozen=True, slots=True)
class Segment:
    tier: str
    figures: Figures
    minimum: float | None

    @property
    def below_minimum(self) -> bool:
        return self.minimum is not None and self.figures.csat is not None and self.figures.csat < self.minimum


@dataclass(frozen=True, slots=True)
class Segments:
    scope: Scope
    segments: list[Segment]  # tiers below their minimum first, then by name


async def build_segments(db: Database, settings: Settings, scope: Scope) -> Segments:
    groups = await report_queries.aggregates(db, scope.period.start, scope.period.end, group_by="tier")
    minimums = settings.reports.tier_minimum_csat
    found = []
    for tier, aggregate in groups.items():
        tier_figures = figures(aggregate)
        if tier_figures.ratings:
            found.append(Segment(str(tier), tier_figures, minimums.get(str(tier))))
    found.sort(key=lambda s: (not s.below_minimum, s.tier))
    return Segments(scope, found)


def render_segments(segments: Segments, settings: Settings, language: str) -> Report:
    period = segments.scope.period
    title = translate(REPORTS, "segments_title", language, period=period.label)
    lines = heading(title, period, settings, language)
    if not segments.segments:
        lines.append(
            translate(REPORTS, "segments_none", language, hint=try_longer("/segments", period, language))
        )
        return Report("\n".join(lines))
    for segment in segments.segments:
        flag = "🔴" if segment.below_minimum else ("🟢" if segment.minimum is not None else "⚪")
        lines.append(
            translate_plural(
                REPORTS,
                "segment_row",
                segment.figures.ratings,
                language,
                flag=flag,
                tier=html.escape(segment.tier),
                csat=pct(segment.figures.csat, language),
                minimum=pct(segment.minimum, language)
                if segment.minimum is not None
                else translate(REPORTS, "no_minimum", language),
                ratings=count(segment.figures.ratings, language),
                mean=number(segment.figures.mean_rating, 1, language),
                net=signed(segment.figures.net_sentiment, 2, language),
            )
        )
    below = [s for s in segments.segments if s.below_minimum]
    lines.append("")
    if below:
        lines.append(
            translate(
                REPORTS,
                "segment_below",
                language,
                tiers=", ".join(html.escape(s.tier) for s in below),
                tier=html.escape(below[0].tier),
            )
        )
    else:
        lines.append(translate(REPORTS, "segment_all_ok", language))
    return Report("\n".join(lines))

"""/touchpoints: which touchpoints move overall satisfaction most, where expectations are missed, and what
experience is worth in comebacks and amounts.

Key-driver analysis: for each touchpoint, the Pearson correlation across customers between their mean
experience score there (p(positive) − p(negative)) and their mean rating over all touchpoints in the period,
multiplied by the touchpoint's configured weight. Correlations from fewer than MIN_CUSTOMERS customers are
not ranked.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

from bot.config import Settings
from bot.i18n import translate, translate_plural
from bot.reports.charts import BAD, GOOD, Bar, Chart, Legend, horizontal_bars
from bot.reports.common import (
    Report,
    Scope,
    chart_title,
    heading,
    touchpoint_ids,
    touchpoint_name,
    try_longer,
)
from bot.reports.numbers import count, number, pct, ratio, signed
from bot.reports.texts import REPORTS
from storage import reports as report_queries
from storage.db import Database
from storage.reports import DriverSums

MIN_CUSTOMERS = 5
TOP_GAPS = 3
# Outcomes shown: the touchpoints where experience makes the biggest difference to coming back.
TOP_OUTCOMES = 5


@dataclass(frozen=True, slots=True)
class Driver:
    key: str
    customers: int
    correlation: float | None  # None: too few customers or no variation
    weight: float

    @property
    def impact(self) -> float | None:
        return None if self.correlation is None else self.correlation * self.weight


@dataclass(frozen=True, slots=True)
class Outcome:
    key: str
    positive_events: int
    negative_events: int
    positive_comeback: float | None
    negative_comeback: float | None
    positive_amount: float | None  # mean amount of the surveyed event
    negative_amount: float | None
    positive_later: float | None  # mean spent within the window after the event
    negative_later: float | None
    has_amounts: bool  # some surveyed event carried an amount
    has_later: bool  # some comeback carried an amount


@dataclass(frozen=True, slots=True)
class DriverReport:
    scope: Scope
    drivers: list[Driver]  # ranked by impact, unranked (too few customers) last
    gaps: list[tuple[str, float, int]]  # key, mean gap, surveys — most negative first
    outcomes: list[Outcome]


def correlation(sums: DriverSums) -> float | None:
    n = sums.customers
    if n < MIN_CUSTOMERS:
        return None
    cov = sums.sum_xy - sums.sum_x * sums.sum_y / n
    var_x = sums.sum_xx - sums.sum_x**2 / n
    var_y = sums.sum_yy - sums.sum_y**2 / n
    if var_x <= 1e-12 or var_y <= 1e-12:
        return None
    return max(-1.0, min(1.0, cov / math.sqrt(var_x * var_y)))


async def build_drivers(db: Database, settings: Settings, scope: Scope) -> DriverReport:
    start, end = scope.period.start, scope.period.end
    keys = {tp_id: key for key, tp_id in (await touchpoint_ids(db)).items()}
    configured = {tp.key: tp for tp in settings.touchpoints}
    drivers = []
    for sums in await report_queries.driver_sums(db, start, end):
        key = keys.get(sums.touchpoint_id)
        if key is None or key not in configured:
            continue
        drivers.append(Driver(key, sums.customers, correlation(sums), configured[key].weight))
    drivers.sort(key=lambda d: (d.impact is None, -(d.impact or 0.0), d.key))

    gaps = []
    for tp_id, (surveys, gap_sum) in (await report_queries.gaps(db, start, end)).items():
        key = keys.get(tp_id) if isinstance(tp_id, int) else None
        if key in configured and surveys:
            gaps.append((str(key), gap_sum / surveys, surveys))
    gaps.sort(key=lambda item: (item[1], item[0]))

    ids = await touchpoint_ids(db)
    comeback_ids = [ids[key] for key in sorted(settings.comeback_keys()) if key in ids]
    rows = await report_queries.outcomes(db, start, end, settings.reports.comeback_window, comeback_ids)
    by_key: dict[str, dict[str, report_queries.OutcomeRow]] = {}
    for row in rows:
        key = keys.get(row.touchpoint_id)
        if key in configured:
            by_key.setdefault(str(key), {})[row.sentiment] = row
    outcomes = []
    for key, found in sorted(by_key.items()):
        good, bad = found.get("positive"), found.get("negative")
        if good is None and bad is None:
            continue
        outcomes.append(
            Outcome(
                key=key,
                positive_events=good.events if good else 0,
                negative_events=bad.events if bad else 0,
                positive_comeback=ratio(good.came_back, good.events) if good else None,
                negative_comeback=ratio(bad.came_back, bad.events) if bad else None,
                positive_amount=ratio(good.amount_sum, good.amount_events) if good else None,
                negative_amount=ratio(bad.amount_sum, bad.amount_events) if bad else None,
                positive_later=ratio(good.later_amount_sum, good.events) if good else None,
                negative_later=ratio(bad.later_amount_sum, bad.events) if bad else None,
                has_amounts=any(r.amount_events for r in found.values()),
                has_later=any(r.later_amount_sum for r in found.values()),
            )
        )
    outcomes.sort(key=lambda o: (-_comeback_difference(o), o.key))
    return DriverReport(scope=scope, drivers=drivers, gaps=gaps, outcomes=outcomes[:TOP_OUTCOMES])


def _comeback_difference(outcome: Outcome) -> float:
    if outcome.positive_comeback is None or outcome.negative_comeback is None:
        return -1.0
    return abs(outcome.positive_comeback - outcome.negative_comeback)


def _share_of(share: float | None, events: int, language: str) -> str:
    return f"{pct(share, language)} (n={count(events, language)})"


def _window(settings: Settings) -> str:
    days = settings.reports.comeback_window.total_seconds() / 86400
    return f"{days:g}d"


def render_drivers(
    report: DriverReport, settings: Settings, language: str, *, with_chart: bool = True
) -> Report:
    period = report.scope.period
    title = translate(REPORTS, "drivers_title", language, period=period.label)
    lines = heading(title, period, settings, language)
    ranked = [d for d in report.drivers if d.impact is not None]
    if not report.drivers and not report.gaps:
        lines.append(
            translate(REPORTS, "drivers_none", language, hint=try_longer("/touchpoints", period, language))
        )
        return Report("\n".join(lines))
    if report.drivers:
        lines.append(translate(REPORTS, "drivers_header", language))
        for rank, driver in enumerate(ranked, start=1):
            lines.append(
                translate_plural(
                    REPORTS,
                    "driver_row",
                    driver.customers,
                    language,
                    rank=rank,
                    name=touchpoint_name(settings, driver.key, language),
                    impact=signed(driver.impact, 2, language),
                    r=signed(driver.correlation, 2, language),
                    weight=number(driver.weight, 1, language),
                    customers=count(driver.customers, language),
                )
            )
        for driver in report.drivers:
            if driver.impact is None:
                lines.append(
                    translate(
                        REPORTS,
                        "driver_thin",
                        language,
                        name=touchpoint_name(settings, driver.key, language),
                        customers=count(driver.customers, language),
                    )
                )
    if report.gaps:
        negative = any(gap < 0 for _, gap, _ in report.gaps)
        lines.extend(
            ["", translate(REPORTS, "gaps_header" if negative else "gaps_header_positive", language)]
        )
        for key, gap, surveys in report.gaps[:TOP_GAPS]:
            lines.append(
                translate_plural(
                    REPORTS,
                    "gap_row",
                    surveys,
                    language,
                    name=touchpoint_name(settings, key, language),
                    gap=signed(gap, 2, language),
                    surveys=count(surveys, language),
                )
            )
    if report.outcomes:
        comeback = ", ".join(
            touchpoint_name(settings, key, language) for key in sorted(settings.comeback_keys())
        )
        lines.extend(
            ["", translate(REPORTS, "outcomes_header", language, window=_window(settings), comeback=comeback)]
        )
        for outcome in report.outcomes:
            lines.append(
                translate(
                    REPORTS,
                    "outcome_row",
                    language,
                    name=touchpoint_name(settings, outcome.key, language),
                    good=_share_of(outcome.positive_comeback, outcome.positive_events, language),
                    bad=_share_of(outcome.negative_comeback, outcome.negative_events, language),
                )
            )
            if outcome.has_amounts:
                lines.append(
                    translate(
                        REPORTS,
                        "outcome_amounts",
                        language,
                        good_amount=number(outcome.positive_amount, 2, language),
                        bad_amount=number(outcome.negative_amount, 2, language),
                    )
                )
            if outcome.has_later:
                lines.append(
                    translate(
                        REPORTS,
                        "outcome_later",
                        language,
                        good_later=number(outcome.positive_later, 2, language),
                        bad_later=number(outcome.negative_later, 2, language),
                    )
                )
    if ranked:
        top = ranked[0]
        lines.extend(
            [
                "",
                translate(
                    REPORTS,
                    "drivers_next",
                    language,
                    name=touchpoint_name(settings, top.key, language),
                    key=top.key,
                ),
            ]
        )
    chart = drivers_chart(report, settings, language) if with_chart and ranked else None
    return Report("\n".join(lines), chart)


def drivers_chart(report: DriverReport, settings: Settings, language: str) -> Chart:
    """Signed bars: a touchpoint that pulls satisfaction down is drawn below zero, in red."""
    period = report.scope.period
    title = chart_title(
        settings, translate(REPORTS, "chart_drivers_title", language, period=period.label), period, language
    )
    ranked = [d for d in report.drivers if d.impact is not None]
    bars = [
        Bar(
            label=html.unescape(touchpoint_name(settings, d.key, language)),
            value=d.impact or 0.0,
            note=f"{signed(d.impact, 2, language)} (n={count(d.customers, language)})",
            color=GOOD if (d.impact or 0.0) >= 0 else BAD,
        )
        for d in ranked
    ]
    reach = max([abs(bar.value) for bar in bars] + [0.5]) * 1.5
    return horizontal_bars(
        title,
        bars,
        xlabel=translate(REPORTS, "chart_drivers_axis", language),
        xmin=-reach,
        xmax=reach,
        legend=[
            Legend(GOOD, translate(REPORTS, "chart_drivers_lifts", language)),
            Legend(BAD, translate(REPORTS, "chart_drivers_pulls", language)),
        ],
        filename="drivers.png",
    )

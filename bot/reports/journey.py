"""/journey: the customer corridor — consecutive touchpoints, where customers turn negative or drop out.

A transition A → B is a customer's event at A followed by their next event at B within the comeback window;
"turns negative" means the experience at B was negative while at A it was not (or was not asked). An event
with no next event inside the window is a drop-out only where the journey is not meant to end: journey
ends are the touchpoints marked ``journey_end`` in the config and those of the last stage (a customer who
goes no further after a delivery has finished the journey, not dropped out of it).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from bot.config import Settings
from bot.i18n import translate
from bot.reports.charts import Bar, Chart, colored_bars
from bot.reports.common import (
    Report,
    Scope,
    chart_title,
    heading,
    touchpoint_ids,
    touchpoint_name,
    try_longer,
)
from bot.reports.numbers import count, pct, ratio
from bot.reports.texts import REPORTS
from storage import reports as report_queries
from storage.db import Database

# Shares computed from fewer transitions than this are shown but never called congested or blocked.
MIN_FOR_FLAG = 5
TOP_TRANSITIONS = 8


@dataclass(frozen=True, slots=True)
class Transition:
    source: str
    target: str
    count: int
    turned_negative: float | None  # share of analysed transitions


@dataclass(frozen=True, slots=True)
class DropOut:
    key: str
    events: int
    dropped: int

    @property
    def share(self) -> float | None:
        return ratio(self.dropped, self.events)


@dataclass(frozen=True, slots=True)
class Journey:
    scope: Scope
    transitions: list[Transition]  # busiest first
    dropouts: list[DropOut]  # by journey stage
    congested: Transition | None
    blocked: DropOut | None


async def build_journey(db: Database, settings: Settings, scope: Scope) -> Journey:
    keys = {tp_id: key for key, tp_id in (await touchpoint_ids(db)).items()}
    stages = {tp.key: tp.stage for tp in settings.touchpoints}
    last_stage = max(stages.values(), default=0)
    ends = settings.journey_ends()
    rows = await report_queries.transitions(
        db, scope.period.start, scope.period.end, settings.reports.comeback_window
    )
    transitions: list[Transition] = []
    events: dict[str, int] = {}
    dropped: dict[str, int] = {}
    for row in rows:
        source = keys.get(row.from_touchpoint_id)
        if source is None:
            continue
        events[source] = events.get(source, 0) + row.count
        if row.to_touchpoint_id is None:
            dropped[source] = dropped.get(source, 0) + row.count
            continue
        target = keys.get(row.to_touchpoint_id)
        if target is None:
            continue
        transitions.append(Transition(source, target, row.count, ratio(row.turned_negative, row.analysed)))
    transitions.sort(key=lambda t: (-t.count, t.source, t.target))
    dropouts = [
        DropOut(key, events[key], dropped.get(key, 0))
        for key in sorted(events, key=lambda k: (stages.get(k, last_stage), k))
        if key in stages and key not in ends
    ]
    flaggable = [t for t in transitions if t.count >= MIN_FOR_FLAG and t.turned_negative]
    congested = max(flaggable, key=lambda t: (t.turned_negative or 0.0, t.count), default=None)
    blockable = [d for d in dropouts if d.events >= MIN_FOR_FLAG and d.dropped]
    blocked = max(blockable, key=lambda d: (d.share or 0.0, d.events), default=None)
    return Journey(scope, transitions, dropouts, congested, blocked)


def _window(settings: Settings) -> str:
    return f"{settings.reports.comeback_window.total_seconds() / 86400:g}d"


def render_journey(journey: Journey, settings: Settings, language: str, *, with_chart: bool = True) -> Report:
    period = journey.scope.period
    title = translate(REPORTS, "journey_title", language, period=period.label)
    lines = heading(title, period, settings, language)
    if not journey.transitions:
        lines.append(
            translate(REPORTS, "journey_none", language, hint=try_longer("/journey", period, language))
        )
        return Report("\n".join(lines))

    def name(key: str) -> str:
        return touchpoint_name(settings, key, language)

    lines.append(translate(REPORTS, "journey_header", language))
    for transition in journey.transitions[:TOP_TRANSITIONS]:
        lines.append(
            translate(
                REPORTS,
                "journey_row",
                language,
                a=name(transition.source),
                b=name(transition.target),
                count=count(transition.count, language),
                negative=pct(transition.turned_negative, language),
            )
        )
    if journey.dropouts:
        ends = ", ".join(touchpoint_name(settings, key, language) for key in sorted(settings.journey_ends()))
        lines.extend(
            ["", translate(REPORTS, "dropout_header", language, window=_window(settings), ends=ends)]
        )
        for dropout in journey.dropouts:
            lines.append(
                translate(
                    REPORTS,
                    "dropout_row",
                    language,
                    name=name(dropout.key),
                    share=pct(dropout.share, language),
                    count=count(dropout.events, language),
                )
            )
    flags = []
    if journey.congested is not None:
        flags.append(
            translate(
                REPORTS,
                "journey_congested",
                language,
                a=name(journey.congested.source),
                b=name(journey.congested.target),
                negative=pct(journey.congested.turned_negative, language),
            )
        )
    if journey.blocked is not None:
        flags.append(
            translate(
                REPORTS,
                "journey_blocked",
                language,
                name=name(journey.blocked.key),
                share=pct(journey.blocked.share, language),
            )
        )
    if flags:
        lines.extend(["", *flags])
    focus = (
        journey.congested.target
        if journey.congested is not None
        else journey.blocked.key
        if journey.blocked is not None
        else journey.transitions[0].target
    )
    lines.extend(["", translate(REPORTS, "journey_next", language, key=focus)])
    chart = journey_chart(journey, settings, language) if with_chart else None
    return Report("\n".join(lines), chart)


def journey_chart(journey: Journey, settings: Settings, language: str) -> Chart:
    """Customers per transition as bar length, the share turning negative as colour (with its scale), and the
    drop-out per touchpoint in a second panel."""
    period = journey.scope.period
    title = chart_title(
        settings, translate(REPORTS, "chart_journey_title", language, period=period.label), period, language
    )
    shown = journey.transitions[:TOP_TRANSITIONS]
    bars = []
    for transition in shown:
        source = html.unescape(touchpoint_name(settings, transition.source, language))
        target = html.unescape(touchpoint_name(settings, transition.target, language))
        bars.append(
            Bar(
                label=f"{source} → {target}",
                value=float(transition.count),
                note=translate(
                    REPORTS,
                    "chart_journey_note",
                    language,
                    count=count(transition.count, language),
                    negative=pct(transition.turned_negative, language),
                ),
            )
        )
    side = [
        Bar(
            label=html.unescape(touchpoint_name(settings, dropout.key, language)),
            value=(dropout.share or 0.0) * 100,
            note=f"{pct(dropout.share, language)} (n={count(dropout.events, language)})",
            color="#6d4c41",
        )
        for dropout in journey.dropouts
    ]
    return colored_bars(
        title,
        bars,
        [transition.turned_negative for transition in shown],
        xlabel=translate(REPORTS, "chart_journey_axis", language),
        scale_label=translate(REPORTS, "chart_journey_scale", language),
        side_title=translate(REPORTS, "chart_dropout_title", language, window=_window(settings)),
        side=side,
        side_xlabel=translate(REPORTS, "chart_dropout_axis", language),
        filename="journey.png",
    )

"""The figures staff read, computed from storage's additive sums (one definition for every report)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.reports.numbers import median, ratio
from storage.reports import Aggregate, GroupKey

TOP_EMOTIONS = 3
# "neutral" says nothing about how customers felt, so it never makes the top emotions.
UNINFORMATIVE_EMOTIONS = frozenset({"neutral"})


@dataclass(frozen=True, slots=True)
class Figures:
    # The counts as defined once in storage.reports.RESPONSE_RULES (surveys invited in the period).
    invited: int
    responses: int
    completed: int
    response_rate: float | None  # responses / invited
    ratings: int
    csat: float | None  # share of ratings that are 4 or 5
    mean_rating: float | None
    rating_counts: dict[int, int]
    analysed: int
    negative: float | None  # shares of analysed experience answers
    neutral: float | None
    positive: float | None
    net_sentiment: float | None  # mean of p(positive) - p(negative), in [-1, 1]
    top_emotions: list[tuple[str, int]]
    gap: float | None  # mean per survey of experience score - expectation score
    gap_surveys: int
    open_alerts: int
    median_resolve_seconds: float | None

    @property
    def empty(self) -> bool:
        return self.invited == 0 and self.ratings == 0 and self.analysed == 0


def figures(aggregate: Aggregate) -> Figures:
    emotions = sorted(
        ((name, count) for name, count in aggregate.emotions.items() if name not in UNINFORMATIVE_EMOTIONS),
        key=lambda item: (-item[1], item[0]),
    )
    return Figures(
        invited=aggregate.invited,
        responses=aggregate.responded,
        completed=aggregate.completed,
        response_rate=ratio(aggregate.responded, aggregate.invited),
        ratings=aggregate.ratings,
        csat=ratio(aggregate.satisfied, aggregate.ratings),
        mean_rating=ratio(aggregate.rating_sum, aggregate.ratings),
        rating_counts=dict(aggregate.rating_counts),
        analysed=aggregate.analysed,
        negative=ratio(aggregate.negative, aggregate.analysed),
        neutral=ratio(aggregate.neutral, aggregate.analysed),
        positive=ratio(aggregate.positive, aggregate.analysed),
        net_sentiment=ratio(aggregate.sentiment_sum, aggregate.analysed),
        top_emotions=emotions[:TOP_EMOTIONS],
        gap=ratio(aggregate.gap_sum, aggregate.gap_surveys),
        gap_surveys=aggregate.gap_surveys,
        open_alerts=aggregate.open_alerts,
        median_resolve_seconds=median(aggregate.resolve_seconds),
    )


def total(aggregates: Mapping[GroupKey, Aggregate]) -> Aggregate:
    combined = Aggregate()
    for aggregate in aggregates.values():
        combined.add(aggregate)
    return combined

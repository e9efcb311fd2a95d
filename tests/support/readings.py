"""A classifier reading as storage and reports take it (sentiment.Analysis's shape), without the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reading:
    sentiment: str
    sentiment_scores: dict[str, float]
    emotion: str = "neutral"
    emotion_scores: dict[str, float] = field(default_factory=lambda: {"neutral": 1.0})
    model_id: str = "fake"
    model_version: str = "1"
    vector: Any = None

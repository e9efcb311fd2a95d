"""Our canonical label sets, and the maps that fold other models' label sets into them.

Hub models name their classes in many ways (``LABEL_0``, ``4 stars``, GoEmotions' 28 names, Plutchik's 8);
callers downstream only ever see the three sentiments and Ekman's six plus neutral.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")
EMOTIONS: tuple[str, ...] = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")

# Which sentiment an emotion implies when a data set only labels emotion (surprise is ambiguous).
EMOTION_SENTIMENT: dict[str, str | None] = {
    "anger": "negative",
    "disgust": "negative",
    "fear": "negative",
    "sadness": "negative",
    "joy": "positive",
    "surprise": None,
    "neutral": "neutral",
}

# GoEmotions' 27 emotions + neutral -> Ekman-7 (Google's ekman_mapping.json, inverted).
GOEMOTIONS_EKMAN: dict[str, str] = {
    "anger": "anger",
    "annoyance": "anger",
    "disapproval": "anger",
    "disgust": "disgust",
    "fear": "fear",
    "nervousness": "fear",
    "joy": "joy",
    "amusement": "joy",
    "approval": "joy",
    "excitement": "joy",
    "gratitude": "joy",
    "love": "joy",
    "optimism": "joy",
    "relief": "joy",
    "pride": "joy",
    "admiration": "joy",
    "desire": "joy",
    "caring": "joy",
    "sadness": "sadness",
    "disappointment": "sadness",
    "embarrassment": "sadness",
    "grief": "sadness",
    "remorse": "sadness",
    "surprise": "surprise",
    "realization": "surprise",
    "confusion": "surprise",
    "curiosity": "surprise",
    "neutral": "neutral",
}

# Plutchik's 8 -> Ekman-7: trust reads as contentment (joy); anticipation carries no valence of its own.
PLUTCHIK_EKMAN: dict[str, str] = {
    "anger": "anger",
    "anticipation": "neutral",
    "disgust": "disgust",
    "fear": "fear",
    "joy": "joy",
    "sadness": "sadness",
    "surprise": "surprise",
    "trust": "joy",
}

_EMOTION_SYNONYMS: dict[str, str] = {
    "happiness": "joy",
    "happy": "joy",
    "sad": "sadness",
    "angry": "anger",
    "others": "neutral",
    "other": "neutral",
    "none": "neutral",
    "no emotion": "neutral",
}

_SENTIMENT_SYNONYMS: dict[str, str] = {
    "neg": "negative",
    "negative": "negative",
    "neu": "neutral",
    "neutral": "neutral",
    "pos": "positive",
    "positive": "positive",
}

_STARS = re.compile(r"^([1-5])\s*stars?$")
_INDEXED = re.compile(r"^label_(\d+)$")


class LabelMapError(ValueError):
    """A model's label set cannot be folded into ours."""


def sentiment_label_map(id2label: Mapping[int, str]) -> dict[str, str]:
    """Map a sentiment model's labels to ours: names, LABEL_0..2 (neg/neu/pos), LABEL_0..1, 1–5 stars."""
    labels = [id2label[i] for i in sorted(id2label)]
    mapping: dict[str, str] = {}
    for label in labels:
        key = label.strip().lower()
        if key in _SENTIMENT_SYNONYMS:
            mapping[label] = _SENTIMENT_SYNONYMS[key]
        elif match := _STARS.match(key):
            stars = int(match.group(1))
            mapping[label] = "negative" if stars <= 2 else "neutral" if stars == 3 else "positive"
        elif match := _INDEXED.match(key):
            index = int(match.group(1))
            order = ("negative", "neutral", "positive") if len(labels) == 3 else ("negative", "positive")
            if len(labels) not in (2, 3) or index >= len(order):
                raise LabelMapError(f"cannot read {label!r} of a {len(labels)}-class model as a sentiment")
            mapping[label] = order[index]
        else:
            raise LabelMapError(f"unknown sentiment label {label!r}")
    return mapping


def emotion_label_map(id2label: Mapping[int, str]) -> dict[str, str]:
    """Map an emotion model's labels to Ekman-7: Ekman names, GoEmotions' 28, Plutchik's 8, 'others'."""
    mapping: dict[str, str] = {}
    names = {label.strip().lower() for label in id2label.values()}
    plutchik = bool(names & {"trust", "anticipation"})
    for label in id2label.values():
        key = label.strip().lower()
        if key in EMOTIONS:
            mapping[label] = key
        elif plutchik and key in PLUTCHIK_EKMAN:
            mapping[label] = PLUTCHIK_EKMAN[key]
        elif key in GOEMOTIONS_EKMAN:
            mapping[label] = GOEMOTIONS_EKMAN[key]
        elif key in _EMOTION_SYNONYMS:
            mapping[label] = _EMOTION_SYNONYMS[key]
        else:
            raise LabelMapError(f"unknown emotion label {label!r}")
    return mapping


def fold_scores(
    scores: Mapping[str, float], mapping: Mapping[str, str], targets: tuple[str, ...]
) -> dict[str, float]:
    """Sum a model's class scores into our labels and renormalise (multi-label models need not sum to 1)."""
    folded = dict.fromkeys(targets, 0.0)
    for label, score in scores.items():
        folded[mapping[label]] += float(score)
    total = sum(folded.values())
    if total <= 0:
        return {label: 1.0 / len(targets) for label in targets}
    return {label: value / total for label, value in folded.items()}

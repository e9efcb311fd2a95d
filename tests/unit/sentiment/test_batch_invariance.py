"""A reading never depends on batch-mates: the bot classifies one answer at a time, `momento classify` in
batches, and both must give every answer the same label (dynamic int8 over a whole batch did not)."""

from __future__ import annotations

import random
from typing import Any

from sentiment.datasets import CX_DIR, load
from tests.unit.sentiment.test_classifier import CLEAR_ENGLISH, CLEAR_SPANISH, HARD_FAMILIES


def _answers() -> list[str]:
    texts = [text for text, _ in CLEAR_ENGLISH + CLEAR_SPANISH + HARD_FAMILIES]
    for name in ("cx_en", "cx_es"):
        texts.extend(example.text for example in load(name, CX_DIR, "test"))
    return texts


def _labels(model: Any, texts: list[str]) -> list[tuple[str, str]]:
    return [(a.sentiment, a.emotion) for a in model.predict(texts)]


def test_labels_are_the_same_alone_batched_and_shuffled(sentiment_model: Any) -> None:
    assert sentiment_model.encoder.runtime == "onnx"
    texts = _answers()
    alone = [_labels(sentiment_model, [text])[0] for text in texts]
    batched = _labels(sentiment_model, texts)
    order = list(range(len(texts)))
    random.Random(13).shuffle(order)
    shuffled_labels = _labels(sentiment_model, [texts[i] for i in order])
    shuffled = [label for _, label in sorted(zip(order, shuffled_labels, strict=True))]
    assert batched == alone
    assert shuffled == alone
    # The scores too, not only the winning label.
    first = sentiment_model.predict(texts[:40])
    again = sentiment_model.predict(list(reversed(texts[:40])))[::-1]
    assert [a.sentiment_scores for a in first] == [a.sentiment_scores for a in again]

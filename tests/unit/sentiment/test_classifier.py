"""The sentiment package as its users meet it: labels that land right, batching that never blocks the bot,
failures that surface as ClassificationError, and hub models folded into our label sets."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sentiment import (
    EMOTIONS,
    SENTIMENTS,
    Analysis,
    BatchingClassifier,
    ClassificationError,
    ClassifierSettings,
    load_model,
    open_classifier,
)
from sentiment.labels import emotion_label_map, fold_scores, sentiment_label_map
from sentiment.language import resolve_languages

CLEAR_ENGLISH = [
    ("The parcel came early and the driver was lovely, thank you!", "positive"),
    ("Fantastic support, my issue was fixed in minutes.", "positive"),
    ("Really happy with the new phone, great purchase.", "positive"),
    ("The order arrived broken and nobody answers my emails. Terrible.", "negative"),
    ("Worst hotel stay of my life, the room was filthy.", "negative"),
    ("I waited two hours on hold and then they hung up on me.", "negative"),
    ("I expected the package on Thursday.", "neutral"),
]
CLEAR_SPANISH = [
    ("Todo perfecto, el pedido llegó antes de tiempo. ¡Gracias!", "positive"),
    ("Muy contenta con la atención, la chica fue amabilísima.", "positive"),
    ("Excelente servicio, lo recomiendo.", "positive"),
    ("El paquete llegó roto y nadie me contesta. Fatal.", "negative"),
    ("Pésima atención, me colgaron dos veces.", "negative"),
    ("La habitación estaba sucia y olía fatal, un asco.", "negative"),
    ("Esperaba recibir el pedido el jueves.", "neutral"),
]
# The families a word-by-word reading got wrong: a pleasant surprise, the verdict after "but"/"pero", a
# disappointed hope, words of several senses, "instead of"; Spain, Mexico and Argentina. Our own sentences.
HARD_FAMILIES = [
    ("I can't believe it, it's already here!", "positive"),
    ("The driver was a bit late, but the service was excellent.", "positive"),
    ("The room looked lovely but the staff were rude to us.", "negative"),
    ("I was really hoping it would arrive today, and it didn't.", "negative"),
    ("Instead of helping me they transferred me and hung up.", "negative"),
    ("¡No me lo puedo creer, ya está aquí!", "positive"),
    ("Me avisaron con una hora de antelación y fueron puntuales.", "positive"),
    ("Llegó un poco tarde, pero la atención fue de diez.", "positive"),
    ("La tienda es bonita pero el trato fue pésimo.", "negative"),
    ("Tenía la esperanza de que llegara hoy y nada, sigo esperando.", "negative"),
    ("Me cobraron dos veces en la cuenta y nadie me lo devuelve.", "negative"),
    ("¡Qué padre, todo llegó bien y rapidísimo!", "positive"),
    ("En vez de ayudarme me pasaron con otro y me colgaron.", "negative"),
    ("Re contento con la compra, la verdad un golazo.", "positive"),
]


# ---------------------------------------------------------------------------------------------------------
# The offline default (session model from tests/conftest.py, loaded with HF_HUB_OFFLINE=1).
# ---------------------------------------------------------------------------------------------------------


def test_default_model_loads_offline_and_names_its_weights(sentiment_model: Any) -> None:
    import os

    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    assert sentiment_model.model_id == "momento-e5-heads"
    encoder_part, heads_part = sentiment_model.model_version.split("-")
    assert encoder_part == sentiment_model.encoder.fingerprint[:8] and len(heads_part) == 8


@pytest.mark.parametrize(("text", "expected"), CLEAR_ENGLISH + CLEAR_SPANISH)
async def test_clear_answers_land_right(classifier: Any, text: str, expected: str) -> None:
    (analysis,) = await classifier.analyse([text])
    assert analysis.sentiment == expected, analysis.sentiment_scores


@pytest.mark.parametrize(("text", "expected"), HARD_FAMILIES)
async def test_hard_families_land_right(classifier: Any, text: str, expected: str) -> None:
    (analysis,) = await classifier.analyse([text])
    assert analysis.sentiment == expected, analysis.sentiment_scores


async def test_analysis_carries_every_score(classifier: Any) -> None:
    analyses = await classifier.analyse(["Great stay!", "todo bien"], ["en", "es"])
    for analysis in analyses:
        assert set(analysis.sentiment_scores) == set(SENTIMENTS)
        assert set(analysis.emotion_scores) == set(EMOTIONS)
        assert sum(analysis.sentiment_scores.values()) == pytest.approx(1.0, abs=1e-4)
        assert sum(analysis.emotion_scores.values()) == pytest.approx(1.0, abs=1e-4)
        assert analysis.sentiment == max(analysis.sentiment_scores, key=analysis.sentiment_scores.__getitem__)
        assert analysis.emotion == max(analysis.emotion_scores, key=analysis.emotion_scores.__getitem__)


async def test_clear_emotions(classifier: Any) -> None:
    texts = [
        "I'm furious, they cancelled my booking without telling me!",
        "Disgusting, there was hair in my soup.",
        "Thank you so much, the staff were wonderful!",
    ]
    emotions = [analysis.emotion for analysis in await classifier.analyse(texts)]
    assert emotions == ["anger", "disgust", "joy"]


async def test_empty_and_odd_texts_do_not_crash(classifier: Any) -> None:
    analyses = await classifier.analyse(["", "   ", "👍", "x" * 20_000], [None, "es", "en", "en"])
    assert [a.sentiment for a in analyses[:2]] == ["neutral", "neutral"]
    assert len(analyses) == 4


async def test_language_hint_must_match_texts(classifier: Any) -> None:
    with pytest.raises(ValueError, match="languages"):
        await classifier.analyse(["one", "two"], ["en"])


def test_language_comes_from_the_hint_else_from_lingua() -> None:
    texts = ["Llegó tarde y la caja estaba rota", "The box arrived late", "ok", "todo bien"]
    assert resolve_languages(texts, None) == ["es", "en", "other", "es"]
    assert resolve_languages(texts, [None, None, None, "es-MX"]) == ["es", "en", "other", "es"]
    assert resolve_languages(["Bonjour"], ["fr"]) == ["other"]


# ---------------------------------------------------------------------------------------------------------
# Batching off the event loop.
# ---------------------------------------------------------------------------------------------------------


class _Recording:
    """Wraps a model; records batch sizes and which thread ran each batch."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.model_version = inner.model_version
        self.batches: list[int] = []
        self.threads: set[int] = set()
        self.ticks_during: list[int] = []
        self.ticks = 0

    def predict(self, texts: Sequence[str], languages: Sequence[str | None]) -> list[Analysis]:
        self.threads.add(threading.get_ident())
        before = self.ticks
        result: list[Analysis] = self.inner.predict(texts, languages)
        self.ticks_during.append(self.ticks - before)
        self.batches.append(len(texts))
        return result


async def test_event_loop_keeps_ticking_during_a_large_batch(sentiment_model: Any) -> None:
    recording = _Recording(sentiment_model)
    classifier = BatchingClassifier(recording, batch_size=32, max_wait_ms=5)
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            recording.ticks += 1
            await asyncio.sleep(0)

    texts = [f"Order {i} arrived on time and the courier was friendly." for i in range(400)]
    ticking = asyncio.create_task(ticker())
    try:
        analyses = await classifier.analyse(texts)
    finally:
        stop.set()
        await ticking
        await classifier.aclose()
    assert len(analyses) == 400
    assert max(recording.batches) <= 32 and len(recording.batches) >= 400 // 32
    assert threading.get_ident() not in recording.threads  # the model ran in the worker thread
    assert sum(1 for ticks in recording.ticks_during if ticks > 0) >= len(recording.batches) // 2


async def test_concurrent_callers_share_batches_and_keep_their_order(sentiment_model: Any) -> None:
    recording = _Recording(sentiment_model)
    classifier = BatchingClassifier(recording, batch_size=64, max_wait_ms=50)
    try:
        first, second = await asyncio.gather(
            classifier.analyse(["Terrible, never again."] * 3),
            classifier.analyse(["Wonderful stay, thank you!"] * 3),
        )
    finally:
        await classifier.aclose()
    assert recording.batches == [6]
    assert [a.sentiment for a in first] == ["negative"] * 3
    assert [a.sentiment for a in second] == ["positive"] * 3


class _Flaky:
    """Fails while `broken` is set, like a model that runs out of memory once."""

    model_id = "flaky"
    model_version = "1"

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.broken = True

    def predict(self, texts: Sequence[str], languages: Sequence[str | None]) -> list[Analysis]:
        if self.broken:
            raise MemoryError("out of memory")
        result: list[Analysis] = self.inner.predict(texts, languages)
        return result


async def test_failing_model_raises_classification_error_and_recovers(sentiment_model: Any) -> None:
    flaky = _Flaky(sentiment_model)
    classifier = BatchingClassifier(flaky, batch_size=8, max_wait_ms=20)
    try:
        results = await asyncio.gather(
            classifier.analyse(["the courier was late"]),
            classifier.analyse(["great service"]),
            return_exceptions=True,
        )
        assert all(isinstance(result, ClassificationError) for result in results)
        flaky.broken = False
        (analysis,) = await classifier.analyse(["great service, thank you"])
        assert analysis.sentiment == "positive"
    finally:
        await classifier.aclose()
    with pytest.raises(ClassificationError):
        await classifier.analyse(["after close"])


async def test_open_classifier_serves_the_default(tmp_path: Path) -> None:
    settings = ClassifierSettings(cache_dir=str(tmp_path / "unused"), runtime="torch", batch_size=4)
    classifier = await open_classifier(settings)
    try:
        analyses = await classifier.analyse(["Awful, the room was dirty.", "Todo genial, gracias!"])
    finally:
        await classifier.aclose()
    assert [a.sentiment for a in analyses] == ["negative", "positive"]
    assert classifier.model_id == "momento-e5-heads"


def test_int8_encoder_reads_answers_as_the_torch_fallback_does(sentiment_model: Any, tmp_path: Path) -> None:
    """A server where ONNX Runtime fails falls back to torch: the bot must read answers the same way."""
    from sentiment import load_model

    torch_model = load_model(ClassifierSettings(cache_dir=str(tmp_path), runtime="torch"))
    texts = [text for text, _ in CLEAR_ENGLISH + CLEAR_SPANISH]
    int8_layers = sentiment_model.encoder.encode(texts)[:, -1]  # type: ignore[attr-defined]
    torch_layers = torch_model.encoder.encode(texts)[:, -1]  # type: ignore[attr-defined]
    cosine = (int8_layers * torch_layers).sum(1) / (
        np.linalg.norm(int8_layers, axis=1) * np.linalg.norm(torch_layers, axis=1)
    )
    assert cosine.min() > 0.97, cosine.round(3)
    assert [a.sentiment for a in sentiment_model.predict(texts)] == [
        a.sentiment for a in torch_model.predict(texts)
    ]


# ---------------------------------------------------------------------------------------------------------
# Hub models through transformers: a tiny random BERT saved in tmp_path, one per label scheme.
# ---------------------------------------------------------------------------------------------------------

GOEMOTIONS_28 = [
    *("admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion", "curiosity"),
    *("desire", "disappointment", "disapproval", "disgust", "embarrassment", "excitement", "fear"),
    *("gratitude", "grief", "joy", "love", "nervousness", "optimism", "pride", "realization", "relief"),
    *("remorse", "sadness", "surprise", "neutral"),
]
PLUTCHIK_8 = ["anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust"]


def _tiny_bert(directory: Path, labels: list[str], *, multi_label: bool = False) -> Path:
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    directory.mkdir(parents=True)
    words = ["the", "a", "was", "late", "great", "good", "bad", "box", "arrived", "todo", "bien", "mal"]
    (directory / "vocab.txt").write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n"
    )
    BertTokenizerFast(vocab_file=str(directory / "vocab.txt")).save_pretrained(directory)
    config = BertConfig(
        vocab_size=5 + len(words),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        problem_type="multi_label_classification" if multi_label else "single_label_classification",
    )
    BertForSequenceClassification(config).save_pretrained(directory)
    return directory


def _raw_probabilities(directory: Path, text: str, *, multi_label: bool = False) -> list[float]:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForSequenceClassification.from_pretrained(directory).eval()
    with torch.no_grad():
        logits = model(**tokenizer([text], return_tensors="pt")).logits[0]
    probs = torch.sigmoid(logits) if multi_label else torch.softmax(logits, dim=-1)
    return [float(p) for p in probs]


async def test_hub_models_with_star_and_goemotions_labels(tmp_path: Path) -> None:
    stars = _tiny_bert(tmp_path / "stars", ["1 star", "2 stars", "3 stars", "4 stars", "5 stars"])
    goemotions = _tiny_bert(tmp_path / "goemotions", GOEMOTIONS_28, multi_label=True)
    settings = ClassifierSettings(
        backend="transformers", sentiment_model=str(stars), emotion_model=str(goemotions)
    )
    classifier = await open_classifier(settings)
    try:
        (analysis,) = await classifier.analyse(["the box arrived late"])
    finally:
        await classifier.aclose()
    star_p = _raw_probabilities(stars, "the box arrived late")
    total = sum(star_p)
    assert analysis.sentiment_scores["negative"] == pytest.approx((star_p[0] + star_p[1]) / total, abs=1e-5)
    assert analysis.sentiment_scores["neutral"] == pytest.approx(star_p[2] / total, abs=1e-5)
    emotion_p = dict(
        zip(
            GOEMOTIONS_28,
            _raw_probabilities(goemotions, "the box arrived late", multi_label=True),
            strict=True,
        )
    )
    joy = sum(emotion_p[name] for name in ("joy", "gratitude", "love", "admiration", "optimism"))
    assert analysis.emotion_scores["joy"] > joy / sum(emotion_p.values())  # twelve fine labels fold into joy
    assert sum(analysis.emotion_scores.values()) == pytest.approx(1.0)
    assert analysis.model_id == f"{stars}+{goemotions}"


def test_hub_models_with_indexed_and_plutchik_labels(tmp_path: Path) -> None:
    indexed = _tiny_bert(tmp_path / "indexed", ["LABEL_0", "LABEL_1", "LABEL_2"])
    plutchik = _tiny_bert(tmp_path / "plutchik", PLUTCHIK_8)
    model = load_model(
        ClassifierSettings(backend="transformers", sentiment_model=str(indexed), emotion_model=str(plutchik))
    )
    (analysis,) = model.predict(["todo bien"], ["es"])
    raw = _raw_probabilities(indexed, "todo bien")
    assert [analysis.sentiment_scores[label] for label in SENTIMENTS] == pytest.approx(raw, abs=1e-5)
    plutchik_p = dict(zip(PLUTCHIK_8, _raw_probabilities(plutchik, "todo bien"), strict=True))
    assert analysis.emotion_scores["joy"] == pytest.approx(plutchik_p["joy"] + plutchik_p["trust"], abs=1e-5)
    assert analysis.emotion_scores["neutral"] == pytest.approx(plutchik_p["anticipation"], abs=1e-5)


def test_hub_sentiment_alone_takes_emotion_from_the_default(tmp_path: Path, sentiment_model: Any) -> None:
    indexed = _tiny_bert(tmp_path / "indexed", ["LABEL_0", "LABEL_1", "LABEL_2"])
    model = load_model(ClassifierSettings(backend="transformers", sentiment_model=str(indexed)))
    (analysis,) = model.predict(["Disgusting, there was hair in my soup."], ["en"])
    assert analysis.emotion == "disgust"
    assert analysis.model_id == f"{indexed}+momento-e5-heads"


def test_label_maps_fold_foreign_label_sets() -> None:
    assert sentiment_label_map({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}) == {
        "LABEL_0": "negative",
        "LABEL_1": "neutral",
        "LABEL_2": "positive",
    }
    assert sentiment_label_map({0: "NEG", 1: "NEU", 2: "POS"})["NEU"] == "neutral"
    assert sentiment_label_map({i: f"{i + 1} stars" for i in range(5)})["4 stars"] == "positive"
    goemotions = emotion_label_map(dict(enumerate(GOEMOTIONS_28)))
    assert goemotions["gratitude"] == "joy" and goemotions["nervousness"] == "fear"
    assert goemotions["disappointment"] == "sadness" and goemotions["annoyance"] == "anger"
    plutchik = emotion_label_map(dict(enumerate(PLUTCHIK_8)))
    assert plutchik["trust"] == "joy" and plutchik["anticipation"] == "neutral"
    assert emotion_label_map({0: "others", 1: "happiness"}) == {"others": "neutral", "happiness": "joy"}
    folded = fold_scores(
        {"1 star": 0.5, "5 stars": 0.5}, {"1 star": "negative", "5 stars": "positive"}, SENTIMENTS
    )
    assert folded == {"negative": 0.5, "neutral": 0.0, "positive": 0.5}


def test_encoder_falls_back_to_torch_when_onnx_cannot_be_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentiment.encoder import Encoder

    def refuse(self: Encoder, target: Path) -> None:
        raise OSError("read-only cache directory")

    monkeypatch.setattr(Encoder, "_build_onnx", refuse)
    settings = ClassifierSettings(cache_dir=str(tmp_path / "cache"), runtime="auto")
    model = load_model(settings)
    assert model.encoder.runtime == "torch"  # type: ignore[attr-defined]
    (analysis,) = model.predict(["Terrible service, the order never arrived."], ["en"])
    assert analysis.sentiment == "negative"
    assert not list((tmp_path / "cache").glob("*.onnx"))


class _Stuck:
    """A model call that does not return until told to, like one stuck on a starved CPU."""

    model_id = "stuck"
    model_version = "1"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()

    def predict(self, texts: Sequence[str], languages: Sequence[str | None]) -> list[Analysis]:
        self.entered.set()
        self.release.wait(10)
        raise RuntimeError("released")


async def test_closing_mid_batch_answers_the_callers_waiting_on_it() -> None:
    stuck = _Stuck()
    classifier = BatchingClassifier(stuck, batch_size=8, max_wait_ms=0)
    waiting = asyncio.ensure_future(classifier.analyse(["the courier was late"]))
    await asyncio.to_thread(stuck.entered.wait, 5)
    closing = asyncio.ensure_future(classifier.aclose())
    with pytest.raises(ClassificationError):
        await asyncio.wait_for(waiting, 5)
    stuck.release.set()
    await asyncio.wait_for(closing, 5)

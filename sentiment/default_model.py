"""The offline default: multilingual-e5-small (int8 ONNX or torch, LoRA-adapted) reads answers as written.

Spanish is read as Spanish: the encoder's XLM-R vocabulary holds Spanish words and emoji, so no gloss or
morphology stands between the customer's words and the model (the word-by-word English rendering that came
before misread polysemous words, clitics and negation).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sentiment.adapter import DEFAULT_ADAPTER_PATH, Adapter, adapter_at
from sentiment.analysis import Analysis
from sentiment.encoder import Encoder, FloatArray
from sentiment.heads import DEFAULT_HEADS_PATH, Heads, build_features
from sentiment.labels import EMOTIONS, SENTIMENTS
from sentiment.language import resolve_languages
from sentiment.settings import ClassifierSettings
from sentiment.vectors import sentence_vectors

MODEL_ID = "momento-e5-heads"


class DefaultModel:
    """Synchronous batch model; call it from one thread at a time."""

    model_id = MODEL_ID

    def __init__(self, encoder: Encoder, heads: Heads, batch_size: int = 32) -> None:
        self.encoder = encoder
        self.heads = heads
        self.batch_size = batch_size
        self.model_version = model_version(encoder.fingerprint, heads.version)

    @classmethod
    def load(cls, settings: ClassifierSettings) -> DefaultModel:
        heads = Heads.load(Path(settings.heads_path) if settings.heads_path else DEFAULT_HEADS_PATH)
        adapter = configured_adapter(settings)
        if heads.adapter != (adapter.digest if adapter else ""):
            raise ValueError(
                "sentiment.heads_path and sentiment.adapter_path do not belong together: the heads were "
                f"trained on adapter {heads.adapter or 'none'!r}, the encoder has "
                f"{adapter.digest if adapter else 'none'!r}; retrain the heads with python -m sentiment.train"
            )
        encoder = Encoder(
            Path(settings.encoder_path) if settings.encoder_path else None,
            runtime=settings.runtime,
            cache_dir=Path(settings.cache_dir).expanduser(),
            max_tokens=settings.max_tokens,
            threads=settings.threads,
            adapter=adapter,
            source_file=Path(settings.encoder_file).expanduser() if settings.encoder_file else None,
        )
        return cls(encoder, heads, settings.batch_size)

    def probabilities(
        self, texts: Sequence[str], languages: Sequence[str | None] | None = None
    ) -> tuple[FloatArray, FloatArray]:
        sentiment, emotion, _ = self.read(texts, languages)
        return sentiment, emotion

    def read(
        self, texts: Sequence[str], languages: Sequence[str | None] | None = None
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Sentiment and emotion probabilities plus the sentence vectors, from one encoder pass."""
        resolved = resolve_languages(texts, languages)
        layers = self.encoder.encode(list(texts), self.batch_size)
        features = build_features(layers, self.heads.layer_ids)
        # Row by row: a matrix product over many rows may round differently from the same row alone, and a
        # reading must not depend on its batch-mates even in the last digit.
        rows = [self.heads.predict(features[i : i + 1], [resolved[i]]) for i in range(len(features))]
        if not rows:
            sentiment, emotion = self.heads.predict(features, resolved)
        else:
            sentiment = np.concatenate([s for s, _ in rows])
            emotion = np.concatenate([e for _, e in rows])
        return sentiment, emotion, sentence_vectors(layers)

    def predict(self, texts: Sequence[str], languages: Sequence[str | None] | None = None) -> list[Analysis]:
        results: list[Analysis | None] = [None] * len(texts)
        todo = [i for i, text in enumerate(texts) if text.strip()]
        for i, text in enumerate(texts):
            if not text.strip():
                results[i] = blank_analysis(self.model_id, self.model_version)
        if todo:
            langs = [languages[i] if languages is not None and i < len(languages) else None for i in todo]
            sentiment, emotion, vectors = self.read([texts[i] for i in todo], langs)
            for row, i in enumerate(todo):
                results[i] = make_analysis(
                    sentiment[row], emotion[row], self.model_id, self.model_version, vectors[row]
                )
        return [result for result in results if result is not None]


def configured_adapter(settings: ClassifierSettings) -> Adapter | None:
    """The adapter to merge: an explicit path, "none", or the shipped one with the shipped encoder."""
    if settings.adapter_path:
        return adapter_at(settings.adapter_path)
    if settings.encoder_path or not DEFAULT_ADAPTER_PATH.exists():
        return None
    return Adapter.load(DEFAULT_ADAPTER_PATH)


def model_version(encoder_fingerprint: str, heads_version: str) -> str:
    """Everything that changes a reading: the encoder fingerprint covers the converted weights (digest of the
    packed file and kept vocabulary), the adapter and the export; the heads digest covers the task layers."""
    return f"{encoder_fingerprint[:8]}-{heads_version[:8]}"


def make_analysis(
    sentiment: FloatArray,
    emotion: FloatArray,
    model_id: str,
    model_version: str,
    vector: FloatArray | None = None,
) -> Analysis:
    sentiment_scores = {label: float(p) for label, p in zip(SENTIMENTS, sentiment, strict=True)}
    emotion_scores = {label: float(p) for label, p in zip(EMOTIONS, emotion, strict=True)}
    return Analysis(
        sentiment=SENTIMENTS[int(np.argmax(sentiment))],
        sentiment_scores=sentiment_scores,
        emotion=EMOTIONS[int(np.argmax(emotion))],
        emotion_scores=emotion_scores,
        model_id=model_id,
        model_version=model_version,
        vector=vector,
    )


def blank_analysis(model_id: str, model_version: str) -> Analysis:
    """An empty answer says nothing: neutral on both tasks, without asking the model."""
    return Analysis(
        sentiment="neutral",
        sentiment_scores={label: float(label == "neutral") for label in SENTIMENTS},
        emotion="neutral",
        emotion_scores={label: float(label == "neutral") for label in EMOTIONS},
        model_id=model_id,
        model_version=model_version,
    )

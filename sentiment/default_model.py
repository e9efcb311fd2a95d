"""The offline default: MiniLM (ONNX int8 or torch) reads every answer and its English gloss; heads decide."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sentiment.analysis import Analysis
from sentiment.encoder import FloatArray, MiniLMEncoder
from sentiment.heads import DEFAULT_HEADS_PATH, Heads, build_features
from sentiment.labels import EMOTIONS, SENTIMENTS
from sentiment.language import gloss, resolve_languages
from sentiment.settings import ClassifierSettings

MODEL_ID = "momento-minilm-heads"


class DefaultModel:
    """Synchronous batch model; call it from one thread at a time."""

    model_id = MODEL_ID

    def __init__(self, encoder: MiniLMEncoder, heads: Heads, batch_size: int = 32) -> None:
        self.encoder = encoder
        self.heads = heads
        self.batch_size = batch_size
        self.model_version = heads.version

    @classmethod
    def load(cls, settings: ClassifierSettings) -> DefaultModel:
        encoder = MiniLMEncoder(
            Path(settings.encoder_path) if settings.encoder_path else None,
            runtime=settings.runtime,
            cache_dir=Path(settings.cache_dir).expanduser(),
            max_tokens=settings.max_tokens,
            threads=settings.threads,
        )
        heads = Heads.load(Path(settings.heads_path) if settings.heads_path else DEFAULT_HEADS_PATH)
        return cls(encoder, heads, settings.batch_size)

    def probabilities(
        self, texts: Sequence[str], languages: Sequence[str | None] | None = None
    ) -> tuple[FloatArray, FloatArray]:
        resolved = resolve_languages(texts, languages)
        layers, gloss_layers = encode_with_gloss(self.encoder, texts, resolved, self.batch_size)
        features = build_features(layers, gloss_layers, resolved, self.heads.layer_ids)
        return self.heads.predict(features, resolved)

    def predict(self, texts: Sequence[str], languages: Sequence[str | None] | None = None) -> list[Analysis]:
        results: list[Analysis | None] = [None] * len(texts)
        todo = [i for i, text in enumerate(texts) if text.strip()]
        for i, text in enumerate(texts):
            if not text.strip():
                results[i] = blank_analysis(self.model_id, self.model_version)
        if todo:
            langs = [languages[i] if languages is not None and i < len(languages) else None for i in todo]
            sentiment, emotion = self.probabilities([texts[i] for i in todo], langs)
            for row, i in enumerate(todo):
                results[i] = make_analysis(sentiment[row], emotion[row], self.model_id, self.model_version)
        return [result for result in results if result is not None]


def encode_with_gloss(
    encoder: MiniLMEncoder, texts: Sequence[str], languages: list[str], batch_size: int
) -> tuple[FloatArray, FloatArray]:
    """Encoder layers of each text and of its gloss (the gloss is encoded for Spanish only)."""
    layers = encoder.encode(list(texts), batch_size)
    gloss_layers = layers.copy()
    spanish = [i for i, language in enumerate(languages) if language == "es"]
    if spanish:
        gloss_layers[spanish] = encoder.encode([gloss(texts[i]) for i in spanish], batch_size)
    return layers, gloss_layers


def make_analysis(sentiment: FloatArray, emotion: FloatArray, model_id: str, model_version: str) -> Analysis:
    sentiment_scores = {label: float(p) for label, p in zip(SENTIMENTS, sentiment, strict=True)}
    emotion_scores = {label: float(p) for label, p in zip(EMOTIONS, emotion, strict=True)}
    return Analysis(
        sentiment=SENTIMENTS[int(np.argmax(sentiment))],
        sentiment_scores=sentiment_scores,
        emotion=EMOTIONS[int(np.argmax(emotion))],
        emotion_scores=emotion_scores,
        model_id=model_id,
        model_version=model_version,
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

"""Sentiment and emotion of customer answers: one async interface over the offline default or hub models.

classifier = await open_classifier(settings.sentiment)
analyses = await classifier.analyse(["todo bien", "late again"], ["es", "en"])
"""

from __future__ import annotations

import os

# "No data leaves the server": ONNX Runtime sends telemetry to Microsoft unless this is set before its first
# import (disable_telemetry_events() after the import does not stop it). Every onnxruntime import is below.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import asyncio
from concurrent.futures import ThreadPoolExecutor

from sentiment.analysis import Analysis, ClassificationError, Classifier, SyncModel
from sentiment.labels import EMOTIONS, SENTIMENTS
from sentiment.runtime import BatchingClassifier
from sentiment.settings import ClassifierSettings

__all__ = [
    "EMOTIONS",
    "SENTIMENTS",
    "Analysis",
    "BatchingClassifier",
    "ClassificationError",
    "Classifier",
    "ClassifierSettings",
    "SyncModel",
    "load_model",
    "open_classifier",
]


def load_model(settings: ClassifierSettings) -> SyncModel:
    """The configured model, loaded synchronously (CLI, training, evaluation)."""
    from sentiment.default_model import DefaultModel

    if settings.backend == "default" or not (settings.sentiment_model or settings.emotion_model):
        return DefaultModel.load(settings)
    from sentiment.hub import HubModel, HubTask

    def task(name: str | None, kind: str) -> HubTask | None:
        return HubTask(name, kind, settings.max_tokens, settings.batch_size) if name else None

    sentiment = task(settings.sentiment_model, "sentiment")
    emotion = task(settings.emotion_model, "emotion")
    fallback = DefaultModel.load(settings) if sentiment is None or emotion is None else None
    return HubModel(sentiment, emotion, fallback)


async def open_classifier(settings: ClassifierSettings) -> Classifier:
    """Load the model once in the classifier's own thread, then serve batched, non-blocking analyses."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="momento-classifier")
    try:
        model = await asyncio.get_running_loop().run_in_executor(executor, load_model, settings)
    except BaseException:
        executor.shutdown(wait=False)
        raise
    return BatchingClassifier(
        model, batch_size=settings.batch_size, max_wait_ms=settings.max_wait_ms, executor=executor
    )

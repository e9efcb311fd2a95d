"""Any Hugging Face text-classification model (hub id or local directory), folded into our label sets.

Sentiment and emotion are configured separately; a task left unconfigured is answered by the offline default.
With HF_HUB_OFFLINE=1 only local directories and already-cached hub models load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sentiment.analysis import Analysis, SyncModel
from sentiment.labels import EMOTIONS, SENTIMENTS, emotion_label_map, fold_scores, sentiment_label_map


class HubTask:
    """One text-classification model and the map from its labels to ours."""

    def __init__(self, name: str, task: str, max_tokens: int = 256, batch_size: int = 32) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.name = name
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(name)
        self.model = AutoModelForSequenceClassification.from_pretrained(name)
        self.model.eval()
        config = self.model.config
        self.labels = [config.id2label[i] for i in sorted(config.id2label)]
        id2label = dict(enumerate(self.labels))
        self.mapping = sentiment_label_map(id2label) if task == "sentiment" else emotion_label_map(id2label)
        self.targets = SENTIMENTS if task == "sentiment" else EMOTIONS
        self.multi_label = config.problem_type == "multi_label_classification"
        self.version = _version(name, config)

    def scores(self, texts: Sequence[str]) -> list[dict[str, float]]:
        import torch

        folded: list[dict[str, float]] = []
        for start in range(0, len(texts), self.batch_size):
            chunk = [text or " " for text in texts[start : start + self.batch_size]]
            batch = self.tokenizer(
                chunk, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt"
            )
            with torch.inference_mode():
                logits = self.model(**batch).logits
            probs = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=-1)
            for row in probs.numpy():
                raw = {label: float(p) for label, p in zip(self.labels, row, strict=True)}
                folded.append(fold_scores(raw, self.mapping, self.targets))
        return folded


def _version(name: str, config: Any) -> str:
    commit = getattr(config, "_commit_hash", None)
    if commit:
        return str(commit)[:12]
    digest = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True, default=str).encode())
    path = Path(name)
    for weights in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")) if path.is_dir() else []:
        stat = weights.stat()
        digest.update(f"{weights.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


class HubModel:
    """Sentiment and emotion from hub models; a task without one is answered by the offline default."""

    def __init__(
        self, sentiment: HubTask | None, emotion: HubTask | None, fallback: SyncModel | None
    ) -> None:
        if (sentiment is None or emotion is None) and fallback is None:
            raise ValueError("a task without a hub model needs the offline default as fallback")
        self.sentiment = sentiment
        self.emotion = emotion
        self.fallback = fallback
        parts = [
            task.name if task else (fallback.model_id if fallback else "") for task in (sentiment, emotion)
        ]
        versions = [
            task.version if task else (fallback.model_version if fallback else "")
            for task in (sentiment, emotion)
        ]
        self.model_id = parts[0] if parts[0] == parts[1] else f"{parts[0]}+{parts[1]}"
        self.model_version = versions[0] if versions[0] == versions[1] else f"{versions[0]}+{versions[1]}"

    def predict(self, texts: Sequence[str], languages: Sequence[str | None] | None = None) -> list[Analysis]:
        base = self.fallback.predict(texts, languages or [None] * len(texts)) if self.fallback else None
        sentiment = self.sentiment.scores(texts) if self.sentiment else None
        emotion = self.emotion.scores(texts) if self.emotion else None
        results = []
        for i in range(len(texts)):
            s_scores = sentiment[i] if sentiment else base[i].sentiment_scores if base else {}
            e_scores = emotion[i] if emotion else base[i].emotion_scores if base else {}
            results.append(
                Analysis(
                    sentiment=SENTIMENTS[int(np.argmax([s_scores[label] for label in SENTIMENTS]))],
                    sentiment_scores=s_scores,
                    emotion=EMOTIONS[int(np.argmax([e_scores[label] for label in EMOTIONS]))],
                    emotion_scores=e_scores,
                    model_id=self.model_id,
                    model_version=self.model_version,
                )
            )
        return results

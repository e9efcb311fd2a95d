"""What a classifier returns, and the interface the bot, the storage jobs, the CLI and the demo rely on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Analysis:
    """How one answer reads: the winning labels, every score, and which weights said so."""

    sentiment: str
    sentiment_scores: dict[str, float]
    emotion: str
    emotion_scores: dict[str, float]
    model_id: str
    model_version: str
    # The pooled sentence vector of the same forward pass (L2-normalised), for themes; None when the model
    # has none (hub pipelines) or the text was blank. Not part of equality: two readings agree on labels.
    vector: npt.NDArray[np.float32] | None = field(default=None, compare=False, repr=False)


class ClassificationError(Exception):
    """The model failed; the caller stores the answer as unanalysed and retries later."""


class Classifier(Protocol):
    """Async, batching classifier: safe to await from any handler without blocking the event loop."""

    model_id: str
    model_version: str

    async def analyse(
        self, texts: Sequence[str], languages: Sequence[str | None] | None = None
    ) -> list[Analysis]: ...

    async def aclose(self) -> None: ...


class SyncModel(Protocol):
    """A loaded model called from one worker thread (or directly by the CLI, training and evaluation)."""

    model_id: str
    model_version: str

    def predict(self, texts: Sequence[str], languages: Sequence[str | None]) -> list[Analysis]: ...

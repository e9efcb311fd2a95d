"""The trained task layers of the offline default: one shared hidden layer, a sentiment and an emotion output.

Stored as a small .npz (kilobytes to a few MB) and run in numpy, so inference needs no torch at all once the
ONNX encoder exists. Features are chosen encoder layers of the answer;
the head file records which layers it was trained on.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
LANGUAGES = ("en", "es", "other")
DEFAULT_HEADS_PATH = Path(__file__).resolve().parent / "weights" / "heads.npz"


def build_features(layers: FloatArray, layer_ids: tuple[int, ...]) -> FloatArray:
    """(batch, features): the chosen encoder layers, each unit-normalised, side by side.

    No language feature: XED-es has no neutral rows, and a language input learned "Spanish is never
    neutral". Per-language calibration lives in the heads' bias offsets instead.
    """
    chosen = layers[:, list(layer_ids), :]
    chosen = chosen / np.maximum(np.linalg.norm(chosen, axis=-1, keepdims=True), 1e-6)
    return np.asarray(chosen.reshape(len(layers), -1), dtype=np.float32)


def _softmax(logits: FloatArray) -> FloatArray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return np.asarray(exp / exp.sum(axis=1, keepdims=True), dtype=np.float32)


@dataclass(frozen=True)
class Heads:
    """An ensemble of small MLPs (same features, different seeds); weights carry a leading member axis."""

    layer_ids: tuple[int, ...]
    mean: FloatArray
    scale: FloatArray
    hidden_w: FloatArray
    hidden_b: FloatArray
    sentiment_w: FloatArray
    sentiment_b: FloatArray
    emotion_w: FloatArray
    emotion_b: FloatArray
    # Per-language additive logit offsets (rows follow LANGUAGES), tuned on dev.
    sentiment_bias: FloatArray
    emotion_bias: FloatArray
    version: str
    # Digest of the encoder adapter the heads were trained on ("" for the plain encoder).
    adapter: str = ""

    def predict(self, features: FloatArray, languages: list[str]) -> tuple[FloatArray, FloatArray]:
        """Sentiment and emotion probabilities for a batch of feature rows."""
        x = (features - self.mean) / self.scale
        rows = np.asarray([LANGUAGES.index(lang if lang in LANGUAGES else "other") for lang in languages])
        sentiment = np.zeros((len(x), self.sentiment_w.shape[-1]), dtype=np.float32)
        emotion = np.zeros((len(x), self.emotion_w.shape[-1]), dtype=np.float32)
        for m in range(self.hidden_w.shape[0]):
            hidden = np.maximum(x @ self.hidden_w[m] + self.hidden_b[m], 0.0)
            sentiment += _softmax(
                hidden @ self.sentiment_w[m] + self.sentiment_b[m] + self.sentiment_bias[rows]
            )
            emotion += _softmax(hidden @ self.emotion_w[m] + self.emotion_b[m] + self.emotion_bias[rows])
        members = self.hidden_w.shape[0]
        return sentiment / members, emotion / members

    @classmethod
    def stack(cls, members: list[Heads]) -> Heads:
        """One ensemble from single-member heads trained on the same features."""

        def joined(name: str) -> FloatArray:
            return np.concatenate([getattr(member, name) for member in members]).astype(np.float32)

        return replace(
            members[0],
            hidden_w=joined("hidden_w"),
            hidden_b=joined("hidden_b"),
            sentiment_w=joined("sentiment_w"),
            sentiment_b=joined("sentiment_b"),
            emotion_w=joined("emotion_w"),
            emotion_b=joined("emotion_b"),
        )

    def save(self, path: Path) -> None:
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            layer_ids=np.asarray(self.layer_ids, dtype=np.int64),
            adapter=np.asarray(self.adapter),
            **{
                name: getattr(self, name).astype(np.float32)
                for name in (
                    "mean", "scale", "hidden_w", "hidden_b", "sentiment_w", "sentiment_b",
                    "emotion_w", "emotion_b", "sentiment_bias", "emotion_bias",
                )
            },
        )  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buffer.getvalue())

    @classmethod
    def load(cls, path: Path) -> Heads:
        raw = path.read_bytes()
        with np.load(io.BytesIO(raw)) as data:
            arrays = {
                name: np.asarray(data[name], dtype=np.float32)
                for name in data.files
                if name not in ("layer_ids", "adapter")
            }
            layer_ids = tuple(int(i) for i in data["layer_ids"])
            adapter = str(data["adapter"]) if "adapter" in data.files else ""
        return cls(
            layer_ids=layer_ids, version=hashlib.sha256(raw).hexdigest()[:12], adapter=adapter, **arrays
        )

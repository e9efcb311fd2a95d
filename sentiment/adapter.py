"""A LoRA adapter for the default encoder: low-rank weight updates, shipped as a small .npz.

Frozen encoder features miss sentiment cues (negation, irony, "not bad at all") that a light fine-tune
picks up; LoRA keeps what we ship to the low-rank deltas (well under a megabyte) instead of a 90 MB copy
of the encoder. At load time the deltas are merged into the linear weights, so inference costs nothing
extra and the merged encoder exports to int8 ONNX like the plain one.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

DEFAULT_ADAPTER_PATH = Path(__file__).resolve().parent / "weights" / "adapter.npz"

# The linear layers of each BERT block that get a low-rank update.
TARGET_SUFFIXES = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Adapter:
    """Per module: down (rank × in) and up (out × rank) matrices; the delta is up @ down * scale."""

    down: dict[str, FloatArray]
    up: dict[str, FloatArray]
    scale: float
    digest: str

    @classmethod
    def load(cls, path: Path) -> Adapter:
        raw = path.read_bytes()
        down: dict[str, FloatArray] = {}
        up: dict[str, FloatArray] = {}
        with np.load(io.BytesIO(raw)) as data:
            scale = float(data["scale"])
            for key in data.files:
                if key.endswith(".down"):
                    down[key[: -len(".down")]] = np.asarray(data[key], dtype=np.float32)
                elif key.endswith(".up"):
                    up[key[: -len(".up")]] = np.asarray(data[key], dtype=np.float32)
        if set(down) != set(up) or not down:
            raise ValueError(f"{path} is not a LoRA adapter: unmatched or missing matrices")
        return cls(down=down, up=up, scale=scale, digest=hashlib.sha256(raw).hexdigest()[:16])

    def merge_into(self, model: Any) -> None:
        """Add each delta to the matching linear layer of a transformers BertModel, in place."""
        import torch

        modules = dict(model.named_modules())
        missing = [name for name in self.down if name not in modules]
        if missing:
            raise ValueError(f"adapter names layers the encoder lacks: {missing[:3]}")
        with torch.no_grad():
            for name, down in self.down.items():
                weight = modules[name].weight
                delta = torch.from_numpy(self.up[name] @ down) * self.scale
                if tuple(delta.shape) != tuple(weight.shape):
                    raise ValueError(f"adapter shape {tuple(delta.shape)} does not fit {name}")
                weight.add_(delta.to(weight.dtype))


def adapter_at(path: str) -> Adapter | None:
    """The adapter a setting or option names: a file path, or "none" for the plain encoder."""
    return None if path.lower() == "none" else Adapter.load(Path(path))


def save_adapter(path: Path, down: dict[str, FloatArray], up: dict[str, FloatArray], scale: float) -> None:
    """Float16 on disk: the deltas are small corrections and lose nothing measurable at half precision."""
    arrays: dict[str, Any] = {"scale": np.asarray(scale, dtype=np.float32)}
    for name in sorted(down):
        arrays[f"{name}.down"] = down[name].astype(np.float16)
        arrays[f"{name}.up"] = up[name].astype(np.float16)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


class LoraLinear:
    """Factory for a trainable wrapper around a frozen nn.Linear (torch imported lazily)."""

    @staticmethod
    def wrap(linear: Any, rank: int, alpha: float, dropout: float, generator: Any) -> Any:
        import torch

        class _Lora(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.base = linear
                self.base.weight.requires_grad_(False)
                if self.base.bias is not None:
                    self.base.bias.requires_grad_(False)
                self.down = torch.nn.Parameter(
                    torch.randn(rank, linear.in_features, generator=generator) / linear.in_features**0.5
                )
                self.up = torch.nn.Parameter(torch.zeros(linear.out_features, rank))
                self.scale = alpha / rank
                self.dropout = torch.nn.Dropout(dropout)

            def forward(self, x: Any) -> Any:
                return self.base(x) + (self.dropout(x) @ self.down.T @ self.up.T) * self.scale

        return _Lora()


def add_lora(model: Any, rank: int, alpha: float, dropout: float, seed: int) -> dict[str, Any]:
    """Replace every target linear layer of the model with a LoRA wrapper; returns them by name."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    wrapped: dict[str, Any] = {}
    for name, module in list(model.named_modules()):
        if isinstance(module, torch.nn.Linear) and name.endswith(TARGET_SUFFIXES):
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name)
            lora = LoraLinear.wrap(module, rank, alpha, dropout, generator)
            setattr(parent, child, lora)
            wrapped[name] = lora
    return wrapped

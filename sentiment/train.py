"""Train the heads of the offline default: `python -m sentiment.train --data ../shared/datasets`.

Step two of training, after `python -m sentiment.finetune` wrote the encoder's LoRA adapter.

Embeddings come from the same int8 ONNX encoder the runtime uses and are cached under /tmp, so head
experiments cost seconds. Seeds are fixed: the same data and encoder give the committed weights.
"""

from __future__ import annotations

import hashlib
import random
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click
import numpy as np

from sentiment.adapter import DEFAULT_ADAPTER_PATH, adapter_at
from sentiment.datasets import EVALUATION_ONLY, TRAINABLE, Example, load
from sentiment.encoder import Encoder, FloatArray
from sentiment.heads import DEFAULT_HEADS_PATH, LANGUAGES, Heads, build_features
from sentiment.labels import EMOTIONS, SENTIMENTS
from sentiment.metrics import accuracy, macro_f1


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _typo(text: str, rng: random.Random) -> str:
    words = text.split()
    candidates = [i for i, word in enumerate(words) if len(word) > 3 and word.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    word = words[i]
    j = rng.randrange(len(word) - 1)
    words[i] = (
        word[:j] + word[j + 1] + word[j] + word[j + 2 :] if rng.random() < 0.5 else word[:j] + word[j + 1 :]
    )
    return " ".join(words)


def augment(examples: list[Example], copies: int, seed: int) -> list[Example]:
    """Chat-style variants of our CX answers: lower case, no accents, no final punctuation, a typo."""
    rng = random.Random(seed)
    out = list(examples)
    for example in examples:
        for _ in range(copies):
            text = example.text
            if rng.random() < 0.5:
                text = text.lower()
            if rng.random() < 0.5:
                text = _strip_accents(text)
            if rng.random() < 0.4:
                text = text.rstrip(".!")
            if rng.random() < 0.5:
                text = _typo(text, rng)
            if text != example.text:
                out.append(replace(example, text=text))
    return out


def trainable_sources(sources: str) -> list[str]:
    """The comma-separated --sources, refusing any set whose licence allows evaluation only."""
    names = [name for name in sources.split(",") if name]
    if unknown := set(names) - set(TRAINABLE):
        raise click.BadParameter(f"not allowed for training: {sorted(unknown)}", param_hint="--sources")
    return names


def source_weights(defaults: dict[str, float], overrides: str) -> dict[str, float]:
    """The per-source loss weights, with --weights overrides such as "cx_en=5,goemotions=1" applied."""
    weights = dict(defaults)
    for item in filter(None, overrides.split(",")):
        name, _, value = item.partition("=")
        if name not in weights:
            raise click.BadParameter(f"unknown source {name!r}", param_hint="--weights")
        weights[name] = float(value)
    return weights


_Command = TypeVar("_Command", bound=Callable[..., Any])


def source_options(defaults: dict[str, float]) -> Callable[[_Command], _Command]:
    """--sources and --weights, the same for both training steps: the command gets the checked source
    names and each source's loss weight (*defaults*, with --weights applied), and a bad one is refused
    while the arguments are read, before any work."""

    def add(command: _Command) -> _Command:
        command = click.option(
            "--weights",
            "source_weight",
            default="",
            help="Per-source loss weights replacing the defaults, e.g. cx_en=5,goemotions=1.",
            callback=lambda _ctx, _param, value: source_weights(defaults, value),
        )(command)
        return click.option(
            "--sources",
            default=",".join(TRAINABLE),
            show_default=True,
            callback=lambda _ctx, _param, value: trainable_sources(value),
        )(command)

    return add


class EmbeddingCache:
    """Encoder layers of what the heads read, cached under /tmp by content and encoder fingerprint."""

    def __init__(self, encoder: Encoder, cache_dir: Path) -> None:
        self.encoder = encoder
        self.cache_dir = cache_dir
        cache_dir.mkdir(parents=True, exist_ok=True)

    def features(self, examples: list[Example], layer_ids: tuple[int, ...]) -> FloatArray:
        """Features as the runtime builds them (the encoder adds the "query: " prefix)."""
        inputs = [e.text for e in examples]
        key = hashlib.sha256("\x00".join([self.encoder.fingerprint, self.encoder.runtime, *inputs]).encode())
        path = self.cache_dir / f"{key.hexdigest()[:20]}.npz"
        if path.exists():
            with np.load(path) as data:
                layers = data["layers"]
        else:
            # Stored and used as float16 alike, so a run with a cold cache trains on the same numbers.
            layers = self.encoder.encode(inputs, 64).astype(np.float16)
            np.savez(path, layers=layers)
        return build_features(layers.astype(np.float32), layer_ids)


def _targets(examples: list[Example]) -> tuple[np.ndarray, np.ndarray]:
    sentiment = np.asarray([SENTIMENTS.index(e.sentiment) if e.sentiment else -1 for e in examples])
    emotion = np.asarray([EMOTIONS.index(e.emotion) if e.emotion else -1 for e in examples])
    return sentiment, emotion


def fit_heads(
    features: FloatArray,
    examples: list[Example],
    weights: np.ndarray,
    layer_ids: tuple[int, ...],
    *,
    hidden: int,
    epochs: int,
    seed: int,
    dropout: float = 0.2,
) -> Heads:
    import torch

    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-4
    x = torch.from_numpy((features - mean) / scale)
    sentiment_y, emotion_y = (torch.from_numpy(t) for t in _targets(examples))
    w = torch.from_numpy(weights.astype(np.float32))
    emotion_counts = np.bincount(emotion_y.numpy()[emotion_y.numpy() >= 0], minlength=len(EMOTIONS))
    class_weight = torch.from_numpy(
        (emotion_counts.sum() / np.maximum(emotion_counts, 1) / len(EMOTIONS)) ** 0.5
    ).float()
    trunk: Any = torch.nn.Sequential(
        torch.nn.Dropout(dropout), torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU()
    )
    sentiment_out = torch.nn.Linear(hidden, len(SENTIMENTS))
    emotion_out = torch.nn.Linear(hidden, len(EMOTIONS))
    params = [*trunk.parameters(), *sentiment_out.parameters(), *emotion_out.parameters()]
    optimiser = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-2)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        trunk.train()
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(order), 256):
            idx = order[start : start + 256]
            h = torch.nn.functional.dropout(trunk(x[idx]), p=dropout, training=True)
            loss = torch.zeros(())
            for out, y, cw in ((sentiment_out, sentiment_y, None), (emotion_out, emotion_y, class_weight)):
                mask = y[idx] >= 0
                if mask.any():
                    losses = torch.nn.functional.cross_entropy(
                        out(h[mask]), y[idx][mask], weight=cw, reduction="none"
                    )
                    loss = loss + (losses * w[idx][mask]).sum() / w[idx][mask].sum()
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
    linear: Any = trunk[1]
    return Heads(
        layer_ids=layer_ids,
        mean=mean.astype(np.float32),
        scale=scale.astype(np.float32),
        hidden_w=linear.weight.detach().numpy().T[None].copy(),
        hidden_b=linear.bias.detach().numpy()[None].copy(),
        sentiment_w=sentiment_out.weight.detach().numpy().T[None].copy(),
        sentiment_b=sentiment_out.bias.detach().numpy()[None].copy(),
        emotion_w=emotion_out.weight.detach().numpy().T[None].copy(),
        emotion_b=emotion_out.bias.detach().numpy()[None].copy(),
        sentiment_bias=np.zeros((len(LANGUAGES), len(SENTIMENTS)), dtype=np.float32),
        emotion_bias=np.zeros((len(LANGUAGES), len(EMOTIONS)), dtype=np.float32),
        version="",
    )


def score(heads: Heads, features: FloatArray, examples: list[Example]) -> dict[str, float]:
    """Macro-F1 of each task the examples are labelled for."""
    sentiment, emotion = heads.predict(features, [e.language for e in examples])
    result = {}
    for task, probs, labels in (("sentiment", sentiment, SENTIMENTS), ("emotion", emotion, EMOTIONS)):
        rows = [i for i, e in enumerate(examples) if getattr(e, task)]
        if rows:
            gold = [str(getattr(examples[i], task)) for i in rows]
            predicted = [labels[int(np.argmax(probs[i]))] for i in rows]
            result[task] = macro_f1(gold, predicted)
            result[task + "_acc"] = accuracy(gold, predicted)
    return result


# How much each source counts in the loss, relative to its size: our CX answers matter most.
# Chosen on dev among CX weights 5, 10 and 20 with the adapter in place (docs/model-card.md).
SOURCE_WEIGHT = {"cx_en": 10.0, "cx_es": 10.0, "goemotions": 1.0, "uci": 2.0, "xed_es": 0.6}


@click.command()
@click.option(
    "--data", "data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_HEADS_PATH)
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(tempfile.gettempdir()) / "momento-emb",
)
@click.option(
    "--encoder-cache", type=click.Path(file_okay=False, path_type=Path), default=Path("~/.cache/momento")
)
@click.option("--layers", default="8,12", help="Encoder layers (0-12) whose mean vectors feed the heads.")
@click.option("--hidden", default=256, show_default=True)
@click.option("--epochs", default=4, show_default=True)
@click.option("--copies", default=2, show_default=True, help="Augmented variants per CX answer.")
@click.option("--seed", default=13, show_default=True)
@click.option("--members", default=5, show_default=True, help="Ensemble size (seeds seed, seed+1, ...).")
@source_options(SOURCE_WEIGHT)
@click.option(
    "--adapter",
    "adapter_path",
    default=str(DEFAULT_ADAPTER_PATH),
    show_default=True,
    help='LoRA adapter of the encoder (from python -m sentiment.finetune), or "none".',
)
def main(
    data_dir: Path,
    out: Path,
    cache_dir: Path,
    encoder_cache: Path,
    layers: str,
    hidden: int,
    epochs: int,
    copies: int,
    seed: int,
    members: int,
    sources: list[str],
    source_weight: dict[str, float],
    adapter_path: str,
) -> None:
    """Train sentiment and emotion heads on the train splits, report dev, write the weights."""
    layer_ids = tuple(int(i) for i in layers.split(","))
    adapter = adapter_at(adapter_path)
    encoder = Encoder(runtime="onnx", cache_dir=encoder_cache.expanduser(), adapter=adapter)
    cache = EmbeddingCache(encoder, cache_dir)
    train: list[Example] = []
    weights: list[float] = []
    for name in sources:
        examples = load(name, data_dir, "train")
        if name.startswith("cx_"):
            examples = augment(examples, copies, seed)
        if name == "xed_es":
            # Its sentiment would only restate the projected emotion and has no neutral rows: emotion only.
            examples = [replace(e, sentiment=None) for e in examples]
        train.extend(examples)
        weights.extend([source_weight[name]] * len(examples))
        click.echo(f"train {name}: {len(examples)} examples")
    features = cache.features(train, layer_ids)
    heads = Heads.stack(
        [
            fit_heads(
                features, train, np.asarray(weights), layer_ids, hidden=hidden, epochs=epochs, seed=seed + i
            )
            for i in range(members)
        ]
    )
    replace(heads, adapter=adapter.digest if adapter else "").save(out)
    heads = Heads.load(out)
    click.echo(f"wrote {out} ({out.stat().st_size // 1024} KiB, version {heads.version})")
    for name in [*sources, *EVALUATION_ONLY]:
        dev = load(name, data_dir, "dev")
        if dev:
            result = score(heads, cache.features(dev, layer_ids), dev)
            click.echo(f"dev {name:12s} " + "  ".join(f"{k} {v:.3f}" for k, v in result.items()))


if __name__ == "__main__":
    main()

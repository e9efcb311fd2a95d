"""Fine-tune a LoRA adapter on the e5 encoder: `python -m sentiment.finetune --data ../shared/datasets`.

Step one of training the offline default (step two, `python -m sentiment.train`, fits the heads on the
adapted int8 encoder). The encoder learns sentiment and emotion on the trainable sets through temporary
linear heads; only the adapter is kept. Seeds are fixed and torch runs deterministically on the CPU.
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import numpy as np

from sentiment.adapter import DEFAULT_ADAPTER_PATH, add_lora, save_adapter
from sentiment.datasets import EVALUATION_ONLY, Example, load
from sentiment.e5 import with_prefix
from sentiment.encoder import default_encoder_path
from sentiment.labels import EMOTIONS, SENTIMENTS
from sentiment.metrics import macro_f1
from sentiment.train import augment, source_options

# Relative weight of each source per example: our CX answers matter most, GoEmotions is the bulk.
SOURCE_WEIGHT = {"cx_en": 4.0, "cx_es": 4.0, "goemotions": 1.0, "uci": 1.0, "xed_es": 0.5}


def _training_set(
    data_dir: Path, names: list[str], goemotions_limit: int, seed: int, xed_sentiment: bool
) -> list[Example]:
    rng = random.Random(seed)
    train: list[Example] = []
    for name in names:
        examples = load(name, data_dir, "train")
        if name == "goemotions" and 0 < goemotions_limit < len(examples):
            examples = rng.sample(examples, goemotions_limit)
        if name.startswith("cx_"):
            examples = augment(examples, 2, seed)
        if name == "xed_es" and not xed_sentiment:
            examples = [replace(e, sentiment=None) for e in examples]
        train.extend(examples)
        click.echo(f"train {name}: {len(examples)} examples")
    return train


def _pool(hidden: Any, mask: Any) -> Any:
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)


class _Tuner:
    """Encoder with LoRA plus temporary sentiment and emotion heads over the mean of the last layer."""

    def __init__(self, rank: int, alpha: float, seed: int, max_tokens: int) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        torch.manual_seed(seed)
        path = str(default_encoder_path())
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path)
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        self.lora = add_lora(self.model, rank, alpha, dropout=0.1, seed=seed)
        click.echo(f"LoRA on {len(self.lora)} linear layers")
        dim = self.model.config.hidden_size
        self.sentiment = torch.nn.Linear(dim, len(SENTIMENTS))
        self.emotion = torch.nn.Linear(dim, len(EMOTIONS))
        self.max_tokens = max_tokens

    def parameters(self) -> tuple[list[Any], list[Any]]:
        lora = [p for module in self.lora.values() for p in (module.down, module.up)]
        heads = [*self.sentiment.parameters(), *self.emotion.parameters()]
        return lora, heads

    def forward(self, texts: list[str]) -> tuple[Any, Any]:
        batch = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt"
        )
        out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        pooled = _pool(out.last_hidden_state, batch["attention_mask"])
        return self.sentiment(pooled), self.emotion(pooled)

    def train_mode(self, on: bool) -> None:
        self.model.train(on)

    def adapter(self) -> tuple[dict[str, Any], dict[str, Any], float]:
        down = {name: m.down.detach().numpy().copy() for name, m in self.lora.items()}
        up = {name: m.up.detach().numpy().copy() for name, m in self.lora.items()}
        scale = next(iter(self.lora.values())).scale
        return down, up, float(scale)


def _batches(examples: list[Example], size: int, rng: random.Random) -> list[list[Example]]:
    """Shuffled, then length-sorted within windows of 50 batches: less padding, still random."""
    order = list(examples)
    rng.shuffle(order)
    window = size * 50
    batches: list[list[Example]] = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda e: len(e.text))
        batches.extend(chunk[i : i + size] for i in range(0, len(chunk), size))
    rng.shuffle(batches)
    return batches


def _evaluate(tuner: _Tuner, data_dir: Path, names: list[str], limit: int) -> dict[str, float]:
    import torch

    tuner.train_mode(False)
    scores: dict[str, float] = {}
    with torch.inference_mode():
        for name in names:
            dev = load(name, data_dir, "dev")[:limit]
            if not dev:
                continue
            inputs = with_prefix(e.text for e in dev)
            sentiment_p, emotion_p = [], []
            for start in range(0, len(inputs), 64):
                s, e = tuner.forward(inputs[start : start + 64])
                sentiment_p.append(s.argmax(-1).numpy())
                emotion_p.append(e.argmax(-1).numpy())
            s_pred, e_pred = np.concatenate(sentiment_p), np.concatenate(emotion_p)
            for task, pred, labels in (("sentiment", s_pred, SENTIMENTS), ("emotion", e_pred, EMOTIONS)):
                rows = [i for i, e in enumerate(dev) if getattr(e, task)]
                if rows:
                    gold = [str(getattr(dev[i], task)) for i in rows]
                    scores[f"{name}/{task}"] = macro_f1(gold, [labels[int(pred[i])] for i in rows])
    tuner.train_mode(True)
    return scores


@click.command()
@click.option(
    "--data", "data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_ADAPTER_PATH)
@click.option("--rank", default=8, show_default=True)
@click.option("--alpha", default=16.0, show_default=True)
@click.option("--epochs", default=1, show_default=True)
@click.option("--batch-size", default=32, show_default=True)
@click.option("--lr", default=1e-3, show_default=True)
@click.option("--max-tokens", default=64, show_default=True)
@click.option(
    "--goemotions-limit",
    default=8000,
    show_default=True,
    help="Sample this many GoEmotions rows (0: all; all of them drowned the CX and tweet signal on dev).",
)
@click.option("--seed", default=13, show_default=True)
@click.option("--threads", default=2, show_default=True)
@source_options(SOURCE_WEIGHT)
@click.option(
    "--xed-sentiment/--no-xed-sentiment",
    default=False,
    show_default=True,
    help="Also learn XED-es polarity (from its emotions; it has no neutral rows).",
)
@click.option("--eval-limit", default=1000, show_default=True, help="Dev rows per set for progress reports.")
def main(
    data_dir: Path,
    out: Path,
    rank: int,
    alpha: float,
    epochs: int,
    batch_size: int,
    lr: float,
    max_tokens: int,
    goemotions_limit: int,
    seed: int,
    threads: int,
    sources: list[str],
    source_weight: dict[str, float],
    xed_sentiment: bool,
    eval_limit: int,
) -> None:
    """Train the LoRA adapter on the train splits and write it; dev scores come from temporary heads."""
    import torch

    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    rng = random.Random(seed)
    train = _training_set(data_dir, sources, goemotions_limit, seed, xed_sentiment)
    tuner = _Tuner(rank, alpha, seed, max_tokens)
    lora_params, head_params = tuner.parameters()
    optimiser = torch.optim.AdamW(
        [{"params": lora_params, "lr": lr}, {"params": head_params, "lr": lr * 2}], weight_decay=1e-2
    )
    emotion_counts = np.bincount(
        [EMOTIONS.index(e.emotion) for e in train if e.emotion], minlength=len(EMOTIONS)
    )
    emotion_weight = torch.from_numpy(
        (emotion_counts.sum() / np.maximum(emotion_counts, 1) / len(EMOTIONS)) ** 0.5
    ).float()
    plan = [_batches(train, batch_size, rng) for _ in range(epochs)]
    total = sum(len(p) for p in plan)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=[lr, lr * 2], total_steps=total, pct_start=0.1, anneal_strategy="linear"
    )
    tuner.train_mode(True)
    step, started = 0, time.monotonic()
    for epoch, batches in enumerate(plan):
        for batch in batches:
            inputs = with_prefix(e.text for e in batch)
            s_logits, e_logits = tuner.forward(inputs)
            weight = torch.tensor([source_weight[e.source] for e in batch])
            loss = torch.zeros(())
            for logits, labels, cw, task in (
                (s_logits, SENTIMENTS, None, "sentiment"),
                (e_logits, EMOTIONS, emotion_weight, "emotion"),
            ):
                rows = [i for i, e in enumerate(batch) if getattr(e, task)]
                if rows:
                    gold = torch.tensor([labels.index(str(getattr(batch[i], task))) for i in rows])
                    losses = torch.nn.functional.cross_entropy(
                        logits[rows], gold, weight=cw, reduction="none"
                    )
                    loss = loss + (losses * weight[rows]).sum() / weight[rows].sum()
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            scheduler.step()
            step += 1
            if step % 100 == 0:
                rate = step * batch_size / (time.monotonic() - started)
                click.echo(f"step {step}/{total} loss {loss.item():.3f} ({rate:.0f} examples/s)")
        scores = _evaluate(tuner, data_dir, [*sources, *EVALUATION_ONLY], eval_limit)
        click.echo(f"epoch {epoch + 1}: " + "  ".join(f"{k} {v:.3f}" for k, v in scores.items()))
    down, up, scale = tuner.adapter()
    save_adapter(out, down, up, scale)
    click.echo(f"wrote {out} ({out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()

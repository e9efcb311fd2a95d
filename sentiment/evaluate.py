"""Accuracy and macro-F1 per data set, task and language for the configured backend.

    python -m sentiment.evaluate --data ../shared/datasets [--split test] [--config config.toml]

Our CX sets have a small test split written blind (after training, before any score was seen), kept apart
from the larger held-back CX test set that lives elsewhere.
UCI has no neutral class, so its sentiment is read as negative vs positive.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import click

from sentiment import load_model
from sentiment.analysis import SyncModel
from sentiment.datasets import READERS, Example, load
from sentiment.metrics import accuracy, macro_f1
from sentiment.settings import ClassifierSettings, load_classifier_settings

BATCH = 256


def _predict(model: SyncModel, examples: list[Example]) -> list[tuple[str, str, dict[str, float]]]:
    results = []
    for start in range(0, len(examples), BATCH):
        chunk = examples[start : start + BATCH]
        for analysis in model.predict([e.text for e in chunk], [e.language for e in chunk]):
            results.append((analysis.sentiment, analysis.emotion, analysis.sentiment_scores))
    return results


def evaluate_set(model: SyncModel, examples: list[Example]) -> list[tuple[str, int, float, float]]:
    """(task, n, accuracy, macro-F1) for each task the set is labelled for."""
    predictions = _predict(model, examples)
    rows = []
    sentiment = [(e.sentiment, p) for e, p in zip(examples, predictions, strict=True) if e.sentiment]
    if sentiment:
        gold = [str(g) for g, _ in sentiment]
        binary = "neutral" not in gold
        predicted = [
            ("positive" if scores["positive"] >= scores["negative"] else "negative") if binary else label
            for _, (label, _, scores) in sentiment
        ]
        rows.append(("sentiment", len(gold), accuracy(gold, predicted), macro_f1(gold, predicted)))
    emotion = [(str(e.emotion), p[1]) for e, p in zip(examples, predictions, strict=True) if e.emotion]
    if emotion:
        gold = [g for g, _ in emotion]
        predicted = [p for _, p in emotion]
        rows.append(("emotion", len(gold), accuracy(gold, predicted), macro_f1(gold, predicted)))
    return rows


@click.command()
@click.option(
    "--data", "data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True
)
@click.option("--split", type=click.Choice(["dev", "test"]), default="test", show_default=True)
@click.option("--sets", default=",".join(READERS), show_default=True, help="Comma-separated data sets.")
@click.option(
    "--config",
    "config",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Momento config file: its [sentiment] table (and MOMENTO_SENTIMENT__* variables) choose the model.",
)
@click.option("--heads", default=None, help="Heads file of the offline default (default: the shipped one).")
@click.option("--adapter", default=None, help='Encoder LoRA adapter (default: the shipped one), or "none".')
@click.option(
    "--sentiment-model", default=None, help="Hub id or directory (switches to the transformers backend)."
)
@click.option(
    "--emotion-model", default=None, help="Hub id or directory (switches to the transformers backend)."
)
@click.option("--runtime", type=click.Choice(["auto", "onnx", "torch"]), default=None)
@click.option(
    "--invariance/--no-invariance",
    default=False,
    help="Also count labels that differ between alone, batched and shuffled reading of every CX split.",
)
def main(
    data_dir: Path,
    split: str,
    sets: str,
    config: str | None,
    heads: str | None,
    adapter: str | None,
    sentiment_model: str | None,
    emotion_model: str | None,
    runtime: str | None,
    invariance: bool,
) -> None:
    """Print accuracy and macro-F1 per data set, task and language."""
    settings = load_classifier_settings(config) if config else ClassifierSettings()
    overrides: dict[str, object] = {}
    if heads:
        overrides["heads_path"] = heads
    if adapter:
        overrides["adapter_path"] = adapter
    if runtime:
        overrides["runtime"] = runtime
    if sentiment_model or emotion_model:
        overrides.update(backend="transformers", sentiment_model=sentiment_model, emotion_model=emotion_model)
    settings = settings.model_copy(update=overrides)
    model = load_model(settings)
    click.echo(f"model {model.model_id} version {model.model_version}")
    click.echo(
        f"{'data set':15s} {'split':5s} {'lang':4s} {'task':9s} {'n':>6s} {'accuracy':>8s} {'macro-F1':>8s}"
    )
    for name in sets.split(","):
        examples = load(name, data_dir, split)
        if not examples:
            continue
        started = time.perf_counter()
        for task, n, acc, f1 in evaluate_set(model, examples):
            language = examples[0].language
            click.echo(f"{name:15s} {split:5s} {language:4s} {task:9s} {n:6d} {acc:8.3f} {f1:8.3f}")
        click.echo(f"{'':15s} ({time.perf_counter() - started:.1f} s)", err=True)
    if invariance:
        for name in ("cx_en", "cx_es"):
            for part in ("train", "dev", "test"):
                texts = [e.text for e in load(name, data_dir, part)]
                differ, n = batch_variance(model, texts)
                click.echo(f"batch invariance {name} {part}: {differ} of {n} labels differ")


def batch_variance(model: SyncModel, texts: list[str]) -> tuple[int, int]:
    """How many (sentiment, emotion) labels differ between reading each text alone, in one batch and
    in a shuffled batch."""
    alone = [(a.sentiment, a.emotion) for text in texts for a in model.predict([text], [None])]
    batched = [(a.sentiment, a.emotion) for a in model.predict(texts, [None] * len(texts))]
    order = list(range(len(texts)))
    random.Random(13).shuffle(order)
    shuffled_out = model.predict([texts[i] for i in order], [None] * len(texts))
    shuffled: list[tuple[str, str]] = [("", "")] * len(texts)
    for position, i in enumerate(order):
        shuffled[i] = (shuffled_out[position].sentiment, shuffled_out[position].emotion)
    differ = sum(a != b or a != c for a, b, c in zip(alone, batched, shuffled, strict=True))
    return differ, len(texts)


if __name__ == "__main__":
    main()

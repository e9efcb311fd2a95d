"""How much an answer's label depends on the answers batched with it (int8 activations are scaled per batch).

    python bench/bench_batch_stability.py [--batch 32] [--runtime onnx]

Every CX answer of the project (all splits, English and Spanish) is classified alone and in batches of
--batch; the script counts labels that differ and the largest score change. Results go to
docs/model-card.md and docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from bench.bench_classifier import texts
    from sentiment import ClassifierSettings, load_model

    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--runtime", choices=["onnx", "torch"], default="onnx")
    args = parser.parse_args()
    rows = texts(100_000)
    answers, languages = [text for text, _ in rows], [language for _, language in rows]
    model = load_model(ClassifierSettings(runtime=args.runtime))
    alone = [model.predict([text], [language])[0] for text, language in zip(answers, languages, strict=True)]
    batched = []
    for start in range(0, len(answers), args.batch):
        batched += model.predict(answers[start : start + args.batch], languages[start : start + args.batch])
    sentiment = sum(a.sentiment != b.sentiment for a, b in zip(alone, batched, strict=True))
    emotion = sum(a.emotion != b.emotion for a, b in zip(alone, batched, strict=True))
    change = max(
        abs(a.sentiment_scores[label] - b.sentiment_scores[label])
        for a, b in zip(alone, batched, strict=True)
        for label in a.sentiment_scores
    )
    print(
        f"{args.runtime}: {len(answers)} answers, alone vs batches of {args.batch}: sentiment differs on "
        f"{sentiment} ({sentiment / len(answers):.1%}), emotion on {emotion} ({emotion / len(answers):.1%}); "
        f"largest sentiment score change {change:.3f}"
    )


if __name__ == "__main__":
    main()

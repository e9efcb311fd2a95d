"""Classifier speed: the offline default (int8 ONNX, torch fallback) vs a naive transformers pipeline.

    python bench/bench_classifier.py [--n 300] [--json out.json]

Each variant runs in its own subprocess (so peak RSS is its own), on the same texts: our CX answers in
English and Spanish. "naive" is a `transformers` text-classification pipeline over the same MiniLM encoder,
called once per message, as a straightforward integration would do. Results go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def texts(n: int) -> list[tuple[str, str]]:
    rows = []
    for language in ("en", "es"):
        path = ROOT / "sentiment" / "data" / f"cx_{language}.jsonl"
        rows += [
            (json.loads(line)["text"], language) for line in path.read_text(encoding="utf-8").splitlines()
        ]
    rows.sort(key=lambda row: hash(row[0]) % 1000)  # interleave languages (order only; PYTHONHASHSEED fixed)
    return rows[:n]


def _latencies(call, items) -> dict[str, float]:  # type: ignore[no-untyped-def]
    times = []
    started = time.perf_counter()
    for item in items:
        t0 = time.perf_counter()
        call(item)
        times.append(time.perf_counter() - t0)
    total = time.perf_counter() - started
    times.sort()
    return {
        "sentences_per_s": len(items) / total,
        "p50_ms": 1000 * statistics.median(times),
        "p95_ms": 1000 * times[int(0.95 * (len(times) - 1))],
    }


def run_variant(mode: str, n: int) -> dict[str, object]:
    data = texts(n)
    result: dict[str, object] = {"mode": mode, "n": len(data)}
    if mode == "naive":
        from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

        from sentiment.encoder import default_encoder_path

        path = str(default_encoder_path())
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=3)
        classify = pipeline("text-classification", model=model, tokenizer=AutoTokenizer.from_pretrained(path))
        classify("warm up", top_k=None, truncation=True)
        result |= _latencies(lambda item: classify(item[0], top_k=None, truncation=True), data)
    else:
        from sentiment import ClassifierSettings, load_model
        from sentiment.runtime import BatchingClassifier

        runtime = "torch" if mode.startswith("torch") else "onnx"
        model = load_model(ClassifierSettings(runtime=runtime))  # type: ignore[arg-type]
        model.predict(["warm up"], ["en"])
        batch1 = _latencies(lambda item: model.predict([item[0]], [item[1]]), data)
        result |= {f"batch1_{k}": v for k, v in batch1.items()}
        started = time.perf_counter()
        analyses = model.predict([t for t, _ in data], [lang for _, lang in data])
        result["batched_sentences_per_s"] = len(data) / (time.perf_counter() - started)
        result["labels"] = [[a.sentiment, a.emotion] for a in analyses]

        async def concurrent() -> float:
            classifier = BatchingClassifier(model, batch_size=32, max_wait_ms=10)
            started = time.perf_counter()
            await asyncio.gather(*(classifier.analyse([t], [lang]) for t, lang in data))
            elapsed = time.perf_counter() - started
            await classifier.aclose()
            return len(data) / elapsed

        result["async_concurrent_sentences_per_s"] = asyncio.run(concurrent())
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--mode", choices=["naive", "onnx", "torch"])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(run_variant(args.mode, args.n)))
        return
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    results = {}
    for mode in ("naive", "onnx", "torch"):
        out = subprocess.run(
            [sys.executable, __file__, "--mode", mode, "--n", str(args.n)],
            capture_output=True, text=True, check=True, env=env,
        )  # fmt: skip
        results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    naive = float(results["naive"]["sentences_per_s"])  # type: ignore[arg-type]
    onnx_labels, torch_labels = results["onnx"].pop("labels"), results["torch"].pop("labels")
    agree = sum(a == b for a, b in zip(onnx_labels, torch_labels, strict=True)) / len(onnx_labels)  # type: ignore[arg-type]
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
    print(f"texts: {args.n} CX answers (en+es), same texts for every variant\n")
    print(
        "| variant | batch 1 sent/s | p50 ms | p95 ms | batched sent/s | async concurrent sent/s"
        " | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|")
    r = results["naive"]
    print(
        f"| naive pipeline, once per message | {r['sentences_per_s']:.0f} | {r['p50_ms']:.1f}"
        f" | {r['p95_ms']:.1f}"
        f" | – | – | {r['peak_rss_mb']:.0f} |"
    )
    for mode, label in (("onnx", "default, int8 ONNX"), ("torch", "default, torch fallback")):
        r = results[mode]
        print(
            f"| {label} | {r['batch1_sentences_per_s']:.0f} | {r['batch1_p50_ms']:.1f}"
            f" | {r['batch1_p95_ms']:.1f}"
            f" | {r['batched_sentences_per_s']:.0f} | {r['async_concurrent_sentences_per_s']:.0f}"
            f" | {r['peak_rss_mb']:.0f} |"
        )
    best = float(results["onnx"]["batched_sentences_per_s"])  # type: ignore[arg-type]
    print(f"\nbatched int8 vs naive: {best / naive:.1f}x; int8 vs torch labels agree on {agree:.1%} of texts")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""Themes at scale: grouping 100k stored answers of one week, and /themes at 1M stored answers.

    python -m bench.bench_themes --db /tmp/themes-1m.db [--answers 1000000] [--week 100000] [--rounds 5]
    python -m bench.bench_themes --db /tmp/themes-1m.db --reuse   # again, in a fresh process without e5

Seeds (once per file) a database of --answers answers of the delivery touchpoint over a year, the last two
weeks holding --week answers each with int8 sentence vectors. The vectors are multilingual-e5-small vectors
of the hand-made EN+ES theme set (sentiment/data/themes_cx.csv) with Gaussian noise (cosine ~0.9 to their
source), so the grouping sees realistic geometry. Then times, in this process:

- compute_run for this week (read + unpack the vectors, group, c-TF-IDF, write the run): goal <= 30 s;
- the peak resident memory while doing so (ru_maxrss, with the baseline before);
- /themes (build_themes + render_themes with its chart) over the stored runs, and with a tier: goal <= 500 ms;
- the ARI of this week's grouping against the source themes of the noisy copies.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import resource
import sqlite3
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score

from bot.config import Settings
from bot.reports.themes import ExampleVectors, bucket, build_themes, compute_run, render_themes
from storage import themes as theme_repo
from storage import touchpoints as touchpoint_repo
from storage.db import Database, to_db_time
from storage.models import TouchpointSpec

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday
THEME_SET = Path(__file__).resolve().parents[1] / "sentiment" / "data" / "themes_cx.csv"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def source_vectors() -> tuple[list[dict[str, str]], np.ndarray]:
    from sentiment.themes_e5 import E5Vectors

    rows = list(csv.DictReader(THEME_SET.open(encoding="utf-8")))
    model = E5Vectors(Path("~/.cache/momento").expanduser())
    return rows, model.encode([row["text"] for row in rows])


def seed(path: Path, total: int, week: int) -> list[str]:
    """Bulk-load (plain sqlite3, synchronous off: a loader, not the product's write path); returns the source
    theme of each of this week's answers, in id order."""
    asyncio.run(_schema(path))
    rows, vectors = source_vectors()
    rng = np.random.default_rng(17)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    tp_id = conn.execute("SELECT id FROM touchpoints WHERE key = 'delivery'").fetchone()[0]
    now = to_db_time(NOW)
    conn.executemany(
        "INSERT INTO customers (external_id, tier, created_at, updated_at) VALUES (?, ?, ?, ?)",
        [(f"c{n}", "gold" if n % 5 == 0 else "standard", now, now) for n in range(1000)],
    )
    this_week = bucket("week", NOW, "UTC")
    last_week = bucket("week", NOW, "UTC", back=1)
    old = total - 2 * week
    labels: list[str] = []
    answer_id = 0
    batch_answers: list[tuple[object, ...]] = []
    batch_analyses: list[tuple[object, ...]] = []
    batch_vectors: list[tuple[object, ...]] = []

    def flush() -> None:
        conn.executemany(
            """INSERT INTO answers (id, customer_id, touchpoint_id, question, text, language, received_at,
                                    analysis_state, current_analysis_id)
               VALUES (?, ?, ?, ?, ?, ?, ?, 'done', ?)""",
            batch_answers,
        )
        conn.executemany(
            """INSERT INTO analyses (id, answer_id, model_id, model_version, sentiment, sentiment_scores,
                                     sentiment_score, emotion, emotion_scores, analysed_at)
               VALUES (?, ?, 'bench', '1', ?, '{}', 0, 'neutral', '{}', ?)""",
            batch_analyses,
        )
        conn.executemany(
            """INSERT INTO answer_vectors (answer_id, model_id, model_version, dim, scale, vector)
               VALUES (?, 'bench', '1', 384, ?, ?)""",
            batch_vectors,
        )
        batch_answers.clear()
        batch_analyses.clear()
        batch_vectors.clear()

    spans = [(old, bucket("week", NOW, "UTC", back=52).start, last_week.start, False)]
    spans += [(week, last_week.start, last_week.end, True), (week, this_week.start, NOW, True)]
    for count, start, end, with_vectors in spans:
        step = (end - start) / max(count, 1)
        picks = rng.integers(0, len(rows), size=count)
        for n in range(count):
            answer_id += 1
            row = rows[int(picks[n])]
            negative = row["theme"] != "helpful_staff" and rng.random() < 0.8
            at = to_db_time(start + step * n)
            batch_answers.append(
                (
                    answer_id,
                    1 + answer_id % 1000,
                    tp_id,
                    "experience",
                    f"{row['text']} #{n}",
                    row["lang"],
                    at,
                    answer_id,
                )
            )
            batch_analyses.append((answer_id, answer_id, "negative" if negative else "positive", at))
            if with_vectors:
                noisy = vectors[int(picks[n])] + rng.normal(size=384).astype(np.float32) * 0.02
                blob, scale = theme_repo.pack_vector(noisy / np.linalg.norm(noisy))
                batch_vectors.append((answer_id, scale, blob))
                if end > this_week.start:
                    labels.append(row["theme"])
            if len(batch_answers) >= 20000:
                flush()
    flush()
    conn.commit()
    conn.close()
    return labels


async def _schema(path: Path) -> None:
    async with await Database.open(path) as db:
        await touchpoint_repo.sync_touchpoints(
            db, [TouchpointSpec("delivery", {"en": "delivery", "es": "entrega"}, "direct", 1, 1.0, "courier")]
        )


async def run(path: Path, labels: list[str] | None, rounds: int) -> None:
    settings = Settings(
        storage={"path": str(path)},
        survey={"default_timezone": "UTC"},
        touchpoints=[{"key": "delivery", "names": {"en": "delivery", "es": "entrega"}}],
        themes={"enabled": True},
    )

    async def no_examples(texts: object, languages: object) -> list[None]:
        return []

    examples = ExampleVectors(no_examples)  # type: ignore[arg-type]
    async with await Database.open(path) as db:
        before = rss_mb()
        started = time.perf_counter()
        await compute_run(
            db, settings, examples, "delivery", bucket("week", NOW, "UTC", back=1), model_id="bench", now=NOW
        )
        last = time.perf_counter() - started
        started = time.perf_counter()
        run_id = await compute_run(
            db, settings, examples, "delivery", bucket("week", NOW, "UTC"), model_id="bench", now=NOW
        )
        this = time.perf_counter() - started
        peak = rss_mb()
        print(
            f"compute_run last week: {last:.1f} s; this week: {this:.1f} s; "
            f"peak RSS {peak:.0f} MB (before {before:.0f} MB)"
        )
        found = {
            row["answer_id"]: row["theme_key"]
            for row in await db.fetch_all(
                "SELECT answer_id, theme_key FROM theme_answers WHERE run_id = ?", (run_id,)
            )
        }
        ids = [
            int(row["id"])
            for row in await db.fetch_all(
                """SELECT a.id FROM answers AS a JOIN answer_vectors AS v ON v.answer_id = a.id
                   WHERE a.received_at >= ? ORDER BY a.id""",
                (to_db_time(bucket("week", NOW, "UTC").start),),
            )
        ]
        assigned = [found.get(i, "none") for i in ids]
        if labels is not None:
            print(
                f"this week: {len(ids):,} answers, {len(set(assigned))} themes, "
                f"ARI vs source themes {adjusted_rand_score(labels, assigned):.3f}"
            )
        total = (await db.fetch_one("SELECT COUNT(*) AS n FROM answers"))["n"]  # type: ignore[index]
        for tier in (None, "gold"):
            times = []
            for _ in range(rounds):
                started = time.perf_counter()
                result = await build_themes(db, settings, "delivery", "this-week", tier, now=NOW)
                report = await asyncio.to_thread(render_themes, result, settings, "en")
                times.append(time.perf_counter() - started)
            assert report.chart is not None and result.lines
            print(
                f"/themes delivery this-week{' ' + tier if tier else ''} at {total:,} answers: "
                f"median {statistics.median(times) * 1000:.0f} ms, "
                f"max {max(times) * 1000:.0f} ms (chart included)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--week", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time an already seeded file in a fresh process (no e5 model loaded: the grouping's own memory)",
    )
    args = parser.parse_args()
    if args.reuse:
        asyncio.run(run(args.db, None, args.rounds))
        return
    if args.db.exists():
        raise SystemExit(f"{args.db} exists: the benchmark seeds a fresh file (or pass --reuse)")
    started = time.perf_counter()
    labels = seed(args.db, args.answers, args.week)
    print(f"seeded {args.answers:,} answers in {time.perf_counter() - started:.0f} s")
    asyncio.run(run(args.db, labels, args.rounds))


if __name__ == "__main__":
    main()

"""Storage benchmark (by hand, not CI): 1M answers / 50k customers / 12 touchpoints / 365 days.

    python -m bench.bench_storage --db bench/out/storage.db            # seeds the file if it is missing
    python -m bench.bench_storage --db bench/out/storage.db --upgrade  # also time the v1 -> latest upgrade

Reports the bulk seeding rate, the file size, the rate of answers written through the repositories (the
bot's path: one transaction and fsync per answer), and the reporting queries the staff commands need, per
touchpoint for the last 30 days and as a weekly trend over the year. The query shapes here are the fast
ones the report module should use (see the "Reporting queries" note in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import shutil
import sqlite3
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.seed import seed
from storage import answers, customers
from storage.db import Database, to_db_time

# One pass over the window's rating and experience answers: counts per (question, rating, sentiment,
# emotion) — at most a few dozen rows — from which count, mean rating, CSAT share (ratings 4-5), the sentiment
# and the emotion distributions and the mean net sentiment are folded in Python.
SUMMARY = """
SELECT a.question AS question, a.rating AS rating, n.sentiment AS sentiment, n.emotion AS emotion,
       COUNT(*) AS n, TOTAL(n.sentiment_score) AS score
FROM answers AS a LEFT JOIN analyses AS n ON n.id = a.current_analysis_id
WHERE a.touchpoint_id = :tp AND a.received_at >= :start AND a.received_at < :end
  AND a.question IN ('rating', 'experience')
GROUP BY a.question, a.rating, n.sentiment, n.emotion
"""

# Expectation-experience gap: per survey, experience score minus expectation score; the mean over surveys
# whose experience answer falls in the window.
GAP = """
SELECT COUNT(*) AS surveys, AVG(x.sentiment_score - e.sentiment_score) AS gap
FROM answers AS a
JOIN analyses AS x ON x.id = a.current_analysis_id
JOIN answers AS ea ON ea.survey_id = a.survey_id AND ea.question = 'expectation'
JOIN analyses AS e ON e.id = ea.current_analysis_id
WHERE a.touchpoint_id = :tp AND a.received_at >= :start AND a.received_at < :end
  AND a.question = 'experience'
"""

# Weekly trend over a year: ratings, CSAT and net sentiment per week (week 0 starts at :start).
TREND = """
SELECT CAST((julianday(a.received_at) - julianday(:start)) / 7 AS INTEGER) AS week,
       SUM(a.question = 'rating') AS ratings,
       AVG(CASE WHEN a.question = 'rating' THEN a.rating END) AS mean_rating,
       AVG(CASE WHEN a.question = 'rating' THEN a.rating >= 4 END) AS csat,
       AVG(CASE WHEN a.question = 'experience' THEN n.sentiment_score END) AS net_sentiment
FROM answers AS a LEFT JOIN analyses AS n ON n.id = a.current_analysis_id
WHERE a.touchpoint_id = :tp AND a.received_at >= :start AND a.received_at < :end
  AND a.question IN ('rating', 'experience')
GROUP BY week ORDER BY week
"""

# The same trend for all touchpoints at once (the overview chart).
TREND_ALL = TREND.replace("a.touchpoint_id = :tp AND ", "").replace(
    "GROUP BY week ORDER BY week", "GROUP BY week, a.touchpoint_id ORDER BY week"
)
TREND_ALL = TREND_ALL.replace("SELECT CAST(", "SELECT a.touchpoint_id AS tp, CAST(")

# A 30-day summary for every touchpoint in one query (the /report overview).
SUMMARY_ALL = (
    SUMMARY.replace("a.touchpoint_id = :tp AND ", "")
    .replace("SELECT a.question", "SELECT a.touchpoint_id AS tp, a.question")
    .replace("GROUP BY a.question", "GROUP BY a.touchpoint_id, a.question")
)


def fold_summary(rows: list[Any]) -> dict[str, Any]:
    """What a staff report shows, from the SUMMARY rows."""
    ratings = rating_sum = satisfied = analysed = 0
    score = 0.0
    sentiments: dict[str, int] = {}
    emotions: dict[str, int] = {}
    for row in rows:
        n = int(row["n"])
        if row["question"] == "rating" and row["rating"] is not None:
            ratings += n
            rating_sum += int(row["rating"]) * n
            satisfied += n if row["rating"] >= 4 else 0
        elif row["question"] == "experience" and row["sentiment"] is not None:
            analysed += n
            score += float(row["score"])
            sentiments[row["sentiment"]] = sentiments.get(row["sentiment"], 0) + n
            emotions[row["emotion"]] = emotions.get(row["emotion"], 0) + n
    return {
        "ratings": ratings,
        "mean_rating": rating_sum / ratings if ratings else None,
        "csat": satisfied / ratings if ratings else None,
        "net_sentiment": score / analysed if analysed else None,
        "sentiments": sentiments,
        "emotions": emotions,
    }


async def timed(action: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await action()
    return (time.perf_counter() - started) * 1000, result


async def timed_query(db: Database, sql: str, params: dict[str, Any]) -> tuple[float, list[Any]]:
    started = time.perf_counter()
    rows = await db.fetch_all(sql, params)
    return (time.perf_counter() - started) * 1000, rows


def file_size_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists()) / 2**20


def table_sizes(path: Path) -> list[tuple[str, float]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [
            (name, size / 2**20)
            for name, size in conn.execute(
                "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 8"
            )
        ]
    except sqlite3.Error:
        return []
    finally:
        conn.close()


async def bench_queries(path: Path, end: datetime) -> None:
    start30 = to_db_time(end - timedelta(days=30))
    start365 = to_db_time(end - timedelta(days=365))
    stop = to_db_time(end)
    async with await Database.open(path) as db:
        tps = [int(r["id"]) for r in await db.fetch_all("SELECT id FROM touchpoints ORDER BY id")]
        plans = {
            name: [
                r[3]
                for r in await db.fetch_all(
                    "EXPLAIN QUERY PLAN " + sql, {"tp": 1, "start": start30, "end": stop}
                )
            ]
            for name, sql in (("summary", SUMMARY), ("gap", GAP), ("trend", TREND))
        }
        first_ms, _ = await timed(
            lambda: db.fetch_all(SUMMARY, {"tp": tps[0], "start": start30, "end": stop})
        )
        print(f"first 30-day summary after opening (SQLite cache cold, OS cache warm): {first_ms:.1f} ms")
        results: dict[str, list[float]] = {"summary": [], "gap": [], "summary+gap": [], "trend": []}
        example: dict[str, Any] = {}
        for _ in range(3):
            for tp in tps:
                window = {"tp": tp, "start": start30, "end": stop}
                ms_summary, rows = await timed_query(db, SUMMARY, window)
                ms_gap, gap = await timed_query(db, GAP, window)
                results["summary"].append(ms_summary)
                results["gap"].append(ms_gap)
                results["summary+gap"].append(ms_summary + ms_gap)
                year = {"tp": tp, "start": start365, "end": stop}
                ms_trend, weeks = await timed_query(db, TREND, year)
                results["trend"].append(ms_trend)
                if tp == tps[6]:
                    example = {**fold_summary(rows), "gap": gap[0]["gap"], "gap_surveys": gap[0]["surveys"]}
                    example["weeks"] = len(weeks)
        print("per touchpoint (12 touchpoints x 3 rounds), ms: median / p95 / max")
        for name, values in results.items():
            ordered = sorted(values)
            p95 = ordered[int(len(ordered) * 0.95) - 1]
            print(f"  {name:12s} {statistics.median(values):7.1f} / {p95:7.1f} / {max(values):7.1f}")
        all_ms, _ = await timed_query(db, SUMMARY_ALL, {"start": start30, "end": stop})
        trend_all_ms, _ = await timed_query(db, TREND_ALL, {"start": start365, "end": stop})
        print(f"  30-day summary of all 12 touchpoints in one query: {all_ms:.1f} ms")
        print(f"  weekly trend over a year, all touchpoints in one query: {trend_all_ms:.1f} ms")
        print(f"example (touchpoint {tps[6]}): {example}")
        for name, plan in plans.items():
            print(f"plan {name}: {' | '.join(plan)}")
        await bench_report_module(db, end)


async def bench_report_module(db: Database, end: datetime) -> None:
    """The staff teammate's storage.reports, where it exists: the query the /report command really runs."""
    try:
        from storage import reports
    except ImportError:
        return
    aggregates = getattr(reports, "aggregates", None)
    if aggregates is None:
        return
    timings = []
    for tp in range(1, 13):
        try:
            started = time.perf_counter()
            await aggregates(db, end - timedelta(days=30), end, touchpoint_id=tp)
            ms = (time.perf_counter() - started) * 1000
        except Exception as exc:
            print(f"storage.reports.aggregates failed: {exc!r}")
            return
        timings.append(ms)
    print(
        f"storage.reports.aggregates, one touchpoint, 30 days: median {statistics.median(timings):.1f} ms, "
        f"max {max(timings):.1f} ms"
    )


async def bench_repository_writes(path: Path, sequential: int, concurrent: int) -> None:
    """Answers through record_answer on the big file: what the bot's handlers pay per answer."""
    async with await Database.open(path) as db:
        customer = await customers.ensure_telegram_customer(
            db, telegram_user_id=1, telegram_chat_id=1, display_name="bench", language="en"
        )
        now = datetime.now(UTC)
        base = int(time.time() * 1000) % 10**9 * 100

        async def write(message_id: int) -> float:
            started = time.perf_counter()
            await answers.record_answer(
                db,
                survey_id=None,
                customer_id=customer.id,
                touchpoint_id=None,
                question="unsolicited",
                text="Benchmark answer, a sentence of ordinary length about a delivery.",
                rating=None,
                language="en",
                chat_id=1,
                message_id=message_id,
                received_at=now,
            )
            return (time.perf_counter() - started) * 1000

        started = time.perf_counter()
        latencies = [await write(base + n) for n in range(sequential)]
        elapsed = time.perf_counter() - started
        print(
            f"record_answer, one at a time: {sequential / elapsed:,.0f} answers/s "
            f"(p50 {statistics.median(latencies):.2f} ms, "
            f"p95 {sorted(latencies)[int(sequential * 0.95)]:.2f} ms)"
        )
        started = time.perf_counter()
        await asyncio.gather(*(write(base + sequential + n) for n in range(concurrent)))
        elapsed = time.perf_counter() - started
        print(
            f"record_answer, {concurrent} concurrent: {concurrent / elapsed:,.0f} answers/s, no lock errors"
        )


async def bench_upgrade(path: Path) -> None:
    """Time the v1 -> latest migration on a copy of the big file (the report indexes are built then)."""
    copy = path.with_name(path.stem + "-v1.db")
    shutil.copyfile(path, copy)
    conn = sqlite3.connect(copy)
    conn.executescript(
        """
        DROP INDEX ix_answers_touchpoint_report; DROP INDEX ix_answers_time_report;
        DROP INDEX ix_answers_survey_question; DROP INDEX ix_surveys_invited;
        DROP INDEX ix_surveys_invited_time;
        DROP INDEX ix_alerts_created; DROP INDEX ix_alerts_resolved;
        CREATE INDEX ix_answers_touchpoint_time ON answers (touchpoint_id, received_at);
        CREATE INDEX ix_answers_time ON answers (received_at);
        CREATE INDEX ix_answers_survey ON answers (survey_id);
        PRAGMA user_version = 1;
        """
    )
    conn.close()
    started = time.perf_counter()
    async with await Database.open(copy) as db:
        version = await db.schema_version()
    print(f"upgrade v1 -> v{version} of this file: {time.perf_counter() - started:.1f} s")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)  # noqa: ASYNC240 - a benchmark, nothing waits


def main() -> None:
    parser = argparse.ArgumentParser(description="Momento storage benchmark")
    parser.add_argument("--db", type=Path, default=Path("bench/out/storage.db"))
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--writes", type=int, default=2000, help="answers written one at a time")
    parser.add_argument("--concurrent", type=int, default=2000, help="answers written concurrently")
    parser.add_argument("--upgrade", action="store_true", help="also time the v1 -> latest migration")
    args = parser.parse_args()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, ", end="")
    print(f"SQLite {sqlite3.sqlite_version}, {platform.machine()}")
    if not args.db.exists():
        args.db.parent.mkdir(parents=True, exist_ok=True)
        summary = seed(args.db, answers=args.answers, customers=args.customers)
        print(
            f"seeded {summary.answers:,} answers, {summary.analyses:,} analyses, "
            f"{summary.surveys:,} surveys, {summary.events:,} events, {summary.customers:,} customers "
            f"in {summary.seconds:.1f} s "
            f"({summary.answers_per_second:,.0f} answers/s, bulk)"
        )
    conn = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    count, last = conn.execute("SELECT COUNT(*), MAX(received_at) FROM answers").fetchone()
    conn.close()
    end = datetime.strptime(last, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC) + timedelta(seconds=1)
    print(f"file: {args.db}, {count:,} answers, {file_size_mib(args.db):.0f} MiB")
    for name, size in table_sizes(args.db):
        print(f"  {name:32s} {size:7.1f} MiB")
    asyncio.run(bench_queries(args.db, end))
    if args.upgrade:
        asyncio.run(bench_upgrade(args.db))
    # Writes last: they add rows to the file the queries above measured.
    asyncio.run(bench_repository_writes(args.db, args.writes, args.concurrent))


if __name__ == "__main__":
    main()

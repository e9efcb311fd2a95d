"""The storage hot paths on either engine (by hand, not CI), for the SQLite before/after check and the
PostgreSQL figures of docs/benchmarks.md:

    python bench/bench_engines.py --target /tmp/momento-bench.db            # SQLite (a fresh file)
    python bench/bench_engines.py --target postgresql://momento@127.0.0.1:5432/bench
    python bench/bench_engines.py --target ... --summary-db /tmp/sqlite-1m.db   # + /summary at 1M answers

Run as a script (not ``-m``) so that ``PYTHONPATH=<another checkout>`` measures that checkout's storage
with the same code: the before/after comparison on one machine in one sitting. Only APIs that predate
PostgreSQL support are used.

* record an answer: ``answers.record_answer`` one at a time, each its own transaction (the bot's path);
* claim due invitations: ``outreach.claim_due_invitations`` of 50 at a time over 5,000 due surveys;
* /summary at 1M answers: ``build_summary`` of all touchpoints over 30 days, on the seeded database
  (``--summary-db``: a SQLite file from bench.seed, or a PostgreSQL copy made by ``momento migrate-storage``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from storage import answers, customers, outreach, surveys, touchpoints
from storage.db import Database, from_db_time
from storage.models import TouchpointSpec

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _report(label: str, timed: tuple[list[float], list[float]], unit: str = "op") -> None:
    """Wall p50/p95 and the rate, plus the CPU time p50 (all threads: what it costs on an idle machine;
    wall time also counts waiting for a CPU on a shared one)."""
    samples, cpu = sorted(timed[0]), timed[1]
    p95 = samples[int(len(samples) * 0.95) - 1] if len(samples) >= 20 else samples[-1]
    rate = 1000 / statistics.mean(samples)
    print(
        f"{label:<52} p50 {statistics.median(samples):7.2f} ms  p95 {p95:7.2f} ms  "
        f"CPU p50 {statistics.median(cpu):7.2f} ms  {rate:7.0f} {unit}/s"
    )


async def _timed(action: Callable[[], Awaitable[Any]], rounds: int) -> tuple[list[float], list[float]]:
    times, cpu = [], []
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        await action()
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return times, cpu


async def bench_writes(target: str, answers_n: int, due_n: int) -> None:
    async with await Database.open(target) as db:
        [tp] = await touchpoints.sync_touchpoints(
            db, [TouchpointSpec("delivery", {"en": "delivery"}, "direct", 1, 1.0, "courier")]
        )
        customer = await customers.upsert_customer(db, "bench-customer")
        survey, _ = await surveys.create_survey(
            db,
            customer_id=customer.id,
            touchpoint_id=tp.id,
            event_id=None,
            kind="general",
            status="in_progress",
            scheduled_at=NOW,
            expires_at=NOW + timedelta(days=7),
            language="en",
        )
        counter = iter(range(1, 10**9))

        async def record() -> None:
            n = next(counter)
            await answers.record_answer(
                db,
                survey_id=survey.id,
                customer_id=customer.id,
                touchpoint_id=tp.id,
                question="unsolicited",
                text=f"answer number {n}: the parcel came late but the courier was kind",
                rating=None,
                language="en",
                chat_id=7001,
                message_id=n,
                received_at=NOW,
            )

        await record()  # warm
        _report("record an answer (one transaction each)", await _timed(record, answers_n), "answers")

        async with db.batch():
            for i in range(due_n):
                due_customer = await customers.upsert_customer(db, f"due-{i}")
                await surveys.create_survey(
                    db,
                    customer_id=due_customer.id,
                    touchpoint_id=tp.id,
                    event_id=None,
                    kind="general",
                    status="scheduled",
                    scheduled_at=NOW - timedelta(minutes=5),
                    expires_at=NOW + timedelta(days=7),
                    language="en",
                )

        async def claim() -> None:
            claimed = await outreach.claim_due_invitations(db, now=NOW, lease=timedelta(minutes=10), limit=50)
            assert claimed, "ran out of due surveys: raise --due"

        _report("claim 50 due invitations", await _timed(claim, due_n // 50 - 1), "claims")


async def bench_summary(summary_db: str, rounds: int) -> None:
    from bot.config import Settings
    from bot.reports.common import Scope
    from bot.reports.periods import parse_period
    from bot.reports.summary import build_summary

    async with await Database.open(summary_db) as db:
        row = await db.fetch_one("SELECT MAX(received_at) FROM answers")
        count = await db.fetch_one("SELECT COUNT(*) FROM answers")
        now = from_db_time(row[0]) if row else None
        assert now is not None
        keys = [r["key"] for r in await db.fetch_all("SELECT key FROM touchpoints ORDER BY stage, key")]
        settings = Settings(
            survey={"default_timezone": "UTC"},
            touchpoints=[
                {"key": key, "names": {"en": key}, "stage": i + 1, "weight": 1.0, "channel": "store"}
                for i, key in enumerate(keys)
            ],
        )
        scope = Scope(period=parse_period("30d", now=now, timezone="UTC"))

        async def summary() -> None:
            await build_summary(db, settings, scope)

        await summary()  # warm
        _report(
            f"/summary, all touchpoints, 30d ({int(count[0]) if count else 0:,} answers)",
            await _timed(summary, rounds),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description="Momento storage hot paths on SQLite or PostgreSQL")
    parser.add_argument("--target", required=True, help="a new SQLite file, or an empty PostgreSQL database")
    parser.add_argument("--answers", type=int, default=500)
    parser.add_argument("--due", type=int, default=5000)
    parser.add_argument("--summary-db", help="a database seeded with bench.seed (1M answers)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    load = os.getloadavg()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} CPUs · load {load[0]:.2f} {load[1]:.2f}"
    )
    if not args.target.startswith("postgres") and Path(args.target).exists():
        raise SystemExit(f"{args.target} exists: the write benchmarks need a new file")
    asyncio.run(bench_writes(args.target, args.answers, args.due))
    if args.summary_db:
        asyncio.run(bench_summary(args.summary_db, args.rounds))


if __name__ == "__main__":
    main()

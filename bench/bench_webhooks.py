"""What outgoing webhooks cost a conversation turn: bench_conversation without a webhook and with one
subscribed to every event, in ONE process, alternating rounds under the same load. The receiver is a real
HTTP server in its own process (as a CRM would be), answering 204.

    python -m bench.bench_webhooks --customers 100 --concurrency 10 --think 0.2 --rounds 2

Target: webhooks add at most 5 ms to the p95 turn. Every event recorded must be delivered.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.bench_conversation import run

EVENTS = [
    "survey.completed",
    "answer.analysed",
    "alert.opened",
    "alert.acknowledged",
    "alert.resolved",
    "callback.requested",
]
RECEIVER = """
import asyncio
from tests.support.receiver import Receiver

async def main():
    receiver = Receiver()
    await receiver.start()
    print(receiver.port, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def bench(customers: int, concurrency: int, think: float, rounds: int) -> dict[str, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ["NO_PROXY"] = ",".join(filter(None, (os.environ.get("NO_PROXY"), "127.0.0.1")))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    receiver = await asyncio.create_subprocess_exec(
        sys.executable, "-c", RECEIVER, env=env, stdout=asyncio.subprocess.PIPE
    )
    assert receiver.stdout is not None
    port = int(await asyncio.wait_for(receiver.stdout.readline(), 30))
    results: dict[str, list[dict[str, Any]]] = {"without": [], "with": []}
    try:
        for _ in range(rounds):
            for mode in ("without", "with"):
                with tempfile.TemporaryDirectory() as workdir:
                    hooks = [{"name": "crm", "url": f"http://127.0.0.1:{port}/crm", "events": EVENTS}]
                    found = await run(
                        customers,
                        concurrency,
                        think,
                        Path(workdir),
                        webhooks=hooks if mode == "with" else None,
                        webhook_secrets={"crm": "bench-secret-0123456789"} if mode == "with" else None,
                    )
                results[mode].append(found)
                shown = ("p50_ms", "p95_ms", "max_ms", "completed", "webhook_events", "webhook_delivered")
                print(mode, {k: found.get(k) for k in shown}, flush=True)
    finally:
        receiver.kill()
        await receiver.wait()
    p95 = {mode: statistics.mean(r["p95_ms"] for r in runs) for mode, runs in results.items()}
    p50 = {mode: statistics.mean(r["p50_ms"] for r in runs) for mode, runs in results.items()}
    return {
        "rounds": rounds,
        "customers": customers,
        "concurrency": concurrency,
        "think_seconds": think,
        "p50_ms_without": round(p50["without"], 1),
        "p50_ms_with": round(p50["with"], 1),
        "p95_ms_without": round(p95["without"], 1),
        "p95_ms_with": round(p95["with"], 1),
        "p95_added_ms": round(p95["with"] - p95["without"], 1),
        "runs_p95_without": [r["p95_ms"] for r in results["without"]],
        "runs_p95_with": [r["p95_ms"] for r in results["with"]],
        "webhook_events": [r["webhook_events"] for r in results["with"]],
        "webhook_delivered": [r["webhook_delivered"] for r in results["with"]],
        "answers_lost": sum(r["answers_lost"] for runs in results.values() for r in runs),
    }


async def micro(iterations: int) -> dict[str, Any]:
    """The work a webhook adds to a turn, measured alone: the same write transaction (one row updated, one
    commit) without and with the survey.completed event (its payload read before the transaction, one
    outbox row inside it), alternating, on a real SQLite file with synchronous = FULL."""
    import time

    from bot.config import Settings
    from bot.outreach.webhooks import customer_ref, enqueue_event
    from storage import answers as answer_repo
    from storage import customers as customer_repo
    from storage.db import Database, utcnow

    settings = Settings(
        webhooks=[{"name": "crm", "url": "http://127.0.0.1:9/crm", "events": EVENTS}],
        webhook_secrets={"crm": "bench-secret-0123456789"},
    )
    timings: dict[str, list[float]] = {"without": [], "with": []}
    with tempfile.TemporaryDirectory() as workdir:
        async with await Database.open(Path(workdir) / "micro.db") as db:
            customer = await customer_repo.upsert_customer(db, "micro-1")
            for n in range(iterations):
                for mode in ("without", "with"):
                    started = time.perf_counter()
                    data: dict[str, Any] = {}
                    if mode == "with":  # as the engine does: the payload is read before the write lock
                        answers = await answer_repo.answers_for_customer(db, customer.id)
                        data = {
                            "n": n,
                            "answers": len(answers),
                            "customer": await customer_ref(db, customer.id),
                        }
                    async with db.transaction() as conn:
                        await conn.execute("UPDATE customers SET tier = tier WHERE id = ?", (customer.id,))
                        if mode == "with":
                            await enqueue_event(
                                db, settings, "survey.completed", data, at=utcnow(), customer_id=customer.id
                            )
                    timings[mode].append(time.perf_counter() - started)

    def p(values: list[float], share: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000

    return {
        "iterations": iterations,
        "p50_ms_without": round(p(timings["without"], 0.5), 3),
        "p50_ms_with": round(p(timings["with"], 0.5), 3),
        "p95_ms_without": round(p(timings["without"], 0.95), 3),
        "p95_ms_with": round(p(timings["with"], 0.95), 3),
        "p95_added_ms": round(p(timings["with"], 0.95) - p(timings["without"], 0.95), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--think", type=float, default=0.2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--micro", type=int, default=0, help="instead: time the in-turn webhook work alone, N iterations"
    )
    args = parser.parse_args()
    if args.micro:
        result = asyncio.run(micro(args.micro))
    else:
        result = asyncio.run(bench(args.customers, args.concurrency, args.think, args.rounds))
    for key, value in result.items():
        print(f"{key:>28}: {value}")


if __name__ == "__main__":
    main()

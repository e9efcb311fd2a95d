"""Ingestion API throughput: events per second through real HTTP, and request latency (p50/p95).

The server runs in its own process (uvicorn + the real app + a real SQLite file, synchronous=FULL as in
production); this process is the load generator (raw keep-alive sockets, N connections). Half the customers
are linked, so events go through every path: scheduled, frequency cap, not linked.

    python -m bench.bench_api                         # single events, 16 connections, then batches of 100
    python -m bench.bench_api --events 20000 --concurrency 32 --batch 0
    python -m bench.bench_api --loop asyncio          # the standard event loop instead of uvloop
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

KEY = "bench-key"
TOUCHPOINTS = [
    {"key": "purchase", "names": {"en": "purchase"}, "weight": 1.0, "invite_delay": "1h"},
    {"key": "delivery", "names": {"en": "delivery"}, "weight": 1.5, "invite_delay": "2h"},
    {"key": "support_call", "names": {"en": "support call"}, "weight": 2.0, "invite_delay": "30m"},
]


def settings_for(db_path: Path, port: int) -> Any:
    from bot.config import Settings

    return Settings(
        storage={"path": db_path},
        server={"port": port, "max_body_bytes": 10_000_000},
        api={"keys": [KEY]},
        survey={"default_timezone": "UTC", "quiet_hours_start": "00:00:00", "quiet_hours_end": "00:00:00"},
        touchpoints=TOUCHPOINTS,
    )


async def seed(db_path: Path, customers: int) -> None:
    from bot.api.ingest import sync_configured_touchpoints
    from storage import customers as customer_repo
    from storage.db import Database

    async with await Database.open(db_path) as db:
        await sync_configured_touchpoints(db, settings_for(db_path, 1))
        async with db.batch():  # one commit for the whole seed
            for number in range(customers):
                customer = await customer_repo.upsert_customer(db, f"c-{number}", language="en")
                if number % 2 == 0:
                    await customer_repo.link_telegram(
                        db,
                        customer.id,
                        telegram_user_id=10_000 + number,
                        telegram_chat_id=10_000 + number,
                        display_name=None,
                        language="en",
                    )
                    await customer_repo.grant_consent(db, customer.id)


def serve(db_path: Path, port: int, loop: str) -> None:
    """The server process: the production app factory over the seeded database."""
    import uvicorn

    from bot.api.server import create_app
    from storage.db import Database

    async def main() -> None:
        settings = settings_for(db_path, port)
        async with await Database.open(db_path) as db:
            app = create_app(settings, db, bot_username=lambda: "bench_bot")
            config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
            await uvicorn.Server(config).serve()

    if loop == "uvloop":
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())


def event(number: int, customers: int) -> dict[str, Any]:
    occurred = datetime.now(UTC) - timedelta(minutes=5)
    return {
        "external_id": f"e-{number}",
        "customer_external_id": f"c-{number % customers}",
        "touchpoint": TOUCHPOINTS[number % len(TOUCHPOINTS)]["key"],
        "occurred_at": occurred.isoformat(),
        "attributes": {"order_id": f"A-{number}", "amount": 10 + number % 90},
    }


async def load(
    host: str, port: int, *, events: int, batch: int, concurrency: int, customers: int, offset: int
) -> tuple[float, list[float], dict[str, int]]:
    """Send *events* events (one per request, or *batch* per request) over *concurrency* keep-alive
    connections. Requests are serialised beforehand and sent over raw sockets, so the generator spends
    microseconds per request and the CPU goes to the server being measured."""
    numbers = list(range(offset, offset + events))
    size = max(batch, 1)
    bodies = [
        json.dumps(
            event(numbers[i], customers)
            if size == 1
            else {"events": [event(n, customers) for n in numbers[i : i + size]]}
        ).encode()
        for i in range(0, len(numbers), size)
    ]
    requests = [
        (
            f"POST /v1/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
        for body in bodies
    ]
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)
    latencies: list[float] = []
    counts: dict[str, int] = {}

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while not queue.empty():
                request = queue.get_nowait()
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                answer = await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    raise RuntimeError(f"HTTP {status}: {answer[:200]!r}")
                for name, count in json.loads(answer)["counts"].items():
                    counts[name] = counts.get(name, 0) + count
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, counts


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve", nargs=2, metavar=("DB", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch", type=int, default=100, help="also measure batches of this size (0: skip)")
    parser.add_argument("--batch-concurrency", type=int, default=4, help="connections sending batches")
    parser.add_argument("--port", type=int, default=18_080)
    parser.add_argument(
        "--loop",
        choices=("asyncio", "uvloop"),
        default="uvloop",
        help="the server's loop (the runner uses uvloop)",
    )
    args = parser.parse_args(argv)
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]), args.loop)
        return
    with tempfile.TemporaryDirectory(prefix="momento-bench-api-") as folder:
        db_path = Path(folder) / "bench.db"
        asyncio.run(seed(db_path, args.customers))
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.bench_api",
                "--serve",
                str(db_path),
                str(args.port),
                "--loop",
                args.loop,
            ],
            env={**os.environ, "NO_PROXY": "127.0.0.1"},
        )
        base_url = f"http://127.0.0.1:{args.port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(f"{base_url}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            print(
                f"# {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
                f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
            )
            runs = [("single events", 1, args.concurrency)] + (
                [(f"batches of {args.batch}", args.batch, args.batch_concurrency)] if args.batch > 1 else []
            )
            offset = 0
            for label, size, connections in runs:
                elapsed, latencies, counts = asyncio.run(
                    load(
                        "127.0.0.1",
                        args.port,
                        events=args.events,
                        batch=size,
                        concurrency=connections,
                        customers=args.customers,
                        offset=offset,
                    )
                )
                offset += args.events
                print(
                    f"{label:>16}: {args.events / elapsed:8.0f} events/s  "
                    f"p50 {1000 * statistics.median(latencies):6.1f} ms  "
                    f"p95 {1000 * percentile(latencies, 0.95):6.1f} ms per request  "
                    f"({args.events} events, {len(latencies)} requests, "
                    f"{connections} connections; {counts})"
                )
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()

"""Report and export benchmark on the storage benchmark's database (1M answers, 50k customers, a year).

    python -m bench.seed --db /tmp/reports-1m.db --answers 1000000 --customers 50000   # once, minutes
    python -m bench.bench_reports --db /tmp/reports-1m.db [--rounds 5] [--exports csv,jsonl,xlsx]

Times what staff commands compute (figures, without sending), with the 30 days ending at the newest answer:
/summary (all touchpoints; one touchpoint; one tier), /touchpoints, /journey, /segments, and the chart
rendering separately. Then runs `momento export` for the whole database in a child process per format and
reports wall time and the child's peak RSS. Goals: <= 300 ms per summary, export <= 20 s and <= 250 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.seed import TOUCHPOINT_KEYS
from bot.config import Settings
from bot.reports.common import Scope
from bot.reports.drivers import build_drivers
from bot.reports.journey import build_journey
from bot.reports.periods import parse_period
from bot.reports.segments import build_segments
from bot.reports.summary import build_summary, render_summary
from storage.db import Database, from_db_time


def bench_settings(db_path: Path) -> Settings:
    return Settings(
        storage={"path": str(db_path)},
        survey={"default_timezone": "UTC"},
        reports={"tier_minimum_csat": {"standard": 0.7, "gold": 0.85, "platinum": 0.9}},
        touchpoints=[
            {"key": key, "names": {"en": en, "es": es}, "stage": stage, "weight": weight, "channel": channel}
            for key, en, es, stage, weight, channel, _ in TOUCHPOINT_KEYS
        ],
    )


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def timed(label: str, rounds: int, action: Callable[[], Awaitable[Any]]) -> Any:
    result = await action()  # warm: first read of the pages from disk
    times, cpu = [], []
    before = rss_mib()
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = await action()
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    # CPU time (all threads, SQLite's included) is what the command costs on an idle machine; wall time
    # also counts waiting for the CPU on a busy one.
    print(
        f"{label:<42} wall median {statistics.median(times):6.0f} ms max {max(times):6.0f} · "
        f"CPU median {statistics.median(cpu):5.0f} ms · RSS {rss_mib():4.0f} MiB (+{rss_mib() - before:.0f})"
    )
    return result


async def bench_reports(db_path: Path, rounds: int) -> None:
    settings = bench_settings(db_path)
    size_mib = db_path.stat().st_size / 2**20  # noqa: ASYNC240 (before any query; measured once)
    async with await Database.open(db_path) as db:
        row = await db.fetch_one("SELECT MAX(received_at) FROM answers")
        now = from_db_time(row[0]) if row else None
        assert now is not None, "empty database"
        period = parse_period("30d", now=now, timezone="UTC")
        scope = Scope(period=period)
        print(
            f"database {db_path} ({size_mib:.0f} MiB), 30 days ending {now:%Y-%m-%d}, load {os.getloadavg()}"
        )
        summary = await timed(
            "/summary (all touchpoints, 30d)", rounds, lambda: build_summary(db, settings, scope)
        )
        print(f"  -> {summary.current.ratings} ratings, {summary.current.invited} invited in the window")
        await timed(
            "/summary delivery 30d",
            rounds,
            lambda: build_summary(db, settings, Scope(period=period, touchpoint="delivery")),
        )
        await timed(
            "/summary gold 30d (tier filter)",
            rounds,
            lambda: build_summary(db, settings, Scope(period=period, tier="gold")),
        )
        await timed(
            "/summary 7d",
            rounds,
            lambda: build_summary(db, settings, Scope(period=parse_period("7d", now=now, timezone="UTC"))),
        )
        await timed("/touchpoints 30d", rounds, lambda: build_drivers(db, settings, scope))
        await timed("/journey 30d", rounds, lambda: build_journey(db, settings, scope))
        await timed("/segments 30d", rounds, lambda: build_segments(db, settings, scope))

        async def chart() -> Any:
            return render_summary(summary, settings, "en")

        await timed("summary text + PNG chart (matplotlib Agg)", rounds, chart)


def bench_exports(db_path: Path, formats: list[str]) -> None:
    config = Path(tempfile.mkdtemp(prefix="bench-reports-")) / "config.toml"
    config.write_text(f'[storage]\npath = "{db_path}"\n', encoding="utf-8")
    # The child reports its own peak RSS as VmHWM: ru_maxrss would include this (forked) process's peak,
    # which Linux carries across exec.
    wrapper = (
        "import resource, sys\n"
        "from bot.cli.main import main\n"
        "main(sys.argv[1:], standalone_mode=False)\n"
        "usage = resource.getrusage(resource.RUSAGE_SELF)\n"
        "print(f'cpu_s={usage.ru_utime + usage.ru_stime:.1f}')\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
        "print(f'peak_rss_kib={hwm}')\n"
    )
    for spec in formats:
        # "xlsx" exports answers; "xlsx:surveys" one row per survey.
        export_format, _, rows = spec.partition(":")
        output = config.parent / f"export.{export_format}"
        start = time.perf_counter()
        completed = subprocess.run(
            [
                sys.executable,
                "-c",
                wrapper,
                "--config",
                str(config),
                "export",
                "--format",
                export_format,
                "--period",
                "all",
                *(["--rows", rows] if rows else []),
                "-o",
                str(output),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - start
        if completed.returncode != 0:
            print(f"export {spec}: failed: {completed.stderr.strip()[-400:]}")
            continue
        lines = completed.stdout.strip().splitlines()
        peak = int(lines[-1].split("=")[1]) / 1024
        cpu = float(lines[-2].split("=")[1])
        print(
            f"export {spec:<12} wall {seconds:6.1f} s · CPU {cpu:6.1f} s · "
            f"peak RSS {peak:4.0f} MiB · {output.stat().st_size / 2**20:4.0f} MiB file · {lines[-3]}"
        )
        output.unlink()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--db", type=Path, default=Path("/tmp/reports-1m.db"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--exports",
        default="csv,jsonl,xlsx,xlsx:surveys",
        help="formats to export, FORMAT[:surveys] ('' for none)",
    )
    parser.add_argument("--no-reports", action="store_true", help="only the exports")
    args = parser.parse_args(argv)
    if not args.db.exists():
        raise SystemExit(f"{args.db} not found: create it with python -m bench.seed --db {args.db}")
    if not args.no_reports:
        asyncio.run(bench_reports(args.db, args.rounds))
    formats = [f for f in args.exports.split(",") if f]
    if formats:
        bench_exports(args.db, formats)


if __name__ == "__main__":
    main()

"""kill -9 during live conversations, the big run: the real bot in a subprocess (real Application, real
classifier, real SQLite) polling the Bot API emulator, SIGKILLed at random moments and restarted each time.

    python -m bench.bench_sigkill --customers 300 --kills 10

Prints answers sent/lost, messages delivered twice, surveys completed, the worst wait for a reply after the
bot was back, and the run's length. The CI-sized run is tests/e2e/test_sigkill.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

from tests.support.sigkill import run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--deadline", type=float, default=180.0, help="seconds allowed after the last kill")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="momento-sigkill-") as folder:
        report = asyncio.run(
            run(
                Path(folder),
                customers_count=args.customers,
                kills=args.kills,
                seed=args.seed,
                deadline=args.deadline,
            )
        )
    for key, value in asdict(report).items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()

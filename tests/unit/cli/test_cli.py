"""The `momento` command line as an operator meets it: help, check-config, init, run against the emulator."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from click.testing import CliRunner, Result

from bot.cli.main import main
from tests.support import REPO as REPO_DIR

REPO = REPO_DIR
EXAMPLE = REPO / "config.example.toml"
TOKEN = "123456:SECRET-token-value"
MOMENTO = Path(sys.executable).with_name("momento")


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------------------- help


def test_the_installed_command_lists_its_subcommands() -> None:
    shown = subprocess.run([str(MOMENTO), "--help"], capture_output=True, text=True, check=True, timeout=60)
    for command in ("run", "init", "check-config"):
        assert f"  {command}" in shown.stdout


@pytest.mark.parametrize("command", ["run", "init", "check-config"])
def test_every_subcommand_has_help(command: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output and "--help" in result.output


# -------------------------------------------------------------------------------------------- check-config


def test_check_config_prints_the_settings_with_secrets_masked() -> None:
    env = {"MOMENTO_TELEGRAM__TOKEN": TOKEN, "MOMENTO_LINKS__SIGNING_KEY": "sign-me-please"}
    result = invoke("--config", str(EXAMPLE), "check-config", env=env)
    assert result.exit_code == 0, result.output
    header, _, body = result.stdout.partition("\n")
    assert header == f"# {EXAMPLE}"
    shown = json.loads(body)
    assert shown["telegram"]["token"] == "**** (set)"
    assert shown["links"]["signing_key"] == "**** (set)"
    assert shown["telegram"]["base_url"] == "https://api.telegram.org/bot"
    assert [touchpoint["key"] for touchpoint in shown["touchpoints"]][:2] == ["purchase", "online_order"]
    assert TOKEN not in result.output and "sign-me-please" not in result.output
    assert "Configuration OK." in result.stderr


def test_config_and_secrets_may_follow_the_subcommand(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text(f"MOMENTO_TELEGRAM__TOKEN={TOKEN}\n", encoding="utf-8")
    result = invoke("check-config", "--config", str(EXAMPLE), "--secrets", str(secrets))
    assert result.exit_code == 0, result.output
    assert result.stdout.partition("\n")[0] == f"# {EXAMPLE}"
    assert json.loads(result.stdout.partition("\n")[2])["telegram"]["token"] == "**** (set)"
    assert TOKEN not in result.output


def test_nested_subcommands_accept_the_config_too(tmp_path: Path) -> None:
    result = invoke("import", "events", str(tmp_path / "none.csv"), "--config", str(tmp_path / "absent.toml"))
    assert result.exit_code != 0
    assert "absent.toml" in result.output


def test_check_config_without_a_token_fails_naming_it() -> None:
    result = invoke("--config", str(EXAMPLE), "check-config")
    assert result.exit_code != 0
    assert error_lines(result) == [
        "Error: telegram.token is missing: set MOMENTO_TELEGRAM__TOKEN in the environment or the secrets file"
    ]


def test_a_wrong_type_fails_with_one_line_naming_the_field(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[telegram]\nstaff_chat_id = "the team"\n', encoding="utf-8")
    result = invoke("--config", str(config), "check-config", env={"MOMENTO_TELEGRAM__TOKEN": TOKEN})
    assert result.exit_code != 0
    (line,) = error_lines(result)
    assert line.startswith(f"Error: {config}") and "telegram.staff_chat_id" in line
    assert result.stdout == ""


def test_a_token_in_the_config_file_is_refused_and_not_echoed(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[telegram]\ntoken = "{TOKEN}"\n', encoding="utf-8")
    result = invoke("--config", str(config), "check-config")
    assert result.exit_code != 0
    (line,) = error_lines(result)
    assert "telegram.token is a secret" in line
    assert TOKEN not in result.output


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    result = invoke("--config", str(tmp_path / "absent.toml"), "check-config")
    assert result.exit_code != 0
    (line,) = error_lines(result)
    assert "absent.toml" in line and "not found" in line


# ---------------------------------------------------------------------------------------------------- init


def test_init_creates_the_config_and_the_database_and_keeps_them_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = invoke("init")
    assert first.exit_code == 0, first.output
    config = tmp_path / "config.toml"
    database = tmp_path / "momento.db"
    assert config.read_text(encoding="utf-8") == EXAMPLE.read_text(encoding="utf-8")
    assert database.read_bytes().startswith(b"SQLite format 3\x00")
    assert "schema version" in first.stdout
    config.write_text(config.read_text(encoding="utf-8") + "\n# edited by the operator\n", encoding="utf-8")
    again = invoke("init")
    assert again.exit_code == 0, again.output
    assert "(kept)" in again.stdout
    assert config.read_text(encoding="utf-8").endswith("# edited by the operator\n")


# ----------------------------------------------------------------------------------------------------- run


class Lines:
    """Lines of a child process's output, read in a thread, awaited with a deadline."""

    def __init__(self, stream: IO[str] | None) -> None:
        assert stream is not None
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def expect(self, fragment: str, timeout: float) -> str:
        while True:
            try:
                line = self._queue.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(
                    f"{fragment!r} not seen within {timeout}s; saw: {self.seen[-20:]}"
                ) from None
            if line is None:
                raise AssertionError(f"{fragment!r} not seen before the output ended; saw: {self.seen[-20:]}")
            self.seen.append(line)
            if fragment in line:
                return line


@pytest.fixture
def standalone_emulator() -> Iterator[tuple[subprocess.Popen[str], Lines, str]]:
    """`python -m tests.fakes.bot_api --port 0` as a developer runs it; yields (process, its output, URL)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.bot_api", "--port", "0"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = Lines(process.stdout)
    try:
        banner = lines.expect("Bot API emulator at ", timeout=30)
        url = banner.split(" at ", 1)[1].split()[0]
        yield process, lines, url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def momento_run(url: str, token: str, tmp_path: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "MOMENTO_TELEGRAM__TOKEN": token,
        "MOMENTO_TELEGRAM__BASE_URL": f"{url}/bot",
        "MOMENTO_TELEGRAM__BASE_FILE_URL": f"{url}/file/bot",
        "MOMENTO_STORAGE__PATH": str(tmp_path / "momento.db"),
        "HF_HUB_OFFLINE": "1",
    }
    return subprocess.Popen(
        [str(MOMENTO), "--config", str(EXAMPLE), "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_run_answers_start_from_a_user_of_the_standalone_emulator(
    standalone_emulator: tuple[subprocess.Popen[str], Lines, str], tmp_path: Path
) -> None:
    emulator, emulator_output, url = standalone_emulator
    bot = momento_run(url, "123456:TEST", tmp_path)
    bot_output = Lines(bot.stdout)
    try:
        assert emulator.stdin is not None
        emulator.stdin.write("42 /start\n")
        emulator.stdin.flush()
        reply = emulator_output.expect("<- sendMessage to 42", timeout=120)
        assert "Hi User42!" in reply
    finally:
        bot.send_signal(signal.SIGINT)
        exit_code = bot.wait(timeout=30)
    assert exit_code == 0, bot_output.seen[-20:]


@pytest.mark.slow
def test_run_with_a_refused_token_stops_with_one_line_and_hides_the_token(
    standalone_emulator: tuple[subprocess.Popen[str], Lines, str], tmp_path: Path
) -> None:
    _, _, url = standalone_emulator
    bot = momento_run(url, "999:WRONG-secret", tmp_path)
    output, _ = bot.communicate(timeout=120)
    assert bot.returncode != 0
    assert "Error: telegram.token was refused by the Bot API" in output
    assert "WRONG-secret" not in output
    assert "Traceback" not in output

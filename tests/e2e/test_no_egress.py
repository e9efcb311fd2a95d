""" "No data leaves the server": the real `momento run` holds a conversation with the real classifier, and its
only outbound connections are to the Bot API base URL.

Two nets catch anything else: HTTP(S)_PROXY point at a local trap that records every request (ONNX
Runtime's telemetry, Hugging Face, anything that honours the proxy variables sends CONNECT there), and an
audit hook in the bot process records every socket.connect and getaddrinfo (anything that ignores them).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from tests.fakes.bot_api import BotApiEmulator
from tests.unit.cli.test_cli import EXAMPLE

pytestmark = pytest.mark.slow

# ONNX Runtime's telemetry (when not disabled) first calls out about 9 s after its first session: keep the
# bot running well past that.
RUN_FOR_SECONDS = 20.0
LOCAL_HOSTS = {"127.0.0.1", "::1", "localhost"}

BOOT = """
import json, sys
record = open(sys.argv[1], "a", buffering=1)
def audit(event, args):
    if event == "socket.connect":
        address = args[1]
        shown = address if isinstance(address, str) else list(address)[:2]
        record.write(json.dumps({"connect": shown}) + "\\n")
    elif event == "socket.getaddrinfo":
        record.write(json.dumps({"resolve": str(args[0])}) + "\\n")
sys.addaudithook(audit)
# uvloop connects in C (libuv), past the audit hook: run on the standard loop, whose connects are audited.
sys.modules["uvloop"] = None
sys.argv = ["momento", *sys.argv[2:]]
from bot.cli.main import main
main()
"""


class ProxyTrap:
    """A "proxy" on 127.0.0.1 that forwards nothing: it records each request line and answers 403."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.url = ""
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        self.requests.append(line.decode("latin-1").strip())
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_whole_conversation_connects_to_nothing_but_the_bot_api(
    bot_api: BotApiEmulator, tmp_path: Path
) -> None:
    trap = ProxyTrap()
    await trap.start()
    audit_log = tmp_path / "connections.jsonl"
    env = {name: value for name, value in os.environ.items() if name != "ORT_DISABLE_TELEMETRY"}
    env.update(
        {
            "MOMENTO_TELEGRAM__TOKEN": bot_api.token,
            "MOMENTO_TELEGRAM__BASE_URL": bot_api.base_url,
            "MOMENTO_TELEGRAM__BASE_FILE_URL": bot_api.base_file_url,
            "MOMENTO_STORAGE__PATH": str(tmp_path / "momento.db"),
            "MOMENTO_SERVER__PORT": str(_free_port()),
            **{name: trap.url for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")},
            # Only the Bot API (the emulator on 127.0.0.1) is reached directly.
            "NO_PROXY": "127.0.0.1",
            "no_proxy": "127.0.0.1",
        }
    )
    bot = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        BOOT,
        str(audit_log),
        "--config",
        str(EXAMPLE),
        "run",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await bot_api.wait_for_call("getUpdates", timeout=180)
        started = time.monotonic()
        user = bot_api.user(4242, "Ana")
        mark = len(bot_api.calls)
        user.send_command("start")
        welcome = await bot_api.wait_for_message(4242, after=mark, timeout=30)
        mark = len(bot_api.calls)
        user.press("cx:fb", message_id=welcome.message_id or 0)
        await bot_api.wait_for_message(4242, after=mark, timeout=30)
        for text in ("I expected it on Monday", "It came late and the box was crushed, I am angry"):
            mark = len(bot_api.calls)
            user.send_text(text)
            await bot_api.wait_for_message(4242, after=mark, timeout=60)
        await asyncio.sleep(max(0.0, RUN_FOR_SECONDS - (time.monotonic() - started)))
    finally:
        if bot.returncode is None:
            bot.send_signal(signal.SIGINT)
        output, _ = await asyncio.wait_for(bot.communicate(), timeout=60)
        await trap.stop()
    shown = output.decode("utf-8", "replace")
    assert bot.returncode == 0, shown[-3000:]
    assert trap.requests == [], trap.requests

    records = [json.loads(line) for line in audit_log.read_text().splitlines()]
    connects = [r["connect"] for r in records if "connect" in r]
    resolved = {r["resolve"] for r in records if "resolve" in r}
    remote = [c for c in connects if not isinstance(c, str) and c[0] not in LOCAL_HOSTS]
    assert remote == [], remote
    assert resolved <= LOCAL_HOSTS, resolved
    emulator_port = int(bot_api.base_url.rsplit(":", 1)[1].split("/", 1)[0])
    assert any(not isinstance(c, str) and c[1] == emulator_port for c in connects), connects  # the net works

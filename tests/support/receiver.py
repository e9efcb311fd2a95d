"""A webhook receiver for tests: a real HTTP server (aiohttp) that records what it accepted and can be told
to be down, answer 500, or hang."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """``mode``: "ok" (204), "fail" (500), "hang" (never answers), per path (one path per webhook)."""

    modes: dict[str, str] = field(default_factory=dict)
    accepted: dict[str, list[Received]] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{path}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        """The receiver is down: connections are refused until start() again (same port)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        self.attempts[path] = self.attempts.get(path, 0) + 1
        mode = self.modes.get(path, "ok")
        if mode == "hang":
            await asyncio.sleep(3600)
        body = await request.read()
        if mode == "fail":
            return web.Response(status=500, text="receiver broken")
        self.accepted.setdefault(path, []).append(Received(dict(request.headers), body))
        return web.Response(status=204)

    def events(self, path: str) -> list[dict[str, Any]]:
        return [r.event for r in self.accepted.get(path, [])]


async def until(check: Callable[[], Any], seconds: float, step: float = 0.05) -> None:
    """Poll *check* (a function, or a coroutine function) until it holds; AssertionError after *seconds*."""
    for _ in range(max(1, int(seconds / step))):
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        await asyncio.sleep(step)
    raise AssertionError(f"still not true after {seconds} s")

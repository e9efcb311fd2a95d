"""Pacing per chat: Telegram allows about one message a second to the same private chat."""

from __future__ import annotations

import asyncio
import time as monotonic_time
from collections.abc import Awaitable, Callable


class ChatPacer:
    """At most one message per *interval* to the same chat (Telegram's ~1/s per private chat); other
    chats are not held up. The limiter's global 30/s is AIORateLimiter's job."""

    def __init__(
        self,
        interval: float,
        *,
        monotonic: Callable[[], float] = monotonic_time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = interval
        self._monotonic = monotonic
        self._sleep = sleep
        self._next: dict[int, float] = {}
        self._lock = asyncio.Lock()

    async def wait(self, chat_id: int) -> None:
        if self._interval <= 0:
            return
        async with self._lock:
            now = self._monotonic()
            slot = max(now, self._next.get(chat_id, float("-inf")))
            self._next[chat_id] = slot + self._interval
            if len(self._next) > 10_000:
                self._next = {chat: t for chat, t in self._next.items() if t > now}
        if slot > now:
            await self._sleep(slot - now)

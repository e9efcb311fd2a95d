"""Per-chat pacing: a customer never gets two messages closer than the interval; other chats are not held."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.outreach.pacing import ChatPacer


class VirtualClock:
    """Monotonic time that only moves when someone sleeps, so the test measures the schedule, not the box."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sent: list[tuple[int, float]] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds


async def _send(pacer: ChatPacer, clock: VirtualClock, chat_id: int) -> None:
    await pacer.wait(chat_id)
    clock.sent.append((chat_id, clock.now))


async def test_messages_to_one_chat_are_spaced_by_the_interval() -> None:
    clock = VirtualClock()
    pacer = ChatPacer(1.0, monotonic=clock.monotonic, sleep=clock.sleep)
    for _ in range(3):
        await _send(pacer, clock, 42)
    times = [t for _, t in clock.sent]
    assert times == [100.0, 101.0, 102.0]


async def test_a_busy_chat_does_not_hold_up_another_chat() -> None:
    clock = VirtualClock()
    pacer = ChatPacer(1.0, monotonic=clock.monotonic, sleep=clock.sleep)
    await _send(pacer, clock, 1)
    await _send(pacer, clock, 2)  # a different customer goes out at once
    assert clock.sent == [(1, 100.0), (2, 100.0)]


async def test_a_chat_that_was_quiet_long_enough_is_not_delayed() -> None:
    clock = VirtualClock()
    pacer = ChatPacer(1.0, monotonic=clock.monotonic, sleep=clock.sleep)
    await _send(pacer, clock, 7)
    clock.now += 5.0
    await _send(pacer, clock, 7)
    assert [t for _, t in clock.sent] == [100.0, 105.0]


async def test_concurrent_sends_to_one_chat_queue_up_in_slots() -> None:
    """Several coroutines writing to one customer at once (reply + alert follow-up) each get a slot."""
    slept: list[float] = []
    pacer = ChatPacer(0.5, monotonic=lambda: 10.0, sleep=_recording_sleep(slept))
    await asyncio.gather(*(pacer.wait(9) for _ in range(4)))
    assert sorted(slept) == [0.5, 1.0, 1.5]


async def test_real_clock_spaces_two_messages_at_least_the_interval_apart() -> None:
    """The default clock and sleep: a lower bound only, so a slow machine cannot fail it."""
    loop = asyncio.get_running_loop()
    pacer = ChatPacer(0.2)
    # The first slot starts no earlier than this; timing after the first wait would count how late the box
    # was to resume this coroutine against the pacer.
    before_first = loop.time()
    await pacer.wait(5)
    await pacer.wait(5)
    assert loop.time() - before_first >= 0.19


async def test_zero_interval_never_waits() -> None:
    slept: list[float] = []
    pacer = ChatPacer(0.0, monotonic=lambda: 0.0, sleep=_recording_sleep(slept))
    for _ in range(5):
        await pacer.wait(3)
    assert slept == []


def _recording_sleep(slept: list[float]) -> Callable[[float], Awaitable[None]]:
    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    return sleep

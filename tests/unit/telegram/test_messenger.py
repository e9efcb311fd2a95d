"""Telegram's errors reach the survey engine as the port's three cases, so outreach can act on each."""

from __future__ import annotations

from typing import Any

import pytest
from telegram.error import BadRequest, Forbidden, RetryAfter, TimedOut

from bot.messaging import DeliveryUnknown, OutgoingMessage, RecipientUnreachable, RetryLater
from bot.outreach.pacing import ChatPacer
from bot.telegram.messenger import TelegramMessenger


class FailingBot:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def send_message(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (Forbidden("Forbidden: bot was blocked by the user"), RecipientUnreachable),
        (RetryAfter(7), RetryLater),
        (TimedOut(), DeliveryUnknown),  # the message may have arrived: outreach must not send it again
        (BadRequest("Bad Request: chat not found"), BadRequest),
    ],
)
async def test_telegram_errors_become_the_ports_cases(error: Exception, expected: type[Exception]) -> None:
    messenger = TelegramMessenger(FailingBot(error), ChatPacer(0))
    with pytest.raises(expected):
        await messenger.send(OutgoingMessage(42, "hello"))


async def test_retry_after_carries_the_wait() -> None:
    messenger = TelegramMessenger(FailingBot(RetryAfter(7)), ChatPacer(0))
    with pytest.raises(RetryLater) as caught:
        await messenger.send(OutgoingMessage(42, "hello"))
    assert caught.value.seconds == 7

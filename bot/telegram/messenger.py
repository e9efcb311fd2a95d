"""The engine's Messenger over PTB: paced per chat, Telegram errors translated to the port's two cases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.error import BadRequest, Forbidden, RetryAfter, TimedOut

from bot.messaging import Button, DeliveryUnknown, OutgoingMessage, RecipientUnreachable, RetryLater
from bot.outreach.pacing import ChatPacer


def keyboard(buttons: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(button.text, callback_data=button.data) for button in row] for row in buttons]
    )


def markup(
    message: OutgoingMessage,
) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None:
    """Inline buttons, or the one-tap "share my number" keyboard, or taking that keyboard away."""
    if message.contact_request:
        return ReplyKeyboardMarkup(
            [[KeyboardButton(message.contact_request, request_contact=True)]],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
    if message.remove_keyboard and not message.buttons:
        return ReplyKeyboardRemove()
    return keyboard(message.buttons)


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramMessenger:
    """Sends through the Application's bot (AIORateLimiter rides out 429s up to telegram.max_retries)."""

    def __init__(self, bot: Any, pacer: ChatPacer) -> None:
        self._bot = bot
        self._pacer = pacer

    async def send(self, message: OutgoingMessage) -> int:
        await self._pacer.wait(message.chat_id)
        try:
            sent = await self._bot.send_message(message.chat_id, message.text, reply_markup=markup(message))
        except Forbidden as exc:
            raise RecipientUnreachable(str(exc)) from exc
        except RetryAfter as exc:
            raise RetryLater(_seconds(exc.retry_after)) from exc
        except TimedOut as exc:
            raise DeliveryUnknown(str(exc)) from exc
        return int(sent.message_id)

    async def edit(
        self, chat_id: int, message_id: int, text: str | None, buttons: tuple[tuple[Button, ...], ...]
    ) -> None:
        try:
            if text is None:
                await self._bot.edit_message_reply_markup(chat_id, message_id, reply_markup=keyboard(buttons))
            else:
                await self._bot.edit_message_text(text, chat_id, message_id, reply_markup=keyboard(buttons))
        except Forbidden as exc:
            raise RecipientUnreachable(str(exc)) from exc
        except RetryAfter as exc:
            raise RetryLater(_seconds(exc.retry_after)) from exc
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise

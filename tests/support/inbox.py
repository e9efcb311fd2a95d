"""A messenger that keeps what the bot sends per chat and can be told to fail (engine, recovery tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.messaging import Button, DeliveryUnknown, OutgoingMessage, RecipientUnreachable


@dataclass
class Inbox:
    """A Messenger that keeps what it was given; chats in *blocked* answer like a blocked bot."""

    sent: list[OutgoingMessage] = field(default_factory=list)
    edits: list[tuple[int, int, str | None]] = field(default_factory=list)
    blocked: set[int] = field(default_factory=set)
    # Chats whose next message arrives but whose answer from Telegram is lost (a timeout).
    answer_lost: set[int] = field(default_factory=set)

    async def send(self, message: OutgoingMessage) -> int:
        if message.chat_id in self.blocked:
            raise RecipientUnreachable("Forbidden: bot was blocked by the user")
        self.sent.append(message)
        if message.chat_id in self.answer_lost:
            self.answer_lost.discard(message.chat_id)
            raise DeliveryUnknown("Timed out")
        return len(self.sent)

    async def edit(self, chat_id: int, message_id: int, text: str | None, buttons: Any) -> None:
        self.edits.append((chat_id, message_id, text))

    def to(self, chat_id: int) -> list[OutgoingMessage]:
        return [m for m in self.sent if m.chat_id == chat_id]

    def last(self, chat_id: int) -> OutgoingMessage:
        return self.to(chat_id)[-1]


def data_of(message: OutgoingMessage, suffix: str) -> str:
    buttons: list[Button] = [b for row in message.buttons for b in row]
    return next(b.data for b in buttons if b.data.endswith(":" + suffix))

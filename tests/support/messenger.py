"""A Messenger that keeps what it is asked to send or edit: for API tests that need the bot's recovery
(alert actions) without Telegram."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.messaging import Button, OutgoingMessage


@dataclass
class RecordingMessenger:
    sent: list[OutgoingMessage] = field(default_factory=list)
    edits: list[tuple[int, int, str | None]] = field(default_factory=list)

    async def send(self, message: OutgoingMessage) -> int:
        self.sent.append(message)
        return len(self.sent)

    async def edit(
        self, chat_id: int, message_id: int, text: str | None, buttons: tuple[tuple[Button, ...], ...]
    ) -> None:
        self.edits.append((chat_id, message_id, text))

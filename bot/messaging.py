"""The engine's port: plain dataclasses in and out, so Telegram, the offline demo and `momento chat` drive
the same dialogue (see the package docstring)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Button:
    text: str
    data: str  # callback data, at most 64 bytes


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    chat_id: int
    text: str  # HTML: anything a customer wrote is escaped before it gets here
    buttons: tuple[tuple[Button, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class Sender:
    """Who wrote: a Telegram user in their private chat (or a simulated one)."""

    user_id: int
    chat_id: int
    display_name: str | None = None
    language_code: str | None = None  # Telegram's, e.g. "es-MX"; the stored preference wins


@dataclass(frozen=True, slots=True)
class IncomingText:
    sender: Sender
    message_id: int
    text: str
    at: datetime


@dataclass(frozen=True, slots=True)
class IncomingPress:
    sender: Sender
    data: str
    message_id: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class PressResult:
    """What to show on the pressed button (a toast); ``alert`` makes it a dialog."""

    toast: str | None = None
    alert: bool = False
    extra: dict[str, str] = field(default_factory=dict)


class RecipientUnreachable(Exception):
    """The customer blocked the bot (Telegram 403): stop writing to them."""


class RetryLater(Exception):
    """Telegram asked us to slow down (429) beyond what the rate limiter rode out."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds:g} s")
        self.seconds = seconds


class DeliveryUnknown(Exception):
    """The request left but no answer came back (timed out): Telegram may or may not have the message."""


class Messenger(Protocol):
    """Delivers the engine's messages; raises RecipientUnreachable, RetryLater or DeliveryUnknown, nothing
    from Telegram."""

    async def send(self, message: OutgoingMessage) -> int:
        """Send and return the new message's id."""
        ...

    async def edit(
        self, chat_id: int, message_id: int, text: str | None, buttons: tuple[tuple[Button, ...], ...]
    ) -> None:
        """Replace a sent message's buttons, and its text unless *text* is None."""
        ...

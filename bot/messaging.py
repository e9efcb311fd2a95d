"""What every room sends and receives: messages and buttons, the messenger port, the callback-data codec.

Telegram, the offline demo and `momento chat` all drive the dialogue, outreach and recovery through these
dataclasses, so none of those rooms imports ``telegram``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, cast, get_args

from bot.config import SUPPORTED_LANGUAGES


@dataclass(frozen=True, slots=True)
class Button:
    text: str
    data: str  # callback data, at most 64 bytes


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    chat_id: int
    text: str  # HTML: anything a customer wrote is escaped before it gets here
    buttons: tuple[tuple[Button, ...], ...] = ()
    # A reply-keyboard button that shares the customer's phone number (Telegram's request_contact); never
    # with inline buttons. remove_keyboard takes such a keyboard away again.
    contact_request: str | None = None
    remove_keyboard: bool = False


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


# -- callback data ----------------------------------------------------------------------------------------
# The one codec for what buttons carry (Telegram allows 64 bytes). Everything that builds or reads a button's
# data goes through here, so a forged or garbled press is refused in one place: ids are plain ASCII digits
# that fit SQLite's 64-bit integers, actions come from closed sets.

SurveyAction = Literal["yes", "later", "never", "r1", "r2", "r3", "r4", "r5", "cb1", "cb0"]
AlertActionName = Literal["ack", "res"]
AccountActionName = Literal["fb", "lang", "stop", "del"]
SURVEY_ACTIONS: frozenset[str] = frozenset(get_args(SurveyAction))
_ID = re.compile(r"[1-9][0-9]{0,17}")  # at most 18 digits: always below 2**63
_ACCOUNT_VALUES: dict[str, frozenset[str]] = {
    "fb": frozenset({""}),
    "lang": frozenset(SUPPORTED_LANGUAGES),
    "stop": frozenset({"yes", "no"}),
    "del": frozenset({"yes", "no"}),
}


@dataclass(frozen=True, slots=True)
class SurveyPress:
    """A customer's answer button on one survey ("sv:<survey id>:<action>")."""

    survey_id: int
    action: SurveyAction


@dataclass(frozen=True, slots=True)
class AlertPress:
    """A staff button on an alert card ("al:<alert id>:<action>")."""

    alert_id: int
    action: AlertActionName


@dataclass(frozen=True, slots=True)
class AccountPress:
    """A customer's own settings button ("cx:<action>[:<value>]"): feedback, language, stop, delete."""

    action: AccountActionName
    value: str = ""


ButtonPress = SurveyPress | AlertPress | AccountPress


def encode(press: ButtonPress) -> str:
    if isinstance(press, SurveyPress):
        return f"sv:{press.survey_id}:{press.action}"
    if isinstance(press, AlertPress):
        return f"al:{press.alert_id}:{press.action}"
    return f"cx:{press.action}:{press.value}" if press.value else f"cx:{press.action}"


def decode(data: str | None) -> ButtonPress | None:
    """The press a button's data stands for, or None for anything we did not write ourselves."""
    if not data or len(data.encode("utf-8", "surrogatepass")) > 64:
        return None
    parts = data.split(":")
    if parts[0] == "sv" and len(parts) == 3 and _ID.fullmatch(parts[1]) and parts[2] in SURVEY_ACTIONS:
        return SurveyPress(int(parts[1]), cast(SurveyAction, parts[2]))
    if parts[0] == "al" and len(parts) == 3 and _ID.fullmatch(parts[1]) and parts[2] in ("ack", "res"):
        return AlertPress(int(parts[1]), cast(AlertActionName, parts[2]))
    if parts[0] == "cx" and 2 <= len(parts) <= 3 and parts[1] in _ACCOUNT_VALUES:
        value = parts[2] if len(parts) == 3 else ""
        if value in _ACCOUNT_VALUES[parts[1]]:
            return AccountPress(cast(AccountActionName, parts[1]), value)
    return None


def button(text: str, press: ButtonPress) -> Button:
    return Button(text, encode(press))

"""`momento chat`: play the customer in the terminal against the production survey engine.

A touchpoint happens, the clock jumps to the invitation, and the bot's messages are printed with their
buttons numbered (press one with ``#1``). Everything is stored and classified as in production; at the end
the answers are shown with what the model read in them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from bot.api import ingest
from bot.api.models import CustomerIn, EventIn
from bot.config import Settings
from bot.conversation.wiring import build_cx_services
from bot.demo import demo_settings
from bot.demo.outputs import plain
from bot.demo.simulation import SimClock
from bot.i18n import Catalogue, translate
from bot.messaging import Button, IncomingPress, IncomingText, OutgoingMessage, Sender
from bot.outreach.dispatch import Outreach
from sentiment import Classifier
from storage import answers as answer_repo
from storage import customers as customer_repo
from storage import surveys as survey_repo
from storage.db import Database, utcnow

YOU = 424_242
# The chat's own help, in the --language of the chat (the chat.* messages of the catalogues).
CHAT = Catalogue("chat")

ReadLine = Callable[[str], Awaitable[str | None]]
Write = Callable[[str], None]


class TerminalMessenger:
    """Prints the bot's messages; remembers the last buttons so ``#n`` can press them."""

    def __init__(self, write: Write) -> None:
        self.write = write
        self.buttons: list[Button] = []
        self.message_id = 0
        self._next_id = 0

    async def send(self, message: OutgoingMessage) -> int:
        self._next_id += 1
        if message.chat_id != YOU:
            # An alert card for the CX team: shown so you see what staff see, but its buttons are theirs.
            card = plain(message.text).replace("\n", "\n      | ")
            self.write(f"team> | (posted to the CX team's chat)\n      | {card}")
            return self._next_id
        self._show(message.text, message.buttons)
        self.message_id = self._next_id
        return self._next_id

    async def edit(
        self, chat_id: int, message_id: int, text: str | None, buttons: tuple[tuple[Button, ...], ...]
    ) -> None:
        if chat_id != YOU:
            return
        if message_id == self.message_id:
            self.buttons = [button for row in buttons for button in row]
        if text:
            self._show(text, buttons)

    def _show(self, text: str, buttons: tuple[tuple[Button, ...], ...]) -> None:
        self.write(f"bot> {plain(text)}")
        self.buttons = [button for row in buttons for button in row]
        if self.buttons:
            self.write("     " + "  ".join(f"#{n} [{b.text}]" for n, b in enumerate(self.buttons, start=1)))


async def chat(
    *,
    read_line: ReadLine,
    write: Write,
    language: str,
    touchpoint: str,
    db_path: Path,
    classifier: Classifier,
) -> int:
    """Run one conversation; returns the number of answers you gave."""
    settings = demo_settings(db_path)
    check_touchpoint(settings, touchpoint)
    known = [tp.key for tp in settings.touchpoints]
    clock = SimClock(utcnow())
    messenger = TerminalMessenger(write)
    async with await Database.open(db_path) as db:
        await ingest.sync_configured_touchpoints(db, settings)
        cx = build_cx_services(db, settings, classifier, messenger, clock=clock)
        engine, outreach = cx.engine, cx.outreach
        external_id = f"chat-{clock.now:%Y%m%d%H%M%S}"
        customer, _ = await ingest.upsert_customer(
            db, CustomerIn.model_validate({"external_id": external_id, "language": language})
        )
        await customer_repo.link_telegram(
            db, customer.id, telegram_user_id=YOU, telegram_chat_id=YOU, display_name=None, language=language
        )
        await customer_repo.grant_consent(db, customer.id)
        you = Sender(YOU, YOU, None, language)
        write(translate(CHAT, "help", language))
        await _touchpoint(db, settings, outreach, clock, write, external_id, touchpoint, 1)
        events = 1
        messages = 0
        while True:
            line = await read_line("you> ")
            if line is None or line.strip() in ("/quit", "/exit"):
                break
            text = line.strip()
            if not text:
                continue
            clock.now += timedelta(minutes=1)  # people take a moment to type
            if text == "/skip":
                await engine.on_skip(you, at=clock.now)
            elif text.startswith("/new"):
                events += 1
                key = text.removeprefix("/new").strip() or touchpoint
                if key not in known:
                    write(f"(unknown touchpoint {key!r}; choose one of {', '.join(known)})")
                    continue
                await _touchpoint(db, settings, outreach, clock, write, external_id, key, events)
            elif text.startswith("#") and text[1:].isdigit():
                number = int(text[1:])
                if not 1 <= number <= len(messenger.buttons):
                    write("(no such button)")
                    continue
                press = IncomingPress(
                    you, messenger.buttons[number - 1].data, messenger.message_id, clock.now
                )
                messages += 1
                result = await engine.on_press(press)
                if result.toast:
                    write(f"     ({plain(result.toast)})")
            else:
                messages += 1
                await engine.on_text(IncomingText(you, 10_000 + messages, text, clock.now))
            await cx.recovery.drain()  # the team's card shows right after the turn that raised it
        await cx.recovery.drain()
        await _show_answers(db, customer.id, write)
    return messages


def check_touchpoint(settings: Settings, touchpoint: str) -> None:
    """ValueError naming the choices for a touchpoint the sample map lacks (before any model loads)."""
    known = [tp.key for tp in settings.touchpoints]
    if touchpoint not in known:
        raise ValueError(f"unknown touchpoint {touchpoint!r}; choose one of {', '.join(known)}")


async def _touchpoint(
    db: Database,
    settings: Settings,
    outreach: Outreach,
    clock: SimClock,
    write: Write,
    external_id: str,
    key: str,
    number: int,
) -> None:
    """The touchpoint happens now; the clock jumps to when the invitation is due and the outreach runs."""
    event = EventIn(
        external_id=f"{external_id}-{number}",
        customer_external_id=external_id,
        touchpoint=key,
        # The chat's clock runs ahead of the wall clock (it jumped to earlier invitations), and an event in
        # the real future is refused: the touchpoint happened "now" by the wall clock at the latest.
        occurred_at=min(clock.now, utcnow()),
    )
    [result] = await ingest.ingest_events(db, settings, [event], now=clock.now)
    if result.outcome != "scheduled" or result.survey is None or result.survey.scheduled_at is None:
        write(f"(no survey for this {key}: {result.message})")
        return
    due = result.survey.scheduled_at
    write(f"(your {key} just happened; jumping {_ago(due - clock.now)} ahead to the invitation)")
    clock.now = max(clock.now, due)
    await outreach.tick()


def _ago(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if hours >= 1 else f"{delta.total_seconds() / 60:.0f} min"


async def _show_answers(db: Database, customer_id: int, write: Write) -> None:
    """What was stored and how the model read it: the same rows staff reports are built from."""
    surveys = await survey_repo.surveys_for_customer(db, customer_id)
    lines = []
    for survey in surveys:
        for answer in await answer_repo.answers_for_survey(db, survey.id):
            shown = answer.text if answer.text is not None else f"rating {answer.rating}"
            reading = ""
            if answer.analysis is not None:
                reading = f" → {answer.analysis.sentiment}, {answer.analysis.emotion}"
            lines.append(f"  {answer.question}: {shown}{reading}")
    if lines:
        write("What Momento stored from this chat (with the model's reading):")
        for line in lines:
            write(line)

"""The simulated company: customers who buy, get deliveries and call support, and answer the bot.

Everything goes through production code: customers and events through the ingestion service (as the API
would), links signed and verified as on a receipt's QR code, invitations and reminders from the outreach
clock, every answer through the survey engine, the real classifier and the real database. Only time and
Telegram are simulated: a clock that jumps an hour at a time, and a messenger that hands each message to the
simulated customer (or staff member) it was written to.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast

from bot.api import ingest
from bot.api.models import CustomerIn, EventIn
from bot.config import Settings
from bot.conversation.wiring import build_cx_services
from bot.demo import script
from bot.demo.script import DELIVERY, PURCHASE, SUPPORT, Language, Mood
from bot.messaging import Button, IncomingPress, IncomingText, OutgoingMessage, Sender, SurveyPress, decode
from sentiment import Classifier
from storage import customers as customer_repo
from storage import surveys as survey_repo
from storage import touchpoints as touchpoint_repo
from storage.db import Database

log = logging.getLogger(__name__)

STAFF_CHAT_ID = -100_500
STAFF_USER_ID = 1
FIRST_USER_ID = 700_000
STEP = timedelta(hours=1)
# A customer answers within this many rounds of one hour; more means the dialogue is stuck.
MAX_ROUNDS = 12


class SimClock:
    """The demo's "now": moved forward by the simulation, read by the engine, outreach and recovery."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Delivered:
    message_id: int
    message: OutgoingMessage


class DemoMessenger:
    """Telegram's stand-in: keeps what the bot sends per chat until the simulated person reads it."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.unread: dict[int, list[Delivered]] = {}
        self.transcripts: dict[int, list[str]] = {}
        self.sent = 0
        self._ids: Counter[int] = Counter()

    async def send(self, message: OutgoingMessage) -> int:
        self._ids[message.chat_id] += 1
        message_id = self._ids[message.chat_id]
        self.unread.setdefault(message.chat_id, []).append(Delivered(message_id, message))
        self.note(message.chat_id, "bot", message.text, message.buttons)
        self.sent += 1
        return message_id

    async def edit(
        self, chat_id: int, message_id: int, text: str | None, buttons: tuple[tuple[Button, ...], ...]
    ) -> None:
        if text:
            self.note(chat_id, "bot (edited)", text, buttons)

    def note(self, chat_id: int, who: str, text: str, buttons: tuple[tuple[Button, ...], ...] = ()) -> None:
        shown = f"[{self.clock.now:%Y-%m-%d %H:%M}] {who}: {text}"
        labels = [button.text for row in buttons for button in row]
        if labels:
            shown += "  " + " ".join(f"[{label}]" for label in labels)
        self.transcripts.setdefault(chat_id, []).append(shown)

    def take(self, chat_id: int) -> list[Delivered]:
        return self.unread.pop(chat_id, [])


@dataclass
class Persona:
    """One simulated customer and the journey they will have."""

    number: int
    external_id: str
    name: str
    language: Language
    timezone: str
    tier: str
    scans_link: bool
    journey: list[tuple[str, datetime]]
    moods: dict[str, Mood]
    patience: float  # chance of answering an invitation at all

    @property
    def user_id(self) -> int:
        return FIRST_USER_ID + self.number

    def sender(self) -> Sender:
        return Sender(self.user_id, self.user_id, self.name, self.language)


@dataclass
class DemoStats:
    customers: int = 0
    linked: int = 0
    events: int = 0
    event_outcomes: Counter[str] = field(default_factory=Counter)
    messages_from_customers: int = 0
    staff_actions: int = 0


def make_personas(rng: random.Random, count: int, *, start: datetime, days: int) -> list[Persona]:
    """Customers with a purchase, usually a delivery, and for some a support call, spread over *days*."""
    personas = []
    for number in range(count):
        language: Language = "es" if rng.random() < 0.45 else "en"
        bought = start + timedelta(days=rng.uniform(0, days - 8), hours=rng.uniform(0, 10))
        journey = [(PURCHASE, bought)]
        moods: dict[str, Mood] = {PURCHASE: script.pick_mood(rng, PURCHASE)}
        if rng.random() < 0.92:
            delivered = bought + timedelta(days=rng.uniform(1, 4))
            journey.append((DELIVERY, delivered))
            moods[DELIVERY] = script.pick_mood(rng, DELIVERY, grumpy=moods[PURCHASE] == "bad")
            needs_help = moods[DELIVERY] == "bad" or moods[PURCHASE] == "bad"
            if rng.random() < (0.7 if needs_help else 0.08):
                journey.append((SUPPORT, delivered + timedelta(days=rng.uniform(0.2, 3))))
                moods[SUPPORT] = script.pick_mood(rng, SUPPORT, grumpy=needs_help)
        personas.append(
            Persona(
                number=number,
                external_id=f"demo-{number:05d}",
                name=rng.choice(script.FIRST_NAMES[language]),
                language=language,
                timezone=rng.choice(script.TIME_ZONES[language]),
                tier=rng.choices(("standard", "gold", "platinum"), weights=(70, 22, 8))[0],
                scans_link=rng.random() < 0.9,
                journey=journey,
                moods=moods,
                patience=rng.uniform(0.75, 0.98),
            )
        )
    return personas


class Simulation:
    """Runs the personas' journeys hour by hour from *start* to *end* against the real engine."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        classifier: Classifier,
        personas: list[Persona],
        *,
        start: datetime,
        end: datetime,
        seed: int,
    ) -> None:
        self.db = db
        self.settings = settings
        self.personas = personas
        self.by_user = {persona.user_id: persona for persona in personas}
        self.clock = SimClock(start)
        self.end = end
        self.rng = random.Random(seed)
        self.messenger = DemoMessenger(self.clock)
        self.cx = build_cx_services(db, settings, classifier, self.messenger, clock=self.clock)
        self.engine = self.cx.engine
        self.outreach = self.cx.outreach
        self.stats = DemoStats(customers=len(personas))
        self._customer_ids: dict[str, int] = {}
        self._ignored: set[int] = set()
        self._followup_moods: dict[int, Mood] = {}
        self._staff_due: list[tuple[datetime, str]] = []

    async def run(self, progress: Callable[[int, int], None] | None = None) -> DemoStats:
        timeline = sorted(
            ((at, persona, key) for persona in self.personas for key, at in persona.journey),
            key=lambda item: item[0],
        )
        await self._create_customers()
        hours = int((self.end - self.clock.now) / STEP)
        position = 0
        for hour in range(hours):
            self.clock.now += STEP
            due = []
            while position < len(timeline) and timeline[position][0] <= self.clock.now:
                due.append(timeline[position])
                position += 1
            await self._happen(due)
            await self.outreach.tick()
            await self._converse()
            await self._staff_work()
            if progress is not None:
                progress(hour + 1, hours)
        return self.stats

    async def _create_customers(self) -> None:
        """The company's CRM sends its customers, as POST /v1/customers would."""
        for persona in self.personas:
            data = CustomerIn(
                external_id=persona.external_id,
                name=persona.name,
                language=persona.language,
                timezone=persona.timezone,
                tier=persona.tier,
            )
            customer, _ = await ingest.upsert_customer(self.db, data)
            self._customer_ids[persona.external_id] = customer.id

    async def _happen(self, due: list[tuple[datetime, Persona, str]]) -> None:
        """Touchpoints that just happened: a first purchase comes with a receipt whose QR code some scan."""
        for _, persona, key in due:
            if key == PURCHASE and persona.scans_link:
                await self._scan_receipt(persona)
        events = [
            EventIn(
                external_id=f"{persona.external_id}-{key}",
                customer_external_id=persona.external_id,
                touchpoint=key,
                occurred_at=at,
                attributes=self._attributes(persona, key),
            )
            for at, persona, key in due
        ]
        if not events:
            return
        results = await ingest.ingest_events(self.db, self.settings, events, now=self.clock.now)
        self.stats.events += len(results)
        self.stats.event_outcomes.update(result.reason or result.outcome for result in results)

    def _attributes(self, persona: Persona, key: str) -> dict[str, str | int | float | bool | None]:
        if key == PURCHASE:
            return {"order_id": f"W-{10_000 + persona.number}", "amount": round(self.rng.uniform(15, 240), 2)}
        if key == DELIVERY:
            return {
                "order_id": f"W-{10_000 + persona.number}",
                "carrier": self.rng.choice(("Rápido", "ParcelGo")),
            }
        return {"agent": self.rng.choice(("Sofía", "Tom", "Lina", "Marc")), "queue": "orders"}

    async def _scan_receipt(self, persona: Persona) -> None:
        """The signed link is made, verified and attaches the chat, as /start <payload> does in the bot."""
        customer = await customer_repo.get_customer(self.db, self._customer_ids[persona.external_id])
        if customer is None or customer.telegram_chat_id is not None:
            return
        link = ingest.customer_link(
            self.settings, customer, bot_username="momento_demo_bot", now=self.clock.now
        )
        await self.cx.accounts.link(persona.sender(), link.payload)
        self.messenger.note(persona.user_id, persona.name, f"/start {link.payload}")
        self.stats.linked += 1

    async def _converse(self) -> None:
        """Everyone with unread messages answers; rounds repeat until nobody has anything left to say."""
        for _ in range(MAX_ROUNDS):
            chats = [chat for chat in self.messenger.unread if chat in self.by_user]
            if not chats:
                return
            # Concurrently, as real customers do, so the classifier batches their answers.
            await asyncio.gather(*(self._reply(self.by_user[chat]) for chat in chats))
        stuck = [chat for chat in self.messenger.unread if chat in self.by_user]
        if stuck:
            log.warning("%d simulated dialogue(s) did not settle within %d rounds", len(stuck), MAX_ROUNDS)
            for chat in stuck:
                self.messenger.take(chat)

    async def _reply(self, persona: Persona) -> None:
        delivered = self.messenger.take(persona.user_id)
        if not delivered:
            return
        last = delivered[-1]
        at = self.clock.now + timedelta(minutes=self.rng.uniform(1, 50))
        data = [button.data for row in last.message.buttons for button in row]
        if any(value.endswith(":yes") for value in data):
            await self._invitation(persona, last, data, at)
            return
        if any(value.endswith(":r5") for value in data):
            await self._rating(persona, last, data, at)
            return
        if any(value.endswith(":cb1") for value in data):
            wants = self.rng.random() < 0.45
            await self._press(
                persona, last, next(v for v in data if v.endswith(":cb1" if wants else ":cb0")), at
            )
            return
        customer_id = self._customer_ids[persona.external_id]
        survey = await survey_repo.active_survey_for_customer(self.db, customer_id)
        if (
            survey is None
            or survey.status != "in_progress"
            or survey.step
            not in (
                "expectation",
                "experience",
                "improvement",
            )
        ):
            return
        key = await touchpoint_repo.touchpoint_key(self.db, survey.touchpoint_id)
        if survey.kind == "recovery_followup":
            mood = self._followup_mood(survey.id)
            step = "followup" if survey.step == "experience" else cast(script.Step, survey.step)
            text = script.answer(self.rng, step, key, mood, persona.language)
        else:
            mood = persona.moods.get(key or "", "mixed")
            text = script.answer(self.rng, cast(script.Step, survey.step), key, mood, persona.language)
            if survey.step == "experience" and self.rng.random() < 0.15:
                # Some people answer two questions in one message ("came late, 2/5").
                text += " " + script.typed_rating(
                    self.rng, script.rating_for(self.rng, mood), persona.language
                )
        await self._say(persona, text, at)

    def _followup_mood(self, survey_id: int) -> Mood:
        """How a recovered customer feels now: mostly better, decided once per follow-up survey."""
        if survey_id not in self._followup_moods:
            choice: Mood = self.rng.choices(("good", "mixed", "bad"), weights=(65, 20, 15))[0]
            self._followup_moods[survey_id] = choice
        return self._followup_moods[survey_id]

    async def _invitation(self, persona: Persona, last: Delivered, data: list[str], at: datetime) -> None:
        press = decode(data[0])
        assert isinstance(press, SurveyPress)
        survey_id = press.survey_id
        if survey_id in self._ignored and self.rng.random() < 0.5:
            return  # the reminder is ignored too
        roll = self.rng.random()
        if roll > persona.patience:
            self._ignored.add(survey_id)
            return
        choice = "yes" if roll < persona.patience - 0.06 else self.rng.choice(("later", "never"))
        await self._press(persona, last, next(v for v in data if v.endswith(f":{choice}")), at)

    async def _rating(self, persona: Persona, last: Delivered, data: list[str], at: datetime) -> None:
        customer_id = self._customer_ids[persona.external_id]
        survey = await survey_repo.active_survey_for_customer(self.db, customer_id)
        key = await touchpoint_repo.touchpoint_key(self.db, survey.touchpoint_id) if survey else None
        if survey is not None and survey.kind == "recovery_followup":
            mood = self._followup_mood(survey.id)
        else:
            mood = persona.moods.get(key or "", "mixed")
        rating = script.rating_for(self.rng, mood)
        if self.rng.random() < 0.7:
            await self._press(persona, last, next(v for v in data if v.endswith(f":r{rating}")), at)
        else:
            await self._say(persona, script.typed_rating(self.rng, rating, persona.language), at)

    async def _press(self, persona: Persona, last: Delivered, value: str, at: datetime) -> None:
        label = next(b.text for row in last.message.buttons for b in row if b.data == value)
        self.messenger.note(persona.user_id, persona.name, f"(presses [{label}])")
        self.stats.messages_from_customers += 1
        await self.engine.on_press(IncomingPress(persona.sender(), value, last.message_id, at))

    async def _say(self, persona: Persona, text: str, at: datetime) -> None:
        self.messenger.note(persona.user_id, persona.name, text)
        self.stats.messages_from_customers += 1
        message_id = 100_000 + self.stats.messages_from_customers
        await self.engine.on_text(IncomingText(persona.sender(), message_id, text, at))

    async def _staff_work(self) -> None:
        """The CX team reads alert cards, acknowledges most within hours and resolves most within days."""
        for delivered in self.messenger.take(STAFF_CHAT_ID):
            for row in delivered.message.buttons:
                for button in row:
                    if button.data.endswith(":ack") and self.rng.random() < 0.8:
                        due = self.clock.now + timedelta(hours=self.rng.uniform(0.2, 6))
                        self._staff_due.append((due, button.data))
                    elif button.data.endswith(":res") and self.rng.random() < 0.7:
                        due = self.clock.now + timedelta(hours=self.rng.uniform(3, 72))
                        self._staff_due.append((due, button.data))
        ready = [item for item in self._staff_due if item[0] <= self.clock.now]
        self._staff_due = [item for item in self._staff_due if item[0] > self.clock.now]
        for _, value in sorted(ready):
            await self.cx.recovery.on_press(STAFF_USER_ID, value)
            self.stats.staff_actions += 1


def demo_window(days: int, *, now: datetime | None = None) -> tuple[datetime, datetime]:
    """From *days* ago (on the hour) to now: reports over the last 30 days then see a full month."""
    end = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    return end - timedelta(days=days), end

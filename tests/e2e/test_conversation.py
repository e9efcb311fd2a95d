"""The conversation end to end: the real Application, the emulator over HTTP, the real classifier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.handlers.conversation import engine_of, outreach_of
from bot.links import make_start_payload
from bot.outreach import schedule_survey
from bot.services import services
from storage import answers, customers, events, surveys, touchpoints
from storage.models import Customer, Survey
from tests.conftest import STAFF_CHAT_ID, AppRunner, SettingsFactory
from tests.fakes.bot_api import BotApiEmulator, RecordedCall

pytestmark = pytest.mark.slow

NOON = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
SUPPORT_TEAM_CHAT = -100200
TOUCHPOINTS = [
    {
        "key": "delivery",
        "names": {"en": "delivery", "es": "entrega"},
        "weight": 1.5,
        "invite_delay": "2h",
        "reminder_delay": "1d",
        "expiry": "3d",
    },
    {
        "key": "support_call",
        "names": {"en": "support call", "es": "llamada al servicio de atención"},
        "weight": 2.0,
        "invite_delay": "30m",
        "team_chat_id": SUPPORT_TEAM_CHAT,
        "texts": {"en": {"experience": "And how did the call actually go?"}},
    },
]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def settings(settings_factory: SettingsFactory) -> Any:
    return settings_factory(
        touchpoints=TOUCHPOINTS,
        links={"signing_key": "test-signing-key"},
        survey={"tick_interval": "1h"},  # tests drive the clock themselves
    )


@pytest.fixture
async def app(running_app: AppRunner, settings: Any, classifier: Any) -> Any:
    application = await running_app(settings, classifier=classifier)
    clock = Clock(NOON)
    outreach_of(application).clock = clock
    application.bot_data["test.clock"] = clock
    return application


async def link(app: Any, bot_api: BotApiEmulator, user_id: int, external_id: str, language: str = "en") -> Customer:
    """The customer scans their receipt's QR code: /start with a signed payload."""
    db = services(app).db
    customer = await customers.upsert_customer(db, external_id, display_name=None, tier="gold")
    payload = make_start_payload(services(app).settings.links.signing_key, customer.id, ttl=timedelta(days=1))
    mark = len(bot_api.calls)
    bot_api.user(user_id, "Ana" if language == "en" else "Lucía", language_code=language).send_command("start", payload)
    await bot_api.wait_for_message(user_id, after=mark)
    linked = await customers.get_customer(db, customer.id)
    assert linked is not None and linked.telegram_chat_id == user_id
    return linked


async def event(app: Any, customer: Customer, key: str, occurred: datetime, external_id: str) -> Any:
    db = services(app).db
    touchpoint = await touchpoints.get_touchpoint(db, key)
    assert touchpoint is not None
    recorded, _ = await events.record_event(
        db, external_id=external_id, customer_id=customer.id, touchpoint_id=touchpoint.id,
        occurred_at=occurred, attributes={},
    )
    return recorded


async def invite(app: Any, bot_api: BotApiEmulator, customer: Customer, key: str = "delivery") -> RecordedCall:
    """An event two hours ago; the clock's tick sends the invitation now."""
    scheduled = await schedule_survey(
        services(app).db, services(app).settings,
        event=await event(app, customer, key, NOON - timedelta(hours=2), f"{customer.external_id}-{key}"),
        now=NOON - timedelta(hours=2),
    )
    assert scheduled.scheduled, scheduled
    mark = len(bot_api.calls)
    await outreach_of(app).tick()
    assert customer.telegram_chat_id is not None
    return await bot_api.wait_for_message(customer.telegram_chat_id, after=mark)


async def say(bot_api: BotApiEmulator, user_id: int, text: str) -> RecordedCall:
    mark = len(bot_api.calls)
    bot_api._users[user_id].send_text(text)
    return await bot_api.wait_for_message(user_id, after=mark, timeout=15)


async def press(bot_api: BotApiEmulator, user_id: int, message: RecordedCall, data: str) -> RecordedCall:
    mark = len(bot_api.calls)
    assert message.message_id is not None
    bot_api._users[user_id].press(data, message_id=message.message_id)
    return await bot_api.wait_for_call(
        "sendMessage", lambda call: call.chat_id == user_id, timeout=15, after=mark
    )


def action(message: RecordedCall, suffix: str) -> str:
    return next(data for data in message.button_data() if data.endswith(":" + suffix))


async def only_survey(app: Any, customer: Customer) -> Survey:
    found = await surveys.surveys_for_customer(services(app).db, customer.id)
    assert len(found) == 1
    return found[0]


async def test_full_english_survey_from_event_to_classified_answers(app: Any, bot_api: BotApiEmulator) -> None:
    customer = await link(app, bot_api, 42, "c-42")
    invitation = await invite(app, bot_api, customer)
    assert "Thanks for your recent delivery" in (invitation.plain_text or "")
    assert invitation.button_texts() == ["Sure", "Not now", "Don't ask me again"]

    expectation_q = await press(bot_api, 42, invitation, action(invitation, "yes"))
    assert "what were you expecting" in (expectation_q.plain_text or "")
    experience_q = await say(bot_api, 42, "I hoped it would arrive before noon, well packed.")
    assert "how did it actually go" in (experience_q.plain_text or "")
    rating_q = await say(bot_api, 42, "It came early and the driver was lovely. Great service, thank you!")
    assert rating_q.button_texts() == ["1", "2", "3", "4", "5"]
    thanks = await press(bot_api, 42, rating_q, action(rating_q, "r5"))
    assert "Thank you so much" in (thanks.plain_text or "")

    survey = await only_survey(app, customer)
    assert survey.status == "completed"
    stored = {a.question: a for a in await answers.answers_for_survey(services(app).db, survey.id)}
    assert stored["rating"].rating == 5
    assert stored["expectation"].text == "I hoped it would arrive before noon, well packed."
    for question in ("expectation", "experience"):
        assert stored[question].analysis_state == "done"
        assert stored[question].analysis is not None
    assert stored["experience"].analysis is not None and stored["experience"].analysis.sentiment == "positive"
    assert not bot_api.messages_to(STAFF_CHAT_ID)  # a happy customer raises no alert


async def test_full_spanish_survey_in_one_message_and_a_rating_word(app: Any, bot_api: BotApiEmulator) -> None:
    customer = await link(app, bot_api, 43, "c-43", language="es")
    invitation = await invite(app, bot_api, customer)
    assert "Gracias por tu reciente entrega" in (invitation.plain_text or "")
    expectation_q = await press(bot_api, 43, invitation, action(invitation, "yes"))
    assert "¿qué esperabas" in (expectation_q.plain_text or "")
    # Expectation and experience in one message: the bot doesn't re-ask either.
    rating_q = await say(bot_api, 43, "Esperaba recibirlo el lunes, pero llegó el miércoles y sin avisar.")
    assert "del 1 (mal) al 5" in (rating_q.plain_text or "")
    followup = await say(bot_api, 43, "cuatro")
    survey = await only_survey(app, customer)
    stored = {a.question: a for a in await answers.answers_for_survey(services(app).db, survey.id)}
    assert stored["expectation"].text == "Esperaba recibirlo el lunes"
    assert stored["experience"].text == "llegó el miércoles y sin avisar."
    assert stored["rating"].rating == 4
    assert all(stored[q].analysis is not None for q in ("expectation", "experience"))
    assert survey.language == "es"
    assert followup.plain_text  # thanks, or the improvement question if the model read it as negative

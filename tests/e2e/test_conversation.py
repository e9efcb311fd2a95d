"""The conversation end to end: the real Application, the emulator over HTTP, the real classifier."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.accounts.links import make_start_payload
from bot.outreach.scheduling import schedule_survey
from bot.telegram.services import services
from storage import answers, customers, events, surveys, touchpoints
from storage.models import Customer, Survey
from tests.conftest import STAFF_CHAT_ID, AppRunner, SettingsFactory
from tests.fakes.bot_api import BotApiEmulator, RecordedCall
from tests.support.postgres import BOTH_ENGINES

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
async def app(running_app: AppRunner, settings: Any, classifier: Any) -> AsyncIterator[Any]:
    application = await start_at(running_app, settings, classifier, Clock(NOON))
    yield application
    # Stop every Application before the lent classifier closes: answers are classified after the reply, so
    # a handler may still be waiting for the model when the test ends.
    await running_app.stop_all()


async def start_at(running_app: AppRunner, settings: Any, classifier: Any, clock: Clock) -> Any:
    """Start the Application with its outreach clock at the test's time, before the first tick (0.1 s
    after start) can look at the surveys with today's real date and expire them all."""
    application = await running_app(settings, classifier=classifier)
    services(application).outreach.clock = clock
    return application


async def link(
    app: Any, bot_api: BotApiEmulator, user_id: int, external_id: str, language: str = "en"
) -> Customer:
    """The customer scans their receipt's QR code: /start with a signed payload."""
    db = services(app).db
    customer = await customers.upsert_customer(db, external_id, display_name=None, tier="gold")
    payload = make_start_payload(services(app).settings.links.signing_key, customer.id, ttl=timedelta(days=1))
    mark = len(bot_api.calls)
    bot_api.user(user_id, "Ana" if language == "en" else "Lucía", language_code=language).send_command(
        "start", payload
    )
    await bot_api.wait_for_message(user_id, after=mark)
    linked = await customers.get_customer(db, customer.id)
    assert linked is not None and linked.telegram_chat_id == user_id
    return linked


async def event(app: Any, customer: Customer, key: str, occurred: datetime, external_id: str) -> Any:
    db = services(app).db
    touchpoint = await touchpoints.get_touchpoint(db, key)
    assert touchpoint is not None
    recorded, _ = await events.record_event(
        db,
        external_id=external_id,
        customer_id=customer.id,
        touchpoint_id=touchpoint.id,
        occurred_at=occurred,
        attributes={},
    )
    return recorded


async def invite(
    app: Any, bot_api: BotApiEmulator, customer: Customer, key: str = "delivery"
) -> RecordedCall:
    """An event two hours ago; the clock's tick sends the invitation now."""
    scheduled = await schedule_survey(
        services(app).db,
        services(app).settings,
        event=await event(app, customer, key, NOON - timedelta(hours=2), f"{customer.external_id}-{key}"),
        now=NOON - timedelta(hours=2),
    )
    assert scheduled.scheduled, scheduled
    mark = len(bot_api.calls)
    await services(app).outreach.tick()
    assert customer.telegram_chat_id is not None
    return await bot_api.wait_for_message(customer.telegram_chat_id, after=mark)


async def say(bot_api: BotApiEmulator, user_id: int, text: str) -> RecordedCall:
    mark = len(bot_api.calls)
    bot_api.users[user_id].send_text(text)
    return await bot_api.wait_for_call(
        "sendMessage", lambda call: call.chat_id == user_id, timeout=15, after=mark
    )


async def press(bot_api: BotApiEmulator, user_id: int, message: RecordedCall, data: str) -> RecordedCall:
    mark = len(bot_api.calls)
    assert message.message_id is not None
    bot_api.users[user_id].press(data, message_id=message.message_id)
    return await bot_api.wait_for_call(
        "sendMessage", lambda call: call.chat_id == user_id, timeout=15, after=mark
    )


def action(message: RecordedCall, suffix: str) -> str:
    return next(data for data in message.button_data() if data.endswith(":" + suffix))


async def only_survey(app: Any, customer: Customer) -> Survey:
    found = await surveys.surveys_for_customer(services(app).db, customer.id)
    assert len(found) == 1
    return found[0]


@BOTH_ENGINES
async def test_full_english_survey_from_event_to_classified_answers(
    app: Any, bot_api: BotApiEmulator
) -> None:
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


@BOTH_ENGINES
async def test_full_spanish_survey_in_one_message_and_a_rating_word(
    app: Any, bot_api: BotApiEmulator
) -> None:
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


@BOTH_ENGINES
async def test_negative_experience_alerts_the_owning_team_and_only_staff_can_act(
    app: Any, bot_api: BotApiEmulator
) -> None:
    customer = await link(app, bot_api, 44, "c-44")
    invitation = await invite(app, bot_api, customer, "support_call")
    await press(bot_api, 44, invitation, action(invitation, "yes"))
    experience_q = await say(bot_api, 44, "I expected someone to fix my <broken> router")
    assert experience_q.plain_text == "And how did the call actually go?"  # the company's own wording
    mark = len(bot_api.calls)
    improvement_q = await say(bot_api, 44, "Nobody helped & I was put on hold for an hour. Useless. 1/5")
    assert "What could we have done better" in (improvement_q.plain_text or "")

    card = await bot_api.wait_for_message(SUPPORT_TEAM_CHAT, after=mark, timeout=5)
    text = card.plain_text or ""
    assert "Customer: Ana (gold)" in text and "Touchpoint: support call" in text
    assert "Rating: 1/5" in text and "Sentiment: negative" in text
    assert "Nobody helped & I was put on hold" in text and "<broken>" in text  # escaped, shown verbatim
    assert not bot_api.messages_to(STAFF_CHAT_ID)  # the support team's chat, not the general staff chat

    callback_q = await say(bot_api, 44, "Answer the phone and actually fix things.")
    assert callback_q.button_texts() == ["Yes, please", "No, thanks"]
    thanks = await press(bot_api, 44, callback_q, action(callback_q, "cb1"))
    # What happens next, and a one-tap contact button (never required); no "have a great day" here.
    assert "Someone from our team will contact you soon about your support call" in (thanks.plain_text or "")
    assert "Have a great day" not in (thanks.plain_text or "")
    markup = thanks.reply_markup or {}
    assert markup["keyboard"][0][0]["request_contact"] is True
    mark = len(bot_api.calls)
    bot_api.users[44].share_contact("+34 600 111 222")
    saved = await bot_api.wait_for_call("sendMessage", lambda c: c.chat_id == 44, after=mark)
    assert "has your number" in (saved.plain_text or "")
    assert (saved.reply_markup or {}).get("remove_keyboard") is True
    shown = await bot_api.wait_for_call(
        "editMessageText",
        lambda c: c.chat_id == SUPPORT_TEAM_CHAT and "+34 600 111 222" in (c.plain_text or ""),
        after=mark,
    )
    assert "Asked to be contacted" in (shown.plain_text or "")

    # A customer who somehow presses the card's button is refused; staff can act.
    ack = next(data for data in card.button_data() if data.endswith(":ack"))
    mark = len(bot_api.calls)
    assert card.message_id is not None
    query = bot_api.user(44).press(ack, message_id=card.message_id, chat_id=SUPPORT_TEAM_CHAT)
    refusal = await bot_api.wait_for_call(
        "answerCallbackQuery", lambda c: c.params.get("callback_query_id") == query, after=mark
    )
    assert "Only the team" in str(refusal.params.get("text"))
    db = services(app).db
    survey = await only_survey(app, customer)
    from storage import alerts

    alert = await alerts.alert_for_survey(db, survey.id)
    assert alert is not None and alert.status == "open" and alert.callback_requested
    mark = len(bot_api.calls)
    bot_api.user(900, "Admin").press(ack, message_id=card.message_id, chat_id=SUPPORT_TEAM_CHAT)
    edited = await bot_api.wait_for_call(
        "editMessageText", lambda c: c.chat_id == SUPPORT_TEAM_CHAT, after=mark
    )
    assert "acknowledged" in (edited.plain_text or "")
    alert = await alerts.alert_for_survey(db, survey.id)
    assert alert is not None and alert.status == "acknowledged" and alert.assignee_user_id == 900


@BOTH_ENGINES
async def test_restart_mid_survey_resumes_at_the_same_step(
    app: Any, bot_api: BotApiEmulator, running_app: AppRunner, settings: Any, classifier: Any
) -> None:
    customer = await link(app, bot_api, 45, "c-45")
    invitation = await invite(app, bot_api, customer)
    await press(bot_api, 45, invitation, action(invitation, "yes"))
    await say(bot_api, 45, "A quick delivery.")
    clock = services(app).outreach.clock
    await running_app.stop(app)

    # The restarted bot keeps the test's time: with today's date its first tick would expire the survey.
    second = await start_at(running_app, settings, classifier, clock)
    rating_q = await say(bot_api, 45, "It was quick indeed, no complaints.")
    assert "rate it from 1" in (rating_q.plain_text or "")
    survey = await only_survey(second, customer)
    assert survey.step == "rating" and survey.status == "in_progress"
    assert {a.question for a in await answers.answers_for_survey(services(second).db, survey.id)} == {
        "expectation",
        "experience",
    }


@BOTH_ENGINES
async def test_quiet_hours_and_frequency_cap(app: Any, bot_api: BotApiEmulator) -> None:
    db, settings = services(app).db, services(app).settings
    customer = await link(app, bot_api, 46, "c-46")
    await customers.set_timezone(db, customer.id, "Europe/Madrid")
    late = datetime(2026, 5, 4, 18, 30, tzinfo=UTC)  # delivered 20:30 Madrid; +2 h = 22:30, quiet
    result = await schedule_survey(
        db, settings, event=await event(app, customer, "delivery", late, "q1"), now=late
    )
    assert result.scheduled_at == datetime(2026, 5, 5, 7, 0, tzinfo=UTC)  # 09:00 Madrid
    clock: Clock = services(app).outreach.clock
    clock.now = datetime(2026, 5, 5, 2, 0, tzinfo=UTC)
    await services(app).outreach.tick()
    assert not [m for m in bot_api.messages_to(46) if "Thanks for your recent" in (m.plain_text or "")]

    clock.now = datetime(2026, 5, 5, 7, 1, tzinfo=UTC)
    mark = len(bot_api.calls)
    await services(app).outreach.tick()
    invitation = await bot_api.wait_for_message(46, after=mark)
    assert "Thanks for your recent delivery" in (invitation.plain_text or "")

    # Two days later another delivery: within the 14-day cap, so nobody writes to the customer again.
    later = clock.now + timedelta(days=2)
    capped = await schedule_survey(
        db, settings, event=await event(app, customer, "delivery", later, "q2"), now=later
    )
    assert not capped.scheduled and capped.reason == "frequency_cap"
    clock.now = later + timedelta(hours=3)
    await services(app).outreach.tick()
    invitations = [m for m in bot_api.messages_to(46) if "Thanks for your recent" in (m.plain_text or "")]
    assert len(invitations) == 1


@BOTH_ENGINES
async def test_failure_between_send_and_acknowledgement_neither_loses_nor_doubles(
    app: Any, bot_api: BotApiEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage import outreach as outreach_repo

    db, settings = services(app).db, services(app).settings
    first = await link(app, bot_api, 47, "c-47")
    second = await link(app, bot_api, 48, "c-48")
    for customer in (first, second):
        await schedule_survey(
            db,
            settings,
            event=await event(app, customer, "delivery", NOON - timedelta(hours=3), customer.external_id),
            now=NOON,
        )
    # A dead dispatcher claimed the first customer's invitation and never sent it.
    await outreach_repo.claim_due_invitations(db, now=NOON, lease=timedelta(minutes=2), limit=1)
    real_ack = outreach_repo.acknowledge_invitation
    failures = {"left": 1}

    async def flaky_ack(*args: Any, **kwargs: Any) -> Any:
        if failures["left"]:
            failures["left"] -= 1
            raise OSError("disk full")  # the database refuses the write right after Telegram took the message
        return await real_ack(*args, **kwargs)

    monkeypatch.setattr(outreach_repo, "acknowledge_invitation", flaky_ack)
    clock: Clock = services(app).outreach.clock
    for minutes in (0, 1, 3, 5, 10):
        clock.now = NOON + timedelta(minutes=minutes)
        await services(app).outreach.tick()
    for customer in (first, second):
        invitations = [
            m
            for m in bot_api.messages_to(customer.telegram_chat_id or 0)
            if m.method == "sendMessage" and "Thanks for your recent" in (m.plain_text or "")
        ]
        assert len(invitations) == 1, customer.external_id
        assert (await only_survey(app, customer)).status == "invited"


@BOTH_ENGINES
async def test_invitation_telegram_answers_too_late_is_never_sent_twice_and_the_reminder_asks(
    app: Any, bot_api: BotApiEmulator
) -> None:
    """Telegram takes the invitation but answers after PTB's 5 s read timeout: the bot cannot know it
    arrived, so it never sends it again; the reminder, with the same buttons, carries the survey on."""
    customer = await link(app, bot_api, 49, "c-49")
    await schedule_survey(
        services(app).db,
        services(app).settings,
        event=await event(app, customer, "delivery", NOON - timedelta(hours=3), "c-49-delivery"),
        now=NOON,
    )
    mark = len(bot_api.calls)
    bot_api.delay_next("sendMessage", 6.0, handled_first=True)
    report = await services(app).outreach.tick()
    assert report.unconfirmed == 1 and report.invited == 0
    invitation = await bot_api.wait_for_message(49, after=mark, timeout=10)  # it did arrive, late
    survey = await only_survey(app, customer)
    assert survey.status == "invited" and survey.invitation_message_id is None

    clock: Clock = services(app).outreach.clock
    clock.now = NOON + timedelta(minutes=10)
    await services(app).outreach.tick()
    sure = action(invitation, "yes")
    offers = [m for m in bot_api.messages_to(49) if m.method == "sendMessage" and sure in m.button_data()]
    assert offers == [invitation]  # the late invitation was not sent again

    clock.now = NOON + timedelta(days=1, minutes=1)
    mark = len(bot_api.calls)
    await services(app).outreach.tick()
    reminder = await bot_api.wait_for_message(49, after=mark)
    assert action(reminder, "yes") == sure
    question = await press(bot_api, 49, reminder, sure)
    assert "what were you expecting" in (question.plain_text or "")


@BOTH_ENGINES
async def test_blocked_customer_becomes_unreachable_and_429_is_ridden_out(
    app: Any, bot_api: BotApiEmulator
) -> None:
    db, settings = services(app).db, services(app).settings
    blocked = await link(app, bot_api, 49, "c-49")
    bot_api.block_chat(49)
    await schedule_survey(db, settings, event=await event(app, blocked, "delivery", NOON, "b1"), now=NOON)
    clock: Clock = services(app).outreach.clock
    clock.now = NOON + timedelta(hours=2)
    await services(app).outreach.tick()
    stored = await customers.get_customer(db, blocked.id)
    assert stored is not None and stored.unreachable_at is not None
    assert (await only_survey(app, blocked)).status == "failed"
    later = await schedule_survey(
        db, settings, event=await event(app, blocked, "delivery", clock.now, "b2"), now=clock.now
    )
    assert later.reason == "unreachable"

    busy = await link(app, bot_api, 50, "c-50")
    await schedule_survey(
        db, settings, event=await event(app, busy, "delivery", clock.now, "r1"), now=clock.now
    )
    clock.now += timedelta(hours=2)
    bot_api.fail_next("sendMessage", status=429, retry_after=1, chat_id=50)
    mark = len(bot_api.calls)
    await services(app).outreach.tick()
    invitation = await bot_api.wait_for_message(50, after=mark, contains="Thanks for your recent")
    assert invitation.ok
    assert [c.status for c in bot_api.calls[mark:] if c.method == "sendMessage" and c.chat_id == 50] == [
        429,
        200,
    ]


@BOTH_ENGINES
async def test_forged_or_expired_deep_link_links_nothing(app: Any, bot_api: BotApiEmulator) -> None:
    db = services(app).db
    victim = await customers.upsert_customer(db, "victim")
    key = services(app).settings.links.signing_key
    genuine = make_start_payload(key, victim.id, ttl=timedelta(days=1))
    forged = make_start_payload(key, victim.id + 1, ttl=timedelta(days=1))[:-22] + genuine[-22:]
    expired = make_start_payload(key, victim.id, ttl=timedelta(days=1), now=datetime(2020, 1, 1, tzinfo=UTC))
    for n, payload in enumerate((forged, expired, "garbage")):
        mark = len(bot_api.calls)
        bot_api.user(60 + n, "Mallory").send_command("start", payload)
        reply = await bot_api.wait_for_message(60 + n, after=mark)
        assert "this link isn't valid" in (reply.plain_text or "")
    stored = await customers.get_customer(db, victim.id)
    assert stored is not None and stored.telegram_user_id is None


@BOTH_ENGINES
async def test_every_bad_input_kind_gets_a_polite_answer_and_loses_nothing(
    app: Any, bot_api: BotApiEmulator
) -> None:
    db = services(app).db
    customer = await link(app, bot_api, 51, "c-51")
    invitation = await invite(app, bot_api, customer)
    await press(bot_api, 51, invitation, action(invitation, "yes"))
    user = bot_api.users[51]
    for send in (user.send_sticker, user.send_photo, user.send_voice, user.send_document, user.send_location):
        mark = len(bot_api.calls)
        send()
        reply = await bot_api.wait_for_call("sendMessage", lambda call: call.chat_id == 51, after=mark)
        assert "please answer with text or the buttons" in (reply.plain_text or "")
    assert (await only_survey(app, customer)).step == "expectation"  # the survey stayed where it was

    mark = len(bot_api.calls)
    user.send_text("x" * 4050)
    await bot_api.wait_for_message(51, after=mark, contains="kept the first 4000 characters")
    experience_q = await bot_api.wait_for_message(51, after=mark, contains="how did it actually go")
    assert experience_q.ok
    survey = await only_survey(app, customer)
    stored = {a.question: a for a in await answers.answers_for_survey(db, survey.id)}
    assert stored["expectation"].truncated and len(stored["expectation"].text or "") == 4000

    message_id = user.send_text("It was fine.")
    await bot_api.wait_for_message(51, after=mark, contains="rate it")
    mark = len(bot_api.calls)
    user.edit_text(message_id, "It was a disaster, the box was crushed.")
    await bot_api.wait_for_message(51, after=mark, contains="updated your answer")
    stored = {a.question: a for a in await answers.answers_for_survey(db, survey.id)}
    assert stored["experience"].text == "It was a disaster, the box was crushed."
    assert stored["experience"].edited_at is not None and stored["experience"].analysis is not None


@BOTH_ENGINES
async def test_message_without_a_survey_is_unsolicited_feedback(app: Any, bot_api: BotApiEmulator) -> None:
    db = services(app).db
    mark = len(bot_api.calls)
    bot_api.user(52, "Iker", language_code="es").send_text(
        "La tienda de Gran Vía estaba sucia y nadie me atendió"
    )
    thanks = await bot_api.wait_for_message(52, after=mark)
    assert "Gracias por contárnoslo" in (thanks.plain_text or "")
    customer = await customers.get_by_telegram_user(db, 52)
    assert customer is not None
    for _ in range(50):
        stored = await answers.answers_for_customer(db, customer.id)
        if stored and stored[0].analysis is not None:
            break
        import asyncio

        await asyncio.sleep(0.05)
    assert stored[0].question == "unsolicited" and stored[0].survey_id is None
    assert stored[0].analysis is not None


@BOTH_ENGINES
async def test_stop_mydata_delete_and_language(app: Any, bot_api: BotApiEmulator) -> None:
    db = services(app).db
    customer = await link(app, bot_api, 53, "c-53")
    invitation = await invite(app, bot_api, customer)
    user = bot_api.users[53]
    mark = len(bot_api.calls)
    user.send_command("language")
    choice = await bot_api.wait_for_message(53, after=mark)
    reply = await press(bot_api, 53, choice, "cx:lang:es")
    assert "te escribiré en español" in (reply.plain_text or "")
    question = await press(bot_api, 53, invitation, action(invitation, "yes"))
    assert "¿qué esperabas" in (question.plain_text or "")  # the open survey follows the new language

    mark = len(bot_api.calls)
    user.send_command("mydata")
    document = await bot_api.wait_for_call("sendDocument", after=mark)
    import json

    exported = json.loads(next(iter(document.files.values())).decode("utf-8"))
    assert "c-53" in json.dumps(exported)

    mark = len(bot_api.calls)
    user.send_command("stop")
    confirm = await bot_api.wait_for_message(53, after=mark)
    assert "¿Quieres dejar de recibir encuestas?" in (confirm.plain_text or "")
    done = await press(bot_api, 53, confirm, "cx:stop:yes")
    assert "No te enviaré más encuestas" in (done.plain_text or "")
    stored = await customers.get_customer(db, customer.id)
    assert stored is not None and stored.consent == "opted_out"
    assert (await only_survey(app, customer)).status == "declined"
    assert invitation.ok

    mark = len(bot_api.calls)
    user.send_command("delete")
    confirm = await bot_api.wait_for_message(53, after=mark)
    done = await press(bot_api, 53, confirm, "cx:del:yes")
    assert "se han borrado" in (done.plain_text or "")
    stored = await customers.get_customer(db, customer.id)
    assert stored is not None and stored.erased_at is not None and stored.telegram_user_id is None


@BOTH_ENGINES
async def test_start_without_a_link_offers_general_feedback(app: Any, bot_api: BotApiEmulator) -> None:
    mark = len(bot_api.calls)
    bot_api.user(54, "Noa").send_command("start")
    welcome = await bot_api.wait_for_message(54, after=mark)
    assert welcome.button_texts() == ["Share feedback now"]
    question = await press(bot_api, 54, welcome, welcome.button_data()[0])
    assert "What were you expecting from us?" in (question.plain_text or "")
    rating_q = await say(bot_api, 54, "I expected shorter queues, but I queued 20 minutes.")
    assert rating_q.button_texts() == ["1", "2", "3", "4", "5"]
    customer = await customers.get_by_telegram_user(services(app).db, 54)
    assert customer is not None
    survey = await only_survey(app, customer)
    assert survey.kind == "general" and survey.touchpoint_id is None and survey.step == "rating"

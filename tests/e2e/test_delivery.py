"""Nobody is left waiting: replies survive Telegram's faults, and an immediate press is never refused.

The real Application polls the emulator over HTTP; faults are injected into the emulator's sendMessage.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from bot.outreach.scheduling import schedule_survey
from bot.telegram.services import services
from storage import surveys
from tests.conftest import AppRunner, SettingsFactory
from tests.e2e.test_conversation import NOON, TOUCHPOINTS, Clock, action, event, link
from tests.fakes.bot_api import BotApiEmulator, RecordedCall
from tests.support.postgres import BOTH_ENGINES

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(settings_factory: SettingsFactory) -> Any:
    return settings_factory(
        touchpoints=TOUCHPOINTS,
        links={"signing_key": "test-signing-key"},
        survey={"tick_interval": "1h"},
        telegram={"max_retries": 1},
    )


@pytest.fixture
async def app(running_app: AppRunner, settings: Any, classifier: Any) -> AsyncIterator[Any]:
    application = await running_app(settings, classifier=classifier)
    services(application).outreach.clock = Clock(NOON)
    yield application
    await running_app.stop_all()


async def schedule_all(app: Any, customers: list[Any]) -> None:
    for customer in customers:
        await schedule_survey(
            services(app).db,
            services(app).settings,
            event=await event(app, customer, "delivery", NOON - timedelta(hours=2), customer.external_id),
            now=NOON - timedelta(hours=2),
        )


@BOTH_ENGINES
async def test_fifty_customers_pressing_sure_within_milliseconds_are_never_refused(
    app: Any, bot_api: BotApiEmulator
) -> None:
    people = [await link(app, bot_api, 200 + n, f"c-{200 + n}") for n in range(50)]
    await schedule_all(app, people)
    pressed: list[int] = []

    def press_at_once(call: RecordedCall) -> None:
        # The customer taps "Sure" the moment the invitation lands, before the bot has its answer.
        data = [d for d in call.button_data() if d.endswith(":yes")] if call.method == "sendMessage" else []
        if data and call.message_id is not None and call.chat_id not in pressed:
            pressed.append(call.chat_id)
            bot_api.users[call.chat_id].press(data[0], message_id=call.message_id)

    bot_api.on_call.append(press_at_once)
    mark = len(bot_api.calls)
    await services(app).outreach.tick()
    for person in people:
        await bot_api.wait_for_call(
            "sendMessage",
            lambda c, chat=person.telegram_chat_id: c.chat_id == chat and "expecting" in (c.plain_text or ""),
            timeout=20,
            after=mark,
        )
    refusals = [
        c for c in bot_api.calls[mark:] if c.method == "answerCallbackQuery" and "closed" in str(c.params)
    ]
    assert len(pressed) == 50 and refusals == []
    for person in people:
        [survey] = await surveys.surveys_for_customer(services(app).db, person.id)
        assert survey.status == "in_progress" and survey.step == "expectation"


@BOTH_ENGINES
async def test_replies_survive_telegram_faults_and_none_arrives_twice(
    app: Any, bot_api: BotApiEmulator
) -> None:
    people = await asyncio.gather(*(link(app, bot_api, 300 + n, f"c-{300 + n}") for n in range(100)))
    await schedule_all(app, list(people))
    mark = len(bot_api.calls)
    await services(app).outreach.tick()

    async def converse(n: int, chat: int) -> None:
        user = bot_api.users[chat]
        invitation = await bot_api.wait_for_call(
            "sendMessage", lambda c: c.chat_id == chat and bool(c.button_data()), timeout=30, after=mark
        )
        # One fault per customer: 502, 500 or 429 beyond the limiter's retries on the next reply, a 502 on
        # a later one, or none (timeouts: see the test below).
        kind = n % 5
        if kind == 0:
            bot_api.fail_next("sendMessage", status=502, description="Bad Gateway", chat_id=chat)
        elif kind == 1:
            bot_api.fail_next("sendMessage", status=500, description="Internal Server Error", chat_id=chat)
        elif kind == 2:
            bot_api.fail_next("sendMessage", times=2, status=429, retry_after=1, chat_id=chat)
        user.press(action(invitation, "yes"), message_id=invitation.message_id or 0)
        await expect(chat, "expecting")
        user.send_text("A parcel on Monday")
        await expect(chat, "how did it actually go")
        if kind == 3:
            bot_api.fail_next("sendMessage", status=502, description="Bad Gateway", chat_id=chat)
        user.send_text("It came on Monday, well packed")
        rating_q = await expect(chat, "rate it")
        user.press(action(rating_q, "r5"), message_id=rating_q.message_id or 0)
        await expect(chat, "Thank you so much")

    async def expect(chat: int, words: str) -> RecordedCall:
        return await bot_api.wait_for_call(
            "sendMessage",
            lambda c: c.chat_id == chat and c.ok and words in (c.plain_text or ""),
            timeout=30,
            after=mark,
        )

    await asyncio.gather(*(converse(n, p.telegram_chat_id) for n, p in enumerate(people)))
    delivered = Counter(
        (c.chat_id, c.plain_text) for c in bot_api.calls[mark:] if c.method == "sendMessage" and c.ok
    )
    assert max(delivered.values()) == 1, [k for k, v in delivered.items() if v > 1][:5]
    failed = [c for c in bot_api.calls[mark:] if c.method == "sendMessage" and not c.ok]
    assert len(failed) >= 100  # the faults did happen
    for person in people:
        [survey] = await surveys.surveys_for_customer(services(app).db, person.id)
        assert survey.status == "completed"


@BOTH_ENGINES
async def test_a_reply_whose_answer_timed_out_is_not_sent_again(app: Any, bot_api: BotApiEmulator) -> None:
    [person] = [await link(app, bot_api, 400, "c-400")]
    await schedule_all(app, [person])
    mark = len(bot_api.calls)
    await services(app).outreach.tick()
    invitation = await bot_api.wait_for_call("sendMessage", lambda c: c.chat_id == 400, after=mark)
    # Telegram takes the next question at once but answers after PTB's 5 s read timeout.
    bot_api.delay_next("sendMessage", 6, handled_first=True)
    bot_api.users[400].press(action(invitation, "yes"), message_id=invitation.message_id or 0)
    await asyncio.sleep(9)  # past the timeout and several retry rounds of the outbox
    asked = [
        c for c in bot_api.calls[mark:] if c.method == "sendMessage" and "expecting" in (c.plain_text or "")
    ]
    assert len(asked) == 1
    bot_api.users[400].send_text("A parcel on Monday")
    await bot_api.wait_for_call(
        "sendMessage",
        lambda c: c.chat_id == 400 and "how did it actually go" in (c.plain_text or ""),
        after=mark,
    )

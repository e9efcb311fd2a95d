"""Nobody gets in: one-time deep links, buttons bound to their chat and their survey, every press answered.

The real Application against the Bot API emulator over HTTP, with the real classifier.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from bot.accounts.links import make_start_payload
from bot.telegram.services import services
from storage import answers, audit, customers
from storage.models import Customer
from tests.conftest import ADMIN_USER_ID, STAFF_CHAT_ID, AppRunner, SettingsFactory
from tests.e2e.test_conversation import NOON, TOUCHPOINTS, Clock, invite, link
from tests.fakes.bot_api import BotApiEmulator, RecordedCall

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(settings_factory: SettingsFactory) -> Any:
    return settings_factory(
        touchpoints=TOUCHPOINTS, links={"signing_key": "test-signing-key"}, survey={"tick_interval": "1h"}
    )


@pytest.fixture
async def app(running_app: AppRunner, settings: Any, classifier: Any) -> AsyncIterator[Any]:
    application = await running_app(settings, classifier=classifier)
    services(application).outreach.clock = Clock(NOON)
    yield application
    await running_app.stop_all()


def payload_for(app: Any, customer: Customer, generation: int = 0) -> str:
    key = services(app).settings.links.signing_key
    return make_start_payload(key, customer.id, ttl=timedelta(days=1), generation=generation)


async def start(bot_api: BotApiEmulator, user_id: int, payload: str, name: str = "Mallory") -> RecordedCall:
    mark = len(bot_api.calls)
    bot_api.user(user_id, name).send_command("start", payload)
    return await bot_api.wait_for_message(user_id, after=mark)


async def refusals(app: Any) -> list[Any]:
    return [e for e in await audit.list_entries(services(app).db) if e.action == "customer.link_refused"]


async def test_a_used_link_replayed_from_a_second_account_is_refused_and_audited(
    app: Any, bot_api: BotApiEmulator
) -> None:
    db = services(app).db
    victim = await link(app, bot_api, 70, "c-70")
    payload = payload_for(app, victim)

    reply = await start(bot_api, 71, payload)
    assert "already connected to another Telegram chat" in (reply.plain_text or "")
    stored = await customers.get_customer(db, victim.id)
    assert stored is not None and (stored.telegram_user_id, stored.telegram_chat_id) == (70, 70)
    [entry] = await refusals(app)
    assert entry.actor == "telegram:71" and entry.subject == f"customer:{victim.id}"

    # The attacker's /mydata holds only their own (empty) record, never the victim's.
    mark = len(bot_api.calls)
    bot_api.users[71].send_command("mydata")
    document = await bot_api.wait_for_call("sendDocument", after=mark)
    assert document.chat_id == 71
    exported = json.loads(next(iter(document.files.values())).decode("utf-8"))
    assert exported["customer"]["external_id"] == "tg:71" and "c-70" not in json.dumps(exported)

    # The victim opening their own link again is harmless: still linked, nothing refused.
    again = await start(bot_api, 70, payload, name="Ana")
    assert "already connected" not in (again.plain_text or "")
    stored = await customers.get_customer(db, victim.id)
    assert stored is not None and stored.telegram_user_id == 70
    assert len(await refusals(app)) == 1


async def test_a_fresh_link_moves_the_customer_and_revokes_the_old_one(
    app: Any, bot_api: BotApiEmulator
) -> None:
    db = services(app).db
    customer = await link(app, bot_api, 72, "c-72")
    old = payload_for(app, customer)
    generation = await customers.reissue_link(db, customer.id, actor="api")
    fresh = payload_for(app, customer, generation)

    moved = await start(bot_api, 73, fresh, name="Ana")
    assert "Thanks for connecting" in (moved.plain_text or "")
    stored = await customers.get_customer(db, customer.id)
    assert stored is not None and stored.telegram_user_id == 73

    # The old link (the photographed receipt) now links nobody, and neither does the fresh one a second time.
    assert "isn't valid" in ((await start(bot_api, 74, old)).plain_text or "")
    assert "already connected" in ((await start(bot_api, 75, fresh)).plain_text or "")
    stored = await customers.get_customer(db, customer.id)
    assert stored is not None and stored.telegram_user_id == 73
    assert {e.details["reason"] for e in await refusals(app)} == {"revoked", "taken"}


async def answered(bot_api: BotApiEmulator, query_id: str, after: int) -> RecordedCall:
    return await bot_api.wait_for_call(
        "answerCallbackQuery", lambda call: call.params.get("callback_query_id") == query_id, after=after
    )


async def test_a_forged_customer_button_in_the_staff_group_changes_nothing(
    app: Any, bot_api: BotApiEmulator
) -> None:
    db = services(app).db
    customer = await link(app, bot_api, 76, "c-76")
    invitation = await invite(app, bot_api, customer)
    survey_data = next(data for data in invitation.button_data() if data.endswith(":yes"))
    bot_api.group_chat(STAFF_CHAT_ID)
    user = bot_api.users[76]
    toasts = []
    for data in ("cx:lang:es", "cx:fb", "cx:stop:yes", survey_data, survey_data.replace(":yes", ":r1")):
        mark = len(bot_api.calls)
        query = user.press(data, message_id=1, chat_id=STAFF_CHAT_ID, any_data=True)
        toasts.append((data, (await answered(bot_api, query, mark)).params.get("text")))
    stored = await customers.get_customer(db, customer.id)
    assert stored is not None
    assert stored.telegram_chat_id == 76 and stored.language == customer.language
    assert stored.consent == customer.consent
    assert not [c for c in bot_api.messages_to(STAFF_CHAT_ID) if c.method == "sendMessage"]
    row = await db.fetch_one("SELECT COUNT(*) AS n FROM answers WHERE customer_id = ?", (customer.id,))
    assert row is not None and row["n"] == 0
    private_only = "These buttons only work in your private chat with me."
    assert toasts == [(data, private_only) for data, _ in toasts]


async def test_every_garbage_or_foreign_press_is_answered_and_changes_nothing(
    app: Any, bot_api: BotApiEmulator
) -> None:
    db = services(app).db
    owner = await link(app, bot_api, 77, "c-77")
    invitation = await invite(app, bot_api, owner)
    survey_id = int(invitation.button_data()[0].split(":")[1])
    garbage = [
        "zz:1:yes",  # prefixes no handler claims
        "hello",
        "sv:²:yes",
        "al:²:ack",
        "sv:99999999999999999999:yes",
        "al:99999999999999999999:res",
        "sv:1:maybe",
        "cx:lang:xx",
        "cx:",
        "sv:0:yes",
        f"al:{survey_id}:ack",  # a staff button pressed by a customer
    ]
    stranger = bot_api.user(78, "Eve")
    for data in [*garbage, f"sv:{survey_id}:r1"]:  # the last: someone else's survey
        mark = len(bot_api.calls)
        query = stranger.press(data, message_id=1, any_data=True)
        reply = await answered(bot_api, query, mark)
        assert reply.ok and reply.params.get("text"), data
    assert not await answers.answers_for_survey(db, survey_id)
    assert not [c for c in bot_api.calls[1:] if c.method == "sendMessage" and c.chat_id == 78]
    # An admin pressing customer buttons in the staff group is answered too, and nothing moves.
    mark = len(bot_api.calls)
    query = bot_api.user(ADMIN_USER_ID, "Boss").press(
        "cx:del:yes", message_id=1, chat_id=STAFF_CHAT_ID, any_data=True
    )
    assert (await answered(bot_api, query, mark)).ok


async def mydata_caption(bot_api: BotApiEmulator, user_id: int) -> str:
    mark = len(bot_api.calls)
    bot_api.user(user_id, "Ana").send_command("mydata")
    document = await bot_api.wait_for_call("sendDocument", after=mark)
    return str(document.params.get("caption", ""))


async def test_mydata_states_the_retention_period_and_the_nightly_job_applies_it(
    running_app: AppRunner, settings_factory: SettingsFactory, classifier: Any, bot_api: BotApiEmulator
) -> None:
    off = await running_app(settings_factory(), classifier=classifier)
    assert "until you ask us to erase them" in await mydata_caption(bot_api, 80)
    assert off.job_queue is not None and not off.job_queue.get_jobs_by_name("momento-retention")
    await running_app.stop(off)

    app = await running_app(
        settings_factory(privacy={"retention": "30d"}, storage={"path": str(tmp_db(settings_factory))}),
        classifier=classifier,
    )
    assert "Answers older than 30 days are anonymised" in await mydata_caption(bot_api, 81)
    db = services(app).db
    customer = await customers.get_by_telegram_user(db, 81)
    assert customer is not None
    old, _ = await answers.record_answer(
        db,
        survey_id=None,
        customer_id=customer.id,
        touchpoint_id=None,
        question="unsolicited",
        text="an old complaint",
        rating=None,
        language="en",
        chat_id=81,
        message_id=7,
        received_at=NOON - timedelta(days=400),
    )
    assert app.job_queue is not None
    [job] = app.job_queue.get_jobs_by_name("momento-retention")
    await job.run(app)
    stored = await answers.get_answer(db, old.id)
    assert stored is not None and stored.text is None and stored.chat_id is None
    assert [e for e in await audit.list_entries(db) if e.action == "retention.anonymise"]


def tmp_db(settings_factory: SettingsFactory) -> Any:
    """A second database file next to the first (the first Application's stays as it was)."""
    return settings_factory().storage.path.with_name("retention.db")

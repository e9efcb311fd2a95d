"""Staff and admin commands through the real Application and the Bot API emulator."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import pytest
from PIL import Image

from bot.config import Settings
from bot.telegram.services import services
from storage import alerts as alert_repo
from storage import staff as staff_repo
from storage.db import Database
from tests.conftest import ADMIN_USER_ID, STAFF_CHAT_ID, AppRunner, SettingsFactory
from tests.fakes.bot_api import BotApiEmulator
from tests.support.postgres import BOTH_ENGINES
from tests.support.report_data import TOUCHPOINTS, seed_known

pytestmark = pytest.mark.slow  # lends the real classifier to the Application

CUSTOMER_ID = 42
STAFF_ID = 500
STAFF_COMMANDS = ["summary", "touchpoints", "journey", "segments", "alerts", "customer", "quotes", "themes"]
ADMIN_COMMANDS = ["export", "staff"]
REFUSAL = "Sorry, that is not available."


@pytest.fixture
async def staff_bot(
    running_app: AppRunner, settings_factory: SettingsFactory, classifier: Any
) -> tuple[Settings, Any]:
    settings = settings_factory(
        touchpoints=TOUCHPOINTS,
        survey={"default_timezone": "UTC"},
        reports={"tier_minimum_csat": {"gold": 0.4, "standard": 0.5}, "digest": "off"},
    )
    async with await Database.open(settings.storage.target) as db:
        await seed_known(db)
        await staff_repo.add_staff(db, STAFF_ID, "staff", ADMIN_USER_ID)
    app = await running_app(settings, classifier=classifier)
    await _seeded_alerts_posted(app)
    return settings, app


async def _seeded_alerts_posted(app: Any) -> None:
    """The seed holds open alerts the clock posts to the staff chat on its first tick; wait for that, so a
    test that reads the staff chat sees its own reply, not one of those cards."""
    db = services(app).db
    for _ in range(100):
        if not await alert_repo.unposted_alerts(db):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the seeded alerts were never posted")


async def ask(bot_api: BotApiEmulator, user_id: int, command: str, *args: str, language: str = "en") -> Any:
    mark = len(bot_api.calls)
    bot_api.user(user_id, "Sam", language_code=language).send_command(command, *args)
    return await bot_api.wait_for_message(user_id, after=mark)


@BOTH_ENGINES
async def test_customers_are_refused_every_staff_and_admin_command(
    bot_api: BotApiEmulator, staff_bot: Any
) -> None:
    for command in STAFF_COMMANDS + ADMIN_COMMANDS:
        reply = await ask(bot_api, CUSTOMER_ID, command, "all")
        assert reply.plain_text == REFUSAL, command
    # The role of the user decides, not the chat: a customer writing in the staff chat is refused too.
    mark = len(bot_api.calls)
    bot_api.user(CUSTOMER_ID, "Sam").send_command("summary", chat_id=STAFF_CHAT_ID)
    reply = await bot_api.wait_for_message(STAFF_CHAT_ID, after=mark)
    assert reply.plain_text == REFUSAL


@BOTH_ENGINES
async def test_staff_are_refused_admin_commands_but_get_reports(
    bot_api: BotApiEmulator, staff_bot: Any
) -> None:
    for command in ADMIN_COMMANDS:
        assert (await ask(bot_api, STAFF_ID, command, "list")).plain_text == REFUSAL, command
    mark = len(bot_api.calls)
    reply = await ask(bot_api, STAFF_ID, "summary", "all")
    assert "Responses: 6 of 7 invited (85.7%)" in (reply.plain_text or "")
    photo = await bot_api.wait_for_call("sendPhoto", after=mark)
    # The caption is the chart's title: what it shows, then the dates it covers.
    assert photo.params["caption"].startswith("CSAT by touchpoint · all\nall data up to ")
    png = photo.files["photo"]
    image = Image.open(io.BytesIO(png))
    assert png.startswith(b"\x89PNG") and image.info["Title"] == photo.params["caption"]
    assert image.size[0] >= 1280
    spanish = await ask(bot_api, STAFF_ID, "segments", "all", language="es")
    assert "Resultados por segmento" in (spanish.plain_text or "")
    bad = await ask(bot_api, STAFF_ID, "summary", "lastyear")
    assert "That period doesn't work: “lastyear”" in (bad.plain_text or "")
    last_week = await ask(bot_api, STAFF_ID, "summary", "last-week")
    assert "Summary · all touchpoints · last-week" in (last_week.plain_text or "")


@BOTH_ENGINES
async def test_staff_read_reports_in_the_language_they_chose(bot_api: BotApiEmulator, staff_bot: Any) -> None:
    """A staff member whose Telegram is in English but who chose Español with /language reads Spanish."""
    mark = len(bot_api.calls)
    bot_api.user(STAFF_ID, "Sam", language_code="en").send_command("language")
    choice = await bot_api.wait_for_message(STAFF_ID, after=mark)
    buttons = [b["callback_data"] for row in choice.params["reply_markup"]["inline_keyboard"] for b in row]
    spanish_button = next(data for data in buttons if data.endswith(":es"))
    mark = len(bot_api.calls)
    bot_api.user(STAFF_ID, "Sam", language_code="en").press(
        spanish_button, message_id=choice.response["result"]["message_id"]
    )
    await bot_api.wait_for_message(STAFF_ID, after=mark, contains="español")
    summary = await ask(bot_api, STAFF_ID, "summary", "all", language="en")
    assert "Resumen" in (summary.plain_text or "") and "Respuestas:" in (summary.plain_text or "")


@BOTH_ENGINES
async def test_staff_get_the_driver_and_journey_reports(bot_api: BotApiEmulator, staff_bot: Any) -> None:
    drivers = await ask(bot_api, STAFF_ID, "touchpoints", "all")
    assert "What drives satisfaction · all" in (drivers.plain_text or "")
    mark = len(bot_api.calls)
    journey = await ask(bot_api, STAFF_ID, "journey", "all")
    assert "Customer journey" in (journey.plain_text or "")
    photo = await bot_api.wait_for_call("sendPhoto", after=mark)
    assert photo.files["photo"].startswith(b"\x89PNG")


@BOTH_ENGINES
async def test_alerts_come_with_their_buttons(bot_api: BotApiEmulator, staff_bot: Any) -> None:
    mark = len(bot_api.calls)
    header = await ask(bot_api, STAFF_ID, "alerts")
    assert (header.plain_text or "") == "1 open alert:"
    card = await bot_api.wait_for_message(STAFF_ID, after=mark, contains="alert #")
    # The same card recovery posts to the team chat: the customer's words arrive escaped and intact.
    assert "“<b>Late</b> & broken =SUM(A1)”" in (card.plain_text or "")
    assert "Name c4 (standard)" in (card.plain_text or "")
    keyboard = card.params["reply_markup"]["inline_keyboard"]
    assert [b["text"] for row in keyboard for b in row] == ["Acknowledge", "Resolve"]
    # Pressing Acknowledge on the /alerts card is handled like a press on the team-chat card.
    mark = len(bot_api.calls)
    bot_api.user(STAFF_ID, "Sam").press(
        keyboard[0][0]["callback_data"], message_id=card.response["result"]["message_id"]
    )
    await bot_api.wait_for_call("answerCallbackQuery", after=mark)
    mark = len(bot_api.calls)
    bot_api.user(STAFF_ID, "Sam").send_command("alerts")
    again = await bot_api.wait_for_message(STAFF_ID, after=mark, contains="alert #")
    assert f"acknowledged by {STAFF_ID}" in (again.plain_text or "")
    keyboard = again.params["reply_markup"]["inline_keyboard"]
    assert [b["text"] for row in keyboard for b in row] == ["Resolve"]


@BOTH_ENGINES
async def test_admin_manages_staff_and_exports(bot_api: BotApiEmulator, staff_bot: Any) -> None:
    added = await ask(bot_api, ADMIN_USER_ID, "staff", "add", "501", "staff", "Lu")
    assert "501 is now staff" in (added.plain_text or "")
    assert "Results per tier" in (await ask(bot_api, 501, "segments", "all")).plain_text
    listing = await ask(bot_api, ADMIN_USER_ID, "staff", "list")
    assert "501 — staff · Lu" in (listing.plain_text or "")
    removed = await ask(bot_api, ADMIN_USER_ID, "staff", "remove", "501")
    assert "501 is no longer staff" in (removed.plain_text or "")
    assert (await ask(bot_api, 501, "summary")).plain_text == REFUSAL
    assert "not a Telegram user id" in (await ask(bot_api, ADMIN_USER_ID, "staff", "add", "bob")).plain_text

    mark = len(bot_api.calls)
    bot_api.user(ADMIN_USER_ID, "Ada").send_command("export", "jsonl", "delivery")
    document = await bot_api.wait_for_call("sendDocument", after=mark, timeout=10)
    rows = [json.loads(line) for line in document.files["document"].decode("utf-8").splitlines()]
    # Deliveries S1, S2, S3 and S7 were answered: three answers each.
    assert len(rows) == 12 and {row["touchpoint"] for row in rows} == {"delivery"}
    assert "12 answers" in document.params["caption"]
    refused = await ask(bot_api, ADMIN_USER_ID, "export", "pdf")
    assert "Can't export that" in (refused.plain_text or "")


@BOTH_ENGINES
async def test_digest_reaches_the_staff_chat_once_even_across_a_restart(
    bot_api: BotApiEmulator, running_app: AppRunner, settings_factory: SettingsFactory, classifier: Any
) -> None:
    from datetime import timedelta

    from bot.telegram.staff import DIGEST_JOB
    from storage.db import utcnow
    from tests.support.report_data import Seeder

    settings = settings_factory(
        touchpoints=TOUCHPOINTS,
        survey={"default_timezone": "UTC"},
        reports={"digest": "daily", "digest_time": "00:00:00"},
    )
    yesterday = utcnow().replace(hour=10, minute=0, second=0, microsecond=0) - timedelta(days=1)
    async with await Database.open(settings.storage.target) as db:
        seed = Seeder(db)
        await seed.setup()
        await seed.survey("d1", "c1", "delivery", yesterday, rating=5, experience=0.6, expectation=0.2)
        await seed.survey("d2", "c4", "delivery", yesterday, rating=2, experience=-0.5, expectation=0.2)
    for _ in range(2):  # the second Application is a restart on the same database
        app = await running_app(settings, classifier=classifier)
        job = app.job_queue.get_jobs_by_name(DIGEST_JOB)[0]
        await job.run(app)
        await job.run(app)
        await running_app.stop(app)
    digests = [c for c in bot_api.messages_to(STAFF_CHAT_ID) if "Daily digest" in (c.plain_text or "")]
    assert len(digests) == 1
    assert "CSAT (4–5): 50.0% of 2 ratings · mean 3.5/5" in (digests[0].plain_text or "")

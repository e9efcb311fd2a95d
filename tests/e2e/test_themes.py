"""Themes end to end: the theme-specific follow-up in a real survey, /themes for staff and the refusal for
customers — the real Application over HTTP against the emulator, the real classifier."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.telegram.services import services
from bot.telegram.themes import run_themes_pass
from storage import answers, customers, staff, touchpoints
from storage.db import utcnow
from tests.conftest import ADMIN_USER_ID, AppRunner, SettingsFactory
from tests.e2e.test_conversation import NOON, Clock, action, invite, link, press, say
from tests.fakes.bot_api import BotApiEmulator

pytestmark = pytest.mark.slow

THEME_SET = Path(__file__).resolve().parents[2] / "sentiment" / "data" / "themes_cx.csv"
STAFF_ID = 501
TOUCHPOINTS = [
    {
        "key": "delivery",
        "names": {"en": "delivery", "es": "entrega"},
        "invite_delay": "2h",
        "themes": [
            {
                "key": "late_delivery",
                "names": {"en": "Late delivery", "es": "Entrega tardía"},
                "examples": {"en": ["my order arrived late"], "es": ["el pedido llegó tarde"]},
            },
            {
                "key": "damaged_item",
                "names": {"en": "Damaged item", "es": "Artículo dañado"},
                "examples": {"en": ["it arrived broken"], "es": ["llegó roto"]},
                "question": {"en": "Sorry it broke{name}! Which part was damaged?"},
            },
        ],
    }
]


@pytest.fixture
async def app(
    running_app: AppRunner, settings_factory: SettingsFactory, classifier: Any
) -> AsyncIterator[Any]:
    settings = settings_factory(
        touchpoints=TOUCHPOINTS,
        links={"signing_key": "test-signing-key"},
        survey={"tick_interval": "1h"},
        themes={"enabled": True, "interval": "1h"},
        reports={"digest": "off"},
    )
    application = await running_app(settings, classifier=classifier)
    found = services(application)
    found.outreach.clock = Clock(NOON)
    await staff.add_staff(found.db, STAFF_ID, "staff", ADMIN_USER_ID)
    await seed_answers(found, classifier)
    yield application
    await running_app.stop_all()


async def seed_answers(found: Any, classifier: Any) -> None:
    """The hand-made theme set as this week's delivery answers, read by the real model (vectors stored)."""
    rows = list(csv.DictReader(THEME_SET.open(encoding="utf-8")))
    customer = await customers.upsert_customer(found.db, "seed", display_name=None, tier="standard")
    delivery = await touchpoints.get_touchpoint(found.db, "delivery")
    assert delivery is not None
    readings = await classifier.analyse([r["text"] for r in rows], [r["lang"] for r in rows])
    at = utcnow() - timedelta(minutes=len(rows) + 5)
    for n, (row, reading) in enumerate(zip(rows, readings, strict=True)):
        answer, _ = await answers.record_answer(
            found.db,
            survey_id=None,
            customer_id=customer.id,
            touchpoint_id=delivery.id,
            question="experience",
            text=row["text"],
            rating=None,
            language=row["lang"],
            chat_id=None,
            message_id=None,
            received_at=at + timedelta(minutes=n),
        )
        await answers.save_analysis(found.db, answer.id, reading)


async def survey_until_follow_up(app: Any, bot_api: BotApiEmulator, user: int, experience: str) -> str:
    customer = await link(app, bot_api, user, f"c-{user}")
    invitation = await invite(app, bot_api, customer)
    await press(bot_api, user, invitation, action(invitation, "yes"))
    await say(bot_api, user, "I expected it on Monday.")
    follow_up = await say(bot_api, user, f"{experience} 1/5")
    return follow_up.plain_text or ""


async def test_a_negative_answer_about_a_declared_theme_gets_that_themes_question(
    app: Any, bot_api: BotApiEmulator
) -> None:
    late = await survey_until_follow_up(
        app, bot_api, 61, "The parcel came four days late and nobody told me."
    )
    assert late.startswith("I'm sorry it came late, Ana.")  # Momento's default for late_delivery
    broken = await survey_until_follow_up(app, bot_api, 62, "The box was smashed and the vase inside broken.")
    assert broken == "Sorry it broke, Ana! Which part was damaged?"  # the company's own question
    other = await survey_until_follow_up(app, bot_api, 63, "Horrible, never again.")
    assert "What could we have done better" in other  # fits no declared theme: the generic question


async def test_staff_read_precomputed_themes_and_customers_are_refused(
    app: Any, bot_api: BotApiEmulator
) -> None:
    found = services(app)
    await run_themes_pass(found, app.bot, now=utcnow())
    mark = len(bot_api.calls)
    bot_api.user(STAFF_ID, "Sam").send_command("themes", "delivery")
    reply = await bot_api.wait_for_message(STAFF_ID, after=mark, timeout=15)
    text = reply.plain_text or ""
    assert text.startswith("Themes · delivery · this-week")
    assert "Late delivery (late_delivery)" in text and "Damaged item (damaged_item)" in text
    assert "More: /quotes delivery theme:" in text
    photo = await bot_api.wait_for_call("sendPhoto", after=mark, timeout=15)
    assert photo.files["photo"].startswith(b"\x89PNG")

    mark = len(bot_api.calls)
    bot_api.user(STAFF_ID, "Sam").send_command("quotes", "delivery", "theme:late_delivery")
    quotes = await bot_api.wait_for_message(STAFF_ID, after=mark, timeout=15)
    assert (quotes.plain_text or "").startswith("Quotes · delivery · theme Late delivery")

    mark = len(bot_api.calls)
    bot_api.user(77, "Customer").send_command("themes", "delivery")
    refused = await bot_api.wait_for_message(77, after=mark, timeout=15)
    assert refused.plain_text == "Sorry, that is not available."

"""The dialogue says the right thing and keeps its promises: the real Application over HTTP against the
emulator, the real classifier. Each test is something a customer would notice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from bot.telegram.services import services
from storage import answers, surveys
from storage.db import utcnow
from tests.conftest import AppRunner, SettingsFactory
from tests.e2e.test_conversation import NOON, TOUCHPOINTS, Clock, action, invite, link, press, say
from tests.fakes.bot_api import BotApiEmulator

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(settings_factory: SettingsFactory) -> Any:
    return settings_factory(
        touchpoints=TOUCHPOINTS,
        links={"signing_key": "test-signing-key"},
        survey={"tick_interval": "1h"},
        company={"name": "Acme Parcels", "names": {"es": "Paquetes Acme"}},
    )


@pytest.fixture
async def app(running_app: AppRunner, settings: Any, classifier: Any) -> AsyncIterator[Any]:
    application = await running_app(settings, classifier=classifier)
    services(application).outreach.clock = Clock(NOON)
    yield application
    await running_app.stop_all()


async def only_survey(app: Any, customer: Any) -> Any:
    found = await surveys.surveys_for_customer(services(app).db, customer.id)
    assert len(found) == 1
    return found[0]


async def to_rating(app: Any, bot_api: BotApiEmulator, user: int, external: str, experience: str) -> Any:
    customer = await link(app, bot_api, user, external)
    invitation = await invite(app, bot_api, customer)
    await press(bot_api, user, invitation, action(invitation, "yes"))
    await say(bot_api, user, "On time, as promised")
    rating_q = await say(bot_api, user, experience)
    assert "rate it from 1" in (rating_q.plain_text or "")
    return customer, rating_q


async def test_five_stars_after_unhappy_words_is_never_apologised_to(
    app: Any, bot_api: BotApiEmulator
) -> None:
    customer, rating_q = await to_rating(
        app, bot_api, 60, "c-60", "The driver was rude and threw the box, it was crushed. Terrible."
    )
    reply = await press(bot_api, 60, rating_q, action(rating_q, "r5"))
    text = (reply.plain_text or "").lower()
    assert "sorry" not in text and "anything we could do better" in text
    closing = await say(bot_api, 60, "Be nicer at the door")
    assert "sorry" not in (closing.plain_text or "").lower()
    survey = await only_survey(app, customer)
    assert survey.status == "completed" and survey.state["mixed"] is True and survey.state["tone"] == "mixed"


async def test_a_low_rating_gets_an_apology_and_a_closing_that_fits(
    app: Any, bot_api: BotApiEmulator
) -> None:
    _, rating_q = await to_rating(app, bot_api, 61, "c-61", "I'm fed up, it came two days late")
    reply = await press(bot_api, 61, rating_q, action(rating_q, "r1"))
    assert "sorry" in (reply.plain_text or "").lower()
    offer = await say(bot_api, 61, "Tell me when it will be late")
    closing = await press(bot_api, 61, offer, action(offer, "cb0"))
    assert "Have a great day" not in (closing.plain_text or "") and "🙏" not in (closing.plain_text or "")
    assert "We're sorry it went like this" in (closing.plain_text or "")


@pytest.mark.parametrize("typed", ["hello?", "sure", "it was late"])
async def test_typing_at_the_invitation_accepts_and_every_question_is_asked(
    app: Any, bot_api: BotApiEmulator, typed: str
) -> None:
    user = 62 + ["hello?", "sure", "it was late"].index(typed)
    customer = await link(app, bot_api, user, f"c-{user}")
    await invite(app, bot_api, customer)
    first = await say(bot_api, user, typed)
    assert "what were you expecting" in (first.plain_text or "")
    second = await say(bot_api, user, "A parcel on Monday")
    assert "how did it actually go" in (second.plain_text or "")
    rating_q = await say(bot_api, user, "It came on Tuesday")
    closing = await press(bot_api, user, rating_q, action(rating_q, "r4"))
    assert "Thank you so much" in (closing.plain_text or "")
    survey = await only_survey(app, customer)
    assert survey.status == "completed"
    assert all(isinstance(survey.state[q], int) for q in ("expectation", "experience", "rating"))


async def test_an_impossible_rating_is_asked_again_and_not_kept(app: Any, bot_api: BotApiEmulator) -> None:
    customer, _ = await to_rating(app, bot_api, 66, "c-66", "Fine, nothing special")
    for wrong in ("10", "3.5", "0"):
        again = await say(bot_api, 66, wrong)
        assert "from 1 to 5" in (again.plain_text or "") and len(again.button_data()) == 5
    done = await say(bot_api, 66, "4")
    assert "Thank you so much" in (done.plain_text or "")
    survey = await only_survey(app, customer)
    stored = await answers.answers_for_survey(services(app).db, survey.id)
    assert [a.question for a in stored] == ["expectation", "experience", "rating"]
    assert survey.state["rating"] == 4


async def test_not_now_then_writing_offers_the_survey_again(app: Any, bot_api: BotApiEmulator) -> None:
    customer = await link(app, bot_api, 67, "c-67")
    invitation = await invite(app, bot_api, customer)
    later = await press(bot_api, 67, invitation, action(invitation, "later"))
    assert "just write to me" in (later.plain_text or "")
    # The test's outreach clock is fixed in May; the customer writes "now": keep the survey alive till then.
    survey = await only_survey(app, customer)
    await surveys.update_survey(services(app).db, survey.id, expires_at=utcnow() + timedelta(days=1))
    offer = await say(bot_api, 67, "hi, I have a minute now")
    assert "You said I could ask later" in (offer.plain_text or "")
    first = await press(bot_api, 67, offer, action(offer, "yes"))
    assert "what were you expecting" in (first.plain_text or "")
    assert (await only_survey(app, customer)).status == "in_progress"


async def test_spanish_written_with_an_english_telegram_gets_spanish(
    app: Any, bot_api: BotApiEmulator
) -> None:
    customer = await link(app, bot_api, 68, "c-68", language="en")
    invitation = await invite(app, bot_api, customer)
    assert "Thanks for your recent delivery" in (invitation.plain_text or "")
    await press(bot_api, 68, invitation, action(invitation, "yes"))
    mark = len(bot_api.calls)
    await say(bot_api, 68, "Esperaba que el pedido llegara por la mañana")
    await bot_api.wait_for_call(
        "sendMessage", lambda c: c.chat_id == 68 and "¿" in (c.plain_text or ""), after=mark
    )
    replies = [c for c in bot_api.calls[mark:] if c.method == "sendMessage" and c.chat_id == 68]
    assert any("Seguiré en español" in (c.plain_text or "") for c in replies)  # announced
    second = await say(bot_api, 68, "Llegó por la tarde y el paquete estaba bien")
    assert "español" not in (second.plain_text or "")  # announced once only
    assert "¿" in (second.plain_text or "")
    survey = await only_survey(app, customer)
    assert survey.language == "es"
    stored = await answers.answers_for_survey(services(app).db, survey.id)
    assert {a.language for a in stored} == {"es"}


async def test_language_command_still_overrides_what_is_written(app: Any, bot_api: BotApiEmulator) -> None:
    customer = await link(app, bot_api, 69, "c-69", language="en")
    mark = len(bot_api.calls)
    bot_api.users[69].send_command("language")
    chooser = await bot_api.wait_for_message(69, after=mark)
    lang_en = next(d for d in chooser.button_data() if d.endswith("en"))
    await press(bot_api, 69, chooser, lang_en)
    invitation = await invite(app, bot_api, customer)
    await press(bot_api, 69, invitation, action(invitation, "yes"))
    reply = await say(bot_api, 69, "Esperaba que el pedido llegara por la mañana")
    assert "how did it actually go" in (reply.plain_text or "")


async def test_the_welcome_names_the_company_in_the_customers_language(
    bot_api: BotApiEmulator, app: Any
) -> None:
    mark = len(bot_api.calls)
    bot_api.user(70, "Ana", language_code="en").send_command("start")
    welcome = await bot_api.wait_for_message(70, after=mark)
    assert "Acme Parcels" in (welcome.plain_text or "") and "help Momento" not in (welcome.plain_text or "")
    mark = len(bot_api.calls)
    bot_api.user(71, "Lucía", language_code="es").send_command("start")
    bienvenida = await bot_api.wait_for_message(71, after=mark)
    assert "Paquetes Acme" in (bienvenida.plain_text or "")

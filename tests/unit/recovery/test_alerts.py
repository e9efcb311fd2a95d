"""Service recovery: the alert card the team sees, who may act on it, and the follow-up after resolution."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.api.ingest import sync_configured_touchpoints
from bot.config import Settings
from bot.outreach.dispatch import Outreach
from bot.recovery.alerts import Recovery, severity_of
from storage import alerts, answers, customers, surveys, touchpoints
from storage.db import Database
from tests.support.inbox import Inbox

NOON = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
DELIVERY_TEAM = -100300


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[Database, Settings, Inbox, Recovery, int]]:
    settings = Settings(
        storage={"path": tmp_path / "m.db"},
        telegram={"staff_chat_id": -100100, "admin_user_ids": [900]},
        touchpoints=[{"key": "delivery", "names": {"en": "delivery"}, "team_chat_id": DELIVERY_TEAM}],
    )
    db = await Database.open(tmp_path / "m.db")
    await sync_configured_touchpoints(db, settings)
    touchpoint = await touchpoints.get_touchpoint(db, "delivery")
    assert touchpoint is not None
    customer = await customers.upsert_customer(db, "c1", display_name="<Zoë>", tier="platinum")
    await customers.link_telegram(
        db, customer.id, telegram_user_id=5, telegram_chat_id=5, display_name=None, language="en"
    )
    await customers.grant_consent(db, customer.id)
    survey, _ = await surveys.create_survey(
        db,
        customer_id=customer.id,
        touchpoint_id=touchpoint.id,
        event_id=None,
        kind="touchpoint",
        status="completed",
        scheduled_at=NOON,
    )
    for question, text, rating in (("experience", "Box <b>crushed</b> & wet", None), ("rating", None, 1)):
        await answers.record_answer(
            db,
            survey_id=survey.id,
            customer_id=customer.id,
            touchpoint_id=touchpoint.id,
            question=question,
            text=text,
            rating=rating,
            language="en",
            chat_id=5,
            message_id=None,
            received_at=NOON,
        )
    inbox = Inbox()
    clock = [NOON]
    recovery = Recovery(db, settings, inbox, lambda: clock[0])
    yield db, settings, inbox, recovery, survey.id
    await db.close()


async def open_alert(recovery: Recovery, db: Database, survey_id: int) -> int:
    survey = await surveys.get_survey(db, survey_id)
    assert survey is not None
    alert = await recovery.open(
        survey_id=survey_id,
        customer_id=survey.customer_id,
        touchpoint_id=survey.touchpoint_id,
        reason="low_rating",
        severity="high",
    )
    return alert.id


async def test_card_goes_to_the_touchpoints_team_with_escaped_words(setup: tuple) -> None:
    db, _, inbox, recovery, survey_id = setup
    alert_id = await open_alert(recovery, db, survey_id)
    [card] = inbox.to(DELIVERY_TEAM)
    assert "&lt;Zoë&gt; (platinum)" in card.text
    assert "Box &lt;b&gt;crushed&lt;/b&gt; &amp; wet" in card.text
    assert "Rating: 1/5" in card.text
    assert [b.text for row in card.buttons for b in row] == ["Acknowledge", "Resolve"]
    stored = await alerts.get_alert(db, alert_id)
    assert stored is not None and stored.posted_chat_id == DELIVERY_TEAM


async def test_only_staff_can_resolve_and_resolution_schedules_a_followup(setup: tuple) -> None:
    db, settings, inbox, recovery, survey_id = setup
    alert_id = await open_alert(recovery, db, survey_id)
    refused = await recovery.on_press(5, f"al:{alert_id}:res")
    assert refused.toast == "Only the team can use these buttons." and refused.alert
    assert (await alerts.get_alert(db, alert_id)).status == "open"

    done = await recovery.on_press(900, f"al:{alert_id}:res")
    assert done.toast == "Resolved — thank you!"
    alert = await alerts.get_alert(db, alert_id)
    assert alert is not None and alert.status == "resolved" and alert.followup_survey_id is not None
    followup = await surveys.get_survey(db, alert.followup_survey_id)
    assert followup is not None and followup.kind == "recovery_followup"
    assert followup.scheduled_at >= NOON + timedelta(days=7)
    assert "resolved" in (inbox.edits[-1][2] or "")

    outreach = Outreach(db, settings, inbox, clock=lambda: followup.scheduled_at)
    assert (await outreach.tick()).invited == 1
    assert "our team followed it up" in inbox.to(5)[-1].text
    assert (await recovery.on_press(900, f"al:{alert_id}:res")).toast == "Already taken or resolved."


def test_severity() -> None:
    assert severity_of(1, "negative", "sadness") == ("low_rating", "high")
    assert severity_of(2, "neutral", "anger") == ("low_rating", "high")
    assert severity_of(2, "neutral", "neutral") == ("low_rating", "medium")
    assert severity_of(4, "negative", "disgust") == ("disgust", "medium")
    assert severity_of(None, "negative", "sadness") == ("negative_sentiment", "low")


# -- issue 15: a card always fits, is posted once, and is never edited to the same text ------------------


def _telegram_length(html_text: str) -> int:
    """What Telegram counts: the text after its HTML is parsed, in UTF-16 units."""
    import html as html_lib
    import re

    plain = html_lib.unescape(re.sub(r"<[^>]+>", "", html_text))
    return len(plain.encode("utf-16-le")) // 2


async def _add_answer(db: Database, survey_id: int, question: str, text: str, message_id: int) -> None:
    survey = await surveys.get_survey(db, survey_id)
    assert survey is not None
    await answers.record_answer(
        db,
        survey_id=survey_id,
        customer_id=survey.customer_id,
        touchpoint_id=survey.touchpoint_id,
        question=question,
        text=text,
        rating=None,
        language="en",
        chat_id=5,
        message_id=message_id,
        received_at=NOON,
    )


@pytest.mark.parametrize(
    "written",
    [
        [("improvement", "😡" * 2048)],  # 4,096 UTF-16 units on its own
        [("comment", "x & <y> " * 500), ("comment", "ü" * 3900), ("improvement", "🙏" * 3000)],
    ],
)
async def test_a_card_with_huge_answers_still_fits_and_shows_the_call_back(
    setup: tuple[Database, Settings, Inbox, Recovery, int], written: list[tuple[str, str]]
) -> None:
    db, _, inbox, recovery, survey_id = setup
    for n, (question, text) in enumerate(written):
        await _add_answer(db, survey_id, question, text, 100 + n)
    survey = await surveys.get_survey(db, survey_id)
    assert survey is not None
    await recovery.open(
        survey_id=survey_id,
        customer_id=survey.customer_id,
        touchpoint_id=survey.touchpoint_id,
        reason="low_rating",
        severity="high",
        callback_requested=True,
    )
    [card] = inbox.to(DELIVERY_TEAM)
    assert _telegram_length(card.text) <= 4096
    assert "📞 Asked to be contacted" in card.text and "Status: open" in card.text
    assert "…" in card.text  # the customer's words are cut, visibly


async def test_the_dialogue_and_the_clock_post_a_card_once(
    setup: tuple[Database, Settings, Inbox, Recovery, int],
) -> None:
    db, _, inbox, recovery, survey_id = setup
    survey = await surveys.get_survey(db, survey_id)
    assert survey is not None
    alert = await recovery.open(
        survey_id=survey_id,
        customer_id=survey.customer_id,
        touchpoint_id=survey.touchpoint_id,
        reason="low_rating",
        severity="high",
        wait=False,  # the dialogue's way: posted by its own task ...
    )
    await asyncio.gather(recovery.post_unposted(), recovery.post_unposted())  # ... while the clock retries
    await recovery.drain()
    assert len(inbox.to(DELIVERY_TEAM)) == 1
    # Raising the same alert again shows the same card: no edit that changes nothing.
    await recovery.open(
        survey_id=survey_id,
        customer_id=alert.customer_id,
        touchpoint_id=alert.touchpoint_id,
        reason="low_rating",
        severity="high",
    )
    assert inbox.edits == []

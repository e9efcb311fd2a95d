"""The dialogue's branching, driven through the engine's port (no Telegram): what the customer would see."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.api.ingest import sync_configured_touchpoints
from bot.config import Settings
from bot.conversation.engine import SurveyEngine
from bot.messaging import (
    IncomingPress,
    IncomingText,
    OutgoingMessage,
    Sender,
)
from bot.outreach.dispatch import Outreach
from bot.outreach.scheduling import schedule_survey
from sentiment import Analysis, ClassificationError
from storage import alerts, answers, customers, events, surveys, touchpoints
from storage.db import Database
from storage.models import Customer
from tests.support.inbox import Inbox, data_of

NOON = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
STAFF = -100100


class KeywordClassifier:
    """Test double: negative when the text says so; fails on demand. Only the branching is under test."""

    model_id = "keywords"
    model_version = "1"

    def __init__(self) -> None:
        self.fail = False

    async def analyse(
        self, texts: Sequence[str], languages: Sequence[str | None] | None = None
    ) -> list[Analysis]:
        if self.fail:
            raise ClassificationError("model unavailable")
        return [self._one(text) for text in texts]

    def _one(self, text: str) -> Analysis:
        lowered = text.lower()
        sentiment = (
            "negative" if any(w in lowered for w in ("bad", "awful", "furious", "mal")) else "positive"
        )
        emotion = "anger" if "furious" in lowered else "joy" if sentiment == "positive" else "sadness"
        scores = {"negative": 0.0, "neutral": 0.0, "positive": 0.0, sentiment: 1.0}
        emotions = {e: 0.0 for e in ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")}
        emotions[emotion] = 1.0
        return Analysis(sentiment, scores, emotion, emotions, self.model_id, self.model_version)

    async def aclose(self) -> None:
        return None


@dataclass
class World:
    db: Database
    settings: Settings
    inbox: Inbox
    classifier: KeywordClassifier
    engine: SurveyEngine
    outreach: Outreach
    clock: list[datetime]

    async def customer(self, user_id: int, language: str = "en") -> Customer:
        customer = await customers.upsert_customer(self.db, f"c{user_id}", tier="gold")
        await customers.link_telegram(
            self.db,
            customer.id,
            telegram_user_id=user_id,
            telegram_chat_id=user_id,
            display_name="Ana",
            language=language,
        )
        return await customers.grant_consent(self.db, customer.id)

    async def schedule(self, customer: Customer, key: str = "delivery") -> int:
        """A touchpoint two hours ago: its survey is due now. Returns the survey id."""
        touchpoint = await touchpoints.get_touchpoint(self.db, key)
        assert touchpoint is not None
        event, _ = await events.record_event(
            self.db,
            external_id=f"{customer.id}-{key}",
            customer_id=customer.id,
            touchpoint_id=touchpoint.id,
            occurred_at=NOON - timedelta(hours=2),
            attributes={},
        )
        planned = await schedule_survey(self.db, self.settings, event=event, now=NOON)
        assert planned.scheduled and planned.survey_id is not None
        return planned.survey_id

    async def invite(self, customer: Customer, key: str = "delivery") -> OutgoingMessage:
        await self.schedule(customer, key)
        await self.outreach.tick()
        assert customer.telegram_chat_id is not None
        return self.inbox.last(customer.telegram_chat_id)

    def sender(self, user_id: int) -> Sender:
        return Sender(user_id, user_id, "Ana", "en")

    async def say(self, user_id: int, text: str, message_id: int) -> OutgoingMessage:
        await self.engine.on_text(IncomingText(self.sender(user_id), message_id, text, self.clock[0]))
        return self.inbox.last(user_id)

    async def press(self, user_id: int, data: str, message_id: int = 1) -> OutgoingMessage:
        await self.engine.on_press(IncomingPress(self.sender(user_id), data, message_id, self.clock[0]))
        return self.inbox.last(user_id)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = Settings(
        storage={"path": tmp_path / "m.db"},
        telegram={"staff_chat_id": STAFF, "admin_user_ids": [900]},
        survey={"default_timezone": "UTC"},
        touchpoints=[
            {
                "key": "delivery",
                "names": {"en": "delivery", "es": "entrega"},
                "invite_delay": "2h",
                "reminder_delay": "1d",
                "expiry": "3d",
            },
        ],
    )
    db = await Database.open(tmp_path / "m.db")
    await sync_configured_touchpoints(db, settings)
    inbox, classifier = Inbox(), KeywordClassifier()
    clock = [NOON]
    engine = SurveyEngine(db, settings, classifier, inbox, clock=lambda: clock[0])
    outreach = Outreach(db, settings, inbox, clock=lambda: clock[0])
    yield World(db, settings, inbox, classifier, engine, outreach, clock)
    await db.close()


async def test_out_of_order_rating_first_is_not_asked_again(world: World) -> None:
    customer = await world.customer(7)
    invitation = await world.invite(customer)
    await world.press(7, data_of(invitation, "yes"))
    reply = await world.say(7, "4/5", 10)
    assert "what were you expecting" in reply.text
    reply = await world.say(7, "I hoped it would be quick", 11)
    assert "how did it actually go" in reply.text
    reply = await world.say(7, "It came on time and well packed", 12)
    assert "Thank you so much" in reply.text  # rating already known: never re-asked
    survey = (await surveys.surveys_for_customer(world.db, customer.id))[0]
    assert survey.status == "completed" and survey.state["rating"] == 4


async def test_answering_the_invitation_in_words_starts_the_survey(world: World) -> None:
    customer = await world.customer(8)
    await world.invite(customer)
    reply = await world.say(8, "The parcel arrived early, lovely driver", 10)
    assert "what were you expecting" in reply.text
    survey = (await surveys.surveys_for_customer(world.db, customer.id))[0]
    # Kept as a comment, never as the experience answer: "how did it actually go?" is still asked.
    assert survey.status == "in_progress" and "experience" not in survey.state
    stored = await answers.answers_for_survey(world.db, survey.id)
    assert [(a.question, a.text) for a in stored] == [("comment", "The parcel arrived early, lovely driver")]
    reply = await world.say(8, "on time", 11)
    assert "how did it actually go" in reply.text


@pytest.mark.parametrize(
    ("experience", "rating", "tone"),
    [
        ("It was awful, broken box", 4, "mixed"),  # unhappy words, good rating: no apology
        ("It was awful, broken box", 5, "mixed"),
        ("I am furious about it", 3, "mixed"),  # a 3 is never apologised to nor alerted
        ("All good, thanks", 2, "negative"),  # the low rating decides
        ("All good, thanks", 4, "positive"),
    ],
)
async def test_the_rating_decides_the_tone(world: World, experience: str, rating: int, tone: str) -> None:
    customer = await world.customer(9)
    invitation = await world.invite(customer)
    await world.press(9, data_of(invitation, "yes"))
    await world.say(9, "fast delivery", 10)
    rating_q = await world.say(9, experience, 11)
    reply = await world.press(9, data_of(rating_q, f"r{rating}"), message_id=12)
    await world.engine.recovery.drain()
    survey = (await surveys.surveys_for_customer(world.db, customer.id))[0]
    alert = await alerts.alert_for_survey(world.db, survey.id)
    assert survey.state["tone"] == tone and survey.state.get("mixed", False) is (tone == "mixed")
    if tone == "negative":
        assert "sorry" in reply.text.lower() and "What could we have done better" in reply.text
        assert alert is not None and alert.posted_chat_id == STAFF
        assert world.inbox.to(STAFF)
    elif tone == "mixed":
        assert "sorry" not in reply.text.lower()
        assert "anything we could do better" in reply.text
        assert alert is None and not world.inbox.to(STAFF)
        closing = await world.say(9, "a sturdier box", 13)
        assert "sorry" not in closing.text.lower() and "Have a great day" not in closing.text
        assert (await surveys.get_survey(world.db, survey.id)).status == "completed"  # type: ignore[union-attr]
    else:
        assert "Thank you so much" in reply.text
        assert alert is None and not world.inbox.to(STAFF)


async def test_model_failure_keeps_the_answer_and_the_dialogue_goes_on(world: World) -> None:
    customer = await world.customer(10)
    invitation = await world.invite(customer)
    await world.press(10, data_of(invitation, "yes"))
    world.classifier.fail = True
    await world.say(10, "fast delivery", 10)
    rating_q = await world.say(10, "It was awful", 11)
    assert "rate it" in rating_q.text
    survey = (await surveys.surveys_for_customer(world.db, customer.id))[0]
    stored = await answers.answers_for_survey(world.db, survey.id)
    assert [a.analysis_state for a in stored] == ["failed", "failed"]
    world.classifier.fail = False
    from bot.conversation.analysis import retry_pending

    assert await retry_pending(world.db, world.classifier) == 2
    assert all(a.analysis_state == "done" for a in await answers.answers_for_survey(world.db, survey.id))


async def test_skip_and_redelivered_update(world: World) -> None:
    customer = await world.customer(11)
    invitation = await world.invite(customer)
    await world.press(11, data_of(invitation, "yes"))
    await world.engine.on_skip(world.sender(11), at=NOON)
    assert "how did it actually go" in world.inbox.last(11).text
    before = len(world.inbox.sent)
    await world.say(11, "Great", 20)
    await world.engine.on_text(IncomingText(world.sender(11), 20, "Great", NOON))  # the same update again
    assert len(world.inbox.sent) == before + 1
    survey = (await surveys.surveys_for_customer(world.db, customer.id))[0]
    assert survey.state["expectation"] is None and survey.step == "rating"


async def test_dont_ask_me_again_opts_out(world: World) -> None:
    customer = await world.customer(12)
    invitation = await world.invite(customer)
    reply = await world.press(12, data_of(invitation, "never"))
    assert "won't send you any more surveys" in reply.text
    stored = await customers.get_customer(world.db, customer.id)
    assert stored is not None and stored.consent == "opted_out"


async def test_one_reminder_then_expiry(world: World) -> None:
    customer = await world.customer(13)
    await world.invite(customer)
    for hours in (25, 26, 30):
        world.clock[0] = NOON + timedelta(hours=hours)
        await world.outreach.tick()
    reminders = [m for m in world.inbox.to(13) if "gentle nudge" in m.text]
    assert len(reminders) == 1
    world.clock[0] = NOON + timedelta(days=3, minutes=1)
    report = await world.outreach.tick()
    assert report.expired == 1
    assert (await surveys.surveys_for_customer(world.db, customer.id))[0].status == "expired"


async def test_invitation_waits_for_quiet_hours_to_end(world: World) -> None:
    customer = await world.customer(14)
    touchpoint = await touchpoints.get_touchpoint(world.db, "delivery")
    assert touchpoint is not None
    event, _ = await events.record_event(
        world.db,
        external_id="late",
        customer_id=customer.id,
        touchpoint_id=touchpoint.id,
        occurred_at=NOON,
        attributes={},
    )
    result = await schedule_survey(world.db, world.settings, event=event, now=NOON)
    assert result.scheduled_at == NOON + timedelta(hours=2)
    # The customer moves to Tokyo before it is sent: 14:00 UTC is 23:00 there.
    await customers.set_timezone(world.db, customer.id, "Asia/Tokyo")
    world.clock[0] = NOON + timedelta(hours=2)
    report = await world.outreach.tick()
    assert report.deferred == 1 and not world.inbox.to(14)
    world.clock[0] = datetime(2026, 5, 5, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo
    assert (await world.outreach.tick()).invited == 1


async def test_blocked_customer_is_marked_unreachable(world: World) -> None:
    customer = await world.customer(15)
    world.inbox.blocked.add(15)
    await world.schedule(customer)
    report = await world.outreach.tick()
    assert report.unreachable == 1
    stored = await customers.get_customer(world.db, customer.id)
    assert stored is not None and stored.unreachable_at is not None


async def test_non_text_leaves_the_survey_where_it_was(world: World) -> None:
    customer = await world.customer(16)
    invitation = await world.invite(customer)
    await world.press(16, data_of(invitation, "yes"))
    await world.engine.on_non_text(world.sender(16))
    assert "please answer with text or the buttons" in world.inbox.last(16).text
    survey = (await surveys.surveys_for_customer(world.db, customer.id))[0]
    assert survey.step == "expectation"


async def test_reanalyse_reads_what_the_model_missed(world: World) -> None:
    from bot.conversation.analysis import reanalyse_all

    customer = await world.customer(17)
    world.classifier.fail = True
    await world.engine.on_text(IncomingText(world.sender(17), 30, "The shop was awful", NOON))
    stored = await answers.answers_for_customer(world.db, customer.id)
    assert [a.analysis_state for a in stored] == ["failed"]
    world.classifier.fail = False
    progress: list[tuple[int, int]] = []
    assert await reanalyse_all(world.db, world.classifier, progress=lambda d, t: progress.append((d, t))) == (
        1,
        0,
    )
    assert progress == [(1, 1)]
    [answer] = await answers.answers_for_customer(world.db, customer.id)
    assert answer.analysis is not None and answer.analysis.sentiment == "negative"


async def test_each_answer_keeps_the_language_it_is_written_in_and_exports_it(world: World) -> None:
    from storage import exports

    customer = await world.customer(45)  # Telegram says English
    await world.engine.on_text(
        IncomingText(world.sender(45), 30, "El pedido llegó roto y nadie me contesta", NOON)
    )
    await world.engine.on_text(IncomingText(world.sender(45), 31, "The box was crushed too", NOON))
    stored = await answers.answers_for_customer(world.db, customer.id)
    assert sorted(str(a.language) for a in stored) == ["en", "es"]
    column = exports.EXPORT_COLUMNS.index("language")
    rows = [row async for batch in exports.answer_batches(world.db) for row in batch]
    assert sorted(row[column] for row in rows) == ["en", "es"]


async def test_reanalyse_all_rereads_every_answer_and_resumes_after_an_interruption(world: World) -> None:
    from bot.conversation.analysis import reanalyse_all
    from storage import state

    for user, text in ((41, "The shop was awful"), (42, "Lovely staff"), (43, "Great visit")):
        await world.customer(user)
        await world.engine.on_text(IncomingText(world.sender(user), 30, text, NOON))
    # Already read by this model: a plain reanalyse has nothing to do, --all re-reads all three.
    assert await reanalyse_all(world.db, world.classifier) == (0, 0)

    class Interrupted(Exception):
        pass

    seen: list[tuple[int, int]] = []

    def stop_after_first_chunk(done: int, total: int) -> None:
        seen.append((done, total))
        raise Interrupted

    with pytest.raises(Interrupted):
        await reanalyse_all(
            world.db, world.classifier, batch=1, everything=True, progress=stop_after_first_chunk
        )
    assert seen == [(1, 3)]
    assert await state.get_value(world.db, "reanalyse_all:keywords@1") is not None
    # The resumed run reads only the two answers the interrupted one had not reached, then forgets the run.
    resumed: list[tuple[int, int]] = []
    assert await reanalyse_all(
        world.db, world.classifier, everything=True, progress=lambda d, t: resumed.append((d, t))
    ) == (2, 0)
    assert resumed == [(2, 2)]
    assert await state.get_value(world.db, "reanalyse_all:keywords@1") is None
    assert await reanalyse_all(world.db, world.classifier, everything=True) == (3, 0)


async def test_invitation_whose_answer_from_telegram_was_lost_is_never_sent_twice(world: World) -> None:
    customer = await world.customer(21)
    world.inbox.answer_lost.add(21)
    invitation = await world.invite(customer)  # it arrived; Momento could not know
    assert len(world.inbox.to(21)) == 1
    survey = (await surveys.surveys_for_customer(world.db, customer.id))[0]
    assert survey.status == "invited" and survey.invitation_message_id is None
    assert "unconfirmed" in str(survey.last_error)

    world.clock[0] = NOON + timedelta(hours=1)
    await world.outreach.tick()
    assert len(world.inbox.to(21)) == 1  # no second invitation

    world.clock[0] = NOON + timedelta(days=1, minutes=1)
    await world.outreach.tick()
    reminder = world.inbox.last(21)
    assert len(world.inbox.to(21)) == 2 and data_of(reminder, "yes") == data_of(invitation, "yes")
    reply = await world.press(21, data_of(reminder, "yes"), message_id=2)
    assert "what were you expecting" in reply.text


async def test_pressing_an_invitation_whose_send_was_interrupted_opens_the_survey(world: World) -> None:
    """A crash between sending and recording left the survey unconfirmed; the customer's press proves
    the invitation arrived, so the survey goes on at once instead of waiting for the reminder."""
    from storage import outreach as outreach_repo

    customer = await world.customer(22)
    survey_id = await world.schedule(customer)
    # What a process killed mid-send leaves behind: claimed, send begun, nothing recorded after.
    assert await outreach_repo.claim_survey(world.db, survey_id, now=NOON)

    reply = await world.press(22, f"sv:{survey_id}:yes", message_id=77)
    assert "what were you expecting" in reply.text
    survey = await surveys.get_survey(world.db, survey_id)
    assert survey is not None
    assert survey.status == "in_progress" and survey.invitation_message_id == 77
    await world.outreach.tick()
    assert len(world.inbox.to(22)) == 1  # and the tick does not send the invitation again


# -- issue 15: what the customer is owed is delivered, once, and never waits for the team's chat ----------


class FlakyInbox(Inbox):
    """Telegram that fails the next sends to customers with a 5xx, and holds the team chat's sends."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_customer_sends = 0
        self.team_gate = asyncio.Event()

    async def send(self, message: OutgoingMessage) -> int:
        if message.chat_id == STAFF:
            await self.team_gate.wait()  # the staff group's 20-a-minute limit, at its worst
        elif self.fail_customer_sends:
            self.fail_customer_sends -= 1
            raise RuntimeError("Bad Gateway (502)")
        return await super().send(message)


async def test_a_reply_telegram_refused_is_sent_later_and_only_once(world: World) -> None:
    flaky = FlakyInbox()
    flaky.team_gate.set()
    world.engine.messenger = world.engine.replies.messenger = flaky
    customer = await world.customer(30)
    invitation = await world.invite(customer)
    await world.press(30, data_of(invitation, "yes"))
    flaky.fail_customer_sends = 1
    await world.engine.on_text(IncomingText(world.sender(30), 40, "A parcel on Monday", NOON))
    # Telegram answered 502: the next question has not arrived yet, but it is owed.
    assert not [m for m in flaky.to(30) if "how did it actually go" in m.text]
    from storage import outbox

    await world.engine.replies.flush()  # confirmations are written to the database in batches
    [owed] = await outbox.unsent_for_chat(world.db, 30)
    assert "how did it actually go" in owed.text
    await outbox.retry_later(world.db, owed.id, at=NOON, error="test: due now")  # skip the backoff
    await world.engine.replies.deliver_due()
    await world.engine.replies.deliver_due()
    assert [m.text for m in flaky.to(30)].count(owed.text) == 1
    # The same update again (redelivered): nothing new is stored and nothing is sent twice.
    await world.engine.on_text(IncomingText(world.sender(30), 40, "A parcel on Monday", NOON))
    assert [m.text for m in flaky.to(30)].count(owed.text) == 1


async def test_a_crash_between_storing_the_answer_and_the_next_step_is_finished_on_replay(
    world: World,
) -> None:
    customer = await world.customer(31)
    invitation = await world.invite(customer)
    await world.press(31, data_of(invitation, "yes"))
    survey = (await surveys.surveys_for_customer(world.db, customer.id))[0]
    # The process died right after storing the answer: the survey never moved on and nothing was owed.
    await answers.record_answer(
        world.db,
        survey_id=survey.id,
        customer_id=customer.id,
        touchpoint_id=survey.touchpoint_id,
        question="expectation",
        text="A parcel on Monday",
        rating=None,
        language="en",
        chat_id=31,
        message_id=41,
        received_at=NOON,
    )
    reply = await world.say(31, "A parcel on Monday", 41)  # the update, replayed from the inbox
    assert "how did it actually go" in reply.text
    survey = (await surveys.surveys_for_customer(world.db, customer.id))[0]
    assert survey.step == "experience" and isinstance(survey.state["expectation"], int)
    stored = await answers.answers_for_survey(world.db, survey.id)
    assert [a.question for a in stored] == ["expectation"]


async def test_the_customer_never_waits_for_the_team_chat(world: World) -> None:
    flaky = FlakyInbox()  # the team gate stays shut: the alert post cannot get through
    world.engine.messenger = world.engine.replies.messenger = world.engine.recovery.messenger = flaky
    customer = await world.customer(32)
    invitation = await world.invite(customer)
    await world.press(32, data_of(invitation, "yes"))
    await world.engine.on_text(IncomingText(world.sender(32), 50, "On time", NOON))
    await asyncio.wait_for(
        world.engine.on_text(IncomingText(world.sender(32), 51, "It was awful, broken", NOON)), 5
    )
    press = world.engine.on_press(IncomingPress(world.sender(32), data_of(flaky.last(32), "r1"), 52, NOON))
    await asyncio.wait_for(press, 5)  # returns although the alert post is still waiting
    assert "What could we have done better" in flaky.last(32).text
    assert flaky.to(STAFF) == []
    flaky.team_gate.set()
    await world.engine.recovery.drain()
    assert len(flaky.to(STAFF)) == 1

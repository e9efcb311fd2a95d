"""The repositories as the bot uses them: customers, touchpoints, events, surveys, answers, alerts, staff,
audit and small state — against a real SQLite file and a real PostgreSQL database (each test on both)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage import alerts, answers, audit, customers, events, staff, state, surveys, touchpoints
from storage.db import Database
from storage.models import Customer, NotFoundError, Survey, SurveyStatus, Touchpoint, TouchpointSpec
from tests.support.postgres import BOTH_ENGINES

pytestmark = BOTH_ENGINES

AT = datetime(2026, 4, 2, 9, 30, tzinfo=UTC)
SPECS = [
    TouchpointSpec("purchase", {"en": "purchase", "es": "compra"}, "direct", 2, 1.0, "store"),
    TouchpointSpec("delivery", {"en": "delivery", "es": "entrega"}, "direct", 3, 1.5, "courier"),
    TouchpointSpec("ad", {"en": "advert"}, "indirect", 1, 0.5, "social"),
]


@dataclass(frozen=True)
class Reading:
    """What a classifier returns (the shape of sentiment.Analysis)."""

    sentiment: str
    sentiment_scores: dict[str, float]
    emotion: str
    emotion_scores: dict[str, float] = field(default_factory=lambda: {"anger": 0.7, "neutral": 0.3})
    model_id: str = "minilm-heads"
    model_version: str = "1"


NEGATIVE = Reading("negative", {"negative": 0.8, "neutral": 0.15, "positive": 0.05}, "anger")
POSITIVE = Reading("positive", {"negative": 0.05, "neutral": 0.15, "positive": 0.8}, "joy")


@pytest.fixture
async def db(storage_target: str | Path) -> AsyncIterator[Database]:
    database = await Database.open(storage_target)
    yield database
    await database.close()


@pytest.fixture
async def tps(db: Database) -> dict[str, Touchpoint]:
    return {tp.key: tp for tp in await touchpoints.sync_touchpoints(db, SPECS)}


async def telegram_customer(db: Database, user_id: int = 501) -> Customer:
    return await customers.ensure_telegram_customer(
        db, telegram_user_id=user_id, telegram_chat_id=user_id, display_name="Ana", language="es"
    )


# ---------------------------------------------------------------------------------------------- customers


async def general_survey(
    db: Database,
    customer: Customer,
    tp: Touchpoint,
    status: SurveyStatus = "completed",
    *,
    language: str = "es",
    scheduled_at: datetime = AT,
) -> Survey:
    """A survey with no event behind it, in the given status."""
    survey, _ = await surveys.create_survey(
        db,
        customer_id=customer.id,
        touchpoint_id=tp.id,
        event_id=None,
        kind="general",
        status=status,
        scheduled_at=scheduled_at,
        expires_at=None,
        language=language,
    )
    return survey


async def test_upsert_customer_keeps_what_a_later_call_leaves_out(db: Database) -> None:
    first = await customers.upsert_customer(db, "crm-7", display_name="Marta", language="es", tier="gold")
    again = await customers.upsert_customer(db, "crm-7", timezone="Europe/Madrid")

    assert again.id == first.id
    assert (again.display_name, again.language, again.tier, again.timezone) == (
        "Marta",
        "es",
        "gold",
        "Europe/Madrid",
    )
    assert (await customers.upsert_customer(db, "crm-8")).tier == "standard"


async def test_a_telegram_user_is_one_customer_whatever_the_path(db: Database) -> None:
    first = await telegram_customer(db)
    second = await telegram_customer(db)

    assert first.id == second.id
    assert first.external_id == "tg:501"
    found = await customers.get_by_telegram_user(db, 501)
    assert found is not None and found.id == first.id


async def test_linking_moves_a_telegram_user_instead_of_duplicating_it(db: Database) -> None:
    walk_in = await telegram_customer(db)  # wrote to the bot before we knew who they were
    crm = await customers.upsert_customer(db, "crm-42", display_name="Ana García")

    linked = await customers.link_telegram(
        db, crm.id, telegram_user_id=501, telegram_chat_id=501, display_name=None, language="en"
    )

    assert (linked.telegram_user_id, linked.display_name) == (501, "Ana García")
    found = await customers.get_by_telegram_user(db, 501)
    assert found is not None and found.id == crm.id
    orphan = await customers.get_customer(db, walk_in.id)
    assert orphan is not None and orphan.telegram_user_id is None and orphan.telegram_chat_id is None


async def test_a_chosen_language_survives_relinking_but_fills_when_empty(db: Database) -> None:
    customer = await customers.upsert_customer(db, "crm-1")
    linked = await customers.link_telegram(
        db, customer.id, telegram_user_id=9, telegram_chat_id=9, display_name="Jo", language="es"
    )
    assert linked.language == "es"
    await customers.set_language(db, customer.id, "en")
    relinked = await customers.link_telegram(
        db, customer.id, telegram_user_id=9, telegram_chat_id=9, display_name="Jo", language="es"
    )
    assert relinked.language == "en"


async def test_consent_opt_out_and_blocking_decide_reachability(db: Database) -> None:
    customer = await telegram_customer(db)
    assert customer.reachable

    opted = await customers.opt_out(db, customer.id, AT)
    assert (opted.consent, opted.opted_out_at, opted.reachable) == ("opted_out", AT, False)
    again = await customers.opt_out(db, customer.id, AT + timedelta(days=1))
    assert again.opted_out_at == AT  # the first opt-out time is the one that counts

    back = await customers.grant_consent(db, customer.id)
    assert (back.consent, back.opted_out_at, back.reachable) == ("granted", None, True)

    blocked = await customers.mark_unreachable(db, customer.id, AT)
    assert blocked.unreachable_at == AT and not blocked.reachable
    # Writing to us again (a new /start) links again and clears the block.
    returned = await telegram_customer(db)
    assert returned.unreachable_at is None and returned.reachable
    await customers.mark_unreachable(db, customer.id, AT)
    assert (await customers.clear_unreachable(db, customer.id)).reachable


async def test_changing_an_unknown_customer_is_an_error_not_a_silent_no_op(db: Database) -> None:
    with pytest.raises(NotFoundError):
        await customers.opt_out(db, 999, AT)


# -------------------------------------------------------------------------------------------- touchpoints


async def test_touchpoint_sync_keeps_ids_and_deactivates_removed_ones(db: Database) -> None:
    first = {tp.key: tp for tp in await touchpoints.sync_touchpoints(db, SPECS)}
    renamed = TouchpointSpec("delivery", {"en": "home delivery"}, "direct", 3, 2.0, "courier")

    second = {tp.key: tp for tp in await touchpoints.sync_touchpoints(db, [SPECS[0], renamed])}

    assert second["delivery"].id == first["delivery"].id
    assert (second["delivery"].weight, second["delivery"].name("en")) == (2.0, "home delivery")
    assert second["ad"].active is False
    assert [tp.key for tp in await touchpoints.list_touchpoints(db)] == ["purchase", "delivery"]
    assert [tp.key for tp in await touchpoints.list_touchpoints(db, active_only=False)] == [
        "ad",
        "purchase",
        "delivery",
    ]
    back = {tp.key: tp for tp in await touchpoints.sync_touchpoints(db, SPECS)}
    assert back["ad"].active and back["ad"].id == first["ad"].id


async def test_touchpoint_names_fall_back_to_english_then_the_key(tps: dict[str, Touchpoint]) -> None:
    assert tps["purchase"].name("es") == "compra"
    assert tps["ad"].name("es") == "advert"


async def test_duplicate_touchpoint_keys_are_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="unique"):
        await touchpoints.sync_touchpoints(db, [SPECS[0], SPECS[0]])


# ------------------------------------------------------------------------------------------------- events


async def test_the_same_event_twice_is_stored_once(db: Database, tps: dict[str, Touchpoint]) -> None:
    customer = await telegram_customer(db)
    first, created = await events.record_event(
        db,
        external_id="order-1001",
        customer_id=customer.id,
        touchpoint_id=tps["purchase"].id,
        occurred_at=AT,
        attributes={"order_id": "1001", "amount": "49.90", "store": "Centro"},
    )
    again, created_again = await events.record_event(
        db,
        external_id="order-1001",
        customer_id=customer.id,
        touchpoint_id=tps["delivery"].id,
        occurred_at=AT + timedelta(hours=1),
        attributes={},
    )

    assert (created, created_again) == (True, False)
    assert again == first
    assert first.amount == 49.9 and first.attributes["store"] == "Centro"
    assert await events.events_for_customer(db, customer.id) == [first]


# ------------------------------------------------------------------------------------------------ surveys


async def test_surveys_are_idempotent_per_event_and_kind(db: Database, tps: dict[str, Touchpoint]) -> None:
    customer = await telegram_customer(db)
    event, _ = await events.record_event(
        db, external_id="e1", customer_id=customer.id, touchpoint_id=tps["purchase"].id, occurred_at=AT
    )

    async def create(kind: str = "touchpoint") -> tuple[object, bool]:
        return await surveys.create_survey(
            db,
            customer_id=customer.id,
            touchpoint_id=tps["purchase"].id,
            event_id=event.id,
            kind=kind,  # type: ignore[arg-type]
            status="scheduled",
            scheduled_at=AT,
            expires_at=AT + timedelta(days=3),
            language="es",
        )

    first, created = await create()
    again, created_again = await create()
    followup, created_followup = await create("recovery_followup")

    assert (created, created_again, created_followup) == (True, False, True)
    assert again == first and followup != first


async def test_update_survey_changes_only_given_fields(db: Database, tps: dict[str, Touchpoint]) -> None:
    customer = await telegram_customer(db)
    survey = await general_survey(db, customer, tps["delivery"], "scheduled", language="en")

    invited = await surveys.update_survey(
        db, survey.id, status="invited", invited_at=AT, step="expectation", state={"expected": "on time"}
    )
    cleared = await surveys.update_survey(db, survey.id, step=None)

    assert (invited.status, invited.invited_at, invited.state) == ("invited", AT, {"expected": "on time"})
    assert (cleared.status, cleared.step, cleared.state, cleared.language) == (
        "invited",
        None,
        {"expected": "on time"},
        "en",
    )
    with pytest.raises(NotFoundError):
        await surveys.update_survey(db, 12345, status="expired")


async def test_only_one_of_two_racing_transitions_wins(db: Database, tps: dict[str, Touchpoint]) -> None:
    customer = await telegram_customer(db)
    survey = await general_survey(db, customer, tps["delivery"], "in_progress", language="en")

    completed = await surveys.update_survey_if(
        db, survey.id, "in_progress", status="completed", completed_at=AT
    )
    expired = await surveys.update_survey_if(db, survey.id, ("invited", "in_progress"), status="expired")

    assert completed is not None and completed.status == "completed"
    assert expired is None
    stored = await surveys.get_survey(db, survey.id)
    assert stored is not None and stored.status == "completed"


async def test_the_active_survey_is_the_newest_open_one(db: Database, tps: dict[str, Touchpoint]) -> None:
    customer = await telegram_customer(db)
    assert await surveys.active_survey_for_customer(db, customer.id) is None
    assert await surveys.last_invited_at(db, customer.id) is None
    made = []
    for offset, status in ((0, "completed"), (1, "invited"), (2, "in_progress"), (3, "scheduled")):
        survey = await general_survey(
            db, customer, tps["purchase"], status, scheduled_at=AT + timedelta(days=offset)
        )
        if status != "scheduled":
            survey = await surveys.update_survey(db, survey.id, invited_at=AT + timedelta(days=offset))
        made.append(survey)

    active = await surveys.active_survey_for_customer(db, customer.id)

    assert active is not None and active.id == made[2].id
    assert await surveys.last_invited_at(db, customer.id) == AT + timedelta(days=2)


# ------------------------------------------------------------------------------------------------ answers


async def answer(
    db: Database,
    customer: Customer,
    *,
    message_id: int,
    question: str = "experience",
    text: str | None = "ok",
) -> tuple[answers.Answer, bool]:
    return await answers.record_answer(
        db,
        survey_id=None,
        customer_id=customer.id,
        touchpoint_id=None,
        question=question,
        text=text,
        rating=None,
        language="es",
        truncated=False,
        chat_id=customer.telegram_chat_id,
        message_id=message_id,
        received_at=AT,
    )


async def test_the_same_message_is_one_answer_per_question(db: Database) -> None:
    customer = await telegram_customer(db)
    first, created = await answer(db, customer, message_id=10, text="Esperaba rapidez")
    again, created_again = await answer(db, customer, message_id=10, text="Esperaba rapidez")
    other_question, created_other = await answer(db, customer, message_id=10, question="expectation")

    assert (created, created_again, created_other) == (True, False, True)
    assert again == first and other_question.id != first.id
    assert len(await answers.answers_for_customer(db, customer.id)) == 2


async def test_the_same_message_id_in_another_chat_is_another_answer(db: Database) -> None:
    one = await telegram_customer(db, 501)
    two = await telegram_customer(db, 502)
    a, _ = await answer(db, one, message_id=10)
    b, created = await answer(db, two, message_id=10)
    assert created and a.id != b.id


async def test_ratings_outside_one_to_five_are_refused_and_nothing_is_stored(db: Database) -> None:
    customer = await telegram_customer(db)
    with pytest.raises(ValueError, match="between 1 and 5"):
        await answers.record_answer(
            db,
            survey_id=None,
            customer_id=customer.id,
            touchpoint_id=None,
            question="rating",
            text=None,
            rating=6,
            language="en",
            chat_id=1,
            message_id=1,
            received_at=AT,
        )
    assert await answers.answers_for_customer(db, customer.id) == []


async def test_analysis_lifecycle_pending_done_failed_and_retried(db: Database) -> None:
    customer = await telegram_customer(db)
    text_answer, _ = await answer(db, customer, message_id=1, text="Tardó muchísimo")
    rating_only, _ = await answer(db, customer, message_id=2, question="rating", text=None)
    failing, _ = await answer(db, customer, message_id=3, text="???")
    assert rating_only.analysis_state == "not_applicable"

    pending = await answers.answers_needing_analysis(db, 10, max_attempts=2)
    assert [a.id for a in pending] == [text_answer.id, failing.id]

    record = await answers.save_analysis(db, text_answer.id, NEGATIVE, analysed_at=AT)
    await answers.mark_analysis_failed(db, failing.id)
    assert [a.id for a in await answers.answers_needing_analysis(db, 10, max_attempts=2)] == [failing.id]
    await answers.mark_analysis_failed(db, failing.id)
    assert await answers.answers_needing_analysis(db, 10, max_attempts=2) == []

    stored = await answers.get_answer(db, text_answer.id)
    assert stored is not None and stored.analysis_state == "done" and stored.analysis == record
    assert record.sentiment_score == pytest.approx(-0.75)


async def test_an_edited_message_is_analysed_again_and_history_is_kept(db: Database) -> None:
    customer = await telegram_customer(db)
    original, _ = await answer(db, customer, message_id=5, text="Todo mal")
    await answers.save_analysis(db, original.id, NEGATIVE)

    edited = await answers.update_answer_text(
        db, chat_id=501, message_id=5, text="Todo bien al final", edited_at=AT + timedelta(minutes=2)
    )

    assert [(a.id, a.text, a.analysis_state, a.current_analysis_id) for a in edited] == [
        (original.id, "Todo bien al final", "pending", None)
    ]
    again = await answers.save_analysis(db, original.id, POSITIVE, analysed_text="Todo bien al final")
    stored = await answers.get_answer(db, original.id)
    assert stored is not None and stored.analysis is not None
    assert (stored.analysis.id, stored.analysis.sentiment, stored.analysis_state) == (
        again.id,
        "positive",
        "done",
    )
    # One reading per model version: the re-run replaced the reading of the old text.
    rows = await db.fetch_all("SELECT sentiment FROM analyses WHERE answer_id = ?", (original.id,))
    assert [row["sentiment"] for row in rows] == ["positive"]


async def test_a_reading_of_text_edited_meanwhile_does_not_become_current(db: Database) -> None:
    customer = await telegram_customer(db)
    original, _ = await answer(db, customer, message_id=5, text="Todo mal")
    seen = (await answers.answers_needing_analysis(db, 1))[0].text
    await answers.update_answer_text(db, chat_id=501, message_id=5, text="Todo bien", edited_at=AT)

    await answers.save_analysis(db, original.id, NEGATIVE, analysed_text=seen)

    stored = await answers.get_answer(db, original.id)
    assert stored is not None and stored.analysis is None and stored.analysis_state == "pending"
    assert [a.id for a in await answers.answers_needing_analysis(db, 10)] == [original.id]


async def test_a_new_model_version_adds_a_reading_beside_the_old_one(db: Database) -> None:
    customer = await telegram_customer(db)
    first, _ = await answer(db, customer, message_id=1, text="Muy bien")
    second, _ = await answer(db, customer, message_id=2, text="Regular")
    await answer(db, customer, message_id=3, question="rating", text=None)
    for item in (first, second):
        await answers.save_analysis(db, item.id, POSITIVE)

    assert await answers.all_answer_ids_for_reanalysis(db, "minilm-heads", "1") == []
    assert await answers.all_answer_ids_for_reanalysis(db, "minilm-heads", "2") == [first.id, second.id]

    upgraded = replace(POSITIVE, model_version="2", sentiment="neutral")
    await answers.save_analysis(db, first.id, upgraded)

    assert await answers.all_answer_ids_for_reanalysis(db, "minilm-heads", "2") == [second.id]
    current = await answers.get_answer(db, first.id)
    assert current is not None and current.analysis is not None
    assert (current.analysis.model_version, current.analysis.sentiment) == ("2", "neutral")
    rows = await db.fetch_all(
        "SELECT model_version FROM analyses WHERE answer_id = ? ORDER BY id", (first.id,)
    )
    assert [row["model_version"] for row in rows] == ["1", "2"]


async def test_answers_of_a_survey_come_in_order_with_their_analysis(
    db: Database, tps: dict[str, Touchpoint]
) -> None:
    customer = await telegram_customer(db)
    survey = await general_survey(db, customer, tps["delivery"], "in_progress")
    stored = []
    for minute, (question, text, rating) in enumerate(
        (("expectation", "Rapidez", None), ("experience", "Lentísimo", None), ("rating", None, 2))
    ):
        item, _ = await answers.record_answer(
            db,
            survey_id=survey.id,
            customer_id=customer.id,
            touchpoint_id=tps["delivery"].id,
            question=question,
            text=text,
            rating=rating,
            language="es",
            chat_id=501,
            message_id=100 + minute,
            received_at=AT + timedelta(minutes=minute),
        )
        stored.append(item)
    await answers.save_analysis(db, stored[1].id, NEGATIVE)

    listed = await answers.answers_for_survey(db, survey.id)

    assert [(a.question, a.rating) for a in listed] == [
        ("expectation", None),
        ("experience", None),
        ("rating", 2),
    ]
    assert [a.analysis.sentiment if a.analysis else None for a in listed] == [None, "negative", None]


# ------------------------------------------------------------------------------------------------- alerts


async def test_one_alert_per_survey_that_only_ever_gets_more_urgent(
    db: Database, tps: dict[str, Touchpoint]
) -> None:
    customer = await telegram_customer(db)
    survey_id = (await general_survey(db, customer, tps["delivery"])).id

    def trigger(severity: str, callback: bool) -> object:
        return alerts.open_alert(
            db,
            survey_id=survey_id,
            customer_id=customer.id,
            touchpoint_id=tps["delivery"].id,
            reason="low_rating",
            severity=severity,  # type: ignore[arg-type]
            callback_requested=callback,
        )

    first, created = await trigger("medium", False)  # type: ignore[misc]
    worse, created_worse = await trigger("high", True)  # type: ignore[misc]
    milder, created_milder = await trigger("low", False)  # type: ignore[misc]

    assert (created, created_worse, created_milder) == (True, False, False)
    assert first.id == worse.id == milder.id
    assert (milder.severity, milder.callback_requested) == ("high", True)


async def test_alert_lifecycle_posted_taken_once_resolved_and_followed_up(
    db: Database, tps: dict[str, Touchpoint]
) -> None:
    customer = await telegram_customer(db)
    older = (await general_survey(db, customer, tps["delivery"])).id
    newer = (await general_survey(db, customer, tps["purchase"])).id
    opened = []
    for survey_id in (older, newer):
        alert, _ = await alerts.open_alert(
            db,
            survey_id=survey_id,
            customer_id=customer.id,
            touchpoint_id=tps["delivery"].id,
            reason="anger",
            severity="high",
            callback_requested=True,
        )
        opened.append(alert)
    assert [a.id for a in await alerts.unposted_alerts(db)] == [a.id for a in opened]

    await alerts.mark_posted(db, opened[0].id, -100, 77, AT)
    taken = await alerts.acknowledge(db, opened[0].id, 900, AT + timedelta(minutes=1))
    taken_again = await alerts.acknowledge(db, opened[0].id, 901, AT + timedelta(minutes=2))

    assert [a.id for a in await alerts.unposted_alerts(db)] == [opened[1].id]
    assert taken is not None and (taken.status, taken.assignee_user_id) == ("acknowledged", 900)
    assert taken_again is None
    assert [a.id for a in await alerts.list_open_alerts(db)] == [opened[0].id, opened[1].id]

    resolved = await alerts.resolve(db, opened[0].id, 900, AT + timedelta(hours=1), notes="Refund sent")
    assert resolved is not None and (resolved.status, resolved.notes) == ("resolved", "Refund sent")
    assert await alerts.resolve(db, opened[0].id, 900, AT + timedelta(hours=2)) is None
    assert [a.id for a in await alerts.list_open_alerts(db)] == [opened[1].id]

    followup = (await general_survey(db, customer, tps["delivery"])).id
    linked = await alerts.set_followup_survey(db, opened[0].id, followup)
    assert linked.followup_survey_id == followup
    with pytest.raises(NotFoundError):
        await alerts.acknowledge(db, 999, 900, AT)


# ------------------------------------------------------------------------------------ staff, audit, state


async def test_staff_roles_are_added_changed_and_removed(db: Database) -> None:
    assert await staff.get_role(db, 42) is None
    await staff.add_staff(db, 42, "staff", added_by=900, display_name="Leo")
    await staff.add_staff(db, 43, "admin", added_by=900)
    promoted = await staff.add_staff(db, 42, "admin", added_by=901)

    assert (promoted.role, promoted.added_by, promoted.display_name) == ("admin", 900, "Leo")
    assert [m.telegram_user_id for m in await staff.list_staff(db)] == [42, 43]
    assert await staff.remove_staff(db, 42) is True
    assert await staff.remove_staff(db, 42) is False
    assert await staff.get_role(db, 42) is None
    assert await staff.get_role(db, 43) == "admin"


async def test_an_audit_entry_commits_or_rolls_back_with_the_change_it_records(db: Database) -> None:
    class Refused(Exception):
        pass

    with pytest.raises(Refused):
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO staff (telegram_user_id, role, added_at) VALUES (5, 'staff', '2026-01-01')"
            )
            await audit.record(db, actor="telegram:900", action="staff.add", subject="user:5", conn=conn)
            raise Refused

    assert await audit.list_entries(db) == []
    assert await staff.get_role(db, 5) is None

    await audit.record(db, actor="cli", action="export", details={"rows": 3})
    await audit.record(db, actor="telegram:900", action="staff.remove", subject="user:5")
    entries = await audit.list_entries(db, limit=10)
    assert [(e.actor, e.action, e.details) for e in entries] == [
        ("telegram:900", "staff.remove", {}),
        ("cli", "export", {"rows": 3}),
    ]


async def test_named_state_survives_a_restart(storage_target: str | Path) -> None:
    path = storage_target
    async with await Database.open(path) as db:
        assert await state.get_value(db, "digest.last_sent") is None
        await state.set_value(db, "digest.last_sent", "2026-04-01")
        await state.set_value(db, "digest.last_sent", "2026-04-02")
    async with await Database.open(path) as db:
        assert await state.get_value(db, "digest.last_sent") == "2026-04-02"

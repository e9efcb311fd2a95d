"""When a customer gets invited: delay, quiet hours in their own time zone, frequency cap, who wins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.api.ingest import sync_configured_touchpoints
from bot.config import Settings
from bot.outreach.scheduling import schedule_survey
from storage import customers, events, surveys, touchpoints
from storage.db import Database
from storage.models import Customer
from tests.support.postgres import BOTH_ENGINES

NOON = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)  # 12:00 in Madrid


def make_settings(tmp_path: Path, **survey: Any) -> Settings:
    return Settings(
        storage={"path": tmp_path / "m.db"},
        survey={"default_timezone": "Europe/Madrid", "frequency_cap": "14d", **survey},
        touchpoints=[
            {"key": "purchase", "names": {"en": "purchase"}, "weight": 1.0, "invite_delay": "1d"},
            {"key": "delivery", "names": {"en": "delivery"}, "weight": 1.5, "invite_delay": "2h"},
            {"key": "support_call", "names": {"en": "support call"}, "weight": 2.0, "invite_delay": "30m"},
        ],
    )


@pytest.fixture
async def db(tmp_path: Path, storage_target: str | Path) -> AsyncIterator[Database]:
    database = await Database.open(storage_target)
    await sync_configured_touchpoints(database, make_settings(tmp_path))
    yield database
    await database.close()


async def linked_customer(db: Database, external_id: str = "c1", *, timezone: str | None = None) -> Customer:
    customer = await customers.upsert_customer(db, external_id, timezone=timezone)
    await customers.link_telegram(
        db,
        customer.id,
        telegram_user_id=hash(external_id) % 10**6,
        telegram_chat_id=hash(external_id) % 10**6,
        display_name="Ana",
        language="en",
    )
    return await customers.grant_consent(db, customer.id)


async def event_for(db: Database, customer: Customer, key: str, at: datetime, external_id: str) -> Any:
    touchpoint = await touchpoints.get_touchpoint(db, key)
    assert touchpoint is not None
    recorded, _ = await events.record_event(
        db,
        external_id=external_id,
        customer_id=customer.id,
        touchpoint_id=touchpoint.id,
        occurred_at=at,
        attributes={},
    )
    return recorded


@BOTH_ENGINES
async def test_invitation_due_after_the_touchpoint_delay(db: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    customer = await linked_customer(db)
    event = await event_for(db, customer, "delivery", NOON, "e1")
    result = await schedule_survey(db, settings, event=event, now=NOON)
    assert result.scheduled and result.reason is None
    assert result.scheduled_at == NOON + timedelta(hours=2)


@BOTH_ENGINES
async def test_quiet_hours_follow_the_customers_own_time_zone(db: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    # 19:00 UTC + 2 h = 21:00 UTC: 23:00 in Madrid (quiet) but 14:00 in Mexico City (fine).
    evening = datetime(2026, 5, 4, 19, 0, tzinfo=UTC)
    madrid = await linked_customer(db, "madrid")
    mexico = await linked_customer(db, "mexico", timezone="America/Mexico_City")
    in_madrid = await schedule_survey(
        db, settings, event=await event_for(db, madrid, "delivery", evening, "e1"), now=evening
    )
    in_mexico = await schedule_survey(
        db, settings, event=await event_for(db, mexico, "delivery", evening, "e2"), now=evening
    )
    assert in_madrid.scheduled_at == datetime(2026, 5, 5, 7, 0, tzinfo=UTC)  # 09:00 Madrid next morning
    assert in_mexico.scheduled_at == datetime(2026, 5, 4, 21, 0, tzinfo=UTC)


@BOTH_ENGINES
async def test_same_event_twice_is_a_duplicate(db: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    customer = await linked_customer(db)
    event = await event_for(db, customer, "delivery", NOON, "e1")
    first = await schedule_survey(db, settings, event=event, now=NOON)
    again = await schedule_survey(db, settings, event=event, now=NOON)
    assert first.scheduled and not again.scheduled
    assert again.reason == "duplicate" and again.survey_id == first.survey_id


@BOTH_ENGINES
async def test_heavier_touchpoint_wins_within_the_cap(db: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    customer = await linked_customer(db)
    purchase = await schedule_survey(
        db, settings, event=await event_for(db, customer, "purchase", NOON, "e1"), now=NOON
    )
    support = await schedule_survey(
        db, settings, event=await event_for(db, customer, "support_call", NOON, "e2"), now=NOON
    )
    delivery = await schedule_survey(
        db, settings, event=await event_for(db, customer, "delivery", NOON, "e3"), now=NOON
    )
    assert purchase.scheduled and support.scheduled
    assert not delivery.scheduled and delivery.reason == "frequency_cap"  # lighter than the support call
    assert purchase.survey_id is not None
    superseded = await surveys.get_survey(db, purchase.survey_id)
    assert (
        superseded is not None and superseded.status == "skipped" and superseded.skip_reason == "superseded"
    )


@BOTH_ENGINES
async def test_recently_invited_customer_is_not_asked_again(db: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    customer = await linked_customer(db)
    first = await schedule_survey(
        db, settings, event=await event_for(db, customer, "delivery", NOON, "e1"), now=NOON
    )
    assert first.survey_id is not None
    await surveys.update_survey(db, first.survey_id, status="completed", invited_at=NOON + timedelta(hours=2))
    later = NOON + timedelta(days=5)
    second = await schedule_survey(
        db, settings, event=await event_for(db, customer, "support_call", later, "e2"), now=later
    )
    assert second.reason == "frequency_cap"
    much_later = NOON + timedelta(days=20)
    third = await schedule_survey(
        db, settings, event=await event_for(db, customer, "purchase", much_later, "e3"), now=much_later
    )
    assert third.scheduled


@BOTH_ENGINES
async def test_reasons_for_customers_who_cannot_be_asked(db: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    unlinked = await customers.upsert_customer(db, "unlinked")
    opted_out = await linked_customer(db, "optout")
    await customers.opt_out(db, opted_out.id, NOON)
    blocked = await linked_customer(db, "blocked")
    await customers.mark_unreachable(db, blocked.id, NOON)
    results = {}
    for n, customer in enumerate((unlinked, opted_out, blocked)):
        event = await event_for(db, customer, "delivery", NOON, f"e{n}")
        results[customer.external_id] = (await schedule_survey(db, settings, event=event, now=NOON)).reason
    assert results == {"unlinked": "not_linked", "optout": "opted_out", "blocked": "unreachable"}


@BOTH_ENGINES
async def test_unknown_touchpoint_and_stale_event(db: Database, tmp_path: Path) -> None:
    customer = await linked_customer(db)
    event = await event_for(db, customer, "delivery", NOON - timedelta(days=30), "old")
    stale = await schedule_survey(db, make_settings(tmp_path), event=event, now=NOON)
    assert stale.reason == "too_late"
    fresh = await event_for(db, customer, "delivery", NOON, "fresh")
    without_delivery = make_settings(tmp_path).model_copy(update={"touchpoints": []})
    assert (await schedule_survey(db, without_delivery, event=fresh, now=NOON)).reason == "unknown_touchpoint"

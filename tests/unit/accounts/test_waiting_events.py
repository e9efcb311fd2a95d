"""An event that arrives before its customer linked their chat is kept, and its invitation goes out when the
customer links, as long as the survey would not have expired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.accounts.links import make_start_payload
from bot.accounts.service import Accounts
from bot.api import ingest
from bot.api.models import CustomerIn, EventIn
from bot.config import Settings
from bot.messaging import Sender
from storage.db import Database

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def settings_for(tmp_path: Path) -> Settings:
    return Settings(
        storage={"path": str(tmp_path / "m.db")},
        links={"signing_key": "waiting-events-key"},
        survey={"default_timezone": "UTC", "quiet_hours_start": "23:00:00", "quiet_hours_end": "06:00:00"},
        touchpoints=[
            {"key": "purchase", "names": {"en": "purchase"}, "invite_delay": "1h", "expiry": "3d"},
            {
                "key": "delivery",
                "names": {"en": "delivery"},
                "invite_delay": "2h",
                "expiry": "3d",
                "weight": 2,
            },
        ],
    )


async def statuses(db: Database) -> list[tuple[str, str, str | None]]:
    rows = await db.fetch_all(
        "SELECT e.external_id, s.status, s.skip_reason FROM surveys s "
        "JOIN touchpoint_events e ON e.id = s.event_id ORDER BY e.external_id"
    )
    return [(row[0], row[1], row[2]) for row in rows]


async def link(db: Database, settings: Settings, external_id: str, at: datetime) -> None:
    customer = await db.fetch_one("SELECT id FROM customers WHERE external_id = ?", (external_id,))
    assert customer is not None
    payload = make_start_payload(settings.links.signing_key, int(customer[0]), ttl=timedelta(days=30), now=at)
    accounts = Accounts(db, settings, clock=lambda: at)
    outcome = await accounts.link(Sender(user_id=4242, chat_id=4242, language_code="en"), payload)
    assert outcome.customer is not None


async def test_linking_in_time_sends_the_waiting_invitation(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    async with await Database.open(settings.storage.path) as db:
        await ingest.sync_configured_touchpoints(db, settings)
        await ingest.upsert_customer(db, CustomerIn(external_id="c-1"))
        events = [
            EventIn(external_id="e-1", customer_external_id="c-1", touchpoint="purchase", occurred_at=NOW),
            EventIn(external_id="e-2", customer_external_id="c-1", touchpoint="delivery", occurred_at=NOW),
        ]
        results = await ingest.ingest_events(db, settings, events, now=NOW)
        assert [r.reason for r in results] == ["customer_not_linked", "customer_not_linked"]
        assert await statuses(db) == [("e-1", "skipped", "not_linked"), ("e-2", "skipped", "not_linked")]
        # A day later (within the 3-day expiry) the customer opens their link: one invitation, the heavier
        # touchpoint's (delivery), goes out; the other stays skipped, so the customer is not asked twice.
        await link(db, settings, "c-1", NOW + timedelta(days=1))
        assert await statuses(db) == [("e-1", "skipped", "not_linked"), ("e-2", "scheduled", None)]
        due = await db.fetch_one("SELECT scheduled_at FROM surveys WHERE status = 'scheduled'")
        assert due is not None and due[0].startswith("2026-11-25T10:00:00")


async def test_linking_after_the_expiry_sends_nothing(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    async with await Database.open(settings.storage.path) as db:
        await ingest.sync_configured_touchpoints(db, settings)
        await ingest.upsert_customer(db, CustomerIn(external_id="c-1"))
        event = EventIn(external_id="e-1", customer_external_id="c-1", touchpoint="purchase", occurred_at=NOW)
        await ingest.ingest_events(db, settings, [event], now=NOW)
        # Invitation due 11:00, expiring three days later: a link on day 4 is too late.
        await link(db, settings, "c-1", NOW + timedelta(days=4))
        assert await statuses(db) == [("e-1", "skipped", "not_linked")]

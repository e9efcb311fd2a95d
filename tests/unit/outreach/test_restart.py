"""After a restart the normal path is fast again: a dead process's claims do not wait out the lease."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.api.ingest import sync_configured_touchpoints
from bot.config import Settings
from bot.outreach.dispatch import Outreach
from bot.outreach.scheduling import schedule_survey
from bot.outreach.wire import WireJournal
from storage import customers, events, outreach, surveys, touchpoints
from storage.db import Database
from tests.support.inbox import Inbox
from tests.support.postgres import BOTH_ENGINES

NOON = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


@BOTH_ENGINES
@pytest.mark.parametrize("left", [True, False])
async def test_the_first_tick_after_a_crash_sends_the_rest_of_the_batch_at_once(
    tmp_path: Path, storage_target: str | Path, left: bool
) -> None:
    settings = Settings(
        storage={"path": tmp_path / "m.db"},
        survey={"default_timezone": "UTC", "quiet_hours_start": "00:00:00", "quiet_hours_end": "00:00:00"},
        touchpoints=[{"key": "delivery", "names": {"en": "delivery"}, "invite_delay": "2h"}],
    )
    async with await Database.open(storage_target) as db:
        await sync_configured_touchpoints(db, settings)
        touchpoint = await touchpoints.get_touchpoint(db, "delivery")
        assert touchpoint is not None
        for n in range(6):
            customer = await customers.upsert_customer(db, f"c{n}")
            await customers.link_telegram(
                db,
                customer.id,
                telegram_user_id=n + 1,
                telegram_chat_id=n + 1,
                display_name=None,
                language="en",
            )
            await customers.grant_consent(db, customer.id)
            event, _ = await events.record_event(
                db,
                external_id=f"e{n}",
                customer_id=customer.id,
                touchpoint_id=touchpoint.id,
                occurred_at=NOON - timedelta(hours=3),
                attributes={},
            )
            await schedule_survey(db, settings, event=event, now=NOON - timedelta(hours=3))
        # The dead process claimed the whole batch a second ago and had begun sending the first one.
        claimed = await outreach.claim_due_invitations(db, now=NOON, lease=timedelta(minutes=2), limit=10)
        assert len(claimed) == 6
        assert await outreach.mark_sending(db, claimed[0].id, now=NOON)

        wire = WireJournal.beside(tmp_path / "m.db")
        assert wire is not None
        if left:  # its request had gone out when the process died (it may have arrived)
            wire.record_markup(
                f'{{"inline_keyboard":[[{{"text":"Sure","callback_data":"sv:{claimed[0].id}:yes"}}]]}}'
            )

        inbox = Inbox()
        restarted = Outreach(db, settings, inbox, clock=lambda: NOON + timedelta(seconds=1), wire=wire)
        report = await restarted.tick()
        if left:
            # Five invitations go out now, not after the 2-minute lease; the interrupted one is never sent
            # again (it may have arrived) but opens at once, its reminder carrying the same buttons.
            assert report.invited == 5 and report.unconfirmed == 1
            assert sorted(m.chat_id for m in inbox.sent) == [2, 3, 4, 5, 6]
        else:
            # It was still waiting for a rate-limit slot: it never left, so it is simply sent now.
            assert report.invited == 6 and report.unconfirmed == 0
            assert sorted(m.chat_id for m in inbox.sent) == [1, 2, 3, 4, 5, 6]
        states = {s.id: s.status for s in [await surveys.get_survey(db, c.id) for c in claimed] if s}
        assert set(states.values()) == {"invited"}
        # A later tick keeps the lease for claims of its own time: nothing is sent twice.
        assert (await restarted.tick()).invited == 0 and len(inbox.sent) == (5 if left else 6)

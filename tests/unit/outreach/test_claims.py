"""Several processes' outreach clocks on one database: every due invitation is claimed exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage import customers, outreach, surveys, touchpoints
from storage.db import Database
from storage.models import TouchpointSpec
from tests.support.postgres import BOTH_ENGINES

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
DUE = 240


@BOTH_ENGINES
async def test_four_clocks_claiming_at_once_take_each_due_invitation_once(storage_target: str | Path) -> None:
    async with await Database.open(storage_target) as db:
        [tp] = await touchpoints.sync_touchpoints(
            db, [TouchpointSpec("delivery", {"en": "delivery"}, "direct", 1, 1.0, "courier")]
        )
        async with db.batch():
            for n in range(DUE):
                customer = await customers.upsert_customer(db, f"c{n}")
                await surveys.create_survey(
                    db,
                    customer_id=customer.id,
                    touchpoint_id=tp.id,
                    event_id=None,
                    kind="general",
                    status="scheduled",
                    scheduled_at=NOW - timedelta(minutes=n % 30),
                    expires_at=NOW + timedelta(days=7),
                )
    # One database handle per process, as four workers would have.
    clocks = [await Database.open(storage_target) for _ in range(4)]

    async def clock(db: Database) -> list[int]:
        taken: list[int] = []
        while claimed := await outreach.claim_due_invitations(
            db, now=NOW, lease=timedelta(minutes=10), limit=7
        ):
            taken.extend(survey.id for survey in claimed)
            await asyncio.sleep(0)
        return taken

    try:
        results = await asyncio.gather(*(clock(db) for db in clocks))
    finally:
        for db in clocks:
            await db.close()
    every = [survey_id for taken in results for survey_id in taken]
    assert len(every) == DUE and len(set(every)) == DUE  # all claimed, none twice

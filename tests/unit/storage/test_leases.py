"""Leases: of several processes claiming one piece of work at once exactly one gets it, until it expires."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage import leases
from storage.db import Database
from tests.support.postgres import BOTH_ENGINES

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
TTL = timedelta(seconds=30)


@BOTH_ENGINES
async def test_a_lease_is_held_extended_released_and_freed_by_expiry(storage_target: str | Path) -> None:
    async with await Database.open(storage_target) as db:
        assert await leases.claim(db, "webhook:crm:1", "a", now=NOW, ttl=TTL)
        assert not await leases.claim(db, "webhook:crm:1", "b", now=NOW + timedelta(seconds=10), ttl=TTL)
        assert await leases.claim(db, "webhook:crm:2", "b", now=NOW, ttl=TTL)  # another queue is free
        assert await leases.claim(db, "webhook:crm:1", "a", now=NOW + timedelta(seconds=20), ttl=TTL)
        # Extended to +50 s: still held at +40 s, free at +50 s.
        assert not await leases.claim(db, "webhook:crm:1", "b", now=NOW + timedelta(seconds=40), ttl=TTL)
        assert await leases.holder_of(db, "webhook:crm:1", now=NOW + timedelta(seconds=40)) == "a"
        assert await leases.claim(db, "webhook:crm:1", "b", now=NOW + timedelta(seconds=50), ttl=TTL)
        assert not await leases.release(db, "webhook:crm:1", "a")  # it went to b
        assert await leases.release(db, "webhook:crm:1", "b")
        assert await leases.holder_of(db, "webhook:crm:1", now=NOW) is None
        assert await leases.claim(db, "webhook:crm:1", "a", now=NOW, ttl=TTL)


@BOTH_ENGINES
async def test_of_four_processes_claiming_at_once_one_holds_each_lease(storage_target: str | Path) -> None:
    async with await Database.open(storage_target):
        pass  # migrated once
    handles = [await Database.open(storage_target) for _ in range(4)]
    names = [f"webhook:crm:{n}" for n in range(25)]

    async def process(db: Database, holder: str) -> list[str]:
        won = []
        for name in names:
            if await leases.claim(db, name, holder, now=NOW, ttl=TTL):
                won.append(name)
            await asyncio.sleep(0)
        return won

    try:
        results = await asyncio.gather(*(process(db, f"p{n}") for n, db in enumerate(handles)))
    finally:
        for db in handles:
            await db.close()
    every = [name for won in results for name in won]
    assert sorted(every) == sorted(names)  # each lease to exactly one process

"""How writes are grouped: one transaction per change, nested blocks as savepoints, batches as one commit —
and no way for a handler to deadlock itself or leave the writer stuck in a transaction."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from storage import audit, state
from storage.db import Database
from tests.support.postgres import BOTH_ENGINES


@pytest.fixture
async def db(storage_target: str | Path) -> AsyncIterator[Database]:
    database = await Database.open(storage_target)
    yield database
    await database.close()


class Refused(Exception):
    pass


async def values(db: Database) -> dict[str, str]:
    return {row["key"]: row["value"] for row in await db.fetch_all("SELECT key, value FROM app_state")}


@BOTH_ENGINES
async def test_a_failing_change_leaves_nothing_behind_and_the_next_one_works(db: Database) -> None:
    with pytest.raises(Refused):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO app_state (key, value) VALUES ('a', '1')")
            await conn.execute("INSERT INTO app_state (key, value) VALUES ('b', '2')")
            raise Refused

    await state.set_value(db, "c", "3")
    assert await values(db) == {"c": "3"}


@BOTH_ENGINES
async def test_a_cancelled_handler_rolls_its_change_back(db: Database) -> None:
    entered = asyncio.Event()

    async def slow_change() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO app_state (key, value) VALUES ('half', 'done')")
            entered.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(slow_change())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    await state.set_value(db, "after", "ok")
    assert await values(db) == {"after": "ok"}


@BOTH_ENGINES
async def test_a_repository_call_inside_a_transaction_joins_it_instead_of_deadlocking(db: Database) -> None:
    async def change() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO app_state (key, value) VALUES ('k', 'v')")
            # Forgot to pass conn: still one unit of work, not a wait on our own lock.
            await audit.record(db, actor="cli", action="state.set", subject="k")
            raise Refused

    with pytest.raises(Refused):
        await asyncio.wait_for(change(), timeout=10)
    assert await values(db) == {}
    assert await audit.list_entries(db) == []


@BOTH_ENGINES
async def test_a_failing_nested_block_rolls_back_alone(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO app_state (key, value) VALUES ('kept', '1')")
        with pytest.raises(Refused):
            async with db.transaction() as inner:
                await inner.execute("INSERT INTO app_state (key, value) VALUES ('dropped', '2')")
                raise Refused
        await conn.execute("INSERT INTO app_state (key, value) VALUES ('also_kept', '3')")

    assert await values(db) == {"kept": "1", "also_kept": "3"}


@BOTH_ENGINES
async def test_a_single_change_in_a_batch_that_fails_leaves_the_rest_of_the_batch(db: Database) -> None:
    await state.set_value(db, "taken", "0")
    async with db.batch():
        await state.set_value(db, "before", "1")
        with pytest.raises((sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError)):
            async with db.transaction(one_change=True) as conn:
                await conn.execute("INSERT INTO app_state (key, value) VALUES ('taken', 'x'), ('new', 'y')")
        await state.set_value(db, "after", "2")

    # The failed statement wrote neither of its rows; everything else in the batch is committed.
    assert await values(db) == {"taken": "0", "before": "1", "after": "2"}


@BOTH_ENGINES
async def test_a_one_change_block_outside_a_batch_is_its_own_transaction(db: Database) -> None:
    with pytest.raises(Refused):
        async with db.transaction(one_change=True) as conn:
            await conn.execute("INSERT INTO app_state (key, value) VALUES ('lonely', '1')")
            raise Refused
    assert await values(db) == {}


@BOTH_ENGINES
async def test_a_batch_is_one_commit_that_readers_see_whole(db: Database) -> None:
    seen_during: dict[str, str] = {}
    async with db.batch():
        for n in range(50):
            await state.set_value(db, f"k{n}", str(n))
        with pytest.raises(Refused):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO app_state (key, value) VALUES ('bad', 'x')")
                raise Refused
        seen_during = await values(db)

    assert seen_during == {}
    after = await values(db)
    assert len(after) == 50 and "bad" not in after


@BOTH_ENGINES
async def test_a_task_started_inside_a_transaction_waits_for_it_instead_of_writing_into_it(
    db: Database,
) -> None:
    spawned: asyncio.Task[None] | None = None
    with pytest.raises(Refused):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO app_state (key, value) VALUES ('outer', '1')")
            spawned = asyncio.create_task(state.set_value(db, "spawned", "2"))
            for _ in range(20):
                await asyncio.sleep(0)  # let it run as far as it can
            assert not spawned.done()  # queued behind the open transaction
            raise Refused
    assert spawned is not None
    await asyncio.wait_for(spawned, timeout=10)

    assert await values(db) == {"spawned": "2"}

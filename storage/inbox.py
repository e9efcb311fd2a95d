"""The durable inbox: Telegram updates stored before they are acknowledged, replayed until handled."""

from __future__ import annotations

from datetime import datetime

from storage import _rows
from storage.db import Database, to_db_time


async def store_update(db: Database, update_id: int, payload: str, *, at: datetime) -> bool:
    """Keep one raw update; False when it was stored already (Telegram delivered it again)."""
    async with db.transaction() as conn:
        return (
            await _rows.changed(
                conn,
                """INSERT INTO inbox (update_id, payload, received_at) VALUES (?, ?, ?)
                   ON CONFLICT (update_id) DO NOTHING""",
                (update_id, payload, to_db_time(at)),
            )
            == 1
        )


async def mark_done(db: Database, update_id: int, *, at: datetime) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE inbox SET done_at = ? WHERE update_id = ? AND done_at IS NULL",
            (to_db_time(at), update_id),
        )


async def mark_done_many(db: Database, update_ids: list[int], *, at: datetime) -> None:
    """Several handled updates in one commit."""
    if not update_ids:
        return
    async with db.transaction() as conn:
        await conn.executemany(
            "UPDATE inbox SET done_at = ? WHERE update_id = ? AND done_at IS NULL",
            [(to_db_time(at), update_id) for update_id in update_ids],
        )


async def pending_updates(db: Database) -> list[tuple[int, str]]:
    """Updates stored but never handled (the process died first), oldest first."""
    rows = await db.fetch_all("SELECT update_id, payload FROM inbox WHERE done_at IS NULL ORDER BY update_id")
    return [(int(row["update_id"]), str(row["payload"])) for row in rows]


async def prune_done(db: Database, *, before: datetime) -> int:
    """Forget handled updates older than *before* (they only guard against a late redelivery)."""
    async with db.transaction() as conn:
        return await _rows.changed(
            conn, "DELETE FROM inbox WHERE done_at IS NOT NULL AND done_at < ?", (to_db_time(before),)
        )

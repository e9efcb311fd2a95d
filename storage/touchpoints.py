"""Touchpoints: the config is the source of truth; the table keeps ids stable and history countable."""

from __future__ import annotations

from collections.abc import Sequence

from storage import _rows
from storage.db import Database, to_db_time, utcnow
from storage.models import Touchpoint, TouchpointSpec


async def sync_touchpoints(db: Database, specs: Sequence[TouchpointSpec]) -> list[Touchpoint]:
    """Make the table match the config in one transaction: new keys are added, known keys updated (same
    id, so history stays attached), keys no longer configured become inactive rather than deleted."""
    keys = [spec.key for spec in specs]
    if len(set(keys)) != len(keys):
        raise ValueError("touchpoint keys must be unique")
    now = to_db_time(utcnow())
    async with db.transaction() as conn:
        for spec in specs:
            await conn.execute(
                """
                INSERT INTO touchpoints (key, names, kind, stage, weight, channel, active, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, 1, ?)
                ON CONFLICT (key) DO UPDATE SET
                    names = excluded.names, kind = excluded.kind, stage = excluded.stage,
                    weight = excluded.weight, channel = excluded.channel, active = 1,
                    updated_at = excluded.updated_at
                """,
                (spec.key, _rows.dumps(spec.names), spec.kind, spec.stage, spec.weight, spec.channel, now),
            )
        placeholders = ",".join("?" * len(keys))
        # No touchpoints configured: every one goes inactive (PostgreSQL has no empty IN list).
        kept = f" AND key NOT IN ({placeholders})" if keys else ""
        await conn.execute(
            f"UPDATE touchpoints SET active = 0, updated_at = ? WHERE active = 1{kept}", (now, *keys)
        )
        rows = await _rows.all_rows(conn, "SELECT * FROM touchpoints ORDER BY stage, key")
    return [_rows.touchpoint(row) for row in rows]


async def get_touchpoint(db: Database, key: str) -> Touchpoint | None:
    row = await db.fetch_one("SELECT * FROM touchpoints WHERE key = ?", (key,))
    return _rows.touchpoint(row) if row else None


async def get_touchpoint_by_id(db: Database, touchpoint_id: int) -> Touchpoint | None:
    row = await db.fetch_one("SELECT * FROM touchpoints WHERE id = ?", (touchpoint_id,))
    return _rows.touchpoint(row) if row else None


async def touchpoint_key(db: Database, touchpoint_id: int | None) -> str | None:
    """The key of a touchpoint id, read once per database (ids never change meaning)."""
    if touchpoint_id is None:
        return None
    if touchpoint_id not in db.touchpoint_keys:
        stored = await get_touchpoint_by_id(db, touchpoint_id)
        if stored is None:
            return None
        db.touchpoint_keys[touchpoint_id] = stored.key
    return db.touchpoint_keys[touchpoint_id]


async def list_touchpoints(db: Database, active_only: bool = True) -> list[Touchpoint]:
    """In journey order (stage, then key)."""
    where = "WHERE active = 1" if active_only else ""
    rows = await db.fetch_all(f"SELECT * FROM touchpoints {where} ORDER BY stage, key")
    return [_rows.touchpoint(row) for row in rows]

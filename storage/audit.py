"""The audit log: who did what to whom, for admin actions, exports and erasures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiosqlite

from storage import _rows
from storage.db import Database, to_db_time, utcnow
from storage.models import AuditEntry


async def record(
    db: Database,
    *,
    actor: str,
    action: str,
    subject: str | None = None,
    details: Mapping[str, Any] | None = None,
    conn: aiosqlite.Connection | None = None,
) -> AuditEntry:
    """Append an entry. Pass *conn* (from ``db.transaction()``) to make it part of that change: the action
    and its audit entry then commit or roll back together."""
    if conn is not None:
        return await _insert(conn, actor, action, subject, details)
    async with db.transaction() as own:
        return await _insert(own, actor, action, subject, details)


async def _insert(
    conn: aiosqlite.Connection,
    actor: str,
    action: str,
    subject: str | None,
    details: Mapping[str, Any] | None,
) -> AuditEntry:
    row = await _rows.one(
        conn,
        "INSERT INTO audit_log (actor, action, subject, details, at) VALUES (?, ?, ?, ?, ?) RETURNING *",
        (actor, action, subject, _rows.dumps(details), to_db_time(utcnow())),
    )
    assert row is not None
    return _rows.audit_entry(row)


async def list_entries(db: Database, limit: int = 50) -> list[AuditEntry]:
    """Newest first."""
    rows = await db.fetch_all("SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (limit,))
    return [_rows.audit_entry(row) for row in rows]

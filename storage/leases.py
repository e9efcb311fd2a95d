"""Leases: one process at a time does a named piece of work, and a process that dies frees it in time.

Several bot processes on one PostgreSQL database each run the same clocks; what must be done by one of them
at a time (sending one customer's webhook queue in order) is leased first. ``claim`` is one upsert: it takes
a free or expired lease, or extends the caller's own, and returns False while another live holder has it.
Times are the processes' clocks (UTC), so the expiry is chosen well above any clock skew between hosts.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from storage import _rows
from storage.db import Database, from_db_time, to_db_time


def new_holder() -> str:
    """A name for this process's claims, unique even for two processes with one pid on two hosts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def claim(db: Database, name: str, holder: str, *, now: datetime, ttl: timedelta) -> bool:
    """Take lease *name* for *holder* until *now* + *ttl*: True when it was free, expired or already ours."""
    async with db.transaction() as conn:
        rows = await conn.execute_fetchall(
            """INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
               ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
               WHERE leases.holder = excluded.holder OR leases.expires_at <= ?
               RETURNING name""",
            (name, holder, to_db_time(now + ttl), to_db_time(now)),
        )
    return bool(list(rows))


async def release(db: Database, name: str, holder: str) -> bool:
    """Give lease *name* back (only its holder can); False when it had expired and gone to another."""
    async with db.transaction() as conn:
        return (
            await _rows.changed(conn, "DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder)) == 1
        )


async def holder_of(db: Database, name: str, *, now: datetime) -> str | None:
    """Who holds *name* now (None: nobody, or the lease ran out)."""
    row = await db.fetch_one("SELECT holder, expires_at FROM leases WHERE name = ?", (name,))
    if row is None:
        return None
    expires = from_db_time(row["expires_at"])
    return str(row["holder"]) if expires is not None and expires > now else None

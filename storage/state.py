"""Small named values the bot must remember across restarts (last digest sent, ...)."""

from __future__ import annotations

from storage.db import Database


async def get_value(db: Database, key: str) -> str | None:
    row = await db.fetch_one("SELECT value FROM app_state WHERE key = ?", (key,))
    return str(row["value"]) if row else None


async def set_value(db: Database, key: str, value: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO app_state (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


async def claim_value(db: Database, key: str, value: str) -> bool:
    """Set *key* to *value* unless it already holds it; True for the one caller that changed it.

    What must happen once whichever process's clock fires (the digest of a day) is claimed with it before it
    is done: of several workers on one PostgreSQL exactly one gets True (the upsert locks the row, and the
    others then see the value already set). A crash between the claim and the post loses that one post
    rather than doubling it."""
    async with db.transaction() as conn:
        rows = await conn.execute_fetchall(
            "INSERT INTO app_state (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE app_state.value != excluded.value "
            "RETURNING key",
            (key, value),
        )
    return bool(list(rows))


async def delete_value(db: Database, key: str) -> None:
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM app_state WHERE key = ?", (key,))


async def claim_once(db: Database, key: str, value: str) -> bool:
    """Set *key* only if it is not set yet; True for the one caller that set it (claim once, even across
    restarts and two processes)."""
    async with db.transaction() as conn:
        cursor = await conn.execute(
            "INSERT INTO app_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (key, value)
        )
        return bool(cursor.rowcount)

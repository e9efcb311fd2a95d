"""The outbox: messages the bot owes a customer, kept until Telegram confirms each one.

A message is owed inside the same transaction as the state change that owes it (``owe`` opens a nested
transaction, a savepoint, when called inside one). Its key makes owing it again a no-op, so replaying an
update never queues a second copy; ``mark_sent`` records Telegram's message id, after which it is never
sent again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage import _rows
from storage.db import Database, from_db_time, to_db_time


@dataclass(frozen=True, slots=True)
class OwedMessage:
    id: int
    key: str
    chat_id: int
    survey_id: int | None
    text: str
    buttons: list[list[tuple[str, str]]]
    keyboard: dict[str, Any] | None
    attempts: int
    next_at: datetime
    sent_at: datetime | None
    message_id: int | None


def _owed(row: _rows.Row) -> OwedMessage:
    next_at = from_db_time(row["next_at"])
    assert next_at is not None
    return OwedMessage(
        id=int(row["id"]),
        key=str(row["key"]),
        chat_id=int(row["chat_id"]),
        survey_id=row["survey_id"],
        text=str(row["text"]),
        buttons=[[(str(t), str(d)) for t, d in line] for line in json.loads(row["buttons"])],
        keyboard=json.loads(row["keyboard"]) if row["keyboard"] else None,
        attempts=int(row["attempts"]),
        next_at=next_at,
        sent_at=from_db_time(row["sent_at"]),
        message_id=row["message_id"],
    )


async def owe(
    db: Database,
    *,
    key: str,
    chat_id: int,
    survey_id: int | None,
    text: str,
    buttons: list[list[tuple[str, str]]],
    keyboard: dict[str, Any] | None,
    at: datetime,
) -> tuple[OwedMessage, bool]:
    """Record a message owed; the same key again returns the first one and False."""
    async with db.transaction() as conn:
        row = await _rows.one(
            conn,
            """INSERT INTO outbox (key, chat_id, survey_id, text, buttons, keyboard, created_at, next_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING *""",
            (
                key,
                chat_id,
                survey_id,
                text,
                json.dumps(buttons, ensure_ascii=False),
                json.dumps(keyboard, ensure_ascii=False) if keyboard else None,
                to_db_time(at),
                to_db_time(at),
            ),
        )
        if row is not None:
            return _owed(row), True
        existing = await _rows.one(conn, "SELECT * FROM outbox WHERE key = ?", (key,))
    assert existing is not None
    return _owed(existing), False


async def get_owed(db: Database, owed_id: int) -> OwedMessage | None:
    row = await db.fetch_one("SELECT * FROM outbox WHERE id = ?", (owed_id,))
    return _owed(row) if row else None


async def due(db: Database, *, now: datetime, limit: int) -> list[OwedMessage]:
    """Unsent messages whose time has come, oldest first."""
    rows = await db.fetch_all(
        "SELECT * FROM outbox WHERE sent_at IS NULL AND next_at <= ? ORDER BY id LIMIT ?",
        (to_db_time(now), limit),
    )
    return [_owed(row) for row in rows]


async def unsent_for_chat(db: Database, chat_id: int) -> list[OwedMessage]:
    rows = await db.fetch_all(
        "SELECT * FROM outbox WHERE chat_id = ? AND sent_at IS NULL ORDER BY id", (chat_id,)
    )
    return [_owed(row) for row in rows]


async def mark_sent(
    db: Database, owed_id: int, *, message_id: int | None, at: datetime, note: str | None = None
) -> None:
    """Telegram has it (*message_id* None with a *note*: it very probably has it; never sent again)."""
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE outbox SET sent_at = ?, message_id = ?, last_error = ? WHERE id = ? AND sent_at IS NULL",
            (to_db_time(at), message_id, note, owed_id),
        )


async def mark_sent_many(
    db: Database, sent: list[tuple[int, int | None, str | None]], *, at: datetime
) -> None:
    """Several confirmations in one commit: (owed id, message id, note)."""
    if not sent:
        return
    async with db.transaction() as conn:
        await conn.executemany(
            "UPDATE outbox SET sent_at = ?, message_id = ?, last_error = ? WHERE id = ? AND sent_at IS NULL",
            [(to_db_time(at), message_id, note, owed_id) for owed_id, message_id, note in sent],
        )


async def retry_later(db: Database, owed_id: int, *, at: datetime, error: str, give_up: bool = False) -> None:
    """Telegram did not take it: try again at *at* (or, *give_up*, never: a blocked chat)."""
    async with db.transaction() as conn:
        await conn.execute(
            """UPDATE outbox SET attempts = attempts + 1, next_at = ?, last_error = ?,
                   sent_at = CASE WHEN ? = 1 THEN next_at ELSE NULL END
               WHERE id = ? AND sent_at IS NULL""",
            (to_db_time(at), error[:500], 1 if give_up else 0, owed_id),
        )


async def drop_for_chat(db: Database, chat_id: int) -> None:
    """Erasure: nothing more is owed to a chat whose customer was deleted."""
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM outbox WHERE chat_id = ?", (chat_id,))

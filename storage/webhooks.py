"""The webhook outbox: events for the company's own systems, recorded with the change they report.

``enqueue`` writes inside the caller's transaction (``db.transaction()`` nests as a savepoint), so an event
and its deliveries commit together or not at all. The clock reads the head of each (webhook, customer) queue:
an undelivered row holds the later rows of its queue, never another customer's.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Database, from_db_time, to_db_time

_PENDING = "delivered_at IS NULL AND failed_at IS NULL"


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    id: int
    event_id: str
    webhook: str
    event_type: str
    customer_id: int
    body: str
    created_at: datetime
    next_at: datetime
    attempts: int
    delivered_at: datetime | None
    failed_at: datetime | None
    last_status: int | None
    last_error: str | None

    @property
    def queue(self) -> tuple[str, int]:
        """Deliveries of one queue go out one at a time, in id order."""
        return (self.webhook, self.customer_id)


def _delivery(row: Any) -> WebhookDelivery:
    created, next_at = from_db_time(row["created_at"]), from_db_time(row["next_at"])
    assert created is not None and next_at is not None
    return WebhookDelivery(
        id=row["id"],
        event_id=row["event_id"],
        webhook=row["webhook"],
        event_type=row["event_type"],
        customer_id=row["customer_id"],
        body=row["body"],
        created_at=created,
        next_at=next_at,
        attempts=row["attempts"],
        delivered_at=from_db_time(row["delivered_at"]),
        failed_at=from_db_time(row["failed_at"]),
        last_status=row["last_status"],
        last_error=row["last_error"],
    )


def new_event_id() -> str:
    return "evt_" + uuid.uuid4().hex


def event_body(event_id: str, event_type: str, data: Mapping[str, Any], at: datetime) -> str:
    """The JSON document every attempt sends byte for byte (its signature covers exactly these bytes)."""
    document = {"id": event_id, "type": event_type, "created_at": to_db_time(at), "data": data}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=False)


async def enqueue(
    db: Database,
    *,
    webhooks: Sequence[str],
    event_type: str,
    data: Mapping[str, Any],
    at: datetime,
    customer_id: int | None = None,
) -> str | None:
    """Record one event for each webhook in *webhooks*; returns its event id (None when nobody listens).

    Call it inside the transaction of the change the event reports."""
    if not webhooks:
        return None
    event_id = new_event_id()
    body = event_body(event_id, event_type, data, at)
    moment = to_db_time(at)
    async with db.transaction() as conn:
        await conn.executemany(
            """INSERT INTO webhook_outbox
                   (event_id, webhook, event_type, customer_id, body, created_at, next_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            [(event_id, name, event_type, customer_id or 0, body, moment, moment) for name in webhooks],
        )
    return event_id


async def due_heads(db: Database, *, now: datetime, limit: int) -> list[WebhookDelivery]:
    """The oldest undelivered row of each queue, where its time has come, oldest first."""
    rows = await db.fetch_all(
        """SELECT w.* FROM webhook_outbox w
            WHERE w.delivered_at IS NULL AND w.failed_at IS NULL AND w.next_at <= ?
              AND NOT EXISTS (
                  SELECT 1 FROM webhook_outbox e
                  WHERE e.webhook = w.webhook AND e.customer_id = w.customer_id AND e.id < w.id
                    AND e.delivered_at IS NULL AND e.failed_at IS NULL)
            ORDER BY w.id LIMIT ?""",
        (to_db_time(now), limit),
    )
    return [_delivery(row) for row in rows]


async def next_in_queue(
    db: Database, webhook: str, customer_id: int, *, after: int = 0
) -> WebhookDelivery | None:
    """The queue's oldest undelivered row after id *after* (rows up to it may await their confirmation)."""
    row = await db.fetch_one(
        f"""SELECT * FROM webhook_outbox WHERE webhook = ? AND customer_id = ? AND id > ? AND {_PENDING}
            ORDER BY id LIMIT 1""",
        (webhook, customer_id, after),
    )
    return _delivery(row) if row else None


async def mark_delivered(db: Database, delivered: Sequence[tuple[int, int]], *, at: datetime) -> None:
    """Receivers took these (delivery id, HTTP status): one commit for many."""
    if not delivered:
        return
    async with db.transaction() as conn:
        await conn.executemany(
            """UPDATE webhook_outbox SET delivered_at = ?, attempts = attempts + 1, last_status = ?,
                   last_error = NULL WHERE id = ? AND delivered_at IS NULL""",
            [(to_db_time(at), status, delivery_id) for delivery_id, status in delivered],
        )


async def mark_attempt_failed(
    db: Database,
    delivery_id: int,
    *,
    status: int | None,
    error: str,
    retry_at: datetime,
    give_up_at: datetime | None = None,
) -> None:
    """The receiver did not take it: try again at *retry_at*, or (*give_up_at*) stop holding its queue."""
    async with db.transaction() as conn:
        await conn.execute(
            """UPDATE webhook_outbox SET attempts = attempts + 1, last_status = ?, last_error = ?,
                   next_at = ?, failed_at = ? WHERE id = ? AND delivered_at IS NULL""",
            (
                status,
                error[:500],
                to_db_time(retry_at),
                to_db_time(give_up_at) if give_up_at else None,
                delivery_id,
            ),
        )


async def problems(db: Database, *, webhook: str | None = None, limit: int = 100) -> list[WebhookDelivery]:
    """Deliveries that gave up, or are still undelivered after at least one failed attempt, oldest first."""
    rows = await db.fetch_all(
        """SELECT * FROM webhook_outbox
           WHERE delivered_at IS NULL AND (failed_at IS NOT NULL OR attempts > 0)
             AND (CAST(? AS TEXT) IS NULL OR webhook = ?)
           ORDER BY id LIMIT ?""",
        (webhook, webhook, limit),
    )
    return [_delivery(row) for row in rows]


async def get_delivery(db: Database, delivery_id: int) -> WebhookDelivery | None:
    row = await db.fetch_one("SELECT * FROM webhook_outbox WHERE id = ?", (delivery_id,))
    return _delivery(row) if row else None


async def deliveries(db: Database, *, limit: int = 1000) -> list[WebhookDelivery]:
    rows = await db.fetch_all("SELECT * FROM webhook_outbox ORDER BY id LIMIT ?", (limit,))
    return [_delivery(row) for row in rows]


async def retry(
    db: Database, *, now: datetime, delivery_id: int | None = None, webhook: str | None = None
) -> int:
    """Send again at once: the given-up deliveries (and those waiting out a back-off); returns how many."""
    async with db.transaction() as conn:
        cursor = await conn.execute(
            """UPDATE webhook_outbox SET failed_at = NULL, next_at = ?
               WHERE delivered_at IS NULL AND (failed_at IS NOT NULL OR attempts > 0)
                 AND (CAST(? AS BIGINT) IS NULL OR id = ?) AND (CAST(? AS TEXT) IS NULL OR webhook = ?)""",
            (to_db_time(now), delivery_id, delivery_id, webhook, webhook),
        )
        return cursor.rowcount


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    pending: int
    failed: int


async def counts(db: Database) -> dict[str, OutboxCounts]:
    """Per webhook: deliveries waiting to be sent, and those that gave up."""
    rows = await db.fetch_all(
        """SELECT webhook,
                  SUM(CASE WHEN delivered_at IS NULL AND failed_at IS NULL THEN 1 ELSE 0 END) AS pending,
                  SUM(CASE WHEN failed_at IS NOT NULL AND delivered_at IS NULL THEN 1 ELSE 0 END) AS failed
           FROM webhook_outbox WHERE delivered_at IS NULL GROUP BY webhook"""
    )
    return {row["webhook"]: OutboxCounts(int(row["pending"]), int(row["failed"])) for row in rows}

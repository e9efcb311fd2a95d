"""Touchpoint events: the moments we follow up, ingested idempotently by their external id."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from storage import _rows
from storage.db import Database, to_db_time, utcnow
from storage.models import TouchpointEvent


def _amount(attributes: Mapping[str, Any]) -> float | None:
    """The business value, if the attributes carry a number as ``amount`` (reports weigh by it)."""
    value = attributes.get("amount")
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


async def record_event(
    db: Database,
    *,
    external_id: str,
    customer_id: int,
    touchpoint_id: int,
    occurred_at: datetime,
    attributes: Mapping[str, Any] | None = None,
) -> tuple[TouchpointEvent, bool]:
    """Store an event; the same external id again returns the stored row and False (nothing changes)."""
    attrs = dict(attributes or {})
    # One change: the INSERT (or nothing, for a known id) and a read.
    async with db.transaction(one_change=True) as conn:
        row = await _rows.one(
            conn,
            """
            INSERT INTO touchpoint_events
                (external_id, customer_id, touchpoint_id, occurred_at, attributes, amount, received_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (external_id) DO NOTHING
            RETURNING *
            """,
            (
                external_id,
                customer_id,
                touchpoint_id,
                to_db_time(occurred_at),
                _rows.dumps(attrs),
                _amount(attrs),
                to_db_time(utcnow()),
            ),
        )
        created = row is not None
        if not created:
            row = await _rows.one(
                conn, "SELECT * FROM touchpoint_events WHERE external_id = ?", (external_id,)
            )
    assert row is not None
    return _rows.event(row), created


async def get_event(db: Database, event_id: int) -> TouchpointEvent | None:
    row = await db.fetch_one("SELECT * FROM touchpoint_events WHERE id = ?", (event_id,))
    return _rows.event(row) if row else None


async def get_event_by_external_id(db: Database, external_id: str) -> TouchpointEvent | None:
    row = await db.fetch_one("SELECT * FROM touchpoint_events WHERE external_id = ?", (external_id,))
    return _rows.event(row) if row else None


async def events_for_customer(db: Database, customer_id: int) -> list[TouchpointEvent]:
    """Oldest first: the customer's journey in order."""
    rows = await db.fetch_all(
        "SELECT * FROM touchpoint_events WHERE customer_id = ? ORDER BY occurred_at, id", (customer_id,)
    )
    return [_rows.event(row) for row in rows]

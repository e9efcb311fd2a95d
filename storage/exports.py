"""Export queries: every answer with its customer, touchpoint and current analysis, streamed in time order.

The rows come in index order (received_at, or touchpoint + received_at), so SQLite never sorts and memory
stays flat whatever the size of the export.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from storage import _rows
from storage.db import Database

# Column order of every export format (CSV header, XLSX first row, JSONL keys).
EXPORT_COLUMNS: tuple[str, ...] = (
    "answer_id",
    "received_at",
    "customer",
    "tier",
    "touchpoint",
    "survey_id",
    "question",
    "rating",
    "text",
    "language",
    "truncated",
    "sentiment",
    "sentiment_score",
    "emotion",
)

_SELECT = """
    SELECT a.id AS answer_id, a.received_at AS received_at, c.external_id AS customer, c.tier AS tier,
           t.key AS touchpoint, a.survey_id AS survey_id, a.question AS question, a.rating AS rating,
           a.text AS text, a.language AS language, a.truncated AS truncated, n.sentiment AS sentiment,
           n.sentiment_score AS sentiment_score, n.emotion AS emotion
    FROM answers AS a
    JOIN customers AS c ON c.id = a.customer_id
    LEFT JOIN touchpoints AS t ON t.id = a.touchpoint_id
    LEFT JOIN analyses AS n ON n.id = a.current_analysis_id
"""


async def touchpoint_filter(db: Database, key: str | None) -> int | None:
    """The touchpoint id to filter an export by: None for every touchpoint; an unknown key gives -1, which
    matches nothing rather than everything."""
    if key is None:
        return None
    row = await db.fetch_one("SELECT id FROM touchpoints WHERE key = ?", (key,))
    return int(row[0]) if row else -1


def _where(start: datetime | None, end: datetime | None, touchpoint_id: int | None) -> tuple[str, list[Any]]:
    clauses, params = _rows.conditions(
        ("a.touchpoint_id = ?", touchpoint_id), ("a.received_at >= ?", start), ("a.received_at < ?", end)
    )
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


async def count_answers(
    db: Database,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    touchpoint_id: int | None = None,
) -> int:
    """How many rows an export with the same filters will hold (for progress bars)."""
    where, params = _where(start, end, touchpoint_id)
    row = await db.fetch_one(f"SELECT COUNT(*) FROM answers AS a {where}", params)
    return int(row[0]) if row else 0


async def iter_answers(
    db: Database,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    touchpoint_id: int | None = None,
    batch: int = 2000,
) -> AsyncIterator[tuple[Any, ...]]:
    """Rows as tuples in EXPORT_COLUMNS order, oldest first."""
    where, params = _where(start, end, touchpoint_id)
    order = "ORDER BY a.touchpoint_id, a.received_at, a.id" if touchpoint_id is not None else ""
    if not order:
        order = "ORDER BY a.received_at, a.id"
    async for row in db.iterate(f"{_SELECT} {where} {order}", params, batch=batch):
        yield tuple(row)

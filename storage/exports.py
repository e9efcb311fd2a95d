"""Export queries, streamed in time order: every answer with its customer, touchpoint and current analysis
(one row per answer), or every survey with its answers, call-back request and alert (one row per survey).

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
    "touchpoint_name",
    "survey_id",
    "question",
    "rating",
    "text",
    "language",
    "truncated",
    "sentiment",
    "sentiment_score",
    "emotion",
    "theme",
)

# The answer's theme: its week's run of its own touchpoint (else of all answers); empty until computed.
_THEME_OF = """(SELECT ta.theme_key FROM theme_answers AS ta JOIN theme_runs AS tr ON tr.id = ta.run_id
     WHERE ta.answer_id = {answer} AND tr.period = 'week'
     ORDER BY tr.touchpoint_id IS NULL, tr.period_start DESC LIMIT 1)"""

_SELECT = (
    """
    SELECT a.id AS answer_id, a.received_at AS received_at, c.external_id AS customer, c.tier AS tier,
           t.key AS touchpoint, t.names AS touchpoint_name, a.survey_id AS survey_id,
           a.question AS question, a.rating AS rating,
           a.text AS text, a.language AS language, a.truncated AS truncated, n.sentiment AS sentiment,
           n.sentiment_score AS sentiment_score, n.emotion AS emotion,
           """
    + _THEME_OF.format(answer="a.id")
    + """ AS theme
    FROM answers AS a
    JOIN customers AS c ON c.id = a.customer_id
    LEFT JOIN touchpoints AS t ON t.id = a.touchpoint_id
    LEFT JOIN analyses AS n ON n.id = a.current_analysis_id
"""
)


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


async def answer_batches(
    db: Database,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    touchpoint_id: int | None = None,
    batch: int = 2000,
) -> AsyncIterator[list[list[Any]]]:
    """Batches of rows (lists in EXPORT_COLUMNS order), oldest first."""
    where, params = _where(start, end, touchpoint_id)
    order = "ORDER BY a.touchpoint_id, a.received_at, a.id" if touchpoint_id is not None else ""
    if not order:
        order = "ORDER BY a.received_at, a.id"
    async for rows in db.iterate_batches(f"{_SELECT} {where} {order}", params, batch=batch):
        yield [list(row) for row in rows]


# One row per survey: the answers side by side, the call-back request and the alert it raised.
SURVEY_COLUMNS: tuple[str, ...] = (
    "survey_id",
    "customer",
    "tier",
    "touchpoint",
    "touchpoint_name",
    "status",
    "invited_at",
    "completed_at",
    "expectation",
    "expectation_sentiment",
    "expectation_emotion",
    "experience",
    "experience_sentiment",
    "experience_emotion",
    "improvement",
    "improvement_sentiment",
    "improvement_emotion",
    "rating",
    "callback_requested",
    "alert_status",
    "alert_created_at",
    "alert_resolved_at",
    "hours_to_resolve",
    "theme",
)

_SURVEY_SELECT = (
    """
    SELECT s.id AS survey_id, c.external_id AS customer, c.tier AS tier, t.key AS touchpoint,
           t.names AS touchpoint_name, s.status AS status, s.invited_at AS invited_at,
           s.completed_at AS completed_at,
           ex.text AS expectation, nx.sentiment AS expectation_sentiment, nx.emotion AS expectation_emotion,
           ep.text AS experience, np.sentiment AS experience_sentiment, np.emotion AS experience_emotion,
           im.text AS improvement, ni.sentiment AS improvement_sentiment, ni.emotion AS improvement_emotion,
           r.rating AS rating, COALESCE(al.callback_requested, 0) AS callback_requested,
           al.status AS alert_status, al.created_at AS alert_created_at, al.resolved_at AS alert_resolved_at,
           ROUND((julianday(al.resolved_at) - julianday(al.created_at)) * 24.0, 2) AS hours_to_resolve,
           """
    + _THEME_OF.format(answer="ep.id")
    + """ AS theme
    FROM surveys AS s
    JOIN customers AS c ON c.id = s.customer_id
    LEFT JOIN touchpoints AS t ON t.id = s.touchpoint_id
    LEFT JOIN answers AS ex ON ex.survey_id = s.id AND ex.question = 'expectation'
    LEFT JOIN analyses AS nx ON nx.id = ex.current_analysis_id
    LEFT JOIN answers AS ep ON ep.survey_id = s.id AND ep.question = 'experience'
    LEFT JOIN analyses AS np ON np.id = ep.current_analysis_id
    LEFT JOIN answers AS im ON im.survey_id = s.id AND im.question = 'improvement'
    LEFT JOIN analyses AS ni ON ni.id = im.current_analysis_id
    LEFT JOIN answers AS r ON r.survey_id = s.id AND r.question = 'rating'
    LEFT JOIN alerts AS al ON al.survey_id = s.id
"""
)


def _survey_where(
    start: datetime | None, end: datetime | None, touchpoint_id: int | None
) -> tuple[str, list[Any]]:
    clauses, params = _rows.conditions(
        ("s.touchpoint_id = ?", touchpoint_id),
        ("s.invited_at >= ?", start),
        ("s.invited_at < ?", end),
    )
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


async def count_surveys(
    db: Database,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    touchpoint_id: int | None = None,
) -> int:
    """How many rows a per-survey export with the same filters will hold."""
    where, params = _survey_where(start, end, touchpoint_id)
    row = await db.fetch_one(f"SELECT COUNT(*) FROM surveys AS s {where}", params)
    return int(row[0]) if row else 0


async def survey_batches(
    db: Database,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    touchpoint_id: int | None = None,
    batch: int = 2000,
) -> AsyncIterator[list[list[Any]]]:
    """Batches of rows (lists in SURVEY_COLUMNS order), by invitation time (never invited come last)."""
    where, params = _survey_where(start, end, touchpoint_id)
    order = "ORDER BY s.invited_at IS NULL, s.invited_at, s.id"
    async for rows in db.iterate_batches(f"{_SURVEY_SELECT} {where} {order}", params, batch=batch):
        yield [list(row) for row in rows]

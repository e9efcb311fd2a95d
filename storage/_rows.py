"""Row -> model conversion shared by the repositories (one place that knows column encodings)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import aiosqlite

from storage.db import from_db_time
from storage.models import (
    Alert,
    AnalysisRecord,
    Answer,
    AuditEntry,
    Customer,
    StaffMember,
    Survey,
    Touchpoint,
    TouchpointEvent,
)

Row = sqlite3.Row
Params = Sequence[Any] | dict[str, Any]


async def one(conn: aiosqlite.Connection, sql: str, params: Params = ()) -> Row | None:
    """A row read on the writer connection: sees the transaction's own uncommitted changes.

    One trip to aiosqlite's thread instead of three (execute, fetch, close): each trip is a thread hand-off,
    and hand-offs dominated bulk ingestion's profile. For statements that yield one row (or very few).
    """
    rows = await conn.execute_fetchall(sql, params)
    return next(iter(rows), None)


async def all_rows(conn: aiosqlite.Connection, sql: str, params: Params = ()) -> list[Row]:
    return list(await conn.execute_fetchall(sql, params))


async def changed(conn: aiosqlite.Connection, sql: str, params: Params = ()) -> int:
    """Run a write, return how many rows it touched."""
    async with conn.execute(sql, params) as cursor:
        return cursor.rowcount


def dumps(value: Mapping[str, Any] | None) -> str:
    """Compact JSON that keeps non-ASCII text readable (Spanish answers, names)."""
    return json.dumps(dict(value or {}), ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def loads(value: str | None) -> dict[str, Any]:
    if not value:
        return {}
    loaded = json.loads(value)
    return loaded if isinstance(loaded, dict) else {}


def _time(value: str | None) -> datetime | None:
    return from_db_time(value)


def _required_time(value: str) -> datetime:
    moment = from_db_time(value)
    assert moment is not None
    return moment


def customer(row: Row) -> Customer:
    return Customer(
        id=row["id"],
        external_id=row["external_id"],
        telegram_user_id=row["telegram_user_id"],
        telegram_chat_id=row["telegram_chat_id"],
        display_name=row["display_name"],
        language=row["language"],
        timezone=row["timezone"],
        tier=row["tier"],
        consent=row["consent"],
        opted_out_at=_time(row["opted_out_at"]),
        unreachable_at=_time(row["unreachable_at"]),
        erased_at=_time(row["erased_at"]),
        created_at=_required_time(row["created_at"]),
        updated_at=_required_time(row["updated_at"]),
    )


def touchpoint(row: Row) -> Touchpoint:
    return Touchpoint(
        id=row["id"],
        key=row["key"],
        names={str(k): str(v) for k, v in loads(row["names"]).items()},
        kind=row["kind"],
        stage=row["stage"],
        weight=row["weight"],
        channel=row["channel"],
        active=bool(row["active"]),
        updated_at=_required_time(row["updated_at"]),
    )


def event(row: Row) -> TouchpointEvent:
    return TouchpointEvent(
        id=row["id"],
        external_id=row["external_id"],
        customer_id=row["customer_id"],
        touchpoint_id=row["touchpoint_id"],
        occurred_at=_required_time(row["occurred_at"]),
        attributes=loads(row["attributes"]),
        amount=row["amount"],
        received_at=_required_time(row["received_at"]),
    )


def survey(row: Row) -> Survey:
    return Survey(
        id=row["id"],
        customer_id=row["customer_id"],
        event_id=row["event_id"],
        touchpoint_id=row["touchpoint_id"],
        kind=row["kind"],
        status=row["status"],
        skip_reason=row["skip_reason"],
        step=row["step"],
        state=loads(row["state"]),
        language=row["language"],
        scheduled_at=_required_time(row["scheduled_at"]),
        claimed_at=_time(row["claimed_at"]),
        invited_at=_time(row["invited_at"]),
        invitation_message_id=row["invitation_message_id"],
        reminded_at=_time(row["reminded_at"]),
        started_at=_time(row["started_at"]),
        completed_at=_time(row["completed_at"]),
        expires_at=_time(row["expires_at"]),
        attempts=row["attempts"],
        last_error=row["last_error"],
        created_at=_required_time(row["created_at"]),
        sending_at=_time(row["sending_at"]),
    )


def analysis(row: Row, prefix: str = "") -> AnalysisRecord:
    return AnalysisRecord(
        id=row[prefix + "id"],
        answer_id=row[prefix + "answer_id"],
        model_id=row[prefix + "model_id"],
        model_version=row[prefix + "model_version"],
        sentiment=row[prefix + "sentiment"],
        sentiment_scores=cast(dict[str, float], loads(row[prefix + "sentiment_scores"])),
        sentiment_score=row[prefix + "sentiment_score"],
        emotion=row[prefix + "emotion"],
        emotion_scores=cast(dict[str, float], loads(row[prefix + "emotion_scores"])),
        analysed_at=_required_time(row[prefix + "analysed_at"]),
    )


def answer(row: Row, *, with_analysis: bool = False) -> Answer:
    """With *with_analysis*, the row carries the current analysis' columns prefixed ``an_``."""
    current = None
    if with_analysis and row["an_id"] is not None:
        current = analysis(row, "an_")
    return Answer(
        id=row["id"],
        survey_id=row["survey_id"],
        customer_id=row["customer_id"],
        touchpoint_id=row["touchpoint_id"],
        question=row["question"],
        text=row["text"],
        rating=row["rating"],
        language=row["language"],
        truncated=bool(row["truncated"]),
        chat_id=row["chat_id"],
        message_id=row["message_id"],
        received_at=_required_time(row["received_at"]),
        edited_at=_time(row["edited_at"]),
        analysis_state=row["analysis_state"],
        analysis_attempts=row["analysis_attempts"],
        current_analysis_id=row["current_analysis_id"],
        analysis=current,
    )


ANSWER_WITH_ANALYSIS = """
    SELECT a.*, n.id AS an_id, n.answer_id AS an_answer_id, n.model_id AS an_model_id,
           n.model_version AS an_model_version, n.sentiment AS an_sentiment,
           n.sentiment_scores AS an_sentiment_scores, n.sentiment_score AS an_sentiment_score,
           n.emotion AS an_emotion, n.emotion_scores AS an_emotion_scores, n.analysed_at AS an_analysed_at
    FROM answers AS a LEFT JOIN analyses AS n ON n.id = a.current_analysis_id
"""


def alert(row: Row) -> Alert:
    return Alert(
        id=row["id"],
        survey_id=row["survey_id"],
        customer_id=row["customer_id"],
        touchpoint_id=row["touchpoint_id"],
        reason=row["reason"],
        severity=row["severity"],
        status=row["status"],
        callback_requested=bool(row["callback_requested"]),
        assignee_user_id=row["assignee_user_id"],
        notes=row["notes"],
        posted_chat_id=row["posted_chat_id"],
        posted_message_id=row["posted_message_id"],
        posted_at=_time(row["posted_at"]),
        created_at=_required_time(row["created_at"]),
        acknowledged_at=_time(row["acknowledged_at"]),
        resolved_at=_time(row["resolved_at"]),
        followup_survey_id=row["followup_survey_id"],
    )


def staff_member(row: Row) -> StaffMember:
    return StaffMember(
        telegram_user_id=row["telegram_user_id"],
        role=row["role"],
        display_name=row["display_name"],
        added_by=row["added_by"],
        added_at=_required_time(row["added_at"]),
    )


def audit_entry(row: Row) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        actor=row["actor"],
        action=row["action"],
        subject=row["subject"],
        details=loads(row["details"]),
        at=_required_time(row["at"]),
    )

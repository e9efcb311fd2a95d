"""Alerts: an unhappy customer the team should call back, from opening to recovery."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from storage import _rows
from storage.db import Database, to_db_time, utcnow
from storage.models import Alert, NotFoundError, Severity


async def open_alert(
    db: Database,
    *,
    survey_id: int | None,
    customer_id: int,
    touchpoint_id: int | None,
    reason: str,
    severity: Severity,
    callback_requested: bool = False,
    at: datetime | None = None,
) -> tuple[Alert, bool]:
    """One alert per survey: a second trigger for the same survey returns the first alert and False, but
    raises its severity and callback request if the new trigger is worse (never lowers them)."""
    async with db.transaction() as conn:
        row = await _rows.one(
            conn,
            """
            INSERT INTO alerts (survey_id, customer_id, touchpoint_id, reason, severity, callback_requested,
                                created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (survey_id) DO NOTHING
            RETURNING *
            """,
            (
                survey_id,
                customer_id,
                touchpoint_id,
                reason,
                severity,
                int(callback_requested),
                to_db_time(at or utcnow()),
            ),
        )
        if row is not None:
            return _rows.alert(row), True
        existing = await _rows.one(
            conn,
            """
            UPDATE alerts SET
                severity = CASE
                    WHEN :rank > (CASE severity WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END)
                    THEN :severity ELSE severity END,
                callback_requested = CASE WHEN :callback > callback_requested THEN :callback
                                          ELSE callback_requested END
            WHERE survey_id = :survey_id
            RETURNING *
            """,
            {
                "rank": {"low": 1, "medium": 2, "high": 3}[severity],
                "severity": severity,
                "callback": int(callback_requested),
                "survey_id": survey_id,
            },
        )
    assert existing is not None
    return _rows.alert(existing), False


async def get_alert(db: Database, alert_id: int) -> Alert | None:
    row = await db.fetch_one("SELECT * FROM alerts WHERE id = ?", (alert_id,))
    return _rows.alert(row) if row else None


async def alert_for_survey(db: Database, survey_id: int) -> Alert | None:
    row = await db.fetch_one("SELECT * FROM alerts WHERE survey_id = ?", (survey_id,))
    return _rows.alert(row) if row else None


async def _update(
    conn: aiosqlite.Connection, alert_id: int, sql: str, params: dict[str, object]
) -> Alert | None:
    row = await _rows.one(conn, sql, {**params, "id": alert_id})
    if row is not None:
        return _rows.alert(row)
    if await _rows.one(conn, "SELECT 1 FROM alerts WHERE id = ?", (alert_id,)) is None:
        raise NotFoundError(f"alert {alert_id} does not exist")
    return None


async def mark_posted(db: Database, alert_id: int, chat_id: int, message_id: int, at: datetime) -> Alert:
    """The alert reached the team chat (kept so the message can be edited when its status changes)."""
    async with db.transaction() as conn:
        alert = await _update(
            conn,
            alert_id,
            """UPDATE alerts SET posted_chat_id = :chat_id, posted_message_id = :message_id, posted_at = :at
               WHERE id = :id RETURNING *""",
            {"chat_id": chat_id, "message_id": message_id, "at": to_db_time(at)},
        )
    assert alert is not None
    return alert


async def acknowledge(
    db: Database, alert_id: int, user_id: int | None, at: datetime, *, notes: str | None = None
) -> Alert | None:
    """A staff member (or a help desk through the API, *user_id* None) takes the alert. Only an open alert
    can be taken: None when someone else already did (or it was resolved), so two people pressing the button
    at once cannot both own it."""
    async with db.transaction() as conn:
        return await _update(
            conn,
            alert_id,
            """UPDATE alerts SET status = 'acknowledged', assignee_user_id = :user_id, acknowledged_at = :at,
                   notes = COALESCE(:notes, notes)
               WHERE id = :id AND status = 'open' RETURNING *""",
            {"user_id": user_id, "at": to_db_time(at), "notes": notes},
        )


async def resolve(
    db: Database, alert_id: int, user_id: int | None, at: datetime, notes: str | None = None
) -> Alert | None:
    """Close the alert (from open or acknowledged); None when it was already resolved. Whoever resolves
    becomes the assignee if nobody had taken it."""
    async with db.transaction() as conn:
        return await _update(
            conn,
            alert_id,
            """UPDATE alerts SET status = 'resolved', resolved_at = :at,
                   assignee_user_id = COALESCE(assignee_user_id, :user_id),
                   acknowledged_at = COALESCE(acknowledged_at, :at),
                   notes = COALESCE(:notes, notes)
               WHERE id = :id AND status != 'resolved' RETURNING *""",
            {"user_id": user_id, "at": to_db_time(at), "notes": notes},
        )


async def add_note(db: Database, alert_id: int, notes: str) -> Alert:
    async with db.transaction() as conn:
        alert = await _update(
            conn, alert_id, "UPDATE alerts SET notes = :notes WHERE id = :id RETURNING *", {"notes": notes}
        )
    assert alert is not None
    return alert


async def list_open_alerts(db: Database) -> list[Alert]:
    """Open and acknowledged (not yet resolved), oldest first: the team's queue."""
    rows = await db.fetch_all(
        "SELECT * FROM alerts WHERE status IN ('open', 'acknowledged') ORDER BY created_at, id"
    )
    return [_rows.alert(row) for row in rows]


async def unposted_alerts(db: Database) -> list[Alert]:
    """Alerts that have not reached the team chat yet (the chat was unreachable, or we crashed)."""
    rows = await db.fetch_all(
        "SELECT * FROM alerts WHERE posted_at IS NULL AND status != 'resolved' ORDER BY created_at, id"
    )
    return [_rows.alert(row) for row in rows]


async def set_followup_survey(db: Database, alert_id: int, survey_id: int) -> Alert:
    """Link the survey that re-measures the customer after recovery."""
    async with db.transaction() as conn:
        alert = await _update(
            conn,
            alert_id,
            "UPDATE alerts SET followup_survey_id = :survey_id WHERE id = :id RETURNING *",
            {"survey_id": survey_id},
        )
    assert alert is not None
    return alert


async def record_card(db: Database, alert_id: int, text: str) -> None:
    """The card text the team now sees (an edit to the same text is never sent)."""
    async with db.transaction() as conn:
        await conn.execute("UPDATE alerts SET card_text = ? WHERE id = ?", (text, alert_id))


async def set_contact_phone(db: Database, survey_id: int, phone: str) -> Alert | None:
    """The number a customer shared after asking to be called back; None when the survey has no alert."""
    async with db.transaction() as conn:
        row = await _rows.one(
            conn,
            "UPDATE alerts SET contact_phone = ?, callback_requested = 1 WHERE survey_id = ? RETURNING *",
            (phone, survey_id),
        )
    return _rows.alert(row) if row else None


async def count_open_alerts(db: Database) -> int:
    """Open and acknowledged alerts (the /metrics gauge)."""
    row = await db.fetch_one("SELECT COUNT(*) FROM alerts WHERE status IN ('open', 'acknowledged')")
    return int(row[0]) if row else 0

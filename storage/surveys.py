"""Surveys: one follow-up per event and kind, with the dialogue's state kept in the database (it survives
restarts and can be entered from a scheduled job as well as from a message)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, TypedDict, Unpack

from storage import _rows
from storage.db import Database, from_db_time, to_db_time, utcnow
from storage.models import ACTIVE_SURVEY_STATUSES, NotFoundError, Survey, SurveyKind, SurveyStatus


async def create_survey(
    db: Database,
    *,
    customer_id: int,
    touchpoint_id: int | None,
    event_id: int | None,
    kind: SurveyKind = "touchpoint",
    status: SurveyStatus = "scheduled",
    scheduled_at: datetime,
    expires_at: datetime | None = None,
    language: str | None = None,
    skip_reason: str | None = None,
) -> tuple[Survey, bool]:
    """Create the survey for an event; asking again for the same (event, kind) returns the stored one and
    False. Surveys without an event (general feedback, follow-ups) are always created."""
    async with db.transaction() as conn:
        row = await _rows.one(
            conn,
            """
            INSERT INTO surveys (customer_id, event_id, touchpoint_id, kind, status, skip_reason, language,
                                 scheduled_at, expires_at, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (event_id, kind) WHERE event_id IS NOT NULL DO NOTHING
            RETURNING *
            """,
            (
                customer_id,
                event_id,
                touchpoint_id,
                kind,
                status,
                skip_reason,
                language,
                to_db_time(scheduled_at),
                to_db_time(expires_at) if expires_at else None,
                to_db_time(utcnow()),
            ),
        )
        if row is not None:
            return _rows.survey(row), True
        existing = await _rows.one(
            conn, "SELECT * FROM surveys WHERE event_id = ? AND kind = ?", (event_id, kind)
        )
    assert existing is not None
    return _rows.survey(existing), False


async def get_survey(db: Database, survey_id: int) -> Survey | None:
    row = await db.fetch_one("SELECT * FROM surveys WHERE id = ?", (survey_id,))
    return _rows.survey(row) if row else None


async def get_surveys(db: Database, survey_ids: Collection[int]) -> dict[int, Survey]:
    """Many surveys by id in a few reads (an ingested batch names its surveys' current status)."""
    wanted = list(dict.fromkeys(survey_ids))
    found: dict[int, Survey] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = await db.fetch_all(f"SELECT * FROM surveys WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        for row in rows:
            survey = _rows.survey(row)
            found[survey.id] = survey
    return found


async def active_survey_for_customer(db: Database, customer_id: int) -> Survey | None:
    """The survey a customer's message answers: invited or in progress, the newest one."""
    placeholders = ",".join("?" * len(ACTIVE_SURVEY_STATUSES))
    row = await db.fetch_one(
        f"""SELECT * FROM surveys WHERE customer_id = ? AND status IN ({placeholders})
            ORDER BY COALESCE(invited_at, scheduled_at) DESC, id DESC LIMIT 1""",
        (customer_id, *ACTIVE_SURVEY_STATUSES),
    )
    return _rows.survey(row) if row else None


async def surveys_for_customer(db: Database, customer_id: int) -> list[Survey]:
    rows = await db.fetch_all("SELECT * FROM surveys WHERE customer_id = ? ORDER BY id", (customer_id,))
    return [_rows.survey(row) for row in rows]


_TIME_FIELDS = frozenset(
    {"scheduled_at", "claimed_at", "invited_at", "reminded_at", "started_at", "completed_at", "expires_at"}
)


class SurveyChanges(TypedDict, total=False):
    """The columns ``update_survey`` may change; a key that is absent is left alone, None clears."""

    status: SurveyStatus
    step: str | None
    state: Mapping[str, Any]
    language: str | None
    skip_reason: str | None
    scheduled_at: datetime
    claimed_at: datetime | None
    invited_at: datetime | None
    invitation_message_id: int | None
    reminded_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    expires_at: datetime | None
    attempts: int
    last_error: str | None


async def update_survey(db: Database, survey_id: int, **changes: Unpack[SurveyChanges]) -> Survey:
    """Change only the given fields. Raises NotFoundError for an unknown survey."""
    updated = await _update(db, survey_id, None, dict(changes))
    assert updated is not None
    return updated


async def update_survey_if(
    db: Database,
    survey_id: int,
    expected_status: SurveyStatus | tuple[SurveyStatus, ...],
    **changes: Unpack[SurveyChanges],
) -> Survey | None:
    """Compare-and-set: change the survey only while it is still in *expected_status*, so two concurrent
    handlers (or a handler and the expiry clock) cannot both move it; None when it had moved on."""
    expected = (expected_status,) if isinstance(expected_status, str) else expected_status
    return await _update(db, survey_id, expected, dict(changes))


async def _update(
    db: Database, survey_id: int, expected: tuple[str, ...] | None, changes: dict[str, Any]
) -> Survey | None:
    values: dict[str, Any] = {}
    for column, value in changes.items():
        if column not in SurveyChanges.__annotations__:
            raise TypeError(f"update_survey() got an unexpected field {column!r}")
        if column == "state":
            values[column] = _rows.dumps(value)
        elif column in _TIME_FIELDS:
            values[column] = to_db_time(value) if value is not None else None
        else:
            values[column] = value
    where = "id = :survey_id"
    params: dict[str, Any] = {**values, "survey_id": survey_id}
    if expected is not None:
        names = [f"expected_{i}" for i in range(len(expected))]
        where += f" AND status IN ({','.join(':' + name for name in names)})"
        params.update(zip(names, expected, strict=True))
    async with db.transaction() as conn:
        if values:
            assignments = ", ".join(f"{column} = :{column}" for column in values)
            row = await _rows.one(conn, f"UPDATE surveys SET {assignments} WHERE {where} RETURNING *", params)
        else:
            row = await _rows.one(conn, f"SELECT * FROM surveys WHERE {where}", params)
        if row is None and await _rows.one(conn, "SELECT 1 FROM surveys WHERE id = ?", (survey_id,)) is None:
            raise NotFoundError(f"survey {survey_id} does not exist")
    return _rows.survey(row) if row else None


async def last_invited_at(db: Database, customer_id: int) -> datetime | None:
    """When this customer was last invited to any survey (the frequency cap counts from here)."""
    row = await db.fetch_one(
        "SELECT MAX(invited_at) AS last FROM surveys WHERE customer_id = ? AND invited_at IS NOT NULL",
        (customer_id,),
    )
    return from_db_time(row["last"]) if row else None


async def reopen_postponed(db: Database, customer_id: int, *, now: datetime) -> Survey | None:
    """The survey a customer put off with "Not now", back at its invitation while it is still alive (they
    were told "just write to me"); None when there is none."""
    async with db.transaction() as conn:
        row = await _rows.one(
            conn,
            """UPDATE surveys SET status = 'invited', step = 'invitation'
               WHERE id = (SELECT id FROM surveys WHERE customer_id = ? AND status = 'declined'
                           AND json_extract(state, '$.postponed') = 1
                           AND (expires_at IS NULL OR expires_at > ?)
                           ORDER BY COALESCE(invited_at, scheduled_at) DESC, id DESC LIMIT 1)
               RETURNING *""",
            (customer_id, to_db_time(now)),
        )
    return _rows.survey(row) if row else None

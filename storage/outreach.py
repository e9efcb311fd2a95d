"""Dispatch queries for outreach: plan a survey against the frequency cap, claim due invitations and
reminders, expire overdue surveys.

Every decision that two concurrent callers could both take (two events for one customer, two ticks, a tick
and a restart) is one write transaction here, so the answer is the same however the calls interleave.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from storage import _rows
from storage.db import Database, to_db_time, utcnow
from storage.models import Survey, SurveyKind

# Statuses that count as "this customer was (or is about to be) asked".
_ASKED = ("invited", "in_progress", "completed", "declined", "expired")


@dataclass(frozen=True, slots=True)
class PlanOutcome:
    survey: Survey
    created: bool
    # None when scheduled; "duplicate" when the event already had a survey; else why it was skipped.
    skip_reason: str | None
    superseded: tuple[int, ...] = ()


async def plan_survey(
    db: Database,
    *,
    customer_id: int,
    touchpoint_id: int | None,
    event_id: int | None,
    kind: SurveyKind,
    weight: float,
    scheduled_at: datetime,
    expires_at: datetime,
    language: str | None,
    frequency_cap: timedelta,
) -> PlanOutcome:
    """Schedule, or store as skipped, one survey; the heavier of two competing touchpoints wins."""
    now = to_db_time(utcnow())
    due = to_db_time(scheduled_at)
    # One change: the new survey, together with the surveys it supersedes (a nested transaction).
    async with db.transaction(one_change=True) as conn:
        # What decides the plan comes back in one read (each read is a thread hand-off, and bulk ingestion
        # plans thousands): the event's survey if it has one, whether the customer was asked within the cap,
        # and the scheduled surveys competing with this one.
        parts: list[str] = []
        params: list[object] = []
        if event_id is not None:
            parts.append(
                "SELECT 'existing' AS what, id, CAST(NULL AS TEXT) AS claimed_at,"
                " CAST(NULL AS DOUBLE PRECISION) AS weight FROM surveys"
                " WHERE event_id = ? AND kind = ?"
            )
            params += [event_id, kind]
        if kind == "touchpoint":
            window_start = to_db_time(scheduled_at - frequency_cap)
            window_end = to_db_time(scheduled_at + frequency_cap)
            parts.append(
                f"""SELECT 'asked', CAST(NULL AS BIGINT), CAST(NULL AS TEXT), CAST(NULL AS DOUBLE PRECISION)
                    FROM (SELECT 1 FROM surveys WHERE customer_id = ?
                    AND kind = 'touchpoint' AND status IN ({",".join("?" * len(_ASKED))}) AND invited_at > ?
                    LIMIT 1) AS recent"""
            )
            params += [customer_id, *_ASKED, window_start]
            # "+s.status": without it SQLite picks ix_surveys_due and walks every customer's scheduled
            # surveys in the window (1 ms per event at 10k surveys); a customer has few.
            parts.append(
                f"""SELECT 'competitor', s.id, s.claimed_at, COALESCE(t.weight, 1.0) FROM surveys AS s
                   LEFT JOIN touchpoints AS t ON t.id = s.touchpoint_id
                   WHERE s.customer_id = ? AND s.kind = 'touchpoint'
                   AND {db.unindexed("s.status")} = 'scheduled'
                   AND s.scheduled_at > ? AND s.scheduled_at < ?"""
            )
            params += [customer_id, window_start, window_end]
        found = await _rows.all_rows(conn, " UNION ALL ".join(parts), params) if parts else []
        existing_ids = [row["id"] for row in found if row["what"] == "existing"]
        if existing_ids:
            existing = await _rows.one(conn, "SELECT * FROM surveys WHERE id = ?", (existing_ids[0],))
            assert existing is not None
            return PlanOutcome(_rows.survey(existing), False, "duplicate")
        skip_reason: str | None = None
        superseded: list[int] = []
        if kind == "touchpoint":
            competitors = [row for row in found if row["what"] == "competitor"]
            asked = any(row["what"] == "asked" for row in found)
            # Equal weights: the survey planned first keeps its place. One being sent cannot be undone.
            if asked or any(row["weight"] >= weight or row["claimed_at"] is not None for row in competitors):
                skip_reason = "frequency_cap"
            else:
                superseded = [int(row["id"]) for row in competitors]
        async with db.transaction(one_change=not superseded):
            for survey_id in superseded:
                await conn.execute(
                    "UPDATE surveys SET status = 'skipped', skip_reason = 'superseded' WHERE id = ?",
                    (survey_id,),
                )
            row = await _rows.one(
                conn,
                """INSERT INTO surveys (customer_id, event_id, touchpoint_id, kind, status, skip_reason,
                                        language, scheduled_at, expires_at, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *""",
                (
                    customer_id,
                    event_id,
                    touchpoint_id,
                    kind,
                    "skipped" if skip_reason else "scheduled",
                    skip_reason,
                    language,
                    due,
                    to_db_time(expires_at),
                    now,
                ),
            )
    assert row is not None
    return PlanOutcome(_rows.survey(row), True, skip_reason, tuple(superseded))


async def record_skipped(
    db: Database,
    *,
    customer_id: int,
    touchpoint_id: int | None,
    event_id: int | None,
    scheduled_at: datetime,
    reason: str,
    expires_at: datetime | None = None,
) -> Survey | None:
    """Keep a trace of an event nobody will be asked about (opted out, unreachable ...) for reports; one
    skipped as ``not_linked`` keeps *expires_at*, until which linking still sends its invitation."""
    async with db.transaction(one_change=True) as conn:
        row = await _rows.one(
            conn,
            """INSERT INTO surveys (customer_id, event_id, touchpoint_id, kind, status, skip_reason,
                                    scheduled_at, expires_at, created_at)
               VALUES (?, ?, ?, 'touchpoint', 'skipped', ?, ?, ?, ?)
               ON CONFLICT (event_id, kind) WHERE event_id IS NOT NULL DO NOTHING RETURNING *""",
            (
                customer_id,
                event_id,
                touchpoint_id,
                reason,
                to_db_time(scheduled_at),
                to_db_time(expires_at) if expires_at else None,
                to_db_time(utcnow()),
            ),
        )
    return _rows.survey(row) if row else None


async def schedule_after_linking(db: Database, customer_id: int, *, now: datetime) -> Survey | None:
    """The customer has just linked their chat: the invitation of an event that arrived before (skipped as
    ``not_linked``) goes out now, if the event has not expired. One invitation, not a burst: the heaviest
    touchpoint's, then the newest event's; the others stay skipped."""
    async with db.transaction(one_change=True) as conn:
        row = await _rows.one(
            conn,
            """UPDATE surveys SET status = 'scheduled', skip_reason = NULL,
                                  scheduled_at = CASE WHEN :now > scheduled_at THEN :now ELSE scheduled_at END
               WHERE id = (SELECT s.id FROM surveys AS s LEFT JOIN touchpoints AS t ON t.id = s.touchpoint_id
                           WHERE s.customer_id = :customer AND s.kind = 'touchpoint' AND s.status = 'skipped'
                             AND s.skip_reason = 'not_linked' AND s.expires_at > :now
                           ORDER BY COALESCE(t.weight, 1.0) DESC, s.scheduled_at DESC, s.id DESC LIMIT 1)
               RETURNING *""",
            {"customer": customer_id, "now": to_db_time(now)},
        )
    return _rows.survey(row) if row else None


async def claim_due_invitations(db: Database, *, now: datetime, lease: timedelta, limit: int) -> list[Survey]:
    """Take due invitations for sending. A claim older than *lease* was left by a dead process and is taken
    again, so a crash never loses an invitation; one whose send had begun is left to
    ``unconfirmed_invitations``, so a crash never doubles one either. On PostgreSQL, where every worker's
    clock claims, rows another worker is claiming are skipped (FOR UPDATE SKIP LOCKED), never waited for
    and never taken twice: the lock re-checks the claim on the row's newest version."""
    async with db.transaction() as conn:
        rows = await _rows.all_rows(
            conn,
            f"""UPDATE surveys SET claimed_at = :now, attempts = attempts + 1
               WHERE id IN (SELECT id FROM surveys WHERE status = 'scheduled' AND scheduled_at <= :now
                            AND (claimed_at IS NULL OR claimed_at <= :stale) AND sending_at IS NULL
                            ORDER BY scheduled_at, id LIMIT :limit{db.skip_locked})
               RETURNING *""",
            {"now": to_db_time(now), "stale": to_db_time(now - lease), "limit": limit},
        )
    return sorted((_rows.survey(row) for row in rows), key=lambda survey: (survey.scheduled_at, survey.id))


async def claim_survey(db: Database, survey_id: int, *, now: datetime) -> bool:
    """Take one scheduled survey for sending now (a deep link named its event); False if a tick has it.

    The send follows at once, so the claim also records that it began (see ``mark_sending``)."""
    async with db.transaction() as conn:
        return (
            await _rows.changed(
                conn,
                """UPDATE surveys SET claimed_at = ?, sending_at = ?, attempts = attempts + 1
                   WHERE id = ? AND status = 'scheduled' AND claimed_at IS NULL""",
                (to_db_time(now), to_db_time(now), survey_id),
            )
            == 1
        )


async def mark_sending(db: Database, survey_id: int, *, now: datetime) -> bool:
    """Record that the invitation's send is about to begin; False if the survey is no longer ours to send.

    From here until Telegram's answer is recorded, a crash leaves the delivery unknown: such a survey is
    never sent again but opened as unconfirmed (``unconfirmed_invitations``)."""
    async with db.transaction() as conn:
        return (
            await _rows.changed(
                conn,
                """UPDATE surveys SET sending_at = ?
                   WHERE id = ? AND status = 'scheduled' AND sending_at IS NULL""",
                (to_db_time(now), survey_id),
            )
            == 1
        )


async def unconfirmed_invitations(db: Database, *, started_before: datetime, limit: int) -> list[Survey]:
    """Invitations whose send began before *started_before* and whose outcome was never recorded."""
    rows = await db.fetch_all(
        """SELECT * FROM surveys WHERE status = 'scheduled' AND sending_at IS NOT NULL AND sending_at <= ?
           ORDER BY sending_at LIMIT ?""",
        (to_db_time(started_before), limit),
    )
    return [_rows.survey(row) for row in rows]


async def acknowledge_invitation(
    db: Database,
    survey_id: int,
    *,
    invited_at: datetime,
    message_id: int | None,
    expires_at: datetime,
    language: str,
    note: str | None = None,
) -> Survey | None:
    """The invitation reached Telegram (message_id None: it may have): the survey is open. None if it was
    not ours to acknowledge."""
    async with db.transaction() as conn:
        row = await _rows.one(
            conn,
            """UPDATE surveys SET status = 'invited', step = 'invitation', invited_at = ?,
                   invitation_message_id = ?, expires_at = ?, language = ?, claimed_at = NULL,
                   sending_at = NULL, last_error = ?
               WHERE id = ? AND status = 'scheduled' RETURNING *""",
            (to_db_time(invited_at), message_id, to_db_time(expires_at), language, note, survey_id),
        )
    return _rows.survey(row) if row else None


async def release_invitation(
    db: Database, survey_id: int, *, retry_at: datetime, error: str | None, give_up: bool = False
) -> None:
    """Sending failed or must wait (quiet hours, 429): try again at *retry_at*, or fail for good."""
    async with db.transaction() as conn:
        await conn.execute(
            """UPDATE surveys SET claimed_at = NULL, sending_at = NULL, scheduled_at = ?, last_error = ?,
                   status = CASE WHEN ? = 1 THEN 'failed' ELSE status END
               WHERE id = ? AND status = 'scheduled'""",
            (to_db_time(retry_at), error, 1 if give_up else 0, survey_id),
        )


async def skip_scheduled(db: Database, survey_id: int, reason: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            """UPDATE surveys SET status = 'skipped', skip_reason = ?, claimed_at = NULL, sending_at = NULL
               WHERE id = ? AND status = 'scheduled'""",
            (reason, survey_id),
        )


async def recently_asked(db: Database, customer_id: int, *, since: datetime, excluding: int) -> bool:
    """Was the customer invited to a touchpoint survey since *since* (other than *excluding*)?"""
    row = await db.fetch_one(
        """SELECT 1 FROM surveys WHERE customer_id = ? AND id != ? AND kind = 'touchpoint'
           AND invited_at IS NOT NULL AND invited_at > ? LIMIT 1""",
        (customer_id, excluding, to_db_time(since)),
    )
    return row is not None


async def due_reminders(
    db: Database, *, touchpoint_id: int | None, invited_before: datetime, limit: int
) -> list[Survey]:
    """Open surveys of one touchpoint (None: general and follow-up surveys) still waiting for a reminder."""
    touchpoint_clause = "touchpoint_id IS NULL" if touchpoint_id is None else "touchpoint_id = :tp"
    rows = await db.fetch_all(
        f"""SELECT * FROM surveys WHERE status IN ('invited', 'in_progress') AND reminded_at IS NULL
            AND {touchpoint_clause} AND invited_at <= :before ORDER BY invited_at LIMIT :limit""",
        {"tp": touchpoint_id, "before": to_db_time(invited_before), "limit": limit},
    )
    return [_rows.survey(row) for row in rows]


async def claim_reminder(db: Database, survey_id: int, *, now: datetime) -> bool:
    """Mark the reminder as sent before sending it: a crash may lose a reminder but never doubles one."""
    async with db.transaction() as conn:
        return (
            await _rows.changed(
                conn,
                """UPDATE surveys SET reminded_at = ? WHERE id = ? AND reminded_at IS NULL
                   AND status IN ('invited', 'in_progress')""",
                (to_db_time(now), survey_id),
            )
            == 1
        )


async def expire_overdue(db: Database, *, now: datetime) -> list[Survey]:
    """Close surveys past their expiry (open ones, and scheduled ones that could never be sent in time)."""
    async with db.transaction() as conn:
        rows = await _rows.all_rows(
            conn,
            """UPDATE surveys SET status = 'expired', claimed_at = NULL
               WHERE status IN ('scheduled', 'invited', 'in_progress') AND expires_at IS NOT NULL
               AND expires_at <= ? AND (status != 'scheduled' OR claimed_at IS NULL)
               RETURNING *""",
            (to_db_time(now),),
        )
    return [_rows.survey(row) for row in rows]


async def close_open_surveys(db: Database, customer_id: int, *, status: str = "declined") -> int:
    """The customer opted out or was erased: nothing scheduled or open for them goes on."""
    async with db.transaction() as conn:
        open_count = await _rows.changed(
            conn,
            """UPDATE surveys SET status = ?, claimed_at = NULL
               WHERE customer_id = ? AND status IN ('invited', 'in_progress')""",
            (status, customer_id),
        )
        await conn.execute(
            """UPDATE surveys SET status = 'skipped', skip_reason = 'opted_out', claimed_at = NULL,
                   sending_at = NULL
               WHERE customer_id = ? AND status = 'scheduled'""",
            (customer_id,),
        )
    return open_count

"""A customer's rights over their data: erase what identifies them, export what we hold about them.

Erasure keeps the anonymous facts (ratings, sentiment and emotion labels, times, touchpoints, segment,
language) so reports stay countable, and removes everything that identifies or quotes the person.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from storage import _rows
from storage import audit as audit_repo
from storage.db import Database, to_db_time, utcnow
from storage.models import NotFoundError

# Column by column: what erasure clears (tests check every one of these, and the privacy notes in the docs
# list them). external ids are rewritten rather than cleared because they are NOT NULL UNIQUE.
ERASED_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("external_id", "telegram_user_id", "telegram_chat_id", "display_name", "timezone"),
    "touchpoint_events": ("external_id", "attributes"),
    "surveys": ("state", "step", "invitation_message_id", "last_error"),
    "answers": ("text", "chat_id", "message_id"),
    "alerts": ("notes", "posted_message_id"),
}


async def erase_customer(db: Database, customer_id: int, *, actor: str) -> None:
    """Erase one customer's personal data in one transaction, with its audit entry. Erasing twice is
    harmless. The customer also stops being contactable (consent becomes opted out)."""
    now = to_db_time(utcnow())
    async with db.transaction() as conn:
        row = await _rows.one(
            conn, "SELECT erased_at, telegram_user_id FROM customers WHERE id = ?", (customer_id,)
        )
        if row is None:
            raise NotFoundError(f"customer {customer_id} does not exist")
        # The audit log must not keep the Telegram id we are erasing: a customer acting on their own data
        # (this erasure, earlier exports) is recorded under their internal id instead.
        own_actor = f"telegram:{row['telegram_user_id']}" if row["telegram_user_id"] is not None else None
        subject_actor = f"customer:{customer_id}"
        if own_actor is not None:
            await conn.execute("UPDATE audit_log SET actor = ? WHERE actor = ?", (subject_actor, own_actor))
            if actor == own_actor:
                actor = subject_actor
        await conn.execute(
            """
            UPDATE customers SET external_id = 'erased:' || id, telegram_user_id = NULL,
                telegram_chat_id = NULL, display_name = NULL, timezone = NULL,
                consent = 'opted_out', opted_out_at = COALESCE(opted_out_at, :now),
                erased_at = COALESCE(erased_at, :now), updated_at = :now
            WHERE id = :id
            """,
            {"now": now, "id": customer_id},
        )
        # Event attributes are free-form (order ids, store, agent name, addresses): all of it goes; the
        # amount column (a number) stays for value-weighted reports.
        await conn.execute(
            """UPDATE touchpoint_events SET external_id = 'erased:' || id, attributes = '{}'
               WHERE customer_id = ?""",
            (customer_id,),
        )
        await conn.execute(
            """UPDATE surveys SET state = '{}', step = NULL, invitation_message_id = NULL, last_error = NULL
               WHERE customer_id = ?""",
            (customer_id,),
        )
        await conn.execute(
            "UPDATE answers SET text = NULL, chat_id = NULL, message_id = NULL WHERE customer_id = ?",
            (customer_id,),
        )
        # A sentence vector is read from their words: it goes with the text.
        await conn.execute(
            "DELETE FROM answer_vectors WHERE answer_id IN (SELECT id FROM answers WHERE customer_id = ?)",
            (customer_id,),
        )
        # Staff notes on the customer's alerts quote them; the posted message id would let a reader find
        # the staff-chat message that did. Reason, severity and times stay.
        await conn.execute(
            """UPDATE alerts SET notes = NULL, posted_message_id = NULL, card_text = NULL,
                   contact_phone = NULL
               WHERE customer_id = ?""",
            (customer_id,),
        )
        # The raw updates they sent (kept a short while against redelivery) and what the bot owed them.
        if row["telegram_user_id"] is not None:
            user = row["telegram_user_id"]
            await conn.execute(
                """DELETE FROM inbox WHERE json_extract(payload, '$.message.from.id') = :u
                   OR json_extract(payload, '$.edited_message.from.id') = :u
                   OR json_extract(payload, '$.callback_query.from.id') = :u""",
                {"u": user},
            )
            await conn.execute("DELETE FROM outbox WHERE chat_id = ?", (user,))
        # Webhook events about them carry their words: the undelivered are never sent, none is kept.
        await conn.execute("DELETE FROM webhook_outbox WHERE customer_id = ?", (customer_id,))
        await audit_repo.record(
            db,
            actor=actor,
            action="customer.erase",
            subject=f"customer:{customer_id}",
            details={"already_erased": row["erased_at"] is not None},
            conn=conn,
        )
    # secure_delete zeroes the freed space in the main file; the WAL still holds the old page images until
    # a checkpoint has copied the new ones over and truncated it.
    await db.checkpoint()


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_db_time(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


async def export_customer(db: Database, customer_id: int, *, actor: str | None = None) -> dict[str, Any]:
    """Everything we hold about one customer, JSON-ready (times as UTC ISO text). Each answer carries
    every analysis ever made of it, not only the current one. Every export is audited; *actor* defaults
    to the customer themselves (``customer:<id>``), the self-service /export."""
    row = await db.fetch_one("SELECT * FROM customers WHERE id = ?", (customer_id,))
    if row is None:
        raise NotFoundError(f"customer {customer_id} does not exist")
    await audit_repo.record(
        db,
        actor=actor or f"customer:{customer_id}",
        action="customer.export",
        subject=f"customer:{customer_id}",
    )
    profile = asdict(_rows.customer(row))
    events = [
        asdict(_rows.event(r))
        for r in await db.fetch_all(
            "SELECT * FROM touchpoint_events WHERE customer_id = ? ORDER BY occurred_at, id", (customer_id,)
        )
    ]
    surveys = [
        asdict(_rows.survey(r))
        for r in await db.fetch_all("SELECT * FROM surveys WHERE customer_id = ? ORDER BY id", (customer_id,))
    ]
    analyses: dict[int, list[dict[str, Any]]] = {}
    for r in await db.fetch_all(
        """SELECT n.* FROM analyses AS n JOIN answers AS a ON a.id = n.answer_id
           WHERE a.customer_id = ? ORDER BY n.id""",
        (customer_id,),
    ):
        analyses.setdefault(int(r["answer_id"]), []).append(asdict(_rows.analysis(r)))
    answers = []
    for r in await db.fetch_all(
        "SELECT * FROM answers WHERE customer_id = ? ORDER BY received_at, id", (customer_id,)
    ):
        answer = asdict(_rows.answer(r))
        answer.pop("analysis", None)
        answer["analyses"] = analyses.get(int(r["id"]), [])
        answers.append(answer)
    alerts = [
        asdict(_rows.alert(r))
        for r in await db.fetch_all("SELECT * FROM alerts WHERE customer_id = ? ORDER BY id", (customer_id,))
    ]
    result: dict[str, Any] = _jsonable(
        {
            "format": "momento.customer-export/1",
            "exported_at": utcnow(),
            "customer": profile,
            "events": events,
            "surveys": surveys,
            "answers": answers,
            "alerts": alerts,
        }
    )
    return result


# -- retention ---------------------------------------------------------------------------------------------
# `[privacy] retention`: what is older than the period is anonymised the way erasure does it, record by
# record — answer texts and the Telegram ids beside them, the dialogue state of closed surveys, the event
# ids and attributes, staff notes — while ratings, labels, dates and touchpoints stay for reports. Customer
# profiles stay: they are a current relationship (customers erase theirs with /delete).

_OPEN_SURVEYS = "('scheduled', 'invited', 'in_progress')"
_RETENTION_TARGETS: dict[str, tuple[str, str]] = {
    # table: (rows older than the cutoff that still hold something, the anonymising assignments)
    "answers": (
        "received_at < :cutoff AND (text IS NOT NULL OR chat_id IS NOT NULL OR message_id IS NOT NULL)",
        "text = NULL, chat_id = NULL, message_id = NULL",
    ),
    "surveys": (
        f"created_at < :cutoff AND status NOT IN {_OPEN_SURVEYS} AND (state != '{{}}' OR step IS NOT NULL "
        "OR invitation_message_id IS NOT NULL OR last_error IS NOT NULL)",
        "state = '{}', step = NULL, invitation_message_id = NULL, last_error = NULL",
    ),
    "touchpoint_events": (
        "occurred_at < :cutoff AND NOT (external_id LIKE 'erased:%' OR external_id LIKE 'expired:%')",
        "external_id = 'expired:' || id, attributes = '{}'",
    ),
    "alerts": (
        "created_at < :cutoff AND status = 'resolved' "
        "AND (notes IS NOT NULL OR posted_message_id IS NOT NULL)",
        "notes = NULL, posted_message_id = NULL",
    ),
}


@dataclass(frozen=True, slots=True)
class RetentionResult:
    """How many rows of each table were (or, in a dry run, would be) anonymised, and the cutoff."""

    cutoff: datetime
    counts: dict[str, int]
    dry_run: bool

    @property
    def total(self) -> int:
        return sum(self.counts.values())


async def apply_retention(
    db: Database, cutoff: datetime, *, actor: str = "system:retention", dry_run: bool = False
) -> RetentionResult:
    """Anonymise everything older than *cutoff* in one transaction with its audit entry (written only when
    something changed); *dry_run* counts what would change and touches nothing."""
    params = {"cutoff": to_db_time(cutoff)}
    counts: dict[str, int] = {}
    if dry_run:
        for table, (where, _) in _RETENTION_TARGETS.items():
            row = await db.fetch_one(f"SELECT COUNT(*) AS n FROM {table} WHERE {where}", params)
            counts[table] = int(row["n"]) if row else 0
        return RetentionResult(cutoff, counts, dry_run=True)
    async with db.transaction() as conn:
        for table, (where, assignments) in _RETENTION_TARGETS.items():
            cursor = await conn.execute(f"UPDATE {table} SET {assignments} WHERE {where}", params)
            counts[table] = max(cursor.rowcount, 0)
        if any(counts.values()):
            await audit_repo.record(
                db,
                actor=actor,
                action="retention.anonymise",
                subject=None,
                details={"cutoff": to_db_time(cutoff), **counts},
                conn=conn,
            )
    if any(counts.values()):
        await db.checkpoint()  # as for erasure: the WAL must not keep the old page images
    return RetentionResult(cutoff, counts, dry_run=False)

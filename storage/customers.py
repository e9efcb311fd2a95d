"""Customers: who we may ask, in which language, and whether we may write to them at all."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import aiosqlite

from storage import _rows
from storage import audit as audit_repo
from storage.db import Database, to_db_time, utcnow
from storage.models import Customer, NotFoundError

# Ids per IN (...) list: well under SQLite's limit on bound parameters.
_CHUNK = 500


async def upsert_customer(
    db: Database,
    external_id: str,
    *,
    display_name: str | None = None,
    language: str | None = None,
    timezone: str | None = None,
    tier: str | None = None,
) -> Customer:
    """Create or update by the company's id; a None field keeps what is stored."""
    customer, _ = await upsert_customer_created(
        db, external_id, display_name=display_name, language=language, timezone=timezone, tier=tier
    )
    return customer


async def upsert_customer_created(
    db: Database,
    external_id: str,
    *,
    display_name: str | None = None,
    language: str | None = None,
    timezone: str | None = None,
    tier: str | None = None,
) -> tuple[Customer, bool]:
    """:func:`upsert_customer`, and whether this call created the row — decided under the write lock, so of
    many parallel calls for one new id exactly one says "created"."""
    params = {
        "external_id": external_id,
        "display_name": display_name,
        "language": language,
        "timezone": timezone,
        "tier": tier,
        "now": to_db_time(utcnow()),
    }
    # At most one of the two statements changes anything: the insert, or (on conflict) the update.
    async with db.transaction(one_change=True) as conn:
        row = await _rows.one(
            conn,
            """
            INSERT INTO customers
                (external_id, display_name, language, timezone, tier, created_at, updated_at)
            VALUES
                (:external_id, :display_name, :language, :timezone, COALESCE(:tier, 'standard'), :now, :now)
            ON CONFLICT (external_id) DO NOTHING
            RETURNING *
            """,
            params,
        )
        created = row is not None
        if row is None:
            row = await _rows.one(
                conn,
                """
                UPDATE customers SET
                    display_name = COALESCE(:display_name, display_name),
                    language = COALESCE(:language, language),
                    timezone = COALESCE(:timezone, timezone),
                    tier = COALESCE(:tier, tier),
                    updated_at = :now
                WHERE external_id = :external_id
                RETURNING *
                """,
                params,
            )
    assert row is not None
    return _rows.customer(row), created


async def get_customer(db: Database, customer_id: int) -> Customer | None:
    row = await db.fetch_one("SELECT * FROM customers WHERE id = ?", (customer_id,))
    return _rows.customer(row) if row else None


async def get_by_external_id(db: Database, external_id: str) -> Customer | None:
    row = await db.fetch_one("SELECT * FROM customers WHERE external_id = ?", (external_id,))
    return _rows.customer(row) if row else None


async def get_by_external_ids(db: Database, external_ids: Collection[str]) -> dict[str, Customer]:
    """The customers of a batch in a few reads rather than one per event (each read is a thread hand-off)."""
    wanted = list(dict.fromkeys(external_ids))
    found: dict[str, Customer] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = await db.fetch_all(
            f"SELECT * FROM customers WHERE external_id IN ({','.join('?' * len(chunk))})", chunk
        )
        for row in rows:
            customer = _rows.customer(row)
            found[customer.external_id] = customer
    return found


async def get_by_telegram_user(db: Database, telegram_user_id: int) -> Customer | None:
    row = await db.fetch_one("SELECT * FROM customers WHERE telegram_user_id = ?", (telegram_user_id,))
    return _rows.customer(row) if row else None


async def _link(
    conn: aiosqlite.Connection,
    customer_id: int,
    *,
    telegram_user_id: int,
    telegram_chat_id: int,
    display_name: str | None,
    language: str | None,
    now: str,
) -> Customer:
    if (
        await _rows.one(conn, "SELECT 1 FROM customers WHERE id = ? AND erased_at IS NULL", (customer_id,))
        is None
    ):
        raise NotFoundError(f"customer {customer_id} does not exist or was erased")
    # One Telegram user belongs to one customer: a link elsewhere moves, it is never duplicated.
    await conn.execute(
        """UPDATE customers SET telegram_user_id = NULL, telegram_chat_id = NULL, updated_at = ?
           WHERE telegram_user_id = ? AND id != ?""",
        (now, telegram_user_id, customer_id),
    )
    row = await _rows.one(
        conn,
        """
        UPDATE customers SET
            telegram_user_id = :user_id,
            telegram_chat_id = :chat_id,
            display_name = COALESCE(:display_name, display_name),
            language = COALESCE(language, :language),
            unreachable_at = NULL,
            updated_at = :now
        WHERE id = :id AND erased_at IS NULL
        RETURNING *
        """,
        {
            "user_id": telegram_user_id,
            "chat_id": telegram_chat_id,
            "display_name": display_name,
            "language": language,
            "now": now,
            "id": customer_id,
        },
    )
    if row is None:
        # An erased customer is gone for good: a stale deep link must not re-attach a person to it.
        raise NotFoundError(f"customer {customer_id} does not exist or was erased")
    return _rows.customer(row)


async def link_telegram(
    db: Database,
    customer_id: int,
    *,
    telegram_user_id: int,
    telegram_chat_id: int,
    display_name: str | None,
    language: str | None,
) -> Customer:
    """Attach a Telegram chat to a known customer (deep link). A language the customer chose is kept;
    Telegram's language only fills an empty one. Writing to us again also clears "unreachable"."""
    async with db.transaction() as conn:
        return await _link(
            conn,
            customer_id,
            telegram_user_id=telegram_user_id,
            telegram_chat_id=telegram_chat_id,
            display_name=display_name,
            language=language,
            now=to_db_time(utcnow()),
        )


# One-time links. Each customer has a link generation (0 until staff or the API issue a fresh link) and the
# generation whose link last connected a chat ("claimed"). They live in app_state, keyed by customer id: a
# link links once, and only a fresh link — which raises the generation and so revokes every older one — may
# move a linked customer to another Telegram account.
LinkOutcomeKind = Literal["linked", "same", "taken", "revoked"]


@dataclass(frozen=True, slots=True)
class LinkClaim:
    """What opening a link did: ``linked`` (connected now), ``same`` (already this user's: harmless), or
    refused — ``taken`` (the link was used by someone else) or ``revoked`` (a newer link was issued)."""

    outcome: LinkOutcomeKind
    customer: Customer


def _generation_key(customer_id: int) -> str:
    return f"link.generation:{customer_id}"


def _claimed_key(customer_id: int) -> str:
    return f"link.claimed:{customer_id}"


async def _state_int(conn: aiosqlite.Connection, key: str) -> int | None:
    row = await _rows.one(conn, "SELECT value FROM app_state WHERE key = ?", (key,))
    return int(row["value"]) if row is not None else None


async def _set_state_int(conn: aiosqlite.Connection, key: str, value: int) -> None:
    await conn.execute(
        "INSERT INTO app_state (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, str(value)),
    )


async def link_generation(db: Database, customer_id: int) -> int:
    """The generation a link issued now carries (older generations are revoked)."""
    row = await db.fetch_one("SELECT value FROM app_state WHERE key = ?", (_generation_key(customer_id),))
    return int(row["value"]) if row is not None else 0


async def reissue_link(db: Database, customer_id: int, *, actor: str) -> int:
    """Revoke every link issued so far and return the generation of the fresh one: the explicit act that
    lets a customer move to a new Telegram account. Audited."""
    async with db.transaction() as conn:
        if (
            await _rows.one(
                conn, "SELECT 1 FROM customers WHERE id = ? AND erased_at IS NULL", (customer_id,)
            )
            is None
        ):
            raise NotFoundError(f"customer {customer_id} does not exist or was erased")
        generation = (await _state_int(conn, _generation_key(customer_id)) or 0) + 1
        await _set_state_int(conn, _generation_key(customer_id), generation)
        await audit_repo.record(
            db,
            actor=actor,
            action="customer.link_reissue",
            subject=f"customer:{customer_id}",
            details={"generation": generation},
            conn=conn,
        )
    return generation


async def claim_link(
    db: Database,
    customer_id: int,
    *,
    generation: int,
    telegram_user_id: int,
    telegram_chat_id: int,
    display_name: str | None,
    language: str | None,
) -> LinkClaim:
    """Open a deep link of *generation* from a Telegram user, in one transaction: connect the chat if the
    link is current and unused, change nothing if it is this user's already, else refuse with an audit
    entry naming the user who tried."""
    now = to_db_time(utcnow())
    async with db.transaction() as conn:
        row = await _rows.one(
            conn, "SELECT * FROM customers WHERE id = ? AND erased_at IS NULL", (customer_id,)
        )
        if row is None:
            raise NotFoundError(f"customer {customer_id} does not exist or was erased")
        customer = _rows.customer(row)
        if customer.telegram_user_id == telegram_user_id and customer.telegram_chat_id == telegram_chat_id:
            return LinkClaim("same", customer)
        current = await _state_int(conn, _generation_key(customer_id)) or 0
        claimed = await _state_int(conn, _claimed_key(customer_id))
        if claimed is None and customer.telegram_user_id is not None:
            claimed = 0  # linked before links were one-time: its first link counts as used
        refusal: LinkOutcomeKind | None = None
        if generation < current:
            refusal = "revoked"
        elif claimed is not None and claimed >= current and customer.telegram_user_id != telegram_user_id:
            refusal = "taken"
        if refusal is not None:
            await audit_repo.record(
                db,
                actor=f"telegram:{telegram_user_id}",
                action="customer.link_refused",
                subject=f"customer:{customer_id}",
                details={"reason": refusal, "generation": generation},
                conn=conn,
            )
            return LinkClaim(refusal, customer)
        linked = await _link(
            conn,
            customer_id,
            telegram_user_id=telegram_user_id,
            telegram_chat_id=telegram_chat_id,
            display_name=display_name,
            language=language,
            now=now,
        )
        await _set_state_int(conn, _claimed_key(customer_id), current)
        if customer.telegram_user_id is not None and customer.telegram_user_id != telegram_user_id:
            await audit_repo.record(
                db,
                actor=f"telegram:{telegram_user_id}",
                action="customer.link_moved",
                subject=f"customer:{customer_id}",
                details={"generation": current},
                conn=conn,
            )
    return LinkClaim("same" if customer.telegram_user_id == telegram_user_id else "linked", linked)


async def ensure_telegram_customer(
    db: Database,
    *,
    telegram_user_id: int,
    telegram_chat_id: int,
    display_name: str | None,
    language: str | None,
) -> Customer:
    """The customer behind a Telegram user, created as ``tg:<user id>`` the first time they write."""
    now = to_db_time(utcnow())
    async with db.transaction() as conn:
        row = await _rows.one(
            conn, "SELECT id FROM customers WHERE telegram_user_id = ?", (telegram_user_id,)
        )
        if row is None:
            row = await _rows.one(
                conn,
                """
                INSERT INTO customers (external_id, created_at, updated_at) VALUES (?, ?, ?)
                ON CONFLICT (external_id) DO UPDATE SET updated_at = excluded.updated_at
                RETURNING id
                """,
                (f"tg:{telegram_user_id}", now, now),
            )
            assert row is not None
        return await _link(
            conn,
            int(row["id"]),
            telegram_user_id=telegram_user_id,
            telegram_chat_id=telegram_chat_id,
            display_name=display_name,
            language=language,
            now=now,
        )


async def _update(db: Database, customer_id: int, assignments: str, params: dict[str, object]) -> Customer:
    params = {**params, "id": customer_id, "now": to_db_time(utcnow())}
    async with db.transaction() as conn:
        row = await _rows.one(
            conn, f"UPDATE customers SET {assignments}, updated_at = :now WHERE id = :id RETURNING *", params
        )
    if row is None:
        raise NotFoundError(f"customer {customer_id} does not exist")
    return _rows.customer(row)


async def set_language(db: Database, customer_id: int, language: str | None) -> Customer:
    """The customer's own choice; None goes back to following Telegram's language."""
    return await _update(
        db,
        customer_id,
        "language = :language, "
        "language_chosen_at = CASE WHEN CAST(:language AS TEXT) IS NULL THEN NULL ELSE :now END",
        {"language": language},
    )


async def language_chosen(db: Database, customer_id: int) -> bool:
    """Did the customer pick their language with /language? (then it wins over the language they write)"""
    row = await db.fetch_one("SELECT language_chosen_at FROM customers WHERE id = ?", (customer_id,))
    return row is not None and row["language_chosen_at"] is not None


async def set_timezone(db: Database, customer_id: int, timezone: str | None) -> Customer:
    return await _update(db, customer_id, "timezone = :timezone", {"timezone": timezone})


async def grant_consent(db: Database, customer_id: int) -> Customer:
    """Opting back in clears the opt-out time: the customer may be surveyed again."""
    return await _update(db, customer_id, "consent = 'granted', opted_out_at = NULL", {})


async def opt_out(db: Database, customer_id: int, at: datetime) -> Customer:
    """No more surveys; the first opt-out time is kept if the customer repeats it."""
    return await _update(
        db,
        customer_id,
        "consent = 'opted_out', opted_out_at = COALESCE(opted_out_at, :at)",
        {"at": to_db_time(at)},
    )


async def mark_unreachable(db: Database, customer_id: int, at: datetime) -> Customer:
    """Telegram answered 403 (bot blocked): stop writing until the customer writes to us again."""
    return await _update(
        db, customer_id, "unreachable_at = COALESCE(unreachable_at, :at)", {"at": to_db_time(at)}
    )


async def clear_unreachable(db: Database, customer_id: int) -> Customer:
    return await _update(db, customer_id, "unreachable_at = NULL", {})

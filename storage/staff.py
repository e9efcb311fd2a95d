"""Staff and admins added at run time (admins from the config are handled by bot.accounts.roles)."""

from __future__ import annotations

from storage import _rows
from storage.db import Database, to_db_time, utcnow
from storage.models import Role, StaffMember


async def get_role(db: Database, telegram_user_id: int) -> Role | None:
    row = await db.fetch_one("SELECT role FROM staff WHERE telegram_user_id = ?", (telegram_user_id,))
    if row is None:
        return None
    role = row["role"]
    return "admin" if role == "admin" else "staff"


async def get_staff_member(db: Database, telegram_user_id: int) -> StaffMember | None:
    row = await db.fetch_one("SELECT * FROM staff WHERE telegram_user_id = ?", (telegram_user_id,))
    return _rows.staff_member(row) if row else None


async def add_staff(
    db: Database, user_id: int, role: Role, added_by: int | None, display_name: str | None = None
) -> StaffMember:
    """Add a member, or change the role of an existing one (who added them first is kept)."""
    async with db.transaction() as conn:
        row = await _rows.one(
            conn,
            """
            INSERT INTO staff (telegram_user_id, role, display_name, added_by, added_at)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (telegram_user_id) DO UPDATE SET
                role = excluded.role, display_name = COALESCE(excluded.display_name, staff.display_name)
            RETURNING *
            """,
            (user_id, role, display_name, added_by, to_db_time(utcnow())),
        )
    assert row is not None
    return _rows.staff_member(row)


async def remove_staff(db: Database, user_id: int) -> bool:
    """False when the user was not staff."""
    async with db.transaction() as conn:
        return await _rows.changed(conn, "DELETE FROM staff WHERE telegram_user_id = ?", (user_id,)) > 0


async def list_staff(db: Database) -> list[StaffMember]:
    """Admins first, then by when they were added."""
    rows = await db.fetch_all("SELECT * FROM staff ORDER BY role = 'admin' DESC, added_at, telegram_user_id")
    return [_rows.staff_member(row) for row in rows]

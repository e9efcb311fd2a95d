"""Who may use staff and admin commands: decided by the user's role, never by the chat they write from."""

from __future__ import annotations

from typing import Literal

from bot.config import Settings
from storage import staff as staff_repo
from storage.db import Database

Role = Literal["staff", "admin"]


async def role_of(db: Database, settings: Settings, telegram_user_id: int | None) -> Role | None:
    """Admins from the config are admins even before anyone was added to the database."""
    if telegram_user_id is None:
        return None
    if telegram_user_id in settings.telegram.admin_user_ids:
        return "admin"
    return await staff_repo.get_role(db, telegram_user_id)


async def is_staff(db: Database, settings: Settings, telegram_user_id: int | None) -> bool:
    return await role_of(db, settings, telegram_user_id) is not None


async def is_admin(db: Database, settings: Settings, telegram_user_id: int | None) -> bool:
    return await role_of(db, settings, telegram_user_id) == "admin"

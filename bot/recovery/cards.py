"""/alerts: the open-alert queue, oldest first, as the same cards bot.recovery.alerts posts to team chats.

Same text, same [Acknowledge / Resolve] buttons and callback data, so presses are handled by recovery's
callback handler whichever message they come from.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from bot.messaging import Button
from bot.recovery.alerts import alert_buttons, render_card
from storage import alerts as alert_repo
from storage.db import Database


@dataclass(frozen=True, slots=True)
class AlertCard:
    alert_id: int
    text: str
    buttons: tuple[tuple[Button, ...], ...]


async def open_alert_cards(
    db: Database, settings: Settings, *, limit: int, language: str = "en"
) -> tuple[list[AlertCard], int]:
    """The oldest *limit* unresolved alerts as cards, and how many are unresolved in all."""
    open_alerts = await alert_repo.list_open_alerts(db)
    cards = [
        AlertCard(alert.id, await render_card(db, settings, alert, language), alert_buttons(alert, language))
        for alert in open_alerts[:limit]
    ]
    return cards, len(open_alerts)

"""/alerts: the open-alert queue, oldest first, as cards with their [Acknowledge / Resolve] buttons.

The cards are those bot.recovery posts to team chats when it exists (same text, same callback data, so the
buttons are handled by its callback handler); otherwise a compatible card is built here.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.config import Settings
from storage import alerts as alert_repo
from storage import reports as report_queries
from storage.db import Database

ACK_PREFIX = "alert:ack:"
RESOLVE_PREFIX = "alert:resolve:"


@dataclass(frozen=True, slots=True)
class Button:
    text: str
    callback_data: str


@dataclass(frozen=True, slots=True)
class AlertCard:
    alert_id: int
    text: str
    buttons: list[Button]


async def open_alert_cards(db: Database, settings: Settings, *, limit: int) -> tuple[list[AlertCard], int]:
    """The oldest *limit* unresolved alerts as cards, and how many are unresolved in all."""
    open_alerts = await alert_repo.list_open_alerts(db)
    cards = []
    for alert in open_alerts[:limit]:
        context = await report_queries.alert_context(db, alert.id)
        cards.append(
            _card(alert.id, alert.status, alert.reason, alert.severity, alert.created_at, context, settings)
        )
    return cards, len(open_alerts)


def _card(
    alert_id: int,
    status: str,
    reason: str,
    severity: str,
    created_at: datetime,
    context: dict[str, object],
    settings: Settings,
) -> AlertCard:
    get = context.get
    zone = ZoneInfo(settings.survey.default_timezone)
    key = get("touchpoint")
    configured = settings.touchpoint(str(key)) if key else None
    name = configured.name("en") if configured else str(key or "general feedback")
    lines = [
        f"🚨 <b>Alert #{alert_id}</b> · {html.escape(severity)} · {html.escape(status)}",
        f"{created_at.astimezone(zone).strftime('%Y-%m-%d %H:%M')} · {html.escape(name)}",
        f"Customer {html.escape(str(get('customer') or '–'))} ({html.escape(str(get('tier') or '–'))})",
        f"Reason: {html.escape(reason)}",
    ]
    if get("rating") is not None:
        lines.append(f"Rating: {get('rating')}/5")
    if get("words"):
        lines.append(f"“{html.escape(str(get('words')))}”")
    if get("feeling"):
        lines.append(f"Sentiment / emotion: {html.escape(str(get('feeling')))}")
    buttons = []
    if status == "open":
        buttons.append(Button("Acknowledge", f"{ACK_PREFIX}{alert_id}"))
    buttons.append(Button("Resolve", f"{RESOLVE_PREFIX}{alert_id}"))
    return AlertCard(alert_id, "\n".join(lines), buttons)

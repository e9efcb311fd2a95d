"""Service recovery: an unhappy customer becomes an alert card in the owning team's chat, within a second.

The card (customer with tier, touchpoint, their words escaped, rating, sentiment, emotion) carries
[Acknowledge / Resolve] buttons that only staff can use; a resolved alert schedules a follow-up survey that
measures whether the recovery worked. ``render_card`` and ``alert_buttons`` are public so /alerts shows the
same card.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.accounts.roles import is_staff
from bot.config import Settings
from bot.i18n import Catalogue, translate
from bot.messaging import (
    AlertActionName,
    AlertPress,
    Button,
    Messenger,
    OutgoingMessage,
    PressResult,
    decode,
    encode,
)
from bot.outreach.scheduling import schedule_followup
from storage import alerts as alert_repo
from storage import answers as answer_repo
from storage import customers as customer_repo
from storage import touchpoints as touchpoint_repo
from storage.db import Database, utcnow
from storage.models import Alert, Severity

log = logging.getLogger(__name__)

NEGATIVE_EMOTIONS = frozenset({"anger", "disgust"})

# The texts are the card.* messages of the catalogues in bot/locale (see bot.i18n).
CARD = Catalogue("card")

_QUOTE_LIMIT = 700


def _quote_labels(language: str) -> dict[str, str]:
    """The label of each answer a card quotes, by question."""
    return {
        "expectation": translate(CARD, "expectation", language),
        "experience": translate(CARD, "experience", language),
        "improvement": translate(CARD, "improvement", language),
        "comment": translate(CARD, "comment", language),
    }


def alert_data(alert_id: int, action: AlertActionName) -> str:
    return encode(AlertPress(alert_id, action))


def alert_buttons(alert: Alert, language: str = "en") -> tuple[tuple[Button, ...], ...]:
    if alert.status == "resolved":
        return ()
    row = [Button(translate(CARD, "btn_resolve", language), alert_data(alert.id, "res"))]
    if alert.status == "open":
        row.insert(0, Button(translate(CARD, "btn_ack", language), alert_data(alert.id, "ack")))
    return (tuple(row),)


def severity_of(rating: int | None, sentiment: str | None, emotion: str | None) -> tuple[str, Severity]:
    """(reason, severity) of a negative experience."""
    if rating is not None and rating <= 2:
        angry = emotion in NEGATIVE_EMOTIONS
        return "low_rating", "high" if rating == 1 or angry else "medium"
    if emotion in NEGATIVE_EMOTIONS:
        return str(emotion), "medium"
    return "negative_sentiment", "low"


async def render_card(db: Database, settings: Settings, alert: Alert, language: str = "en") -> str:
    """The alert as the team sees it; everything the customer wrote is HTML-escaped."""
    customer = await customer_repo.get_customer(db, alert.customer_id)
    touchpoint = (
        await touchpoint_repo.get_touchpoint_by_id(db, alert.touchpoint_id) if alert.touchpoint_id else None
    )
    name = "—"
    tier = "standard"
    if customer is not None:
        name = customer.display_name or customer.external_id
        tier = customer.tier
    lines = [
        translate(CARD, "title", language, id=alert.id),
        translate(CARD, "customer", language, name=html.escape(name), tier=html.escape(tier)),
        translate(
            CARD,
            "touchpoint",
            language,
            touchpoint=html.escape(touchpoint.name(language) if touchpoint else "—"),
        ),
    ]
    answers = await answer_repo.answers_for_survey(db, alert.survey_id) if alert.survey_id else []
    rating = next((a.rating for a in answers if a.rating is not None), None)
    experience = next((a for a in answers if a.question == "experience" and a.analysis), None)
    lines.append(translate(CARD, "rating", language, rating=f"{rating}/5" if rating else "—"))
    if experience is not None and experience.analysis is not None:
        lines.append(
            translate(
                CARD,
                "mood",
                language,
                sentiment=experience.analysis.sentiment,
                emotion=experience.analysis.emotion,
            )
        )
    labels = _quote_labels(language)
    for answer in answers:
        if answer.question in labels and answer.text:
            words = answer.text if len(answer.text) <= _QUOTE_LIMIT else answer.text[:_QUOTE_LIMIT] + "…"
            label = labels[answer.question]
            lines.append(f"{label}: <i>“{html.escape(words)}”</i>")
    if alert.callback_requested:
        lines.append(translate(CARD, "callback", language))
    if alert.status == "acknowledged":
        who = f"<code>{alert.assignee_user_id}</code>" if alert.assignee_user_id else "—"
        lines.append(translate(CARD, "status_acknowledged", language, who=who))
    elif alert.status == "resolved":
        lines.append(translate(CARD, "status_resolved", language))
    else:
        lines.append(translate(CARD, "status_open", language))
    return "\n".join(lines)


def team_chat(settings: Settings, touchpoint_key: str | None) -> int | None:
    config = settings.touchpoint(touchpoint_key) if touchpoint_key else None
    if config is not None and config.team_chat_id is not None:
        return config.team_chat_id
    return settings.telegram.staff_chat_id


@dataclass
class Recovery:
    db: Database
    settings: Settings
    messenger: Messenger
    clock: Callable[[], datetime] = utcnow

    @property
    def language(self) -> str:
        return self.settings.survey.default_language

    async def open(
        self,
        *,
        survey_id: int,
        customer_id: int,
        touchpoint_id: int | None,
        reason: str,
        severity: Severity,
        callback_requested: bool = False,
    ) -> Alert:
        """Open (or update) the survey's alert and make sure the team sees the current card."""
        alert, created = await alert_repo.open_alert(
            self.db,
            survey_id=survey_id,
            customer_id=customer_id,
            touchpoint_id=touchpoint_id,
            reason=reason,
            severity=severity,
            callback_requested=callback_requested,
            at=self.clock(),
        )
        if created or alert.posted_message_id is None:
            await self.post(alert)
        else:
            await self.refresh(alert)
        return alert

    async def post(self, alert: Alert) -> bool:
        key = await touchpoint_repo.touchpoint_key(self.db, alert.touchpoint_id)
        chat = team_chat(self.settings, key)
        if chat is None:
            log.warning("alert %s has nowhere to go: set telegram.staff_chat_id", alert.id)
            return False
        text = await render_card(self.db, self.settings, alert, self.language)
        try:
            message_id = await self.messenger.send(
                OutgoingMessage(chat, text, alert_buttons(alert, self.language))
            )
        except Exception as exc:
            log.warning("alert %s not posted yet (will retry): %s", alert.id, exc)
            return False
        await alert_repo.mark_posted(self.db, alert.id, chat, message_id, self.clock())
        return True

    async def refresh(self, alert: Alert) -> None:
        if alert.posted_chat_id is None or alert.posted_message_id is None:
            return
        text = await render_card(self.db, self.settings, alert, self.language)
        try:
            await self.messenger.edit(
                alert.posted_chat_id, alert.posted_message_id, text, alert_buttons(alert, self.language)
            )
        except Exception as exc:
            log.warning("could not update the card of alert %s: %s", alert.id, exc)

    async def post_unposted(self) -> int:
        posted = 0
        for alert in await alert_repo.unposted_alerts(self.db):
            posted += int(await self.post(alert))
        return posted

    async def on_press(self, user_id: int, data: str) -> PressResult:
        """A button on a card: staff act on the alert; anyone else is politely refused."""
        press = decode(data)
        if not isinstance(press, AlertPress):
            return PressResult(translate(CARD, "unknown", self.language))
        if not await is_staff(self.db, self.settings, user_id):
            return PressResult(translate(CARD, "staff_only", self.language), alert=True)
        alert_id, action = press.alert_id, press.action
        now = self.clock()
        if await alert_repo.get_alert(self.db, alert_id) is None:
            return PressResult(translate(CARD, "unknown", self.language))
        if action == "ack":
            changed = await alert_repo.acknowledge(self.db, alert_id, user_id, now)
            toast = translate(CARD, "acknowledged", self.language)
        else:
            changed = await alert_repo.resolve(self.db, alert_id, user_id, now)
            toast = translate(CARD, "resolved", self.language)
        if changed is None:
            return PressResult(translate(CARD, "taken", self.language))
        if action == "res":
            followup = await schedule_followup(
                self.db,
                self.settings,
                customer_id=changed.customer_id,
                touchpoint_id=changed.touchpoint_id,
                now=now,
            )
            changed = await alert_repo.set_followup_survey(self.db, alert_id, followup.id)
        await self.refresh(changed)
        return PressResult(toast)

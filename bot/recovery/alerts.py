"""Service recovery: an unhappy customer becomes an alert card in the owning team's chat, within a second.

The card (customer with tier, touchpoint, their words escaped, rating, sentiment, emotion) carries
[Acknowledge / Resolve] buttons that only staff can use; a resolved alert schedules a follow-up survey that
measures whether the recovery worked. ``render_card`` and ``alert_buttons`` are public so /alerts shows the
same card.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
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
from bot.outreach import webhooks
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
# Telegram's limit for a message, counted as Telegram counts: UTF-16 code units of the text after its HTML
# is parsed. A card keeps a margin below it.
MESSAGE_LIMIT = 4096
_CARD_BUDGET = MESSAGE_LIMIT - 96


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def cut_utf16(text: str, units: int) -> str:
    """*text* shortened to at most *units* UTF-16 units with an ellipsis, never splitting a character."""
    if utf16_len(text) <= units:
        return text
    kept: list[str] = []
    used = 0
    for ch in text:
        size = 2 if ord(ch) > 0xFFFF else 1
        if used + size > units - 1:
            break
        kept.append(ch)
        used += size
    return "".join(kept).rstrip() + "…"


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
    quotes = [(labels[a.question], a.text) for a in answers if a.question in labels and a.text]
    tail: list[str] = []
    if alert.callback_requested:
        tail.append(translate(CARD, "callback", language))
    if alert.contact_phone:
        tail.append(translate(CARD, "contact_phone", language, phone=html.escape(alert.contact_phone)))
    if alert.status == "acknowledged":
        who = f"<code>{alert.assignee_user_id}</code>" if alert.assignee_user_id else "—"
        lines.append(translate(CARD, "status_acknowledged", language, who=who))
    elif alert.status == "resolved":
        tail.append(translate(CARD, "status_resolved", language))
    else:
        tail.append(translate(CARD, "status_open", language))
    return "\n".join([*lines, *_capped_quotes(quotes, lines + tail), *tail])


def _capped_quotes(quotes: list[tuple[str, str]], others: list[str]) -> list[str]:
    """The customer's words, capped as a whole so the card always fits Telegram's limit: each quote gets
    at most _QUOTE_LIMIT, and together they share what the rest of the card leaves."""
    plain_others = sum(utf16_len(_plain(line)) + 1 for line in others)
    budget = _CARD_BUDGET - plain_others
    shown: list[str] = []
    for index, (label, text) in enumerate(quotes):
        frame = utf16_len(f"{label}: “”") + 1
        share = (budget // (len(quotes) - index)) - frame if budget > frame else 0
        if share < 8:
            break  # nothing meaningful fits any more; the team sees the rest in /alerts exports
        words = cut_utf16(text, min(_QUOTE_LIMIT, share))
        budget -= utf16_len(words) + frame
        shown.append(f"{label}: <i>“{html.escape(words)}”</i>")
    return shown


def _plain(line: str) -> str:
    """What Telegram counts of an HTML line: the text without tags, entities as one character."""
    return html.unescape(re.sub(r"<[^>]+>", "", line))


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
    # One card at a time is posted or edited, so the dialogue's post and the clock's retry never both post.
    _posting: asyncio.Lock = field(default_factory=asyncio.Lock)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

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
        wait: bool = True,
    ) -> Alert:
        """Open (or update) the survey's alert and make sure the team sees the current card; with
        *wait* False the post goes through its own task, so a customer never waits for the staff chat's
        rate limit."""
        now = self.clock()
        reported = webhooks.wants(self.settings, "alert.opened", "callback.requested")
        subject = (
            await webhooks.alert_subject(self.db, customer_id=customer_id, touchpoint_id=touchpoint_id)
            if reported
            else None
        )
        # The alert and the webhook events reporting it are one write (bot.outreach.webhooks).
        async with self.db.transaction() if reported else contextlib.nullcontext():
            before = await alert_repo.alert_for_survey(self.db, survey_id) if reported else None
            alert, created = await alert_repo.open_alert(
                self.db,
                survey_id=survey_id,
                customer_id=customer_id,
                touchpoint_id=touchpoint_id,
                reason=reason,
                severity=severity,
                callback_requested=callback_requested,
                at=now,
            )
            if subject is not None:
                if created:
                    await self._report("alert.opened", alert, subject, now, source="bot")
                if alert.callback_requested and (
                    created or (before is not None and not before.callback_requested)
                ):
                    await self._report("callback.requested", alert, subject, now, source="bot")
        if wait:
            await self.show(alert.id)
        else:
            task = asyncio.create_task(self.show(alert.id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return alert

    async def show(self, alert_id: int) -> None:
        """Post the alert's card if it was never posted, else bring the posted card up to date."""
        try:
            async with self._posting:
                alert = await alert_repo.get_alert(self.db, alert_id)
                if alert is None:
                    return
                if alert.posted_message_id is None:
                    await self._post(alert)
                else:
                    await self._refresh(alert)
        except Exception:
            log.exception("card of alert %s not shown yet (the clock retries)", alert_id)

    async def drain(self) -> None:
        """Wait for the cards being posted in the background (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def add_contact(self, survey_id: int, phone: str) -> bool:
        """The customer shared their number for the call back: the card shows it."""
        subject = None
        if webhooks.wants(self.settings, "callback.requested"):
            known = await alert_repo.alert_for_survey(self.db, survey_id)
            if known is not None and not known.callback_requested:
                subject = await webhooks.alert_subject(
                    self.db, customer_id=known.customer_id, touchpoint_id=known.touchpoint_id
                )
        async with self.db.transaction() if subject is not None else contextlib.nullcontext():
            before = await alert_repo.alert_for_survey(self.db, survey_id) if subject is not None else None
            alert = await alert_repo.set_contact_phone(self.db, survey_id, phone)
            if (
                subject is not None
                and alert is not None
                and before is not None
                and not before.callback_requested
            ):
                await self._report("callback.requested", alert, subject, self.clock(), source="bot")
        if alert is None:
            return False
        await self.show(alert.id)
        return True

    async def post(self, alert: Alert) -> bool:
        async with self._posting:
            fresh = await alert_repo.get_alert(self.db, alert.id)
            if fresh is None or fresh.posted_message_id is not None:
                return False
            return await self._post(fresh)

    async def _post(self, alert: Alert) -> bool:
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
        await alert_repo.record_card(self.db, alert.id, text)
        return True

    async def refresh(self, alert: Alert) -> None:
        async with self._posting:
            fresh = await alert_repo.get_alert(self.db, alert.id)
            if fresh is not None:
                await self._refresh(fresh)

    async def _refresh(self, alert: Alert) -> None:
        if alert.posted_chat_id is None or alert.posted_message_id is None:
            return
        text = await render_card(self.db, self.settings, alert, self.language)
        if text == alert.card_text:
            return  # Telegram refuses an edit that changes nothing ("message is not modified")
        try:
            await self.messenger.edit(
                alert.posted_chat_id, alert.posted_message_id, text, alert_buttons(alert, self.language)
            )
        except Exception as exc:
            log.warning("could not update the card of alert %s: %s", alert.id, exc)
            return
        await alert_repo.record_card(self.db, alert.id, text)

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
        if await alert_repo.get_alert(self.db, alert_id) is None:
            return PressResult(translate(CARD, "unknown", self.language))
        changed = await self.act(alert_id, action, user_id=user_id, source="telegram")
        if changed is None:
            return PressResult(translate(CARD, "taken", self.language))
        if action == "ack":
            return PressResult(translate(CARD, "acknowledged", self.language))
        return PressResult(translate(CARD, "resolved", self.language))

    async def act(
        self,
        alert_id: int,
        action: AlertActionName,
        *,
        user_id: int | None,
        source: str,
        notes: str | None = None,
    ) -> Alert | None:
        """Acknowledge or resolve an alert (a card's button, or a help desk through the API), report it to
        the webhooks in the same transaction, and bring the team's card up to date.

        None when the alert had already moved on (taken by someone else, already resolved); NotFoundError
        when there is no such alert. A resolved alert schedules the follow-up survey."""
        now = self.clock()
        event = "alert.acknowledged" if action == "ack" else "alert.resolved"
        subject = None
        if webhooks.wants(self.settings, event):
            known = await alert_repo.get_alert(self.db, alert_id)
            if known is not None:
                subject = await webhooks.alert_subject(
                    self.db, customer_id=known.customer_id, touchpoint_id=known.touchpoint_id
                )
        async with self.db.transaction() if subject is not None else contextlib.nullcontext():
            if action == "ack":
                changed = await alert_repo.acknowledge(self.db, alert_id, user_id, now, notes=notes)
            else:
                changed = await alert_repo.resolve(self.db, alert_id, user_id, now, notes)
            if changed is None:
                return None
            if action == "res":
                followup = await schedule_followup(
                    self.db,
                    self.settings,
                    customer_id=changed.customer_id,
                    touchpoint_id=changed.touchpoint_id,
                    now=now,
                )
                changed = await alert_repo.set_followup_survey(self.db, alert_id, followup.id)
            if subject is not None:
                await self._report(event, changed, subject, now, source=source)
        await self.refresh(changed)
        return changed

    async def card_shows(self, alert_id: int) -> bool:
        """Whether the card in the team chat shows the alert as it is now."""
        alert = await alert_repo.get_alert(self.db, alert_id)
        if alert is None or alert.posted_message_id is None:
            return False
        return alert.card_text == await render_card(self.db, self.settings, alert, self.language)

    async def _report(
        self, event_type: str, alert: Alert, subject: webhooks.AlertSubject, at: datetime, *, source: str
    ) -> None:
        await webhooks.enqueue_event(
            self.db,
            self.settings,
            event_type,
            webhooks.alert_data(alert, subject, source=source),
            at=at,
            customer_id=alert.customer_id,
        )

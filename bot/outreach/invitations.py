"""The one invitation send protocol, shared by the clock and by deep links: at most once, never lost.

claim -> mark sending -> send -> acknowledge. A process that dies after claiming leaves a stale claim that a
later tick takes again (nothing lost). Once the send has begun, a crash or a timeout leaves the delivery
unknown: the Bot API has no idempotency key, so such an invitation is never sent again but opened as
"delivery unconfirmed"; a press on its buttons confirms it, and its reminder (same buttons) asks anyway. An
acknowledgement that fails after a successful send is kept in memory and retried before anything else is
sent (nothing doubled).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from bot import script
from bot.config import Settings
from bot.messaging import DeliveryUnknown, Messenger, OutgoingMessage, RecipientUnreachable, RetryLater
from bot.outreach.scheduling import DEFAULT_EXPIRY, invitation_expiry, survey_language
from storage import customers as customer_repo
from storage import events as event_repo
from storage import outreach as outreach_repo
from storage import surveys as survey_repo
from storage import touchpoints as touchpoint_repo
from storage.db import Database
from storage.models import Customer, Survey

log = logging.getLogger(__name__)

MAX_SEND_ATTEMPTS = 5
# Kept in the survey's last_error, shown to admins: why this survey has no invitation message id.
UNCONFIRMED_NOTE = "delivery unconfirmed: the send was interrupted; the reminder carries the same buttons"

Delivery = Literal["invited", "pending", "unconfirmed", "unreachable", "deferred", "failed", "not_ours"]


@dataclass
class _PendingAck:
    survey_id: int
    invited_at: datetime
    message_id: int
    expires_at: datetime
    language: str


@dataclass
class Invitations:
    db: Database
    settings: Settings
    messenger: Messenger
    # Test hook: called after a successful send and before its acknowledgement.
    after_send: Callable[[Survey], None] | None = None
    _pending_acks: list[_PendingAck] = field(default_factory=list)
    # Surveys whose invitation this process is sending now (never taken as a dead process's claim).
    in_flight: set[int] = field(default_factory=set)

    async def settle(self) -> bool:
        """Record the invitations Telegram took but we could not yet record; False while that fails."""
        while self._pending_acks:
            ack = self._pending_acks[0]
            try:
                await outreach_repo.acknowledge_invitation(
                    self.db,
                    ack.survey_id,
                    invited_at=ack.invited_at,
                    message_id=ack.message_id,
                    expires_at=ack.expires_at,
                    language=ack.language,
                )
            except Exception:
                log.exception("could not record the invitation of survey %s yet", ack.survey_id)
                return False
            self._pending_acks.pop(0)
        return True

    async def send(
        self, survey: Survey, customer: Customer, now: datetime, *, sending_marked: bool = False
    ) -> Delivery:
        """Send one claimed survey's invitation and record the outcome; *sending_marked* when the claim
        already recorded that the send begins."""
        language = survey.language or survey_language(customer, self.settings)
        key = await touchpoint_repo.touchpoint_key(self.db, survey.touchpoint_id)
        message = script.invitation(self.settings, survey, customer, key, language)
        if not sending_marked and not await outreach_repo.mark_sending(self.db, survey.id, now=now):
            return "not_ours"
        self.in_flight.add(survey.id)
        try:
            return await self._send_marked(survey, customer, now, message, key, language)
        finally:
            self.in_flight.discard(survey.id)

    async def _send_marked(
        self,
        survey: Survey,
        customer: Customer,
        now: datetime,
        message: OutgoingMessage,
        key: str | None,
        language: str,
    ) -> Delivery:
        try:
            message_id = await self.messenger.send(message)
        except DeliveryUnknown as exc:
            log.warning("invitation for survey %s: no answer from Telegram (%s)", survey.id, exc)
            await self.open_unconfirmed(survey.id, at=now, touchpoint_key=key, language=language)
            return "unconfirmed"
        except RecipientUnreachable:
            await customer_repo.mark_unreachable(self.db, customer.id, now)
            await outreach_repo.release_invitation(
                self.db, survey.id, retry_at=now, error="blocked by the customer (403)", give_up=True
            )
            return "unreachable"
        except RetryLater as exc:
            retry_at = now + timedelta(seconds=max(exc.seconds, 1.0))
            await outreach_repo.release_invitation(self.db, survey.id, retry_at=retry_at, error=str(exc))
            return "deferred"
        except Exception as exc:
            give_up = survey.attempts >= MAX_SEND_ATTEMPTS
            log.warning("invitation for survey %s failed (attempt %s): %s", survey.id, survey.attempts, exc)
            await outreach_repo.release_invitation(
                self.db,
                survey.id,
                # A 502 is usually over in seconds: retry soon, then back off (5 s, 10 s, ... at most 10 min).
                retry_at=now + timedelta(seconds=min(600, 5 * 2 ** max(survey.attempts - 1, 0))),
                error=str(exc)[:500],
                give_up=give_up,
            )
            return "failed"
        expires_at = now + invitation_expiry(self.settings, key)
        self._pending_acks.append(_PendingAck(survey.id, now, message_id, expires_at, language))
        if self.after_send is not None:
            self.after_send(survey)
        return "invited" if await self.settle() else "pending"

    async def open_unconfirmed(
        self, survey_id: int, *, at: datetime, touchpoint_key: str | None, language: str
    ) -> None:
        """An invitation whose send was cut off may have reached the customer: open its survey without a
        message id, never send it again, and let its reminder (same buttons) ask the customer."""
        await outreach_repo.acknowledge_invitation(
            self.db,
            survey_id,
            invited_at=at,
            message_id=None,
            expires_at=at + invitation_expiry(self.settings, touchpoint_key),
            language=language,
            note=UNCONFIRMED_NOTE,
        )

    async def invite_now(self, customer: Customer, event_id: int, *, at: datetime) -> bool:
        """A deep link that names an event: invite right now instead of waiting for the scheduled time."""
        event = await event_repo.get_event(self.db, event_id)
        if event is None or event.customer_id != customer.id:
            return False
        survey, _ = await survey_repo.create_survey(
            self.db,
            customer_id=customer.id,
            touchpoint_id=event.touchpoint_id,
            event_id=event.id,
            kind="touchpoint",
            status="scheduled",
            scheduled_at=at,
            expires_at=at + DEFAULT_EXPIRY,
        )
        if survey.status != "scheduled" or not await outreach_repo.claim_survey(self.db, survey.id, now=at):
            return False
        return await self.send(survey, customer, at, sending_marked=True) in (
            "invited",
            "pending",
            "unconfirmed",
        )

    async def confirm_by_press(
        self, survey: Survey, customer: Customer, message_id: int | None
    ) -> Survey | None:
        """A press on an invitation whose send was interrupted proves it arrived: open the survey now."""
        if survey.status != "scheduled" or survey.sending_at is None:
            return None
        key = await touchpoint_repo.touchpoint_key(self.db, survey.touchpoint_id)
        return await outreach_repo.acknowledge_invitation(
            self.db,
            survey.id,
            invited_at=survey.sending_at,
            message_id=message_id,
            expires_at=survey.sending_at + invitation_expiry(self.settings, key),
            language=survey.language or survey_language(customer, self.settings),
        )

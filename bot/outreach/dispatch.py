"""Outreach: when to invite whom, and the clock that sends due invitations and reminders.

Scheduling decides once, in one transaction (``storage.outreach.plan_survey``): occurred time + the
touchpoint's delay, moved out of the customer's local quiet hours, skipped under the frequency cap (the
heavier touchpoint wins). Sending is claim -> send -> acknowledge: a tick claims due rows, sends, then
records the invitation. A process that dies after claiming leaves a stale claim that a later tick takes
again (nothing lost). An acknowledgement that fails after a successful send is kept in memory and retried
before anything else is sent (nothing doubled); the one window left is a hard kill while Telegram is
answering the send itself, where at-least-once wins. Reminders are marked before sending: a crash can lose
a reminder, never send two.
"""

from __future__ import annotations

import asyncio
import logging
import time as monotonic_time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config import Settings, SurveySettings
from bot.conversation import prompts
from bot.messaging import DeliveryUnknown, Messenger, RecipientUnreachable, RetryLater
from storage import customers as customer_repo
from storage import outreach as outreach_repo
from storage import touchpoints as touchpoint_repo
from storage.db import Database, utcnow
from storage.models import Customer, Survey, Touchpoint, TouchpointEvent

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

SkipReason = Literal[
    "unknown_touchpoint",
    "unknown_customer",
    "not_linked",
    "no_consent",
    "opted_out",
    "unreachable",
    "erased",
    "too_late",
    "frequency_cap",
    "duplicate",
]

# A claim older than this was left by a process that died mid-dispatch.
CLAIM_LEASE = timedelta(minutes=2)
MAX_SEND_ATTEMPTS = 5
BATCH = 200
DEFAULT_REMINDER_DELAY = timedelta(hours=24)
DEFAULT_EXPIRY = timedelta(days=3)
# Kept in the survey's last_error, shown to admins: why this survey has no invitation message id.
UNCONFIRMED_NOTE = "delivery unconfirmed: the send was interrupted; the reminder carries the same buttons"


@dataclass(frozen=True, slots=True)
class SchedulingResult:
    """The scheduled survey, or the reason there is none (the ingest API returns this per event)."""

    scheduled: bool
    reason: SkipReason | None
    survey_id: int | None = None
    scheduled_at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "scheduled": self.scheduled,
            "reason": self.reason,
            "survey_id": self.survey_id,
            "scheduled_at": self.scheduled_at.isoformat() if self.scheduled_at else None,
        }


def customer_zone(customer: Customer | None, survey_settings: SurveySettings) -> ZoneInfo:
    for name in (customer.timezone if customer else None, survey_settings.default_timezone):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def _quiet(local: time, start: time, end: time) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def in_quiet_hours(moment: datetime, zone: ZoneInfo, survey_settings: SurveySettings) -> bool:
    local = moment.astimezone(zone)
    return _quiet(local.time(), survey_settings.quiet_hours_start, survey_settings.quiet_hours_end)


def out_of_quiet_hours(moment: datetime, zone: ZoneInfo, survey_settings: SurveySettings) -> datetime:
    """*moment*, or the end of the quiet hours it falls in (in the customer's own clock, DST included)."""
    if not in_quiet_hours(moment, zone, survey_settings):
        return moment
    local = moment.astimezone(zone)
    end = survey_settings.quiet_hours_end
    candidate = datetime.combine(local.date(), end, tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=zone)
    # Round-trip through UTC resolves a wall time that DST skipped.
    return candidate.astimezone(moment.tzinfo or ZoneInfo("UTC"))


def survey_language(customer: Customer, settings: Settings) -> str:
    from bot.i18n import pick_language

    return pick_language(customer.language, default=settings.survey.default_language)


async def schedule_survey(
    db: Database,
    settings: Settings,
    *,
    event: TouchpointEvent,
    now: datetime,
    customer: Customer | None = None,
    touchpoint: Touchpoint | None = None,
) -> SchedulingResult:
    """Plan the survey for one touchpoint event (idempotent: the same event again is a duplicate).

    A caller that has just loaded the event's customer and touchpoint passes them (bulk ingestion: two reads
    fewer per event); anything else is read here.
    """
    if touchpoint is None or touchpoint.id != event.touchpoint_id:
        touchpoint = await touchpoint_repo.get_touchpoint_by_id(db, event.touchpoint_id)
    config = settings.touchpoint(touchpoint.key) if touchpoint else None
    if touchpoint is None or config is None:
        return SchedulingResult(False, "unknown_touchpoint")
    if customer is None or customer.id != event.customer_id:
        customer = await customer_repo.get_customer(db, event.customer_id)
    if customer is None:
        return SchedulingResult(False, "unknown_customer")
    reason: SkipReason | None = None
    if customer.erased_at is not None:
        reason = "erased"
    elif customer.consent == "opted_out":
        reason = "opted_out"
    elif customer.telegram_chat_id is None:
        reason = "not_linked"
    elif customer.unreachable_at is not None:
        reason = "unreachable"
    elif customer.consent != "granted":
        reason = "no_consent"
    zone = customer_zone(customer, settings.survey)
    due = out_of_quiet_hours(max(event.occurred_at + config.invite_delay, now), zone, settings.survey)
    if reason is None and event.occurred_at + config.invite_delay + config.expiry <= now:
        reason = "too_late"
    if reason is not None:
        stored = await outreach_repo.record_skipped(
            db,
            customer_id=customer.id,
            touchpoint_id=touchpoint.id,
            event_id=event.id,
            scheduled_at=due,
            reason=reason,
        )
        if stored is None:
            return SchedulingResult(False, "duplicate")
        return SchedulingResult(False, reason, stored.id)
    outcome = await outreach_repo.plan_survey(
        db,
        customer_id=customer.id,
        touchpoint_id=touchpoint.id,
        event_id=event.id,
        kind="touchpoint",
        weight=config.weight,
        scheduled_at=due,
        expires_at=due + config.expiry,
        language=None,
        frequency_cap=settings.survey.frequency_cap,
    )
    if outcome.skip_reason == "duplicate":
        return SchedulingResult(False, "duplicate", outcome.survey.id)
    if outcome.skip_reason is not None:
        return SchedulingResult(False, "frequency_cap", outcome.survey.id)
    return SchedulingResult(True, None, outcome.survey.id, outcome.survey.scheduled_at)


async def schedule_followup(
    db: Database, settings: Settings, *, customer_id: int, touchpoint_id: int | None, now: datetime
) -> Survey:
    """After a resolved alert: ask again later whether the recovery worked (not subject to the cap)."""
    customer = await customer_repo.get_customer(db, customer_id)
    zone = customer_zone(customer, settings.survey)
    due = out_of_quiet_hours(now + settings.survey.recovery_followup_after, zone, settings.survey)
    outcome = await outreach_repo.plan_survey(
        db,
        customer_id=customer_id,
        touchpoint_id=touchpoint_id,
        event_id=None,
        kind="recovery_followup",
        weight=float("inf"),
        scheduled_at=due,
        expires_at=due + DEFAULT_EXPIRY,
        language=None,
        frequency_cap=settings.survey.frequency_cap,
    )
    return outcome.survey


def invitation_expiry(settings: Settings, touchpoint_key: str | None) -> timedelta:
    """How long a survey stays open after its invitation: its touchpoint's expiry, else the default."""
    config = settings.touchpoint(touchpoint_key) if touchpoint_key else None
    return config.expiry if config else DEFAULT_EXPIRY


async def open_unconfirmed(
    db: Database,
    settings: Settings,
    survey_id: int,
    *,
    at: datetime,
    touchpoint_key: str | None,
    language: str,
) -> None:
    """An invitation whose send was cut off may have reached the customer: open its survey without a
    message id, never send it again, and let its reminder (same buttons) ask the customer."""
    await outreach_repo.acknowledge_invitation(
        db,
        survey_id,
        invited_at=at,
        message_id=None,
        expires_at=at + invitation_expiry(settings, touchpoint_key),
        language=language,
        note=UNCONFIRMED_NOTE,
    )


class ChatPacer:
    """At most one message per *interval* to the same chat (Telegram's ~1/s per private chat); other
    chats are not held up. The limiter's global 30/s is AIORateLimiter's job."""

    def __init__(
        self,
        interval: float,
        *,
        monotonic: Callable[[], float] = monotonic_time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = interval
        self._monotonic = monotonic
        self._sleep = sleep
        self._next: dict[int, float] = {}
        self._lock = asyncio.Lock()

    async def wait(self, chat_id: int) -> None:
        if self._interval <= 0:
            return
        async with self._lock:
            now = self._monotonic()
            slot = max(now, self._next.get(chat_id, float("-inf")))
            self._next[chat_id] = slot + self._interval
            if len(self._next) > 10_000:
                self._next = {chat: t for chat, t in self._next.items() if t > now}
        if slot > now:
            await self._sleep(slot - now)


@dataclass
class TickReport:
    invited: int = 0
    reminded: int = 0
    expired: int = 0
    deferred: int = 0
    failed: int = 0
    unreachable: int = 0
    unconfirmed: int = 0


@dataclass
class _PendingAck:
    survey_id: int
    invited_at: datetime
    message_id: int
    expires_at: datetime
    language: str


@dataclass
class Outreach:
    """The dispatcher one running bot (or the demo) drives from its clock."""

    db: Database
    settings: Settings
    messenger: Messenger
    clock: Clock = utcnow
    # Test hook: called after a successful send and before its acknowledgement.
    after_send: Callable[[Survey], None] | None = None
    _pending_acks: list[_PendingAck] = field(default_factory=list)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def tick(self) -> TickReport:
        """One pass: settle acknowledgements, expire, invite, remind. Ticks never overlap."""
        async with self._lock:
            report = TickReport()
            if not await self._settle_acks():
                return report
            now = self.clock()
            await self._open_unconfirmed(now, report)
            report.expired = len(await outreach_repo.expire_overdue(self.db, now=now))
            await self._invite_due(now, report)
            await self._remind_due(now, report)
            return report

    async def _settle_acks(self) -> bool:
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

    async def _open_unconfirmed(self, now: datetime, report: TickReport) -> None:
        """Invitations a dead process was sending: Telegram may have them, so they are never sent again.

        Each survey opens as if invited at the moment its send began, without a message id; its reminder
        (with the same buttons) follows at the usual time, so a customer whose invitation never arrived is
        still asked, and one whose invitation did arrive gets nothing they would not have got anyway.
        """
        stale = await outreach_repo.unconfirmed_invitations(
            self.db, started_before=now - CLAIM_LEASE, limit=BATCH
        )
        for survey in stale:
            assert survey.sending_at is not None
            customer = await customer_repo.get_customer(self.db, survey.customer_id)
            fallback = self.settings.survey.default_language
            language = survey.language or (survey_language(customer, self.settings) if customer else fallback)
            key = await self._touchpoint_key(survey.touchpoint_id)
            await open_unconfirmed(
                self.db, self.settings, survey.id, at=survey.sending_at, touchpoint_key=key, language=language
            )
            log.warning("survey %s: invitation delivery unconfirmed; its reminder follows", survey.id)
            report.unconfirmed += 1

    async def _invite_due(self, now: datetime, report: TickReport) -> None:
        claimed = await outreach_repo.claim_due_invitations(self.db, now=now, lease=CLAIM_LEASE, limit=BATCH)
        for survey in claimed:
            await self._invite(survey, now, report)

    async def _invite(self, survey: Survey, now: datetime, report: TickReport) -> None:
        customer = await customer_repo.get_customer(self.db, survey.customer_id)
        if customer is None or not customer.reachable:
            reason = "unreachable" if customer and customer.unreachable_at else "opted_out"
            await outreach_repo.skip_scheduled(self.db, survey.id, reason)
            return
        zone = customer_zone(customer, self.settings.survey)
        if in_quiet_hours(now, zone, self.settings.survey):
            retry_at = out_of_quiet_hours(now, zone, self.settings.survey)
            await outreach_repo.release_invitation(self.db, survey.id, retry_at=retry_at, error=None)
            report.deferred += 1
            return
        if survey.kind == "touchpoint" and await outreach_repo.recently_asked(
            self.db, customer.id, since=now - self.settings.survey.frequency_cap, excluding=survey.id
        ):
            await outreach_repo.skip_scheduled(self.db, survey.id, "frequency_cap")
            return
        language = survey.language or survey_language(customer, self.settings)
        key = await self._touchpoint_key(survey.touchpoint_id)
        message = prompts.invitation(self.settings, survey, customer, key, language)
        assert customer.telegram_chat_id is not None
        if not await outreach_repo.mark_sending(self.db, survey.id, now=now):
            return
        try:
            message_id = await self.messenger.send(message)
        except DeliveryUnknown as exc:
            log.warning("invitation for survey %s: no answer from Telegram (%s)", survey.id, exc)
            await open_unconfirmed(
                self.db, self.settings, survey.id, at=now, touchpoint_key=key, language=language
            )
            report.unconfirmed += 1
            return
        except RecipientUnreachable:
            await customer_repo.mark_unreachable(self.db, customer.id, now)
            await outreach_repo.release_invitation(
                self.db, survey.id, retry_at=now, error="blocked by the customer (403)", give_up=True
            )
            report.unreachable += 1
            return
        except RetryLater as exc:
            retry_at = now + timedelta(seconds=max(exc.seconds, 1.0))
            await outreach_repo.release_invitation(self.db, survey.id, retry_at=retry_at, error=str(exc))
            report.deferred += 1
            return
        except Exception as exc:
            give_up = survey.attempts >= MAX_SEND_ATTEMPTS
            log.warning("invitation for survey %s failed (attempt %s): %s", survey.id, survey.attempts, exc)
            await outreach_repo.release_invitation(
                self.db,
                survey.id,
                retry_at=now + timedelta(minutes=2**survey.attempts),
                error=str(exc)[:500],
                give_up=give_up,
            )
            report.failed += 1
            return
        ack = _PendingAck(survey.id, now, message_id, now + invitation_expiry(self.settings, key), language)
        self._pending_acks.append(ack)
        if self.after_send is not None:
            self.after_send(survey)
        if await self._settle_acks():
            report.invited += 1

    async def _remind_due(self, now: datetime, report: TickReport) -> None:
        delays: list[tuple[int | None, timedelta]] = [(None, DEFAULT_REMINDER_DELAY)]
        for config in self.settings.touchpoints:
            stored = await touchpoint_repo.get_touchpoint(self.db, config.key)
            if stored is not None:
                delays.append((stored.id, config.reminder_delay))
        for touchpoint_id, delay in delays:
            due = await outreach_repo.due_reminders(
                self.db, touchpoint_id=touchpoint_id, invited_before=now - delay, limit=BATCH
            )
            for survey in due:
                customer = await customer_repo.get_customer(self.db, survey.customer_id)
                if customer is None or not customer.reachable:
                    continue
                zone = customer_zone(customer, self.settings.survey)
                if in_quiet_hours(now, zone, self.settings.survey):
                    continue
                if not await outreach_repo.claim_reminder(self.db, survey.id, now=now):
                    continue
                key = await self._touchpoint_key(survey.touchpoint_id)
                language = survey.language or survey_language(customer, self.settings)
                try:
                    for message in prompts.reminder(self.settings, survey, customer, key, language):
                        await self.messenger.send(message)
                except RecipientUnreachable:
                    await customer_repo.mark_unreachable(self.db, customer.id, now)
                    report.unreachable += 1
                    continue
                except Exception as exc:
                    log.warning("reminder for survey %s not sent: %s", survey.id, exc)
                    continue
                report.reminded += 1

    async def _touchpoint_key(self, touchpoint_id: int | None) -> str | None:
        if touchpoint_id is None:
            return None
        stored = await touchpoint_repo.get_touchpoint_by_id(self.db, touchpoint_id)
        return stored.key if stored else None

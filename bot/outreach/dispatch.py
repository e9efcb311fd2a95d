"""The outreach clock: each tick settles acknowledgements, opens unconfirmed invitations, expires, invites
and reminds.

Invitations go through the one send protocol in ``bot.outreach.invitations``. Reminders are marked before
sending: a crash can lose a reminder, never send two.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot import script
from bot.config import Settings
from bot.messaging import Messenger, RecipientUnreachable
from bot.outreach.invitations import Delivery, Invitations
from bot.outreach.scheduling import customer_zone, in_quiet_hours, out_of_quiet_hours, survey_language
from bot.outreach.wire import WireJournal
from storage import customers as customer_repo
from storage import outreach as outreach_repo
from storage import touchpoints as touchpoint_repo
from storage.db import Database, utcnow
from storage.models import Survey

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# A claim older than this was left by a process that died mid-dispatch.
CLAIM_LEASE = timedelta(minutes=2)
BATCH = 200
DEFAULT_REMINDER_DELAY = timedelta(hours=24)


@dataclass
class TickReport:
    invited: int = 0
    reminded: int = 0
    expired: int = 0
    deferred: int = 0
    failed: int = 0
    unreachable: int = 0
    unconfirmed: int = 0

    def record(self, delivery: Delivery) -> None:
        if delivery in ("invited", "unconfirmed", "unreachable", "deferred", "failed"):
            setattr(self, delivery, getattr(self, delivery) + 1)


@dataclass
class Outreach:
    """The dispatcher one running bot (or the demo) drives from its clock."""

    db: Database
    settings: Settings
    messenger: Messenger
    clock: Clock = utcnow
    # The send protocol; pass the one the deep links use so both settle the same acknowledgements.
    invitations: Invitations | None = None
    protocol: Invitations = field(init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Until the first tick of this process, every claim in the database was left by a process that died:
    # the first tick takes them at once instead of waiting out CLAIM_LEASE (one process owns the outbox).
    _first_tick: bool = True
    # Invitations whose request really left (bot.outreach.wire); None where nobody records that (tests).
    wire: WireJournal | None = None

    def __post_init__(self) -> None:
        self.protocol = self.invitations or Invitations(self.db, self.settings, self.messenger)

    async def tick(self) -> TickReport:
        """One pass: settle acknowledgements, expire, invite, remind. Ticks never overlap."""
        async with self._lock:
            report = TickReport()
            if not await self.protocol.settle():
                return report
            now = self.clock()
            lease = timedelta(0) if self._first_tick else CLAIM_LEASE
            self._first_tick = False
            await self._open_unconfirmed(now, report, lease)
            report.expired = len(await outreach_repo.expire_overdue(self.db, now=now))
            await self._invite_due(now, report, lease)
            await self._remind_due(now, report)
            return report

    async def _open_unconfirmed(self, now: datetime, report: TickReport, lease: timedelta) -> None:
        """Invitations a dead process was sending: Telegram may have them, so they are never sent again.

        Each survey opens as if invited at the moment its send began, without a message id; its reminder
        (with the same buttons) follows at the usual time, so a customer whose invitation never arrived is
        still asked, and one whose invitation did arrive gets nothing they would not have got anyway.
        """
        stale = await outreach_repo.unconfirmed_invitations(self.db, started_before=now - lease, limit=BATCH)
        left = self.wire.sent() if self.wire is not None and lease == timedelta(0) else None
        for survey in stale:
            if survey.id in self.protocol.in_flight:
                continue  # a deep link of this process is sending it right now
            if left is not None and survey.id not in left:
                # Killed while it waited for a slot of Telegram's rate limit: it never left, send it now.
                await outreach_repo.release_invitation(self.db, survey.id, retry_at=now, error=None)
                log.warning("survey %s: invitation never left before the crash; sending it now", survey.id)
                continue
            assert survey.sending_at is not None
            customer = await customer_repo.get_customer(self.db, survey.customer_id)
            fallback = self.settings.survey.default_language
            language = survey.language or (survey_language(customer, self.settings) if customer else fallback)
            key = await touchpoint_repo.touchpoint_key(self.db, survey.touchpoint_id)
            await self.protocol.open_unconfirmed(
                survey.id, at=survey.sending_at, touchpoint_key=key, language=language
            )
            log.warning("survey %s: invitation delivery unconfirmed; its reminder follows", survey.id)
            report.unconfirmed += 1
        if left is not None and self.wire is not None and len(stale) < BATCH:
            self.wire.forget()

    async def _invite_due(self, now: datetime, report: TickReport, lease: timedelta) -> None:
        claimed = await outreach_repo.claim_due_invitations(self.db, now=now, lease=lease, limit=BATCH)
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
        report.record(await self.protocol.send(survey, customer, now))

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
                key = await touchpoint_repo.touchpoint_key(self.db, survey.touchpoint_id)
                language = survey.language or survey_language(customer, self.settings)
                try:
                    for message in script.reminder(self.settings, survey, customer, key, language):
                        await self.messenger.send(message)
                except RecipientUnreachable:
                    await customer_repo.mark_unreachable(self.db, customer.id, now)
                    report.unreachable += 1
                    continue
                except Exception as exc:
                    log.warning("reminder for survey %s not sent: %s", survey.id, exc)
                    continue
                report.reminded += 1

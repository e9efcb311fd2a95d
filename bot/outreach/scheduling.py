"""When to invite whom: one decision per touchpoint event, made once, in one transaction.

``storage.outreach.plan_survey`` takes occurred time + the touchpoint's delay, moved out of the customer's
local quiet hours, and skips it under the frequency cap (the heavier touchpoint wins).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config import Settings, SurveySettings
from bot.i18n import pick_language
from storage import customers as customer_repo
from storage import outreach as outreach_repo
from storage import touchpoints as touchpoint_repo
from storage.db import Database
from storage.models import Customer, Survey, Touchpoint, TouchpointEvent

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


DEFAULT_EXPIRY = timedelta(days=3)


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
            # Linking in time still sends this invitation (storage.outreach.schedule_after_linking).
            expires_at=due + config.expiry,
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

"""Ingestion: customers and touchpoint events from the company's systems, whether by HTTP or CSV file.

One service for both doors, so an event imported from a file and one posted by the order system are recorded,
deduplicated and followed up exactly alike. Each event is recorded before a survey is planned for it: a crash
in between loses nothing, and sending the same event again completes the job (both steps are idempotent).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.api_models import CustomerIn, EventIn, EventReason, EventResult, FieldError, SurveyOut
from bot.config import Settings
from bot.links import LinkError, deep_link, make_start_payload, verify_start_payload
from bot.qr import qr_png
from storage import customers as customer_repo
from storage import events as event_repo
from storage import surveys as survey_repo
from storage import touchpoints as touchpoint_repo
from storage.db import Database
from storage.models import Customer, Touchpoint, TouchpointSpec

log = logging.getLogger(__name__)

REASON_MESSAGES: dict[EventReason, str] = {
    "invalid": "the event has invalid fields",
    "unknown_touchpoint": "no touchpoint with this key is configured",
    "inactive_touchpoint": "this touchpoint was removed from the configuration",
    "unknown_customer": "the customer does not exist",
    "customer_not_linked": "the customer has not opened the bot through their link yet; the event is kept",
    "no_consent": "the customer has not agreed to surveys yet; the event is kept",
    "opted_out": "the customer opted out of surveys",
    "unreachable": "the customer blocked the bot",
    "erased": "the customer's data was erased at their request",
    "too_late": "the survey for this event would already have expired",
    "frequency_cap": "the customer is asked about another touchpoint in the same period (frequency cap)",
    "duplicate": "this event was received before; nothing changed",
    "other": "no survey was scheduled",
}

# Outreach's reasons under the API's names (the API promises "customer_not_linked").
_SCHEDULING_REASONS: dict[str, EventReason] = {
    "unknown_touchpoint": "unknown_touchpoint",
    "unknown_customer": "unknown_customer",
    "not_linked": "customer_not_linked",
    "no_consent": "no_consent",
    "opted_out": "opted_out",
    "unreachable": "unreachable",
    "erased": "erased",
    "too_late": "too_late",
    "frequency_cap": "frequency_cap",
    "duplicate": "duplicate",
}


async def upsert_customer(db: Database, data: CustomerIn) -> tuple[Customer, bool]:
    """Create or update a customer by external id; returns it and whether this call created it."""
    existing = await customer_repo.get_by_external_id(db, data.external_id)
    customer = await customer_repo.upsert_customer(
        db,
        data.external_id,
        display_name=data.name,
        language=data.language,
        timezone=data.timezone,
        tier=data.tier,
    )
    return customer, existing is None


async def sync_configured_touchpoints(db: Database, settings: Settings) -> None:
    """The touchpoints table as the config says (the bot does this at start; imports may run before it)."""
    await touchpoint_repo.sync_touchpoints(
        db,
        [
            TouchpointSpec(
                key=tp.key,
                names=dict(tp.names),
                kind=tp.kind,
                stage=tp.stage,
                weight=tp.weight,
                channel=tp.channel,
            )
            for tp in settings.touchpoints
        ],
    )


class _Touchpoints:
    """Touchpoint rows looked up once per batch: a 1,000-event batch names a handful of touchpoints."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._found: dict[str, Touchpoint | None] = {}

    async def get(self, key: str) -> Touchpoint | None:
        if key not in self._found:
            self._found[key] = await touchpoint_repo.get_touchpoint(self._db, key)
        return self._found[key]


def _rejected(
    index: int,
    external_id: str | None,
    reason: EventReason,
    message: str | None = None,
    errors: list[FieldError] | None = None,
) -> EventResult:
    return EventResult(
        index=index,
        external_id=external_id,
        outcome="rejected",
        reason=reason,
        message=message or REASON_MESSAGES[reason],
        errors=errors or [],
    )


async def ingest_event(
    db: Database,
    settings: Settings,
    event: EventIn,
    *,
    now: datetime,
    index: int = 0,
    touchpoints: _Touchpoints | None = None,
) -> EventResult:
    """Record one event and plan its survey; the result says which survey, or why there is none."""
    from bot.outreach import schedule_survey

    lookup = touchpoints or _Touchpoints(db)
    touchpoint = await lookup.get(event.touchpoint)
    if touchpoint is None or settings.touchpoint(event.touchpoint) is None:
        known = ", ".join(tp.key for tp in settings.touchpoints) or "none configured"
        return _rejected(
            index,
            event.external_id,
            "unknown_touchpoint",
            f"no touchpoint {event.touchpoint!r} is configured (known: {known})",
        )
    if not touchpoint.active:
        return _rejected(index, event.external_id, "inactive_touchpoint")
    customer = await customer_repo.get_by_external_id(db, event.customer_external_id)
    customer_created = False
    if customer is None:
        # The order system may tell us about the event before the customer record: keep both.
        customer = await customer_repo.upsert_customer(db, event.customer_external_id)
        customer_created = True
    stored, created = await event_repo.record_event(
        db,
        external_id=event.external_id,
        customer_id=customer.id,
        touchpoint_id=touchpoint.id,
        occurred_at=event.occurred_at,
        attributes=event.attributes,
    )
    if not created and (stored.customer_id != customer.id or stored.touchpoint_id != touchpoint.id):
        return EventResult(
            index=index,
            external_id=event.external_id,
            outcome="rejected",
            reason="duplicate",
            message="this event id was already used for another customer or touchpoint; nothing changed",
            event_id=stored.id,
        )
    scheduling = await schedule_survey(db, settings, event=stored, now=now)
    survey_out: SurveyOut | None = None
    if scheduling.scheduled and scheduling.survey_id is not None:
        survey_out = SurveyOut(
            id=scheduling.survey_id, status="scheduled", scheduled_at=scheduling.scheduled_at
        )
        if created:
            return EventResult(
                index=index,
                external_id=event.external_id,
                outcome="scheduled",
                message=f"survey scheduled for {survey_out.scheduled_at}",
                event_id=stored.id,
                customer_created=customer_created,
                survey=survey_out,
            )
    elif scheduling.survey_id is not None:
        # A duplicate or skipped event still names its survey, with the status it has now.
        found = await survey_repo.get_survey(db, scheduling.survey_id)
        if found is not None:
            survey_out = SurveyOut(id=found.id, status=found.status, scheduled_at=found.scheduled_at)
    reason: EventReason = "duplicate" if not created else _reason(scheduling.reason)
    return EventResult(
        index=index,
        external_id=event.external_id,
        outcome="not_scheduled",
        reason=reason,
        message=REASON_MESSAGES[reason],
        event_id=stored.id,
        customer_created=customer_created,
        survey=survey_out,
    )


def _reason(value: str | None) -> EventReason:
    if value is not None and value in _SCHEDULING_REASONS:
        return _SCHEDULING_REASONS[value]
    log.warning("scheduling gave no survey and an unlisted reason %r", value)
    return "other"


async def ingest_events(
    db: Database,
    settings: Settings,
    items: Sequence[EventIn | list[FieldError]],
    *,
    now: datetime,
) -> list[EventResult]:
    """Each item on its own: a bad event in a batch is answered, and never stops the good ones."""
    touchpoints = _Touchpoints(db)
    results = []
    for index, item in enumerate(items):
        if isinstance(item, EventIn):
            results.append(
                await ingest_event(db, settings, item, now=now, index=index, touchpoints=touchpoints)
            )
        else:
            results.append(_rejected(index, None, "invalid", errors=item))
    return results


# --- deep links -----------------------------------------------------------------------------------------


class LinkUnavailableError(Exception):
    """A link cannot be made with this configuration; the message says what to set."""


@dataclass(frozen=True, slots=True)
class CustomerLink:
    url: str
    payload: str
    expires_at: datetime
    qr_png: bytes


def customer_link(
    settings: Settings,
    customer: Customer,
    *,
    bot_username: str | None,
    now: datetime,
    event_id: int | None = None,
) -> CustomerLink:
    """The signed t.me link that attaches a Telegram chat to *customer*, with its QR code."""
    if not bot_username:
        raise LinkUnavailableError(
            "the bot's username is not known yet (the bot has not connected to Telegram)"
        )
    try:
        payload = make_start_payload(
            settings.links.signing_key, customer.id, event_id=event_id, ttl=settings.links.ttl, now=now
        )
        target = verify_start_payload(settings.links.signing_key, payload, now=now)
    except LinkError as exc:
        raise LinkUnavailableError(str(exc)) from exc
    url = deep_link(bot_username, payload)
    return CustomerLink(url=url, payload=payload, expires_at=target.expires_at, qr_png=qr_png(url))

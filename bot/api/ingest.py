"""Ingestion: customers and touchpoint events from the company's systems, whether by HTTP or CSV file.

One service for both doors, so an event imported from a file and one posted by the order system are recorded,
deduplicated and followed up exactly alike. Each event is recorded before a survey is planned for it: a crash
in between loses nothing, and sending the same event again completes the job (both steps are idempotent).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.accounts.links import LinkError, deep_link, make_start_payload, verify_start_payload
from bot.accounts.qr import qr_png
from bot.api.models import CustomerIn, EventIn, EventReason, EventResult, FieldError, SurveyOut
from bot.config import Settings
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
    "customer_not_linked": (
        "the customer has not opened the bot through their link yet; the event is kept and its invitation "
        "goes out when they link, if that is before the survey would expire"
    ),
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
    return await customer_repo.upsert_customer_created(
        db,
        data.external_id,
        display_name=data.name,
        language=data.language,
        timezone=data.timezone,
        tier=data.tier,
    )


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


@dataclass(slots=True)
class _Pending:
    """A valid event with a known touchpoint, on its way through the batch."""

    position: int
    index: int
    event: EventIn
    touchpoint: Touchpoint
    now: datetime


async def _ingest_all(
    db: Database, settings: Settings, work: Sequence[tuple[int, EventIn | list[FieldError], datetime]]
) -> list[EventResult]:
    """Results for (index, item, now) triples, written with two commits whatever their number.

    Customers first (committed, so scheduling's reads see them), then every event and its survey in one
    batch: frequency-cap decisions inside the batch see each other, as they would one by one.
    """
    touchpoints = _Touchpoints(db)
    results: list[EventResult | None] = [None] * len(work)
    pending: list[_Pending] = []
    for position, (index, item, now) in enumerate(work):
        if not isinstance(item, EventIn):
            results[position] = _rejected(index, None, "invalid", errors=item)
            continue
        touchpoint = await touchpoints.get(item.touchpoint)
        if touchpoint is None or settings.touchpoint(item.touchpoint) is None:
            known = ", ".join(tp.key for tp in settings.touchpoints) or "none configured"
            message = f"no touchpoint {item.touchpoint!r} is configured (known: {known})"
            results[position] = _rejected(index, item.external_id, "unknown_touchpoint", message)
        elif not touchpoint.active:
            results[position] = _rejected(index, item.external_id, "inactive_touchpoint")
        else:
            pending.append(_Pending(position, index, item, touchpoint, now))

    named = [p.event.customer_external_id for p in pending]
    customers = await customer_repo.get_by_external_ids(db, named)
    new_customers = {external_id for external_id in named if external_id not in customers}
    if new_customers:
        # The order system may tell us about the event before the customer record: keep both.
        async with db.batch():
            for external_id in sorted(new_customers):
                customers[external_id] = await customer_repo.upsert_customer(db, external_id)

    named_surveys: list[tuple[int, int]] = []
    async with db.batch():
        for job in pending:
            customer = customers[job.event.customer_external_id]
            first_sight = job.event.customer_external_id in new_customers
            new_customers.discard(job.event.customer_external_id)
            try:
                result, survey_id = await _record_and_schedule(db, settings, job, customer, first_sight)
            except Exception:
                if not db.transaction_alive():
                    # SQLite rolled the whole batch back (disk full, I/O error): the events already counted
                    # as stored are not, so every caller of this batch must hear of it.
                    raise
                # One event's surprise must not sink the others sharing the commit: each change it made is
                # whole (a statement or a savepoint), and sending the event again completes what is missing.
                log.exception("could not ingest event %r", job.event.external_id)
                result, survey_id = (
                    _rejected(job.index, job.event.external_id, "other", "a server error; send it again"),
                    None,
                )
            results[job.position] = result
            if survey_id is not None:
                named_surveys.append((job.position, survey_id))
    # Surveys not scheduled by this call are named with their current status, readable once committed.
    surveys_now = await survey_repo.get_surveys(db, [survey_id for _, survey_id in named_surveys])
    for position, survey_id in named_surveys:
        survey_now = surveys_now.get(survey_id)
        current = results[position]
        if survey_now is not None and current is not None:
            survey = SurveyOut(
                id=survey_now.id, status=survey_now.status, scheduled_at=survey_now.scheduled_at
            )
            results[position] = current.model_copy(update={"survey": survey})
    assert all(result is not None for result in results)
    return [result for result in results if result is not None]


async def _record_and_schedule(
    db: Database, settings: Settings, item: _Pending, customer: Customer, customer_created: bool
) -> tuple[EventResult, int | None]:
    """The event's result, and the id of a survey whose status must still be looked up."""
    from bot.outreach.scheduling import schedule_survey

    event = item.event
    stored, created = await event_repo.record_event(
        db,
        external_id=event.external_id,
        customer_id=customer.id,
        touchpoint_id=item.touchpoint.id,
        occurred_at=event.occurred_at,
        attributes=event.attributes,
    )
    if not created and (stored.customer_id != customer.id or stored.touchpoint_id != item.touchpoint.id):
        message = "this event id was already used for another customer or touchpoint; nothing changed"
        return _rejected(item.index, event.external_id, "duplicate", message), None
    scheduling = await schedule_survey(
        db, settings, event=stored, now=item.now, customer=customer, touchpoint=item.touchpoint
    )
    if created and scheduling.scheduled and scheduling.survey_id is not None:
        survey = SurveyOut(id=scheduling.survey_id, status="scheduled", scheduled_at=scheduling.scheduled_at)
        result = EventResult(
            index=item.index,
            external_id=event.external_id,
            outcome="scheduled",
            message=f"survey scheduled for {survey.scheduled_at}",
            event_id=stored.id,
            customer_created=customer_created,
            survey=survey,
        )
        return result, None
    # Sending an event again completes a job a crash interrupted, and still answers "duplicate".
    reason: EventReason = "duplicate" if not created else _reason(scheduling.reason)
    result = EventResult(
        index=item.index,
        external_id=event.external_id,
        outcome="not_scheduled",
        reason=reason,
        message=REASON_MESSAGES[reason],
        event_id=stored.id,
        customer_created=customer_created,
    )
    return result, scheduling.survey_id


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
    return await _ingest_all(db, settings, [(index, item, now) for index, item in enumerate(items)])


class EventIngestor:
    """Group commit for concurrent callers: whatever arrives while a batch is being written is written
    together next, so a commit's fsync is paid per batch rather than per request.

    Nothing runs between batches (the drain task ends when the queue is empty), so there is nothing to stop.
    """

    def __init__(self, db: Database, settings: Settings, *, max_batch: int = 500) -> None:
        self._db = db
        self._settings = settings
        self._max_batch = max_batch
        self._queue: list[
            tuple[Sequence[EventIn | list[FieldError]], datetime, asyncio.Future[list[EventResult]]]
        ]
        self._queue = []
        self._drain_task: asyncio.Task[None] | None = None

    async def ingest(
        self, items: Sequence[EventIn | list[FieldError]], *, now: datetime
    ) -> list[EventResult]:
        future: asyncio.Future[list[EventResult]] = asyncio.get_running_loop().create_future()
        self._queue.append((items, now, future))
        if self._drain_task is None or self._drain_task.done():
            self._drain_task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            jobs = [self._queue.pop(0)]
            size = len(jobs[0][0])
            while self._queue and size + len(self._queue[0][0]) <= self._max_batch:
                jobs.append(self._queue.pop(0))
                size += len(jobs[-1][0])
            work = [(index, item, now) for items, now, _ in jobs for index, item in enumerate(items)]
            try:
                results = await _ingest_all(self._db, self._settings, work)
            except Exception as exc:
                for _, _, future in jobs:
                    if not future.done():
                        future.set_exception(exc)
                continue
            start = 0
            for items, _, future in jobs:
                if not future.done():  # the caller may have gone (client disconnected)
                    future.set_result(results[start : start + len(items)])
                start += len(items)


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
    generation: int = 0,
) -> CustomerLink:
    """The signed t.me link that attaches a Telegram chat to *customer*, with its QR code; *generation* is
    the customer's current link generation (storage.customers.link_generation)."""
    if not bot_username:
        raise LinkUnavailableError(
            "the bot's username is not known yet (the bot has not connected to Telegram)"
        )
    try:
        payload = make_start_payload(
            settings.links.signing_key,
            customer.id,
            event_id=event_id,
            ttl=settings.links.ttl,
            now=now,
            generation=generation,
        )
        target = verify_start_payload(settings.links.signing_key, payload, now=now)
    except LinkError as exc:
        raise LinkUnavailableError(str(exc)) from exc
    url = deep_link(bot_username, payload)
    return CustomerLink(url=url, payload=payload, expires_at=target.expires_at, qr_png=qr_png(url))

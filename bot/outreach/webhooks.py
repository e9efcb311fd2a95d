"""Outgoing webhooks: Momento's events, signed, for the company's CRM or help desk (docs/webhooks.md).

Recording: :func:`enqueue_event` writes one outbox row per subscribed webhook inside the transaction of the
change it reports (the caller's ``db.transaction()``), so an event is never lost nor reported for a change
that was rolled back. Sending: the clock calls :meth:`WebhookSender.deliver_due`, which starts one task per
(webhook, customer) queue and returns at once: a receiver that hangs holds only its own queue, not the clock.
Each queue sends its rows in order, one at a time, until one fails; that one is retried with exponential
back-off (capped), so a customer's events arrive in order, at least once. Receivers deduplicate by event id.

Several bot processes on one database: a queue is sent only under its lease (``storage.leases``, renewed
before every attempt), and its confirmations are written before the lease is given back, so the next holder
starts after the last delivery. A process that dies frees its queues when their leases run out (the rows it
sent and had not confirmed are sent again then: at least once, as after a restart).

Signature (like Stripe's): ``Momento-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` with
the webhook's secret; a fresh timestamp on every attempt, the same body and event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from bot import metrics
from bot.config import OutgoingWebhookSettings, Settings
from storage import customers as customer_repo
from storage import leases as lease_repo
from storage import touchpoints as touchpoint_repo
from storage import webhooks as webhook_repo
from storage.db import Database, to_db_time, utcnow
from storage.models import Alert
from storage.webhooks import WebhookDelivery

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Momento-Signature"
EVENT_ID_HEADER = "Momento-Event-Id"
EVENT_TYPE_HEADER = "Momento-Event-Type"
USER_AGENT = "Momento-Webhooks/1"
# Heads read per pass; each queue then carries on by itself.
BATCH = 200
# Seconds a delivery's confirmation waits to share its commit with others.
CONFIRM_AFTER = 0.05
# A queue's lease outlives one attempt (bounded by webhook_delivery.timeout) by this much: a dead process's
# queues wait this long past their last attempt; a live one renews before each attempt.
LEASE_MARGIN = timedelta(seconds=30)

Clock = Callable[[], datetime]


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The Momento-Signature header value for *body* sent at *timestamp*."""
    mac = hmac.new(secret.encode("utf-8"), str(timestamp).encode("ascii") + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def wants(settings: Settings, *event_types: str) -> bool:
    """Whether any enabled webhook listens to one of *event_types* (no listener: nothing is recorded)."""
    return any(settings.webhooks_for(event_type) for event_type in event_types)


async def enqueue_event(
    db: Database,
    settings: Settings,
    event_type: str,
    data: Mapping[str, Any],
    *,
    at: datetime,
    customer_id: int | None = None,
) -> str | None:
    """Record *event_type* for every webhook subscribed to it; call inside the change's transaction.

    The one entry point for every room at or above outreach (issue 17's themes: ``theme.alert`` with the
    theme's figures as *data* and no customer). Returns the event id, None when nobody subscribes."""
    return await webhook_repo.enqueue(
        db,
        webhooks=settings.webhooks_for(event_type),
        event_type=event_type,
        data=data,
        at=at,
        customer_id=customer_id,
    )


async def enqueue_theme_alert(
    db: Database, settings: Settings, theme: Mapping[str, Any], *, at: datetime
) -> str | None:
    """``theme.alert``: a theme crossed its threshold (issue 17 calls this inside its own transaction)."""
    return await enqueue_event(db, settings, "theme.alert", {"theme": dict(theme)}, at=at)


async def customer_ref(db: Database, customer_id: int) -> dict[str, Any]:
    """How a receiver recognises the customer: the company's own external id (and Momento's id)."""
    customer = await customer_repo.get_customer(db, customer_id)
    return {"id": customer_id, "external_id": customer.external_id if customer else None}


def _time(moment: datetime | None) -> str | None:
    return to_db_time(moment) if moment is not None else None


@dataclass(frozen=True, slots=True)
class AlertSubject:
    """Who and where an alert is about, read before the write lock is taken: a transaction that reports an
    alert never waits on reads (the ids it needs never change while the alert lives)."""

    touchpoint: str | None
    customer: dict[str, Any]


async def alert_subject(db: Database, *, customer_id: int, touchpoint_id: int | None) -> AlertSubject:
    """The parts of an ``alert.*`` payload that come from other tables."""
    return AlertSubject(
        touchpoint=await touchpoint_repo.touchpoint_key(db, touchpoint_id),
        customer=await customer_ref(db, customer_id),
    )


def alert_data(alert: Alert, subject: AlertSubject, *, source: str) -> dict[str, Any]:
    """The ``alert.*`` and ``callback.requested`` payload; *source* says who acted (telegram, api, bot)."""
    return {
        "alert": {
            "id": alert.id,
            "status": alert.status,
            "severity": alert.severity,
            "reason": alert.reason,
            "callback_requested": alert.callback_requested,
            "contact_phone": alert.contact_phone,
            "survey_id": alert.survey_id,
            "touchpoint": subject.touchpoint,
            "assignee_user_id": alert.assignee_user_id,
            "notes": alert.notes,
            "created_at": _time(alert.created_at),
            "acknowledged_at": _time(alert.acknowledged_at),
            "resolved_at": _time(alert.resolved_at),
        },
        "customer": subject.customer,
        "source": source,
    }


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one send got: the receiver's status (None: no answer) and, on failure, why."""

    status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class WebhookSender:
    """Sends the outbox from the clock; one per running bot."""

    db: Database
    settings: Settings
    clock: Clock = utcnow
    # For tests and `momento webhooks test` a transport may be given; by default httpx's own.
    transport: httpx.AsyncBaseTransport | None = None
    _client: httpx.AsyncClient | None = None
    _queues: dict[tuple[str, int], asyncio.Task[None]] = field(default_factory=dict)
    _closed: bool = False
    # Deliveries the receiver took, confirmed in the database together a moment later (one commit, one
    # fsync, for many: the writer lock is the customers' too). A kill before that resends them: at least once.
    _delivered: list[tuple[int, int]] = field(default_factory=list)
    _confirming: set[int] = field(default_factory=set)
    _flusher: asyncio.Task[None] | None = None
    # This process's name on the queues' leases.
    holder: str = field(default_factory=lease_repo.new_holder)
    _flush_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def _by_name(self) -> dict[str, OutgoingWebhookSettings]:
        return {w.name: w for w in self.settings.webhooks}

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self.transport,
                follow_redirects=False,
                headers={"User-Agent": USER_AGENT},
                limits=httpx.Limits(max_connections=self.settings.webhook_delivery.concurrency * 2),
            )
        return self._client

    async def deliver_due(self) -> int:
        """Start sending every due queue that is not already being sent; returns how many were started.

        Never waits for a receiver: each queue runs in its own task, at most webhook_delivery.concurrency
        at once."""
        if self._closed or not self.settings.webhooks:
            return 0
        room = self.settings.webhook_delivery.concurrency - len(self._queues)
        if room <= 0:
            return 0
        heads = await webhook_repo.due_heads(self.db, now=self.clock(), limit=BATCH + len(self._queues))
        started = 0
        for head in heads:
            if head.queue in self._queues or head.id in self._confirming:
                continue
            if started >= room:
                break
            task = asyncio.create_task(self._run_queue(head), name=f"momento-webhook-{head.webhook}")
            self._queues[head.queue] = task
            task.add_done_callback(self._forget(head.queue))
            started += 1
        return started

    def _forget(self, queue: tuple[str, int]) -> Callable[[asyncio.Task[None]], None]:
        def forget(task: asyncio.Task[None]) -> None:
            if self._queues.get(queue) is task:
                del self._queues[queue]

        return forget

    @staticmethod
    def lease_name(webhook: str, customer_id: int) -> str:
        return f"webhook:{webhook}:{customer_id}"

    def _lease_ttl(self) -> timedelta:
        return self.settings.webhook_delivery.timeout + LEASE_MARGIN

    async def _run_queue(self, head: WebhookDelivery) -> None:
        """Under the queue's lease: send its head, then its next rows while they succeed (in the queue's
        order); confirmations are recorded before the lease is given back."""
        lease = self.lease_name(head.webhook, head.customer_id)
        try:
            if not await lease_repo.claim(
                self.db, lease, self.holder, now=self.clock(), ttl=self._lease_ttl()
            ):
                return  # another process is sending this queue
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("webhook queue %s not claimed (the clock tries again)", head.queue)
            return
        try:
            await self._send_queue(head, lease)
        finally:
            try:
                await self.flush()  # this queue's confirmations committed before anyone else may send it
                await lease_repo.release(self.db, lease, self.holder)
            except Exception:
                log.exception("webhook queue %s: lease not given back (it runs out by itself)", head.queue)

    async def _send_queue(self, head: WebhookDelivery, lease: str) -> None:
        first = True
        try:
            # Read again under the lease: another process may have sent the head since the clock read it.
            delivery = await webhook_repo.next_in_queue(self.db, head.webhook, head.customer_id)
            if delivery is None or delivery.next_at > self.clock():
                return
            while delivery is not None and not self._closed:
                webhook = self._by_name.get(delivery.webhook)
                if webhook is None or not webhook.enabled:
                    return  # no longer configured: it waits (listed by `momento webhooks list`)
                if not first and not await lease_repo.claim(
                    self.db, lease, self.holder, now=self.clock(), ttl=self._lease_ttl()
                ):
                    log.warning("webhook queue %s: lease lost to another process", head.queue)
                    return
                first = False
                attempt = await self.send(webhook, delivery.event_id, delivery.event_type, delivery.body)
                now = self.clock()
                metrics.WEBHOOK_ATTEMPTS.labels(
                    delivery.webhook, "delivered" if attempt.ok else "failed"
                ).inc()
                if attempt.ok:
                    assert attempt.status is not None
                    self._confirm(delivery.id, attempt.status)
                else:
                    await self._failed(delivery, attempt, now)
                    return
                delivery = await webhook_repo.next_in_queue(
                    self.db, delivery.webhook, delivery.customer_id, after=delivery.id
                )
                if delivery is not None and delivery.next_at > now:
                    return
        except asyncio.CancelledError:
            raise  # shutdown: the row stays undelivered and is sent after the restart
        except Exception:
            log.exception("webhook queue %s stopped (the clock starts it again)", head.queue)

    def _confirm(self, delivery_id: int, status: int) -> None:
        self._delivered.append((delivery_id, status))
        self._confirming.add(delivery_id)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(CONFIRM_AFTER)
        await self.flush()

    async def flush(self) -> None:
        """Record the deliveries receivers took since the last flush; when it returns, every delivery taken
        before the call is recorded (by this flush or one already under way), or failed to be."""
        async with self._flush_lock:
            taken, self._delivered = self._delivered, []
            try:
                await webhook_repo.mark_delivered(self.db, taken, at=self.clock())
            except Exception:
                log.exception("webhook confirmations not recorded (those events will be sent again)")
            finally:
                self._confirming.difference_update(delivery_id for delivery_id, _ in taken)

    async def _failed(self, delivery: WebhookDelivery, attempt: Attempt, now: datetime) -> None:
        attempts = delivery.attempts + 1
        delay = retry_delay(self.settings, attempts)
        give_up = attempts >= self.settings.webhook_delivery.max_attempts
        error = attempt.error or "failed"
        await webhook_repo.mark_attempt_failed(
            self.db,
            delivery.id,
            status=attempt.status,
            error=error,
            retry_at=now + delay,
            give_up_at=now if give_up else None,
        )
        if give_up:
            log.error(
                "webhook %s: event %s (%s) gave up after %d attempts: %s (`momento webhooks retry` resends)",
                delivery.webhook,
                delivery.event_id,
                delivery.event_type,
                attempts,
                error,
            )
        else:
            log.warning(
                "webhook %s: event %s not delivered (attempt %d: %s); next try in %s",
                delivery.webhook,
                delivery.event_id,
                attempts,
                error,
                delay,
            )

    async def send(
        self, webhook: OutgoingWebhookSettings, event_id: str, event_type: str, body: str
    ) -> Attempt:
        """One signed POST, bounded by webhook_delivery.timeout as a whole (a receiver that trickles its
        answer byte by byte is cut off too)."""
        secret = self.settings.webhook_secret(webhook.name)
        if secret is None:
            return Attempt(None, "no secret configured")
        raw = body.encode("utf-8")
        timestamp = int(self.clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret.get_secret_value(), timestamp, raw),
            EVENT_ID_HEADER: event_id,
            EVENT_TYPE_HEADER: event_type,
        }
        limit = self.settings.webhook_delivery.timeout.total_seconds()
        try:
            async with asyncio.timeout(limit):
                response = await self._http().post(webhook.url, content=raw, headers=headers, timeout=limit)
        except TimeoutError:
            return Attempt(None, f"no answer within {limit:g} s")
        except httpx.HTTPError as exc:
            return Attempt(None, f"{type(exc).__name__}: {exc}"[:300] or type(exc).__name__)
        if 200 <= response.status_code < 300:
            return Attempt(response.status_code, None)
        return Attempt(response.status_code, f"HTTP {response.status_code}")

    async def test(self, name: str) -> Attempt:
        """`momento webhooks test NAME`: a signed ``webhook.test`` event sent now, outside the outbox."""
        webhook = self._by_name.get(name)
        if webhook is None:
            return Attempt(None, f"no webhook named {name!r} in the config")
        event_id = webhook_repo.new_event_id()
        data = {"webhook": name, "message": "Momento webhook test: nothing to do"}
        body = webhook_repo.event_body(event_id, "webhook.test", data, self.clock())
        return await self.send(webhook, event_id, "webhook.test", body)

    async def idle(self) -> None:
        """Wait until no queue is being sent and every delivery is confirmed (tests, benchmarks)."""
        while self._queues:
            await asyncio.gather(*list(self._queues.values()), return_exceptions=True)
        await self.flush()

    async def aclose(self) -> None:
        """Shutdown: queues in flight are cut off (their rows are sent again after the restart)."""
        self._closed = True
        tasks = list(self._queues.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        await self.flush()
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None


def retry_delay(settings: Settings, attempts: int) -> timedelta:
    """The back-off after *attempts* failed attempts (docs and `momento webhooks list`)."""
    config = settings.webhook_delivery
    delay: timedelta = config.retry_base * (2 ** min(max(attempts - 1, 0), 30))
    return min(config.retry_cap, delay)


def describe(delivery: WebhookDelivery) -> dict[str, Any]:
    """One outbox row as `momento webhooks list --json` prints it."""
    return {
        "id": delivery.id,
        "webhook": delivery.webhook,
        "event_id": delivery.event_id,
        "type": delivery.event_type,
        "customer_id": delivery.customer_id or None,
        "attempts": delivery.attempts,
        "status": "failed" if delivery.failed_at else "retrying",
        "next_at": to_db_time(delivery.next_at),
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "created_at": to_db_time(delivery.created_at),
    }


__all__ = [
    "SIGNATURE_HEADER",
    "AlertSubject",
    "Attempt",
    "WebhookSender",
    "alert_data",
    "alert_subject",
    "describe",
    "enqueue_event",
    "enqueue_theme_alert",
    "sign",
    "wants",
]

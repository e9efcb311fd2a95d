"""Outgoing webhooks against a real HTTP receiver: signed, at least once, in order per customer, and a
receiver that is down, broken or hanging never stalls the clock nor loses an event."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.outreach import webhooks
from bot.outreach.webhooks import WebhookSender, enqueue_event
from storage import leases as lease_repo
from storage import webhooks as webhook_repo
from storage.db import Database, utcnow
from tests.support.postgres import BOTH_ENGINES
from tests.support.receiver import Receiver

SECRET = "whsec-test-0123456789"


def reference_verify(secret: str, header: str, body: bytes, *, tolerance: int = 300) -> bool:
    """An independent verification, written as a receiver would from docs/webhooks.md."""
    parts = dict(piece.split("=", 1) for piece in header.split(","))
    timestamp = int(parts["t"])
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    await found.start()
    try:
        yield found
    finally:
        await found.stop()


@pytest.fixture
async def db(storage_target: str | Path) -> AsyncIterator[Database]:
    async with await Database.open(storage_target) as opened:
        yield opened


def _settings(receiver: Receiver, *paths: str, **delivery: Any) -> Settings:
    return Settings(
        webhooks=[
            {"name": path, "url": receiver.url(path), "events": ["alert.opened", "survey.completed"]}
            for path in paths
        ],
        webhook_secrets={path: SECRET for path in paths},
        webhook_delivery={"timeout": "0.5s", "retry_base": "0.05s", "retry_cap": "0.2s", **delivery},
    )


async def _record(db: Database, settings: Settings, customer: int, n: int) -> str | None:
    async with db.transaction():
        return await enqueue_event(
            db, settings, "alert.opened", {"n": n, "customer": customer}, at=utcnow(), customer_id=customer
        )


async def _pump(sender: WebhookSender, until: Any, seconds: float = 10.0) -> None:
    """The clock: a pass every 20 ms until *until()* holds."""
    async with asyncio.timeout(seconds):
        while not until():
            await sender.deliver_due()
            await asyncio.sleep(0.02)


@BOTH_ENGINES
async def test_each_event_arrives_signed_with_a_stable_id(db: Database, receiver: Receiver) -> None:
    settings = _settings(receiver, "crm")
    event_id = await _record(db, settings, 1, 1)
    receiver.modes["crm"] = "fail"
    sender = WebhookSender(db, settings)
    try:
        await _pump(sender, lambda: receiver.attempts.get("crm", 0) >= 2)
        receiver.modes["crm"] = "ok"
        await _pump(sender, lambda: receiver.accepted.get("crm"))
    finally:
        await sender.aclose()
    (got,) = receiver.accepted["crm"]
    assert got.event["id"] == event_id and got.event["type"] == "alert.opened"
    assert got.headers["Momento-Event-Id"] == event_id
    assert reference_verify(SECRET, got.headers["Momento-Signature"], got.body)
    assert not reference_verify("another-secret", got.headers["Momento-Signature"], got.body)
    assert not reference_verify(
        SECRET, got.headers["Momento-Signature"], got.body.replace(b'"n":1', b'"n":2')
    )


@BOTH_ENGINES
async def test_a_receiver_down_for_a_while_gets_everything_in_order(db: Database, receiver: Receiver) -> None:
    settings = _settings(receiver, "crm")
    await receiver.stop()
    for n in range(5):
        await _record(db, settings, 7, n)
    sender = WebhookSender(db, settings)
    try:
        for _ in range(10):  # the clock goes on while the receiver is down
            await sender.deliver_due()
            await asyncio.sleep(0.03)
        failing = await webhook_repo.problems(db)
        assert [d.event_type for d in failing] == ["alert.opened"]  # only the head was tried
        assert failing[0].attempts >= 2 and failing[0].last_error
        await receiver.start()
        await _pump(sender, lambda: len(receiver.events("crm")) == 5)
    finally:
        await sender.aclose()
    assert [e["data"]["n"] for e in receiver.events("crm")] == [0, 1, 2, 3, 4]


@BOTH_ENGINES
async def test_a_failing_customer_holds_only_its_own_events(db: Database, receiver: Receiver) -> None:
    """One webhook answers 500 and another hangs; the healthy one gets everything, nothing out of order."""
    settings = _settings(receiver, "broken", "hanging", "healthy")
    receiver.modes.update(broken="fail", hanging="hang")
    for n in range(3):
        for customer in (1, 2):
            await _record(db, settings, customer, n)
    sender = WebhookSender(db, settings)
    try:
        started = time.monotonic()
        await sender.deliver_due()
        # A pass starts the queues and returns: it never waits for the hanging receiver.
        assert time.monotonic() - started < 0.3
        await _pump(sender, lambda: len(receiver.events("healthy")) == 6)
        assert receiver.events("broken") == [] and receiver.events("hanging") == []
        await asyncio.sleep(0.7)  # past the timeout: the hanging delivery counts as failed
        await sender.deliver_due()
        hung = [d for d in await webhook_repo.problems(db) if d.webhook == "hanging"]
        assert hung and all("no answer" in (d.last_error or "") for d in hung)
        assert {d.customer_id for d in hung} == {1, 2}  # each customer's head only
        receiver.modes.update(broken="ok", hanging="ok")
        await _pump(
            sender, lambda: len(receiver.events("broken")) == 6 and len(receiver.events("hanging")) == 6
        )
    finally:
        await sender.aclose()
    for path in ("broken", "hanging", "healthy"):
        for customer in (1, 2):
            mine = [e["data"]["n"] for e in receiver.events(path) if e["data"]["customer"] == customer]
            assert mine == [0, 1, 2], (path, customer)


@BOTH_ENGINES
async def test_a_delivery_that_gives_up_frees_the_queue_and_can_be_resent(
    db: Database, receiver: Receiver
) -> None:
    settings = _settings(receiver, "crm", max_attempts=2)
    receiver.modes["crm"] = "fail"
    await _record(db, settings, 3, 0)
    await _record(db, settings, 3, 1)
    sender = WebhookSender(db, settings)
    try:
        await _pump(sender, lambda: receiver.attempts.get("crm", 0) >= 4)
        given_up = [d for d in await webhook_repo.problems(db) if d.failed_at is not None]
        assert len(given_up) == 2
        assert await webhook_repo.retry(db, now=utcnow()) == 2
        receiver.modes["crm"] = "ok"
        await _pump(sender, lambda: len(receiver.events("crm")) == 2)
    finally:
        await sender.aclose()
    assert [e["data"]["n"] for e in receiver.events("crm")] == [0, 1]


@BOTH_ENGINES
async def test_nothing_is_recorded_when_no_webhook_listens(db: Database, receiver: Receiver) -> None:
    settings = _settings(receiver, "crm")
    async with db.transaction():
        found = await enqueue_event(db, settings, "answer.analysed", {}, at=utcnow(), customer_id=1)
    assert found is None
    assert await webhook_repo.deliveries(db) == []


@BOTH_ENGINES
async def test_an_event_rolled_back_with_its_change_is_never_sent(db: Database, receiver: Receiver) -> None:
    settings = _settings(receiver, "crm")
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await enqueue_event(db, settings, "alert.opened", {}, at=utcnow(), customer_id=1)
            raise RuntimeError("the change failed")
    assert await webhook_repo.deliveries(db) == []


@BOTH_ENGINES
async def test_two_processes_send_each_event_once_in_each_customers_order(
    storage_target: str | Path, receiver: Receiver
) -> None:
    """Two bot processes (two database handles, two senders) pump the same outbox at once."""
    settings = _settings(receiver, "crm")
    workers = [await Database.open(storage_target) for _ in range(2)]
    customers, per_customer = 12, 6
    for n in range(per_customer):
        for customer in range(1, customers + 1):
            await _record(workers[0], settings, customer, n)
    senders = [WebhookSender(db, settings) for db in workers]
    total = customers * per_customer
    try:
        await asyncio.gather(
            *(_pump(sender, lambda: len(receiver.events("crm")) >= total, 30.0) for sender in senders)
        )
        for sender in senders:
            await sender.idle()
        await asyncio.sleep(0.1)
        pending = [d for d in await webhook_repo.deliveries(workers[0]) if d.delivered_at is None]
    finally:
        for sender in senders:
            await sender.aclose()
        for db in workers:
            await db.close()
    ids = [e["id"] for e in receiver.events("crm")]
    assert len(ids) == total and len(set(ids)) == total  # all sent, none twice
    assert pending == []
    for customer in range(1, customers + 1):
        mine = [e["data"]["n"] for e in receiver.events("crm") if e["data"]["customer"] == customer]
        assert mine == list(range(per_customer)), customer


@BOTH_ENGINES
async def test_a_dead_processs_queue_is_sent_once_its_lease_runs_out(
    db: Database, receiver: Receiver
) -> None:
    settings = _settings(receiver, "crm")
    await _record(db, settings, 5, 0)
    now = [utcnow()]
    ttl = settings.webhook_delivery.timeout + webhooks.LEASE_MARGIN
    dead = lease_repo.new_holder()
    assert await lease_repo.claim(db, WebhookSender.lease_name("crm", 5), dead, now=now[0], ttl=ttl)
    sender = WebhookSender(db, settings, clock=lambda: now[0])
    try:
        for _ in range(5):
            await sender.deliver_due()
            await asyncio.sleep(0.03)
        assert receiver.events("crm") == []  # the dead process's lease still holds the queue
        now[0] += ttl
        await _pump(sender, lambda: len(receiver.events("crm")) == 1)
        await sender.idle()
    finally:
        await sender.aclose()
    assert await lease_repo.holder_of(db, WebhookSender.lease_name("crm", 5), now=now[0]) is None

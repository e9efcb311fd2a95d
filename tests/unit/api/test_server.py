"""The ingestion API as the company's order system, courier and call centre see it: real app, real SQLite."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M

from bot.accounts.links import LinkError, verify_start_payload
from bot.api.ingest import sync_configured_touchpoints
from bot.api.server import ListenError, create_app, serving
from bot.config import Settings
from storage import customers, events, surveys
from storage.db import Database
from storage.models import Customer
from tests.support.postgres import BOTH_ENGINES

KEY = "k-live-0123456789abcdef"
OTHER_KEY = "k-second-key-for-rotation"
BOT = "momento_test_bot"
SIGNING_KEY = "test-signing-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    data: dict[str, Any] = {
        "storage": {"path": tmp_path / "api.db"},
        "api": {"keys": [KEY, OTHER_KEY]},
        "links": {"signing_key": SIGNING_KEY},
        "survey": {"default_timezone": "UTC", "quiet_hours_start": "00:00:00", "quiet_hours_end": "00:00:00"},
        "touchpoints": [
            {"key": "purchase", "names": {"en": "purchase"}, "weight": 1.0, "invite_delay": "1h"},
            {"key": "delivery", "names": {"en": "delivery"}, "weight": 1.5, "invite_delay": "2h"},
            {"key": "support_call", "names": {"en": "support call"}, "weight": 2.0, "invite_delay": "30m"},
        ],
    }
    data.update(overrides)
    return Settings(**data)


ApiFactory = Callable[..., Any]


@pytest.fixture
async def open_api(tmp_path: Path, storage_target: str | Path) -> AsyncIterator[ApiFactory]:
    """``client, db = await open_api(**settings_overrides)``: the app over a fresh database."""
    opened: list[tuple[httpx.AsyncClient, Database]] = []

    async def make(**overrides: Any) -> tuple[httpx.AsyncClient, Database]:
        settings = make_settings(tmp_path, **overrides)
        db = await Database.open(storage_target)
        await sync_configured_touchpoints(db, settings)
        app = create_app(settings, db, bot_username=lambda: BOT)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://momento.test")
        opened.append((client, db))
        return client, db

    yield make
    for client, db in opened:
        await client.aclose()
        await db.close()


@pytest.fixture
async def api(open_api: ApiFactory) -> tuple[httpx.AsyncClient, Database]:
    result: tuple[httpx.AsyncClient, Database] = await open_api()
    return result


async def linked(db: Database, external_id: str, *, user_id: int) -> Customer:
    customer = await customers.upsert_customer(db, external_id, display_name="Ana")
    await customers.link_telegram(
        db, customer.id, telegram_user_id=user_id, telegram_chat_id=user_id, display_name="Ana", language="en"
    )
    return await customers.grant_consent(db, customer.id)


def event(external_id: str, customer: str, touchpoint: str = "delivery", **extra: Any) -> dict[str, Any]:
    occurred = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    return {
        "external_id": external_id,
        "customer_external_id": customer,
        "touchpoint": touchpoint,
        "occurred_at": occurred,
        **extra,
    }


# --- authentication ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Bearer {KEY}x"},
    ],
    ids=["missing", "wrong", "not-bearer", "empty", "longer"],
)
@BOTH_ENGINES
async def test_missing_or_wrong_key_is_refused_and_nothing_is_written(
    api: tuple[httpx.AsyncClient, Database], headers: dict[str, str]
) -> None:
    client, db = api
    answer = await client.post("/v1/customers", json={"external_id": "c1"}, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["error"] == "unauthorized"
    assert await customers.get_by_external_id(db, "c1") is None
    for path in ("/v1/events", "/v1/customers/c1/link"):
        method = client.post if path == "/v1/events" else client.get
        assert (await method(path, headers=headers)).status_code == 401


@BOTH_ENGINES
async def test_every_configured_key_works(api: tuple[httpx.AsyncClient, Database]) -> None:
    client, _ = api
    for key in (KEY, OTHER_KEY):
        answer = await client.post(
            "/v1/customers", json={"external_id": f"c-{key[:4]}"}, headers={"Authorization": f"Bearer {key}"}
        )
        assert answer.status_code == 201


async def test_without_configured_keys_every_call_is_refused(open_api: ApiFactory) -> None:
    client, _ = await open_api(api={"keys": []})
    answer = await client.post(
        "/v1/customers", json={"external_id": "c1"}, headers={"Authorization": "Bearer "}
    )
    assert answer.status_code == 401


# --- customers ----------------------------------------------------------------------------------------------


@BOTH_ENGINES
async def test_customer_upsert_is_idempotent_and_keeps_unsent_fields(
    api: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = api
    body = {
        "external_id": "c-42",
        "name": "Lucía",
        "language": "es",
        "timezone": "Europe/Madrid",
        "tier": "Gold",
    }
    first = await client.post("/v1/customers", json=body, headers=AUTH)
    assert first.status_code == 201
    assert first.json()["created"] is True
    assert first.json()["tier"] == "gold"
    assert first.json()["linked"] is False
    again = await client.post("/v1/customers", json=body, headers=AUTH)
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert again.json()["id"] == first.json()["id"]
    partial = await client.post(
        "/v1/customers", json={"external_id": "c-42", "tier": "platinum"}, headers=AUTH
    )
    stored = await customers.get_by_external_id(db, "c-42")
    assert partial.status_code == 200
    assert stored is not None
    assert (stored.display_name, stored.language, stored.timezone, stored.tier) == (
        "Lucía",
        "es",
        "Europe/Madrid",
        "platinum",
    )
    rows = await db.fetch_all("SELECT id FROM customers WHERE external_id = 'c-42'")
    assert len(rows) == 1


@BOTH_ENGINES
async def test_invalid_customer_gets_422_with_every_field_path(
    api: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = api
    body = {"external_id": "", "language": "fr", "timezone": "Mars/Olympus", "colour": "red"}
    answer = await client.post("/v1/customers", json=body, headers=AUTH)
    assert answer.status_code == 422
    errors = {error["path"]: error["message"] for error in answer.json()["errors"]}
    assert set(errors) == {"external_id", "language", "timezone", "colour"}
    assert "Mars/Olympus" in errors["timezone"]
    assert errors["colour"] == "unknown field"
    assert await db.fetch_all("SELECT * FROM customers") == []


async def test_bot_reserved_ids_and_non_json_are_refused_clearly(
    api: tuple[httpx.AsyncClient, Database],
) -> None:
    client, _ = api
    reserved = await client.post("/v1/customers", json={"external_id": "tg:123"}, headers=AUTH)
    assert reserved.status_code == 422
    assert reserved.json()["errors"][0]["path"] == "external_id"
    not_json = await client.post("/v1/customers", content=b"{external_id: c1", headers=AUTH)
    assert not_json.status_code == 400
    assert "not valid JSON" in not_json.json()["message"]
    empty = await client.post("/v1/customers", content=b"", headers=AUTH)
    assert empty.status_code == 422


# --- events -------------------------------------------------------------------------------------------------


@BOTH_ENGINES
async def test_event_for_a_linked_customer_schedules_a_survey_once(
    api: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = api
    customer = await linked(db, "c-1", user_id=501)
    body = event("order-1-delivered", "c-1", attributes={"order_id": "A-1", "amount": 59.9})
    first = (await client.post("/v1/events", json=body, headers=AUTH)).json()
    result = first["results"][0]
    assert first["counts"] == {"scheduled": 1, "not_scheduled": 0, "rejected": 0}
    assert result["outcome"] == "scheduled"
    assert result["survey"]["status"] == "scheduled"
    occurred = datetime.fromisoformat(body["occurred_at"])
    assert datetime.fromisoformat(result["survey"]["scheduled_at"]) == occurred + timedelta(hours=2)

    again = (await client.post("/v1/events", json=body, headers=AUTH)).json()["results"][0]
    assert again["outcome"] == "not_scheduled"
    assert again["reason"] == "duplicate"
    assert again["event_id"] == result["event_id"]
    assert again["survey"]["id"] == result["survey"]["id"]
    stored = await surveys.surveys_for_customer(db, customer.id)
    assert [survey.status for survey in stored] == ["scheduled"]
    rows = await db.fetch_all("SELECT amount, attributes FROM touchpoint_events")
    assert len(rows) == 1
    assert rows[0]["amount"] == pytest.approx(59.9)
    assert json.loads(rows[0]["attributes"])["order_id"] == "A-1"


@BOTH_ENGINES
async def test_batch_with_good_and_bad_events_answers_each_and_keeps_the_good(
    api: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = api
    await linked(db, "c-linked", user_id=601)
    await linked(db, "c-capped", user_id=602)
    opted = await linked(db, "c-opted", user_id=603)
    await customers.opt_out(db, opted.id, datetime.now(UTC))
    await client.post("/v1/customers", json={"external_id": "c-new"}, headers=AUTH)
    batch = {
        "events": [
            event("e-good", "c-linked"),
            event("e-unknown-tp", "c-linked", touchpoint="hotel_stay"),
            {**event("e-naive", "c-linked"), "occurred_at": "2026-01-01T10:00:00"},
            event("e-not-linked", "c-new"),
            event("e-opted", "c-opted"),
            event("e-heavy", "c-capped", touchpoint="support_call"),
            event("e-light", "c-capped", touchpoint="purchase"),
            event("e-first-seen", "c-from-order-system"),
            {"external_id": "e-missing"},
        ]
    }
    answer = await client.post("/v1/events", json=batch, headers=AUTH)
    assert answer.status_code == 200
    results = answer.json()["results"]
    summary = [(r["external_id"], r["outcome"], r["reason"]) for r in results]
    assert summary == [
        ("e-good", "scheduled", None),
        ("e-unknown-tp", "rejected", "unknown_touchpoint"),
        (None, "rejected", "invalid"),
        ("e-not-linked", "not_scheduled", "customer_not_linked"),
        ("e-opted", "not_scheduled", "opted_out"),
        ("e-heavy", "scheduled", None),
        ("e-light", "not_scheduled", "frequency_cap"),
        ("e-first-seen", "not_scheduled", "customer_not_linked"),
        (None, "rejected", "invalid"),
    ]
    assert answer.json()["counts"] == {"scheduled": 2, "not_scheduled": 4, "rejected": 3}
    assert "hotel_stay" in results[1]["message"]
    assert [error["path"] for error in results[2]["errors"]] == ["events.2.occurred_at"]
    missing = {error["path"] for error in results[8]["errors"]}
    assert missing == {"events.8.customer_external_id", "events.8.touchpoint", "events.8.occurred_at"}
    assert results[7]["customer_created"] is True
    stored = {row["external_id"] for row in await db.fetch_all("SELECT external_id FROM touchpoint_events")}
    assert stored == {"e-good", "e-not-linked", "e-opted", "e-heavy", "e-light", "e-first-seen"}


@BOTH_ENGINES
async def test_invalid_single_event_and_bad_envelopes_get_422(
    api: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = api
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    single = await client.post(
        "/v1/events",
        json={**event("e1", "c1"), "occurred_at": future, "attributes": {"x": [1]}},
        headers=AUTH,
    )
    assert single.status_code == 422
    errors = {error["path"]: error["message"] for error in single.json()["errors"]}
    assert set(errors) == {"occurred_at", "attributes"}
    assert "future" in errors["occurred_at"]
    assert "'x' must be text, a number" in errors["attributes"]
    empty_batch = await client.post("/v1/events", json={"events": []}, headers=AUTH)
    assert empty_batch.status_code == 422
    assert empty_batch.json()["errors"][0]["path"] == "events"
    a_list = await client.post("/v1/events", json=[event("e2", "c1")], headers=AUTH)
    assert a_list.status_code == 422
    assert await db.fetch_all("SELECT * FROM touchpoint_events") == []


async def test_reusing_an_event_id_for_another_customer_changes_nothing(
    api: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = api
    await client.post("/v1/events", json=event("e-1", "c-a"), headers=AUTH)
    clash = (await client.post("/v1/events", json=event("e-1", "c-b"), headers=AUTH)).json()["results"][0]
    assert (clash["outcome"], clash["reason"]) == ("rejected", "duplicate")
    rows = await db.fetch_all(
        "SELECT c.external_id FROM touchpoint_events e JOIN customers c ON c.id = e.customer_id"
    )
    assert [row["external_id"] for row in rows] == ["c-a"]


# --- body limit ---------------------------------------------------------------------------------------------


async def test_body_over_the_limit_is_refused_with_413(open_api: ApiFactory) -> None:
    client, db = await open_api(server={"max_body_bytes": 2048})
    big = {"events": [event(f"e-{i}", "c-1") for i in range(40)]}
    declared = await client.post("/v1/events", json=big, headers=AUTH)
    assert declared.status_code == 413
    assert "2048" in declared.json()["message"]

    async def chunks() -> AsyncIterator[bytes]:
        payload = json.dumps(big).encode()
        for start in range(0, len(payload), 500):
            yield payload[start : start + 500]

    streamed = await client.post("/v1/events", content=chunks(), headers=AUTH)
    assert streamed.status_code == 413
    assert await db.fetch_all("SELECT * FROM touchpoint_events") == []
    small = await client.post("/v1/events", json=event("e-small", "c-1"), headers=AUTH)
    assert small.status_code == 200


# --- links and QR codes -------------------------------------------------------------------------------------


def qr_modules(png: bytes) -> list[list[bool]]:
    """Dark modules read back from the PNG (box 8 px, border 4), to compare with the expected matrix."""
    image = Image.open(BytesIO(png)).convert("L")
    size = image.width // 8 - 8
    return [
        [image.getpixel((8 * (4 + x) + 4, 8 * (4 + y) + 4)) < 128 for x in range(size)] for y in range(size)
    ]


def expected_modules(text: str) -> list[list[bool]]:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    code.add_data(text)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


@BOTH_ENGINES
async def test_link_round_trips_and_its_qr_code_encodes_it(api: tuple[httpx.AsyncClient, Database]) -> None:
    client, db = api
    await client.post("/v1/customers", json={"external_id": "c-7", "name": "Ana"}, headers=AUTH)
    stored = await customers.get_by_external_id(db, "c-7")
    assert stored is not None
    answer = await client.get("/v1/customers/c-7/link", headers=AUTH)
    assert answer.status_code == 200
    body = answer.json()
    assert body["link"] == f"https://t.me/{BOT}?start={body['payload']}"
    target = verify_start_payload(
        Settings(links={"signing_key": SIGNING_KEY}).links.signing_key, body["payload"]
    )
    assert target.customer_id == stored.id
    assert datetime.fromisoformat(body["expires_at"]) == target.expires_at
    assert target.expires_at - datetime.now(UTC) > timedelta(days=89)
    png = base64.b64decode(body["qr_png_base64"])
    assert qr_modules(png) == expected_modules(body["link"])

    image = await client.get("/v1/customers/c-7/link?format=png", headers=AUTH)
    assert image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")


@BOTH_ENGINES
async def test_a_forged_or_retargeted_link_does_not_verify(api: tuple[httpx.AsyncClient, Database]) -> None:
    client, _ = api
    await client.post("/v1/customers", json={"external_id": "c-8"}, headers=AUTH)
    payload = (await client.get("/v1/customers/c-8/link", headers=AUTH)).json()["payload"]
    key = Settings(links={"signing_key": SIGNING_KEY}).links.signing_key
    customer_hex, rest = payload.split("-", 1)
    retargeted = f"{int(customer_hex, 16) + 1:x}-{rest}"
    flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    for forged in (retargeted, flipped):
        with pytest.raises(LinkError) as caught:
            verify_start_payload(key, forged)
        assert caught.value.problem == "bad_signature"
    other_key = Settings(links={"signing_key": "someone-elses-key"}).links.signing_key
    with pytest.raises(LinkError):
        verify_start_payload(other_key, payload)


async def test_link_for_unknown_customer_or_without_signing_key(open_api: ApiFactory) -> None:
    client, _ = await open_api(links={})
    assert (await client.get("/v1/customers/nobody/link", headers=AUTH)).status_code == 404
    await client.post("/v1/customers", json={"external_id": "c-9"}, headers=AUTH)
    unavailable = await client.get("/v1/customers/c-9/link", headers=AUTH)
    assert unavailable.status_code == 503
    assert "MOMENTO_LINKS__SIGNING_KEY" in unavailable.json()["message"]


# --- health and schema --------------------------------------------------------------------------------------


async def test_health_and_openapi_need_no_key(api: tuple[httpx.AsyncClient, Database]) -> None:
    client, _ = api
    health = await client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    schema = (await client.get("/openapi.json")).json()
    assert schema["openapi"].startswith("3.")
    assert {"/v1/customers", "/v1/events", "/v1/customers/{external_id}/link", "/healthz"} <= set(
        schema["paths"]
    )
    event_schema = schema["components"]["schemas"]["EventIn"]
    assert set(event_schema["required"]) == {
        "external_id",
        "customer_external_id",
        "touchpoint",
        "occurred_at",
    }
    docs = await client.get("/docs")
    assert "/v1/events" in docs.text


# --- many callers at once (group commit) ------------------------------------------------------------


@BOTH_ENGINES
async def test_concurrent_callers_are_each_answered_as_if_alone(
    api: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = api
    for number in range(10):
        await linked(db, f"c-{number}", user_id=700 + number)
    bodies = [event(f"e-{number}", f"c-{number % 10}", touchpoint="delivery") for number in range(30)]
    answers = await asyncio.gather(*(client.post("/v1/events", json=body, headers=AUTH) for body in bodies))
    results = [answer.json()["results"][0] for answer in answers]
    assert [result["external_id"] for result in results] == [f"e-{number}" for number in range(30)]
    # One survey per customer; their other events meet the frequency cap, whichever request came first.
    outcomes = [(result["outcome"], result["reason"]) for result in results]
    assert outcomes.count(("scheduled", None)) == 10
    assert outcomes.count(("not_scheduled", "frequency_cap")) == 20
    scheduled_per_customer = await db.fetch_all(
        "SELECT customer_id, COUNT(*) AS n FROM surveys WHERE status = 'scheduled' GROUP BY customer_id"
    )
    assert [row["n"] for row in scheduled_per_customer] == [1] * 10
    capped = next(result for result in results if result["reason"] == "frequency_cap")
    assert capped["survey"]["status"] == "skipped"


@BOTH_ENGINES
async def test_a_link_for_one_event_names_that_event(api: tuple[httpx.AsyncClient, Database]) -> None:
    client, _ = api
    recorded = await client.post("/v1/events", json=event("ord-5-delivered", "c-5"), headers=AUTH)
    event_id = recorded.json()["results"][0]["event_id"]
    await client.post("/v1/events", json=event("ord-6-delivered", "c-6"), headers=AUTH)
    key = Settings(links={"signing_key": SIGNING_KEY}).links.signing_key
    body = (await client.get("/v1/customers/c-5/link?event=ord-5-delivered", headers=AUTH)).json()
    assert verify_start_payload(key, body["payload"]).event_id == event_id
    plain = (await client.get("/v1/customers/c-5/link", headers=AUTH)).json()
    assert verify_start_payload(key, plain["payload"]).event_id is None
    # Another customer's event, or none at all: no link.
    for other in ("ord-6-delivered", "ord-missing"):
        answer = await client.get(f"/v1/customers/c-5/link?event={other}", headers=AUTH)
        assert answer.status_code == 404


async def test_health_reports_a_stopped_bot_as_degraded(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    async with await Database.open(settings.storage.path) as db:
        app = create_app(settings, db, bot_running=lambda: False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as client:
            answer = await client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json() == {"status": "degraded", "database": True, "bot": False}


async def test_a_server_failure_is_a_json_500_that_invites_a_retry(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    db = await Database.open(settings.storage.path)
    app = create_app(settings, db)
    await db.close()  # the database goes away under the running app
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://m") as client:
        answer = await client.post("/v1/customers", json={"external_id": "c-1"}, headers=AUTH)
    assert answer.status_code == 500
    assert answer.json()["error"] == "internal"
    assert "send it again" in answer.json()["message"]


async def test_a_busy_port_is_one_clear_error(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    async with await Database.open(settings.storage.path) as db:
        app = create_app(settings, db)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            with pytest.raises(ListenError, match=f"cannot listen on 127.0.0.1:{port}"):
                async with serving(app, "127.0.0.1", port):
                    pass
        async with (
            serving(app, "127.0.0.1", 0) as (_, base_url),
            httpx.AsyncClient(base_url=base_url) as client,
        ):
            assert (await client.get("/healthz")).status_code == 200


async def test_a_batch_that_sqlite_rolled_back_is_reported_as_failed_not_stored(
    api: tuple[httpx.AsyncClient, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disk full mid-batch: SQLite undoes the whole transaction, so no event may be answered as stored."""
    client, db = api
    for number in range(3):
        await linked(db, f"C-{number}", user_id=100 + number)
    import sqlite3

    from bot.api import ingest

    real = ingest._record_and_schedule
    calls = 0

    async def disk_full_on_the_second(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            await db._writer.rollback()  # what SQLite does on its own after SQLITE_FULL
            raise sqlite3.OperationalError("database or disk is full")
        return await real(*args, **kwargs)

    monkeypatch.setattr(ingest, "_record_and_schedule", disk_full_on_the_second)
    batch = {"events": [event(f"E-{number}", f"C-{number}") for number in range(3)]}
    app = client._transport.app  # type: ignore[attr-defined]
    as_deployed = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # uvicorn answers, never raises
    async with httpx.AsyncClient(transport=as_deployed, base_url="http://momento.test") as server:
        response = await server.post("/v1/events", json=batch, headers=AUTH)
    assert response.status_code == 500
    assert "again" in response.text.lower()
    for number in range(3):
        assert await events.get_event_by_external_id(db, f"E-{number}") is None
    monkeypatch.setattr(ingest, "_record_and_schedule", real)
    retried = await client.post("/v1/events", json=batch, headers=AUTH)
    assert retried.status_code == 200
    assert [result["outcome"] for result in retried.json()["results"]] == ["scheduled"] * 3

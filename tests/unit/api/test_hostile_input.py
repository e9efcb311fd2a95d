"""Hostile or odd input to the ingestion API: every refusal is a 4xx in the documented error shape."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.accounts.links import verify_start_payload
from bot.api.server import openapi_schema
from storage import customers
from storage.db import Database
from tests.unit.api.test_server import AUTH, SIGNING_KEY, make_settings


def _is_error_shape(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == error and isinstance(body["message"], str) and body["message"]


async def test_unusable_json_is_400_bad_json_never_500(api: tuple[httpx.AsyncClient, Database]) -> None:
    client, _ = api
    bodies = [
        b'{"external_id": "c-1", "name": ' + b"9" * 5000 + b"}",  # over Python's 4,300-digit limit
        b"[" * 100_000,  # nesting that overflows a recursive parser
        b'{"external_id": "c-1", "name": ' + b"[" * 40 + b"]" * 40 + b"}",  # deeper than we accept
    ]
    for body in bodies:
        response = await client.post("/v1/customers", content=body, headers=AUTH)
        _is_error_shape(response, 400, "bad_json")


async def test_nan_and_infinity_in_attributes_are_refused_and_not_stored(
    api: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = api
    for constant in ("NaN", "Infinity", "-Infinity"):
        body = (
            f'{{"external_id": "ord-{constant}", "customer_external_id": "c-1", "touchpoint": "purchase", '
            f'"occurred_at": "2026-01-01T10:00:00+00:00", "attributes": {{"amount": {constant}}}}}'
        )
        response = await client.post("/v1/events", content=body.encode(), headers=AUTH)
        _is_error_shape(response, 400, "bad_json")
    assert await db.fetch_one("SELECT 1 FROM touchpoint_events") is None


async def test_unknown_format_on_the_link_endpoint_is_422(api: tuple[httpx.AsyncClient, Database]) -> None:
    client, db = api
    await customers.upsert_customer(db, "c-1")
    response = await client.get("/v1/customers/c-1/link", params={"format": "AAA"}, headers=AUTH)
    _is_error_shape(response, 422, "invalid")
    assert response.json()["errors"][0]["path"] == "query.format"


async def test_404_and_405_come_in_the_json_error_shape(api: tuple[httpx.AsyncClient, Database]) -> None:
    client, _ = api
    _is_error_shape(await client.get("/v1/nothing-here", headers=AUTH), 404, "not_found")
    _is_error_shape(await client.delete("/v1/customers", headers=AUTH), 405, "method_not_allowed")
    _is_error_shape(await client.get("/v1/events", headers=AUTH), 405, "method_not_allowed")


def test_the_openapi_document_lists_bad_json_for_every_body() -> None:
    schema: dict[str, Any] = openapi_schema(make_settings(Path("/nonexistent")))
    for path in ("/v1/customers", "/v1/events"):
        responses = schema["paths"][path]["post"]["responses"]
        assert "400" in responses and "bad_json" in responses["400"]["description"]


async def test_an_external_id_with_a_slash_can_be_created_and_fetched(
    api: tuple[httpx.AsyncClient, Database],
) -> None:
    client, _ = api
    created = await client.post("/v1/customers", json={"external_id": "shop/7/ana"}, headers=AUTH)
    assert created.status_code == 201
    for path in ("/v1/customers/shop/7/ana/link", "/v1/customers/shop%2F7%2Fana/link"):
        response = await client.get(path, headers=AUTH)
        assert response.status_code == 200, response.text
        assert response.json()["customer_external_id"] == "shop/7/ana"


async def test_twenty_parallel_upserts_of_one_new_customer_create_it_exactly_once(
    api: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = api
    responses = await asyncio.gather(
        *(
            client.post("/v1/customers", json={"external_id": "new-1", "name": f"N{n}"}, headers=AUTH)
            for n in range(20)
        )
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * 19 + [201]
    assert sum(response.json()["created"] for response in responses) == 1
    row = await db.fetch_one("SELECT COUNT(*) AS n FROM customers WHERE external_id = 'new-1'")
    assert row is not None and row["n"] == 1


async def test_post_on_the_link_endpoint_issues_a_fresh_link_that_revokes_the_old(
    api: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = api
    customer = await customers.upsert_customer(db, "c-9")
    old = (await client.get("/v1/customers/c-9/link", headers=AUTH)).json()["payload"]
    fresh = await client.post("/v1/customers/c-9/link", headers=AUTH)
    assert fresh.status_code == 200
    key = make_settings(Path("/nonexistent")).links.signing_key
    assert key is not None and key.get_secret_value() == SIGNING_KEY
    assert verify_start_payload(key, old).generation == 0
    assert verify_start_payload(key, fresh.json()["payload"]).generation == 1
    assert await customers.link_generation(db, customer.id) == 1
    # GET now hands out the fresh generation too.
    again = (await client.get("/v1/customers/c-9/link", headers=AUTH)).json()["payload"]
    assert verify_start_payload(key, again).generation == 1


def test_a_csv_row_with_nan_in_its_attributes_is_refused_with_the_field() -> None:
    """CSV import parses its attributes column with json.loads, which reads NaN: the model refuses it."""
    from pydantic import ValidationError

    from bot.api.models import EventIn

    for constant in ("NaN", "Infinity"):
        row = {
            "external_id": "e-1",
            "customer_external_id": "c-1",
            "touchpoint": "purchase",
            "occurred_at": "2026-01-01T10:00:00+00:00",
            "attributes": json.loads(f'{{"amount": {constant}}}'),
        }
        with pytest.raises(ValidationError, match="finite number"):
            EventIn.model_validate(row)

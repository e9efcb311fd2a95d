"""Deep links printed on receipts: only genuine, unexpired ones link a chat to a customer."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from bot.accounts.links import LinkError, deep_link, make_start_payload, verify_start_payload

KEY = SecretStr("a-long-random-signing-key")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_round_trip_names_customer_and_event() -> None:
    payload = make_start_payload(KEY, 4242, event_id=77, ttl=timedelta(days=90), now=NOW)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", payload)
    target = verify_start_payload(KEY, payload, now=NOW + timedelta(days=89))
    assert (target.customer_id, target.event_id) == (4242, 77)


def test_payload_fits_telegram_even_for_huge_ids() -> None:
    payload = make_start_payload(KEY, 2**63 - 1, event_id=2**63 - 1, ttl=timedelta(days=3650), now=NOW)
    assert len(payload) <= 64
    assert verify_start_payload(KEY, payload, now=NOW).customer_id == 2**63 - 1


def test_without_event() -> None:
    payload = make_start_payload(KEY, 1, ttl=timedelta(days=1), now=NOW)
    assert verify_start_payload(KEY, payload, now=NOW).event_id is None


def test_expired_link_is_refused() -> None:
    payload = make_start_payload(KEY, 1, ttl=timedelta(days=1), now=NOW)
    with pytest.raises(LinkError) as caught:
        verify_start_payload(KEY, payload, now=NOW + timedelta(days=2))
    assert caught.value.problem == "expired"


def test_tampered_customer_is_refused() -> None:
    payload = make_start_payload(KEY, 10, ttl=timedelta(days=1), now=NOW)
    forged = "b" + payload[1:]
    with pytest.raises(LinkError) as caught:
        verify_start_payload(KEY, forged, now=NOW)
    assert caught.value.problem == "bad_signature"


def test_other_key_is_refused() -> None:
    payload = make_start_payload(SecretStr("another key"), 10, ttl=timedelta(days=1), now=NOW)
    with pytest.raises(LinkError):
        verify_start_payload(KEY, payload, now=NOW)


@pytest.mark.parametrize("garbage", ["", "hello", "a" * 65, "abc def", "ü" * 30])
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(LinkError) as caught:
        verify_start_payload(KEY, garbage, now=NOW)
    assert caught.value.problem in {"malformed", "bad_signature"}


def test_missing_key_is_a_clear_error() -> None:
    with pytest.raises(LinkError) as caught:
        make_start_payload(None, 1, ttl=timedelta(days=1))
    assert "signing_key" in str(caught.value)


def test_deep_link_url() -> None:
    payload = make_start_payload(KEY, 5, ttl=timedelta(days=1), now=NOW)
    assert deep_link("@momento_bot", payload) == f"https://t.me/momento_bot?start={payload}"
    with pytest.raises(ValueError):
        deep_link("momento_bot", "bad payload!")

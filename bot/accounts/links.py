"""Signed deep-link payloads: how a printed receipt or QR code links a Telegram chat to one customer.

Telegram passes ``t.me/<bot>?start=<payload>`` to /start; the payload may only hold 64 characters of
``A–Z a–z 0–9 _ -``. Ours is ``<customer hex>-<event hex or empty>-<expiry minutes hex>[-<generation hex>]``
followed by a 22-char HMAC: short enough for any realistic id, and nobody can forge one, stretch its expiry
or raise its generation without the signing key. The generation (left out while it is 0) is the customer's
link generation when the link was issued: issuing a fresh link raises it and so revokes every older link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import SecretStr

MAX_PAYLOAD_CHARS = 64
_SIGNATURE_CHARS = 22  # 16 bytes of HMAC-SHA256, base64url without padding
_BODY = re.compile(r"^([0-9a-f]{1,16})-([0-9a-f]{0,16})-([0-9a-f]{1,10})(?:-([1-9a-f][0-9a-f]{0,7}))?$")
_ALLOWED = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

LinkProblem = Literal["missing_key", "malformed", "bad_signature", "expired"]
MAX_GENERATION = 0xFFFFFFFF


class LinkError(Exception):
    """A payload that links nothing; ``problem`` says why, for logs and the customer's polite answer."""

    def __init__(self, problem: LinkProblem, message: str) -> None:
        super().__init__(message)
        self.problem: LinkProblem = problem


@dataclass(frozen=True, slots=True)
class LinkTarget:
    customer_id: int
    event_id: int | None
    expires_at: datetime
    generation: int = 0


def _key(signing_key: SecretStr | None) -> bytes:
    if signing_key is None or not signing_key.get_secret_value():
        raise LinkError("missing_key", "links.signing_key is not set (MOMENTO_LINKS__SIGNING_KEY)")
    return signing_key.get_secret_value().encode("utf-8")


def _sign(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def make_start_payload(
    signing_key: SecretStr | None,
    customer_id: int,
    *,
    event_id: int | None = None,
    ttl: timedelta,
    now: datetime | None = None,
    generation: int = 0,
) -> str:
    """A payload for /start that names *customer_id* (and optionally one touchpoint event), valid for the
    customer's link *generation*."""
    if customer_id < 0 or (event_id is not None and event_id < 0):
        raise ValueError("ids must not be negative")
    if not 0 <= generation <= MAX_GENERATION:
        raise ValueError("link generation out of range")
    moment = now or datetime.now(UTC)
    expiry_minutes = int((moment + ttl).timestamp() // 60) + 1
    body = f"{customer_id:x}-{'' if event_id is None else format(event_id, 'x')}-{expiry_minutes:x}"
    if generation:
        body += f"-{generation:x}"
    payload = body + _sign(_key(signing_key), body)
    if len(payload) > MAX_PAYLOAD_CHARS:
        raise ValueError("ids too large for a Telegram deep link")
    return payload


def verify_start_payload(
    signing_key: SecretStr | None, payload: str, *, now: datetime | None = None
) -> LinkTarget:
    """The customer (and event) a genuine, unexpired payload names; LinkError otherwise."""
    key = _key(signing_key)
    if not _ALLOWED.match(payload) or len(payload) <= _SIGNATURE_CHARS:
        raise LinkError("malformed", "not a Momento link")
    body, signature = payload[:-_SIGNATURE_CHARS], payload[-_SIGNATURE_CHARS:]
    if not hmac.compare_digest(_sign(key, body), signature):
        raise LinkError("bad_signature", "the link's signature does not match")
    match = _BODY.match(body)
    if match is None:
        raise LinkError("malformed", "not a Momento link")
    customer_hex, event_hex, expiry_hex, generation_hex = match.groups()
    expires_at = datetime.fromtimestamp(int(expiry_hex, 16) * 60, UTC)
    if (now or datetime.now(UTC)) >= expires_at:
        raise LinkError("expired", "the link has expired")
    return LinkTarget(
        customer_id=int(customer_hex, 16),
        event_id=int(event_hex, 16) if event_hex else None,
        expires_at=expires_at,
        generation=int(generation_hex, 16) if generation_hex else 0,
    )


def deep_link(bot_username: str, payload: str) -> str:
    """The t.me URL to print or encode as a QR code."""
    if not _ALLOWED.match(payload):
        raise ValueError("payload must be 1–64 characters of A–Z a–z 0–9 _ -")
    return f"https://t.me/{bot_username.lstrip('@')}?start={payload}"

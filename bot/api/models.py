"""The ingestion API's request and response shapes, shared by the HTTP server, CSV import and OpenAPI schema.

Validation lives here once, so a bad row in a CSV file and a bad event in a POST are refused for the same
reasons with the same wording.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from bot.config import SUPPORTED_LANGUAGES, known_timezone, spoken_language

# Customers created by the bot itself (someone wrote to it without a link) get "tg:<user id>".
RESERVED_PREFIX = "tg:"
# An event more than this far in the future is a clock or time-zone mistake on the sender's side.
FUTURE_TOLERANCE = timedelta(minutes=10)
MAX_BATCH = 1000
MAX_ATTRIBUTES = 50

ExternalId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=r"^[^\s\x00-\x1f]+$")
]
TouchpointKey = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z][a-z0-9_]{0,31}$")]
MAX_ATTRIBUTE_CHARS = 1000

EventReason = Literal[
    "invalid",
    "unknown_touchpoint",
    "inactive_touchpoint",
    "unknown_customer",
    "customer_not_linked",
    "no_consent",
    "opted_out",
    "unreachable",
    "erased",
    "too_late",
    "frequency_cap",
    "duplicate",
    "other",
]
EventOutcome = Literal["scheduled", "not_scheduled", "rejected"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CustomerIn(_Model):
    """A customer as the company's systems know them; fields left out keep what Momento already has."""

    external_id: ExternalId = Field(description="The company's own customer id (idempotency key).")
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="Display name used in greetings and staff views."
    )
    language: str | None = Field(
        default=None,
        description="Survey language.",
        json_schema_extra={"enum": [*SUPPORTED_LANGUAGES, None]},
    )
    timezone: str | None = Field(default=None, description="IANA time zone, e.g. Europe/Madrid.")
    # Upper case is accepted (and stored lower case), so the pattern says so too.
    tier: Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")] | None = Field(
        default=None, description="Customer segment, e.g. standard, gold (stored in lower case)."
    )

    @field_validator("external_id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value.startswith(RESERVED_PREFIX):
            raise ValueError(
                f"ids starting with {RESERVED_PREFIX!r} are reserved for customers the bot creates"
            )
        return value

    @field_validator("language", "tier", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("language")
    @classmethod
    def _spoken_language(cls, value: str | None) -> str | None:
        return None if value is None else spoken_language(value)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        return None if value is None else known_timezone(value)


class EventIn(_Model):
    """One touchpoint a customer just had."""

    external_id: ExternalId = Field(description="The sender's own event id (idempotency key).")
    customer_external_id: ExternalId = Field(description="The customer's external id.")
    touchpoint: TouchpointKey = Field(description="Touchpoint key from the configuration, e.g. delivery.")
    occurred_at: AwareDatetime = Field(description="When it happened, ISO 8601 with an offset.")
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        description="Order id, store, agent, amount ... (flat JSON: text, numbers, booleans).",
    )

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _text_only(cls, value: Any) -> Any:
        # JSON has no dates: only ISO 8601 text is one (pydantic would read a bare number as Unix time).
        if not isinstance(value, str | datetime):
            raise ValueError("must be an ISO 8601 date-time text with an offset")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _not_in_future(cls, value: datetime) -> datetime:
        if value - datetime.now(UTC) > FUTURE_TOLERANCE:
            raise ValueError("lies in the future (check the clock and the time-zone offset)")
        return value.astimezone(UTC)

    @field_validator("attributes")
    @classmethod
    def _flat_and_small(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > MAX_ATTRIBUTES:
            raise ValueError(f"at most {MAX_ATTRIBUTES} attributes")
        for name, item in value.items():
            if not name or len(name) > 64:
                raise ValueError(f"attribute name {name[:70]!r} must have 1 to 64 characters")
            if item is not None and not isinstance(item, str | int | float | bool):
                raise ValueError(f"{name!r} must be text, a number, true/false or null (no lists or objects)")
            if isinstance(item, float) and not math.isfinite(item):
                # NaN/Infinity are not JSON: stored, they break json_extract and /mydata later.
                raise ValueError(f"{name!r} must be a finite number (not NaN or Infinity)")
            if isinstance(item, str) and len(item) > MAX_ATTRIBUTE_CHARS:
                raise ValueError(f"{name!r} is longer than {MAX_ATTRIBUTE_CHARS} characters")
        return value


class EventBatchIn(_Model):
    """Several events in one call; each is validated and answered on its own."""

    events: list[dict[str, Any]] = Field(
        min_length=1, max_length=MAX_BATCH, description="Events (same shape as a single event)."
    )


class FieldError(BaseModel):
    path: str = Field(description="Dotted path of the field, e.g. events.2.occurred_at.")
    message: str
    type: str


class ErrorResponse(BaseModel):
    error: str
    message: str
    errors: list[FieldError] = Field(default_factory=list)


class CustomerOut(BaseModel):
    id: int
    external_id: str
    name: str | None
    language: str | None
    timezone: str | None
    tier: str
    linked: bool = Field(description="Whether the customer has opened the bot through their link.")
    consent: str
    created: bool = Field(description="True when this call created the customer.")


class SurveyOut(BaseModel):
    id: int
    status: str
    scheduled_at: datetime | None = None


class EventResult(BaseModel):
    index: int = Field(description="Position in the request (0 for a single event).")
    external_id: str | None
    outcome: EventOutcome
    reason: EventReason | None = None
    message: str | None = None
    event_id: int | None = None
    customer_created: bool = False
    survey: SurveyOut | None = None
    errors: list[FieldError] = Field(default_factory=list)


class EventsResponse(BaseModel):
    results: list[EventResult]
    counts: dict[str, int] = Field(description="How many events ended scheduled / not_scheduled / rejected.")


class LinkOut(BaseModel):
    customer_external_id: str
    link: str = Field(description="https://t.me/<bot>?start=<signed payload>")
    payload: str
    expires_at: datetime
    qr_png_base64: str = Field(description="The link as a QR code, PNG, base64 (or ?format=png).")


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: bool
    bot: bool | None = None


def field_errors(exc: ValidationError, *, prefix: tuple[str | int, ...] = ()) -> list[FieldError]:
    """Pydantic errors as dotted paths a caller can find in their own payload."""
    found = []
    for error in exc.errors(include_url=False):
        location = (*prefix, *error["loc"])
        path = ".".join(str(piece) for piece in location) or "(body)"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "missing":
            message = "required field is missing"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        found.append(FieldError(path=path, message=message, type=error["type"]))
    return found


class AlertActionIn(_Model):
    """A help desk acknowledging or resolving an alert (both fields optional: an empty body is fine)."""

    # Who acted, as a Telegram user id the team knows (shown on the card); none: "—".
    staff_user_id: int | None = Field(default=None, ge=1)
    # Kept with the alert (e.g. the ticket number in the help desk).
    notes: str | None = Field(default=None, max_length=2000)


class AlertOut(BaseModel):
    id: int
    status: Literal["open", "acknowledged", "resolved"]
    severity: str
    reason: str
    customer_external_id: str | None
    callback_requested: bool
    assignee_user_id: int | None
    notes: str | None
    created_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    # Whether the card in the team chat shows the new status (false: it is retried with the next change).
    card_updated: bool

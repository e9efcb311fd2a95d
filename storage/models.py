"""Typed rows: what the repositories return, so callers never index a database row by name.

Every datetime is timezone-aware UTC; JSON columns come back as dicts. The objects are frozen: a change goes
through a repository function, which returns the new row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

Consent = Literal["unknown", "granted", "opted_out"]
TouchpointKind = Literal["direct", "indirect"]
SurveyKind = Literal["touchpoint", "general", "recovery_followup"]
SurveyStatus = Literal[
    "scheduled", "invited", "in_progress", "completed", "declined", "expired", "failed", "skipped"
]
AnalysisState = Literal["pending", "done", "failed", "not_applicable"]
Severity = Literal["low", "medium", "high"]
AlertStatus = Literal["open", "acknowledged", "resolved"]
Role = Literal["staff", "admin"]

SURVEY_STATUSES: tuple[SurveyStatus, ...] = (
    "scheduled",
    "invited",
    "in_progress",
    "completed",
    "declined",
    "expired",
    "failed",
    "skipped",
)
ACTIVE_SURVEY_STATUSES: tuple[SurveyStatus, ...] = ("invited", "in_progress")


@dataclass(frozen=True, slots=True)
class Customer:
    id: int
    external_id: str
    telegram_user_id: int | None
    telegram_chat_id: int | None
    display_name: str | None
    language: str | None
    timezone: str | None
    tier: str
    consent: Consent
    opted_out_at: datetime | None
    unreachable_at: datetime | None
    erased_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def segment(self) -> str:
        """Reports speak of segments; the schema calls the column tier."""
        return self.tier

    @property
    def reachable(self) -> bool:
        """May the bot write to this customer at all (linked, not blocked, not opted out, not erased)?"""
        return (
            self.telegram_chat_id is not None
            and self.unreachable_at is None
            and self.consent != "opted_out"
            and self.erased_at is None
        )


@dataclass(frozen=True, slots=True)
class TouchpointSpec:
    """A touchpoint as the config declares it; synchronised into the touchpoints table at start-up."""

    key: str
    names: dict[str, str]
    kind: TouchpointKind
    stage: int
    weight: float
    channel: str


@dataclass(frozen=True, slots=True)
class Touchpoint(TouchpointSpec):
    """A touchpoint as stored: the spec it was synchronised from, plus the row's own id, whether the config
    still declares it (``active``) and when it last changed."""

    id: int
    active: bool
    updated_at: datetime

    def name(self, language: str | None) -> str:
        """The name in *language*, else English, else the key: a missing translation never shows blank."""
        if language and language in self.names:
            return self.names[language]
        return self.names.get("en") or self.key


@dataclass(frozen=True, slots=True)
class TouchpointEvent:
    id: int
    external_id: str
    customer_id: int
    touchpoint_id: int
    occurred_at: datetime
    attributes: dict[str, Any]
    amount: float | None
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Survey:
    id: int
    customer_id: int
    event_id: int | None
    touchpoint_id: int | None
    kind: SurveyKind
    status: SurveyStatus
    skip_reason: str | None
    step: str | None
    state: dict[str, Any]
    language: str | None
    scheduled_at: datetime
    claimed_at: datetime | None
    invited_at: datetime | None
    invitation_message_id: int | None
    reminded_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    expires_at: datetime | None
    attempts: int
    last_error: str | None
    created_at: datetime
    # The invitation's send began and Telegram's answer is not recorded yet (see migration 0003).
    sending_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AnalysisRecord:
    id: int
    answer_id: int
    model_id: str
    model_version: str
    sentiment: str
    sentiment_scores: dict[str, float]
    sentiment_score: float
    emotion: str
    emotion_scores: dict[str, float]
    analysed_at: datetime


@dataclass(frozen=True, slots=True)
class Answer:
    id: int
    survey_id: int | None
    customer_id: int
    touchpoint_id: int | None
    question: str
    text: str | None
    rating: int | None
    language: str | None
    truncated: bool
    chat_id: int | None
    message_id: int | None
    received_at: datetime
    edited_at: datetime | None
    analysis_state: AnalysisState
    analysis_attempts: int
    current_analysis_id: int | None
    # Filled by the repository functions that join the current analysis (answers_for_survey, exports).
    analysis: AnalysisRecord | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    survey_id: int | None
    customer_id: int
    touchpoint_id: int | None
    reason: str
    severity: Severity
    status: AlertStatus
    callback_requested: bool
    assignee_user_id: int | None
    notes: str | None
    posted_chat_id: int | None
    posted_message_id: int | None
    posted_at: datetime | None
    created_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    followup_survey_id: int | None
    card_text: str | None = None  # the card as last shown to the team
    contact_phone: str | None = None  # shared by the customer with the call-back request


@dataclass(frozen=True, slots=True)
class StaffMember:
    telegram_user_id: int
    role: Role
    display_name: str | None
    added_by: int | None
    added_at: datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    actor: str
    action: str
    subject: str | None
    details: dict[str, Any]
    at: datetime


class AnalysisResult(Protocol):
    """What a classifier hands to ``answers.save_analysis`` (``sentiment.Analysis`` fits; storage does not
    import sentiment)."""

    @property
    def sentiment(self) -> str: ...
    @property
    def sentiment_scores(self) -> dict[str, float]: ...
    @property
    def emotion(self) -> str: ...
    @property
    def emotion_scores(self) -> dict[str, float]: ...
    @property
    def model_id(self) -> str: ...
    @property
    def model_version(self) -> str: ...


class NotFoundError(LookupError):
    """A repository write named a row that does not exist (a programming error, not user input)."""

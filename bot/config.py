"""Settings: one TOML file plus environment overrides; secrets only from the environment or a secrets file.

Precedence, highest first: environment (``MOMENTO_`` prefix, ``__`` for nesting), the secrets file
(dotenv format, same names), the TOML file. Secrets are refused in the TOML so they never end up in a
file that gets committed or mailed around.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from sentiment.settings import ClassifierSettings

# Human-friendly durations ("2h", "1d", "90m") for the config file, where ISO 8601 would be hostile.
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


def parse_duration(value: object) -> timedelta:
    """Accept "2h", "1d12h", "45m", a number of seconds, or a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '2h' or '1d'")
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if text and _PART.sub("", text) == "":
            return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in _PART.findall(text)))
    raise ValueError(f"expected a duration such as '2h', '30m' or '1d', got {value!r}")


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]


def spoken_language(value: str) -> str:
    """*value* if Momento has a catalogue for it; the settings and the API refuse anything else alike."""
    if value not in SUPPORTED_LANGUAGES:
        raise ValueError(f"unknown language {value!r} (Momento speaks {', '.join(SUPPORTED_LANGUAGES)})")
    return value


def known_timezone(value: str) -> str:
    """*value* if it names an IANA time zone; the settings and the API refuse anything else alike."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Madrid)") from exc
    return value


DEFAULT_CONFIG_PATH = Path("config.toml")
CONFIG_ENV = "MOMENTO_CONFIG"
SECRETS_FILE_ENV = "MOMENTO_SECRETS_FILE"
# The languages Momento speaks are the catalogues it ships (bot/locale/<lang>/LC_MESSAGES/momento.po):
# adding a language is adding its catalogue, nothing in the code.
SUPPORTED_LANGUAGES: tuple[str, ...] = tuple(
    sorted(
        entry.name
        for entry in (Path(__file__).resolve().parent / "locale").iterdir()
        if (entry / "LC_MESSAGES" / "momento.po").is_file()
    )
)

# Dotted paths that hold secrets: refused in the TOML, masked when printed.
SECRET_FIELDS = (
    "telegram.token",
    "webhook.secret_token",
    "links.signing_key",
    "api.keys",
    "metrics.key",
    "storage.password",
)
# Per outgoing webhook: MOMENTO_WEBHOOK_SECRETS__<NAME> (a table of secrets, refused in the TOML as a whole).
WEBHOOK_SECRETS = "webhook_secrets"

# What an outgoing webhook can subscribe to (docs/webhooks.md describes each payload).
WEBHOOK_EVENTS = (
    "survey.completed",
    "answer.analysed",
    "alert.opened",
    "alert.acknowledged",
    "alert.resolved",
    "callback.requested",
    "theme.alert",
)
WebhookEvent = Literal[
    "survey.completed",
    "answer.analysed",
    "alert.opened",
    "alert.acknowledged",
    "alert.resolved",
    "callback.requested",
    "theme.alert",
]


class ConfigError(Exception):
    """A configuration problem, phrased as one line that names the field and the file."""


class StartupError(Exception):
    """A known reason the bot cannot start (database locked or newer, model missing), phrased as one line
    that names the cause and what to do; the CLI prints it without a traceback."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TelegramSettings(_Section):
    # Secret: MOMENTO_TELEGRAM__TOKEN.
    token: SecretStr | None = None
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    mode: Literal["polling", "webhook"] = "polling"
    staff_chat_id: int | None = None
    admin_user_ids: list[int] = Field(default_factory=list)
    # Seconds between two messages to the same private chat (Telegram allows about one per second).
    per_chat_interval: float = Field(default=1.0, ge=0.0, le=60.0)
    # Retries of the rate limiter on 429 before giving up a call.
    max_retries: int = Field(default=3, ge=0, le=20)

    @field_validator("base_url", "base_file_url")
    @classmethod
    def _must_end_with_bot(cls, value: str) -> str:
        value = value.rstrip("/")
        if not value.endswith("/bot"):
            raise ValueError("must end with '/bot' (the token is appended to it)")
        return value


class WebhookSettings(_Section):
    # Public HTTPS URL Telegram posts updates to, e.g. https://cx.example.com/telegram.
    public_url: str | None = None
    path: str = "/telegram"
    # Secret: MOMENTO_WEBHOOK__SECRET_TOKEN (checked against X-Telegram-Bot-Api-Secret-Token).
    secret_token: SecretStr | None = None


class ServerSettings(_Section):
    """The HTTP server that hosts the ingestion API and, in webhook mode, Telegram's updates."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)


class ApiSettings(_Section):
    # Secret: MOMENTO_API__KEYS='["key-one","key-two"]' — bearer keys accepted by the ingestion API.
    keys: list[SecretStr] = Field(default_factory=list)


class LinkSettings(_Section):
    # Secret: MOMENTO_LINKS__SIGNING_KEY — HMAC key for deep-link payloads.
    signing_key: SecretStr | None = None
    # How long a printed link stays valid.
    ttl: Duration = timedelta(days=90)


POSTGRESQL_SCHEMES = ("postgresql://", "postgres://")
SQLITE_SCHEME = "sqlite:///"


class StorageSettings(_Section):
    """Where the data lives: one SQLite file (the default), or a PostgreSQL database for several processes."""

    # sqlite:///path/momento.db (a bare path also means SQLite) or postgresql://user@host:port/dbname.
    url: str | None = None
    # The SQLite file when url is unset (configs written before storage.url); derived from a sqlite url.
    path: Path = Path("momento.db")
    # Secret (PostgreSQL): MOMENTO_STORAGE__PASSWORD, never in the URL or the TOML.
    password: SecretStr | None = None

    @model_validator(mode="after")
    def _one_target(self) -> StorageSettings:
        url = self.url
        if url is None:
            return self
        if url.startswith(POSTGRESQL_SCHEMES):
            parts = urlsplit(url)
            try:
                parts.port  # noqa: B018 (reading it validates it)
            except ValueError as exc:
                raise ValueError(f"storage.url: {exc}") from None
            if parts.password is not None:
                raise ValueError(
                    "storage.url must not carry the password: set MOMENTO_STORAGE__PASSWORD in the "
                    "environment or the secrets file"
                )
            if not parts.hostname or not parts.path.strip("/"):
                raise ValueError("storage.url: write postgresql://user@host:port/dbname")
        elif url.startswith(SQLITE_SCHEME):
            self.path = Path(url[len(SQLITE_SCHEME) :])
        elif "://" not in url:
            self.path = Path(url)
        else:
            raise ValueError(
                "storage.url: sqlite:///path/momento.db (or a bare path) or postgresql://user@host:port/dbname"
            )
        return self

    @property
    def engine(self) -> Literal["sqlite", "postgresql"]:
        return "postgresql" if self.url is not None and self.url.startswith(POSTGRESQL_SCHEMES) else "sqlite"

    @property
    def target(self) -> str | Path:
        """What ``storage.Database.open`` takes: the PostgreSQL URL, or the SQLite file."""
        return self.url if self.url is not None and self.engine == "postgresql" else self.path

    @property
    def local_path(self) -> Path:
        """Where this host keeps the small journals beside the data (sent confirmations, invitations that
        left): the SQLite file itself, or for PostgreSQL a name of the database in the directory of *path*,
        so two databases never share journals."""
        if self.engine == "sqlite" or self.url is None:
            return self.path
        parts = urlsplit(self.url)
        return self.path.with_name(f"{parts.path.strip('/')}@{parts.hostname}-{parts.port or 5432}")

    @property
    def password_value(self) -> str | None:
        return self.password.get_secret_value() if self.password is not None else None

    def describe(self) -> str:
        """The database as it may be printed (no password is ever part of it)."""
        return str(self.target)


class SurveySettings(_Section):
    # One of the languages with a catalogue in bot/locale.
    default_language: str = "en"
    default_timezone: str = "UTC"
    # Local time window in which no invitation or reminder is sent.
    quiet_hours_start: time = time(21, 0)
    quiet_hours_end: time = time(9, 0)
    # A customer is invited at most once within this window, whatever the touchpoint.
    frequency_cap: Duration = timedelta(days=14)
    # How often the outreach clock looks for due invitations, reminders and expiries.
    tick_interval: Duration = timedelta(seconds=30)
    # Longer answers are stored truncated and flagged.
    max_answer_chars: int = Field(default=4000, ge=100, le=4096)
    # After an alert is resolved, survey the customer again this long afterwards.
    recovery_followup_after: Duration = timedelta(days=7)

    @field_validator("default_language")
    @classmethod
    def _spoken_language(cls, value: str) -> str:
        return spoken_language(value)

    @field_validator("default_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return known_timezone(value)


class CompanySettings(_Section):
    """Whose customers the bot listens to: the name the welcome says, per language (names.<lang>)."""

    name: str = ""
    names: dict[str, str] = Field(default_factory=dict)

    def name_in(self, language: str) -> str:
        return self.names.get(language) or self.name


class TouchpointTexts(_Section):
    """Per-language wording of one touchpoint's script; anything left out uses Momento's defaults."""

    invitation: str | None = None
    expectation: str | None = None
    experience: str | None = None
    rating: str | None = None
    improvement: str | None = None
    callback_offer: str | None = None
    thanks: str | None = None
    # What happens after "Yes, call me" (e.g. "our delivery team will call you within one working day").
    callback_next: str | None = None


class DeclaredThemeSettings(_Section):
    """A theme the company names for a touchpoint: answers close to one of its example phrases join it."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    names: dict[str, str]
    # Example phrases per language ({en = ["late again"], es = ["llegó tarde"]}): encoded by the model.
    examples: dict[str, list[str]] = Field(default_factory=dict)
    # The follow-up question asked when a negative experience answer matches this theme, per language
    # ({name} is the customer's name); without one, Momento's default for common keys (late_delivery,
    # damaged_item, rude_staff, long_wait, refund), else the generic question.
    question: dict[str, str] = Field(default_factory=dict)

    @field_validator("names")
    @classmethod
    def _english_theme_name(cls, value: dict[str, str]) -> dict[str, str]:
        if "en" not in value:
            raise ValueError("needs at least an English name (names.en)")
        return value

    @field_validator("examples")
    @classmethod
    def _some_examples(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        if not any(phrase.strip() for phrases in value.values() for phrase in phrases):
            raise ValueError("needs at least one example phrase (examples.en = [...])")
        return value


class ThemesSettings(_Section):
    """`[themes]`: grouping answers by what they talk about, precomputed on the clock for /themes."""

    # Off by default: the clock's grouping runs read every vector of the period (see docs/themes.md).
    enabled: bool = False
    # How often the current week's and month's themes are recomputed.
    interval: Duration = timedelta(hours=1)
    # Cosine (after per-language centring) to the nearest example phrase for a declared theme to take it.
    declared_threshold: float = Field(default=0.30, ge=-1.0, le=1.0)
    max_themes: int = Field(default=12, ge=2, le=50)
    min_theme_size: int = Field(default=3, ge=2)
    # The theme-specific follow-up: a negative experience answer whose centred cosine to a declared theme's
    # nearest example reaches this asks that theme's question (touchpoints.themes.question) instead of the
    # generic "what could we have done better?". Needs declared themes; works without `enabled`.
    followup_threshold: float = Field(default=0.35, ge=-1.0, le=1.0)
    # Theme alerts (one card per spike, to the touchpoint's team chat): a theme's negative answers this week
    # reach alert_growth times its mean over the alert_baseline_weeks before (and at least
    # alert_min_negative), or a theme not seen in those weeks has at least alert_new_theme_min negative ones.
    alerts: bool = True
    alert_growth: float = Field(default=2.0, ge=1.0)
    alert_min_negative: int = Field(default=5, ge=1)
    alert_baseline_weeks: int = Field(default=4, ge=1, le=52)
    alert_new_theme_min: int = Field(default=5, ge=1)


class TouchpointSettings(_Section):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    names: dict[str, str]
    kind: Literal["direct", "indirect"] = "direct"
    # Position in the customer journey (1 = first).
    stage: int = Field(default=1, ge=1)
    # The journey is meant to end here (e.g. delivery): customers who go no further did not drop out. The
    # touchpoints of the last stage are journey ends whether marked or not.
    journey_end: bool = False
    # How much this touchpoint matters when two compete for one customer, and in driver analysis.
    weight: float = Field(default=1.0, gt=0)
    channel: str = "other"
    invite_delay: Duration = timedelta(hours=2)
    reminder_delay: Duration = timedelta(hours=24)
    expiry: Duration = timedelta(days=3)
    # Chat that receives this touchpoint's alerts; none means the staff chat.
    team_chat_id: int | None = None
    texts: dict[str, TouchpointTexts] = Field(default_factory=dict)
    # Declared themes of this touchpoint ([[touchpoints.themes]]); what fits none is discovered.
    themes: list[DeclaredThemeSettings] = Field(default_factory=list)

    @field_validator("names")
    @classmethod
    def _english_name_required(cls, value: dict[str, str]) -> dict[str, str]:
        if "en" not in value:
            raise ValueError("needs at least an English name (names.en)")
        return value

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names["en"]


class ReportSettings(_Section):
    # A later event within this window counts as the customer coming back.
    comeback_window: Duration = timedelta(days=60)
    # What counts as coming back: a later event at one of these touchpoints (a new purchase, a new visit),
    # never a support call after a bad delivery. Empty: the touchpoints of the first journey stage.
    comeback_touchpoints: list[str] = Field(default_factory=list)
    # Company name in chart titles (issue 15 may move it to [company] name; reports read it in one place).
    company_name: str = ""
    # Minimum CSAT share (0–1) each customer tier must reach; tiers below are flagged by /segments.
    tier_minimum_csat: dict[str, float] = Field(default_factory=dict)
    digest: Literal["off", "daily", "weekly"] = "daily"
    # Local time (survey.default_timezone) at which the digest is posted to the staff chat.
    digest_time: time = time(8, 30)


def _retention(value: object) -> timedelta | None:
    """ "off" (or nothing) keeps answers until a customer erases them; else a duration of at least a day."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "off")):
        return None
    period = parse_duration(value)
    if period < timedelta(days=1):
        raise ValueError('must be at least 1d, or "off"')
    return period


class PrivacySettings(_Section):
    # Answers older than this are anonymised every night (texts and identities gone; ratings, labels and
    # dates kept), e.g. "365d"; "off" keeps them until the customer erases them.
    retention: Annotated[
        timedelta | None,
        BeforeValidator(_retention),
        PlainSerializer(lambda v: "off" if v is None else format_duration(v), return_type=str),
    ] = None
    # Local time (survey.default_timezone) of the nightly retention run.
    retention_time: time = time(3, 30)


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # "json": one JSON object per line (for a log shipper); "text": one readable line per record.
    format: Literal["text", "json"] = "text"


class OutgoingWebhookSettings(_Section):
    """One receiver of Momento's events (a CRM, a help desk); secret: MOMENTO_WEBHOOK_SECRETS__<NAME>."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    url: str = Field(pattern=r"^https?://\S+$")
    events: list[WebhookEvent] = Field(min_length=1)
    enabled: bool = True


class WebhookDeliverySettings(_Section):
    """How the clock sends webhook deliveries: at least once, in order per customer, with back-off."""

    # A receiver that has not answered within this long counts as failed (the clock never waits on it).
    timeout: Duration = timedelta(seconds=5)
    # Back-off after a failed attempt: retry_base, doubled each attempt, never more than retry_cap.
    retry_base: Duration = timedelta(seconds=10)
    retry_cap: Duration = timedelta(hours=1)
    # After this many failed attempts a delivery stops holding its customer's queue (`momento webhooks
    # retry` sends it again).
    max_attempts: int = Field(default=30, ge=1, le=1000)
    # Deliveries in flight at once (each to a different webhook and customer).
    concurrency: int = Field(default=8, ge=1, le=256)


class MetricsSettings(_Section):
    # Secret: MOMENTO_METRICS__KEY — bearer key for /metrics; without it /metrics answers only on localhost.
    key: SecretStr | None = None


class Settings(BaseSettings):
    """Everything Momento can be told; build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="MOMENTO_",
        env_nested_delimiter="__",
        extra="forbid",
        env_file_encoding="utf-8",
    )

    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    links: LinkSettings = Field(default_factory=LinkSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    sentiment: ClassifierSettings = Field(default_factory=ClassifierSettings)
    survey: SurveySettings = Field(default_factory=SurveySettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    company: CompanySettings = Field(default_factory=CompanySettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    touchpoints: list[TouchpointSettings] = Field(default_factory=list)
    webhooks: list[OutgoingWebhookSettings] = Field(default_factory=list)
    webhook_delivery: WebhookDeliverySettings = Field(default_factory=WebhookDeliverySettings)
    themes: ThemesSettings = Field(default_factory=ThemesSettings)
    # Secrets only (environment or secrets file): MOMENTO_WEBHOOK_SECRETS__<NAME>=...
    webhook_secrets: dict[str, SecretStr] = Field(default_factory=dict)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML arrives as init kwargs, so it must rank lowest.
        return (env_settings, dotenv_settings, init_settings)

    @model_validator(mode="after")
    def _unique_touchpoints(self) -> Settings:
        seen: set[str] = set()
        for touchpoint in self.touchpoints:
            if touchpoint.key in seen:
                raise ValueError(f"touchpoint key {touchpoint.key!r} appears twice")
            seen.add(touchpoint.key)
        names: set[str] = set()
        for webhook in self.webhooks:
            if webhook.name in names:
                raise ValueError(f"webhook name {webhook.name!r} appears twice")
            names.add(webhook.name)
            if not self.webhook_secret(webhook.name):
                raise ValueError(
                    f"webhook {webhook.name!r} has no secret: set MOMENTO_WEBHOOK_SECRETS__"
                    f"{webhook.name.upper()} in the environment or the secrets file"
                )
        unknown = [key for key in self.reports.comeback_touchpoints if key not in seen]
        if unknown:
            raise ValueError(
                f"reports.comeback_touchpoints names unknown touchpoint(s): {', '.join(unknown)}"
            )
        return self

    def journey_ends(self) -> set[str]:
        """Touchpoints where the journey is meant to end: marked ``journey_end``, or of the last stage."""
        last = max((tp.stage for tp in self.touchpoints), default=0)
        return {tp.key for tp in self.touchpoints if tp.journey_end or tp.stage == last}

    def comeback_keys(self) -> set[str]:
        """Touchpoints whose event means the customer came back (default: the first journey stage)."""
        if self.reports.comeback_touchpoints:
            return set(self.reports.comeback_touchpoints)
        first = min((tp.stage for tp in self.touchpoints), default=0)
        return {tp.key for tp in self.touchpoints if tp.stage == first}

    def webhook_secret(self, name: str) -> SecretStr | None:
        secret = self.webhook_secrets.get(name) or self.webhook_secrets.get(name.upper())
        return secret if secret is not None and secret.get_secret_value() else None

    def webhooks_for(self, event_type: str) -> list[str]:
        """The names of the enabled webhooks subscribed to *event_type* (empty: record nothing)."""
        return [w.name for w in self.webhooks if w.enabled and event_type in w.events]

    def touchpoint(self, key: str) -> TouchpointSettings | None:
        return next((tp for tp in self.touchpoints if tp.key == key), None)

    def require_token(self) -> SecretStr:
        if self.telegram.token is None or not self.telegram.token.get_secret_value().strip():
            raise ConfigError(
                "telegram.token is missing: "
                "set MOMENTO_TELEGRAM__TOKEN in the environment or the secrets file"
            )
        return self.telegram.token

    def masked(self) -> dict[str, Any]:
        """The effective settings as plain data, secrets shown only as set/unset."""
        data: dict[str, Any] = self.model_dump(mode="json")
        for dotted in SECRET_FIELDS:
            section, field = dotted.split(".")
            value = data[section][field]
            if isinstance(value, list):
                data[section][field] = [f"**** ({len(value)} set)"] if value else []
            else:
                data[section][field] = "**** (set)" if value else None
        data[WEBHOOK_SECRETS] = {name: "**** (set)" for name in data[WEBHOOK_SECRETS]}
        return data


def _find_secrets_in_toml(data: dict[str, Any]) -> list[str]:
    found = []
    for dotted in SECRET_FIELDS:
        section, field = dotted.split(".")
        table = data.get(section)
        if isinstance(table, dict) and field in table:
            found.append(dotted)
    if WEBHOOK_SECRETS in data:
        found.append(WEBHOOK_SECRETS)
    webhooks = data.get("webhooks")
    if isinstance(webhooks, list) and any(isinstance(w, dict) and "secret" in w for w in webhooks):
        found.append(WEBHOOK_SECRETS)
    return found


def _format_validation_error(exc: ValidationError, origin: str) -> str:
    parts = []
    for error in exc.errors():
        location = ".".join(str(piece) for piece in error["loc"]) or "(top level)"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown setting (check the spelling against config.example.toml)"
        elif error["type"] == "missing":
            message = "required setting is missing"
        value = error.get("input")
        secret = any(
            location == field or location.startswith(f"{field}.")
            for field in (*SECRET_FIELDS, WEBHOOK_SECRETS)
        )
        shown = (
            ""
            if error["type"] in {"missing", "extra_forbidden"} or isinstance(value, dict) or secret
            else f" (got {value!r})"
        )
        parts.append(f"{location}: {message}{shown}")
    return f"{origin}: invalid configuration: " + "; ".join(parts)


def resolve_config_path(path: str | Path | None) -> Path:
    if path is not None:
        return Path(path)
    from_env = os.environ.get(CONFIG_ENV)
    return Path(from_env) if from_env else DEFAULT_CONFIG_PATH


def load_settings(
    path: str | Path | None = None,
    *,
    secrets_file: str | Path | None = None,
    require_file: bool = True,
) -> Settings:
    """Read the TOML at *path* (or $MOMENTO_CONFIG, or ./config.toml), overlay secrets and environment.

    Raises ConfigError with one line naming the field and the file.
    """
    config_path = resolve_config_path(path)
    data: dict[str, Any] = {}
    if config_path.exists():
        try:
            data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path}: not valid TOML: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"{config_path}: cannot be read: {exc.strerror}") from exc
    elif require_file:
        raise ConfigError(
            f"{config_path}: config file not found (create one with `momento init` or pass --config PATH)"
        )
    leaked = _find_secrets_in_toml(data)
    if leaked:
        field = leaked[0]
        env_name = "MOMENTO_" + field.upper().replace(".", "__")
        if field == WEBHOOK_SECRETS:
            field, env_name = "a webhook secret", "MOMENTO_WEBHOOK_SECRETS__<NAME>"
        raise ConfigError(
            f"{config_path}: {field} is a secret and must not be in the config file; "
            f"set {env_name} in the environment or the secrets file instead"
        )
    secrets = secrets_file if secrets_file is not None else os.environ.get(SECRETS_FILE_ENV)
    if secrets is not None and not Path(secrets).is_file():
        raise ConfigError(f"{secrets}: secrets file not found")
    origin = f"{config_path} (or the environment)" if config_path.exists() else "environment"
    try:
        return Settings(_env_file=secrets, **data)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, origin)) from exc
    except SettingsError as exc:
        # A variable that must be JSON is not (its value is never repeated: it may be a secret).
        found = re.search(r'field "(\w+)"', str(exc))
        section = found.group(1) if found else "a setting"
        raise ConfigError(
            f"{origin}: a MOMENTO_{section.upper()}__* value is not valid JSON "
            '(lists are written like \'["one","two"]\')'
        ) from None


# --- secrets never in a log line -------------------------------------------------------------------------

REDACTED = "****"
_MIN_SECRET_CHARS = 4  # shorter values would blank out ordinary words; such a secret is no secret anyway


def secret_values(settings: Settings) -> list[str]:
    """Every secret the settings hold, as the text that could leak: the bot token (and its secret half,
    which Telegram's URLs and some error messages show alone), the webhook secret, the link signing key,
    the API keys."""
    values: list[str] = []
    secrets: list[SecretStr | None] = [
        settings.telegram.token,
        settings.webhook.secret_token,
        settings.links.signing_key,
        *settings.api.keys,
        settings.metrics.key,
        *settings.webhook_secrets.values(),
    ]
    for secret in secrets:
        if secret is None:
            continue
        value = secret.get_secret_value().strip()
        values.append(value)
        if ":" in value:
            values.append(value.split(":", 1)[1])
    return sorted({v for v in values if len(v) >= _MIN_SECRET_CHARS}, key=len, reverse=True)


class RedactSecrets(logging.Filter):
    """Replaces every secret in a record's message, arguments and traceback with ****: PTB's and httpx's
    messages quote URLs with the token, exceptions may quote anything."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: logging reports it itself
            return True
        redacted = self.redact(message)
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def install_redaction(settings: Settings) -> RedactSecrets:
    """Put (or refresh) the redacting filter on every handler of the root logger, and on the "last
    resort" handler Python uses when none is configured."""
    secrets = secret_values(settings)
    handlers = [*logging.getLogger().handlers]
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    found: RedactSecrets | None = None
    for handler in handlers:
        for existing in handler.filters:
            if isinstance(existing, RedactSecrets):
                existing.secrets = secrets
                found = existing
                break
        else:
            found = found or RedactSecrets(secrets)
            handler.addFilter(found)
    return found or RedactSecrets(secrets)

"""What an operations team watches: Prometheus metrics, all named ``momento_*``, in one registry.

The rooms record into these as things happen (an update handled, a turn answered, an invitation sent); the
figures that live in the database (alerts open, webhook deliveries waiting, the file's size) are read when
``/metrics`` is scraped (bot.api.server), so a scrape always shows the current state, also after a restart.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

UPDATES_HANDLED = Counter(
    "momento_updates_handled", "Telegram updates handled (each once, also after a replay)", registry=REGISTRY
)
TURN_SECONDS = Histogram(
    "momento_turn_seconds",
    "Time from a customer's message reaching the engine to its reply being handed to Telegram",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
INVITATIONS_SENT = Counter("momento_invitations_sent", "Survey invitations Telegram took", registry=REGISTRY)
INVITATIONS_FAILED = Counter(
    "momento_invitations_failed", "Survey invitations that failed (retried later)", registry=REGISTRY
)
TELEGRAM_429 = Counter(
    "momento_telegram_rate_limited", "Bot API answers 429 Too Many Requests", registry=REGISTRY
)
CLASSIFIER_SECONDS = Histogram(
    "momento_classifier_seconds",
    "Time one call to the sentiment model took (a batch of answers)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)
CLASSIFIER_QUEUE = Gauge(
    "momento_classifier_queue_depth", "Answers waiting for, or inside, the sentiment model", registry=REGISTRY
)
ALERTS_OPEN = Gauge(
    "momento_alerts_open", "Alerts not yet resolved (open or acknowledged)", registry=REGISTRY
)
WEBHOOKS_PENDING = Gauge(
    "momento_webhook_deliveries_pending",
    "Webhook deliveries waiting to be sent",
    ["webhook"],
    registry=REGISTRY,
)
WEBHOOKS_FAILED = Gauge(
    "momento_webhook_deliveries_failed",
    "Webhook deliveries that gave up after webhook_delivery.max_attempts",
    ["webhook"],
    registry=REGISTRY,
)
WEBHOOK_ATTEMPTS = Counter(
    "momento_webhook_attempts",
    "Webhook delivery attempts, by webhook and outcome",
    ["webhook", "outcome"],
    registry=REGISTRY,
)
DATABASE_BYTES = Gauge(
    "momento_database_bytes",
    "Size of the database (SQLite: main file and write-ahead log; PostgreSQL: pg_database_size)",
    registry=REGISTRY,
)


def exposition() -> bytes:
    """The registry in Prometheus text format (version 0.0.4)."""
    return generate_latest(REGISTRY)


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

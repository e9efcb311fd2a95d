"""A help desk closes the loop: it resolves an alert through the HTTP API, the team's card in Telegram
changes, and the signed alert.resolved event reaches the help desk's webhook; /metrics shows the bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.api.server import create_app, serving
from bot.telegram.services import services
from storage import alerts as alert_repo
from storage.db import Database
from tests.conftest import STAFF_CHAT_ID, AppRunner, SettingsFactory
from tests.fakes.bot_api import BotApiEmulator
from tests.support.postgres import BOTH_ENGINES
from tests.support.receiver import Receiver, until
from tests.support.report_data import TOUCHPOINTS, seed_known
from tests.unit.outreach.test_webhooks import SECRET, reference_verify

pytestmark = pytest.mark.slow  # lends the real classifier to the Application

API_KEY = "api-key-for-the-helpdesk"
METRICS_KEY = "metrics-key-for-prometheus"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    await found.start()
    try:
        yield found
    finally:
        await found.stop()


@BOTH_ENGINES
async def test_an_alert_resolved_through_the_api_updates_the_card_and_reaches_the_webhook(
    running_app: AppRunner,
    settings_factory: SettingsFactory,
    classifier: Any,
    bot_api: BotApiEmulator,
    receiver: Receiver,
) -> None:
    settings = settings_factory(
        touchpoints=TOUCHPOINTS,
        reports={"digest": "off"},
        api={"keys": [API_KEY]},
        metrics={"key": METRICS_KEY},
        webhooks=[
            {
                "name": "helpdesk",
                "url": receiver.url("helpdesk"),
                "events": ["alert.acknowledged", "alert.resolved"],
            }
        ],
        webhook_secrets={"helpdesk": SECRET},
    )
    async with await Database.open(settings.storage.target) as db:
        await seed_known(db)
    app = await running_app(settings, classifier=classifier)
    db = services(app).db

    async def posted() -> bool:
        return not await alert_repo.unposted_alerts(db)

    await until(posted, 10)
    alert = next(a for a in await alert_repo.list_open_alerts(db) if a.posted_message_id is not None)
    api = create_app(settings, db, recovery=services(app).recovery)
    async with serving(api, "127.0.0.1", 0) as (_, base), httpx.AsyncClient(base_url=base) as client:
        refused = await client.post(f"/v1/alerts/{alert.id}/resolve")
        assert refused.status_code == 401
        auth = {"Authorization": f"Bearer {API_KEY}"}
        answer = await client.post(
            f"/v1/alerts/{alert.id}/resolve", json={"notes": "ticket HD-981"}, headers=auth
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "resolved" and answer.json()["card_updated"] is True
        again = await client.post(f"/v1/alerts/{alert.id}/resolve", headers=auth)
        assert again.status_code == 409 and again.json()["error"] == "conflict"
        missing = await client.post("/v1/alerts/999999/acknowledge", headers=auth)
        assert missing.status_code == 404

        # The card in the team chat now says resolved, without buttons.
        edits = [
            call
            for call in bot_api.calls_of("editMessageText")
            if call.chat_id == STAFF_CHAT_ID and call.message_id == alert.posted_message_id
        ]
        assert edits and "resolved" in (edits[-1].plain_text or "")
        assert edits[-1].buttons() == []

        # The help desk's webhook gets the signed event, sent by the bot's clock.
        await until(lambda: receiver.accepted.get("helpdesk"), 10)
        (got,) = receiver.accepted["helpdesk"]
        assert reference_verify(SECRET, got.headers["Momento-Signature"], got.body)
        event = got.event
        assert event["type"] == "alert.resolved"
        assert event["data"]["alert"]["id"] == alert.id and event["data"]["source"] == "api"
        assert event["data"]["alert"]["notes"] == "ticket HD-981"

        # /metrics: its own key, Prometheus text format that Prometheus's own parser reads.
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers=auth)).status_code == 401  # the API key is not it
        scraped = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_KEY}"})
        assert scraped.status_code == 200
    families = {family.name: family for family in text_string_to_metric_families(scraped.text)}
    for name in (
        "momento_updates_handled",
        "momento_turn_seconds",
        "momento_invitations_sent",
        "momento_invitations_failed",
        "momento_telegram_rate_limited",
        "momento_classifier_seconds",
        "momento_classifier_queue_depth",
        "momento_alerts_open",
        "momento_webhook_deliveries_pending",
        "momento_webhook_deliveries_failed",
        "momento_database_bytes",
    ):
        assert name in families, name
    open_now = len(await alert_repo.list_open_alerts(db))
    assert families["momento_alerts_open"].samples[0].value == open_now
    assert families["momento_database_bytes"].samples[0].value > 0

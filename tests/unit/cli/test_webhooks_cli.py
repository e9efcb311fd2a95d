"""`momento webhooks list|retry|test` as an operator uses them, against a real receiver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli.main import main
from bot.config import Settings
from bot.outreach.webhooks import enqueue_event
from storage import webhooks as webhook_repo
from storage.db import Database, utcnow
from tests.support.receiver import Receiver
from tests.unit.outreach.test_webhooks import SECRET, reference_verify


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    await found.start()
    try:
        yield found
    finally:
        await found.stop()


async def _invoke(config: Path, *args: str) -> Result:
    env = {"MOMENTO_WEBHOOK_SECRETS__HELPDESK": SECRET}
    return await asyncio.to_thread(CliRunner().invoke, main, ["--config", str(config), *args], env=env)


async def test_list_shows_a_failing_delivery_retry_resends_it_and_test_pings(
    tmp_path: Path, receiver: Receiver
) -> None:
    db_path = tmp_path / "momento.db"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\npath = "{db_path}"\n\n[[webhooks]]\nname = "helpdesk"\n'
        f'url = "{receiver.url("helpdesk")}"\nevents = ["alert.opened"]\n',
        encoding="utf-8",
    )
    settings = Settings(
        webhooks=[{"name": "helpdesk", "url": receiver.url("helpdesk"), "events": ["alert.opened"]}],
        webhook_secrets={"helpdesk": SECRET},
    )
    async with await Database.open(db_path) as db:
        event_id = await enqueue_event(db, settings, "alert.opened", {"n": 1}, at=utcnow(), customer_id=5)
        (delivery,) = await webhook_repo.deliveries(db)
        now = utcnow()
        await webhook_repo.mark_attempt_failed(
            db, delivery.id, status=500, error="HTTP 500", retry_at=now, give_up_at=now
        )

    listed = await _invoke(config, "webhooks", "list")
    assert listed.exit_code == 0, listed.output
    assert "helpdesk" in listed.output and "0 waiting, 1 given up" in listed.output
    assert f"{event_id} failed after 1 attempt(s), last: HTTP 500" in listed.output
    assert SECRET not in listed.output

    retried = await _invoke(config, "webhooks", "retry")
    assert retried.exit_code == 0, retried.output
    assert "1 deliveries will be sent again" in retried.output
    async with await Database.open(db_path) as db:
        (delivery,) = await webhook_repo.deliveries(db)
    assert delivery.failed_at is None and delivery.delivered_at is None

    unknown = await _invoke(config, "webhooks", "retry", "12345")
    assert unknown.exit_code == 1 and "not waiting for a retry" in unknown.output

    pinged = await _invoke(config, "webhooks", "test", "helpdesk")
    assert pinged.exit_code == 0, pinged.output
    assert "delivered (HTTP 204)" in pinged.output
    (got,) = receiver.accepted["helpdesk"]
    assert got.event["type"] == "webhook.test"
    assert reference_verify(SECRET, got.headers["Momento-Signature"], got.body)

    receiver.modes["helpdesk"] = "fail"
    broken = await _invoke(config, "webhooks", "test", "helpdesk")
    assert broken.exit_code == 1 and "not delivered (HTTP 500)" in broken.output


async def test_a_webhook_secret_in_the_config_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[[webhooks]]\nname = "crm"\nurl = "https://crm.example.com/h"\nevents = ["alert.opened"]\n'
        'secret = "in-the-file"\n',
        encoding="utf-8",
    )
    result = await _invoke(config, "webhooks", "list")
    assert result.exit_code == 1
    assert "MOMENTO_WEBHOOK_SECRETS__<NAME>" in result.output and "in-the-file" not in result.output

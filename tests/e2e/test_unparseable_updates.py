"""An update PTB cannot parse (a newer or older Bot API server) is skipped with one warning; the bot goes on.

Polling: the real Application polls the emulator, which serves the raw update first. Webhook: the same raw
update posted to our server with the right secret is answered 200 (or Telegram would send it forever).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest

from tests.conftest import AppRunner, SettingsFactory
from tests.e2e.test_webhook import SECRET, Serve, message_update, served, webhook_mode
from tests.fakes.bot_api import BotApiEmulator

pytestmark = pytest.mark.slow

__all__ = ["served"]  # the fixture, used below


def unparseable(update_id: int | None = None) -> dict[str, Any]:
    """A message whose entity lacks offset and length: PTB 22 raises TypeError in de_json."""
    update = message_update(500, "/help")
    update["message"]["entities"] = [{"type": "bold"}]
    if update_id is not None:
        update["update_id"] = update_id
    return update


def skipped_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "skipped update" in r.getMessage() and r.levelno == logging.WARNING]


async def test_polling_skips_the_update_with_one_warning_and_serves_the_next(
    bot_api: BotApiEmulator,
    running_app: AppRunner,
    settings_factory: SettingsFactory,
    classifier: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    await running_app(settings_factory(), classifier=classifier)
    bad = bot_api.push_update({k: v for k, v in unparseable().items() if k != "update_id"})
    mark = len(bot_api.calls)
    bot_api.user(501, "Ana").send_command("help")
    reply = await bot_api.wait_for_message(501, after=mark, timeout=10)
    assert "Here is what you can do" in (reply.plain_text or "")
    await asyncio.sleep(1.5)  # several more polls: the bad update must not come back
    assert len(skipped_warnings(caplog)) == 1
    assert str(bad) in skipped_warnings(caplog)[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.CRITICAL]
    assert bot_api.messages_to(500) == []


async def test_webhook_answers_200_skips_it_and_goes_on(
    bot_api: BotApiEmulator,
    settings_factory: SettingsFactory,
    served: Serve,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    settings = webhook_mode(settings_factory)
    base_url = await served(settings, True)
    async with httpx.AsyncClient(base_url=base_url) as client:
        answer = await client.post(
            settings.webhook.path,
            json=unparseable(4711),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
    assert answer.status_code == 200
    [warning] = skipped_warnings(caplog)
    assert "4711" in warning.getMessage()
    mark = len(bot_api.calls)
    bot_api.user(502, "Bea").send_command("help")
    await bot_api.wait_for_message(502, after=mark, timeout=10)

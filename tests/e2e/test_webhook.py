"""`momento run --webhook` and the API next to the bot: the runner's real start-up, over real HTTP.

Telegram (the emulator) posts updates to our server with the secret token set by setWebhook; the bot's
reply travels back to the emulator. Requests without the right secret never reach the bot.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.config import ConfigError, Settings
from bot.telegram.app import build_application
from bot.telegram.runner import serve, webhook_settings
from storage import events as event_repo
from storage.db import Database
from tests.conftest import SettingsFactory
from tests.fakes.bot_api import BotApiEmulator
from tests.support.postgres import BOTH_ENGINES

pytestmark = pytest.mark.slow  # lends the real classifier to the Application

SECRET = "webhook-secret_0123456789"
KEY = "api-key-for-e2e"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


Serve = Callable[[Settings, bool], Any]


@pytest.fixture
async def served(classifier: Any) -> AsyncIterator[Serve]:
    """``base_url = await served(settings, webhook)``: the runner's serve() in a task, stopped at teardown."""
    running: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    async def start(settings: Settings, webhook: bool) -> str:
        application = build_application(settings, classifier=classifier)
        stop = asyncio.Event()
        ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(
            serve(settings, application, webhook=webhook, stop=stop, ready=ready.set_result)
        )
        running.append((stop, task))
        done, _ = await asyncio.wait({ready, task}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
        return await ready

    yield start
    for stop, task in running:
        stop.set()
        await task


def webhook_mode(settings_factory: SettingsFactory) -> Settings:
    port = free_port()
    return webhook_settings(
        settings_factory(
            server={"port": port},
            webhook={"public_url": f"http://127.0.0.1:{port}/telegram", "secret_token": SECRET},
            api={"keys": [KEY]},
        )
    )


def message_update(user_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": 777,
        "message": {
            "message_id": 1,
            "date": int(datetime.now(UTC).timestamp()),
            "chat": {"id": user_id, "type": "private", "first_name": "Eve"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Eve", "language_code": "en"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
        },
    }


@BOTH_ENGINES
async def test_update_through_the_webhook_reaches_the_bot_and_its_reply_reaches_telegram(
    bot_api: BotApiEmulator, settings_factory: SettingsFactory, served: Serve
) -> None:
    settings = webhook_mode(settings_factory)
    await served(settings, True)
    assert bot_api.webhook_url == settings.webhook.public_url
    assert bot_api.webhook_secret == SECRET
    mark = len(bot_api.calls)
    bot_api.user(42, "Ana", language_code="es").send_command("help")
    reply = await bot_api.wait_for_message(42, after=mark, timeout=10)
    assert "Esto es lo que puedes hacer" in (reply.plain_text or "")
    assert [delivery.status for delivery in bot_api.webhook_deliveries] == [200]
    # Webhook mode never polls: Telegram would answer 409 to getUpdates while a webhook is set.
    assert bot_api.calls_of("getUpdates") == []


@BOTH_ENGINES
async def test_webhook_requests_without_the_right_secret_never_reach_the_bot(
    bot_api: BotApiEmulator, settings_factory: SettingsFactory, served: Serve
) -> None:
    settings = webhook_mode(settings_factory)
    base_url = await served(settings, True)
    forged = message_update(666, "/help")
    async with httpx.AsyncClient(base_url=base_url) as client:
        for headers in (
            {},
            {"X-Telegram-Bot-Api-Secret-Token": "guessed"},
            {"X-Telegram-Bot-Api-Secret-Token": ""},
        ):
            answer = await client.post(settings.webhook.path, json=forged, headers=headers)
            assert answer.status_code == 403
        # The right secret with a body that is no update is refused too, and does not crash the server.
        junk = await client.post(
            settings.webhook.path, content=b"[1, 2", headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
        assert junk.status_code == 400
    mark = len(bot_api.calls)
    bot_api.user(43, "Bea").send_command("help")
    await bot_api.wait_for_message(43, after=mark, timeout=10)
    assert bot_api.messages_to(666) == []


@BOTH_ENGINES
async def test_polling_mode_serves_the_api_next_to_the_bot(
    bot_api: BotApiEmulator, settings_factory: SettingsFactory, served: Serve
) -> None:
    settings = settings_factory(
        server={"port": free_port()},
        api={"keys": [KEY]},
        touchpoints=[{"key": "delivery", "names": {"en": "delivery"}}],
    )
    base_url = await served(settings, False)
    mark = len(bot_api.calls)
    bot_api.user(44, "Cai").send_command("help")
    await bot_api.wait_for_message(44, after=mark, timeout=10)
    occurred = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {KEY}"}) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok", "database": True, "bot": True}
        # No webhook route in polling mode.
        assert (await client.post(settings.webhook.path, json={})).status_code in (404, 405)
        answer = await client.post(
            "/v1/events",
            json={
                "external_id": "e-1",
                "customer_external_id": "c-1",
                "touchpoint": "delivery",
                "occurred_at": occurred,
            },
        )
        assert answer.json()["results"][0]["reason"] == "customer_not_linked"
    async with await Database.open(settings.storage.target) as db:
        assert await event_repo.get_event_by_external_id(db, "e-1") is not None


def test_webhook_mode_names_what_is_missing(settings_factory: SettingsFactory) -> None:
    with pytest.raises(ConfigError, match=r"webhook\.public_url"):
        webhook_settings(settings_factory(webhook={"secret_token": SECRET}))
    with pytest.raises(ConfigError, match="MOMENTO_WEBHOOK__SECRET_TOKEN"):
        webhook_settings(settings_factory(webhook={"public_url": "https://cx.example.com/telegram"}))
    with pytest.raises(ConfigError, match=r"server\.enabled"):
        webhook_settings(settings_factory(server={"enabled": False}))

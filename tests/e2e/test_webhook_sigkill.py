"""kill -9 of the real bot (a subprocess) while a webhook delivery is in flight: after the restart every
event reaches the receiver, none out of order per customer (at least once: the receiver dedupes by id)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import Settings
from bot.outreach.webhooks import enqueue_event
from storage.db import Database, utcnow
from tests.fakes.bot_api import BotApiEmulator
from tests.support.receiver import Receiver, until
from tests.support.sigkill import BOT
from tests.unit.outreach.test_webhooks import SECRET

pytestmark = pytest.mark.slow  # two starts of the real bot, each loading the model

CUSTOMERS = (1, 2, 3)
EVENTS = 4


async def test_kill_minus_nine_during_a_delivery_loses_nothing(tmp_path: Path) -> None:
    receiver = Receiver()
    await receiver.start()
    receiver.modes["crm"] = "hang"
    async with BotApiEmulator() as bot_api:
        data = {
            "telegram": {
                "token": bot_api.token,
                "base_url": bot_api.base_url,
                "base_file_url": bot_api.base_file_url,
                "per_chat_interval": 0,
            },
            "server": {"enabled": False},
            "storage": {"path": str(tmp_path / "momento.db")},
            "survey": {"tick_interval": "1s"},
            "webhooks": [{"name": "crm", "url": receiver.url("crm"), "events": ["alert.opened"]}],
            "webhook_secrets": {"crm": SECRET},
            "webhook_delivery": {"timeout": "30s", "retry_base": "0.2s", "retry_cap": "1s"},
        }
        settings = Settings(**data)
        expected: dict[int, list[str]] = {}
        async with await Database.open(settings.storage.path) as db:
            for n in range(EVENTS):
                for customer in CUSTOMERS:
                    async with db.transaction():
                        event_id = await enqueue_event(
                            db, settings, "alert.opened", {"n": n}, at=utcnow(), customer_id=customer
                        )
                    assert event_id is not None
                    expected.setdefault(customer, []).append(event_id)
        env = {
            **os.environ,
            "MOMENTO_TEST_SETTINGS": json.dumps(data),
            "HF_HUB_OFFLINE": "1",
            "PYTHONPATH": os.pathsep.join(sys.path),
        }

        async def start() -> asyncio.subprocess.Process:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-c", BOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
            )
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), 90)
            assert line.strip() == b"ready", line
            return process

        process = await start()
        try:
            # Each customer's oldest event is in flight (the receiver hangs) when the bot is killed.
            await until(lambda: receiver.attempts.get("crm", 0) >= len(CUSTOMERS), 30)
            process.send_signal(signal.SIGKILL)
            await process.wait()
            receiver.modes["crm"] = "ok"
            process = await start()
            await until(lambda: len({e["id"] for e in receiver.events("crm")}) == len(CUSTOMERS) * EVENTS, 60)
        finally:
            process.send_signal(signal.SIGKILL)
            await process.wait()
            await receiver.stop()
    for customer in CUSTOMERS:
        seen: list[str] = []
        for event in receiver.events("crm"):
            if event["id"] in expected[customer] and event["id"] not in seen:  # the receiver's dedupe
                seen.append(event["id"])
        assert seen == expected[customer], customer

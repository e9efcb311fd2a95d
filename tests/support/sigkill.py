"""kill -9 during live conversations: the real bot in a subprocess (real Application, real classifier,
real SQLite) polling the Bot API emulator in this process, killed at random moments and restarted.

Customers are emulated users who answer each bot message once, a moment after it arrives. At the end the
database and the emulator's record are compared: every answer a customer sent is stored, no bot message
reached a customer twice, each reply came within REPLY_LIMIT of the bot being back, every survey completed.
Used by tests/e2e/test_sigkill.py (CI size) and bench/bench_sigkill.py (the big run).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.api.ingest import sync_configured_touchpoints
from bot.config import Settings
from bot.outreach.scheduling import schedule_survey
from storage import customers, events, touchpoints
from storage.db import Database, utcnow
from tests.fakes.bot_api import BotApiEmulator, RecordedCall

STAFF = -100100
REPLY_LIMIT = 30.0

BOT = """
import asyncio, json, os
from bot.config import Settings
from bot.telegram.app import build_application
from bot.telegram.runner import ALLOWED_UPDATES

async def main():
    settings = Settings(**json.loads(os.environ["MOMENTO_TEST_SETTINGS"]))
    app = build_application(settings)
    await app.initialize()
    await app.post_init(app)
    await app.updater.start_polling(allowed_updates=ALLOWED_UPDATES, poll_interval=0.0, timeout=1)
    await app.start()
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


# Seconds between Telegram answering a send and the bot having noted it, at worst, on a starved 2-core box.
KILL_WINDOW = 5.0
# Seconds the emulator may take to answer a request it received just before the kill.
IN_HAND = 2.0


@dataclass
class Report:
    customers: int
    kills: int
    answers_sent: int = 0
    answers_lost: int = 0
    duplicates: int = 0
    # Repeats whose first copy Telegram answered just before a kill (the bot had not read that answer yet)
    # or just after it (the bot never got it). The Bot API has no idempotency key, so resending is the only
    # choice that never leaves the customer waiting. Counted apart; every other repeat is a bug.
    duplicates_in_kill_window: int = 0
    completed: int = 0
    unconfirmed_never_arrived: int = 0
    worst_wait_after_restart: float = 0.0
    worst_reply: float = 0.0
    seconds: float = 0.0
    duplicate_examples: list[str] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)


class Customers:
    """Each emulated customer answers every bot message once, 50-400 ms after it arrives."""

    def __init__(self, bot_api: BotApiEmulator, chats: list[int], seed: int) -> None:
        self.bot_api = bot_api
        self.rng = random.Random(seed)
        self.chats = set(chats)
        self.done: dict[int, set[str]] = {chat: set() for chat in chats}
        self.sent: dict[int, list[str]] = {chat: [] for chat in chats}
        self.asked_at: list[tuple[int, float]] = []  # (chat, when the customer acted)
        self.replied_at: dict[int, list[float]] = {chat: [] for chat in chats}
        self.unhappy = {chat for chat in chats if chat % 3 == 0}

    def on_call(self, call: RecordedCall) -> None:
        if call.method != "sendMessage" or not call.ok or call.chat_id not in self.chats:
            return
        chat = int(call.chat_id)
        self.replied_at[chat].append(time.monotonic())
        text = call.plain_text or ""
        data = call.button_data()
        step = self._step(text, data)
        if step is None or step in self.done[chat]:
            return
        self.done[chat].add(step)
        delay = self.rng.uniform(0.05, 0.4)
        asyncio.get_running_loop().call_later(delay, self._act, chat, step, data, call.message_id or 0)

    @staticmethod
    def _step(text: str, data: list[str]) -> str | None:
        if any(d.endswith(":yes") for d in data):
            return "invitation"
        if "expecting" in text:
            return "expectation"
        if "actually go" in text:
            return "experience"
        if any(d.endswith(":r1") for d in data):
            return "rating"
        if "done better" in text or "do better" in text:
            return "improvement"
        if any(d.endswith(":cb0") for d in data):
            return "callback"
        return None

    def _act(self, chat: int, step: str, data: list[str], message_id: int) -> None:
        user = self.bot_api.users[chat]
        self.asked_at.append((chat, time.monotonic()))
        unhappy = chat in self.unhappy
        if step == "invitation":
            user.press(next(d for d in data if d.endswith(":yes")), message_id=message_id)
        elif step == "rating":
            user.press(
                next(d for d in data if d.endswith(":r2" if unhappy else ":r4")), message_id=message_id
            )
        elif step == "callback":
            user.press(next(d for d in data if d.endswith(":cb0")), message_id=message_id)
        else:
            words = {
                "expectation": f"I expected parcel {chat} on Monday morning",
                "experience": (
                    f"Parcel {chat} came two days late and the box was crushed"
                    if unhappy
                    else f"Parcel {chat} came on time and well packed"
                ),
                "improvement": f"Tell me when parcel {chat} is late",
            }[step]
            self.sent[chat].append(words)
            user.send_text(words)


def _settings(bot_api: BotApiEmulator, db_path: Path, target: str | Path) -> dict[str, Any]:
    return {
        "telegram": {
            "token": bot_api.token,
            "base_url": bot_api.base_url,
            "base_file_url": bot_api.base_file_url,
            "staff_chat_id": STAFF,
            "per_chat_interval": 0,
            "max_retries": 3,
        },
        "server": {"enabled": False},
        # The journals stay beside db_path; the data is in *target* (the file itself, or PostgreSQL).
        "storage": {"url": str(target), "path": str(db_path)},
        "survey": {
            "default_timezone": "UTC",
            "quiet_hours_start": "00:00:00",
            "quiet_hours_end": "00:00:00",
            "tick_interval": "1s",
        },
        "touchpoints": [{"key": "delivery", "names": {"en": "delivery"}, "invite_delay": "2h"}],
    }


async def _prepare(bot_api: BotApiEmulator, settings: Settings, count: int) -> list[int]:
    now = utcnow()
    chats = []
    async with await Database.open(settings.storage.target) as db:
        await sync_configured_touchpoints(db, settings)
        touchpoint = await touchpoints.get_touchpoint(db, "delivery")
        assert touchpoint is not None
        for n in range(count):
            chat = 10_000 + n
            bot_api.user(chat, f"C{n}")
            customer = await customers.upsert_customer(db, f"k{n}")
            await customers.link_telegram(
                db,
                customer.id,
                telegram_user_id=chat,
                telegram_chat_id=chat,
                display_name=None,
                language="en",
            )
            await customers.grant_consent(db, customer.id)
            event, _ = await events.record_event(
                db,
                external_id=f"k{n}",
                customer_id=customer.id,
                touchpoint_id=touchpoint.id,
                occurred_at=now - timedelta(hours=2, minutes=1),
                attributes={},
            )
            await schedule_survey(db, settings, event=event, now=now - timedelta(hours=2))
            chats.append(chat)
    return chats


async def run(
    workdir: Path,
    *,
    customers_count: int,
    kills: int,
    seed: int,
    deadline: float,
    target: str | Path | None = None,
) -> Report:
    """The whole run; *deadline* seconds at most for everything after the last kill. *target*: the database
    (default: a SQLite file in *workdir*; a PostgreSQL URL runs the same crashes against PostgreSQL)."""
    target = target if target is not None else workdir / "momento.db"
    rng = random.Random(seed)
    report = Report(customers_count, kills)
    started = time.monotonic()
    async with BotApiEmulator() as bot_api:
        bot_api.group_chat(STAFF)
        data = _settings(bot_api, workdir / "momento.db", target)
        settings = Settings(**data)
        chats = await _prepare(bot_api, settings, customers_count)
        people = Customers(bot_api, chats, seed)
        bot_api.on_call.append(people.on_call)
        env = {
            **os.environ,
            "MOMENTO_TEST_SETTINGS": json.dumps(data),
            "HF_HUB_OFFLINE": "1",
            "PYTHONPATH": os.pathsep.join(sys.path),
        }
        ready_times: list[float] = []
        kill_times: list[float] = []

        async def start() -> asyncio.subprocess.Process:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-c", BOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
            )
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), 60)
            assert line.strip() == b"ready", line
            ready_times.append(time.monotonic())
            return process

        process = await start()
        for _ in range(kills):
            await asyncio.sleep(rng.uniform(1.0, 4.0))
            process.send_signal(signal.SIGKILL)
            kill_times.append(time.monotonic())
            await process.wait()
            process = await start()
        end = time.monotonic() + deadline
        for _ in range(int(deadline * 2)):  # poll the database, not an event: the bot is another process
            if time.monotonic() >= end or await _all_done(target, customers_count):
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.0)  # anything still in flight lands
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
        report.seconds = time.monotonic() - started
        stored, rows = await _read_back(target)
        _judge(report, bot_api, people, stored, rows, ready_times, kill_times)
    return report


async def _all_done(target: str | Path, count: int) -> bool:
    async with await Database.open(target) as db:
        row = await db.fetch_one("SELECT COUNT(*) FROM surveys WHERE status = 'completed'")
    return row is not None and int(row[0]) >= count


async def _read_back(target: str | Path) -> tuple[Counter[tuple[int, str]], list[dict[str, Any]]]:
    """The answers stored (chat, text) and every survey's outcome, read after the last bot stopped."""
    async with await Database.open(target) as db:
        stored = Counter(
            (int(row["chat_id"]), str(row["text"]))
            for row in await db.fetch_all("SELECT chat_id, text FROM answers WHERE text IS NOT NULL")
        )
        rows = [
            dict(row)
            for row in await db.fetch_all(
                "SELECT s.status, s.last_error, c.telegram_chat_id AS chat FROM surveys s "
                "JOIN customers c ON c.id = s.customer_id"
            )
        ]
    return stored, rows


def _judge(
    report: Report,
    bot_api: BotApiEmulator,
    people: Customers,
    stored: Counter[tuple[int, str]],
    rows: list[dict[str, Any]],
    ready_times: list[float],
    kill_times: list[float],
) -> None:
    for chat, texts in people.sent.items():
        for text in texts:
            report.answers_sent += 1
            if stored[(chat, text)] == 0:
                report.answers_lost += 1
    delivered = Counter(
        (c.chat_id, c.plain_text)
        for c in bot_api.calls
        if c.method == "sendMessage" and c.ok and c.chat_id in people.chats
    )
    for (chat, text), times in delivered.items():
        if times > 1:
            answered = [
                c.at
                for c in bot_api.calls
                if c.method == "sendMessage" and c.ok and c.chat_id == chat and c.plain_text == text
            ]
            # Before the kill: the bot had not read Telegram's answer yet. After it (the emulator answers
            # requests already in its hands): the bot never got the answer at all.
            if any(-IN_HAND <= kill - answered[0] <= KILL_WINDOW for kill in kill_times):
                report.duplicates_in_kill_window += times - 1
                continue
            report.duplicates += times - 1
            at = [round(t - ready_times[0], 2) for t in answered]
            starts = [round(t - ready_times[0], 2) for t in ready_times]
            kills = [round(t - ready_times[0], 2) for t in kill_times]
            report.duplicate_examples.append(
                f"{chat}: {text!r} x{times} at {at}; killed at {kills}; bot ready at {starts}"
            )
    invited = {c.chat_id for c in bot_api.calls if c.method == "sendMessage" and c.ok and c.button_data()}
    for row in rows:
        if row["status"] == "completed":
            report.completed += 1
        elif row["chat"] not in invited and row["last_error"] and "unconfirmed" in row["last_error"]:
            # Killed between recording that the send began and Telegram getting it: never re-sent (it may
            # have arrived); its reminder (same buttons) asks the customer a day later.
            report.unconfirmed_never_arrived += 1
        else:
            report.incomplete.append(f"{row['chat']}: {row['status']}")
    for chat, acted in people.asked_at:
        replies = [t for t in people.replied_at[chat] if t > acted]
        if not replies:
            continue
        reply = replies[0]
        report.worst_reply = max(report.worst_reply, reply - acted)
        back = max([t for t in ready_times if t <= reply] or [acted])
        report.worst_wait_after_restart = max(report.worst_wait_after_restart, reply - max(acted, back))

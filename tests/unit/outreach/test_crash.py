"""The dispatcher killed with SIGKILL mid-dispatch: no invitation is sent twice and no customer goes unasked.

The Bot API has no idempotency key, so a send interrupted by a crash has an unknown outcome. Momento never
sends such an invitation again; the survey opens as "delivery unconfirmed" and its reminder, which carries
the same buttons, reaches the customer at the usual time. Two kills land exactly in that window (after and
before Telegram got the message); eight more land at random.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.api.ingest import sync_configured_touchpoints
from bot.config import Settings
from bot.outreach.scheduling import schedule_survey
from storage import customers, events, touchpoints
from storage.db import Database

CUSTOMERS = 40
KILLS = 8
SEED = 20261124

SETTINGS: dict[str, Any] = {
    "survey": {"default_timezone": "UTC", "quiet_hours_start": "00:00:00", "quiet_hours_end": "00:00:00"},
    "touchpoints": [{"key": "delivery", "names": {"en": "delivery"}, "invite_delay": "2h"}],
}

# The dispatcher process: the real Outreach over the real database; its "Telegram" takes 10 ms to receive a
# send and 10 ms to answer, and records each message it received in a file (fsync'd: Telegram has it).
# MOMENTO_TEST_DIE="N:before" or "N:after" kills the process at its Nth send, before or after Telegram got it.
DISPATCHER = """
import asyncio, json, os, signal, sys
from datetime import timedelta
from bot.config import Settings
from bot.outreach.dispatch import Outreach
from storage.db import Database, utcnow

async def main(db_path, log_path, offset_minutes, mode):
    settings = Settings(**json.loads(os.environ["MOMENTO_TEST_SETTINGS"]))
    die_at, _, moment = (os.environ.get("MOMENTO_TEST_DIE") or "0:").partition(":")
    db = await Database.open(db_path)

    class Telegram:
        sends = 0
        next_id = 1000

        async def send(self, message):
            Telegram.sends += 1
            if Telegram.sends == int(die_at) and moment == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            await asyncio.sleep(0.01)
            with open(log_path, "a", encoding="utf-8") as log:
                log.write(f"{mode} {message.chat_id}\\n")
                log.flush()
                os.fsync(log.fileno())
            if Telegram.sends == int(die_at) and moment == "after":
                os.kill(os.getpid(), signal.SIGKILL)
            await asyncio.sleep(0.01)
            Telegram.next_id += 1
            return Telegram.next_id

        async def edit(self, *args):
            return None

    # Each restart runs later than the last claim's lease, as a real restart minutes later would.
    offset = timedelta(minutes=offset_minutes)
    outreach = Outreach(db, settings, Telegram(), clock=lambda: utcnow() + offset)
    print("ready", flush=True)
    while True:
        report = await outreach.tick()
        if not (report.invited or report.reminded or report.unconfirmed):
            break
    await db.close()
    print("done", flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
"""

# A day and a half later: every open survey's reminder (24 h) is due, none has expired (3 days).
REMINDER_RUN_MINUTES = 36 * 60


def settings_for(db_path: Path) -> Settings:
    return Settings(storage={"path": db_path}, **SETTINGS)


async def schedule_due_surveys(db_path: Path) -> None:
    settings = settings_for(db_path)
    now = datetime.now(UTC)
    async with await Database.open(db_path) as db:
        await sync_configured_touchpoints(db, settings)
        delivery = await touchpoints.get_touchpoint(db, "delivery")
        assert delivery is not None
        for number in range(CUSTOMERS):
            customer = await customers.upsert_customer(db, f"c{number}")
            await customers.link_telegram(
                db,
                customer.id,
                telegram_user_id=5000 + number,
                telegram_chat_id=5000 + number,
                display_name="Ana",
                language="en",
            )
            await customers.grant_consent(db, customer.id)
            event, _ = await events.record_event(
                db,
                external_id=f"e{number}",
                customer_id=customer.id,
                touchpoint_id=delivery.id,
                occurred_at=now - timedelta(hours=3),
                attributes={},
            )
            assert (await schedule_survey(db, settings, event=event, now=now)).scheduled


def start_dispatcher(
    db_path: Path, log_path: Path, minutes: int, *, mode: str = "invitation", die: str = ""
) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "MOMENTO_TEST_SETTINGS": json.dumps({**SETTINGS, "storage": {"path": str(db_path)}}),
        "MOMENTO_TEST_DIE": die,
    }
    process = subprocess.Popen(
        [sys.executable, "-c", DISPATCHER, str(db_path), str(log_path), str(minutes), mode],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def run_to_completion(db_path: Path, log_path: Path, minutes: int, *, mode: str = "invitation") -> None:
    process = start_dispatcher(db_path, log_path, minutes, mode=mode)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "done"
    assert process.wait(timeout=60) == 0


def received(log_path: Path) -> dict[str, Counter[int]]:
    """What 'Telegram' received: per kind of message, how many per chat."""
    kinds: dict[str, Counter[int]] = {"invitation": Counter(), "reminder": Counter()}
    for line in log_path.read_text(encoding="utf-8").splitlines():
        kind, chat = line.split()
        kinds[kind][int(chat)] += 1
    return kinds


def survey_rows(db_path: Path) -> list[tuple[int, str, int | None, str | None]]:
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return conn.execute(
            """SELECT c.telegram_chat_id, s.status, s.invitation_message_id, s.last_error
               FROM surveys s JOIN customers c ON c.id = s.customer_id ORDER BY s.id"""
        ).fetchall()


CHATS = {5000 + number for number in range(CUSTOMERS)}


def killed_at_fifth_send_then_restarted(tmp_path: Path, moment: str) -> tuple[Path, Path]:
    """40 due invitations; the dispatcher dies at its 5th send (*moment*: before/after Telegram got it)."""
    db_path, log_path = tmp_path / "momento.db", tmp_path / "telegram.log"
    asyncio.run(schedule_due_surveys(db_path))
    dying = start_dispatcher(db_path, log_path, 0, die=f"5:{moment}")
    assert dying.wait(timeout=30) == -signal.SIGKILL
    run_to_completion(db_path, log_path, 3)
    return db_path, log_path


def test_killed_after_telegram_received_an_invitation_it_is_never_sent_again(tmp_path: Path) -> None:
    db_path, log_path = killed_at_fifth_send_then_restarted(tmp_path, "after")

    invitations = received(log_path)["invitation"]
    assert invitations == Counter(dict.fromkeys(CHATS, 1)), "an invitation was repeated or lost"
    rows = survey_rows(db_path)
    unconfirmed = [row for row in rows if row[2] is None]
    assert len(unconfirmed) == 1 and unconfirmed[0][1] == "invited"
    assert "unconfirmed" in str(unconfirmed[0][3])
    assert all(status == "invited" for _, status, _, _ in rows)

    run_to_completion(db_path, log_path, REMINDER_RUN_MINUTES, mode="reminder")
    assert received(log_path)["reminder"] == Counter(dict.fromkeys(CHATS, 1))


def test_killed_before_telegram_received_an_invitation_the_customer_is_still_asked(tmp_path: Path) -> None:
    db_path, log_path = killed_at_fifth_send_then_restarted(tmp_path, "before")

    invitations = received(log_path)["invitation"]
    assert max(invitations.values()) == 1 and len(invitations) == CUSTOMERS - 1
    (missed,) = CHATS - set(invitations)
    rows = survey_rows(db_path)
    assert [row[:3] for row in rows if row[0] == missed] == [(missed, "invited", None)]

    # The reminder, with the invitation's buttons, is how this customer is asked: the survey is not lost.
    run_to_completion(db_path, log_path, REMINDER_RUN_MINUTES, mode="reminder")
    reminders = received(log_path)["reminder"]
    assert reminders[missed] == 1 and set(reminders) == CHATS


def test_random_sigkills_during_dispatch_neither_repeat_nor_lose_an_invitation(tmp_path: Path) -> None:
    db_path, log_path = tmp_path / "momento.db", tmp_path / "telegram.log"
    asyncio.run(schedule_due_surveys(db_path))
    chance = random.Random(SEED)
    for run in range(KILLS):
        process = start_dispatcher(db_path, log_path, 3 * run)
        time.sleep(chance.uniform(0.0, 0.4))  # 40 sends take about 0.8 s: kills land mid-dispatch
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    run_to_completion(db_path, log_path, 3 * KILLS)

    invitations = received(log_path)["invitation"]
    assert max(invitations.values()) == 1, f"an invitation was sent twice: {invitations}"
    rows = survey_rows(db_path)
    assert all(status == "invited" for _, status, _, _ in rows), "a survey was left unsent"
    unconfirmed = {chat for chat, _, message_id, _ in rows if message_id is None}
    # Sends are sequential, so a kill interrupts at most one of them; only those lack a message id.
    assert len(unconfirmed) <= KILLS
    assert CHATS - set(invitations) <= unconfirmed

    run_to_completion(db_path, log_path, REMINDER_RUN_MINUTES, mode="reminder")
    reached = set(invitations) | set(received(log_path)["reminder"])
    assert reached == CHATS, "a customer was never asked"

"""Durability and concurrency: acknowledged answers survive SIGKILL, and concurrent writers — coroutines in
one process or two processes on one file — never see "database is locked" and never lose a row."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage import alerts, answers, customers, events, surveys, touchpoints
from storage.db import Database
from storage.models import TouchpointSpec
from tests.support import REPO as REPO_DIR

AT = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
REPO_ROOT = REPO_DIR

# Writes answers through the repositories from several coroutines and prints each acknowledged one.
WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from datetime import UTC, datetime
    from storage import answers, customers
    from storage.db import Database

    async def main(path, base, tasks, count, wait):
        db = await Database.open(path)
        customer = await customers.ensure_telegram_customer(
            db, telegram_user_id=base, telegram_chat_id=base, display_name="w", language="en")
        print("ready", flush=True)
        if wait:
            sys.stdin.readline()  # start together with the other writer

        async def worker(lane):
            for n in range(count):
                message_id = base + lane * 1_000_000 + n
                stored, _ = await answers.record_answer(
                    db, survey_id=None, customer_id=customer.id, touchpoint_id=None, question="unsolicited",
                    text=f"answer {message_id}", rating=None, language="en", chat_id=base,
                    message_id=message_id, received_at=datetime.now(UTC))
                print(f"ack {message_id} {stored.id}", flush=True)
                if wait:
                    # Like handlers between customers' messages: a writer never holds the file back to back,
                    # so the other one's busy wait finds the lock free and the two really interleave.
                    await asyncio.sleep(0.001)

        await asyncio.gather(*(worker(lane) for lane in range(tasks)))
        await db.close()

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), len(sys.argv) > 5))
    """
)


def start_python(script: str, *arguments: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", script, *arguments],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def start_writer(
    path: Path, base: int, tasks: int = 3, count: int = 10**6, *, wait: bool = False
) -> subprocess.Popen[str]:
    return start_python(WRITER, str(path), str(base), str(tasks), str(count), *(["wait"] if wait else []))


def release_together(processes: list[subprocess.Popen[str]]) -> None:
    """Wait until every process printed "ready", then let them all go at once."""
    for process in processes:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()


def stored_message_ids(path: Path) -> tuple[str, set[int]]:
    conn = sqlite3.connect(path)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        ids = {row[0] for row in conn.execute("SELECT message_id FROM answers")}
        return integrity, ids
    finally:
        conn.close()


def test_acknowledged_answers_survive_sigkill_at_random_moments(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    acknowledged: set[int] = set()
    rounds_with_writes = 0
    for round_number in range(20):
        writer = start_writer(path, base=(round_number + 1) * 10_000_000)
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready", writer.stderr.read() if writer.stderr else ""
        time.sleep(rng.uniform(0.0, 0.25))
        writer.send_signal(signal.SIGKILL)
        out, _ = writer.communicate(timeout=30)
        assert writer.returncode == -signal.SIGKILL
        acked_now = {int(line.split()[1]) for line in out.splitlines() if line.startswith("ack ")}
        acknowledged |= acked_now

        integrity, present = stored_message_ids(path)

        assert integrity == "ok", f"round {round_number} (seed {seed})"
        missing = acknowledged - present
        assert not missing, (
            f"round {round_number} (seed {seed}): acknowledged but lost: {sorted(missing)[:5]}"
        )
        rounds_with_writes += bool(acked_now)
    # The kills really did land mid-stream: most rounds had acknowledged writes when they were killed.
    assert rounds_with_writes >= 10, rounds_with_writes


async def test_200_concurrent_writers_lose_nothing_and_never_hit_a_lock(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "busy.db")
    [tp] = await touchpoints.sync_touchpoints(
        db, [TouchpointSpec("delivery", {"en": "delivery"}, "direct", 3, 1.5, "courier")]
    )

    async def customer_journey(n: int) -> None:
        """What one customer's updates do in the bot: link, event, survey, three answers, an alert."""
        customer = await customers.ensure_telegram_customer(
            db, telegram_user_id=1000 + n, telegram_chat_id=1000 + n, display_name=f"c{n}", language="en"
        )
        event, _ = await events.record_event(
            db, external_id=f"ev-{n}", customer_id=customer.id, touchpoint_id=tp.id, occurred_at=AT
        )
        survey, _ = await surveys.create_survey(
            db,
            customer_id=customer.id,
            touchpoint_id=tp.id,
            event_id=event.id,
            kind="touchpoint",
            status="in_progress",
            scheduled_at=AT,
            expires_at=AT + timedelta(days=1),
            language="en",
        )
        for step, (question, text, rating) in enumerate(
            (("expectation", "fast", None), ("experience", "slow", None), ("rating", None, 1 + n % 5))
        ):
            await answers.record_answer(
                db,
                survey_id=survey.id,
                customer_id=customer.id,
                touchpoint_id=tp.id,
                question=question,
                text=text,
                rating=rating,
                language="en",
                chat_id=1000 + n,
                message_id=step + 1,
                received_at=AT,
            )
            # Readers run alongside the writers, as handlers do.
            assert await surveys.active_survey_for_customer(db, customer.id) is not None
        await surveys.update_survey(db, survey.id, status="completed", completed_at=AT)
        if n % 5 == 0:
            await alerts.open_alert(
                db,
                survey_id=survey.id,
                customer_id=customer.id,
                touchpoint_id=tp.id,
                reason="low_rating",
                severity="high",
            )

    results = await asyncio.gather(*(customer_journey(n) for n in range(200)), return_exceptions=True)

    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    counts = await db.fetch_one(
        """SELECT (SELECT COUNT(*) FROM customers), (SELECT COUNT(*) FROM touchpoint_events),
                  (SELECT COUNT(*) FROM surveys WHERE status = 'completed'), (SELECT COUNT(*) FROM answers),
                  (SELECT COUNT(*) FROM alerts)"""
    )
    assert counts is not None and tuple(counts) == (200, 200, 200, 600, 40)
    assert await db.integrity_ok()
    await db.close()


def test_two_processes_writing_one_file_both_finish_with_every_row(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    writers = [
        start_writer(path, base=base, tasks=2, count=250, wait=True) for base in (10_000_000, 20_000_000)
    ]
    release_together(writers)
    outputs = [writer.communicate(timeout=120) for writer in writers]

    assert [w.returncode for w in writers] == [0, 0], [err[-2000:] for _, err in outputs]
    for _, err in outputs:
        assert "locked" not in err
    acked = {
        int(line.split()[1]) for out, _ in outputs for line in out.splitlines() if line.startswith("ack ")
    }
    integrity, present = stored_message_ids(path)
    assert integrity == "ok"
    assert len(acked) == 1000 and acked == present
    # The two processes really wrote at the same time: their rows interleave in commit order.
    conn = sqlite3.connect(path)
    order = [row[0] >= 20_000_000 for row in conn.execute("SELECT message_id FROM answers ORDER BY id")]
    conn.close()
    switches = sum(1 for a, b in itertools.pairwise(order) if a != b)
    assert switches >= 2, "the writers never overlapped; the test proved nothing"


# Opens a fresh file and exits: what the bot and `momento import` do when started at the same moment.
OPENER = "import asyncio, sys\nfrom storage.db import Database\n\n" + textwrap.dedent(
    """
    async def main(path):
        print("ready", flush=True)
        sys.stdin.readline()  # all open at the same moment
        db = await Database.open(path)
        await db.close()

    asyncio.run(main(sys.argv[1]))
    """
)


def test_processes_started_together_on_a_new_file_all_open_it(tmp_path: Path) -> None:
    """Switching a new file to WAL races between processes; SQLite says "locked" without waiting."""
    for attempt in range(20):
        path = tmp_path / f"fresh-{attempt}.db"
        openers = [start_python(OPENER, str(path)) for _ in range(4)]
        release_together(openers)
        outputs = [opener.communicate(timeout=60) for opener in openers]
        assert [opener.returncode for opener in openers] == [0, 0, 0, 0], [err[-800:] for _, err in outputs]
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

"""The retention policy on a seeded database: old answers anonymised as /delete does, recent ones kept,
the audit log written, `momento purge --dry-run` shows the same counts and changes nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.accounts.retention import apply_retention
from bot.cli.main import main
from bot.config import Settings
from storage import answers, audit, customers, touchpoints
from storage.db import Database, utcnow
from storage.models import TouchpointSpec
from tests.unit.storage.test_privacy import NOTE, ORDER_ID, TEXTS, USER_ID, seed_customer

# Everything seeded "now" is older than the cutoff of a run 400 days from now with a 365-day retention.
LATER = timedelta(days=400)


def settings_for(tmp_path: Path, retention: str = "365d") -> Settings:
    return Settings(storage={"path": tmp_path / "r.db"}, privacy={"retention": retention})


@pytest.fixture
async def seeded(tmp_path: Path) -> AsyncIterator[tuple[Database, int, int]]:
    """(db, old customer id, id of an answer given after the cutoff)."""
    db = await Database.open(tmp_path / "r.db")
    [tp] = await touchpoints.sync_touchpoints(
        db, [TouchpointSpec("delivery", {"en": "delivery"}, "direct", 3, 1.5, "courier")]
    )
    customer_id = await seed_customer(db, "crm-old", USER_ID, "Valentina", tp.id)
    recent, _ = await answers.record_answer(
        db,
        survey_id=None,
        customer_id=customer_id,
        touchpoint_id=None,
        question="unsolicited",
        text="Still happy with you",
        rating=None,
        language="en",
        chat_id=USER_ID,
        message_id=5000,
        received_at=utcnow() + timedelta(days=390),
    )
    try:
        yield db, customer_id, recent.id
    finally:
        await db.close()


async def dump(db: Database) -> str:
    tables = ("customers", "touchpoint_events", "surveys", "answers", "analyses", "alerts")
    return json.dumps({t: [dict(r) for r in await db.fetch_all(f"SELECT * FROM {t}")] for t in tables})


async def test_old_answers_lose_texts_and_identities_but_keep_ratings_labels_and_dates(
    seeded: tuple[Database, int, int], tmp_path: Path
) -> None:
    db, customer_id, recent_id = seeded
    before = await answers.answers_for_customer(db, customer_id)
    result = await apply_retention(db, settings_for(tmp_path), utcnow() + LATER)
    assert result is not None and result.counts == {
        "answers": 4,
        "surveys": 1,
        "touchpoint_events": 1,
        "alerts": 1,
    }
    after = {a.id: a for a in await answers.answers_for_customer(db, customer_id)}
    for old in before:
        if old.id == recent_id:
            continue
        kept = after[old.id]
        assert (kept.text, kept.chat_id, kept.message_id) == (None, None, None)
        assert (kept.rating, kept.question, kept.received_at) == (old.rating, old.question, old.received_at)
        if old.text:
            assert kept.analysis is not None and kept.analysis.sentiment == "negative"
    assert after[recent_id].text == "Still happy with you" and after[recent_id].chat_id == USER_ID
    stored = await dump(db)
    for secret in (*TEXTS, ORDER_ID, NOTE, "Calle 8"):
        assert secret not in stored
    customer = await customers.get_customer(db, customer_id)
    assert customer is not None and customer.erased_at is None  # the relationship itself stays
    [entry] = [e for e in await audit.list_entries(db) if e.action == "retention.anonymise"]
    assert entry.actor == "system:retention" and entry.details["answers"] == 4

    again = await apply_retention(db, settings_for(tmp_path), utcnow() + LATER)
    assert again is not None and again.total == 0
    assert len([e for e in await audit.list_entries(db) if e.action == "retention.anonymise"]) == 1


async def test_a_dry_run_counts_what_a_run_would_touch_and_changes_nothing(
    seeded: tuple[Database, int, int], tmp_path: Path
) -> None:
    db, _, _ = seeded
    before = await dump(db)
    dry = await apply_retention(db, settings_for(tmp_path), utcnow() + LATER, dry_run=True)
    assert dry is not None and dry.dry_run and dry.total == 7
    assert await dump(db) == before
    assert not [e for e in await audit.list_entries(db) if e.action == "retention.anonymise"]
    real = await apply_retention(db, settings_for(tmp_path), utcnow() + LATER)
    assert real is not None and real.counts == dry.counts


async def test_retention_off_touches_nothing(seeded: tuple[Database, int, int], tmp_path: Path) -> None:
    db, _, _ = seeded
    before = await dump(db)
    assert await apply_retention(db, settings_for(tmp_path, "off"), utcnow() + LATER) is None
    assert await dump(db) == before
    assert Settings().privacy.retention is None  # off unless configured


def test_retention_shorter_than_a_day_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1d"):
        Settings(privacy={"retention": "2h"})


async def test_momento_purge_dry_run_shows_the_counts_and_changes_nothing(
    seeded: tuple[Database, int, int], tmp_path: Path
) -> None:
    db, _, _ = seeded
    before = await dump(db)
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "r.db"}"\n[privacy]\nretention = "1d"\n')
    # 1 day: the seeded event and answers (dated February 2026) are older, the surveys and alert are not.
    # The command runs its own event loop: give it a thread, as a shell would give it a process.
    result = await asyncio.to_thread(
        CliRunner().invoke, main, ["--config", str(config), "purge", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    lines = {line.split(None, 1)[1]: int(line.split()[0]) for line in result.output.splitlines()[1:5]}
    assert lines["answers (texts and Telegram ids)"] == 4
    assert lines["events (ids and attributes)"] == 1
    assert "Dry run: nothing was changed." in result.output
    assert await dump(db) == before


def test_momento_purge_without_a_retention_says_how_to_set_it(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "r.db"}"\n')
    result: Any = CliRunner().invoke(main, ["--config", str(config), "purge"])
    assert result.exit_code != 0
    assert 'privacy.retention is "off"' in result.output

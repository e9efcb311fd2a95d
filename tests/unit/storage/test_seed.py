"""The benchmark generator (bench.seed) builds a file the product itself would accept: the storage and report
benchmarks are only worth their figures if the data is consistent."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.seed import QUESTIONS_PER_SURVEY, seed
from storage import answers, surveys
from storage.db import Database

END = datetime(2026, 1, 1, tzinfo=UTC)


def test_seeded_file_is_consistent_and_exactly_sized(tmp_path: Path) -> None:
    summary = seed(tmp_path / "seed.db", answers=4000, customers=300, days=60, end=END)

    conn = sqlite3.connect(summary.path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == summary.answers == 4000
        assert conn.execute("SELECT COUNT(*) FROM touchpoints").fetchone()[0] == 12
        # Every completed survey has its four answers; no other survey has any.
        per_survey = conn.execute(
            """SELECT s.status, COUNT(a.id) FROM surveys s LEFT JOIN answers a ON a.survey_id = s.id
               GROUP BY s.id"""
        ).fetchall()
        assert {(status, n) for status, n in per_survey} <= {
            ("completed", QUESTIONS_PER_SURVEY),
            ("expired", 0),
            ("declined", 0),
        }
        # Current analyses belong to their own answer; ratings are 1-5 and only on rating answers.
        assert conn.execute(
            """SELECT COUNT(*) FROM answers a JOIN analyses n ON n.id = a.current_analysis_id
               WHERE n.answer_id != a.id"""
        ).fetchone() == (0,)
        assert conn.execute(
            "SELECT COUNT(*) FROM answers WHERE (question = 'rating') != (rating IS NOT NULL)"
        ).fetchone() == (0,)
        first, last = conn.execute("SELECT MIN(received_at), MAX(received_at) FROM answers").fetchone()
        assert first >= "2025-11-02" and last < "2026-01-02"
    finally:
        conn.close()


async def test_the_repositories_read_the_seeded_file(tmp_path: Path) -> None:
    # seed() is synchronous (it runs its own event loop): from async code, in a thread.
    summary = await asyncio.to_thread(seed, tmp_path / "seed.db", answers=400, customers=50, days=30, end=END)
    async with await Database.open(summary.path) as db:
        row = await db.fetch_one("SELECT id FROM surveys WHERE status = 'completed' LIMIT 1")
        assert row is not None
        survey = await surveys.get_survey(db, row["id"])
        listed = await answers.answers_for_survey(db, row["id"])
    assert survey is not None and survey.completed_at is not None
    assert [a.question for a in listed] == ["expectation", "experience", "rating", "improvement"]
    assert listed[1].analysis is not None and listed[2].analysis is None


def test_same_seed_same_data_and_an_existing_file_is_refused(tmp_path: Path) -> None:
    one = seed(tmp_path / "a.db", answers=200, customers=20, days=10, end=END)
    two = seed(tmp_path / "b.db", answers=200, customers=20, days=10, end=END)

    def content(path: Path) -> list[tuple[object, ...]]:
        conn = sqlite3.connect(path)
        try:
            return conn.execute(
                "SELECT customer_id, touchpoint_id, question, text, rating FROM answers"
            ).fetchall()
        finally:
            conn.close()

    assert content(one.path) == content(two.path)
    with pytest.raises(FileExistsError):
        seed(one.path, answers=10)

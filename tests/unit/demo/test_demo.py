"""`momento demo` and `momento chat`: the whole job offline, through the real engine, storage and model."""

from __future__ import annotations

import asyncio
import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli.main import main
from bot.demo.chat import chat
from storage.db import Database

pytestmark = pytest.mark.slow  # loads the real classifier

SUMMARY_LINES = (
    "Responses:",
    "CSAT (4–5):",
    "Sentiment:",
    "Top emotions:",
    "Expectation → experience gap:",
    "Alerts:",
    "Touchpoints by CSAT",
)


def query(db_path: Path, sql: str) -> list[dict[str, Any]]:
    async def fetch() -> list[dict[str, Any]]:
        async with await Database.open(db_path) as db:
            return [dict(row) for row in await db.fetch_all(sql)]

    return asyncio.run(fetch())


def test_demo_with_20_customers_prints_the_summary_and_writes_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "production.db"
    monkeypatch.setenv("MOMENTO_STORAGE__PATH", str(elsewhere))  # must not be touched
    out = tmp_path / "demo"
    result = CliRunner().invoke(
        main, ["demo", "--customers", "20", "--out", str(out)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    summary = result.stdout.split("Staff summary")[1].split("Everything is in")[0]
    for label in SUMMARY_LINES:
        assert label in summary
    assert "online order" in summary and "delivery" in summary
    assert "20 customers" in result.stdout
    assert str(out.resolve()) in result.stdout
    assert not elsewhere.exists()

    db_path = out / "momento-demo.db"
    assert query(db_path, "SELECT COUNT(*) AS n FROM customers")[0]["n"] == 20
    languages = query(
        db_path,
        """SELECT a.language, COUNT(*) AS n FROM answers a JOIN analyses n ON n.id = a.current_analysis_id
           WHERE a.text IS NOT NULL GROUP BY a.language ORDER BY a.language""",
    )
    assert [row["language"] for row in languages] == ["en", "es"]
    assert (
        query(
            db_path, "SELECT COUNT(*) AS n FROM answers WHERE text IS NOT NULL AND analysis_state != 'done'"
        )[0]["n"]
        == 0
    )
    ratings = query(
        db_path, "SELECT MIN(rating) AS low, MAX(rating) AS high FROM answers WHERE rating IS NOT NULL"
    )
    assert ratings[0]["low"] <= 2 and ratings[0]["high"] >= 4  # good days and bad days
    assert query(db_path, "SELECT COUNT(*) AS n FROM alerts")[0]["n"] > 0
    # Time to resolve is measured on the simulated clock: never negative.
    assert query(db_path, "SELECT COUNT(*) AS n FROM alerts WHERE resolved_at < created_at")[0]["n"] == 0

    for chart in ("summary.png", "touchpoints.png", "journey.png"):
        assert (out / chart).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with (out / "answers.csv").open(encoding="utf-8-sig", newline="") as handle:
        exported = list(csv.DictReader(handle))
    assert len(exported) == query(db_path, "SELECT COUNT(*) AS n FROM answers")[0]["n"]
    assert f"CSV export of {len(exported)} answers" in result.stdout
    assert (out / "summary.txt").read_text(encoding="utf-8").startswith("Summary")
    conversations = (out / "conversations.txt").read_text(encoding="utf-8")
    assert "¿Y cómo fue en realidad?" in conversations and "And how did it actually go?" in conversations


class Script:
    """The person at the keyboard: lines typed in order, then end of input."""

    def __init__(self, *lines: str) -> None:
        self.lines: Iterator[str] = iter(lines)
        self.shown: list[str] = []

    async def read_line(self, prompt: str) -> str | None:
        return next(self.lines, None)

    def write(self, text: str) -> None:
        self.shown.append(text)


async def test_chat_runs_a_survey_in_the_terminal_and_shows_what_was_stored(
    tmp_path: Path, classifier: Any
) -> None:
    person = Script(
        "#1",
        "I expected it on Monday as promised",
        "It arrived on Thursday and the box was crushed, really annoying",
        "#2",
        "Be honest about delivery dates",
        "#9",
        "#1",
    )
    answers = await chat(
        read_line=person.read_line,
        write=person.write,
        language="en",
        touchpoint="delivery",
        db_path=tmp_path / "chat.db",
        classifier=classifier,
    )
    shown = "\n".join(person.shown)
    assert answers == 6
    # Two hours after the delivery, or the end of the quiet hours if that falls at night.
    assert re.search(r"your delivery just happened; jumping [\d.]+ (h|min) ahead to the invitation", shown)
    assert "#1 [Sure" in shown
    assert "what were you expecting from your delivery?" in shown
    assert "how did it actually go?" in shown
    assert "#2 [2]" in shown  # the rating buttons
    assert "(no such button)" in shown
    assert "posted to the CX team's chat" in shown and "Unhappy customer" in shown
    # "#1" on the call-back offer: what happens next, not "have a great day" after a crushed box.
    assert "Someone from our team will contact you soon" in shown and "Have a great day" not in shown
    stored = shown.split("What Momento stored from this chat")[1]
    assert "experience: It arrived on Thursday and the box was crushed, really annoying → negative" in stored
    assert "rating: rating 2" in stored


async def test_chat_new_touchpoint_after_the_clock_jumped_and_help_in_spanish(
    tmp_path: Path, classifier: Any
) -> None:
    # The first invitation jumped the chat's clock hours ahead; /new then used to crash with "occurred_at
    # lies in the future".
    person = Script("#2", "/new online_order", "#1", "Esperaba que llegara el lunes")
    await chat(
        read_line=person.read_line,
        write=person.write,
        language="es",
        touchpoint="delivery",
        db_path=tmp_path / "chat.db",
        classifier=classifier,
    )
    shown = "\n".join(person.shown)
    assert shown.startswith("Escribe tus respuestas como en Telegram")
    assert "lies in the future" not in shown
    assert "(your online_order just happened" in shown or "(no survey for this online_order" in shown


def test_chat_refuses_an_unknown_touchpoint_before_loading_the_model() -> None:
    result = CliRunner().invoke(main, ["chat", "--touchpoint", "teleport"])
    assert result.exit_code == 2
    assert "unknown touchpoint 'teleport'" in result.output and "delivery" in result.output
    assert "Loading the sentiment model" not in result.output

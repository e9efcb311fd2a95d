"""Exports round-trip: CSV (UTF-8, BOM), XLSX and JSONL rows equal the database rows; formulas are inert."""

from __future__ import annotations

import asyncio
import csv
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from bot.reports.exports import ExportError, ExportRequest, export_answers, neutralise, parse_export_request
from bot.reports.periods import parse_period
from storage import audit
from storage.db import Database
from storage.exports import EXPORT_COLUMNS
from tests.support.report_data import NOW, make_settings, seed_known

INJECTIONS = ['=HYPERLINK("http://evil")', "+1+2", "-3", "@SUM(A1)", "Señora Muñoz: ¡qué bien!"]


def database_rows(path: Path) -> list[tuple[Any, ...]]:
    """The rows as the database holds them, read independently of the code under test."""
    with sqlite3.connect(path) as conn:
        return conn.execute(
            """
            SELECT a.id, a.received_at, c.external_id, c.tier, t.key, a.survey_id, a.question, a.rating,
                   a.text, a.language, a.truncated, n.sentiment, n.sentiment_score, n.emotion
            FROM answers a JOIN customers c ON c.id = a.customer_id
            LEFT JOIN touchpoints t ON t.id = a.touchpoint_id
            LEFT JOIN analyses n ON n.id = a.current_analysis_id
            ORDER BY a.received_at, a.id
            """
        ).fetchall()


@pytest.fixture
async def exported(tmp_path: Path) -> Any:
    settings = make_settings(tmp_path)
    db = await Database.open(settings.storage.path)
    seed = await seed_known(db)
    async with db.transaction() as conn:
        for number, text in enumerate(INJECTIONS):
            await seed.answer(conn, None, "c2", None, "unsolicited", NOW.replace(hour=number), text=text)
    try:
        yield db, settings
    finally:
        await db.close()


def test_neutralise() -> None:
    assert [neutralise(t) for t in INJECTIONS[:4]] == ["'" + t for t in INJECTIONS[:4]]
    assert neutralise("fine = good") == "fine = good"


async def test_csv_round_trips_with_bom_and_inert_formulas(exported: Any, tmp_path: Path) -> None:
    db, _ = exported
    path = tmp_path / "out.csv"
    result = await export_answers(db, ExportRequest("csv"), path, actor="test")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with the BOM
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    expected = database_rows(db.path)
    assert result.rows == len(expected) == len(rows) - 1
    for got, want in zip(rows[1:], expected, strict=True):
        text_column = EXPORT_COLUMNS.index("text")
        wanted = ["" if v is None else str(v) for v in want]
        if want[text_column] is not None:
            wanted[text_column] = neutralise(want[text_column])
        assert got == wanted
    texts = [row[EXPORT_COLUMNS.index("text")] for row in rows[1:]]
    assert '\'=HYPERLINK("http://evil")' in texts and "'@SUM(A1)" in texts and "'-3" in texts
    assert "Señora Muñoz: ¡qué bien!" in texts


async def test_xlsx_round_trips(exported: Any, tmp_path: Path) -> None:
    db, _ = exported
    path = tmp_path / "out.xlsx"
    result = await export_answers(db, ExportRequest("xlsx"), path, actor="test")
    sheet = load_workbook(path, read_only=True).active
    rows = [tuple(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == EXPORT_COLUMNS
    expected = database_rows(db.path)
    assert result.rows == len(rows) - 1 == len(expected)
    text_column = EXPORT_COLUMNS.index("text")
    for got, want in zip(rows[1:], expected, strict=True):
        wanted = list(want)
        if want[text_column] is not None:
            wanted[text_column] = neutralise(want[text_column])
        assert list(got) == wanted
    texts = [row[text_column] for row in rows[1:]]
    assert "'+1+2" in texts and "Señora Muñoz: ¡qué bien!" in texts


async def test_jsonl_rows_equal_database_rows_and_export_is_audited(exported: Any, tmp_path: Path) -> None:
    db, _ = exported
    path = tmp_path / "out.jsonl"
    request = ExportRequest("jsonl", parse_period("30d", now=NOW, timezone="UTC"), "delivery")
    result = await export_answers(db, request, path, actor="telegram:900")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    expected = [
        dict(zip(EXPORT_COLUMNS, row, strict=True))
        for row in database_rows(db.path)
        if row[4] == "delivery" and request.period and row[1] >= "2026-10-25T12:00:00.000000Z"
    ]
    # S1, S2, S3 in the period: three answers each (expectation, experience, rating).
    assert lines == expected and result.rows == 9
    entry = (await audit.list_entries(db, 1))[0]
    assert (entry.actor, entry.action) == ("telegram:900", "export")
    assert entry.details["rows"] == 9 and entry.details["format"] == "jsonl"
    assert entry.details["touchpoint"] == "delivery"


def test_export_arguments(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    request = parse_export_request(["delivery", "XLSX", "7d"], settings, now=NOW)
    assert (request.format, request.touchpoint, request.period and request.period.label) == (
        "xlsx",
        "delivery",
        "7d",
    )
    assert parse_export_request([], settings, now=NOW) == ExportRequest("csv", None, None)
    with pytest.raises(ExportError, match="not a format"):
        parse_export_request(["pdf"], settings, now=NOW)


def test_cli_export_writes_the_file(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)

    async def seed() -> None:
        async with await Database.open(settings.storage.path) as db:
            await seed_known(db)

    asyncio.run(seed())
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{settings.storage.path}"\n', encoding="utf-8")
    output = tmp_path / "cli.jsonl"
    from bot.cli.main import main

    result = CliRunner().invoke(
        main, ["--config", str(config), "export", "--format", "jsonl", "-o", str(output)]
    )
    assert result.exit_code == 0, result.output
    expected = database_rows(settings.storage.path)
    assert f"Wrote {len(expected)} answers" in result.output
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert lines == [dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in expected]
    bad = CliRunner().invoke(main, ["--config", str(config), "export", "--period", "someday"])
    assert bad.exit_code != 0 and "not a format" in bad.output


async def test_xlsx_too_large_for_one_sheet_is_refused_before_writing(
    exported: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.reports.exports

    db, _ = exported
    monkeypatch.setattr(bot.reports.exports, "XLSX_MAX_ROWS", 3)
    path = tmp_path / "big.xlsx"
    with pytest.raises(ExportError, match="do not fit in one Excel sheet"):
        await export_answers(db, ExportRequest("xlsx"), path, actor="test")
    assert not path.exists()
    assert await audit.list_entries(db, 5) == []

"""Exports open clean and equal the database.

CSV: UTF-8 with BOM, ISO dates, formula guard. XLSX: fitted and wrapped columns, frozen header, autofilter,
real local date-times, text exactly as written. JSONL: the stored values. One row per survey as well as per
answer; no export ever overwrites a file.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from bot.config import Settings
from bot.reports.exports import (
    ExportError,
    ExportRequest,
    export_answers,
    free_path,
    neutralise,
    parse_export_request,
)
from bot.reports.periods import parse_period
from storage import audit
from storage.db import Database
from storage.exports import EXPORT_COLUMNS, SURVEY_COLUMNS
from tests.support.report_data import NOW, TOUCHPOINTS, make_settings, seed_known

INJECTIONS = ['=HYPERLINK("http://evil")', "+1+2", "-1 star, awful", "@SUM(A1)", "Señora Muñoz: ¡qué bien!"]
ZONE = "Europe/Madrid"
NAMES = {str(tp["key"]): str(tp["names"]["en"]) for tp in TOUCHPOINTS}  # type: ignore[index]


def local(value: str | None, zone: str = ZONE) -> datetime | None:
    """Stored UTC text as the naive local time a spreadsheet shows (seconds, no microseconds)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value).astimezone(ZoneInfo(zone))
    return moment.replace(tzinfo=None, microsecond=0)


def database_rows(path: Path) -> list[tuple[Any, ...]]:
    """The answers as the database holds them, read independently of the code under test."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            """
            SELECT a.id, a.received_at, c.external_id, c.tier, t.key, NULL, a.survey_id, a.question, a.rating,
                   a.text, a.language, a.truncated, n.sentiment, n.sentiment_score, n.emotion,
                   (SELECT r.theme_key FROM theme_answers r WHERE r.answer_id = a.id LIMIT 1)
            FROM answers a JOIN customers c ON c.id = a.customer_id
            LEFT JOIN touchpoints t ON t.id = a.touchpoint_id
            LEFT JOIN analyses n ON n.id = a.current_analysis_id
            ORDER BY a.received_at, a.id
            """
        ).fetchall()
    return [(*row[:5], NAMES.get(row[4]) if row[4] else None, *row[6:]) for row in rows]


def database_surveys(path: Path) -> list[dict[str, Any]]:
    """One dict per survey, built from the tables one question at a time."""
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        found = []
        for s in conn.execute(
            "SELECT s.*, c.external_id, c.tier, t.key FROM surveys s "
            "JOIN customers c ON c.id = s.customer_id LEFT JOIN touchpoints t ON t.id = s.touchpoint_id "
            "ORDER BY s.invited_at, s.id"
        ):
            row: dict[str, Any] = {
                "survey_id": s["id"],
                "customer": s["external_id"],
                "tier": s["tier"],
                "touchpoint": s["key"],
                "touchpoint_name": NAMES[s["key"]],
                "status": s["status"],
                "invited_at": s["invited_at"],
                "completed_at": s["completed_at"],
            }
            for question in ("expectation", "experience", "improvement"):
                answer = conn.execute(
                    "SELECT a.text, n.sentiment, n.emotion FROM answers a "
                    "LEFT JOIN analyses n ON n.id = a.current_analysis_id "
                    "WHERE a.survey_id = ? AND a.question = ?",
                    (s["id"], question),
                ).fetchone()
                row[question] = answer[0] if answer else None
                row[f"{question}_sentiment"] = answer[1] if answer else None
                row[f"{question}_emotion"] = answer[2] if answer else None
            rating = conn.execute(
                "SELECT rating FROM answers WHERE survey_id = ? AND question = 'rating'", (s["id"],)
            ).fetchone()
            row["rating"] = rating[0] if rating else None
            alert = conn.execute("SELECT * FROM alerts WHERE survey_id = ?", (s["id"],)).fetchone()
            row["callback_requested"] = alert["callback_requested"] if alert else 0
            row["alert_status"] = alert["status"] if alert else None
            row["alert_created_at"] = alert["created_at"] if alert else None
            row["alert_resolved_at"] = alert["resolved_at"] if alert else None
            hours = None
            if alert and alert["resolved_at"]:
                spent = datetime.fromisoformat(alert["resolved_at"]) - datetime.fromisoformat(
                    alert["created_at"]
                )
                hours = round(spent.total_seconds() / 3600, 2)
            row["hours_to_resolve"] = hours
            row["theme"] = None  # this seed has no theme runs (tests/unit/reports/test_themes.py has)
            found.append(row)
    return found


def zoned(tmp_path: Path) -> Settings:
    settings = make_settings(tmp_path)
    return settings.model_copy(
        update={"survey": settings.survey.model_copy(update={"default_timezone": ZONE})}
    )


@pytest.fixture
async def exported(tmp_path: Path) -> Any:
    settings = zoned(tmp_path)
    db = await Database.open(settings.storage.path)
    seed = await seed_known(db)
    async with db.transaction() as conn:
        for number, text in enumerate(INJECTIONS):
            await seed.answer(conn, None, "c2", None, "unsolicited", NOW.replace(hour=number), text=text)
        # S3's customer asked for a call back.
        await conn.execute(
            "UPDATE alerts SET callback_requested = 1 WHERE survey_id = ?", (seed.surveys["S3"],)
        )
    try:
        yield db, settings
    finally:
        await db.close()


def test_neutralise() -> None:
    assert [neutralise(t) for t in INJECTIONS[:4]] == ["'" + t for t in INJECTIONS[:4]]
    assert neutralise("fine = good") == "fine = good"


async def test_csv_has_bom_iso_local_dates_and_inert_formulas(exported: Any, tmp_path: Path) -> None:
    db, settings = exported
    path = tmp_path / "out.csv"
    result = await export_answers(db, ExportRequest("csv"), path, settings, actor="test")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with the BOM
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    header = list(EXPORT_COLUMNS)
    header[1] = f"received_at ({ZONE})"
    assert rows[0] == header
    expected = database_rows(db.path)
    assert result.rows == len(expected) == len(rows) - 1
    text_column = EXPORT_COLUMNS.index("text")
    for got, want in zip(rows[1:], expected, strict=True):
        wanted = ["" if v is None else str(v) for v in want]
        wanted[1] = str(local(want[1]))  # 2026-11-14 13:00:00: what spreadsheets read as a date
        if want[text_column] is not None:
            wanted[text_column] = neutralise(want[text_column])
        assert got == wanted
    # S7 answered 2026-10-15 14:00 UTC: 16:00 in Madrid (summer time); S5 2026-11-12 14:00 UTC: 15:00 (CET).
    assert rows[1][1] == "2026-10-15 16:00:00" and rows[4][1] == "2026-11-12 15:00:00"
    texts = [row[text_column] for row in rows[1:]]
    assert '\'=HYPERLINK("http://evil")' in texts and "'@SUM(A1)" in texts and "'-1 star, awful" in texts
    assert "Señora Muñoz: ¡qué bien!" in texts


async def test_xlsx_opens_ready_to_read(exported: Any, tmp_path: Path) -> None:
    db, settings = exported
    path = tmp_path / "out.xlsx"
    result = await export_answers(db, ExportRequest("xlsx"), path, settings, actor="test")
    book = load_workbook(path)
    sheet = book.active
    rows = [tuple(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0][1] == f"received_at ({ZONE})" and rows[0][4:6] == ("touchpoint", "touchpoint_name")
    expected = database_rows(db.path)
    assert result.rows == len(rows) - 1 == len(expected)
    for got, want in zip(rows[1:], expected, strict=True):
        wanted = list(want)
        wanted[1] = local(want[1])
        assert list(got) == wanted  # text exactly as written: no apostrophe in XLSX
    text_column = EXPORT_COLUMNS.index("text")
    texts = [row[text_column] for row in rows[1:]]
    assert "-1 star, awful" in texts and "+1+2" in texts and '=HYPERLINK("http://evil")' in texts
    # Real date-time cells with a date format, numbers as numbers.
    assert isinstance(sheet["B2"].value, datetime) and sheet["B2"].is_date
    assert sheet["B2"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert isinstance(sheet["A2"].value, int) and isinstance(sheet["N3"].value, float)
    assert not any(
        isinstance(cell.value, str) and cell.data_type == "f" for row in sheet.iter_rows() for cell in row
    )
    # Frozen header, autofilter over everything, widths that fit, long text wrapped.
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:P{len(rows)}"  # 16 columns, the theme last
    widths = {letter: sheet.column_dimensions[letter].width for letter in "ABCJ"}
    assert widths["A"] >= len("answer_id") and widths["B"] >= 19
    assert widths["J"] > widths["A"] and widths["J"] >= len('=HYPERLINK("http://evil")')
    assert widths["C"] < 15  # "customer": not as wide as the text column
    assert sheet["J2"].alignment.wrap_text
    assert sheet["A1"].font.b


async def test_one_row_per_survey_equals_the_database(exported: Any, tmp_path: Path) -> None:
    db, settings = exported
    path = tmp_path / "surveys.jsonl"
    result = await export_answers(db, ExportRequest("jsonl", rows="surveys"), path, settings, actor="test")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert lines == database_surveys(db.path)
    assert result.rows == 7
    by_id = {line["survey_id"]: line for line in lines}
    s3 = next(line for line in lines if line["experience"] == "<b>Late</b> & broken =SUM(A1)")
    assert (s3["callback_requested"], s3["alert_status"], s3["rating"]) == (1, "open", 2)
    resolved = [line for line in by_id.values() if line["alert_status"] == "resolved"]
    assert sorted(line["hours_to_resolve"] for line in resolved) == [2.0, 4.0]
    # The same shape as a spreadsheet: local date-times, the zone in the header.
    xlsx = tmp_path / "surveys.xlsx"
    await export_answers(db, ExportRequest("xlsx", rows="surveys"), xlsx, settings, actor="test")
    sheet = load_workbook(xlsx).active
    header = [cell.value for cell in sheet[1]]
    assert header[: len(SURVEY_COLUMNS)] == [
        f"{name} ({ZONE})" if name.endswith("_at") else name for name in SURVEY_COLUMNS
    ]
    assert sheet.max_row == 8 and isinstance(sheet["G2"].value, datetime)


async def test_jsonl_rows_equal_database_rows_and_export_is_audited(exported: Any, tmp_path: Path) -> None:
    db, settings = exported
    path = tmp_path / "out.jsonl"
    request = ExportRequest("jsonl", parse_period("30d", now=NOW, timezone="UTC"), "delivery")
    result = await export_answers(db, request, path, settings, actor="telegram:900")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    expected = [
        dict(zip(EXPORT_COLUMNS, row, strict=True))
        for row in database_rows(db.path)
        if row[4] == "delivery" and row[1] >= "2026-10-25T12:00:00.000000Z"
    ]
    # S1, S2, S3 in the period: three answers each (expectation, experience, rating).
    assert lines == expected and result.rows == 9
    entry = (await audit.list_entries(db, 1))[0]
    assert (entry.actor, entry.action) == ("telegram:900", "export")
    assert entry.details["rows"] == 9 and entry.details["format"] == "jsonl"
    assert entry.details["touchpoint"] == "delivery"


async def test_an_export_never_overwrites_a_file(exported: Any, tmp_path: Path) -> None:
    db, settings = exported
    request = ExportRequest("csv")
    name = request.filename(datetime(2026, 10, 18, 16, 5, 12, tzinfo=UTC))
    assert name == "momento-answers-all-20261018-160512.csv"  # to the second
    first = tmp_path / name
    first.write_text("keep me", encoding="utf-8")
    second = free_path(first)
    assert second.name == "momento-answers-all-20261018-160512-2.csv"
    await export_answers(db, request, second, settings, actor="test")
    assert first.read_text(encoding="utf-8") == "keep me"
    for export_format in ("csv", "xlsx", "jsonl"):
        with pytest.raises(FileExistsError):
            await export_answers(db, ExportRequest(export_format), first, settings, actor="test")  # type: ignore[arg-type]
    assert first.read_text(encoding="utf-8") == "keep me"


def test_export_arguments_and_what_was_not_understood(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    request = parse_export_request(["delivery", "XLSX", "7d", "surveys"], settings, now=NOW)
    assert (request.format, request.touchpoint, request.rows) == ("xlsx", "delivery", "surveys")
    assert request.period is not None and request.period.label == "7d"
    assert parse_export_request([], settings, now=NOW) == ExportRequest("csv", None, None)
    for period in ("last-week", "last-month", "this-week", "2026-10"):
        found = parse_export_request([period], settings, now=NOW).period
        assert found is not None and found.label == period
    with pytest.raises(ExportError, match="“pdf” is not a format"):
        parse_export_request(["pdf"], settings, now=NOW)
    with pytest.raises(ExportError, match="“delivry” is not a touchpoint: use one of delivery"):
        parse_export_request(["delivry"], settings, now=NOW)
    with pytest.raises(ExportError, match=r"period “2026-13”: 2026-13 is not a month"):
        parse_export_request(["2026-13"], settings, now=NOW)
    with pytest.raises(ExportError, match="“lastweek” is not a period"):
        parse_export_request(["lastweek"], settings, now=NOW)


def _seed_files(tmp_path: Path) -> tuple[Settings, Path]:
    settings = make_settings(tmp_path)

    async def seed() -> None:
        async with await Database.open(settings.storage.path) as db:
            await seed_known(db)

    asyncio.run(seed())
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{settings.storage.path}"\n', encoding="utf-8")
    return settings, config


def test_cli_export_writes_the_file_and_names_the_bad_option(tmp_path: Path) -> None:
    from bot.cli.main import main

    settings, config = _seed_files(tmp_path)
    output = tmp_path / "cli.jsonl"
    result = CliRunner().invoke(
        main, ["--config", str(config), "export", "--format", "jsonl", "-o", str(output)]
    )
    assert result.exit_code == 0, result.output
    expected = database_rows(settings.storage.path)
    assert f"Wrote {len(expected)} answers to {output} (times in UTC" in result.output
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert lines == [dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in expected]
    again = CliRunner().invoke(main, ["--config", str(config), "export", "-o", str(output)])
    assert again.exit_code != 0 and "exists" in again.output
    bad = CliRunner().invoke(main, ["--config", str(config), "export", "--period", "someday"])
    assert bad.exit_code != 0 and "'--period'" in bad.output and "touchpoint" not in bad.output
    bad = CliRunner().invoke(main, ["--config", str(config), "export", "--touchpoint", "delivry"])
    assert bad.exit_code != 0 and "'--touchpoint'" in bad.output and "is not a touchpoint" in bad.output
    surveys = CliRunner().invoke(
        main,
        [
            "--config",
            str(config),
            "export",
            "--rows",
            "surveys",
            "--period",
            "last-month",
            "-o",
            str(tmp_path / "s.csv"),
        ],
    )
    assert surveys.exit_code == 0, surveys.output


def test_cli_export_works_in_the_demo_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`momento demo` leaves config.toml beside its database; `momento export` there needs no option."""
    from bot.cli.main import main
    from bot.demo import DB_NAME, write_folder_config

    folder = tmp_path / "momento-demo"
    folder.mkdir()

    async def seed() -> None:
        async with await Database.open(folder / DB_NAME) as db:
            await seed_known(db)

    asyncio.run(seed())
    write_folder_config(folder)
    monkeypatch.chdir(folder)
    monkeypatch.delenv("MOMENTO_CONFIG", raising=False)
    result = CliRunner().invoke(main, ["export", "--format", "xlsx"])
    assert result.exit_code == 0, result.output
    written = sorted(folder.glob("momento-answers-all-*.xlsx"))
    assert len(written) == 1
    assert (
        load_workbook(written[0], read_only=True).active.max_row == len(database_rows(folder / DB_NAME)) + 1
    )


async def test_xlsx_too_large_for_one_sheet_is_refused_before_writing(
    exported: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.reports.exports

    db, settings = exported
    monkeypatch.setattr(bot.reports.exports, "XLSX_MAX_ROWS", 3)
    path = tmp_path / "big.xlsx"
    with pytest.raises(ExportError, match="do not fit in one Excel sheet"):
        await export_answers(db, ExportRequest("xlsx"), path, settings, actor="test")
    assert not path.exists()
    assert await audit.list_entries(db, 5) == []

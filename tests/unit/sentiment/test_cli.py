"""`momento classify` on CSV and JSONL files with bad cells: every row comes back, bad ones marked."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import sentiment
from bot.cli.main import main


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, sentiment_model: Any) -> CliRunner:
    """The CLI with the session's real model (loading it again would only cost time)."""
    monkeypatch.setattr(sentiment, "load_model", lambda settings: sentiment_model)
    return CliRunner()


def test_classify_csv_marks_bad_cells(tmp_path: Path, runner: CliRunner) -> None:
    source = tmp_path / "answers.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "comment", "lang"])
        writer.writerow(["1", "The delivery was fast and the courier very kind.", "en"])
        writer.writerow(["2", "", "en"])
        writer.writerow(["3", "Pésimo servicio, el pedido llegó roto.", "es"])
        writer.writerow(["4", "y" * 5000, "en"])
    target = tmp_path / "out" / "classified.csv"
    result = runner.invoke(
        main,
        ["classify", str(source), "--text-column", "comment", "--lang-column", "lang", "-o", str(target)],
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(target.open(encoding="utf-8-sig")))  # the BOM Excel needs
    assert [row["id"] for row in rows] == ["1", "2", "3", "4"]
    assert [row["status"] for row in rows] == ["analysed", "unanalysed", "analysed", "unanalysed"]
    assert rows[0]["sentiment"] == "positive" and rows[2]["sentiment"] == "negative"
    assert rows[1]["reason"] == "empty text"
    assert rows[3]["reason"].startswith("too long")
    assert float(rows[0]["sentiment_positive"]) > 0.5
    assert rows[0]["model_id"] == "momento-e5-heads"


def test_classify_jsonl_marks_non_text_and_broken_lines(tmp_path: Path, runner: CliRunner) -> None:
    source = tmp_path / "answers.jsonl"
    lines = [
        json.dumps({"text": "Todo perfecto, muchas gracias!", "lang": "es"}),
        json.dumps({"text": 42}),
        "{not json",
        json.dumps({"other": "no text field"}),
        json.dumps(["a", "list"]),
        json.dumps({"text": None}),
        json.dumps({"text": "Worst support ever, they hung up on me."}),
    ]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    target = tmp_path / "classified.jsonl"
    result = runner.invoke(main, ["classify", str(source), "--lang-column", "lang", "-o", str(target)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 7
    assert [row["status"] for row in rows] == ["analysed"] + ["unanalysed"] * 5 + ["analysed"]
    assert rows[0]["sentiment"] == "positive" and rows[6]["sentiment"] == "negative"
    assert rows[1]["reason"] == "not text (int)"
    assert "not valid JSON" in rows[2]["reason"]
    assert rows[3]["reason"] == "no 'text' field"
    assert "not a JSON object" in rows[4]["reason"]
    assert rows[5]["reason"] == "empty text"
    assert "7 rows" in result.output


def test_classify_names_a_missing_column(tmp_path: Path, runner: CliRunner) -> None:
    source = tmp_path / "answers.csv"
    source.write_text("id,comment\n1,hello\n", encoding="utf-8")
    result = runner.invoke(main, ["classify", str(source), "-o", str(tmp_path / "out.csv")])
    assert result.exit_code != 0
    assert "no column 'text'" in result.output
    assert not (tmp_path / "out.csv").exists()

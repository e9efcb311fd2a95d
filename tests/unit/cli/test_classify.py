"""`momento classify` output opens right in a spreadsheet: BOM, formula guard, detected language, and a
default output name that never replaces a file."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import sentiment
from bot.cli.main import main


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, sentiment_model: Any) -> CliRunner:
    monkeypatch.setattr(sentiment, "load_model", lambda settings: sentiment_model)
    return CliRunner()


def test_classify_writes_a_spreadsheet_ready_csv_with_the_detected_language(
    tmp_path: Path, runner: CliRunner
) -> None:
    source = tmp_path / "answers.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        writer.writerow(["1", "The delivery was fast and the courier was very kind."])
        writer.writerow(["2", "El pedido llegó roto y nadie me ayudó en la tienda."])
        writer.writerow(["3", "-1 star, awful =HYPERLINK(x)"])
    result = runner.invoke(main, ["classify", str(source)])
    assert result.exit_code == 0, result.output
    written = sorted(tmp_path.glob("answers-classified-*.csv"))
    assert len(written) == 1
    assert re.fullmatch(r"answers-classified-\d{8}-\d{6}\.csv", written[0].name)  # to the second
    raw = written[0].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(written[0].open(encoding="utf-8-sig", newline="")))
    assert [row["detected_language"] for row in rows[:2]] == ["en", "es"]
    assert rows[2]["text"] == "'-1 star, awful =HYPERLINK(x)"  # inert in Excel and LibreOffice
    assert rows[1]["sentiment"] == "negative"
    # A second run in the same second gets its own file; an explicit existing output is refused.
    again = runner.invoke(main, ["classify", str(source)])
    assert again.exit_code == 0, again.output
    assert len(list(tmp_path.glob("answers-classified-*.csv"))) == 2
    refused = runner.invoke(main, ["classify", str(source), "-o", str(written[0])])
    assert refused.exit_code != 0 and "exists" in refused.output
    assert written[0].read_bytes() == raw

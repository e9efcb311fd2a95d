"""`momento import customers|events FILE.csv` and `momento link` as an operator runs them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bot.accounts.links import verify_start_payload
from bot.cli.main import main
from bot.config import Settings
from storage.db import Database

CONFIG = """
[storage]
path = "{db}"

[survey]
default_timezone = "UTC"

[[touchpoints]]
key = "purchase"
names = {{ en = "purchase", es = "compra" }}
invite_delay = "1h"

[[touchpoints]]
key = "delivery"
names = {{ en = "delivery", es = "entrega" }}
weight = 1.5
invite_delay = "2h"
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(db=(tmp_path / "momento.db").as_posix()), encoding="utf-8")
    monkeypatch.setenv("MOMENTO_LINKS__SIGNING_KEY", "import-test-signing-key")
    return path


def momento(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)


def rows(config: Path, sql: str) -> list[dict[str, Any]]:
    async def fetch() -> list[dict[str, Any]]:
        async with await Database.open(config.parent / "momento.db") as db:
            return [dict(row) for row in await db.fetch_all(sql)]

    return asyncio.run(fetch())


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


CUSTOMERS = (
    "external_id,name,language,timezone,tier\n"  # line 1
    "c-1,Ana López,es,Europe/Madrid,gold\n"  # line 2: good
    "c-2,Bob,fr,UTC,standard\n"  # line 3: unsupported language
    "c-3,Chen,en,Moon/Base,\n"  # line 4: unknown time zone
    "\n"  # line 5: blank, skipped
    'c-4,"Dana, the ""regular""",en,,\n'  # line 6: good, quoted comma
    "c-1,Ana again,es,,\n"  # line 7: same id twice in the file
    ",No id,en,,\n"  # line 8: missing id
)


def test_customers_import_reports_bad_rows_by_line_and_imports_the_good(config: Path, tmp_path: Path) -> None:
    result = momento(config, "import", "customers", str(write(tmp_path, "customers.csv", CUSTOMERS)))
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if "line " in line]
    assert [line.split(": ", 2)[1] for line in errors] == ["line 3", "line 4", "line 7", "line 8"]
    assert "language" in errors[0]
    assert "Moon/Base" in errors[1]
    assert "already appears on line 2" in errors[2]
    assert "external_id: required field is missing" in errors[3]
    assert "6 rows, 2 imported, 4 bad" in result.stdout
    stored = rows(
        config, "SELECT external_id, display_name, language, tier FROM customers ORDER BY external_id"
    )
    assert stored == [
        {"external_id": "c-1", "display_name": "Ana López", "language": "es", "tier": "gold"},
        {"external_id": "c-4", "display_name": 'Dana, the "regular"', "language": "en", "tier": "standard"},
    ]


def test_all_or_nothing_imports_nothing_when_a_row_is_bad(config: Path, tmp_path: Path) -> None:
    path = write(tmp_path, "customers.csv", CUSTOMERS)
    result = momento(config, "import", "customers", str(path), "--all-or-nothing")
    assert result.exit_code == 1
    assert "nothing imported" in result.stdout
    assert rows(config, "SELECT * FROM customers") == []
    dry = momento(config, "import", "customers", str(path), "--dry-run")
    assert "nothing written" in dry.stdout
    assert rows(config, "SELECT * FROM customers") == []


def test_events_import_with_extra_columns_semicolons_and_a_bom(config: Path, tmp_path: Path) -> None:
    text = (
        "external_id;customer_external_id;touchpoint;occurred_at;order_id;amount;attributes\n"
        "e-1;c-1;purchase;2026-03-01T10:00:00+01:00;A-100;42.50;\n"
        'e-2;c-1;delivery;2026-03-02T15:30:00Z;A-100;;"{""courier"": ""Rápido""}"\n'
        "e-3;c-2;hotel_stay;2026-03-02T15:30:00Z;;;\n"
        "e-4;c-2;delivery;2026-03-02 15:30;;;\n"
        "e-5;c-2;delivery;2026-03-02T15:30:00Z;;;{not json}\n"
    )
    path = write(tmp_path, "events.csv", text, encoding="utf-8-sig")
    result = momento(config, "import", "events", str(path))
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if "line " in line]
    assert len(errors) == 3
    assert "line 4: touchpoint: no touchpoint 'hotel_stay'" in errors[0]
    assert "line 5: occurred_at" in errors[1]
    assert "line 6: attributes" in errors[2]
    # Neither customer was linked, so the events are kept without a survey.
    assert "2 imported, 3 bad (customer_not_linked 2)" in result.stdout
    stored = rows(
        config, "SELECT external_id, attributes, amount FROM touchpoint_events ORDER BY external_id"
    )
    assert [row["external_id"] for row in stored] == ["e-1", "e-2"]
    assert json.loads(stored[0]["attributes"]) == {"order_id": "A-100", "amount": "42.50"}
    assert stored[0]["amount"] == pytest.approx(42.5)
    assert json.loads(stored[1]["attributes"]) == {"courier": "Rápido", "order_id": "A-100"}

    again = momento(config, "import", "events", str(path))
    assert "2 imported, 3 bad (duplicate 2)" in again.stdout
    assert len(rows(config, "SELECT * FROM touchpoint_events")) == 2


@pytest.mark.parametrize(
    ("content", "encoding", "message"),
    [
        (
            "external_id,customer,touchpoint\ne1,c1,purchase\n",
            "utf-8",
            "missing column(s) customer_external_id",
        ),
        ("", "utf-8", "the file is empty"),
        (
            "external_id,customer_external_id,touchpoint,occurred_at\ne1,Núñez,purchase,x\n",
            "latin-1",
            "UTF-8",
        ),
    ],
    ids=["missing-column", "empty", "not-utf8"],
)
def test_a_file_that_cannot_be_read_gets_one_clear_line(
    config: Path, tmp_path: Path, content: str, encoding: str, message: str
) -> None:
    result = momento(config, "import", "events", str(write(tmp_path, "events.csv", content, encoding)))
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_missing_file_is_a_clear_error(config: Path, tmp_path: Path) -> None:
    result = momento(config, "import", "customers", str(tmp_path / "nope.csv"))
    assert result.exit_code == 1
    assert "file not found" in result.stderr


def test_link_prints_a_verifiable_link_and_writes_the_qr_code(config: Path, tmp_path: Path) -> None:
    momento(config, "import", "customers", str(write(tmp_path, "c.csv", "external_id,name\nc-9,Ana\n")))
    qr = tmp_path / "qr" / "c-9.png"
    result = momento(config, "link", "c-9", "--qr", str(qr), "--bot-username", "@momento_bot")
    assert result.exit_code == 0, result.output
    link = result.stdout.strip()
    assert link.startswith("https://t.me/momento_bot?start=")
    settings = Settings(links={"signing_key": "import-test-signing-key"})
    target = verify_start_payload(settings.links.signing_key, link.split("start=")[1])
    [customer] = rows(config, "SELECT id FROM customers WHERE external_id = 'c-9'")
    assert target.customer_id == customer["id"]
    assert qr.read_bytes().startswith(b"\x89PNG")
    events = (
        "external_id,customer_external_id,touchpoint,occurred_at\ne-9,c-9,purchase,2026-03-01T10:00:00Z\n"
    )
    momento(config, "import", "events", str(write(tmp_path, "e.csv", events)))
    for_event = momento(config, "link", "c-9", "--event", "e-9", "--bot-username", "momento_bot")
    [event] = rows(config, "SELECT id FROM touchpoint_events WHERE external_id = 'e-9'")
    assert (
        verify_start_payload(settings.links.signing_key, for_event.stdout.strip().split("start=")[1]).event_id
        == (event["id"])
    )
    assert momento(config, "link", "c-9", "--event", "e-404", "--bot-username", "b").exit_code == 1
    unknown = momento(config, "link", "nobody", "--bot-username", "momento_bot")
    assert unknown.exit_code == 1
    assert "no customer with external id 'nobody'" in unknown.stderr


def test_large_files_are_imported_completely_across_chunks(config: Path, tmp_path: Path) -> None:
    people = "external_id,name\n" + "".join(f"c-{n},Name {n}\n" for n in range(1200))
    assert (
        "1200 rows, 1200 imported, 0 bad (created 1200)"
        in momento(config, "import", "customers", str(write(tmp_path, "c.csv", people))).stdout
    )
    events = "external_id,customer_external_id,touchpoint,occurred_at\n" + "".join(
        f"e-{n},c-{n % 1200},purchase,2026-03-01T10:00:00Z\n" for n in range(1300)
    )
    # Invalid row in the middle of the second chunk: the rest still goes in.
    events = events.replace("e-700,c-700,purchase,", "e-700,c-700,nowhere,")
    result = momento(config, "import", "events", str(write(tmp_path, "e.csv", events)))
    assert "1300 rows, 1299 imported, 1 bad (customer_not_linked 1299)" in result.stdout
    assert "line 702: touchpoint" in result.stderr
    assert rows(config, "SELECT COUNT(*) AS n FROM touchpoint_events")[0]["n"] == 1299
    assert rows(config, "SELECT COUNT(*) AS n FROM customers")[0]["n"] == 1200

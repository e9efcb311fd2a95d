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
    assert (
        "customers: 6 rows: 2 imported as new customers, 0 updated, 4 refused: bad rows (listed above)."
        in (result.stdout)
    )
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
        "e-4;c-2;delivery;2026-03-02 15:30;;;\n"  # no offset: read in survey.default_timezone (UTC)
        "e-5;c-2;delivery;2026-03-02T15:30:00Z;;;{not json}\n"
    )
    path = write(tmp_path, "events.csv", text, encoding="utf-8-sig")
    result = momento(config, "import", "events", str(path))
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if "line " in line]
    assert len(errors) == 2
    assert "line 4: touchpoint: no touchpoint 'hotel_stay'" in errors[0]
    assert "line 6: attributes" in errors[1]
    # Neither customer was linked, so the events are kept, waiting for the link.
    assert result.stdout.strip() == (
        "events: 5 rows: 3 imported and waiting: customer not linked yet (the invitation goes out when they "
        "link), 2 refused: bad rows (listed above). Times without an offset were read in UTC."
    )
    stored = rows(
        config,
        "SELECT external_id, attributes, amount, occurred_at FROM touchpoint_events ORDER BY external_id",
    )
    assert [row["external_id"] for row in stored] == ["e-1", "e-2", "e-4"]
    assert stored[2]["occurred_at"].startswith("2026-03-02T15:30:00")
    assert json.loads(stored[0]["attributes"]) == {"order_id": "A-100", "amount": "42.50"}
    assert stored[0]["amount"] == pytest.approx(42.5)
    assert json.loads(stored[1]["attributes"]) == {"courier": "Rápido", "order_id": "A-100"}

    again = momento(config, "import", "events", str(path))
    assert again.stdout.strip() == (
        "events: 5 rows: 3 refused: duplicate event id (sent before; nothing changed), "
        "2 refused: bad rows (listed above). Times without an offset were read in UTC."
    )
    assert len(rows(config, "SELECT * FROM touchpoint_events")) == 3


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
        "customers: 1200 rows: 1200 imported as new customers, 0 updated, no bad rows."
        in momento(config, "import", "customers", str(write(tmp_path, "c.csv", people))).stdout
    )
    events = "external_id,customer_external_id,touchpoint,occurred_at\n" + "".join(
        f"e-{n},c-{n % 1200},purchase,2026-03-01T10:00:00Z\n" for n in range(1300)
    )
    # Invalid row in the middle of the second chunk: the rest still goes in.
    events = events.replace("e-700,c-700,purchase,", "e-700,c-700,nowhere,")
    result = momento(config, "import", "events", str(write(tmp_path, "e.csv", events)))
    assert "events: 1300 rows: 1299 imported and waiting: customer not linked yet" in result.stdout
    assert "1 refused: bad row (listed above)." in result.stdout
    assert "line 702: touchpoint" in result.stderr
    assert rows(config, "SELECT COUNT(*) AS n FROM touchpoint_events")[0]["n"] == 1299
    assert rows(config, "SELECT COUNT(*) AS n FROM customers")[0]["n"] == 1200


def test_times_without_an_offset_and_european_dates(config: Path, tmp_path: Path) -> None:
    madrid = config.read_text(encoding="utf-8").replace(
        'default_timezone = "UTC"', 'default_timezone = "Europe/Madrid"'
    )
    config.write_text(madrid, encoding="utf-8")
    iso = "external_id,customer_external_id,touchpoint,occurred_at\ne-1,c-1,purchase,2026-03-01 10:00:00\n"
    result = momento(config, "import", "events", str(write(tmp_path, "iso.csv", iso)))
    assert result.exit_code == 0, result.output
    assert "Times without an offset were read in Europe/Madrid." in result.stdout
    european = "external_id,customer_external_id,touchpoint,occurred_at\ne-2,c-1,purchase,18/10/2026 16:05\n"
    path = write(tmp_path, "eu.csv", european)
    refused = momento(config, "import", "events", str(path))
    assert refused.exit_code == 1 and "line 2: occurred_at" in refused.stderr
    result = momento(config, "import", "events", str(path), "--date-format", "%d/%m/%Y %H:%M")
    assert result.exit_code == 0, result.output
    wrong = write(tmp_path, "wrong.csv", european.replace("e-2", "e-3").replace("18/10/2026", "2026-10-18"))
    bad = momento(config, "import", "events", str(wrong), "--date-format", "%d/%m/%Y %H:%M")
    assert bad.exit_code == 1 and "--date-format %d/%m/%Y %H:%M" in bad.stderr
    stored = rows(config, "SELECT external_id, occurred_at FROM touchpoint_events ORDER BY external_id")
    # 10:00 in Madrid (winter, UTC+1) is 09:00 UTC; 16:05 on 18 October (summer, UTC+2) is 14:05 UTC.
    assert [(row["external_id"], row["occurred_at"][:19]) for row in stored] == [
        ("e-1", "2026-03-01T09:00:00"),
        ("e-2", "2026-10-18T14:05:00"),
    ]


def test_help_lists_the_columns_and_the_formats(config: Path) -> None:
    group = momento(config, "import", "--help").stdout
    assert "customer_external_id" in group and "timezone" in group
    assert "survey.default_timezone" in group and "--date-format" in group
    events = momento(config, "import", "events", "--help").stdout
    assert "--date-format" in events and "%d/%m/%Y %H:%M" in events
    assert "survey.default_timezone" in events

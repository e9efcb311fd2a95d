"""Schema migrations: a new file, an upgrade from every earlier version with data kept, and refusals."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli.main import main as cli
from storage import answers, customers, touchpoints
from storage.db import Database, SchemaError, _migrations, _split_sql, latest_version
from storage.models import TouchpointSpec

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TABLES = {
    "customers",
    "touchpoints",
    "touchpoint_events",
    "surveys",
    "answers",
    "analyses",
    "alerts",
    "staff",
    "audit_log",
    "app_state",
}


def build_at_version(path: Path, version: int) -> None:
    """A file as an older Momento left it: migrations 1..version applied the way they were shipped."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for number, _, sql in _migrations()[:version]:
        conn.execute("BEGIN")
        for statement in _split_sql(sql):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    conn.close()


def fill_old_file(path: Path) -> None:
    """One customer with one answer, written with plain SQL as an old version would have."""
    conn = sqlite3.connect(path, isolation_level=None)
    stamp = "2026-03-01T12:00:00.000000Z"
    conn.execute(
        "INSERT INTO customers (external_id, display_name, created_at, updated_at) VALUES (?, ?, ?, ?)",
        ("crm-1", "Lucía", stamp, stamp),
    )
    conn.execute(
        """INSERT INTO touchpoints (key, names, kind, stage, weight, channel, updated_at)
           VALUES ('delivery', '{"en":"delivery"}', 'direct', 3, 1.5, 'courier', ?)""",
        (stamp,),
    )
    conn.execute(
        """INSERT INTO answers (customer_id, touchpoint_id, question, text, rating, chat_id, message_id,
               received_at) VALUES (1, 1, 'experience', 'Llegó tarde', NULL, 77, 5, ?)""",
        (stamp,),
    )
    conn.close()


def table_names(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


async def test_a_new_file_gets_the_whole_schema_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "momento.db"
    async with await Database.open(path) as db:
        assert await db.schema_version() == latest_version() >= 2
        mode = await db.fetch_one("PRAGMA journal_mode")
        assert mode is not None and mode[0] == "wal"
        fk = await db.fetch_one("PRAGMA foreign_keys")
        assert fk is not None and fk[0] == 1
        assert await db.integrity_ok()
    assert table_names(path) >= TABLES


@pytest.mark.parametrize("version", range(1, latest_version()))
async def test_every_earlier_version_upgrades_keeping_its_data(tmp_path: Path, version: int) -> None:
    path = tmp_path / "old.db"
    build_at_version(path, version)
    fill_old_file(path)

    async with await Database.open(path) as db:
        assert await db.schema_version() == latest_version()
        customer = await customers.get_by_external_id(db, "crm-1")
        assert customer is not None and customer.display_name == "Lucía"
        stored = await answers.answers_for_customer(db, customer.id)
        assert [(a.question, a.text, a.chat_id, a.message_id) for a in stored] == [
            ("experience", "Llegó tarde", 77, 5)
        ]
        # The upgraded file keeps working: the same message is still recognised as already stored.
        _, created = await answers.record_answer(
            db,
            survey_id=None,
            customer_id=customer.id,
            touchpoint_id=stored[0].touchpoint_id,
            question="experience",
            text="Llegó tarde",
            rating=None,
            language="es",
            chat_id=77,
            message_id=5,
            received_at=AT,
        )
        assert created is False
        assert await db.integrity_ok()


async def test_upgraded_and_fresh_files_have_the_same_schema(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    build_at_version(old, 1)
    async with await Database.open(old):
        pass
    async with await Database.open(tmp_path / "new.db"):
        pass

    def schema(path: Path) -> list[tuple[str, str]]:
        conn = sqlite3.connect(path)
        try:
            return sorted(
                (row[0], row[1])
                for row in conn.execute(
                    "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
                )
            )
        finally:
            conn.close()

    assert schema(old) == schema(tmp_path / "new.db")


async def test_a_database_newer_than_the_code_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    async with await Database.open(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    conn.close()

    with pytest.raises(SchemaError, match=r"newer than this Momento.*upgrade Momento"):
        await Database.open(path)

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version() + 1
    conn.close()


async def test_a_failing_migration_leaves_the_file_at_its_old_version(tmp_path: Path) -> None:
    path = tmp_path / "broken.db"
    build_at_version(path, 1)
    # Something an operator did by hand makes migration 2 fail half-way (its index name is taken).
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE ix_answers_survey_question (x)")
    conn.close()

    with pytest.raises(SchemaError, match="0002"):
        await Database.open(path)

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    # The indexes the migration dropped before failing are back: the transaction rolled back as a whole.
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "ix_answers_touchpoint_time" in names
    conn.close()


def test_two_processes_opening_a_new_file_at_once_both_succeed(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    script = textwrap.dedent(
        f"""
        import asyncio
        from storage.db import Database
        async def main():
            async with await Database.open({str(path)!r}) as db:
                print(await db.schema_version())
        asyncio.run(main())
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    results = [proc.communicate(timeout=60) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0, 0], [err for _, err in results]
    assert {out.strip() for out, _ in results} == {str(latest_version())}


def test_momento_init_creates_then_upgrades_the_database(tmp_path: Path) -> None:
    db_path = tmp_path / "data" / "momento.db"
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{db_path.as_posix()}"\n', encoding="utf-8")
    runner = CliRunner()

    created = runner.invoke(cli, ["--config", str(config), "init"])
    assert created.exit_code == 0, created.output
    assert f"schema version {latest_version()}" in created.output
    assert table_names(db_path) >= TABLES

    db_path.unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    build_at_version(db_path, 1)
    upgraded = runner.invoke(cli, ["--config", str(config), "init"])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"schema version {latest_version()}" in upgraded.output


def test_momento_init_refuses_a_newer_database_with_a_clear_message(tmp_path: Path) -> None:
    db_path = tmp_path / "momento.db"
    build_at_version(db_path, latest_version())
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {latest_version() + 5}")
    conn.close()
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{db_path.as_posix()}"\n', encoding="utf-8")

    result = CliRunner().invoke(cli, ["--config", str(config), "init"])

    assert result.exit_code != 0
    assert "newer than this Momento" in result.output


async def test_touchpoints_sync_survives_an_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    build_at_version(path, 1)
    fill_old_file(path)
    async with await Database.open(path) as db:
        synced = await touchpoints.sync_touchpoints(
            db, [TouchpointSpec("delivery", {"en": "delivery", "es": "entrega"}, "direct", 3, 2.0, "courier")]
        )
    assert [(tp.id, tp.key, tp.weight, tp.names["es"]) for tp in synced] == [(1, "delivery", 2.0, "entrega")]

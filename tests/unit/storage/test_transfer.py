"""`momento migrate-storage`: a seeded SQLite deployment copied to PostgreSQL, verified table by table, and
every staff report the same on both."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from bot.cli.main import main
from bot.config import Settings
from bot.reports.common import Scope
from bot.reports.customer import build_customer, render_customer
from bot.reports.drivers import build_drivers, render_drivers
from bot.reports.journey import build_journey, render_journey
from bot.reports.periods import parse_period
from bot.reports.quotes import build_quotes, parse_quote_request, render_quotes
from bot.reports.segments import build_segments, render_segments
from bot.reports.summary import build_summary, render_summary
from storage import customers, inbox, staff, state
from storage.db import Database
from storage.transfer import check_table, tables
from tests.support import postgres as pg_support
from tests.support.report_data import NOW, make_settings, seed_known


async def _seed(path: Path) -> None:
    async with await Database.open(path) as db:
        await seed_known(db)
        await staff.add_staff(db, 900, "admin", None, "Ada")
        await state.set_value(db, "digest.last_sent", "daily:2026-11-19")
        await inbox.store_update(db, 4001, '{"update_id": 4001, "message": {"text": "¿hola?"}}', at=NOW)


async def _reports(target: str | Path, settings: Settings) -> list[str]:
    """Every staff report of the seeded period, as the staff would read it."""
    period = parse_period("30d", now=NOW, timezone="UTC")
    scope = Scope(period=period)
    async with await Database.open(target) as db:
        texts = [
            render_summary(await build_summary(db, settings, scope), settings, "en").text,
            render_summary(
                await build_summary(db, settings, Scope(period=period, tier="gold")), settings, "es"
            ).text,
            render_drivers(await build_drivers(db, settings, scope), settings, "en", with_chart=False).text,
            render_journey(await build_journey(db, settings, scope), settings, "en").text,
            render_segments(await build_segments(db, settings, scope), settings, "en").text,
            render_customer(await build_customer(db, "C1", "en"), settings, "en").text,
        ]
        for args in (["delivery", "negative"], ["delivery", "joy"], ["store_visit"]):
            request = await parse_quote_request(db, settings, args, now=NOW, language="en")
            texts.append(render_quotes(await build_quotes(db, request), settings, "en").text)
        return texts


async def _checks(target: str | Path) -> dict[str, Any]:
    async with await Database.open(target) as db:
        return {table: await check_table(db, table) for table in await tables(db)}


def test_a_seeded_sqlite_deployment_moves_to_postgresql_verified_and_reports_the_same(
    tmp_path: Path, postgres_url: str
) -> None:
    source = tmp_path / "momento.db"
    asyncio.run(_seed(source))
    target = asyncio.run(pg_support.empty_database(postgres_url))
    runner = CliRunner()
    try:
        result = runner.invoke(main, ["migrate-storage", "--from", f"sqlite:///{source}", "--to", target])
        assert result.exit_code == 0, result.output
        copied = sorted(asyncio.run(_checks(source)))
        assert f"Copied and verified {len(copied)} tables" in result.output
        assert {"answers", "answer_vectors", "leases"} <= set(copied)
        assert "answers" in result.output and "ok" in result.output

        # Value for value, and every report reads the same.
        assert asyncio.run(_checks(target)) == asyncio.run(_checks(source))
        settings = make_settings(tmp_path)
        sqlite_reports = asyncio.run(_reports(source, settings))
        assert all(sqlite_reports) and "delivery" in sqlite_reports[0]
        assert asyncio.run(_reports(target, settings)) == sqlite_reports

        # New rows continue after the copied ids.
        async def new_customer_id() -> tuple[int, int]:
            async with await Database.open(target) as db:
                before = await db.fetch_one("SELECT MAX(id) FROM customers")
                added = await customers.upsert_customer(db, "after-the-move")
                return int(before[0]) if before else 0, added.id

        largest, added = asyncio.run(new_customer_id())
        assert added == largest + 1

        # A target holding data is refused, naming what it holds, unless --force.
        again = runner.invoke(main, ["migrate-storage", "--from", str(source), "--to", target])
        assert again.exit_code != 0
        assert "the target is not empty" in again.output and "customers (7)" in again.output
        forced = runner.invoke(main, ["migrate-storage", "--from", str(source), "--to", target, "--force"])
        assert forced.exit_code == 0, forced.output
        assert asyncio.run(_checks(target)) == asyncio.run(_checks(source))
    finally:
        asyncio.run(pg_support.drop_database(postgres_url, target))


@pg_support.BOTH_ENGINES
async def test_a_copy_back_to_sqlite_verifies_too(tmp_path: Path, storage_target: str | Path) -> None:
    """Either direction: a PostgreSQL (or SQLite) deployment copied into a new SQLite file."""
    async with await Database.open(storage_target) as db:
        await seed_known(db)
    copy = tmp_path / "copy.db"
    from storage.transfer import copy_database

    async with await Database.open(storage_target) as origin, await Database.open(copy) as destination:
        checks = await copy_database(origin, destination)
    assert {check.table: check.rows for check in checks}["answers"] > 0
    assert await _checks(copy) == await _checks(storage_target)


def test_a_missing_source_file_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["migrate-storage", "--from", str(tmp_path / "nowhere.db"), "--to", str(tmp_path / "new.db")]
    )
    assert result.exit_code != 0 and "no such database file" in result.output
    assert not (tmp_path / "new.db").exists()

"""`momento migrate-storage --from sqlite:///momento.db --to postgresql://...`: move a deployment's data.

Stop the bot and the API first (the copy is a snapshot of the source as the command reads it). The target is
created or upgraded to this Momento's schema, must be empty (``--force`` replaces what it holds), and every
table is verified after the copy: row count and a SHA-256 of its rows must match the source's. The
PostgreSQL password comes from MOMENTO_STORAGE__PASSWORD (environment or secrets file), as for the bot.
"""

from __future__ import annotations

import asyncio

import click

from bot.cli.state import CliState


@click.command("migrate-storage")
@click.option(
    "--from", "source", required=True, help="sqlite:///path/momento.db, a path, or postgresql://..."
)
@click.option("--to", "target", required=True, help="postgresql://user@host:port/dbname (or a SQLite path).")
@click.option("--force", is_flag=True, help="Replace whatever the target already holds.")
@click.pass_context
def migrate_storage_command(ctx: click.Context, source: str, target: str, force: bool) -> None:
    """Copy every table from one database to another and verify counts and checksums."""
    from storage.db import Database, SchemaError, is_postgresql, sqlite_path
    from storage.transfer import TableCheck, TransferError, copy_database

    state = ctx.find_object(CliState)
    assert state is not None
    password = state.settings(require_file=False).storage.password_value
    if source == target:
        raise click.ClickException("--from and --to name the same database")
    if not is_postgresql(source) and not sqlite_path(source).is_file():
        raise click.ClickException(f"{sqlite_path(source)}: no such database file")

    async def run() -> list[TableCheck]:
        async with (
            await Database.open(source, password=password) as origin,
            await Database.open(target, password=password) as destination,
        ):
            return await copy_database(origin, destination, force=force)

    try:
        checks = asyncio.run(run())
    except (SchemaError, TransferError) as exc:
        raise click.ClickException(str(exc)) from exc
    for check in checks:
        click.echo(f"  {check.table:<20} {check.rows:>10} rows  sha256 {check.checksum[:16]}  ok")
    click.echo(f"Copied and verified {len(checks)} tables, {sum(c.rows for c in checks)} rows.")

"""`momento purge [--dry-run]`: apply the data-retention policy now (the bot also runs it every night)."""

from __future__ import annotations

import asyncio

import click

from bot.cli.state import CliState

_TABLES = {
    "answers": "answers (texts and Telegram ids)",
    "surveys": "closed surveys (dialogue state)",
    "touchpoint_events": "events (ids and attributes)",
    "alerts": "resolved alerts (staff notes)",
}


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Only show what would be anonymised; change nothing.")
@click.pass_context
def purge_command(ctx: click.Context, dry_run: bool) -> None:
    """Anonymise what is older than [privacy] retention, as /delete does (ratings, labels, dates stay)."""
    from bot.accounts.retention import apply_retention
    from storage.db import Database, utcnow
    from storage.privacy import RetentionResult

    state = ctx.find_object(CliState)
    assert state is not None
    settings = state.settings()
    if settings.privacy.retention is None:
        raise click.ClickException(
            'privacy.retention is "off": set it (e.g. retention = "365d" in [privacy]) to purge old answers'
        )

    async def run() -> RetentionResult | None:
        async with await Database.open(
            settings.storage.target, password=settings.storage.password_value
        ) as db:
            return await apply_retention(db, settings, utcnow(), dry_run=dry_run, actor="cli")

    result = asyncio.run(run())
    assert result is not None  # retention is on
    verb = "Would anonymise" if dry_run else "Anonymised"
    click.echo(f"{verb} what is older than {result.cutoff:%Y-%m-%d %H:%M} UTC:")
    for table, label in _TABLES.items():
        click.echo(f"  {result.counts.get(table, 0):>8}  {label}")
    if dry_run:
        click.echo("Dry run: nothing was changed.")
    elif result.total:
        click.echo("Recorded in the audit log.")

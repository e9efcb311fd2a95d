"""`momento export`: the same export as /export, written to a file on the server with a progress bar."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from bot.cli.state import CliState


@click.command("export")
@click.option(
    "--format",
    "export_format",
    type=click.Choice(["csv", "xlsx", "jsonl"]),
    default="csv",
    show_default=True,
    help="File format.",
)
@click.option(
    "--period", default="all", show_default=True, help="7d, 30d, this-month, YYYY-MM-DD..YYYY-MM-DD or all."
)
@click.option("--touchpoint", default=None, help="Only this touchpoint (its key).")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="File to write (default: a name with the filters and the time, in the current folder).",
)
@click.pass_obj
def export_command(
    state: object, export_format: str, period: str, touchpoint: str | None, output: str | None
) -> None:
    """Export every answer (with customer, touchpoint and analysis) to CSV, XLSX or JSONL; audited."""
    from bot.reports.exports import ExportError, count_rows, export_answers, parse_export_request
    from storage.db import Database, SchemaError, utcnow

    assert isinstance(state, CliState)
    settings = state.settings()
    now = utcnow()
    args = [export_format, period] + ([touchpoint] if touchpoint else [])
    try:
        request = parse_export_request(args, settings, now=now)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from exc
    destination = Path(output) if output else Path(request.filename(now))

    async def run() -> int:
        async with await Database.open(settings.storage.path) as db:
            total = await count_rows(db, request)
            with click.progressbar(length=total, label=f"Exporting {total:,} answers", file=None) as bar:
                done = 0

                def advance(rows: int) -> None:
                    nonlocal done
                    bar.update(rows - done)
                    done = rows

                result = await export_answers(db, request, destination, actor="cli", progress=advance)
            return result.rows

    try:
        rows = asyncio.run(run())
    except (ExportError, SchemaError) as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"{destination}: cannot be written: {exc.strerror}") from exc
    click.echo(f"Wrote {rows:,} answers to {destination} (recorded in the audit log).")

"""`momento export`: the same export as /export, written to a file on the server with a progress bar."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from bot.cli.state import CliState

PERIOD_HELP = "7d, 30d, this-week, last-week, this-month, last-month, YYYY-MM, YYYY-MM-DD..YYYY-MM-DD or all."


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
    "--rows",
    "rows_shape",
    type=click.Choice(["answers", "surveys"]),
    default="answers",
    show_default=True,
    help="One row per answer, or one row per survey (its answers side by side, call-back, alert).",
)
@click.option("--period", default="all", show_default=True, help=PERIOD_HELP)
@click.option("--touchpoint", default=None, help="Only this touchpoint (its key).")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="File to write (default: a name with the filters and the time to the second, in the current "
    "folder; never an existing file).",
)
@click.option("--overwrite", is_flag=True, help="Replace --output if it exists (default: refuse).")
@click.pass_obj
def export_command(
    state: object,
    export_format: str,
    rows_shape: str,
    period: str,
    touchpoint: str | None,
    output: str | None,
    overwrite: bool,
) -> None:
    """Export every answer or survey (with customer, touchpoint and analysis) to CSV, XLSX or JSONL; audited.

    Dates are in survey.default_timezone (the header names it).
    """
    from bot.reports.exports import (
        ExportError,
        ExportRequest,
        count_rows,
        export_answers,
        free_path,
        parse_period_option,
    )
    from storage.db import Database, SchemaError, utcnow

    assert isinstance(state, CliState)
    settings = state.settings()
    now = utcnow()
    keys = sorted(tp.key for tp in settings.touchpoints)
    try:
        chosen_period = parse_period_option(period, settings, now=now)
    except ExportError as exc:
        raise click.BadParameter(str(exc), param_hint="'--period'") from exc
    if touchpoint is not None and touchpoint.strip().lower() not in keys:
        raise click.BadParameter(
            f"“{touchpoint[:40]}” is not a touchpoint: use one of {', '.join(keys) or '–'}",
            param_hint="'--touchpoint'",
        )
    request = ExportRequest(
        format=export_format,  # type: ignore[arg-type]
        period=chosen_period,
        touchpoint=touchpoint.strip().lower() if touchpoint else None,
        rows=rows_shape,  # type: ignore[arg-type]
    )
    if output:
        destination = Path(output)
        if destination.exists():
            if not overwrite:
                raise click.ClickException(
                    f"{destination} exists: choose another --output or add --overwrite"
                )
            destination.unlink()
    else:
        destination = free_path(Path(request.filename(now)))

    async def run() -> int:
        async with await Database.open(
            settings.storage.target, password=settings.storage.password_value
        ) as db:
            total = await count_rows(db, request)
            label = f"Exporting {total:,} {request.rows}"
            with click.progressbar(length=total, label=label, file=None) as bar:
                done = 0

                def advance(rows: int) -> None:
                    nonlocal done
                    bar.update(rows - done)
                    done = rows

                result = await export_answers(
                    db, request, destination, settings, actor="cli", progress=advance
                )
            return result.rows

    try:
        rows = asyncio.run(run())
    except (ExportError, SchemaError) as exc:
        raise click.ClickException(str(exc)) from exc
    except FileExistsError as exc:
        raise click.ClickException(f"{destination} exists: choose another --output") from exc
    except OSError as exc:
        raise click.ClickException(f"{destination}: cannot be written: {exc.strerror}") from exc
    zone = settings.survey.default_timezone
    click.echo(
        f"Wrote {rows:,} {request.rows} to {destination} (times in {zone}; recorded in the audit log)."
    )

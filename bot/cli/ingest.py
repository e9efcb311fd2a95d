"""`momento import customers|events FILE.csv` and `momento link CUSTOMER_ID [--qr out.png]`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.state import CliState

if TYPE_CHECKING:
    from bot.api.importing import ImportKind, ImportReport
    from bot.config import Settings

SHOWN_ERRORS = 50


def _state(ctx: click.Context) -> CliState:
    state = ctx.find_object(CliState)
    if state is None:  # pragma: no cover - click always builds it in main
        raise click.UsageError("run through the momento command")
    return state


def _import(
    ctx: click.Context,
    kind: ImportKind,
    file: Path,
    all_or_nothing: bool,
    dry_run: bool,
    date_format: str | None = None,
) -> None:
    from bot.api.importing import ImportFileError, check_file, import_file
    from bot.api.ingest import sync_configured_touchpoints
    from storage.db import Database, SchemaError, utcnow

    settings = _state(ctx).settings()

    async def run() -> ImportReport:
        async with await Database.open(
            settings.storage.target, password=settings.storage.password_value
        ) as db:
            await sync_configured_touchpoints(db, settings)
            checked = check_file(file, kind, settings, date_format=date_format)
            with click.progressbar(length=checked.rows, label=f"importing {kind}", file=sys.stderr) as bar:
                return await import_file(
                    db,
                    settings,
                    file,
                    kind,
                    now=utcnow(),
                    all_or_nothing=all_or_nothing,
                    dry_run=dry_run,
                    progress=bar.update,
                    checked=checked,
                    date_format=date_format,
                )

    try:
        report = asyncio.run(run())
    except (ImportFileError, SchemaError) as exc:
        raise click.ClickException(str(exc)) from exc
    for error in report.errors[:SHOWN_ERRORS]:
        click.echo(f"{file}: {error}", err=True)
    if len(report.errors) > SHOWN_ERRORS:
        click.echo(f"... and {len(report.errors) - SHOWN_ERRORS} more bad rows", err=True)
    if report.written:
        click.echo(report.result_line(settings.survey.default_timezone))
    elif dry_run:
        click.echo(f"{kind}: {report.rows} rows checked, {len(report.errors)} bad; nothing written (dry run)")
    else:
        click.echo(
            f"{kind}: {report.rows} rows, {len(report.errors)} bad; nothing imported (--all-or-nothing). "
            "Fix the rows above and run the import again."
        )
    if report.errors:
        ctx.exit(1)


_all_or_nothing = click.option(
    "--all-or-nothing", is_flag=True, help="Import nothing if any row is bad (default: import the good rows)."
)
_dry_run = click.option("--dry-run", is_flag=True, help="Check every row, write nothing.")
_file = click.argument("file", type=click.Path(dir_okay=False, path_type=Path))


@click.group("import")
def import_group() -> None:
    """Import customers or touchpoint events from a CSV file (UTF-8, header line first).

    \b
    Columns (comma, semicolon or tab separated; the header line names them):
    customers: external_id [, name, language (en|es), timezone (IANA, e.g. Europe/Madrid), tier]
    events:    external_id, customer_external_id, touchpoint (a configured key), occurred_at
               [, attributes (JSON object)]; any other column becomes an event attribute
               (order_id, store, amount ...)
    \b
    occurred_at formats:
      2026-10-18T16:05:12+02:00   ISO 8601 with an offset (or Z for UTC)
      2026-10-18 16:05:12         no offset: read in survey.default_timezone of the config
      --date-format '%d/%m/%Y %H:%M'  e.g. 18/10/2026 16:05 from European systems
                                  (Python strptime codes; no offset: survey.default_timezone)
    \b
    An event for a customer who has not linked their chat yet is kept; its invitation goes out when they
    link, if that is before the survey would expire.
    """


@import_group.command("customers")
@_file
@_all_or_nothing
@_dry_run
@click.pass_context
def import_customers(ctx: click.Context, file: Path, all_or_nothing: bool, dry_run: bool) -> None:
    """Create or update customers (idempotent on external_id).

    Columns: external_id [, name, language (en|es), timezone (IANA), tier].
    """
    _import(ctx, "customers", file, all_or_nothing, dry_run)


@import_group.command("events")
@_file
@_all_or_nothing
@_dry_run
@click.option(
    "--date-format",
    default=None,
    metavar="FORMAT",
    help="How occurred_at is written, in Python strptime codes, e.g. '%d/%m/%Y %H:%M' (default: ISO 8601). "
    "A time without an offset is read in survey.default_timezone.",
)
@click.pass_context
def import_events(
    ctx: click.Context, file: Path, all_or_nothing: bool, dry_run: bool, date_format: str | None
) -> None:
    """Record touchpoint events and schedule their surveys (idempotent on external_id).

    Columns: external_id, customer_external_id, touchpoint, occurred_at [, attributes]; any other column is
    an attribute. occurred_at: ISO 8601, or --date-format; without an offset, survey.default_timezone.
    """
    _import(ctx, "events", file, all_or_nothing, dry_run, date_format)


@click.command("link")
@click.argument("customer_id")
@click.option("--qr", type=click.Path(dir_okay=False, path_type=Path), help="Also write the QR code PNG.")
@click.option("--event", "event_id", default=None, help="An event's external id: the link starts its survey.")
@click.option(
    "--bot-username",
    default=None,
    help="The bot's @username (default: asked from Telegram with the configured token).",
)
@click.option(
    "--reissue",
    is_flag=True,
    help="Revoke every earlier link of this customer and issue a fresh one (moves them to a new account).",
)
@click.pass_context
def link_command(
    ctx: click.Context,
    customer_id: str,
    qr: Path | None,
    event_id: str | None,
    bot_username: str | None,
    reissue: bool,
) -> None:
    """Print the signed deep link that connects customer CUSTOMER_ID (external id) to the bot.

    A link connects one Telegram account once; to move a linked customer to another account, issue a
    fresh link with --reissue (older links stop working)."""
    from bot.api.ingest import LinkUnavailableError, customer_link
    from storage import customers as customer_repo
    from storage import events as event_repo
    from storage.db import Database, utcnow
    from storage.models import Customer, TouchpointEvent

    settings = _state(ctx).settings()

    async def find() -> tuple[Customer | None, TouchpointEvent | None, int]:
        async with await Database.open(
            settings.storage.target, password=settings.storage.password_value
        ) as db:
            customer = await customer_repo.get_by_external_id(db, customer_id)
            event = await event_repo.get_event_by_external_id(db, event_id) if event_id else None
            if customer is None or (event_id and (event is None or event.customer_id != customer.id)):
                return customer, event, 0
            if reissue:
                generation = await customer_repo.reissue_link(db, customer.id, actor="cli")
            else:
                generation = await customer_repo.link_generation(db, customer.id)
            return customer, event, generation

    customer, event, generation = asyncio.run(find())
    if customer is None:
        raise click.ClickException(f"no customer with external id {customer_id!r} (import or POST it first)")
    if event_id and (event is None or event.customer_id != customer.id):
        raise click.ClickException(f"customer {customer_id!r} has no event {event_id!r}")
    username = bot_username or _ask_bot_username(settings)
    try:
        link = customer_link(
            settings,
            customer,
            bot_username=username,
            now=utcnow(),
            event_id=event.id if event else None,
            generation=generation,
        )
    except LinkUnavailableError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(link.url)
    click.echo(f"valid until {link.expires_at:%Y-%m-%d %H:%M} UTC", err=True)
    if qr is not None:
        qr.parent.mkdir(parents=True, exist_ok=True)
        qr.write_bytes(link.qr_png)
        click.echo(f"QR code written to {qr}", err=True)


def _ask_bot_username(settings: Settings) -> str:
    from bot.config import ConfigError
    from bot.telegram.identity import BotUnreachable, bot_username

    try:
        return asyncio.run(bot_username(settings))
    except ConfigError as exc:
        raise click.ClickException(f"{exc} (or pass --bot-username)") from exc
    except BotUnreachable as exc:
        raise click.ClickException(
            f"could not ask Telegram for the bot's username ({exc}); pass --bot-username"
        ) from exc

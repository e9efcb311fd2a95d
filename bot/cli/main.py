"""The `momento` command line: run the bot, set up a deployment, and the tools staff and admins use."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import traceback
from pathlib import Path

import click

from bot.cli.state import CliState, pass_state
from bot.config import ConfigError, resolve_config_path

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "config.example.toml"


CONFIG_HELP = "Config file (default: $MOMENTO_CONFIG or ./config.toml)."
SECRETS_HELP = "Secrets file in dotenv format (default: $MOMENTO_SECRETS_FILE)."
LOCATION = click.Path(dir_okay=False)


def _remember(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """`momento CMD --config X` means the same as `momento --config X CMD`."""
    state = ctx.find_object(CliState)
    if value is not None and state is not None and param.name is not None:
        setattr(state, param.name, value)


def _location_options() -> list[click.Parameter]:
    return [
        click.Option(["--config"], type=LOCATION, expose_value=False, callback=_remember, help=CONFIG_HELP),
        click.Option(["--secrets"], type=LOCATION, expose_value=False, callback=_remember, help=SECRETS_HELP),
    ]


class MomentoGroup(click.Group):
    """Every subcommand (and sub-subcommand) also accepts --config and --secrets after its name."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        _accept_location_options(cmd)
        super().add_command(cmd, name)


def _accept_location_options(cmd: click.Command) -> None:
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            _accept_location_options(sub)
        return
    present = {opt for param in cmd.params for opt in getattr(param, "opts", [])}
    cmd.params.extend(option for option in _location_options() if option.opts[0] not in present)


@click.group(cls=MomentoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config", type=LOCATION, default=None, help=CONFIG_HELP)
@click.option("--secrets", "secrets", type=LOCATION, default=None, help=SECRETS_HELP)
@click.option("--debug", is_flag=True, help="On a failure, also print the traceback (secrets redacted).")
@click.version_option(package_name="momento-feedback")
@click.pass_context
def main(ctx: click.Context, config: str | None, secrets: str | None, debug: bool) -> None:
    """Momento: listen to customers at their moments of truth, on Telegram."""
    ctx.obj = CliState(config, secrets, debug)


@main.command()
@click.option("--webhook", is_flag=True, help="Receive updates by webhook instead of long polling.")
@pass_state
def run(state: CliState, webhook: bool) -> None:
    """Start the bot (long polling unless --webhook or telegram.mode = "webhook")."""
    from bot.telegram import runner

    settings = state.settings()
    try:
        settings.require_token()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    redaction = runner.configure_logging(settings)
    try:
        if webhook or settings.telegram.mode == "webhook":
            runner.run_webhook(settings)
        else:
            runner.run_polling(settings)
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise
    except KeyboardInterrupt:
        raise click.Abort() from None
    except Exception as exc:
        # One line naming the cause and what to do; the traceback only with --debug, secrets redacted.
        if state.debug:
            click.echo(redaction.redact("".join(traceback.format_exception(exc))), err=True)
        line = runner.explain_startup_failure(exc, settings)
        if line is None:
            line = (
                f"momento run stopped: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            )
            if not state.debug:
                line += " (run `momento --debug run` for the traceback)"
        raise click.ClickException(redaction.redact(line)) from None


@main.command()
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
@pass_state
def init(state: CliState, force: bool) -> None:
    """Create the config (from the example) if there is none, and create or upgrade the database."""
    from storage.db import Database, SchemaError

    path = resolve_config_path(state.config)
    if path.exists() and not force:
        click.echo(f"Config: {path} (kept)")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(EXAMPLE_CONFIG, path)
        click.echo(f"Config: {path} (created from the example — review it)")
    settings = state.settings()

    async def create_database() -> int:
        async with await Database.open(
            settings.storage.target, password=settings.storage.password_value
        ) as db:
            return await db.schema_version()

    try:
        version = asyncio.run(create_database())
    except SchemaError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Database: {settings.storage.describe()} (schema version {version})")
    click.echo("Next: set MOMENTO_TELEGRAM__TOKEN, then run `momento run`.")


@main.command("check-config")
@pass_state
def check_config(state: CliState) -> None:
    """Validate the config and print the effective settings, secrets masked."""
    settings = state.settings()
    click.echo(f"# {resolve_config_path(state.config)}")
    click.echo(json.dumps(settings.masked(), indent=2, ensure_ascii=False))
    try:
        settings.require_token()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("Configuration OK.", err=True)


def _register_feature_commands() -> None:
    """Commands that live with their features; imported lazily so `momento --help` stays fast."""
    # Each feature module adds its command(s) here with one line.
    from bot.cli.export import export_command  # light: heavy imports happen when the command runs

    main.add_command(export_command)
    from bot.cli.ingest import import_group, link_command  # ingest: CSV import and deep links

    main.add_command(import_group)
    main.add_command(link_command)
    from bot.cli.demo import chat_command, demo_command  # ingest: the offline demo and `momento chat`

    main.add_command(demo_command)
    main.add_command(chat_command)
    from bot.cli.reanalyse import reanalyse_command  # conversation: classify unanalysed answers

    main.add_command(reanalyse_command)
    from bot.cli.classify import classify_command  # sentiment: classify a CSV/JSONL file

    main.add_command(classify_command)
    from bot.cli.themes import themes_command  # sentiment: group a CSV's answers by theme

    main.add_command(themes_command)
    from bot.cli.purge import purge_command  # privacy: the data-retention policy

    main.add_command(purge_command)
    from bot.cli.webhooks import webhooks_group  # webhooks: failures, resends, a test event

    main.add_command(webhooks_group)
    from bot.cli.migrate import migrate_storage_command  # storage: SQLite -> PostgreSQL, verified

    main.add_command(migrate_storage_command)


_register_feature_commands()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

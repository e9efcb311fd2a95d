"""`momento demo` (the whole job offline, in one command) and `momento chat` (be the customer)."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

import click

SHOWN_CONVERSATION_LINES = 24


def _offline() -> None:
    # The default model ships with Momento: never reach for the Hugging Face hub from the demo.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


@click.command("demo")
@click.option("--customers", default=200, show_default=True, type=click.IntRange(1, 10_000))
@click.option(
    "--out",
    "out_dir",
    default="momento-demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the database, charts, export and conversations (the database is replaced).",
)
@click.option("--days", default=45, show_default=True, type=click.IntRange(10, 365), help="Simulated period.")
@click.option("--seed", default=7, show_default=True, help="Same seed, same customers and answers.")
def demo_command(customers: int, out_dir: Path, days: int, seed: int) -> None:
    """Simulate customers (English and Spanish) through purchase, delivery and support, answering the bot
    through the real engine, database and classifier; print the staff summary and write charts and a CSV."""
    from bot.demo import run_demo

    _offline()
    click.echo(f"Momento demo: {customers} simulated customers over {days} days, no Telegram needed.")
    click.echo("Loading the sentiment model and simulating (the clock moves an hour per step) ...", err=True)
    with click.progressbar(length=days * 24, label="simulating", file=sys.stderr) as bar:
        done = 0

        def progress(hour: int, hours: int) -> None:
            nonlocal done
            bar.update(hour - done)
            done = hour

        result = asyncio.run(
            run_demo(customers=customers, out_dir=out_dir, days=days, seed=seed, progress=progress)
        )
    stats = result.stats
    outcomes = ", ".join(f"{name} {count}" for name, count in stats.event_outcomes.most_common())
    click.echo(
        f"\n{stats.customers} customers ({stats.linked} opened the bot from their receipt's QR code), "
        f"{stats.events} touchpoint events ({outcomes}), {stats.messages_from_customers} customer replies, "
        f"{stats.staff_actions} staff actions on alerts."
    )
    if result.sample_conversation:
        click.echo("\nOne of the conversations (times in UTC; all of them are in conversations.txt):")
        for line in result.sample_conversation[:SHOWN_CONVERSATION_LINES]:
            click.echo("  " + line)
        if len(result.sample_conversation) > SHOWN_CONVERSATION_LINES:
            click.echo("  ...")
    click.echo("\n" + "=" * 24 + " Staff summary (what /summary shows in Telegram) " + "=" * 24)
    click.echo(result.outputs.reports["summary"])
    click.echo("=" * 97)
    click.echo(f"\nEverything is in {result.out_dir.resolve()}/:")
    for chart in result.outputs.charts:
        click.echo(f"  {chart.name:<22} chart")
    for name in result.outputs.reports:
        click.echo(f"  {name + '.txt':<22} the /{name} report as text")
    click.echo(
        f"  {'answers.csv':<22} CSV export of {result.outputs.export_rows} answers (UTF-8, opens in Excel)"
    )
    click.echo(f"  {result.transcripts.name:<22} every simulated conversation")
    click.echo(f"  {result.db_path.name:<22} the SQLite database behind it all")


@click.command("chat")
@click.option("--language", type=click.Choice(["en", "es"]), default="en", show_default=True)
@click.option("--touchpoint", default="delivery", show_default=True, help="Touchpoint from the sample map.")
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Keep the conversation in this database (default: a temporary one).",
)
def chat_command(language: str, touchpoint: str, db_path: Path | None) -> None:
    """Be the customer: answer Momento's survey in the terminal, through the production engine."""
    from bot.demo import demo_settings
    from bot.demo.chat import chat, check_touchpoint
    from sentiment import open_classifier

    _offline()
    try:
        check_touchpoint(demo_settings(Path("chat.db")), touchpoint)  # before the model loads (seconds)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--touchpoint") from exc

    async def read_line(prompt: str) -> str | None:
        try:
            return await asyncio.to_thread(input, prompt)
        except EOFError:
            return None

    async def run(path: Path) -> int:
        click.echo("Loading the sentiment model ...", err=True)
        classifier = await open_classifier(demo_settings(path).sentiment)
        try:
            return await chat(
                read_line=read_line,
                write=click.echo,
                language=language,
                touchpoint=touchpoint,
                db_path=path,
                classifier=classifier,
            )
        finally:
            await classifier.aclose()

    try:
        if db_path is not None:
            asyncio.run(run(db_path))
        else:
            with tempfile.TemporaryDirectory(prefix="momento-chat-") as folder:
                asyncio.run(run(Path(folder) / "chat.db"))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        click.echo("\nBye!")

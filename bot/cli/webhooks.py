"""`momento webhooks list|retry|test`: see which deliveries are failing, send them again, try a receiver."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import click

from bot.cli.state import CliState


def _state(ctx: click.Context) -> CliState:
    state = ctx.find_object(CliState)
    assert state is not None
    return state


@click.group("webhooks")
def webhooks_group() -> None:
    """Outgoing webhooks (docs/webhooks.md): failures, resends, a test event."""


@webhooks_group.command("list")
@click.option("--webhook", "name", default=None, help="Only this webhook (its [[webhooks]] name).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per delivery.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@click.pass_context
def list_command(ctx: click.Context, name: str | None, as_json: bool, limit: int) -> None:
    """Deliveries that failed at least once and are not delivered (retrying, or given up), oldest first."""
    from bot.outreach.webhooks import describe
    from storage import webhooks as webhook_repo
    from storage.db import Database

    settings = _state(ctx).settings()

    async def run() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        async with await Database.open(
            settings.storage.target, password=settings.storage.password_value
        ) as db:
            found = await webhook_repo.problems(db, webhook=name, limit=limit)
            counts = await webhook_repo.counts(db)
        return [describe(d) for d in found], {k: (v.pending, v.failed) for k, v in counts.items()}

    rows, counts = asyncio.run(run())
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    for webhook in settings.webhooks:
        pending, failed = counts.get(webhook.name, (0, 0))
        state = "" if webhook.enabled else " (disabled)"
        click.echo(f"{webhook.name}{state}: {webhook.url} — {pending} waiting, {failed} given up")
    if not rows:
        click.echo("No failing deliveries.")
        return
    for row in rows:
        click.echo(
            f"#{row['id']} {row['webhook']} {row['type']} {row['event_id']} {row['status']} "
            f"after {row['attempts']} attempt(s), last: {row['last_error']}; next {row['next_at']}"
        )


@webhooks_group.command("retry")
@click.argument("delivery_id", required=False, type=int)
@click.option("--webhook", "name", default=None, help="Only this webhook's deliveries.")
@click.pass_context
def retry_command(ctx: click.Context, delivery_id: int | None, name: str | None) -> None:
    """Send failed deliveries again at the next tick of the running bot (all, one id, or one webhook's)."""
    from storage import webhooks as webhook_repo
    from storage.db import Database, utcnow

    settings = _state(ctx).settings()

    async def run() -> int:
        async with await Database.open(
            settings.storage.target, password=settings.storage.password_value
        ) as db:
            return await webhook_repo.retry(db, now=utcnow(), delivery_id=delivery_id, webhook=name)

    count = asyncio.run(run())
    if delivery_id is not None and count == 0:
        raise click.ClickException(f"delivery {delivery_id} is not waiting for a retry (see `webhooks list`)")
    click.echo(f"{count} deliveries will be sent again by the running bot's clock.")


@webhooks_group.command("test")
@click.argument("name")
@click.pass_context
def test_command(ctx: click.Context, name: str) -> None:
    """Send a signed `webhook.test` event to webhook NAME now and show what the receiver answered."""
    from bot.outreach.webhooks import WebhookSender
    from storage.db import Database

    settings = _state(ctx).settings()
    if settings.webhook_secret(name) is None and any(w.name == name for w in settings.webhooks):
        raise click.ClickException(
            f"webhook {name!r} has no secret: set MOMENTO_WEBHOOK_SECRETS__{name.upper()}"
        )

    async def run() -> tuple[int | None, str | None]:
        async with await Database.open(
            settings.storage.target, password=settings.storage.password_value
        ) as db:
            sender = WebhookSender(db, settings)
            try:
                attempt = await sender.test(name)
            finally:
                await sender.aclose()
        return attempt.status, attempt.error

    status, error = asyncio.run(run())
    if error is not None:
        raise click.ClickException(f"webhook {name}: not delivered ({error})")
    click.echo(f"webhook {name}: delivered (HTTP {status})")

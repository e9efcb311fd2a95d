"""`momento reanalyse`: classify every answer the configured model has not read (after an outage or a
model upgrade)."""

from __future__ import annotations

import asyncio

import click


@click.command("reanalyse")
@click.option(
    "--all", "fill_vectors", is_flag=True, help="Also re-read answers stored without a sentence vector."
)
@click.pass_context
def reanalyse_command(ctx: click.Context, fill_vectors: bool) -> None:
    """Classify stored answers that are unanalysed, failed, or read by an older model."""
    from bot.conversation.analysis import reanalyse_all
    from sentiment import open_classifier
    from storage.db import Database

    settings = ctx.obj.settings()

    async def run() -> tuple[int, int]:
        classifier = await open_classifier(settings.sentiment)
        try:
            async with await Database.open(settings.storage.path) as db:
                with click.progressbar(length=1, label="Reanalysing") as bar:
                    last = 0

                    def progress(done: int, total: int) -> None:
                        nonlocal last
                        bar.length = max(total, 1)
                        bar.update(done - last)
                        last = done

                    return await reanalyse_all(
                        db, classifier, progress=progress, settings=settings, fill_vectors=fill_vectors
                    )
        finally:
            await classifier.aclose()

    analysed, failed = asyncio.run(run())
    click.echo(f"Analysed {analysed} answer(s); {failed} still failing (kept for a later run).")
    if failed:
        ctx.exit(1)

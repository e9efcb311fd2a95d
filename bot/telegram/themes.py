"""The themes job (JobQueue): recompute this week's and month's themes every ``[themes] interval``, then post
one card per theme spike to the touchpoint's team chat (claimed once in app_state, so never twice)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np

from bot.i18n import pick_language
from bot.outreach.webhooks import enqueue_theme_alert
from bot.reports.themes import ExampleVectors, compute_due, theme_alert_card, theme_alert_data, theme_spikes
from bot.telegram.services import MomentoApplication, MomentoContext, Services
from storage import state
from storage.db import utcnow

log = logging.getLogger(__name__)

JOB_NAME = "momento-themes"
FIRST_RUN = timedelta(seconds=20)
POSTED = "posted"
PENDING = "pending"


def register(application: MomentoApplication) -> None:
    """Schedule the job when ``[themes] enabled``; /themes then reads what it stored."""
    settings = application.bot_data.settings
    if settings is None or not settings.themes.enabled:
        return
    if application.job_queue is None:
        log.warning("no JobQueue: themes will not be computed")
        return
    application.job_queue.run_repeating(
        recompute, interval=settings.themes.interval, first=FIRST_RUN, name=JOB_NAME
    )


_examples: dict[int, ExampleVectors] = {}


def example_vectors(found: Services) -> ExampleVectors:
    """One cache of the declared example phrases' vectors per classifier."""

    async def encode(texts: Sequence[str], languages: Sequence[str | None]) -> list[np.ndarray | None]:
        return [analysis.vector for analysis in await found.classifier.analyse(texts, languages)]

    return _examples.setdefault(id(found.classifier), ExampleVectors(encode))


async def recompute(context: MomentoContext) -> None:
    """One pass; a failure is logged and the next interval tries again."""
    found = context.bot_data.services
    if found is None:
        return  # shutting down
    try:
        await run_themes_pass(found, context.bot, now=utcnow())
        if not _warm:
            # matplotlib's first figure in a process costs ~0.5 s: pay it here, not in a staff's /themes.
            await asyncio.to_thread(_draw_once)
    except Exception:
        log.exception("computing themes failed; the next run tries again")


_warm = False


def _draw_once() -> None:
    global _warm
    from bot.reports.charts import Bar, horizontal_bars

    horizontal_bars("warm-up", [Bar("theme", 1.0)], xlabel="answers")
    _warm = True


async def run_themes_pass(found: Services, bot: object, *, now: datetime) -> int:
    """Compute the due runs, then post the spikes not posted yet; returns how many cards went out."""
    settings = found.settings
    await compute_due(found.db, settings, example_vectors(found), model_id=found.classifier.model_id, now=now)
    if not settings.themes.alerts:
        return 0
    posted = 0
    language = pick_language(settings.survey.default_language)
    for spike in await theme_spikes(found.db, settings, now=now):
        claimed = False
        async with found.db.transaction():
            if await state.claim_once(found.db, spike.claim_key, PENDING):
                claimed = True
                await enqueue_theme_alert(found.db, settings, theme_alert_data(spike), at=now)
        if not claimed and await state.get_value(found.db, spike.claim_key) != PENDING:
            continue  # posted before: never twice for the same spike
        tp = settings.touchpoint(spike.touchpoint) if spike.touchpoint else None
        chat_id = (tp.team_chat_id if tp else None) or settings.telegram.staff_chat_id
        if chat_id is None:
            continue
        await bot.send_message(chat_id, theme_alert_card(spike, settings, language))  # type: ignore[attr-defined]
        await state.set_value(found.db, spike.claim_key, POSTED)
        posted += 1
    return posted

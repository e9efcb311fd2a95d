"""Wiring of the conversation feature into the running Application: the engine, the outreach clock (a
JobQueue job that only claims due rows) and the recovery retries. Called from the composition root."""

from __future__ import annotations

import logging
from typing import Any

from telegram.ext import Application, ContextTypes

from bot.conversation.analysis import retry_pending
from bot.conversation.engine import SurveyEngine
from bot.outreach.dispatch import ChatPacer, Outreach
from bot.recovery.alerts import Recovery
from bot.telegram.messenger import TelegramMessenger
from bot.telegram.services import services

log = logging.getLogger(__name__)

ENGINE = "conversation.engine"
OUTREACH = "conversation.outreach"
JOB_NAME = "momento-outreach"
# Failed analyses are retried every this many ticks.
ANALYSIS_RETRY_EVERY = 10


def open_conversation(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Build the engine and start the clock (post_init, after Services exist)."""
    found = services(application)
    messenger = TelegramMessenger(application.bot, ChatPacer(found.settings.telegram.per_chat_interval))
    recovery = Recovery(found.db, found.settings, messenger)
    engine = SurveyEngine(found.db, found.settings, found.classifier, messenger, recovery=recovery)
    outreach = Outreach(found.db, found.settings, messenger)
    found.components[ENGINE] = engine
    found.components[OUTREACH] = outreach
    found.components["conversation.ticks"] = 0
    if application.job_queue is None:
        log.warning("no JobQueue: invitations and reminders will not be sent (install the job-queue extra)")
        return
    application.job_queue.run_repeating(
        _tick, interval=found.settings.survey.tick_interval, first=0.1, name=JOB_NAME
    )


def close_conversation(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    if application.job_queue is not None:
        for job in application.job_queue.get_jobs_by_name(JOB_NAME):
            job.schedule_removal()


def engine_of(holder: Any) -> SurveyEngine:
    engine = services(holder).components.get(ENGINE)
    if not isinstance(engine, SurveyEngine):
        raise RuntimeError("the conversation engine is not running")
    return engine


def outreach_of(holder: Any) -> Outreach:
    outreach = services(holder).components.get(OUTREACH)
    if not isinstance(outreach, Outreach):
        raise RuntimeError("the outreach clock is not running")
    return outreach


async def _tick(context: ContextTypes.DEFAULT_TYPE) -> None:
    try:
        found = services(context)
    except RuntimeError:
        return  # shutting down
    engine = found.components.get(ENGINE)
    outreach = found.components.get(OUTREACH)
    if not isinstance(engine, SurveyEngine) or not isinstance(outreach, Outreach):
        return
    try:
        await outreach.tick()
        await engine.recovery.post_unposted()
        ticks = int(found.components.get("conversation.ticks", 0)) + 1
        found.components["conversation.ticks"] = ticks
        if ticks % ANALYSIS_RETRY_EVERY == 0:
            await retry_pending(found.db, found.classifier)
    except Exception:
        # The clock must survive anything: the next tick tries again.
        log.exception("outreach tick failed")

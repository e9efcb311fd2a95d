"""The clock of a running bot: a JobQueue job that only claims due rows (invitations, reminders, unposted
alerts, failed analyses). Started from the composition root once the services are open."""

from __future__ import annotations

import logging

from bot.conversation.analysis import retry_pending
from bot.telegram.services import MomentoApplication, MomentoContext, services

log = logging.getLogger(__name__)

JOB_NAME = "momento-outreach"
# Failed analyses are retried every this many ticks.
ANALYSIS_RETRY_EVERY = 10


def start_clock(application: MomentoApplication) -> None:
    """Start the outreach clock (post_init, after Services exist)."""
    if application.job_queue is None:
        log.warning("no JobQueue: invitations and reminders will not be sent (install the job-queue extra)")
        return
    interval = services(application).settings.survey.tick_interval
    application.job_queue.run_repeating(_tick, interval=interval, first=0.1, name=JOB_NAME)


def stop_clock(application: MomentoApplication) -> None:
    if application.job_queue is not None:
        for job in application.job_queue.get_jobs_by_name(JOB_NAME):
            job.schedule_removal()


async def _tick(context: MomentoContext) -> None:
    found = context.bot_data.services
    if found is None:
        return  # shutting down
    try:
        await found.outreach.tick()
        await found.recovery.post_unposted()
        context.bot_data.ticks += 1
        if context.bot_data.ticks % ANALYSIS_RETRY_EVERY == 0:
            await retry_pending(found.db, found.classifier)
    except Exception:
        # The clock must survive anything: the next tick tries again.
        log.exception("outreach tick failed")

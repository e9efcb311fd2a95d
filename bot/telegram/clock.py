"""The clock of a running bot: a JobQueue job that only claims due rows (invitations, reminders, unposted
alerts, failed analyses). Started from the composition root once the services are open."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot import metrics
from bot.conversation.analysis import retry_pending
from bot.telegram.services import MomentoApplication, MomentoContext, services
from storage.db import utcnow
from storage.inbox import prune_done

log = logging.getLogger(__name__)

JOB_NAME = "momento-outreach"
REPLIES_JOB = "momento-replies"
WEBHOOKS_JOB = "momento-webhooks"
# Webhook queues are looked at this often (each queue then runs in its own task: the clock never waits).
WEBHOOK_EVERY = timedelta(seconds=1)
REPLY_RETRY = timedelta(seconds=2)
# Failed analyses are retried every this many ticks.
ANALYSIS_RETRY_EVERY = 10
# Handled updates are kept this long: a redelivery within it is recognised and not handled twice.
INBOX_KEPT = timedelta(days=2)


def start_clock(application: MomentoApplication) -> None:
    """Start the outreach clock (post_init, after Services exist)."""
    if application.job_queue is None:
        log.warning("no JobQueue: invitations and reminders will not be sent (install the job-queue extra)")
        return
    interval = services(application).settings.survey.tick_interval
    application.job_queue.run_repeating(_tick, interval=interval, first=0.1, name=JOB_NAME)
    # Replies Telegram did not take (429, 5xx) are retried within seconds, not at the next outreach tick.
    application.job_queue.run_repeating(
        _deliver, interval=min(interval, REPLY_RETRY), first=REPLY_RETRY, name=REPLIES_JOB
    )
    if services(application).settings.webhooks:
        application.job_queue.run_repeating(
            _webhooks, interval=min(interval, WEBHOOK_EVERY), first=0.2, name=WEBHOOKS_JOB
        )


def stop_clock(application: MomentoApplication) -> None:
    if application.job_queue is not None:
        for name in (JOB_NAME, REPLIES_JOB, WEBHOOKS_JOB):
            for job in application.job_queue.get_jobs_by_name(name):
                job.schedule_removal()


async def _deliver(context: MomentoContext) -> None:
    found = context.bot_data.services
    if found is None:
        return
    try:
        await found.cx.replies.deliver_due()
    except Exception:
        log.exception("delivering owed replies failed")


async def _webhooks(context: MomentoContext) -> None:
    found = context.bot_data.services
    if found is None:
        return
    try:
        await found.cx.webhooks.deliver_due()
    except Exception:
        log.exception("starting webhook deliveries failed")


async def _tick(context: MomentoContext) -> None:
    found = context.bot_data.services
    if found is None:
        return  # shutting down
    try:
        # What customers are owed first (after a restart: everything not yet confirmed), then outreach.
        await found.cx.replies.deliver_due()
        report = await found.outreach.tick()
        metrics.INVITATIONS_SENT.inc(report.invited + report.unconfirmed)
        metrics.INVITATIONS_FAILED.inc(report.failed)
        await found.recovery.post_unposted()
        context.bot_data.ticks += 1
        if context.bot_data.ticks % ANALYSIS_RETRY_EVERY == 0:
            await retry_pending(found.db, found.classifier, settings=found.settings)
            await prune_done(found.db, before=utcnow() - INBOX_KEPT)
    except Exception:
        # The clock must survive anything: the next tick tries again.
        log.exception("outreach tick failed")

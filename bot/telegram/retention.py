"""The nightly retention job (JobQueue): anonymises what `[privacy] retention` has passed."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from bot.accounts.retention import apply_retention
from bot.telegram.services import MomentoApplication, MomentoContext
from storage.db import utcnow

log = logging.getLogger(__name__)

JOB_NAME = "momento-retention"


def register(application: MomentoApplication) -> None:
    """Schedule the job at privacy.retention_time, local time of survey.default_timezone (if enabled)."""
    settings = application.bot_data.settings
    if settings is None or settings.privacy.retention is None:
        return
    if application.job_queue is None:
        log.warning("no JobQueue: the retention policy will not run (use `momento purge` from cron)")
        return
    zone = ZoneInfo(settings.survey.default_timezone)
    at = settings.privacy.retention_time.replace(tzinfo=zone)
    application.job_queue.run_daily(nightly, time=at, name=JOB_NAME)


async def nightly(context: MomentoContext) -> None:
    """One run; a failure is logged and the next night tries again."""
    found = context.bot_data.services
    if found is None:
        return  # shutting down
    try:
        await apply_retention(found.db, found.settings, utcnow())
    except Exception:
        log.exception("the nightly retention run failed; it runs again tomorrow")

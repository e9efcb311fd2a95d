"""The data-retention policy (`[privacy] retention`): what is older than the period is anonymised the way
/delete does it. The nightly job and `momento purge` both come here; the SQL is storage.privacy's."""

from __future__ import annotations

import logging
from datetime import datetime

from bot.config import Settings
from storage import privacy
from storage.db import Database

log = logging.getLogger(__name__)


async def apply_retention(
    db: Database, settings: Settings, now: datetime, *, dry_run: bool = False, actor: str = "system:retention"
) -> privacy.RetentionResult | None:
    """Anonymise (or, with *dry_run*, count) what the retention period has passed; None when it is off."""
    period = settings.privacy.retention
    if period is None:
        return None
    result = await privacy.apply_retention(db, now - period, actor=actor, dry_run=dry_run)
    if not dry_run and result.total:
        log.info(
            "retention: anonymised %s older than %s",
            ", ".join(f"{n} {table}" for table, n in result.counts.items() if n),
            result.cutoff.isoformat(timespec="minutes"),
        )
    return result

"""No update is acknowledged to Telegram before what it carries is stored.

PTB's Updater moves the getUpdates offset (which confirms every earlier update to Telegram) only after
``update_queue.put`` returned for each update of a batch, and the webhook route answers 200 only after its
``put`` returned. :class:`DurableUpdateQueue` makes that ``put`` write the raw update to the inbox table
first, so a kill -9 at any moment loses nothing: :class:`InboxProcessor` marks an update done once its
handlers finished, and :func:`replay_pending` hands what was stored but never finished to the handlers again
at start-up. A redelivered update that is stored already is not queued twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import SimpleUpdateProcessor

from bot import metrics
from storage import inbox as inbox_repo
from storage.db import Database, utcnow

log = logging.getLogger(__name__)

MAX_CONCURRENT_UPDATES = 256


class DurableUpdateQueue(asyncio.Queue[object]):
    """The Application's update queue; updates are stored before ``put`` returns (once attached)."""

    def __init__(self) -> None:
        super().__init__()
        self.db: Database | None = None

    def attach(self, db: Database) -> None:
        self.db = db

    async def put(self, item: object) -> None:
        if isinstance(item, Update) and self.db is not None:
            payload = json.dumps(item.to_dict(), ensure_ascii=False)
            if not await inbox_repo.store_update(self.db, item.update_id, payload, at=utcnow()):
                log.info("update %s again: stored already, not handled twice", item.update_id)
                return
        await super().put(item)

    async def put_stored(self, item: Update) -> None:
        """Queue an update that is in the inbox already (a replay)."""
        await super().put(item)


class InboxProcessor(SimpleUpdateProcessor):
    """Handles updates concurrently, like ``concurrent_updates(True)``, and marks each one done after."""

    def __init__(self, queue: DurableUpdateQueue) -> None:
        super().__init__(MAX_CONCURRENT_UPDATES)
        self._queue = queue
        # Handled updates are marked done together, a few ms later: one commit for many. One not marked
        # before a kill is replayed, and the handlers are idempotent (nothing stored or sent twice).
        self._done: list[int] = []
        self._flusher: asyncio.Task[None] | None = None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        await coroutine  # Application.process_update: handler errors go to the error handler, not here
        metrics.UPDATES_HANDLED.inc()
        if isinstance(update, Update) and self._queue.db is not None:
            self._done.append(update.update_id)
            if self._flusher is None or self._flusher.done():
                self._flusher = asyncio.create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(0.05)
        await self.flush()

    async def flush(self) -> None:
        db = self._queue.db
        while self._done and db is not None:
            batch, self._done = self._done, []
            try:
                await inbox_repo.mark_done_many(db, batch, at=utcnow())
            except Exception:
                log.exception("%s handled update(s) not marked done (replayed at the next start)", len(batch))
                return

    async def shutdown(self) -> None:
        await self.flush()


async def replay_pending(queue: DurableUpdateQueue, bot: Any) -> int:
    """Hand the updates stored but never finished (the process died) to the handlers again."""
    if queue.db is None:
        return 0
    pending = await inbox_repo.pending_updates(queue.db)
    for update_id, payload in pending:
        try:
            update = Update.de_json(json.loads(payload), bot)
        except Exception:
            log.exception("stored update %s cannot be read; marked done", update_id)
            await inbox_repo.mark_done(queue.db, update_id, at=utcnow())
            continue
        await queue.put_stored(update)
    if pending:
        log.warning("replaying %s update(s) a previous run stored but did not finish", len(pending))
    return len(pending)

"""An update is stored before Telegram is told we have it, replayed after a crash, and handled once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from telegram import Bot, Update

from bot.telegram.inbox import DurableUpdateQueue, InboxProcessor, replay_pending
from storage import inbox
from storage.db import Database


def _update(update_id: int, text: str) -> Update:
    data: dict[str, Any] = {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 0,
            "chat": {"id": 7, "type": "private"},
            "from": {"id": 7, "is_bot": False, "first_name": "Ana"},
            "text": text,
        },
    }
    return Update.de_json(data, Bot("123:TEST"))


async def test_put_returns_only_once_the_update_is_stored_and_a_redelivery_is_not_queued(
    tmp_path: Path,
) -> None:
    async with await Database.open(tmp_path / "m.db") as db:
        queue = DurableUpdateQueue()
        queue.attach(db)
        await queue.put(_update(1, "It was late"))
        # What the Updater does next is move the offset: by then the update is on disk.
        assert [uid for uid, _ in await inbox.pending_updates(db)] == [1]
        await queue.put(_update(1, "It was late"))  # Telegram delivers it again after a restart
        assert queue.qsize() == 1


async def test_an_update_never_finished_is_replayed_and_a_finished_one_is_not(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "m.db") as db:
        first = DurableUpdateQueue()
        first.attach(db)
        await first.put(_update(1, "handled"))
        await first.put(_update(2, "killed mid-handler"))
        processor = InboxProcessor(first)
        handled: list[int] = []

        async def handle(update: Update) -> None:
            handled.append(update.update_id)

        one = await first.get()
        assert isinstance(one, Update)
        await processor.do_process_update(one, handle(one))
        await processor.flush()
        # The process dies here. The next one replays only what was not finished.
        second = DurableUpdateQueue()
        second.attach(db)
        assert await replay_pending(second, Bot("123:TEST")) == 1
        replayed = await asyncio.wait_for(second.get(), 1)
        assert isinstance(replayed, Update) and replayed.update_id == 2
        assert replayed.message is not None and replayed.message.text == "killed mid-handler"
        assert handled == [1]

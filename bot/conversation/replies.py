"""What the bot owes a customer, kept in the outbox until Telegram confirms it.

The dialogue owes a reply inside the transaction that changes the survey (``owe``), then tries to deliver it
at once; what could not be delivered (a 429 past the limiter's retries, a 5xx, a timeout, a crash) is sent by
the clock (``deliver_due``), on restart, and when the same update arrives again (``deliver_chat``). A message
Telegram confirmed is never sent again. One process owns the outbox: sends in flight are tracked in memory, so
after a restart nothing waits for a lease.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from bot.messaging import (
    Button,
    DeliveryUnknown,
    Messenger,
    OutgoingMessage,
    RecipientUnreachable,
    RetryLater,
)
from storage import outbox as outbox_repo
from storage.db import Database, utcnow
from storage.outbox import OwedMessage

log = logging.getLogger(__name__)

BATCH = 200
# How long, and past how many, confirmations already in the database are remembered (see Replies._recorded).
RECORDED_FOR_S = 60.0
RECORDED_KEPT = 1000
# Waits between attempts at a message Telegram would not take: short at first, a customer is waiting.
_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=_BACKOFF[min(attempts, len(_BACKOFF) - 1)])


def _message(owed: OwedMessage) -> OutgoingMessage:
    keyboard = owed.keyboard or {}
    return OutgoingMessage(
        owed.chat_id,
        owed.text,
        tuple(tuple(Button(text, data) for text, data in line) for line in owed.buttons),
        contact_request=keyboard.get("contact_request"),
        remove_keyboard=bool(keyboard.get("remove_keyboard")),
    )


class AckJournal:
    """Telegram's confirmations, appended to a file the moment they arrive.

    Recording a confirmation in the database waits for the one writer; a kill -9 in that wait would leave a
    delivered message looking unsent, and it would be sent twice. An unbuffered append survives a killed
    process (the kernel has it), costs microseconds and waits for nobody; the next start folds the journal
    into the database before anything is sent.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def record(self, owed_id: int, message_id: int | None) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.write(self._fd, f"{owed_id} {message_id if message_id is not None else '-'}\n".encode())

    async def fold(self, db: Database) -> int:
        """Mark every journalled confirmation sent in the database, then empty the journal."""
        if not self.path.exists():
            return 0
        lines = self.path.read_text(encoding="ascii", errors="ignore").splitlines()
        folded = 0
        for line in lines:
            owed, _, message = line.partition(" ")
            if not owed.isdigit() or not message:
                continue  # a line cut off by the kill: that send was not confirmed yet
            message_id = int(message) if message.isdigit() else None
            note = None if message_id is not None else "delivery unconfirmed"
            await outbox_repo.mark_sent(db, int(owed), message_id=message_id, at=utcnow(), note=note)
            folded += 1
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.path.unlink(missing_ok=True)
        return folded


class Replies:
    """The outbox's one sender in this process."""

    def __init__(self, db: Database, messenger: Messenger, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.messenger = messenger
        self.clock = clock
        self._in_flight: set[int] = set()
        self._chat_locks: dict[int, asyncio.Lock] = {}
        path = Path(str(db.path))
        self.journal = AckJournal(path.with_name(path.name + ".acks")) if path.name != ":memory:" else None
        self._folding = asyncio.Lock()
        self._ready = False
        # Confirmations journalled but not yet in the database: written together, a few ms later, so each
        # reply costs the one writer no commit of its own (the journal already survives a kill).
        self._confirmed: dict[int, tuple[int | None, str | None]] = {}
        # Confirmations just written to the database, kept a minute: a read of the unsent messages that began
        # before that commit still lists them, and must not send them again (owed id -> (when, message id)).
        self._recorded: dict[int, tuple[float, int | None]] = {}
        self._flusher: asyncio.Task[None] | None = None

    async def flush(self) -> None:
        """Write the confirmations held in memory (the flusher's job; also at shutdown)."""
        while self._confirmed:
            batch = dict(self._confirmed)
            await outbox_repo.mark_sent_many(
                self.db, [(owed, mid, note) for owed, (mid, note) in batch.items()], at=utcnow()
            )
            now = time.monotonic()
            for owed, (message_id, _) in batch.items():
                self._confirmed.pop(owed, None)
                self._recorded[owed] = (now, message_id)
            if len(self._recorded) > RECORDED_KEPT:
                self._recorded = {
                    owed: kept for owed, kept in self._recorded.items() if now - kept[0] < RECORDED_FOR_S
                }

    def _confirm(self, owed_id: int, message_id: int | None, note: str | None = None) -> None:
        self._journal(owed_id, message_id)  # first, before anything can wait
        self._confirmed[owed_id] = (message_id, note)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(0.05)
        try:
            await self.flush()
        except Exception:
            log.exception("confirmations not recorded yet (the journal keeps them)")

    async def _fold_journal(self) -> None:
        """Once per process, before the first send: confirmations a killed process had not recorded."""
        if self._ready:
            return
        async with self._folding:
            if not self._ready and self.journal is not None:
                folded = await self.journal.fold(self.db)
                if folded:
                    log.info("recorded %s confirmation(s) a previous run received but had not stored", folded)
            self._ready = True

    async def owe(self, key: str, message: OutgoingMessage, *, survey_id: int | None = None) -> OwedMessage:
        """Record *message* as owed under *key* (inside the caller's transaction, if any)."""
        keyboard: dict[str, object] = {}
        if message.contact_request:
            keyboard["contact_request"] = message.contact_request
        if message.remove_keyboard:
            keyboard["remove_keyboard"] = True
        owed, _ = await outbox_repo.owe(
            self.db,
            key=key,
            chat_id=message.chat_id,
            survey_id=survey_id,
            text=message.text,
            buttons=[[(b.text, b.data) for b in line] for line in message.buttons],
            keyboard=keyboard or None,
            at=utcnow(),
        )
        return owed

    async def send(self, key: str, message: OutgoingMessage, *, survey_id: int | None = None) -> int | None:
        """Owe and deliver now: the reply a customer waits for; None if Telegram has not taken it yet."""
        owed = await self.owe(key, message, survey_id=survey_id)
        return await self.deliver_chat(message.chat_id, wanted=owed.id)

    async def deliver_chat(self, chat_id: int, *, wanted: int | None = None) -> int | None:
        """Deliver what a chat is owed, in order; the message id of *wanted* once Telegram has it."""
        lock = self._chat_locks.get(chat_id)
        if lock is None:
            if len(self._chat_locks) > 10_000:
                self._chat_locks = {c: held for c, held in self._chat_locks.items() if held.locked()}
            lock = self._chat_locks[chat_id] = asyncio.Lock()
        await self._fold_journal()
        async with lock:
            found: int | None = None
            for owed in await outbox_repo.unsent_for_chat(self.db, chat_id):
                if owed.id in self._confirmed:
                    if owed.id == wanted:
                        found = self._confirmed[owed.id][0]
                    continue  # confirmed a moment ago; the database hears of it with the next flush
                if owed.id in self._recorded:
                    if owed.id == wanted:
                        found = self._recorded[owed.id][1]
                    continue  # recorded after this list was read
                if owed.next_at > utcnow() and owed.id != wanted:
                    break  # waiting out a backoff: later ones wait too, so the order holds
                delivered, message_id = await self._deliver(owed)
                if not delivered:
                    break
                if owed.id == wanted:
                    found = message_id
            if found is None and wanted is not None and wanted in self._confirmed:
                found = self._confirmed[wanted][0]
            elif found is None and wanted is not None:
                sent = await outbox_repo.get_owed(self.db, wanted)
                found = sent.message_id if sent is not None else None
            return found

    async def deliver_due(self) -> int:
        """The clock's pass: everything owed whose time has come (after a restart: everything)."""
        await self._fold_journal()
        due = await outbox_repo.due(self.db, now=utcnow(), limit=BATCH)
        chats = list(
            dict.fromkeys(
                owed.chat_id
                for owed in due
                if owed.id not in self._confirmed and owed.id not in self._recorded
            )
        )
        for chat_id in chats:
            await self.deliver_chat(chat_id)
        return len(chats)

    def _journal(self, owed_id: int, message_id: int | None) -> None:
        if self.journal is None:
            return
        try:
            self.journal.record(owed_id, message_id)
        except OSError as exc:
            log.warning("confirmation journal not written (%s): a crash now could repeat a message", exc)

    async def _deliver(self, owed: OwedMessage) -> tuple[bool, int | None]:
        """(whether it is delivered now, Telegram's message id when known)."""
        if owed.id in self._in_flight:
            return False, None
        self._in_flight.add(owed.id)
        try:
            try:
                message_id = await self.messenger.send(_message(owed))
            except DeliveryUnknown as exc:
                # Telegram took the request but its answer never came: it almost always arrived. Sending it
                # again would show the customer the same question twice, so it counts as sent, unconfirmed.
                log.warning("message to chat %s: no answer from Telegram (%s)", owed.chat_id, exc)
                self._confirm(owed.id, None, f"delivery unconfirmed: {exc}")
                return True, None
            except RecipientUnreachable as exc:
                await outbox_repo.retry_later(self.db, owed.id, at=utcnow(), error=str(exc), give_up=True)
                return False, None
            except RetryLater as exc:
                wait = max(timedelta(seconds=exc.seconds), _backoff(owed.attempts))
                await outbox_repo.retry_later(self.db, owed.id, at=utcnow() + wait, error=str(exc))
                return False, None
            except Exception as exc:
                # A 5xx, a timeout: the message stays owed and the clock tries again.
                log.warning("message to chat %s not delivered yet: %s", owed.chat_id, exc)
                await outbox_repo.retry_later(
                    self.db,
                    owed.id,
                    at=utcnow() + _backoff(owed.attempts),
                    error=str(exc) or type(exc).__name__,
                )
                return False, None
            self._confirm(owed.id, message_id)
            return True, message_id
        finally:
            self._in_flight.discard(owed.id)

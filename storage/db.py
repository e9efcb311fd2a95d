"""The one SQLite file: connection setup, migrations, and how writes are serialised.

Concurrency model: PTB runs handlers concurrently, so every write goes through one writer connection guarded
by an asyncio.Lock (``Database.transaction``). Inside one process no two write transactions ever overlap, so
SQLite never answers "database is locked" to a handler; ``busy_timeout`` covers other processes (a CLI import
while the bot runs). Reads use a separate connection: in WAL mode they see the last committed state and never
wait for the writer. A transaction opened inside another one of the same task is a savepoint, so repository
calls compose (``batch``) and a handler can never deadlock on its own lock. Never await the network (Telegram)
inside a transaction: every other write waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

BUSY_TIMEOUT_MS = 10_000
CHECKPOINT_WAIT_MS = 2_000
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class SchemaError(Exception):
    """The database file cannot be used by this version of Momento."""


class StorageUnavailable(SchemaError):
    """The database server cannot be reached or refused us (PostgreSQL), phrased as one line. A SchemaError,
    so every command that reports an unusable database reports this one the same way."""


POSTGRESQL_SCHEMES = ("postgresql://", "postgres://")
SQLITE_SCHEME = "sqlite:///"


def is_postgresql(target: str | Path) -> bool:
    return isinstance(target, str) and target.startswith(POSTGRESQL_SCHEMES)


def sqlite_path(target: str | Path) -> Path:
    """The file of a SQLite target: ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or a bare path."""
    text = str(target)
    return Path(text[len(SQLITE_SCHEME) :]) if text.startswith(SQLITE_SCHEME) else Path(text)


def to_db_time(moment: datetime) -> str:
    """UTC text that sorts like time; naive datetimes are refused so a local time never sneaks in."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: storage keeps only timezone-aware UTC times")
    # TIMESTAMP_FORMAT, written by isoformat: strftime was the largest single cost of an ingested event.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def from_db_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    # fromisoformat reads our format (Z suffix included) about ten times faster than strptime.
    return datetime.fromisoformat(value)


def _file_bytes(path: Path) -> int:
    size = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(OSError):
            size += Path(f"{path}{suffix}").stat().st_size
    return size


def utcnow() -> datetime:
    return datetime.now(UTC)


def _migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped with the package, in order."""
    found = []
    for entry in resources.files("storage.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    found.sort()
    for expected, (version, name, _) in enumerate(found, start=1):
        if version != expected:
            raise SchemaError(f"migration files are not numbered consecutively at {name}")
    return found


def migration_names() -> list[str]:
    """The file names of the one ordered history (the PostgreSQL twins carry the same names)."""
    return [name for _, name, _ in _migrations()]


def latest_version() -> int:
    return len(_migrations())


async def _configure(conn: aiosqlite.Connection) -> None:
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    await conn.execute("PRAGMA foreign_keys = ON")
    # FULL: an answer we acknowledged to a customer must survive a power cut, not only a process crash
    # (in WAL mode NORMAL may lose the last commits on power loss). The price is one fsync per commit:
    # measured ~300 answers/s through record_answer on the team's VM disk (NORMAL: ~9,000 commits/s), far
    # above what customers type, and Telegram's own sending limit (~30 messages/s) caps a bot well below it.
    await conn.execute("PRAGMA synchronous = FULL")
    # Erased personal data must not linger in freed space of the file: overwrite it with zeros.
    await conn.execute("PRAGMA secure_delete = ON")
    # After a checkpoint the WAL is cut back to this size instead of keeping its largest-ever size.
    await conn.execute("PRAGMA journal_size_limit = 67108864")


async def _switch_to_wal(conn: aiosqlite.Connection, path: Path) -> None:
    """WAL mode, waiting out another process that is switching the same fresh file at the same moment.

    SQLite answers that race with "database is locked" at once, without calling the busy handler, so two
    processes started together on a new file (the bot and ``momento import``) would fail at start-up.
    """
    deadline = asyncio.get_running_loop().time() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            async with conn.execute("PRAGMA journal_mode = WAL") as cursor:
                mode = await cursor.fetchone()
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)
    if mode is None or str(mode[0]).lower() != "wal":
        raise SchemaError(f"{path}: cannot switch the database to WAL mode")


async def _read_version(conn: aiosqlite.Connection) -> int:
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def _migrate(conn: aiosqlite.Connection, path: Path) -> int:
    """Apply the pending migrations, each in its own transaction with its version bump.

    The version is read again after ``BEGIN IMMEDIATE`` holds the write lock: two processes starting at
    once (the bot and ``momento init``) then apply each migration exactly once instead of racing.
    """
    migrations = _migrations()
    newest = len(migrations)
    while True:
        await conn.execute("BEGIN IMMEDIATE")
        try:
            current = await _read_version(conn)
            if current > newest:
                raise SchemaError(
                    f"{path}: the database is at schema version {current}, newer than this Momento "
                    f"(knows up to {newest}); upgrade Momento instead of running an older version against it"
                )
            if current == newest:
                await conn.commit()
                return newest
            version, name, sql = migrations[current]
            try:
                # executescript would COMMIT first; run the statements inside the open transaction instead.
                for statement in _split_sql(sql):
                    await conn.execute(statement)
            except sqlite3.Error as exc:
                raise SchemaError(f"{path}: migration {name} failed: {exc}") from exc
            await conn.execute(f"PRAGMA user_version = {version}")
            await conn.commit()
        except BaseException:
            await conn.rollback()
            raise


def _split_sql(script: str) -> Iterable[str]:
    """Split a migration into statements, respecting quotes and comments (sqlite3.complete_statement)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        if not statement and (not line.strip() or line.lstrip().startswith("--")):
            continue
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement.strip()
            statement = ""
    if statement.strip():
        yield statement.strip()


# The write transaction the current task is inside, if any: (database, task). A nested transaction() of the
# same task becomes a savepoint instead of waiting for the lock it holds itself (which would deadlock). Tasks
# created inside inherit the context variable but not the transaction: the task check sends them to the lock.
_OPEN_TRANSACTION: ContextVar[tuple[Database, asyncio.Task[Any] | None] | None] = ContextVar(
    "momento_transaction", default=None
)
_SAVEPOINTS = itertools.count()
# Opens a PostgreSQL database: set by storage.postgres when it is imported (the storage package does), so
# this module never imports the engine that builds on it.
_postgresql: Callable[[str, str | None, Path | None], Awaitable[Database]] | None = None


class Database:
    """One Momento database: a serialised writer and a reader connection to the same WAL file.

    ``Database.open("postgresql://...")`` gives the PostgreSQL engine instead (storage.postgres), behind the
    same API."""

    engine = "sqlite"
    # Appended to a claiming subquery: several processes claim on PostgreSQL, one writer does on SQLite.
    skip_locked = ""

    @staticmethod
    def unindexed(column: str, *, numeric: bool = False) -> str:
        """*column* where the planner must not pick an index for it (SQLite's unary plus, or ``+ 0`` for a
        number; PostgreSQL's planner needs no such hint, and groups only by the column itself)."""
        return f"{column} + 0" if numeric else f"+{column}"

    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection) -> None:
        self.path = path
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()
        self._closed = False
        # Touchpoint id -> key: ids never change meaning (touchpoints are only added), so read each once.
        self.touchpoint_keys: dict[int, str] = {}

    @classmethod
    async def open(
        cls, path: str | Path, *, password: str | None = None, local_path: Path | None = None
    ) -> Database:
        """Open (creating if needed) and migrate to the newest schema.

        *path*: a file (bare or ``sqlite:///``), or a ``postgresql://`` URL, whose password is *password*
        and whose journals on this host go beside *local_path* (``db.path``; the file itself for SQLite)."""
        if is_postgresql(path):
            if _postgresql is None:
                raise StorageUnavailable("PostgreSQL support is not loaded (import storage.postgres)")
            return await _postgresql(str(path), password, local_path)
        db_path = sqlite_path(path)
        if db_path.parent and not db_path.parent.exists():
            db_path.parent.mkdir(parents=True, exist_ok=True)
        writer = await aiosqlite.connect(db_path, isolation_level=None)
        try:
            writer.row_factory = aiosqlite.Row
            await _configure(writer)
            await _switch_to_wal(writer, db_path)
            await _migrate(writer, db_path)
            reader = await aiosqlite.connect(db_path, isolation_level=None)
        except BaseException:
            await writer.close()
            raise
        reader.row_factory = aiosqlite.Row
        await _configure(reader)
        await reader.execute("PRAGMA query_only = ON")
        return cls(db_path, writer, reader)

    async def close(self) -> None:
        """Idempotent: closing twice (a test and its fixture, shutdown after a failed start) is harmless."""
        async with self._write_lock:
            if self._closed:
                return
            self._closed = True
            # SQLite's advice for long-lived connections: refresh planner statistics where they are stale
            # (cheap; it only analyses tables whose size changed a lot).
            with contextlib.suppress(sqlite3.Error):
                # analysis_limit samples instead of reading whole tables: shutdown stays fast at 1M answers.
                await self._writer.execute("PRAGMA analysis_limit = 400")
                await self._writer.execute("PRAGMA optimize")
            await self._reader.close()
            await self._writer.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @asynccontextmanager
    async def transaction(self, *, one_change: bool = False) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction: commits on success, rolls back on any exception.

        Nested in a transaction (or :meth:`batch`) of the same task it is a savepoint instead: a failing
        inner block rolls back alone, and the outer one still decides whether anything is committed.

        *one_change*: the block makes at most one atomic change (a single write statement, which SQLite
        applies whole or not at all, or one nested transaction), besides reads. Nested, it then needs no
        savepoint of its own: bulk ingestion saves two thread hand-offs per repository call.
        """
        if self._inside_own_transaction():
            if one_change:
                yield self._writer
                return
            name = f"momento_sp{next(_SAVEPOINTS)}"
            await self._writer.execute(f"SAVEPOINT {name}")
            try:
                yield self._writer
            except BaseException:
                await self._writer.execute(f"ROLLBACK TO {name}")
                await self._writer.execute(f"RELEASE {name}")
                raise
            await self._writer.execute(f"RELEASE {name}")
            return
        async with self._write_lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            token = _OPEN_TRANSACTION.set((self, asyncio.current_task()))
            try:
                yield self._writer
                await self._writer.commit()
            except BaseException:
                # Also after a failed COMMIT (another process held the file past busy_timeout): without the
                # rollback the writer would stay inside the transaction and every later write would fail.
                if self._writer.in_transaction:
                    await self._writer.rollback()
                raise
            finally:
                _OPEN_TRANSACTION.reset(token)

    def transaction_alive(self) -> bool:
        """False once SQLite rolled an open transaction back on its own (disk full, I/O error): whatever the
        block wrote before is gone, so a caller that swallows an error inside a batch must stop too."""
        return self._writer.in_transaction

    def _inside_own_transaction(self) -> bool:
        current = _OPEN_TRANSACTION.get()
        return current is not None and current[0] is self and current[1] is asyncio.current_task()

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """Many repository writes, one commit (one fsync): bulk ingestion at disk speed.

        Every ``transaction()`` this task opens inside the block becomes a savepoint (a ``one_change`` one
        needs none: its single change is atomic anyway), so a failing one still rolls back alone. Reads
        through ``fetch_*`` (the reader) see the batch only after it commits.
        """
        async with self.transaction():
            yield

    async def fetch_all(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[aiosqlite.Row]:
        # execute_fetchall: one trip to aiosqlite's thread instead of three (execute, fetch, close).
        return list(await self._reader.execute_fetchall(sql, params))

    async def fetch_one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> aiosqlite.Row | None:
        """For queries that yield one row (a key, LIMIT 1, an aggregate): fetched in a single trip."""
        rows = await self._reader.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def iterate(
        self, sql: str, params: Sequence[Any] | dict[str, Any] = (), *, batch: int = 1000
    ) -> AsyncIterator[aiosqlite.Row]:
        """Stream rows: memory stays flat whatever the result size."""
        async for rows in self.iterate_batches(sql, params, batch=batch):
            for row in rows:
                yield row

    async def iterate_batches(
        self, sql: str, params: Sequence[Any] | dict[str, Any] = (), *, batch: int = 1000
    ) -> AsyncIterator[list[aiosqlite.Row]]:
        """Stream rows a batch at a time (exports: one await per batch, not per row). The next batch is
        read on the reader's thread while the caller works through this one."""
        async with self._reader.execute(sql, params) as cursor:
            ahead = asyncio.ensure_future(cursor.fetchmany(batch))
            try:
                while rows := list(await ahead):
                    ahead = asyncio.ensure_future(cursor.fetchmany(batch))
                    yield rows
            finally:
                if not ahead.done():
                    with contextlib.suppress(Exception):
                        await ahead

    async def checkpoint(self) -> bool:
        """Copy the WAL into the main file and truncate it (after an erasure, so old page images of the
        erased rows do not stay in the WAL). False when a reader kept it from completing; it is retried by
        SQLite's own automatic checkpoints later.

        It holds the write lock while it waits for readers, so it waits at most CHECKPOINT_WAIT_MS rather than
        the full busy timeout: a long export must not stall every handler's writes for ten seconds."""
        async with self._write_lock:
            await self._writer.execute(f"PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS}")
            try:
                async with self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cursor:
                    row = await cursor.fetchone()
            finally:
                await self._writer.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return row is not None and row[0] == 0

    async def claim_bot_process(self) -> bool:
        """Mark this process as the database's one bot process (``momento run``); False if another holds it.

        SQLite: one process per file already (the bot is its one writer), so there is nothing to take."""
        return True

    # Bulk copy (storage.transfer), inside one transaction() of this database.

    async def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        listed = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" * len(columns))
        await self._writer.executemany(f'INSERT INTO "{table}" ({listed}) VALUES ({marks})', rows)

    async def empty_tables(self, tables: Sequence[str]) -> None:
        """Children first: every row of *tables* deleted."""
        for table in tables:
            await self._writer.execute(f'DELETE FROM "{table}"')

    async def set_column(self, table: str, column: str, values: Sequence[tuple[int, Any]]) -> None:
        """*column* of the rows with these ids set to these values: (id, value) pairs."""
        await self._writer.executemany(
            f'UPDATE "{table}" SET "{column}" = ? WHERE id = ?', [(value, row_id) for row_id, value in values]
        )

    async def after_bulk_insert(self, tables: Sequence[str]) -> None:
        """Nothing for SQLite: a new row's id follows the largest one present."""

    async def size_bytes(self) -> int:
        """The main file and its write-ahead log (a stat each: no thread needed)."""
        return _file_bytes(self.path)

    async def schema_version(self) -> int:
        row = await self.fetch_one("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def integrity_ok(self) -> bool:
        row = await self.fetch_one("PRAGMA integrity_check")
        return row is not None and row[0] == "ok"

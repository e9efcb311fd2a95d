"""PostgreSQL as the storage engine: several bot and API processes on one database.

One set of repositories serves both engines. They write SQLite-flavoured SQL (``?`` and ``:name``
placeholders, ``ON CONFLICT``, ``RETURNING``); this module is the thin dialect layer underneath:

* placeholders become ``$1..$n`` (translated once per statement text and cached), and SQLite's ``x IS ?``
  PostgreSQL's ``x IS NOT DISTINCT FROM $n``;
* the few SQLite functions the report queries use (julianday, strftime with a modifier, json_extract,
  ROUND of a real, TOTAL) are defined in the database by postgresql/0001_initial.sql, so one SQL text serves
  both engines;
* numeric results (SUM of integers, AVG) come back as int or float, as SQLite gives them, not Decimal;
* the connection handed to a transaction offers the part of aiosqlite's connection the repositories use
  (``execute`` with ``rowcount``, ``execute_fetchall``, ``executemany``).

Migrations: postgresql/NNNN_name.sql twins of the SQLite files, one ordered history; the schema version is
the one row of ``momento_schema``. Writes of one process still go through one lock (the same model as SQLite,
so every repository's read-then-write stays safe inside a process); across processes, what several workers
could claim at once is claimed with ``FOR UPDATE SKIP LOCKED`` (storage.outreach) or a unique key.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import aiosqlite
import asyncpg

from storage import db as storage_db
from storage.db import _OPEN_TRANSACTION, Database, SchemaError, StorageUnavailable, migration_names

POOL_MAX_SIZE = 10
# Session settings for Momento's workload (short index lookups over data that stays in cache): JIT compiling
# cost more than the 30-day /summary's queries themselves, and with the default random_page_cost (4, tuned for
# spinning disks) the planner preferred hashing the whole answers table to probing its indexes (354 -> 111 ms
# for one /summary query at 1M answers; docs/benchmarks.md). They apply to Momento's own sessions only.
SERVER_SETTINGS = {"jit": "off", "random_page_cost": "1.1", "application_name": "momento"}
CONNECT_TIMEOUT_S = 10.0
# pg_advisory_xact_lock key: two processes starting at once apply each migration exactly once.
_MIGRATION_LOCK = 0x4D4F4D45  # "MOME"
# pg_try_advisory_lock key held by the database's one bot process (``momento run``).
_BOT_LOCK = 0x4D4F4D42  # "MOMB"
BOT_LOCK_WAIT_S = 5.0

_TOKENS = re.compile(
    r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|::|\bIS\s+\?|\?|:([A-Za-z_][A-Za-z0-9_]*)""", re.IGNORECASE
)
_ROWCOUNT = re.compile(r"(\d+)$")

Params = Sequence[Any] | dict[str, Any]


@functools.lru_cache(maxsize=8192)
def translate(sql: str) -> tuple[str, tuple[str, ...] | None]:
    """SQLite placeholders -> PostgreSQL's: (sql, the parameter names in $n order, or None for ``?``)."""
    names: list[str] = []
    positional = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal positional
        text = match.group(0)
        if text == "?":
            positional += 1
            return f"${positional}"
        if text.endswith("?"):  # SQLite's ``x IS ?``, true also when both are NULL
            positional += 1
            return f"IS NOT DISTINCT FROM ${positional}"
        name = match.group(1)
        if name is None:
            return text  # a literal, a quoted name, a comment or a :: cast
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    translated = _TOKENS.sub(replace, sql)
    if positional and names:
        raise ValueError("a statement mixes ? and :name placeholders")
    return translated, (tuple(names) if names else None)


def _arguments(names: tuple[str, ...] | None, params: Params) -> list[Any]:
    if names is None:
        return list(params.values()) if isinstance(params, dict) else list(params)
    if not isinstance(params, dict):
        raise TypeError("named placeholders need a dict of parameters")
    return [params[name] for name in names]


def _prepared(sql: str, params: Params) -> tuple[str, list[Any]]:
    translated, names = translate(sql)
    return translated, _arguments(names, params)


def masked_url(url: str) -> str:
    """The URL as it may be printed: any password in it replaced."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:****@{host}"))


class _Cursor:
    def __init__(self, rowcount: int) -> None:
        self.rowcount = rowcount


class _Execution:
    """What ``conn.execute`` returns: awaitable, or an async context manager, like aiosqlite's."""

    def __init__(self, conn: asyncpg.Connection, sql: str, params: Params) -> None:
        self._run = self._execute(conn, sql, params)

    @staticmethod
    async def _execute(conn: asyncpg.Connection, sql: str, params: Params) -> _Cursor:
        translated, args = _prepared(sql, params)
        status = await conn.execute(translated, *args)
        found = _ROWCOUNT.search(status or "")
        return _Cursor(int(found.group(1)) if found else -1)

    def __await__(self) -> Any:
        return self._run.__await__()

    async def __aenter__(self) -> _Cursor:
        return await self._run

    async def __aexit__(self, *exc_info: object) -> None:
        return None


class PgConnection:
    """The write connection of a transaction, with the calls the repositories make on aiosqlite's."""

    def __init__(self, raw: asyncpg.Connection) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Params = ()) -> _Execution:
        return _Execution(self.raw, sql, parameters)

    async def execute_fetchall(self, sql: str, parameters: Params = ()) -> list[asyncpg.Record]:
        translated, args = _prepared(sql, parameters)
        return cast(list[asyncpg.Record], await self.raw.fetch(translated, *args))

    async def executemany(self, sql: str, parameters: Iterable[Params]) -> None:
        translated, names = translate(sql)
        await self.raw.executemany(translated, [_arguments(names, p) for p in parameters])

    @property
    def in_transaction(self) -> bool:
        return bool(self.raw.is_in_transaction())


def _number(text: str) -> int | float:
    """numeric -> int when whole (SUM of integers), else float (AVG): what SQLite would have returned."""
    try:
        return int(text)
    except ValueError:
        return float(text)


async def _configure(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("numeric", encoder=str, decoder=_number, schema="pg_catalog", format="text")


def _pg_migrations() -> list[tuple[int, str, str]]:
    """The PostgreSQL twins, which must match the SQLite history name for name."""
    sqlite_names = migration_names()
    found = {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in resources.files("storage.migrations.postgresql").iterdir()
        if entry.name.endswith(".sql") and entry.name[:4].isdigit()
    }
    missing = [name for name in sqlite_names if name not in found]
    if missing:
        raise SchemaError(
            f"storage/migrations/postgresql/{missing[0]} is missing: every SQLite migration needs its "
            f"PostgreSQL twin (draft one with `python -m storage.migrations.twin {missing[0][:4]}`)"
        )
    extra = sorted(set(found) - set(sqlite_names))
    if extra:
        raise SchemaError(
            f"storage/migrations/postgresql/{extra[0]} has no SQLite migration of the same name"
        )
    return [(i, name, found[name]) for i, name in enumerate(sqlite_names, start=1)]


async def _read_version(conn: asyncpg.Connection) -> int:
    value = await conn.fetchval("SELECT version FROM momento_schema")
    return int(value) if value is not None else 0


async def _migrate(conn: asyncpg.Connection, where: str) -> int:
    migrations = _pg_migrations()
    newest = len(migrations)
    while True:
        async with conn.transaction():
            await conn.execute(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            await conn.execute("CREATE TABLE IF NOT EXISTS momento_schema (version BIGINT NOT NULL)")
            current = await _read_version(conn)
            if current > newest:
                raise SchemaError(
                    f"{where}: the database is at schema version {current}, newer than this Momento "
                    f"(knows up to {newest}); upgrade Momento instead of running an older version against it"
                )
            if current == newest:
                return newest
            version, name, sql = migrations[current]
            try:
                await conn.execute(sql)
            except asyncpg.PostgresError as exc:
                raise SchemaError(f"{where}: migration postgresql/{name} failed: {exc}") from exc
            await conn.execute("DELETE FROM momento_schema")
            await conn.execute("INSERT INTO momento_schema (version) VALUES ($1)", version)


def _unavailable(where: str, exc: BaseException) -> StorageUnavailable:
    """One line naming why the database cannot be reached, never the password."""
    if isinstance(exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError):
        reason = f"authentication failed ({exc}): check the user in storage.url and MOMENTO_STORAGE__PASSWORD"
    elif isinstance(exc, asyncpg.InvalidCatalogNameError):
        reason = f"{exc}: create it first (createdb), or fix the database name in storage.url"
    elif isinstance(exc, TimeoutError):
        reason = f"no answer within {CONNECT_TIMEOUT_S:.0f} s: check the host and port in storage.url"
    elif isinstance(exc, OSError):
        reason = f"unreachable ({exc.strerror or exc}): is PostgreSQL running? check the host and port"
    else:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return StorageUnavailable(f"cannot open the PostgreSQL database {where}: {reason}")


class PostgresDatabase(Database):
    """A pool of connections to one PostgreSQL database, behind the same API as the SQLite one."""

    engine = "postgresql"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    @staticmethod
    def unindexed(column: str, *, numeric: bool = False) -> str:
        return column

    def __init__(self, url: str, pool: asyncpg.Pool, local_path: Path | None = None) -> None:
        # Not Database.__init__: there is no file and no pair of connections. *path* names where this host's
        # journals go (bot.conversation.replies): one name per database, never shared by two databases.
        parts = urlsplit(url)
        self.path = local_path or Path(f"{parts.path.strip('/')}@{parts.hostname}-{parts.port or 5432}")
        self.url = url
        self._pool = pool
        self._write_lock = asyncio.Lock()
        self._closed = False
        self._tx: PgConnection | None = None
        self._bot_lock: asyncpg.Connection | None = None
        self.touchpoint_keys: dict[int, str] = {}

    @classmethod
    async def connect(
        cls, url: str, *, password: str | None = None, local_path: Path | None = None
    ) -> PostgresDatabase:
        """Connect, migrate to the newest schema, or raise StorageUnavailable / SchemaError (one line)."""
        where = masked_url(url)
        try:
            pool = await asyncpg.create_pool(
                dsn=url,
                password=password,
                min_size=1,
                max_size=POOL_MAX_SIZE,
                init=_configure,
                timeout=CONNECT_TIMEOUT_S,
                server_settings=SERVER_SETTINGS,
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise _unavailable(where, exc) from exc
        try:
            async with pool.acquire() as conn:
                await _migrate(conn, where)
        except BaseException:
            await pool.close()
            raise
        return cls(url, pool, local_path)

    async def claim_bot_process(self) -> bool:
        """A session advisory lock, held on a connection of its own until close (or until the process dies,
        when PostgreSQL drops it with the session): a second ``momento run`` on the database is refused.

        Invitations, digests and update ids are claimed safely by several processes, but replies of one chat
        are ordered only inside one process in this version, so one bot process per database."""
        if self._bot_lock is not None:
            return True
        conn = await self._pool.acquire()
        # A process killed a moment ago (a supervisor restarting it at once) may still have its session on
        # the server for a few hundred milliseconds: wait that out before refusing.
        deadline = asyncio.get_running_loop().time() + BOT_LOCK_WAIT_S
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _BOT_LOCK):
            if asyncio.get_running_loop().time() >= deadline:
                await self._pool.release(conn)
                return False
            await asyncio.sleep(0.2)
        self._bot_lock = conn
        return True

    async def close(self) -> None:
        async with self._write_lock:
            if self._closed:
                return
            self._closed = True
            if self._bot_lock is not None:
                with contextlib.suppress(asyncpg.PostgresError, OSError):
                    await self._bot_lock.execute("SELECT pg_advisory_unlock($1)", _BOT_LOCK)
                await self._pool.release(self._bot_lock)
                self._bot_lock = None
            await self._pool.close()

    @asynccontextmanager
    async def transaction(self, *, one_change: bool = False) -> AsyncIterator[aiosqlite.Connection]:
        """As Database.transaction; nested, always a savepoint: PostgreSQL aborts the whole transaction on a
        failed statement, where SQLite undoes only the statement, so even one change needs its own."""
        if self._inside_own_transaction() and self._tx is not None:
            inner = self._tx
            async with inner.raw.transaction():
                yield cast(aiosqlite.Connection, inner)
            return
        async with self._write_lock, self._pool.acquire() as raw:
            connection = PgConnection(raw)
            token = _OPEN_TRANSACTION.set((self, asyncio.current_task()))
            self._tx = connection
            try:
                async with raw.transaction():
                    yield cast(aiosqlite.Connection, connection)
            finally:
                self._tx = None
                _OPEN_TRANSACTION.reset(token)

    def transaction_alive(self) -> bool:
        return self._tx is not None and self._tx.in_transaction

    async def fetch_all(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        translated, args = _prepared(sql, params)
        async with self._pool.acquire() as conn:
            return cast(list[aiosqlite.Row], await conn.fetch(translated, *args))

    async def fetch_one(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        translated, args = _prepared(sql, params)
        async with self._pool.acquire() as conn:
            return cast(aiosqlite.Row | None, await conn.fetchrow(translated, *args))

    async def iterate_batches(
        self, sql: str, params: Params = (), *, batch: int = 1000
    ) -> AsyncIterator[list[aiosqlite.Row]]:
        """A server-side cursor in a read-only transaction: memory stays flat whatever the result size."""
        translated, args = _prepared(sql, params)
        async with self._pool.acquire() as conn, conn.transaction(readonly=True):
            cursor = await conn.cursor(translated, *args)
            while rows := await cursor.fetch(batch):
                yield cast(list[aiosqlite.Row], rows)

    async def checkpoint(self) -> bool:
        """Nothing to do: PostgreSQL's own checkpoints and vacuum reclaim what was erased."""
        return True

    async def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """COPY, the fast path for bulk loads, on the open transaction's connection."""
        assert self._tx is not None, "insert_rows runs inside transaction()"
        await self._tx.raw.copy_records_to_table(table, records=rows, columns=list(columns))

    async def set_column(self, table: str, column: str, values: Sequence[tuple[int, Any]]) -> None:
        """One UPDATE from a COPY-filled temporary table: a statement per row took minutes at 1M rows."""
        assert self._tx is not None, "set_column runs inside transaction()"
        raw = self._tx.raw
        await raw.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS momento_set_column (id BIGINT PRIMARY KEY, value BIGINT) "
            "ON COMMIT DROP"
        )
        await raw.execute("TRUNCATE momento_set_column")
        await raw.copy_records_to_table("momento_set_column", records=list(values), columns=["id", "value"])
        await raw.execute(
            f'UPDATE "{table}" AS t SET "{column}" = s.value FROM momento_set_column AS s WHERE t.id = s.id'
        )

    async def empty_tables(self, tables: Sequence[str]) -> None:
        assert self._tx is not None, "empty_tables runs inside transaction()"
        listed = ", ".join(f'"{t}"' for t in tables)
        await self._tx.raw.execute(f"TRUNCATE {listed} RESTART IDENTITY CASCADE")

    async def after_bulk_insert(self, tables: Sequence[str]) -> None:
        """Identity columns continue after the largest id copied in (COPY does not move them)."""
        assert self._tx is not None, "after_bulk_insert runs inside transaction()"
        with_id = {
            row[0]
            for row in await self._tx.raw.fetch(
                "SELECT table_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND column_name = 'id'"
            )
        }
        for table in tables:
            if table not in with_id:
                continue
            sequence = await self._tx.raw.fetchval("SELECT pg_get_serial_sequence($1, 'id')", f'"{table}"')
            if sequence is not None:
                await self._tx.raw.execute(
                    f'SELECT setval($1, COALESCE((SELECT MAX(id) FROM "{table}"), 0) + 1, false)', sequence
                )

    async def size_bytes(self) -> int:
        """The database's size on the server (for /metrics)."""
        async with self._pool.acquire() as conn:
            return int(await conn.fetchval("SELECT pg_database_size(current_database())"))

    async def schema_version(self) -> int:
        async with self._pool.acquire() as conn:
            return await _read_version(conn)

    async def integrity_ok(self) -> bool:
        with contextlib.suppress(asyncpg.PostgresError, OSError):
            async with self._pool.acquire() as conn:
                return bool(await conn.fetchval("SELECT TRUE"))
        return False


async def _open(url: str, password: str | None, local_path: Path | None) -> Database:
    return await PostgresDatabase.connect(url, password=password, local_path=local_path)


storage_db._postgresql = _open

"""A throwaway PostgreSQL cluster for the tests, started once per session from the distribution's binaries.

``MOMENTO_TEST_POSTGRES_URL`` points the tests at a server of your own instead (a database they may create
and drop databases on). Without either, the PostgreSQL half of the parametrised tests is skipped with one
line, unless ``MOMENTO_REQUIRE_POSTGRES=1`` (CI sets it): then a missing PostgreSQL fails them.

Every test gets a fresh database copied from a template migrated once (``CREATE DATABASE ... TEMPLATE``),
so a test sees identity columns starting at 1, like a fresh SQLite file.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import pytest

REQUIRE_ENV = "MOMENTO_REQUIRE_POSTGRES"
URL_ENV = "MOMENTO_TEST_POSTGRES_URL"
TEMPLATE = "momento_template"
# A role of the throwaway cluster that must give PASSWORD (pg_hba: scram-sha-256).
PASSWORD_ROLE = "momento_locked"
PASSWORD = "right-password"
ENGINES = ("sqlite", "postgresql")
# ``pytestmark = BOTH_ENGINES`` (or on one test): the test's ``storage_target`` is each engine in turn.
BOTH_ENGINES = pytest.mark.parametrize("storage_engine", ENGINES, indirect=True)
_names = itertools.count(1)
_created: list[str] = []


def find_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<newest>/bin."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """A cluster in a temporary directory, owned by the user running the tests (``postgres`` when root:
    PostgreSQL refuses to run as root)."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.root = Path(tempfile.mkdtemp(prefix="momento-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "postgres"
            owner = pwd.getpwnam(self.user)
            os.chown(self.root, owner.pw_uid, owner.pw_gid)

    def _run(self, *args: str) -> None:
        command = [str(self.binaries / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> str:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "momento", "-E", "UTF8", "--locale=C")
        # One role that needs a password, for the start-up failure tests; everyone else is trusted.
        hba = self.data / "pg_hba.conf"
        hba.write_text(f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")
        return f"postgresql://momento@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def database_url(server_url: str, name: str) -> str:
    return server_url.rsplit("/", 1)[0] + "/" + name


async def _admin(server_url: str, *statements: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def prepare_template(server_url: str) -> None:
    """A database migrated once, copied for every test."""
    from storage.db import Database

    await _admin(server_url, f"DROP DATABASE IF EXISTS {TEMPLATE}", f"CREATE DATABASE {TEMPLATE}")
    if not os.environ.get(URL_ENV):
        await _admin(
            server_url,
            f"DROP ROLE IF EXISTS {PASSWORD_ROLE}",
            f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{PASSWORD}'",
        )
    db = await Database.open(database_url(server_url, TEMPLATE))
    await db.close()


async def fresh_database(server_url: str) -> str:
    """The URL of a new database, a copy of the migrated template (dropped when the session ends)."""
    name = f"momento_test_{os.getpid()}_{next(_names)}"
    await _admin(server_url, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    _created.append(name)
    return database_url(server_url, name)


async def _drop_created(server_url: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        while _created:
            await conn.execute(f"DROP DATABASE IF EXISTS {_created.pop()} WITH (FORCE)")
    finally:
        await conn.close()


async def empty_database(server_url: str, *, owner: str | None = None) -> str:
    """The URL of a new database with no schema at all (migrations, migrate-storage targets)."""
    name = f"momento_empty_{os.getpid()}_{next(_names)}"
    await _admin(server_url, f"CREATE DATABASE {name}" + (f" OWNER {owner}" if owner else ""))
    return database_url(server_url, name)


async def drop_database(server_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    await _admin(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run on a loop of its own, in a thread: the session fixture may be first asked for inside a test's
    running loop."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result()


@contextlib.contextmanager
def server() -> Iterator[str | None]:
    """The server URL for the session (None when PostgreSQL is not available here)."""
    external = os.environ.get(URL_ENV)
    if external:
        _run(prepare_template(external))
        try:
            yield external
        finally:
            _run(_drop_created(external))
        return
    binaries = find_binaries()
    if binaries is None:
        yield None
        return
    cluster = Cluster(binaries)
    try:
        url = cluster.start()
        _run(prepare_template(url))
        yield url
    finally:
        cluster.stop()

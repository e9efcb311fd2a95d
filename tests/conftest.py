"""Shared fixtures, one section per concern; add new fixtures to the section they belong to (or a new one).

Sections: environment hygiene · storage engines (SQLite, PostgreSQL) · Telegram (the Bot API emulator) ·
settings · the running Application · sentiment (the real model, loaded once per session).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import Application

from bot.config import Settings
from tests.fakes.bot_api import BotApiEmulator
from tests.support import postgres

# ----------------------------------------------------------------------------------------------------------
# Environment hygiene: no stray MOMENTO_* variable or proxy may change what a test sees.
# ----------------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("MOMENTO_"):
            monkeypatch.delenv(name)
    # httpx honours HTTP(S)_PROXY; the emulator lives on 127.0.0.1.
    for name in ("NO_PROXY", "no_proxy"):
        present = os.environ.get(name, "")
        monkeypatch.setenv(name, ",".join(filter(None, (present, "127.0.0.1", "localhost"))))


# ----------------------------------------------------------------------------------------------------------
# Storage engines. A test (or a module, with ``pytestmark = postgres.BOTH_ENGINES``) runs on both SQLite and
# PostgreSQL; without the mark ``storage_target`` is a SQLite file. PostgreSQL is a throwaway cluster started
# once per session (tests/support/postgres.py); where its binaries are absent its half is skipped with one
# line, unless MOMENTO_REQUIRE_POSTGRES=1 (CI), which makes that a failure.
# ----------------------------------------------------------------------------------------------------------

_REQUIRE_POSTGRES = os.environ.get(postgres.REQUIRE_ENV) == "1"
_POSTGRES_MISSING = (
    "PostgreSQL tests skipped: no initdb/pg_ctl found (install the postgresql package, or set "
    f"{postgres.URL_ENV})"
)
_postgres_skipped = False


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str | None]:
    """The session's PostgreSQL server URL (its ``postgres`` database), or None where it is unavailable."""
    with postgres.server() as url:
        yield url


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> str:
    """The session's server for a test that needs PostgreSQL itself: skipped (one line) where there is none,
    failed instead under MOMENTO_REQUIRE_POSTGRES=1."""
    server: str | None = request.getfixturevalue("postgres_server")
    if server is None:
        if _REQUIRE_POSTGRES:
            pytest.fail(f"{postgres.REQUIRE_ENV}=1 but no PostgreSQL: {_POSTGRES_MISSING}")
        global _postgres_skipped
        _postgres_skipped = True
        pytest.skip(_POSTGRES_MISSING)
    return server


@pytest.fixture
def storage_engine(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
async def storage_target(
    storage_engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[str | Path]:
    """What ``Database.open`` takes for this test: a fresh SQLite file, or a fresh PostgreSQL database."""
    if storage_engine == "sqlite":
        yield tmp_path / "momento.db"
        return
    server: str = request.getfixturevalue("postgres_url")
    # Dropped at the end of the session, not of the test: a fixture set up before this one (a running
    # Application) is torn down after it and still holds connections.
    yield await postgres.fresh_database(server)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _postgres_skipped:
        terminalreporter.write_line(_POSTGRES_MISSING, yellow=True)


# ----------------------------------------------------------------------------------------------------------
# Telegram: the Bot API emulator (tests/fakes/bot_api.py).
# ----------------------------------------------------------------------------------------------------------


@pytest.fixture
async def bot_api() -> AsyncIterator[BotApiEmulator]:
    """A started emulator on an ephemeral port (token "123456:TEST"), stopped after the test."""
    emulator = BotApiEmulator()
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


# ----------------------------------------------------------------------------------------------------------
# Settings wired to the emulator and a fresh database in tmp_path.
# ----------------------------------------------------------------------------------------------------------

SettingsFactory = Callable[..., Settings]

STAFF_CHAT_ID = -100100
ADMIN_USER_ID = 900


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """*base* with *overrides* applied; nested dicts merge, anything else replaces."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@pytest.fixture
def settings_factory(tmp_path: Path, storage_target: str | Path, bot_api: BotApiEmulator) -> SettingsFactory:
    """``settings_factory(telegram={"max_retries": 0}, survey={...})`` -> Settings for the emulator.

    Defaults: the emulator's token and URLs, the test's database (``storage_target``: tmp_path/momento.db, or
    a fresh PostgreSQL database under BOTH_ENGINES), staff chat -100100, admin 900,
    no per-chat pacing, a 1 s outreach tick. Overrides are nested dicts merged into these.
    """

    def make(**overrides: Any) -> Settings:
        data: dict[str, Any] = {
            "telegram": {
                "token": bot_api.token,
                "base_url": bot_api.base_url,
                "base_file_url": bot_api.base_file_url,
                "staff_chat_id": STAFF_CHAT_ID,
                "admin_user_ids": [ADMIN_USER_ID],
                "per_chat_interval": 0,
            },
            # The journals beside the data stay in tmp_path on either engine.
            "storage": {"url": str(storage_target), "path": str(tmp_path / "momento.db")},
            "survey": {"tick_interval": "1s"},
        }
        return Settings(**deep_merge(data, overrides))

    return make


# ----------------------------------------------------------------------------------------------------------
# The real PTB Application, polling the emulator over HTTP (never run_polling: tests own the loop).
# ----------------------------------------------------------------------------------------------------------

MomentoApp = Application[Any, Any, Any, Any, Any, Any]


class AppRunner:
    """``app = await running_app(settings, classifier=...)``; ``await running_app.stop(app)`` to restart.

    Starts as run_polling would (initialize, post_init, start_polling, start) and stops in reverse; every
    Application still running is stopped at teardown.
    """

    def __init__(self) -> None:
        self.running: list[MomentoApp] = []

    async def __call__(self, settings: Settings, **build_kwargs: Any) -> MomentoApp:
        from bot.telegram.app import build_application

        app = build_application(settings, **build_kwargs)
        await app.initialize()
        try:
            if app.post_init is not None:
                await app.post_init(app)
            if app.updater is not None:
                await app.updater.start_polling(poll_interval=0, timeout=1)
            await app.start()
        except BaseException:
            await self._shutdown(app)
            raise
        self.running.append(app)
        return app

    async def stop(self, app: MomentoApp) -> None:
        if app in self.running:
            self.running.remove(app)
            await self._shutdown(app)

    async def stop_all(self) -> None:
        while self.running:
            await self.stop(self.running[-1])

    @staticmethod
    async def _shutdown(app: MomentoApp) -> None:
        """Every step runs even if an earlier one fails; the first failure is raised at the end."""
        failures: list[BaseException] = []

        async def step(action: Callable[[], Any]) -> None:
            try:
                await action()
            except Exception as exc:
                failures.append(exc)

        if app.updater is not None and app.updater.running:
            await step(app.updater.stop)
        if app.running:
            await step(app.stop)
        if app.post_stop is not None:
            post_stop = app.post_stop
            await step(lambda: post_stop(app))
        await step(app.shutdown)
        if app.post_shutdown is not None:
            post_shutdown = app.post_shutdown
            await step(lambda: post_shutdown(app))
        if failures:
            raise failures[0]


@pytest.fixture
async def running_app(bot_api: BotApiEmulator) -> AsyncIterator[AppRunner]:
    """Factory that starts the real Application against the emulator; stopped before the emulator is."""
    runner = AppRunner()
    try:
        yield runner
    finally:
        await runner.stop_all()


# ----------------------------------------------------------------------------------------------------------
# Sentiment: the real offline model, loaded once per session and lent to each test's Application.
# ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sentiment_model() -> Iterator[Any]:
    """The offline default model (sentiment.SyncModel), loaded once; wrap per test with ``classifier``."""
    from sentiment import ClassifierSettings, load_model

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    yield load_model(ClassifierSettings())


@pytest.fixture
async def classifier(sentiment_model: Any) -> AsyncIterator[Any]:
    """A batching Classifier over the session's model, bound to this test's event loop."""
    from sentiment import BatchingClassifier

    lent = BatchingClassifier(sentiment_model)
    try:
        yield lent
    finally:
        await lent.aclose()

"""Running the bot for real: long polling, or webhook through Momento's own HTTP server.

With the HTTP server enabled (the default) the ingestion API runs next to the bot in the same event loop, so
both share one database connection pair and one writer lock; in webhook mode the same server also receives
Telegram's updates (PTB's custom-webhook pattern).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
from collections.abc import Callable, Coroutine
from typing import Any

from bot.config import ConfigError, RedactSecrets, Settings, StartupError, install_redaction
from bot.telegram.app import MomentoApplication, build_application

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]


class JsonFormatter(logging.Formatter):
    """One JSON object per line ([logging] format = "json"): time, level, logger, message, and the
    traceback when there is one. The redacting filter runs on the handler first, so no secret gets here."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(settings: Settings) -> RedactSecrets:
    """Log lines with time and source, and never a secret in them (see bot.config.RedactSecrets)."""
    logging.basicConfig(
        level=settings.logging.level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if settings.logging.format == "json":
        JsonFormatter.converter = time.gmtime
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
    # httpx logs every poll at INFO, which drowns what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return install_redaction(settings)


def explain_startup_failure(exc: BaseException, settings: Settings) -> str | None:
    """One line naming the cause and what to do for each failure we know at start-up; None otherwise."""
    from telegram.error import InvalidToken, NetworkError

    from bot.api.server import ListenError

    base_url = settings.telegram.base_url
    if isinstance(exc, InvalidToken):
        # PTB's own message quotes the token; never print it.
        return (
            f"telegram.token was refused by the Bot API at {base_url} "
            "(check MOMENTO_TELEGRAM__TOKEN: the token @BotFather gave you)"
        )
    if isinstance(exc, NetworkError):  # includes TimedOut
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return (
            f"cannot reach the Telegram Bot API at {base_url} ({reason}): check the network, the proxy "
            "variables (HTTPS_PROXY) or telegram.base_url, then start again"
        )
    if isinstance(exc, ListenError | StartupError | ConfigError):
        return str(exc)
    return None


def run_polling(settings: Settings) -> None:
    """Blocks until SIGINT/SIGTERM; serves the ingestion API alongside when server.enabled."""
    application = build_application(settings)
    log.info("Momento starting (long polling against %s)", settings.telegram.base_url)
    # Our own start-up, also without the HTTP server: PTB's run_polling logs a traceback of its own for a
    # failed start, and the CLI's one line must be all an operator sees.
    _run(_until_signalled(settings, application, webhook=False))


def _run(main: Coroutine[Any, Any, None]) -> None:
    """uvloop where it is installed (about twice the ingestion throughput: cheaper thread hand-offs to
    SQLite and sockets), the standard loop elsewhere (Windows). A busy port is one clear line."""
    import click

    from bot.api.server import ListenError

    runner: Callable[[Coroutine[Any, Any, None]], None] = asyncio.run
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        pass
    try:
        runner(main)
    except ListenError as exc:
        raise click.ClickException(str(exc)) from exc


def webhook_settings(settings: Settings) -> Settings:
    """*settings* switched to webhook mode, or ConfigError naming what webhook mode still needs."""
    if not settings.server.enabled:
        raise ConfigError("webhook mode needs the HTTP server: set server.enabled = true")
    if not settings.webhook.public_url:
        raise ConfigError("webhook mode needs webhook.public_url (the HTTPS URL Telegram posts to)")
    secret = settings.webhook.secret_token
    if secret is None or not secret.get_secret_value():
        raise ConfigError("webhook mode needs MOMENTO_WEBHOOK__SECRET_TOKEN (1-256 of A-Z a-z 0-9 _ -)")
    telegram = settings.telegram.model_copy(update={"mode": "webhook"})
    return settings.model_copy(update={"telegram": telegram})


def run_webhook(settings: Settings) -> None:
    """Blocks until SIGINT/SIGTERM; Telegram posts updates to webhook.public_url, proxied to our server."""
    import click

    try:
        settings = webhook_settings(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    application = build_application(settings)
    log.info("Momento starting (webhook at %s)", settings.webhook.public_url)
    _run(_until_signalled(settings, application, webhook=True))


async def _until_signalled(settings: Settings, application: MomentoApplication, *, webhook: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl+C still raises KeyboardInterrupt
            loop.add_signal_handler(signum, stop.set)
    await serve(settings, application, webhook=webhook, stop=stop)


async def serve(
    settings: Settings,
    application: MomentoApplication,
    *,
    webhook: bool,
    stop: asyncio.Event,
    ready: Callable[[str], Any] | None = None,
) -> None:
    """Run the bot and (when server.enabled) the HTTP server until *stop* is set; *ready* gets the server's
    base URL ("" without a server).

    Start-up and shut-down follow PTB's own run_polling/run_webhook order (initialize, post_init, start;
    stop, post_stop, shutdown, post_shutdown), so the composition root's hooks behave exactly as there.
    """
    from bot.api.server import create_app, serving
    from bot.telegram.services import services
    from bot.telegram.webhook import webhook_route

    await application.initialize()
    try:
        if application.post_init is not None:
            await application.post_init(application)
        async with contextlib.AsyncExitStack() as stack:
            base_url = ""
            if settings.server.enabled:
                api = create_app(
                    settings,
                    services(application).db,
                    bot_username=lambda: application.bot.username,
                    extra_routes=[webhook_route(settings, application)] if webhook else (),
                    bot_running=lambda: application.running,
                    recovery=services(application).recovery,
                )
                _, base_url = await stack.enter_async_context(
                    serving(api, settings.server.host, settings.server.port)
                )
                log.info("HTTP server listening on %s (API docs at %s/docs)", base_url, base_url)
            await application.start()
            try:
                if webhook:
                    secret = settings.webhook.secret_token
                    await application.bot.set_webhook(
                        url=str(settings.webhook.public_url),
                        secret_token=secret.get_secret_value() if secret else None,
                        allowed_updates=ALLOWED_UPDATES,
                    )
                elif application.updater is not None:
                    await application.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
                if ready is not None:
                    ready(base_url)
                await stop.wait()
            finally:
                if application.updater is not None and application.updater.running:
                    await application.updater.stop()
                await application.stop()
                if application.post_stop is not None:
                    await application.post_stop(application)
    finally:
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)

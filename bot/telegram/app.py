"""Composition root: the one place that builds the PTB Application and wires Momento's parts together.

Resources (database, classifier, background clocks) are opened in ``post_init`` and closed in
``post_shutdown`` — the pattern of PTB's examples and its rules-bot — so nothing heavy happens at import.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import Any

from telegram import BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeChat, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, Defaults
from telegram.request import HTTPXRequest, RequestData

from bot import metrics
from bot.api.ingest import sync_configured_touchpoints
from bot.config import SUPPORTED_LANGUAGES, Settings, StartupError
from bot.conversation.wiring import build_cx_services
from bot.i18n import FALLBACK_LANGUAGE
from bot.outreach.pacing import ChatPacer
from bot.outreach.wire import WireJournal
from bot.telegram import admin, clock, common, private, retention, staff, themes
from bot.telegram.inbox import DurableUpdateQueue, InboxProcessor, replay_pending
from bot.telegram.menus import ADMIN_MENU, CUSTOMER_MENU, STAFF_MENU, MenuEntry
from bot.telegram.messenger import TelegramMessenger
from bot.telegram.services import CONTEXT_TYPES, MomentoApplication, Services, services
from bot.telegram.updates import TolerantApplicationBuilder
from sentiment import Classifier, open_classifier
from sentiment.detect import warm_up
from sentiment.e5 import PackedModelError
from storage.db import Database, SchemaError

log = logging.getLogger(__name__)


class _WireRequest(HTTPXRequest):
    """PTB's HTTP transport, noting each invitation the moment its request goes out (after the rate
    limiter's wait), so a restart knows which interrupted invitations never left (bot.outreach.wire)."""

    def __init__(self, journal: WireJournal | None) -> None:
        super().__init__(connection_pool_size=256)  # what ApplicationBuilder gives the bot by default
        self._journal = journal

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, *args: Any, **kwargs: Any
    ) -> tuple[int, bytes]:
        if self._journal is not None and request_data is not None and url.endswith("/sendMessage"):
            markup = request_data.json_parameters.get("reply_markup")
            if markup:
                try:
                    self._journal.record_markup(markup)
                except OSError as exc:
                    log.warning("wire journal not written (%s)", exc)
        status, payload = await super().do_request(url, method, request_data, *args, **kwargs)
        if status == 429:
            metrics.TELEGRAM_429.inc()
        return status, payload


def build_application(settings: Settings, *, classifier: Classifier | None = None) -> MomentoApplication:
    """The configured Application; pass *classifier* to reuse a loaded model (tests, demo)."""
    token = settings.require_token().get_secret_value()
    queue = DurableUpdateQueue()
    wire = WireJournal.beside(settings.storage.local_path)
    builder = (
        TolerantApplicationBuilder()
        .token(token)
        .base_url(settings.telegram.base_url)
        .base_file_url(settings.telegram.base_file_url)
        .defaults(
            Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True))
        )
        .rate_limiter(AIORateLimiter(max_retries=settings.telegram.max_retries))
        .request(_WireRequest(wire))
        .update_queue(queue)
        .concurrent_updates(InboxProcessor(queue))
        .context_types(CONTEXT_TYPES)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if settings.telegram.mode == "webhook":
        # Updates arrive through our own HTTP server (bot.api.server), not PTB's Updater.
        builder = builder.updater(None)
    application: MomentoApplication = builder.build()
    application.bot_data.settings = settings
    application.bot_data.lent_classifier = classifier
    application.bot_data.wire = wire
    _register_handlers(application)
    return application


def _register_handlers(application: MomentoApplication) -> None:
    # Feature modules register in order; the catch-all for unknown commands comes last.
    common.register(application)
    private.register(application)
    staff.register(application)
    admin.register(application)
    retention.register(application)
    themes.register(application)
    common.register_fallbacks(application)
    application.add_error_handler(common.on_error)


async def _post_init(application: MomentoApplication) -> None:
    settings = application.bot_data.settings
    assert settings is not None
    lent = application.bot_data.lent_classifier
    db = await _open_database(settings)
    try:
        if not await db.claim_bot_process():
            raise StartupError(
                f"another `momento run` is already using the database {settings.storage.describe()}: this "
                "version runs one bot process per database (docs/deploying.md); stop the other one first"
            )
        await sync_configured_touchpoints(db, settings)
        classifier = lent if lent is not None else await _open_model(settings)
        await asyncio.to_thread(warm_up, SUPPORTED_LANGUAGES)  # not on a customer's first message
    except BaseException:
        await db.close()
        raise
    messenger = TelegramMessenger(application.bot, ChatPacer(settings.telegram.per_chat_interval))
    cx = build_cx_services(db, settings, classifier, messenger)
    cx.outreach.wire = application.bot_data.wire
    application.bot_data.services = Services(settings, db, classifier, cx, owns_classifier=lent is None)
    queue = application.update_queue
    if isinstance(queue, DurableUpdateQueue):
        queue.attach(db)
        await replay_pending(queue, application.bot)
    clock.start_clock(application)
    await _set_command_menus(application, settings)


async def _open_database(settings: Settings) -> Database:
    """The database, or StartupError naming why not (locked by another process, newer than this Momento)."""
    path = settings.storage.describe()
    try:
        return await Database.open(
            settings.storage.target,
            password=settings.storage.password_value,
            local_path=settings.storage.local_path,
        )
    except SchemaError as exc:
        raise StartupError(str(exc)) from exc
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise StartupError(
                f"the database {path} is locked by another process (another `momento run`, or a tool "
                "holding a write transaction): stop it, then start again"
            ) from exc
        raise StartupError(f"cannot open the database {path} ({exc}): check storage.path") from exc
    except OSError as exc:
        raise StartupError(
            f"cannot open the database {path} ({exc.strerror or exc}): check storage.path and its permissions"
        ) from exc


async def _open_model(settings: Settings) -> Classifier:
    """The configured classifier, or StartupError naming the file that is missing or unreadable."""
    try:
        return await open_classifier(settings.sentiment)
    except PackedModelError as exc:
        raise StartupError(str(exc)) from exc
    except (OSError, ValueError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StartupError(
            f"the sentiment model could not be loaded ({detail}): check the [sentiment] paths "
            "(encoder_path, heads_path, adapter_path) or reinstall Momento"
        ) from exc


async def _post_shutdown(application: MomentoApplication) -> None:
    clock.stop_clock(application)
    found, application.bot_data.services = application.bot_data.services, None
    if found is None:
        return
    queue = application.update_queue
    if isinstance(queue, DurableUpdateQueue):
        queue.db = None
    await found.recovery.drain()
    await found.cx.webhooks.aclose()
    await found.cx.replies.flush()
    if found.owns_classifier:
        await found.classifier.aclose()
    await found.db.close()


def _commands(menu: tuple[MenuEntry, ...], language: str) -> list[BotCommand]:
    return [BotCommand(entry.command, entry.description(language)) for entry in menu]


async def _set_command_menus(application: MomentoApplication, settings: Settings) -> None:
    """Customers see their menu in private chats; staff and admins see theirs where they work."""
    bot = application.bot
    scopes: list[tuple[Any, tuple[MenuEntry, ...]]] = [(BotCommandScopeAllPrivateChats(), CUSTOMER_MENU)]
    if settings.telegram.staff_chat_id is not None:
        scopes.append((BotCommandScopeChat(settings.telegram.staff_chat_id), STAFF_MENU))
    scopes.extend((BotCommandScopeChat(admin), ADMIN_MENU) for admin in settings.telegram.admin_user_ids)
    for scope, menu in scopes:
        for language in SUPPORTED_LANGUAGES:
            try:
                # The English menu is also the one for every language the bot does not speak.
                code = None if language == FALLBACK_LANGUAGE else language
                await bot.set_my_commands(_commands(menu, language), scope=scope, language_code=code)
            except TelegramError as exc:
                # A staff chat the bot is not in yet must not stop the bot from serving customers.
                log.warning("could not set the command menu for %s: %s", scope, exc)


__all__ = ["MomentoApplication", "build_application", "services"]

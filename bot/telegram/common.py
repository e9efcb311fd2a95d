"""/help, the polite answer to unknown commands, and the error handler that keeps the bot alive."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.constants import ChatType
from telegram.error import Forbidden, TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.accounts.roles import is_staff
from bot.i18n import COMMON, pick_language, translate
from bot.telegram.services import MomentoApplication, MomentoContext

log = logging.getLogger(__name__)


def user_language(update: Update) -> str:
    user = update.effective_user
    return pick_language(user.language_code if user else None)


async def show_help(update: Update, context: MomentoContext) -> None:
    message = update.effective_message
    if message is None:
        return
    language = user_language(update)
    found = context.services
    user_id = update.effective_user.id if update.effective_user else None
    in_private = update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE
    parts = [translate(COMMON, "help", language)] if in_private else []
    if await is_staff(found.db, found.settings, user_id):
        parts.append(translate(COMMON, "staff_help", language))
    if parts:
        await message.reply_text("\n\n".join(parts))


async def unknown_command(update: Update, context: MomentoContext) -> None:
    message = update.effective_message
    if message is None or (update.effective_chat and update.effective_chat.type != ChatType.PRIVATE):
        # In group chats other bots' commands are none of our business.
        return
    await message.reply_text(translate(COMMON, "unknown_command", user_language(update)))


async def on_error(update: object, context: MomentoContext) -> None:
    """Log with enough context to debug, tell a private-chat user politely, and never re-raise."""
    error = context.error
    if isinstance(error, Forbidden):
        log.warning("Telegram refused a call (bot blocked or removed): %s", error)
        return
    description: dict[str, Any] = {}
    if isinstance(update, Update):
        description = {
            "update_id": update.update_id,
            "chat_id": update.effective_chat.id if update.effective_chat else None,
            "user_id": update.effective_user.id if update.effective_user else None,
            "kind": _update_kind(update),
        }
    log.error("error while handling an update %s", description, exc_info=error)
    if isinstance(update, Update) and update.callback_query is not None:
        # A press whose handler failed is still answered: the button must never spin.
        try:
            await update.callback_query.answer(translate(COMMON, "button_unknown", user_language(update)))
        except TelegramError as exc:
            log.debug("could not answer the failed press: %s", exc)
    if (
        isinstance(update, Update)
        and update.effective_chat is not None
        and update.effective_chat.type == ChatType.PRIVATE
        and not isinstance(error, TelegramError)
    ):
        try:
            await context.bot.send_message(
                update.effective_chat.id, translate(COMMON, "internal_error", user_language(update))
            )
        except TelegramError as exc:
            log.warning("could not tell the user about the error: %s", exc)


def _update_kind(update: Update) -> str:
    for kind in ("message", "edited_message", "callback_query", "my_chat_member", "channel_post"):
        if getattr(update, kind, None) is not None:
            return kind
    return "other"


def register(application: MomentoApplication) -> None:
    application.add_handler(CommandHandler("help", show_help))


async def unknown_press(update: Update, context: MomentoContext) -> None:
    """A button whose data no feature claims (an old bot's, a forged one): answered, so it never spins."""
    query = update.callback_query
    if query is not None:
        await query.answer(translate(COMMON, "button_unknown", user_language(update)))


def register_fallbacks(application: MomentoApplication) -> None:
    """Must be registered last: in group 0 they only see commands and presses no feature handled."""
    application.add_handler(MessageHandler(filters.COMMAND, unknown_command))
    application.add_handler(CallbackQueryHandler(unknown_press))

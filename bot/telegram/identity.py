"""Who the bot is on Telegram (its @username, for deep links printed by `momento link`)."""

from __future__ import annotations

from telegram import Bot
from telegram.error import TelegramError

from bot.config import Settings


class BotUnreachable(Exception):
    """Telegram did not tell us who the bot is (wrong token, no network)."""


async def bot_username(settings: Settings) -> str:
    """Raises ConfigError without a token, BotUnreachable when Telegram does not answer."""
    token = settings.require_token().get_secret_value()
    try:
        async with Bot(token, base_url=settings.telegram.base_url) as bot:
            return str(bot.username)
    except TelegramError as exc:
        raise BotUnreachable(str(exc)) from exc

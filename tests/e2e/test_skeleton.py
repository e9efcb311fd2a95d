"""The walking skeleton end to end: the real PTB Application polls the Bot API emulator over HTTP."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from telegram import Update
from telegram.error import InvalidToken
from telegram.ext import CommandHandler, ContextTypes

from bot.telegram.menus import ADMIN_MENU, CUSTOMER_MENU, STAFF_MENU
from tests.conftest import ADMIN_USER_ID, STAFF_CHAT_ID, AppRunner, SettingsFactory
from tests.fakes.bot_api import BotApiEmulator

pytestmark = pytest.mark.slow  # lends the real classifier to the Application


@pytest.fixture
async def started(running_app: AppRunner, settings_factory: SettingsFactory, classifier: Any) -> Any:
    return await running_app(settings_factory(), classifier=classifier)


@pytest.mark.parametrize(
    ("language", "command", "expected"),
    [
        ("en", "start", "Hi Ana! 👋 I'm Momento"),
        ("es", "start", "¡Hola, Ana! 👋 Soy Momento"),
        ("en", "help", "Here is what you can do"),
        ("es", "help", "Esto es lo que puedes hacer"),
        ("es-MX", "help", "Esto es lo que puedes hacer"),
        ("fr", "start", "Hi Ana!"),  # unsupported languages fall back to English
        ("en", "frobnicate", "Sorry, I don't know that command. Type /help"),
        ("es", "frobnicate", "Lo siento, no conozco ese comando"),
    ],
)
async def test_commands_answer_in_the_users_language(
    bot_api: BotApiEmulator, started: Any, language: str, command: str, expected: str
) -> None:
    ana = bot_api.user(42, "Ana", language_code=language)
    mark = len(bot_api.calls)
    ana.send_command(command)
    reply = await bot_api.wait_for_message(42, after=mark)
    assert expected in (reply.plain_text or "")


async def test_start_names_the_company_and_escapes_the_users_name(
    bot_api: BotApiEmulator, started: Any
) -> None:
    mark = len(bot_api.calls)
    bot_api.user(43, "<Bea & Co>").send_command("start")
    reply = await bot_api.wait_for_message(43, after=mark)
    # The emulator refuses unescaped HTML as Telegram does, so arriving at all proves the escaping.
    assert "Hi <Bea & Co>!" in (reply.plain_text or "")
    assert "help Momento listen" in (reply.plain_text or "")  # the company is the bot's name
    assert reply.params.get("parse_mode") == "HTML"
    assert reply.params.get("link_preview_options") == {"is_disabled": True}


async def test_a_429_is_ridden_out_by_the_rate_limiter(bot_api: BotApiEmulator, started: Any) -> None:
    bot_api.fail_next("sendMessage", status=429, retry_after=1, chat_id=42)
    mark = len(bot_api.calls)
    bot_api.user(42, "Ana").send_command("start")
    reply = await bot_api.wait_for_message(42, after=mark, timeout=15)
    assert "Hi Ana!" in (reply.plain_text or "")
    attempts = [call.status for call in bot_api.calls_of("sendMessage") if call.chat_id == 42]
    assert attempts == [429, 200]


async def test_a_user_who_blocked_the_bot_is_logged_and_others_are_still_served(
    bot_api: BotApiEmulator, started: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    bot_api.fail_next("sendMessage", status=403, chat_id=42)
    mark = len(bot_api.calls)
    bot_api.user(42, "Ana").send_command("start")
    refused = await bot_api.wait_for_call("sendMessage", lambda call: call.chat_id == 42, after=mark)
    assert refused.status == 403
    bot_api.user(44, "Carla").send_command("help")
    reply = await bot_api.wait_for_message(44, after=mark)
    assert "Here is what you can do" in (reply.plain_text or "")
    assert any("bot was blocked by the user" in record.getMessage() for record in caplog.records)
    # The refusal was a one-off: Ana is served again.
    mark = len(bot_api.calls)
    bot_api.user(42, "Ana").send_command("start")
    assert "Hi Ana!" in ((await bot_api.wait_for_message(42, after=mark)).plain_text or "")


async def test_a_failing_handler_gets_a_polite_answer_and_the_bot_lives_on(
    bot_api: BotApiEmulator, started: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        raise RuntimeError("database on fire")

    started.add_handler(CommandHandler("boom", broken), group=-1)
    mark = len(bot_api.calls)
    bot_api.user(45, "Dani", language_code="es").send_command("boom")
    apology = await bot_api.wait_for_message(45, after=mark)
    assert "algo ha fallado por nuestra parte" in (apology.plain_text or "")
    assert any(
        record.levelno == logging.ERROR and "'user_id': 45" in record.getMessage()
        for record in caplog.records
    )
    # Later handler groups still see the update (here the unknown-command fallback); the bot serves on.
    mark = len(bot_api.calls)
    bot_api.user(45, "Dani", language_code="es").send_command("start")
    await bot_api.wait_for_message(45, contains="¡Hola, Dani!", after=mark)


async def test_command_menus_are_set_for_customers_staff_and_admins(
    bot_api: BotApiEmulator, started: Any
) -> None:
    def names(scope: dict[str, Any], language: str = "") -> list[str]:
        return [entry["command"] for entry in bot_api.commands_for(scope, language)]

    private = {"type": "all_private_chats"}
    staff_chat = {"type": "chat", "chat_id": STAFF_CHAT_ID}
    admin_chat = {"type": "chat", "chat_id": ADMIN_USER_ID}
    assert names(private) == names(private, "es") == [entry.command for entry in CUSTOMER_MENU]
    assert names(staff_chat) == [entry.command for entry in STAFF_MENU]
    assert names(admin_chat) == [entry.command for entry in ADMIN_MENU]
    assert "summary" not in names(private)
    spanish = {entry["command"]: entry["description"] for entry in bot_api.commands_for(private, "es")}
    assert spanish["start"] == "Empezar o reiniciar"


async def test_a_wrong_token_is_refused_at_start_up(
    bot_api: BotApiEmulator, running_app: AppRunner, settings_factory: SettingsFactory, classifier: Any
) -> None:
    with pytest.raises(InvalidToken):
        await running_app(settings_factory(telegram={"token": "999:WRONG"}), classifier=classifier)
    assert [call.status for call in bot_api.calls] == [401]
    assert not running_app.running


async def test_a_restart_on_the_same_database_serves_again(
    bot_api: BotApiEmulator, running_app: AppRunner, settings_factory: SettingsFactory, classifier: Any
) -> None:
    settings = settings_factory()
    first = await running_app(settings, classifier=classifier)
    mark = len(bot_api.calls)
    bot_api.user(42, "Ana").send_command("start")
    await bot_api.wait_for_message(42, contains="Hi Ana!", after=mark)
    await running_app.stop(first)
    await running_app(settings, classifier=classifier)
    mark = len(bot_api.calls)
    bot_api.user(42, "Ana").send_command("help")
    await bot_api.wait_for_message(42, contains="Here is what you can do", after=mark)
    # The update handled before the restart was confirmed, so the new instance does not answer it again.
    shown = [call.plain_text[:7] for call in bot_api.messages_to(42) if call.plain_text]
    assert shown == ["Hi Ana!", "Here is"]

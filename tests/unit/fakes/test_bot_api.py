"""The Bot API emulator behaves like Telegram where PTB (and so the bot) would notice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from tests.fakes.bot_api import BotApiEmulator
from tests.fakes.emulated_user import TINY_PNG


@pytest.fixture
async def bot(bot_api: BotApiEmulator) -> AsyncIterator[Bot]:
    """A plain PTB Bot talking to the emulator: the same HTTP client the Application uses."""
    client = Bot(bot_api.token, base_url=bot_api.base_url, base_file_url=bot_api.base_file_url)
    async with client:
        yield client


async def raw(bot_api: BotApiEmulator, method: str, token: str | None = None, **data: Any) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(f"{bot_api.url}/bot{token or bot_api.token}/{method}", data=data)


async def updates(bot: Bot, **kwargs: Any) -> tuple[Update, ...]:
    return await bot.get_updates(**kwargs)


async def poll_in_flight(bot_api: BotApiEmulator) -> None:
    """Until the emulator holds a long poll open (a guard, not a timing assertion)."""
    for _ in range(500):
        if bot_api.waiting_polls:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no long poll arrived")


# ------------------------------------------------------------------------------------------------ identity


async def test_get_me_names_the_bot(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot
    assert me.username == "momento_test_bot"
    assert bot.username == "momento_test_bot"


async def test_a_wrong_token_is_refused_at_initialize(bot_api: BotApiEmulator) -> None:
    wrong = Bot("999:WRONG", base_url=bot_api.base_url)
    with pytest.raises(InvalidToken):
        await wrong.initialize()
    answer = await raw(bot_api, "sendMessage", token="999:WRONG", chat_id="1", text="x")
    assert answer.status_code == 401
    assert answer.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_an_unknown_method_is_404_in_the_bot_api_envelope(bot_api: BotApiEmulator) -> None:
    answer = await raw(bot_api, "sendTelepathy", chat_id="1")
    assert answer.status_code == 404
    assert answer.json() == {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
    assert bot_api.calls_of("sendTelepathy")[0].status == 404


# ----------------------------------------------------------------------------------------------- long poll


async def test_a_waiting_poll_wakes_when_a_user_writes(bot_api: BotApiEmulator, bot: Bot) -> None:
    poll = asyncio.create_task(updates(bot, timeout=20))
    await poll_in_flight(bot_api)
    bot_api.user(42).send_text("hello")
    received = await asyncio.wait_for(poll, 10)  # the guard only; the long poll itself would take 20 s
    assert [update.message.text for update in received if update.message] == ["hello"]


async def test_offset_confirms_and_drops_older_updates(bot_api: BotApiEmulator, bot: Bot) -> None:
    ana = bot_api.user(42)
    ana.send_text("one")
    ana.send_text("two")
    first = await updates(bot)
    assert [u.message.text for u in first if u.message] == ["one", "two"]
    again = await updates(bot, offset=first[1].update_id)
    assert [u.message.text for u in again if u.message] == ["two"]
    assert await updates(bot, offset=first[1].update_id + 1) == ()
    assert await updates(bot, offset=0) == ()  # confirmed updates are gone for good


async def test_a_poll_without_updates_ends_empty_at_its_timeout(bot: Bot) -> None:
    assert await updates(bot, timeout=1) == ()


async def test_stop_releases_a_waiting_poll(bot_api: BotApiEmulator, bot: Bot) -> None:
    poll = asyncio.create_task(updates(bot, timeout=30))
    await poll_in_flight(bot_api)
    await bot_api.stop()
    assert await asyncio.wait_for(poll, 5) == ()


async def test_a_newer_poll_terminates_the_older_with_conflict(bot_api: BotApiEmulator, bot: Bot) -> None:
    older = asyncio.create_task(updates(bot, timeout=20))
    await poll_in_flight(bot_api)
    async with Bot(bot_api.token, base_url=bot_api.base_url) as second_instance:
        newer = asyncio.create_task(updates(second_instance, timeout=1))
        with pytest.raises(Conflict, match=r"(?i)only one bot instance"):
            await asyncio.wait_for(older, 10)
        assert await newer == ()


# ------------------------------------------------------------------------------------------------- sending


async def test_form_fields_are_decoded_and_the_message_is_realistic(
    bot_api: BotApiEmulator, bot: Bot
) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="vote:yes")]])
    first = await bot.send_message(42, "<b>Hi</b> &amp; welcome", parse_mode="HTML", reply_markup=keyboard)
    second = await bot.send_message(42, "again")
    call = bot_api.calls_of("sendMessage")[0]
    assert call.params["chat_id"] == 42
    assert call.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "Yes", "callback_data": "vote:yes"}]]
    }
    assert call.text == "<b>Hi</b> &amp; welcome"
    assert call.plain_text == first.text == "Hi & welcome"
    assert first.entities[0].type == "bold" and (first.entities[0].offset, first.entities[0].length) == (0, 2)
    assert first.from_user is not None and first.from_user.is_bot
    assert first.reply_markup == keyboard
    assert second.message_id == first.message_id + 1
    assert [c.plain_text for c in bot_api.messages_to(42)] == ["Hi & welcome", "again"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1 < 2", 'Unsupported start tag ""'),
        ("Ana wrote <script>", 'Unsupported start tag "script"'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", "Unmatched end tag"),
    ],
)
async def test_unescaped_html_is_refused_like_telegram(bot: Bot, text: str, reason: str) -> None:
    with pytest.raises(BadRequest, match=r"(?i)parse entities") as refused:
        await bot.send_message(42, text, parse_mode="HTML")
    assert reason.lower() in str(refused.value).lower()


async def test_telegram_limits_are_enforced(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)too long"):
        await bot.send_message(42, "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)empty"):
        await bot.send_message(42, " ")
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(42, "pick", reply_markup=too_long)


async def test_uploads_keep_their_bytes_and_file_name(bot_api: BotApiEmulator, bot: Bot) -> None:
    sent = await bot.send_document(
        -100100, b"touchpoint,csat\nsupport,0.8\n", filename="export.csv", caption="Export"
    )
    await bot.send_photo(-100100, TINY_PNG, caption="<i>chart</i>", parse_mode="HTML")
    document_call = bot_api.calls_of("sendDocument")[0]
    assert document_call.files["document"] == b"touchpoint,csat\nsupport,0.8\n"
    assert document_call.filenames["document"] == "export.csv"
    assert sent.document is not None and sent.document.file_name == "export.csv"
    assert sent.document.mime_type == "text/csv"
    assert bot_api.calls_of("sendPhoto")[0].files["photo"] == TINY_PNG
    assert [c.plain_text for c in bot_api.messages_to(-100100)] == ["Export", "chart"]


async def test_edits_change_the_message_and_refuse_no_op_edits(bot_api: BotApiEmulator, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="y")]])
    sent = await bot.send_message(42, "Question?", reply_markup=keyboard)
    edited = await bot.edit_message_text("Thanks!", chat_id=42, message_id=sent.message_id)
    assert not isinstance(edited, bool)
    assert edited.text == "Thanks!" and edited.reply_markup is None  # no markup given: keyboard removed
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_text("Thanks!", chat_id=42, message_id=sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_reply_markup(chat_id=42, message_id=999, reply_markup=keyboard)
    assert [c.method for c in bot_api.messages_to(42)] == ["sendMessage", "editMessageText"]


async def test_command_menus_are_stored_per_scope_and_language(bot_api: BotApiEmulator, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("start", "Start")], scope=BotCommandScopeAllPrivateChats())
    await bot.set_my_commands(
        [BotCommand("start", "Empezar")], scope=BotCommandScopeAllPrivateChats(), language_code="es"
    )
    assert bot_api.commands_for({"type": "all_private_chats"}) == [
        {"command": "start", "description": "Start"}
    ]
    assert bot_api.commands_for({"type": "all_private_chats"}, "es")[0]["description"] == "Empezar"
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Not-Valid", "x")])


# --------------------------------------------------------------------------------------------------- users


async def test_users_produce_updates_ptb_understands(bot_api: BotApiEmulator, bot: Bot) -> None:
    ana = bot_api.user(42, "Ana", language_code="es", username="ana")
    ana.send_command("start", "abc")
    ana.send_sticker()
    ana.send_photo(caption="the box")
    ana.send_voice()
    ana.send_document()
    ana.send_location()
    staff = bot_api.user(900, "Bea")
    staff.send_command("summary", chat_id=-100100, at_bot=True)
    got = await updates(bot)
    messages = [u.message for u in got if u.message]
    start = messages[0]
    assert (
        start.text == "/start abc" and start.from_user is not None and start.from_user.language_code == "es"
    )
    assert start.chat.type == "private" and start.chat.id == 42
    assert start.entities[0].type == "bot_command" and start.entities[0].length == len("/start")
    assert messages[1].sticker is not None
    assert messages[2].photo and messages[2].caption == "the box"
    assert messages[3].voice is not None
    assert messages[4].document is not None
    assert messages[5].location is not None
    assert messages[6].chat.type != "private" and messages[6].text == "/summary@momento_test_bot"
    assert [m.message_id for m in messages[:6]] == [1, 2, 3, 4, 5, 6]


async def test_a_button_press_is_a_callback_query_answered_once(bot_api: BotApiEmulator, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("5", callback_data="rate:5")]])
    sent = await bot.send_message(42, "Rate us", reply_markup=keyboard)
    ana = bot_api.user(42)
    with pytest.raises(ValueError, match="no button"):
        ana.press("rate:1", message_id=sent.message_id)
    query_id = ana.press("rate:5", message_id=sent.message_id)
    (update,) = await updates(bot)
    assert update.callback_query is not None
    assert update.callback_query.id == query_id and update.callback_query.data == "rate:5"
    assert update.callback_query.message is not None
    assert update.callback_query.message.message_id == sent.message_id
    assert await bot.answer_callback_query(query_id, "Thanks")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query_id)


async def test_an_edit_by_the_user_is_an_edited_message(bot_api: BotApiEmulator, bot: Bot) -> None:
    ana = bot_api.user(42)
    message_id = ana.send_text("the delivery was lat")
    ana.edit_text(message_id, "the delivery was late")
    got = await updates(bot)
    edited = got[-1].edited_message
    assert edited is not None and edited.message_id == message_id and edited.text == "the delivery was late"


async def test_a_user_who_blocks_the_bot_answers_403(bot_api: BotApiEmulator, bot: Bot) -> None:
    ana = bot_api.user(42)
    ana.block_bot()
    (update,) = await updates(bot)
    assert update.my_chat_member is not None and update.my_chat_member.new_chat_member.status == "kicked"
    with pytest.raises(Forbidden, match=r"(?i)blocked"):
        await bot.send_message(42, "still there?")
    ana.unblock_bot()
    assert (await bot.send_message(42, "welcome back")).text == "welcome back"


async def test_files_sent_by_users_can_be_downloaded(bot_api: BotApiEmulator, bot: Bot) -> None:
    bot_api.user(42).send_photo()
    (update,) = await updates(bot)
    assert update.message is not None
    telegram_file = await bot.get_file(update.message.photo[-1].file_id)
    assert bytes(await telegram_file.download_as_bytearray()) == TINY_PNG


# -------------------------------------------------------------------------------------------------- faults


async def test_injected_faults_map_to_ptb_errors_then_clear(bot_api: BotApiEmulator, bot: Bot) -> None:
    bot_api.fail_next("sendMessage", status=429, retry_after=3)
    with pytest.raises(RetryAfter) as limited:
        await bot.send_message(42, "a")
    assert limited.value.retry_after in (3, timedelta(seconds=3))
    bot_api.fail_next("sendMessage", status=403)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(42, "b")
    bot_api.fail_next("sendMessage", status=400, description="Bad Request: chat not found")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(42, "c")
    bot_api.fail_next("sendMessage", status=500, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError):
            await bot.send_message(42, "d")
    assert (await bot.send_message(42, "e")).text == "e"
    assert [c.status for c in bot_api.calls_of("sendMessage")] == [429, 403, 400, 500, 500, 200]
    assert [c.plain_text for c in bot_api.messages_to(42)] == ["e"]


async def test_a_fault_can_target_one_chat(bot_api: BotApiEmulator, bot: Bot) -> None:
    bot_api.fail_next("sendMessage", status=403, chat_id=7)
    assert (await bot.send_message(42, "fine")).text == "fine"
    with pytest.raises(Forbidden):
        await bot.send_message(7, "refused")


async def test_a_late_answer_times_the_client_out(bot_api: BotApiEmulator) -> None:
    impatient = Bot(bot_api.token, base_url=bot_api.base_url, request=HTTPXRequest(read_timeout=0.2))
    async with impatient:
        bot_api.delay_next("sendMessage", 2.0)
        with pytest.raises(TimedOut):
            await impatient.send_message(42, "slow")
        assert (await impatient.send_message(42, "fast")).text == "fast"


async def test_a_message_handled_first_lands_even_when_its_answer_times_the_client_out(
    bot_api: BotApiEmulator,
) -> None:
    impatient = Bot(bot_api.token, base_url=bot_api.base_url, request=HTTPXRequest(read_timeout=0.2))
    async with impatient:
        bot_api.delay_next("sendMessage", 2.0, handled_first=True)
        with pytest.raises(TimedOut):
            await impatient.send_message(42, "did it arrive?")
    assert [m.plain_text for m in bot_api.messages_to(42)] == ["did it arrive?"]


async def test_wait_for_call_finds_the_next_match_or_says_what_it_saw(
    bot_api: BotApiEmulator, bot: Bot
) -> None:
    await bot.send_message(42, "old")
    mark = len(bot_api.calls)
    later = asyncio.create_task(bot_api.wait_for_message(42, contains="new", after=mark))
    await bot.send_message(42, "new one")
    assert (await later).plain_text == "new one"
    with pytest.raises(TimeoutError, match="sendMessage"):
        await bot_api.wait_for_call("sendPhoto", timeout=0.2, after=0)


# ------------------------------------------------------------------------------------------------- webhook


async def test_a_set_webhook_receives_updates_and_blocks_polling(bot_api: BotApiEmulator, bot: Bot) -> None:
    received: list[tuple[dict[str, Any], str | None]] = []

    async def webhook(request: web.Request) -> web.Response:
        received.append((await request.json(), request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        return web.Response()

    app = web.Application()
    app.router.add_post("/telegram", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        await bot.set_webhook(f"http://127.0.0.1:{port}/telegram", secret_token="s3cret")
        with pytest.raises(Conflict, match=r"(?i)webhook is active"):
            await bot.get_updates()
        bot_api.user(42).send_text("via webhook")
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.05)
        (update, secret), *_ = received
        assert update["message"]["text"] == "via webhook" and secret == "s3cret"
        assert await bot.delete_webhook()
        assert await updates(bot) == ()  # delivered updates are not offered again
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("source", "text", "entities"),
    [
        ("<b>a <i>b</i></b> 😀<u>x</u>", "a b 😀x", [("bold", 0, 3), ("italic", 2, 1), ("underline", 6, 1)]),
        ("Tom &amp; Jerry &#128512; &nbsp; 1 > 0", "Tom & Jerry 😀 &nbsp; 1 > 0", []),
        ('<pre><code class="language-python">x &lt; 1</code></pre>', "x < 1", [("pre", 0, 5)]),
        ('<a href="https://x.example/?a=1&amp;b=2">here</a>', "here", [("text_link", 0, 4)]),
    ],
)
async def test_html_becomes_the_text_and_entities_telegram_shows(
    bot: Bot, source: str, text: str, entities: list[tuple[str, int, int]]
) -> None:
    sent = await bot.send_message(42, source, parse_mode="HTML")
    assert sent.text == text
    assert [(entity.type, entity.offset, entity.length) for entity in sent.entities] == entities
    if sent.entities and sent.entities[0].type == "pre":
        assert sent.entities[0].language == "python"
    if sent.entities and sent.entities[0].type == "text_link":
        assert sent.entities[0].url == "https://x.example/?a=1&b=2"

"""A Telegram Bot API emulator on 127.0.0.1, so the real PTB Application can be tested end to end offline.

In tests (see the ``bot_api`` fixture in tests/conftest.py)::

    emu = BotApiEmulator()            # token "123456:TEST"
    await emu.start()                 # ApplicationBuilder().base_url(emu.base_url).base_file_url(...)
    ana = emu.user(42, "Ana", language_code="es")
    after = len(emu.calls)
    ana.send_command("start")
    reply = await emu.wait_for_message(42, after=after)   # or wait_for_call("sendMessage", ...)
    emu.fail_next("sendMessage", status=429, retry_after=1)      # also 403, 400, 500; chat_id=, delay=
    emu.delay_next("sendMessage", 2.0)                            # answer late (handled_first=True:
                                                                  # the message lands, only the answer lags)
    ana.press("rate:5", message_id=reply.message_id)             # a callback query on the bot's message
    ana.block_bot()                                               # my_chat_member, then 403 on every send
    emu.users[42]; emu.group_chat(-100100, "CX team"); emu.commands_for({"type": "all_private_chats"})

RecordedCall has helpers: ok, chat_id, text (as sent, HTML), plain_text (as shown), message_id,
reply_markup, buttons(), button_data(), button_texts(). messages_to() and wait_for_message() only see
successful sends and edits (what the chat shows); calls and wait_for_call() see every attempt.

It behaves like Telegram where a bot could notice: getUpdates is a real long poll (offset confirms,
timeout, wakes on a new update, a newer poll terminates an older one with 409), HTML parse mode is parsed
as strictly as Telegram does (``1 < 2`` unescaped is a 400), text and caption limits, callback data of at
most 64 bytes, "message is not modified", unknown callback query ids, a wrong token is 401 on every method,
an unknown method 404. Every call is recorded (``calls``), successful or not. A set webhook receives the
updates by POST (with X-Telegram-Bot-Api-Secret-Token) and getUpdates then answers 409, as on Telegram.

Standalone, to try ``momento run`` by hand::

    python -m tests.fakes.bot_api --port 8081          # prints the URLs and the env lines to use
    MOMENTO_TELEGRAM__TOKEN=123456:TEST \\
    MOMENTO_TELEGRAM__BASE_URL=http://127.0.0.1:8081/bot \\
    MOMENTO_TELEGRAM__BASE_FILE_URL=http://127.0.0.1:8081/file/bot momento --config config.example.toml run

then type lines into the emulator's terminal, one per message, as ``<user_id> <text>``::

    42 /start                 # user 42 sends a command (language from --language, default en)
    42 the delivery was late  # plain text
    42 !press <callback_data> <message_id>     # press an inline button
    42 !sticker | !photo | !voice | !location  # non-text messages

Every Bot API call is logged, and what the bot sends is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import mimetypes
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

from tests.fakes.emulated_user import EmulatedUser
from tests.fakes.telegram_html import HtmlParseError, parse_html, utf16_len

__all__ = ["BotApiEmulator", "EmulatedUser", "RecordedCall", "WebhookDelivery"]

log = logging.getLogger("tests.fakes.bot_api")

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
# Methods whose successful result is a message shown in a chat (what messages_to() returns).
MESSAGE_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "forwardMessage",
        "copyMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "editMessageCaption",
    }
)
# Parameters that stay strings; PTB JSON-encodes every other non-string value into the form.
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "url",
        "secret_token",
        "action",
        "language_code",
        "title",
        "description",
        "short_description",
        "name",
        "emoji",
        "inline_message_id",
        "file_id",
        "photo",
        "document",
        "voice",
        "audio",
        "video",
        "animation",
        "sticker",
        "thumbnail",
        "first_name",
        "last_name",
        "phone_number",
        "question",
        "explanation",
        "payload",
        "currency",
        "address",
        "business_connection_id",
        "message_effect_id",
        "ip_address",
        "certificate",
        "custom_title",
    }
)
_DEFAULT_ALLOWED = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
_FAULT_DESCRIPTIONS = {
    400: "Bad Request: injected failure",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")


@dataclass
class RecordedCall:
    """One Bot API request as the emulator saw it, with the envelope it answered."""

    method: str
    params: dict[str, Any]  # form / multipart / JSON fields, JSON-encoded values decoded (ints are ints)
    files: dict[str, bytes]  # uploaded parts by field name
    at: float  # time.monotonic() when answered
    response: dict[str, Any]  # the Bot API envelope: {"ok": true, "result": ...} or the error
    status: int = 200
    filenames: dict[str, str] = field(default_factory=dict)  # uploaded file names by field name

    @property
    def ok(self) -> bool:
        return self.response.get("ok") is True

    @property
    def chat_id(self) -> Any:
        return self.params.get("chat_id")

    @property
    def text(self) -> str | None:
        """The text or caption exactly as the bot sent it (HTML tags included)."""
        value = self.params.get("text", self.params.get("caption"))
        return None if value is None else str(value)

    @property
    def plain_text(self) -> str | None:
        """The text or caption as the user sees it (tags stripped, entities decoded); None if it failed."""
        result = self.response.get("result")
        if isinstance(result, dict):
            value = result.get("text", result.get("caption"))
            return None if value is None else str(value)
        return None

    @property
    def message_id(self) -> int | None:
        result = self.response.get("result")
        if isinstance(result, dict) and "message_id" in result:
            return int(result["message_id"])
        found = self.params.get("message_id")
        return found if isinstance(found, int) else None

    @property
    def reply_markup(self) -> dict[str, Any] | None:
        markup = self.params.get("reply_markup")
        return markup if isinstance(markup, dict) else None

    def buttons(self) -> list[dict[str, Any]]:
        """The inline keyboard's buttons, row after row."""
        markup = self.reply_markup or {}
        return [button for row in markup.get("inline_keyboard", []) for button in row]

    def button_data(self) -> list[str]:
        return [str(button["callback_data"]) for button in self.buttons() if "callback_data" in button]

    def button_texts(self) -> list[str]:
        return [str(button.get("text", "")) for button in self.buttons()]


@dataclass
class WebhookDelivery:
    update_id: int
    status: int  # HTTP status the bot's webhook answered, 0 when it could not be reached
    at: float


@dataclass
class _Fault:
    method: str
    remaining: int
    status: int
    retry_after: int
    description: str | None
    delay: float
    chat_id: int | None


@dataclass
class _Delay:
    method: str
    remaining: int
    seconds: float
    handled_first: bool = False


class ApiError(Exception):
    """A Bot API error answer (``{"ok": false, ...}``) raised inside a method implementation."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def envelope(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


class BotApiEmulator:
    """The fake Telegram: serves the Bot API over HTTP and lets a test act as Telegram users."""

    def __init__(
        self,
        token: str = "123456:TEST",
        *,
        bot_username: str = "momento_test_bot",
        bot_first_name: str = "Momento",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 123456
        self.host = host
        self.port = port
        self.url = ""
        self.base_url = ""
        self.base_file_url = ""
        self.calls: list[RecordedCall] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        # Commands per (scope as canonical JSON, language_code); what setMyCommands stored.
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.on_call: list[Callable[[RecordedCall], None]] = []
        self.users: dict[int, EmulatedUser] = {}  # by user id, as created by user()
        self._users = self.users  # old name, kept for tests written against it
        self._chats: dict[int, dict[str, Any]] = {}
        self._blocked: set[int] = set()
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._next_message_id: dict[int, int] = {}
        self._pending: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._open_callbacks: set[str] = set()
        self._files: dict[str, tuple[bytes, str]] = {}  # file_id -> (content, file name)
        self._allowed_updates: frozenset[str] = _DEFAULT_ALLOWED
        self._faults: list[_Fault] = []
        self._delays: list[_Delay] = []
        self._update_event = asyncio.Event()
        self._call_event = asyncio.Event()
        self._poll_generation = 0
        self.waiting_polls = 0  # getUpdates calls held open right now
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None
        self._delivery_task: asyncio.Task[None] | None = None
        self._methods: dict[str, Callable[[dict[str, Any], dict[str, bytes], dict[str, str]], Any]] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "editmessagecaption": self._edit_message_caption,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "sendphoto": self._send_photo,
            "senddocument": self._send_document,
            "forwardmessage": self._forward_message,
            "copymessage": self._copy_message,
            "sendchataction": self._true,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "getchat": self._get_chat,
            "getchatmember": self._get_chat_member,
            "getfile": self._get_file,
            "close": self._true,
            "logout": self._true,
        }

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        site = web.SockSite(self._runner, sock)
        await site.start()
        self.port = sock.getsockname()[1]
        self.url = f"http://{self.host}:{self.port}"
        self.base_url = f"{self.url}/bot"
        self.base_file_url = f"{self.url}/file/bot"
        self._closing = False

    async def stop(self) -> None:
        """Release waiting long polls first, so the server shuts down at once."""
        self._closing = True
        self._wake_polls()
        await asyncio.sleep(0)
        if self._delivery_task is not None:
            self._delivery_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivery_task
            self._delivery_task = None
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ----------------------------------------------------------------- acting as Telegram

    def user(
        self,
        user_id: int,
        first_name: str = "Ana",
        *,
        language_code: str | None = "en",
        username: str | None = None,
        last_name: str | None = None,
    ) -> EmulatedUser:
        """A Telegram user who can write to the bot (private chat id = user id)."""
        found = EmulatedUser(
            self, user_id, first_name, language_code=language_code, username=username, last_name=last_name
        )
        self._users[user_id] = found
        return found

    def group_chat(
        self, chat_id: int, title: str = "Staff", *, chat_type: str = "supergroup"
    ) -> dict[str, Any]:
        """Name a group chat (e.g. the staff chat); unnamed negative ids are groups titled 'Chat <id>'."""
        chat = {"id": chat_id, "type": chat_type, "title": title}
        self._chats[chat_id] = chat
        return chat

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue a raw update (update_id assigned) for getUpdates or the webhook; returns its update_id."""
        update = {key: value for key, value in update.items() if key != "update_id"}
        update_id = next(self._update_ids)
        self._pending.append({"update_id": update_id, **update})
        self._wake_polls()
        if self.webhook_url is not None:
            self._ensure_delivery()
        return update_id

    def block_chat(self, chat_id: int) -> None:
        """From now on every call to this chat answers 403, as when a user blocked the bot."""
        self._blocked.add(chat_id)

    def unblock_chat(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

    # ----------------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str,
        *,
        times: int = 1,
        status: int = 429,
        retry_after: int = 1,
        description: str | None = None,
        delay: float = 0.0,
        chat_id: int | None = None,
    ) -> None:
        """The next *times* calls of *method* (to *chat_id* if given) fail with *status*, after *delay* s."""
        self._faults.append(_Fault(method, times, status, retry_after, description, delay, chat_id))

    def delay_next(self, method: str, seconds: float, *, times: int = 1, handled_first: bool = False) -> None:
        """The next *times* calls of *method* are answered *seconds* late: handled after the wait, or with
        *handled_first* handled and recorded at once (Telegram has the message; only its answer is slow,
        and it stands even if the client gives up waiting)."""
        self._delays.append(_Delay(method, times, seconds, handled_first))

    # ----------------------------------------------------------------- inspecting calls

    def calls_of(self, method: str) -> list[RecordedCall]:
        return [call for call in self.calls if call.method == method]

    def messages_to(self, chat_id: int) -> list[RecordedCall]:
        """Successful sends and edits to *chat_id*: what that chat actually shows, in order."""
        return [
            call
            for call in self.calls
            if call.method in MESSAGE_METHODS and call.ok and call.params.get("chat_id") == chat_id
        ]

    async def wait_for_call(
        self,
        method: str | None = None,
        predicate: Callable[[RecordedCall], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 (the agreed API)
        *,
        after: int = 0,
    ) -> RecordedCall:
        """First call with index >= *after* matching *method* and *predicate*; TimeoutError otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        index = after
        while True:
            while index < len(self.calls):
                call = self.calls[index]
                index += 1
                if (method is None or call.method == method) and (predicate is None or predicate(call)):
                    return call
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = [
                    f"{call.method}({call.params.get('chat_id', '')})->{call.status}"
                    for call in self.calls[after:]
                    if call.method != "getUpdates"
                ]
                raise TimeoutError(
                    f"no {method or 'call'} matching within {timeout}s; calls since #{after}: {seen[-15:]}"
                )
            event = self._call_event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def wait_for_message(
        self,
        chat_id: int,
        *,
        contains: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 (the agreed API)
        after: int = 0,
    ) -> RecordedCall:
        """The next successful send or edit to *chat_id* (whose visible text contains *contains*)."""

        def matches(call: RecordedCall) -> bool:
            if call.method not in MESSAGE_METHODS or not call.ok or call.params.get("chat_id") != chat_id:
                return False
            return contains is None or contains in (call.plain_text or "")

        return await self.wait_for_call(None, matches, timeout, after=after)

    def commands_for(self, scope: dict[str, Any], language_code: str = "") -> list[dict[str, Any]]:
        """The command menu setMyCommands stored for *scope* (e.g. {"type": "all_private_chats"})."""
        return self.commands.get((_canonical(scope), language_code), [])

    def file_content(self, file_id: str) -> bytes:
        return self._files[file_id][0]

    # ----------------------------------------------------------------- used by EmulatedUser

    def _new_message_id(self, chat_id: int) -> int:
        value = self._next_message_id.get(chat_id, 0) + 1
        self._next_message_id[chat_id] = value
        return value

    def _store_message(self, message: dict[str, Any]) -> None:
        self._messages[(int(message["chat"]["id"]), int(message["message_id"]))] = message

    def _message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        return self._messages.get((chat_id, message_id))

    def _open_callback(self) -> str:
        callback_id = str(next(self._callback_ids))
        self._open_callbacks.add(callback_id)
        return callback_id

    def _new_file(self, content: bytes, file_name: str) -> str:
        file_id = f"FILE{next(self._file_ids):06d}"
        self._files[file_id] = (content, file_name)
        return file_id

    def _chat(self, chat_id: int) -> dict[str, Any]:
        if chat_id in self._chats:
            return dict(self._chats[chat_id])
        if chat_id > 0:
            user = self._users.get(chat_id)
            chat: dict[str, Any] = {"id": chat_id, "type": "private"}
            chat["first_name"] = user.first_name if user else f"User {chat_id}"
            if user and user.username:
                chat["username"] = user.username
            if user and user.last_name:
                chat["last_name"] = user.last_name
            return chat
        kind = "supergroup" if str(chat_id).startswith("-100") and chat_id < -(10**12) else "group"
        return {"id": chat_id, "type": kind, "title": f"Chat {chat_id}"}

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    # ----------------------------------------------------------------- HTTP plumbing

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params, files, filenames = await _read_params(request)
        delay = self._take_delay(method)
        if delay is not None and not delay.handled_first:
            await asyncio.sleep(delay.seconds)
        status = 200
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            fault = self._take_fault(method, params)
            if fault is not None:
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                raise _fault_error(fault)
            implementation = self._methods.get(method.lower())
            if implementation is None:
                raise ApiError(404, "Not Found: method not found")
            chat_id = params.get("chat_id")
            if isinstance(chat_id, int) and chat_id in self._blocked and method.lower() != "getchat":
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            result = implementation(params, files, filenames)
            if asyncio.iscoroutine(result):
                result = await result
            body: dict[str, Any] = {"ok": True, "result": result}
        except ApiError as exc:
            status = exc.status
            body = exc.envelope()
        self._record(RecordedCall(method, params, files, time.monotonic(), body, status, filenames))
        if delay is not None and delay.handled_first:
            await asyncio.sleep(delay.seconds)
        return web.json_response(body, status=status)

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        file_id = request.match_info["path"].rsplit("/", 1)[-1]
        if file_id not in self._files:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        return web.Response(body=self._files[file_id][0])

    def _record(self, call: RecordedCall) -> None:
        self.calls.append(call)
        if call.method != "getUpdates" or call.response.get("result"):
            log.info("%s %s -> %s", call.method, _brief(call.params), call.status)
        for listener in self.on_call:
            listener(call)
        event, self._call_event = self._call_event, asyncio.Event()
        event.set()

    def _wake_polls(self) -> None:
        event, self._update_event = self._update_event, asyncio.Event()
        event.set()

    def _take_delay(self, method: str) -> _Delay | None:
        for delay in self._delays:
            if delay.method == method and delay.remaining > 0:
                delay.remaining -= 1
                return delay
        return None

    def _take_fault(self, method: str, params: dict[str, Any]) -> _Fault | None:
        for fault in self._faults:
            if fault.method != method or fault.remaining <= 0:
                continue
            if fault.chat_id is not None and params.get("chat_id") != fault.chat_id:
                continue
            fault.remaining -= 1
            return fault
        return None

    # ----------------------------------------------------------------- updates

    async def _get_updates(
        self, params: dict[str, Any], files: dict[str, bytes], filenames: dict[str, str]
    ) -> list[dict[str, Any]]:
        if self.webhook_url is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _as_int(params.get("offset", 0), "offset")
        limit = max(1, min(100, _as_int(params.get("limit", 100), "limit")))
        timeout = max(0, _as_int(params.get("timeout", 0), "timeout"))
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) if allowed else _DEFAULT_ALLOWED
        self._confirm(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_polls()  # an older poll still waiting is terminated (409), as on Telegram
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, _FAULT_DESCRIPTIONS[409])
            ready = [update for update in self._pending if self._is_allowed(update)][:limit]
            if ready or self._closing:
                return ready
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            event = self._update_event
            self.waiting_polls += 1
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
            finally:
                self.waiting_polls -= 1

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._pending = [update for update in self._pending if update["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]

    def _is_allowed(self, update: dict[str, Any]) -> bool:
        kinds = [key for key in update if key != "update_id"]
        return bool(kinds) and kinds[0] in self._allowed_updates

    def _ensure_delivery(self) -> None:
        if self._delivery_task is None or self._delivery_task.done():
            self._delivery_task = asyncio.get_running_loop().create_task(self._deliver())

    async def _deliver(self) -> None:
        """POST pending updates to the webhook one by one, in order, retrying as Telegram does."""
        if self._client is None:
            self._client = ClientSession(timeout=ClientTimeout(total=10), trust_env=False)
        attempts = 0
        while self._pending and self.webhook_url is not None and not self._closing:
            update = self._pending[0]
            headers = {"X-Telegram-Bot-Api-Secret-Token": self.webhook_secret} if self.webhook_secret else {}
            try:
                async with self._client.post(self.webhook_url, json=update, headers=headers) as answer:
                    status = answer.status
            except (OSError, TimeoutError) as exc:
                log.info("webhook delivery of update %s failed: %s", update["update_id"], exc)
                status = 0
            self.webhook_deliveries.append(WebhookDelivery(update["update_id"], status, time.monotonic()))
            if 200 <= status < 300 or attempts >= 5:
                if self._pending and self._pending[0] is update:
                    self._pending.pop(0)
                attempts = 0
            else:
                attempts += 1
                await asyncio.sleep(0.2 * attempts)

    # ----------------------------------------------------------------- methods

    def _true(self, params: dict[str, Any], files: dict[str, bytes], filenames: dict[str, str]) -> bool:
        return True

    def _get_me(self, params: dict[str, Any], files: dict[str, bytes], filenames: dict[str, str]) -> Any:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _target_chat(self, params: dict[str, Any]) -> int:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad_request("chat_id is empty")
        if not isinstance(chat_id, int):
            raise _bad_request("chat not found")
        return chat_id

    def _render(self, params: dict[str, Any], key: str, limit: int) -> tuple[str, list[dict[str, Any]]]:
        """Text or caption as Telegram shows it, with its entities; the 400s Telegram gives."""
        raw = params.get(key)
        text = "" if raw is None else str(raw)
        entities_key = "entities" if key == "text" else "caption_entities"
        mode = str(params.get("parse_mode") or "").lower()
        if mode == "html":
            try:
                text, entities = parse_html(text)
            except HtmlParseError as exc:
                raise _bad_request(f"can't parse entities: {exc}") from exc
        else:
            given = params.get(entities_key)
            entities = list(given) if isinstance(given, list) else []
        if key == "text" and not text.strip():
            raise _bad_request("message text is empty")
        if utf16_len(text) > limit:
            raise _bad_request("message is too long" if key == "text" else "message caption is too long")
        return text, entities

    def _check_markup(self, params: dict[str, Any]) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return markup
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                if not str(button.get("text", "")):
                    raise _bad_request("can't parse inline keyboard button: Text must be non-empty")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode("utf-8")) <= MAX_CALLBACK_DATA:
                    raise _bad_request("BUTTON_DATA_INVALID")
                if not any(
                    key in button
                    for key in (
                        "callback_data",
                        "url",
                        "switch_inline_query",
                        "web_app",
                        "login_url",
                        "pay",
                        "switch_inline_query_current_chat",
                        "copy_text",
                        "callback_game",
                    )
                ):
                    raise _bad_request(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
        return markup

    def _reply_to(self, params: dict[str, Any], chat_id: int) -> dict[str, Any] | None:
        parameters = params.get("reply_parameters")
        reply_id = params.get("reply_to_message_id")
        allow_missing = bool(params.get("allow_sending_without_reply"))
        if isinstance(parameters, dict):
            reply_id = parameters.get("message_id")
            allow_missing = bool(parameters.get("allow_sending_without_reply", allow_missing))
        if reply_id is None:
            return None
        original = self._message(chat_id, int(reply_id))
        if original is None and not allow_missing:
            raise _bad_request("message to be replied not found")
        if original is None:
            return None
        return {key: value for key, value in original.items() if key != "reply_to_message"}

    def _new_bot_message(self, chat_id: int, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        reply_to = self._reply_to(params, chat_id)
        markup = self._check_markup(params)
        message: dict[str, Any] = {
            "message_id": self._new_message_id(chat_id),
            "from": self._bot_user(),
            "chat": self._chat(chat_id),
            "date": int(time.time()),
            **content,
        }
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        self._store_message(message)
        return message

    def _send_message(
        self, params: dict[str, Any], files: dict[str, bytes], filenames: dict[str, str]
    ) -> Any:
        chat_id = self._target_chat(params)
        text, entities = self._render(params, "text", MAX_TEXT)
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return self._new_bot_message(chat_id, params, **content)

    def _media(
        self, params: dict[str, Any], files: dict[str, bytes], filenames: dict[str, str], field_name: str
    ) -> tuple[str, bytes, str]:
        """(file_id, content, file name) of an uploaded or re-sent file."""
        if field_name in files:
            content = files[field_name]
            if not content:
                raise _bad_request("file must be non-empty")
            name = filenames.get(field_name) or field_name
            return self._new_file(content, name), content, name
        reference = params.get(field_name)
        if isinstance(reference, str) and reference in self._files:
            content, name = self._files[reference]
            return reference, content, name
        if isinstance(reference, str) and reference.startswith(("http://", "https://")):
            name = reference.rsplit("/", 1)[-1] or field_name
            return self._new_file(b"", name), b"", name
        raise _bad_request(f"there is no {field_name} in the request")

    def _caption(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("caption") in (None, ""):
            return {}
        caption, entities = self._render(params, "caption", MAX_CAPTION)
        return {"caption": caption, **({"caption_entities": entities} if entities else {})}

    def _send_photo(self, params: dict[str, Any], files: dict[str, bytes], filenames: dict[str, str]) -> Any:
        chat_id = self._target_chat(params)
        file_id, content, _ = self._media(params, files, filenames, "photo")
        caption = self._caption(params)
        photo = [
            {
                "file_id": file_id,
                "file_unique_id": f"U{file_id}",
                "width": 800,
                "height": 600,
                "file_size": len(content),
            }
        ]
        return self._new_bot_message(chat_id, params, photo=photo, **caption)

    def _send_document(
        self, params: dict[str, Any], files: dict[str, bytes], filenames: dict[str, str]
    ) -> Any:
        chat_id = self._target_chat(params)
        file_id, content, name = self._media(params, files, filenames, "document")
        caption = self._caption(params)
        document = {
            "file_id": file_id,
            "file_unique_id": f"U{file_id}",
            "file_name": name,
            "mime_type": mimetypes.guess_type(name)[0] or "application/octet-stream",
            "file_size": len(content),
        }
        return self._new_bot_message(chat_id, params, document=document, **caption)

    def _existing(self, params: dict[str, Any], not_found: str) -> tuple[int, dict[str, Any]]:
        chat_id = self._target_chat(params)
        message_id = params.get("message_id")
        found = self._message(chat_id, message_id) if isinstance(message_id, int) else None
        if found is None:
            raise _bad_request(not_found)
        return chat_id, found

    def _editable(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        if params.get("inline_message_id"):
            return None
        chat_id, found = self._existing(params, "message to edit not found")
        if not found.get("from", {}).get("is_bot"):
            raise _bad_request("message can't be edited")
        return chat_id, found

    def _save_edit(
        self,
        original: dict[str, Any],
        changes: dict[str, Any],
        markup: dict[str, Any] | None,
        drop: tuple[str, ...],
    ) -> Any:
        """Store the edited message; an edit without reply_markup removes the keyboard, as on Telegram."""
        edited = {key: value for key, value in original.items() if key not in ("reply_markup", *drop)}
        edited.update(changes)
        if markup is not None and "inline_keyboard" in markup:
            edited["reply_markup"] = markup
        comparable = ("text", "entities", "caption", "caption_entities", "reply_markup")
        if all(edited.get(key) == original.get(key) for key in comparable):
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        edited["edit_date"] = int(time.time())
        self._store_message(edited)
        return edited

    def _edit_message_text(
        self, params: dict[str, Any], files: dict[str, bytes], filenames: dict[str, str]
    ) -> Any:
        target = self._editable(params)
        text, entities = self._render(params, "text", MAX_TEXT)
        markup = self._check_markup(params)
        if target is None:
            return True
        _, original = target
        if "text" not in original:
            raise _bad_request("there is no text in the message to edit")
        changes = {"text": text, **({"entities": entities} if entities else {})}
        return self._save_edit(original, changes, markup, ("entities",))

    def _edit_message_caption(
        self, params: dict[str, Any], files: dict[str, bytes], filenames: dict[str, str]
    ) -> Any:
        target = self._editable(params)
        caption = self._caption(params)
        markup = self._check_markup(params)
        if target is None:
            return True
        _, original = target
        return self._save_edit(original, caption, markup, ("caption", "caption_entities"))

    def _edit_message_reply_markup(
        self, params: dict[str, Any], files: dict[str, bytes], filenames: dict[str, str]
    ) -> Any:
        target = self._editable(params)
        markup = self._check_markup(params)
        if target is None:
            return True
        _, original = target
        return self._save_edit(original, {}, markup, ())

    def _delete_message(
        self, params: dict[str, Any], files: dict[str, bytes], filenames: dict[str, str]
    ) -> Any:
        chat_id, found = self._existing(params, "message to delete not found")
        del self._messages[(chat_id, int(found["message_id"]))]
        return True

    def _forward_message(
        self, params: dict[str, Any], files: dict[str, bytes], filenames: dict[str, str]
    ) -> Any:
        chat_id = self._target_chat(params)
        source = self._source_message(params, "message to forward not found")
        content = {
            key: value
            for key, value in source.items()
            if key not in ("message_id", "from", "chat", "date", "reply_to_message", "edit_date")
        }
        origin: dict[str, Any] = {"type": "user", "date": source["date"], "sender_user": source["from"]}
        return self._new_bot_message(chat_id, {}, forward_origin=origin, **content)

    def _copy_message(
        self, params: dict[str, Any], files: dict[str, bytes], filenames: dict[str, str]
    ) -> Any:
        chat_id = self._target_chat(params)
        source = self._source_message(params, "message to copy not found")
        content = {
            key: value
            for key, value in source.items()
            if key
            in (
                "text",
                "entities",
                "photo",
                "document",
                "caption",
                "caption_entities",
                "sticker",
                "voice",
                "location",
            )
        }
        if params.get("caption") is not None:
            content.update(self._caption(params))
        message = self._new_bot_message(chat_id, params, **content)
        return {"message_id": message["message_id"]}

    def _source_message(self, params: dict[str, Any], not_found: str) -> dict[str, Any]:
        from_chat = params.get("from_chat_id")
        message_id = params.get("message_id")
        found = (
            self._message(from_chat, message_id)
            if isinstance(from_chat, int) and isinstance(message_id, int)
            else None
        )
        if found is None:
            raise _bad_request(not_found)
        return found

    def _answer_callback_query(
        self, params: dict[str, Any], files: dict[str, bytes], filenames: dict[str, str]
    ) -> Any:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._open_callbacks:
            raise _bad_request("query is too old and response timeout expired or query ID is invalid")
        self._open_callbacks.discard(query_id)
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise _bad_request("MESSAGE_TOO_LONG")
        return True

    def _scope_key(self, params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise _bad_request("can't parse BotCommandScope JSON object")
        return _canonical(scope), str(params.get("language_code") or "")

    def _set_my_commands(
        self, params: dict[str, Any], files: dict[str, bytes], filenames: dict[str, str]
    ) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad_request("can't parse commands JSON object")
        for command in commands:
            if not _COMMAND_NAME.match(str(command.get("command", ""))):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._scope_key(params)] = commands
        return True

    def _get_my_commands(
        self, params: dict[str, Any], files: dict[str, bytes], filenames: dict[str, str]
    ) -> Any:
        return self.commands.get(self._scope_key(params), [])

    def _delete_my_commands(
        self, params: dict[str, Any], files: dict[str, bytes], filenames: dict[str, str]
    ) -> Any:
        self.commands.pop(self._scope_key(params), None)
        return True

    def _set_webhook(self, params: dict[str, Any], files: dict[str, bytes], filenames: dict[str, str]) -> Any:
        url = str(params.get("url") or "")
        if not url:
            return self._delete_webhook(params, files, filenames)
        if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise _bad_request("bad webhook: secret token contains unallowed characters")
        self.webhook_url = url
        self.webhook_secret = None if secret is None else str(secret)
        if isinstance(params.get("allowed_updates"), list):
            self._allowed_updates = frozenset(params["allowed_updates"]) or _DEFAULT_ALLOWED
        if params.get("drop_pending_updates"):
            self._pending.clear()
        if self._pending:
            self._ensure_delivery()
        return True

    def _delete_webhook(
        self, params: dict[str, Any], files: dict[str, bytes], filenames: dict[str, str]
    ) -> Any:
        self.webhook_url = None
        self.webhook_secret = None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    def _get_webhook_info(
        self, params: dict[str, Any], files: dict[str, bytes], filenames: dict[str, str]
    ) -> Any:
        return {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }

    def _get_chat(self, params: dict[str, Any], files: dict[str, bytes], filenames: dict[str, str]) -> Any:
        chat_id = self._target_chat(params)
        return {
            **self._chat(chat_id),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _get_chat_member(
        self, params: dict[str, Any], files: dict[str, bytes], filenames: dict[str, str]
    ) -> Any:
        self._target_chat(params)
        user_id = _as_int(params.get("user_id"), "user_id")
        if user_id == self.bot_id:
            user = self._bot_user()
        elif user_id in self._users:
            user = self._users[user_id].as_dict()
        else:
            user = {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        return {"status": "member", "user": user}

    def _get_file(self, params: dict[str, Any], files: dict[str, bytes], filenames: dict[str, str]) -> Any:
        file_id = str(params.get("file_id", ""))
        if file_id not in self._files:
            raise _bad_request("invalid file_id")
        content, _ = self._files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"U{file_id}",
            "file_size": len(content),
            "file_path": f"files/{file_id}",
        }


def _fault_error(fault: _Fault) -> ApiError:
    template = fault.description or _FAULT_DESCRIPTIONS.get(fault.status, f"Error {fault.status}")
    description = template.format(retry_after=fault.retry_after)
    parameters = {"retry_after": fault.retry_after} if fault.status == 429 else None
    return ApiError(fault.status, description, parameters)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _as_int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise _bad_request(f'field "{name}" must be a Number') from exc


def _decode(name: str, value: str) -> Any:
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, bytes], dict[str, str]]:
    """Form, multipart, JSON or query parameters; JSON-encoded values decoded, uploads kept apart."""
    params: dict[str, Any] = {name: _decode(name, value) for name, value in request.query.items()}
    files: dict[str, bytes] = {}
    filenames: dict[str, str] = {}
    if request.content_type == "application/json":
        body = await request.json() if request.can_read_body else {}
        if isinstance(body, dict):
            params.update(body)
        return params, files, filenames
    if request.can_read_body:
        form = await request.post()
        for name, value in form.items():
            if isinstance(value, web.FileField):
                files[name] = value.file.read()
                filenames[name] = value.filename
            elif isinstance(value, str):
                params[name] = _decode(name, value)
            else:
                params[name] = _decode(name, bytes(value).decode("utf-8"))
    return params, files, filenames


def _brief(params: dict[str, Any]) -> str:
    shown = {key: value for key, value in params.items() if key not in ("reply_markup", "entities")}
    text = json.dumps(shown, ensure_ascii=False, default=str)
    return text if len(text) <= 200 else text[:197] + "..."


# --------------------------------------------------------------------- standalone


def _print_bot_output(call: RecordedCall) -> None:
    if call.method in MESSAGE_METHODS and call.ok:
        buttons = call.button_data()
        suffix = f"  [buttons: {', '.join(buttons)}]" if buttons else ""
        print(
            f"<- {call.method} to {call.chat_id} (#{call.message_id}): {call.plain_text}{suffix}", flush=True
        )


def _act(emulator: BotApiEmulator, line: str, language: str) -> None:
    user_part, _, rest = line.strip().partition(" ")
    if not user_part.lstrip("-").isdigit() or not rest:
        print("?? expected '<user_id> <text>', e.g. '42 /start'", flush=True)
        return
    user_id = int(user_part)
    user = emulator._users.get(user_id) or emulator.user(user_id, f"User{user_id}", language_code=language)
    word, _, args = rest.partition(" ")
    if word == "!press":
        data, _, message_id = args.rpartition(" ")
        if not message_id.isdigit():
            print("?? expected '<user_id> !press <callback_data> <message_id>'", flush=True)
            return
        user.press(data, message_id=int(message_id), any_data=True)
    elif word == "!sticker":
        user.send_sticker()
    elif word == "!photo":
        user.send_photo()
    elif word == "!voice":
        user.send_voice()
    elif word == "!location":
        user.send_location()
    else:
        user.send_text(rest)


async def _serve(args: argparse.Namespace) -> None:
    emulator = BotApiEmulator(args.token, bot_username=args.bot_username, host=args.host, port=args.port)
    emulator.on_call.append(_print_bot_output)
    await emulator.start()
    print(f"Bot API emulator at {emulator.url}  (token {args.token})", flush=True)
    print(
        f"  MOMENTO_TELEGRAM__TOKEN={args.token} MOMENTO_TELEGRAM__BASE_URL={emulator.base_url} "
        f"MOMENTO_TELEGRAM__BASE_FILE_URL={emulator.base_file_url} momento --config config.example.toml run",
        flush=True,
    )
    print("Type '<user_id> <text>' (e.g. '42 /start'); Ctrl-C to stop.", flush=True)
    loop = asyncio.get_running_loop()

    def read_stdin() -> None:
        # A daemon thread, so a blocked readline never holds up Ctrl-C.
        for line in sys.stdin:
            if line.strip():
                loop.call_soon_threadsafe(_act, emulator, line, args.language)

    threading.Thread(target=read_stdin, name="emulator-stdin", daemon=True).start()
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Telegram Bot API emulator for local development.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:TEST")
    parser.add_argument("--bot-username", default="momento_test_bot")
    parser.add_argument("--language", default="en", help="language_code of users typed in (en, es, ...)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()

"""A Telegram user driven by a test: each action becomes the update Telegram would deliver to the bot."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.bot_api import BotApiEmulator

_COMMAND_AT_START = re.compile(r"^/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]+)?")
# A 1x1 PNG, so a photo the bot downloads is a real image.
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


class EmulatedUser:
    """Acts as one Telegram user; every action returns the message_id (or callback query id) it produced."""

    def __init__(
        self,
        emulator: BotApiEmulator,
        user_id: int,
        first_name: str,
        *,
        language_code: str | None,
        username: str | None,
        last_name: str | None = None,
    ) -> None:
        self.emulator = emulator
        self.id = user_id
        self.first_name = first_name
        self.language_code = language_code
        self.username = username
        self.last_name = last_name

    def as_dict(self) -> dict[str, Any]:
        """The User object Telegram sends in ``from``."""
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    # ------------------------------------------------------------- messages

    def send_text(self, text: str, *, chat_id: int | None = None, reply_to: int | None = None) -> int:
        """A text message; a leading /command gets its bot_command entity, as Telegram adds it."""
        entities = []
        match = _COMMAND_AT_START.match(text)
        if match:
            entities.append({"type": "bot_command", "offset": 0, "length": len(match.group(0))})
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return self._send(chat_id, content, reply_to=reply_to)

    def send_command(self, command: str, *args: str, chat_id: int | None = None, at_bot: bool = False) -> int:
        """``/command arg ...`` (``/command@bot`` with *at_bot*, as group clients send it)."""
        name = command.lstrip("/")
        head = f"/{name}@{self.emulator.bot_username}" if at_bot else f"/{name}"
        text = " ".join((head, *args))
        content = {"text": text, "entities": [{"type": "bot_command", "offset": 0, "length": len(head)}]}
        return self._send(chat_id, content)

    def share_contact(self, phone: str, *, chat_id: int | None = None) -> int:
        """A tap on a request_contact keyboard button: the user's own contact card."""
        contact = {"phone_number": phone, "first_name": self.first_name, "user_id": self.id}
        return self._send(chat_id, {"contact": contact})

    def send_sticker(self, *, chat_id: int | None = None, emoji: str = "👍") -> int:
        file_id = self.emulator._new_file(b"RIFF-sticker", "sticker.webp")
        sticker = {
            "file_id": file_id,
            "file_unique_id": f"U{file_id}",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._send(chat_id, {"sticker": sticker})

    def send_photo(self, *, chat_id: int | None = None, caption: str | None = None) -> int:
        file_id = self.emulator._new_file(TINY_PNG, "photo.png")
        photo = [
            {
                "file_id": file_id,
                "file_unique_id": f"U{file_id}",
                "width": 1,
                "height": 1,
                "file_size": len(TINY_PNG),
            }
        ]
        content: dict[str, Any] = {"photo": photo}
        if caption is not None:
            content["caption"] = caption
        return self._send(chat_id, content)

    def send_voice(self, *, chat_id: int | None = None, duration: int = 3) -> int:
        file_id = self.emulator._new_file(b"OggS-voice", "voice.ogg")
        voice = {
            "file_id": file_id,
            "file_unique_id": f"U{file_id}",
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": 10,
        }
        return self._send(chat_id, {"voice": voice})

    def send_document(
        self,
        *,
        chat_id: int | None = None,
        file_name: str = "receipt.pdf",
        content: bytes = b"%PDF-1.4 test",
        caption: str | None = None,
    ) -> int:
        file_id = self.emulator._new_file(content, file_name)
        document = {
            "file_id": file_id,
            "file_unique_id": f"U{file_id}",
            "file_name": file_name,
            "mime_type": "application/pdf" if file_name.endswith(".pdf") else "application/octet-stream",
            "file_size": len(content),
        }
        body: dict[str, Any] = {"document": document}
        if caption is not None:
            body["caption"] = caption
        return self._send(chat_id, body)

    def send_location(
        self, *, chat_id: int | None = None, latitude: float = 40.4168, longitude: float = -3.7038
    ) -> int:
        return self._send(chat_id, {"location": {"latitude": latitude, "longitude": longitude}})

    def edit_text(self, message_id: int, text: str, *, chat_id: int | None = None) -> None:
        """The user edits a text message they sent: an ``edited_message`` update."""
        target = self.id if chat_id is None else chat_id
        original = self.emulator._message(target, message_id)
        if original is None or original.get("from", {}).get("id") != self.id or "text" not in original:
            raise ValueError(f"user {self.id} has no text message {message_id} in chat {target} to edit")
        edited = {key: value for key, value in original.items() if key != "entities"}
        edited["text"] = text
        match = _COMMAND_AT_START.match(text)
        if match:
            edited["entities"] = [{"type": "bot_command", "offset": 0, "length": len(match.group(0))}]
        edited["edit_date"] = int(time.time())
        self.emulator._store_message(edited)
        self.emulator.push_update({"edited_message": edited})

    # ------------------------------------------------------------- buttons and membership

    def press(
        self, callback_data: str, *, message_id: int, chat_id: int | None = None, any_data: bool = False
    ) -> str:
        """Press the inline button carrying *callback_data* on the bot's message; returns the query id.

        Refuses data that is not on that message's keyboard (a test bug) unless *any_data* is set.
        """
        target = self.id if chat_id is None else chat_id
        message = self.emulator._message(target, message_id)
        if message is None and not any_data:
            raise ValueError(f"no message {message_id} in chat {target} to press a button on")
        if message is not None and not any_data:
            rows = message.get("reply_markup", {}).get("inline_keyboard", [])
            offered = [button.get("callback_data") for row in rows for button in row]
            if callback_data not in offered:
                raise ValueError(
                    f"message {message_id} in chat {target} has no button {callback_data!r}; "
                    f"it offers {offered}"
                )
        shown = message or {"chat": self.emulator._chat(target), "message_id": message_id, "date": 0}
        query_id = self.emulator._open_callback()
        query = {
            "id": query_id,
            "from": self.as_dict(),
            "chat_instance": f"ci{target}",
            "data": callback_data,
            "message": shown,
        }
        self.emulator.push_update({"callback_query": query})
        return query_id

    def block_bot(self) -> int:
        """The user blocks the bot: a my_chat_member update, and every later send to them answers 403."""
        self.emulator.block_chat(self.id)
        return self._membership("member", "kicked")

    def unblock_bot(self) -> int:
        self.emulator.unblock_chat(self.id)
        return self._membership("kicked", "member")

    def _membership(self, old: str, new: str) -> int:
        bot = self.emulator._bot_user()
        old_member: dict[str, Any] = {"status": old, "user": bot}
        new_member: dict[str, Any] = {"status": new, "user": bot}
        for member in (old_member, new_member):
            if member["status"] == "kicked":
                member["until_date"] = 0
        update = {
            "chat": self.emulator._chat(self.id),
            "from": self.as_dict(),
            "date": int(time.time()),
            "old_chat_member": old_member,
            "new_chat_member": new_member,
        }
        return self.emulator.push_update({"my_chat_member": update})

    def _send(self, chat_id: int | None, content: dict[str, Any], *, reply_to: int | None = None) -> int:
        target = self.id if chat_id is None else chat_id
        message: dict[str, Any] = {
            "message_id": self.emulator._new_message_id(target),
            "from": self.as_dict(),
            "chat": self.emulator._chat(target),
            "date": int(time.time()),
            **content,
        }
        if reply_to is not None:
            original = self.emulator._message(target, reply_to)
            if original is None:
                raise ValueError(f"no message {reply_to} in chat {target} to reply to")
            message["reply_to_message"] = {k: v for k, v in original.items() if k != "reply_to_message"}
        self.emulator._store_message(message)
        self.emulator.push_update({"message": message})
        return int(message["message_id"])

"""The customer's private chat: thin handlers that hand updates to the dialogue and the account.

/start [signed payload], /language, /skip, /stop (confirmed), /mydata (a JSON document), /delete (confirmed),
free text, edited messages, buttons, and anything that is not text (a polite nudge).
"""

from __future__ import annotations

import html
import io
import json
import logging
from typing import Literal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.config import SUPPORTED_LANGUAGES
from bot.i18n import COMMON, Catalogue, translate, translate_plural
from bot.messaging import AccountPress, IncomingPress, IncomingText, Sender, decode, encode
from bot.telegram.common import user_language
from bot.telegram.services import MomentoApplication, MomentoContext
from storage.db import utcnow

log = logging.getLogger(__name__)

# The texts are the customer.* messages of the catalogues in bot/locale (see bot.i18n).
CUSTOMER = Catalogue("customer")

_PRIVATE = filters.ChatType.PRIVATE
_NON_TEXT = (
    filters.Sticker.ALL
    | filters.PHOTO
    | filters.VOICE
    | filters.AUDIO
    | filters.VIDEO
    | filters.VIDEO_NOTE
    | filters.ANIMATION
    | filters.Document.ALL
    | filters.LOCATION
    | filters.VENUE
    | filters.POLL
    | filters.Dice.ALL
)


def sender_of(update: Update) -> Sender | None:
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return None
    return Sender(
        user_id=user.id,
        chat_id=chat.id,
        display_name=user.first_name or None,
        language_code=user.language_code,
    )


def _markup(rows: list[list[tuple[str, AccountPress]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=encode(press)) for text, press in row] for row in rows]
    )


async def start(update: Update, context: MomentoContext) -> None:
    message, sender = update.effective_message, sender_of(update)
    if message is None or sender is None:
        return
    payload = context.args[0] if context.args else None
    if payload:
        await _start_with_link(update, context, sender, payload)
        return
    accounts = context.services.accounts
    customer = await accounts.customer_for(sender)
    language = accounts.language_of(customer, sender)
    name = html.escape(sender.display_name or "")
    company = html.escape(
        context.services.settings.company.name_in(language) or context.bot.first_name or "us"
    )
    await message.reply_text(
        translate(COMMON, "welcome", language, name=name, company=company),
        reply_markup=_markup([[(translate(CUSTOMER, "offer_feedback", language), AccountPress("fb"))]]),
    )


async def _start_with_link(update: Update, context: MomentoContext, sender: Sender, payload: str) -> None:
    message = update.effective_message
    assert message is not None
    linked = await context.services.accounts.link(sender, payload)
    if linked.refused == "taken":
        await message.reply_text(translate(CUSTOMER, "link_taken", linked.language))
        return
    if linked.customer is None:
        await message.reply_text(translate(CUSTOMER, "link_invalid", linked.language))
        return
    name = f", {html.escape(sender.display_name)}" if sender.display_name else ""
    await message.reply_text(translate(CUSTOMER, "linked", linked.language, name=name))
    if linked.event_id is not None:
        await context.services.invitations.invite_now(linked.customer, linked.event_id, at=utcnow())


async def choose_language(update: Update, context: MomentoContext) -> None:
    message, sender = update.effective_message, sender_of(update)
    if message is None or sender is None:
        return
    language = await context.services.accounts.language_for(sender)
    await message.reply_text(
        translate(CUSTOMER, "choose_language", language),
        reply_markup=_markup(
            [
                [
                    (translate(COMMON, "language_name", spoken), AccountPress("lang", spoken))
                    for spoken in SUPPORTED_LANGUAGES
                ]
            ]
        ),
    )


async def stop(update: Update, context: MomentoContext) -> None:
    await _confirm(update, context, "stop")


async def delete(update: Update, context: MomentoContext) -> None:
    await _confirm(update, context, "del")


async def _confirm(update: Update, context: MomentoContext, action: Literal["stop", "del"]) -> None:
    message, sender = update.effective_message, sender_of(update)
    if message is None or sender is None:
        return
    language = await context.services.accounts.language_for(sender)
    if action == "del":
        question, yes = (
            translate(CUSTOMER, "delete_confirm", language),
            translate(CUSTOMER, "delete_yes", language),
        )
    else:
        question, yes = (
            translate(CUSTOMER, "stop_confirm", language),
            translate(CUSTOMER, "stop_yes", language),
        )
    await message.reply_text(
        question,
        reply_markup=_markup(
            [
                [(yes, AccountPress(action, "yes"))],
                [(translate(CUSTOMER, "keep", language), AccountPress(action, "no"))],
            ]
        ),
    )


async def my_data(update: Update, context: MomentoContext) -> None:
    message, sender = update.effective_message, sender_of(update)
    if message is None or sender is None:
        return
    accounts = context.services.accounts
    customer = await accounts.customer_for(sender)
    document = json.dumps(await accounts.export(customer), ensure_ascii=False, indent=2, default=str)
    language = accounts.language_of(customer, sender)
    retention = context.services.settings.privacy.retention
    if retention is None:
        kept = translate(CUSTOMER, "mydata_no_retention", language)
    else:
        days = max(1, retention.days)
        kept = translate_plural(CUSTOMER, "mydata_retention", days, language, days=days)
    await message.reply_document(
        document=io.BytesIO(document.encode("utf-8")),
        filename="my-data.json",
        caption=f"{translate(CUSTOMER, 'mydata', language)}\n{kept}",
    )


async def skip(update: Update, context: MomentoContext) -> None:
    sender = sender_of(update)
    if sender is not None:
        await context.services.engine.on_skip(sender, at=utcnow())


async def on_text(update: Update, context: MomentoContext) -> None:
    message, sender = update.message, sender_of(update)
    if message is None or sender is None or message.text is None:
        return
    await context.services.engine.on_text(IncomingText(sender, message.message_id, message.text, utcnow()))


async def on_edit(update: Update, context: MomentoContext) -> None:
    message, sender = update.edited_message, sender_of(update)
    if message is None or sender is None or message.text is None:
        return
    await context.services.engine.on_edit(IncomingText(sender, message.message_id, message.text, utcnow()))


async def on_non_text(update: Update, context: MomentoContext) -> None:
    sender = sender_of(update)
    if sender is not None:
        await context.services.engine.on_non_text(sender)


async def on_contact(update: Update, context: MomentoContext) -> None:
    """The customer tapped "share my phone number" (or sent a contact): the call-back card shows it."""
    message, sender = update.message, sender_of(update)
    if message is None or sender is None or message.contact is None:
        return
    contact = message.contact
    if contact.user_id is not None and contact.user_id != sender.user_id:
        # Someone else's card: not the customer's own number, so nothing to show the team.
        await context.services.engine.on_non_text(sender)
        return
    await context.services.engine.on_contact(
        sender, contact.phone_number, message_id=message.message_id, at=utcnow()
    )


async def on_press(update: Update, context: MomentoContext) -> None:
    """Survey buttons go to the dialogue; the customer's own account buttons are handled here.

    Customer buttons act only in the presser's private chat (a forged one pressed in a group must not move
    their chat there), and the dialogue acts only on the presser's own survey. Every press is answered."""
    query, sender = update.callback_query, sender_of(update)
    if query is None:
        return
    chat = update.effective_chat
    if sender is None or chat is None or chat.type != ChatType.PRIVATE or chat.id != sender.user_id:
        await query.answer(translate(COMMON, "button_private_only", user_language(update)), show_alert=True)
        return
    press = decode(query.data)
    if press is None:
        await query.answer(translate(COMMON, "button_unknown", user_language(update)))
        return
    message_id = query.message.message_id if query.message is not None else None
    if isinstance(press, AccountPress):
        await query.answer()
        await _account_choice(context, sender, press, message_id)
        return
    result = await context.services.engine.on_press(
        IncomingPress(sender, encode(press), message_id, utcnow())
    )
    await query.answer(text=result.toast, show_alert=result.alert)


async def _account_choice(
    context: MomentoContext, sender: Sender, press: AccountPress, message_id: int | None
) -> None:
    accounts, engine = context.services.accounts, context.services.engine
    chat = sender.chat_id
    if press.action == "fb":
        await engine.start_general(sender, at=utcnow())
        return
    customer = await accounts.customer_for(sender)
    if message_id is not None:
        await engine.drop_buttons(customer, message_id)
    if press.action == "lang":
        customer = await accounts.set_language(customer, press.value)
        await context.bot.send_message(chat, translate(CUSTOMER, "language_set", press.value))
        return
    language = accounts.language_of(customer, sender)
    if press.value != "yes":
        await context.bot.send_message(chat, translate(CUSTOMER, "kept", language))
        return
    if press.action == "stop":
        await accounts.opt_out(customer, utcnow())
        await context.bot.send_message(chat, translate(CUSTOMER, "stopped", language))
    else:
        await accounts.erase(customer)
        await context.bot.send_message(chat, translate(CUSTOMER, "deleted", language))


def register(application: MomentoApplication) -> None:
    """Customer commands are private-chat only; they must come before the unknown-command fallback."""
    add = application.add_handler
    add(CommandHandler("start", start, filters=_PRIVATE))
    add(CommandHandler("language", choose_language, filters=_PRIVATE))
    add(CommandHandler("stop", stop, filters=_PRIVATE))
    add(CommandHandler("delete", delete, filters=_PRIVATE))
    add(CommandHandler("mydata", my_data, filters=_PRIVATE))
    add(CommandHandler("skip", skip, filters=_PRIVATE))
    add(MessageHandler(_PRIVATE & filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, on_text))
    add(
        MessageHandler(
            _PRIVATE & filters.UpdateType.EDITED_MESSAGE & filters.TEXT & ~filters.COMMAND, on_edit
        )
    )
    add(MessageHandler(_PRIVATE & filters.UpdateType.MESSAGE & filters.CONTACT, on_contact))
    add(MessageHandler(_PRIVATE & filters.UpdateType.MESSAGE & _NON_TEXT, on_non_text))
    add(CallbackQueryHandler(on_press, pattern=r"^(sv|cx):"))

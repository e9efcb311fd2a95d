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
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.i18n import COMMON, Catalogue, translate
from bot.messaging import AccountPress, IncomingPress, IncomingText, Sender, decode, encode
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
    company = html.escape(context.settings.company.name_in(language) or context.bot.first_name or "us")
    await message.reply_text(
        translate(COMMON, "welcome", language, name=name, company=company),
        reply_markup=_markup([[(translate(CUSTOMER, "offer_feedback", language), AccountPress("fb"))]]),
    )


async def _start_with_link(update: Update, context: MomentoContext, sender: Sender, payload: str) -> None:
    message = update.effective_message
    assert message is not None
    linked = await context.services.accounts.link(sender, payload)
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
            [[("English", AccountPress("lang", "en")), ("Español", AccountPress("lang", "es"))]]
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
    await message.reply_document(
        document=io.BytesIO(document.encode("utf-8")),
        filename="my-data.json",
        caption=translate(CUSTOMER, "mydata", accounts.language_of(customer, sender)),
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
    """Survey buttons go to the dialogue; the customer's own account buttons are handled here."""
    query, sender = update.callback_query, sender_of(update)
    if query is None or sender is None or query.data is None:
        return
    message_id = query.message.message_id if query.message is not None else None
    press = decode(query.data)
    if isinstance(press, AccountPress):
        await query.answer()
        await _account_choice(context, sender, press, message_id)
        return
    result = await context.services.engine.on_press(IncomingPress(sender, query.data, message_id, utcnow()))
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

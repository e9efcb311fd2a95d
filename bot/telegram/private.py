"""The customer's side in Telegram: thin handlers that translate updates for the survey engine.

/start [signed payload], /language, /skip, /stop (confirmed), /mydata (a JSON document), /delete (confirmed),
free text, edited messages, buttons, and anything that is not text (a polite nudge).
"""

from __future__ import annotations

import html
import io
import json
import logging
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.accounts.links import LinkError, verify_start_payload
from bot.i18n import COMMON, Catalogue, pick_language, translate
from bot.messaging import IncomingPress, IncomingText, Sender
from bot.telegram.clock import engine_of
from bot.telegram.services import services
from storage import customers as customer_repo
from storage.db import utcnow

log = logging.getLogger(__name__)

CUSTOMER: Catalogue = {
    "link_invalid": {
        "en": "Sorry, this link isn't valid any more (it may have expired). Nothing was changed. If "
        "you'd like to tell us about an experience, just write to me.",
        "es": "Lo siento, este enlace ya no es válido (puede haber caducado). No se ha cambiado nada. "
        "Si quieres contarnos una experiencia, escríbeme.",
    },
    "linked": {
        "en": "Hi{name}! 👋 Thanks for connecting. I may ask you a couple of short questions after your "
        "moments with us — you can stop that any time with /stop.",
        "es": "¡Hola{name}! 👋 Gracias por conectar. Puede que te haga un par de preguntas breves después de "
        "tus momentos con nosotros; puedes pararlo cuando quieras con /stop.",
    },
    "offer_feedback": {"en": "Share feedback now", "es": "Dar mi opinión ahora"},
    "choose_language": {"en": "Which language do you prefer?", "es": "¿Qué idioma prefieres?"},
    "language_set": {"en": "Done — I'll write to you in English.", "es": "Listo, te escribiré en español."},
    "stop_confirm": {
        "en": "Do you want to stop all surveys? You can still write to me whenever you like.",
        "es": "¿Quieres dejar de recibir encuestas? Podrás seguir escribiéndome cuando quieras.",
    },
    "stop_yes": {"en": "Yes, stop them", "es": "Sí, pararlas"},
    "keep": {"en": "No, keep things as they are", "es": "No, dejarlo como está"},
    "stopped": {
        "en": "Done. I won't send you any more surveys. If you change your mind, just use a link from us "
        "again.",
        "es": "Hecho. No te enviaré más encuestas. Si cambias de idea, usa de nuevo un enlace nuestro.",
    },
    "kept": {"en": "Alright, nothing changed. 🙂", "es": "De acuerdo, no he cambiado nada. 🙂"},
    "delete_confirm": {
        "en": "This erases your personal data: your name, your Telegram link and everything you wrote to "
        "us. It cannot be undone. Are you sure?",
        "es": "Esto borra tus datos personales: tu nombre, tu vínculo de Telegram y todo lo que nos "
        "escribiste. No se puede deshacer. ¿Seguro?",
    },
    "delete_yes": {"en": "Yes, erase my data", "es": "Sí, borrar mis datos"},
    "deleted": {
        "en": "Your personal data has been erased. Thank you for the time you gave us.",
        "es": "Tus datos personales se han borrado. Gracias por el tiempo que nos dedicaste.",
    },
    "mydata": {
        "en": "Here is everything we store about you.",
        "es": "Aquí tienes todo lo que guardamos sobre ti.",
    },
}

_CUSTOMER_PREFIX = "cx"
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
    | filters.CONTACT
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


def _markup(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


async def _language(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> str:
    engine = engine_of(context)
    customer = await customer_repo.get_by_telegram_user(engine.db, sender.user_id)
    if customer is None:
        return engine.language_of(await engine.customer_for(sender), sender)
    return engine.language_of(customer, sender)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, sender = update.effective_message, sender_of(update)
    if message is None or sender is None:
        return
    engine = engine_of(context)
    payload = context.args[0] if context.args else None
    if payload:
        await _start_with_link(update, context, sender, payload)
        return
    customer = await engine.customer_for(sender)
    language = engine.language_of(customer, sender)
    name = html.escape(sender.display_name or "")
    company = html.escape(context.bot.first_name or "us")
    await message.reply_text(
        translate(COMMON, "welcome", language, name=name, company=company),
        reply_markup=_markup([[(translate(CUSTOMER, "offer_feedback", language), f"{_CUSTOMER_PREFIX}:fb")]]),
    )


async def _start_with_link(
    update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender, payload: str
) -> None:
    message = update.effective_message
    assert message is not None
    engine = engine_of(context)
    settings = services(context).settings
    fallback_language = pick_language(sender.language_code, default=settings.survey.default_language)
    try:
        target = verify_start_payload(settings.links.signing_key, payload)
    except LinkError as exc:
        log.info("refused a /start link from user %s: %s", sender.user_id, exc.problem)
        await message.reply_text(translate(CUSTOMER, "link_invalid", fallback_language))
        return
    customer = await customer_repo.get_customer(engine.db, target.customer_id)
    if customer is None or customer.erased_at is not None:
        await message.reply_text(translate(CUSTOMER, "link_invalid", fallback_language))
        return
    customer = await customer_repo.link_telegram(
        engine.db,
        customer.id,
        telegram_user_id=sender.user_id,
        telegram_chat_id=sender.chat_id,
        display_name=sender.display_name,
        language=fallback_language if sender.language_code else None,
    )
    customer = await customer_repo.grant_consent(engine.db, customer.id)
    language = engine.language_of(customer, sender)
    name = f", {html.escape(sender.display_name)}" if sender.display_name else ""
    await message.reply_text(translate(CUSTOMER, "linked", language, name=name))
    if target.event_id is not None:
        await engine.start_for_event(customer, target.event_id, at=utcnow())


async def choose_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, sender = update.effective_message, sender_of(update)
    if message is None or sender is None:
        return
    language = await _language(update, context, sender)
    await message.reply_text(
        translate(CUSTOMER, "choose_language", language),
        reply_markup=_markup(
            [[("English", f"{_CUSTOMER_PREFIX}:lang:en"), ("Español", f"{_CUSTOMER_PREFIX}:lang:es")]]
        ),
    )


async def stop(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _confirm(update, context, "stop_confirm", "stop_yes", "stop")


async def delete(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _confirm(update, context, "delete_confirm", "delete_yes", "del")


async def _confirm(
    update: Update, context: ContextTypes.DEFAULT_TYPE, question: str, yes: str, action: str
) -> None:
    message, sender = update.effective_message, sender_of(update)
    if message is None or sender is None:
        return
    language = await _language(update, context, sender)
    await message.reply_text(
        translate(CUSTOMER, question, language),
        reply_markup=_markup(
            [
                [(translate(CUSTOMER, yes, language), f"{_CUSTOMER_PREFIX}:{action}:yes")],
                [(translate(CUSTOMER, "keep", language), f"{_CUSTOMER_PREFIX}:{action}:no")],
            ]
        ),
    )


async def my_data(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, sender = update.effective_message, sender_of(update)
    if message is None or sender is None:
        return
    engine = engine_of(context)
    customer = await engine.customer_for(sender)
    document = json.dumps(await engine.export(customer), ensure_ascii=False, indent=2, default=str)
    await message.reply_document(
        document=io.BytesIO(document.encode("utf-8")),
        filename="my-data.json",
        caption=translate(CUSTOMER, "mydata", engine.language_of(customer, sender)),
    )


async def skip(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    sender = sender_of(update)
    if sender is not None:
        await engine_of(context).on_skip(sender, at=utcnow())


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, sender = update.message, sender_of(update)
    if message is None or sender is None or message.text is None:
        return
    await engine_of(context).on_text(IncomingText(sender, message.message_id, message.text, utcnow()))


async def on_edit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, sender = update.edited_message, sender_of(update)
    if message is None or sender is None or message.text is None:
        return
    await engine_of(context).on_edit(IncomingText(sender, message.message_id, message.text, utcnow()))


async def on_non_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    sender = sender_of(update)
    if sender is not None:
        await engine_of(context).on_non_text(sender)


async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Survey and alert buttons go to the engine; the customer's own confirmations are handled here."""
    query, sender = update.callback_query, sender_of(update)
    if query is None or sender is None or query.data is None:
        return
    message_id = query.message.message_id if query.message is not None else None
    if query.data.startswith(f"{_CUSTOMER_PREFIX}:"):
        await query.answer()
        await _customer_choice(update, context, sender, query.data, message_id)
        return
    result = await engine_of(context).on_press(IncomingPress(sender, query.data, message_id, utcnow()))
    await query.answer(text=result.toast, show_alert=result.alert)


async def _customer_choice(
    update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender, data: str, message_id: int | None
) -> None:
    engine = engine_of(context)
    chat = sender.chat_id
    parts = data.split(":")
    if message_id is not None and parts[1] != "fb":
        await engine.drop_buttons(await engine.customer_for(sender), message_id)
    if parts[1] == "fb":
        await engine.start_general(sender, at=utcnow())
        return
    customer = await engine.customer_for(sender)
    if parts[1] == "lang" and len(parts) == 3 and parts[2] in ("en", "es"):
        customer = await customer_repo.set_language(engine.db, customer.id, parts[2])
        await engine.switch_language(customer, parts[2])
        await context.bot.send_message(chat, translate(CUSTOMER, "language_set", parts[2]))
        return
    language = engine.language_of(customer, sender)
    if len(parts) != 3 or parts[1] not in ("stop", "del"):
        return
    if parts[2] != "yes":
        await context.bot.send_message(chat, translate(CUSTOMER, "kept", language))
        return
    if parts[1] == "stop":
        await engine.opt_out(customer, utcnow())
        await context.bot.send_message(chat, translate(CUSTOMER, "stopped", language))
    else:
        await engine.erase(customer)
        await context.bot.send_message(chat, translate(CUSTOMER, "deleted", language))


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
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
    add(MessageHandler(_PRIVATE & filters.UpdateType.MESSAGE & _NON_TEXT, on_non_text))
    add(CallbackQueryHandler(on_press, pattern=r"^(sv|al|cx):"))

"""Staff commands (/summary /touchpoints /journey /segments /alerts /customer /quotes /themes) and the digest
job.

Thin PTB glue: check the user's role (never the chat's), parse, call bot.reports, send text and chart. Anyone
who is not staff gets the same neutral refusal whatever they asked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.accounts.roles import Role, role_of
from bot.config import Settings
from bot.i18n import COMMON, pick_language, translate, translate_plural
from bot.recovery.cards import open_alert_cards
from bot.reports import digest
from bot.reports.charts import Chart
from bot.reports.common import Report, ReportError, parse_scope
from bot.reports.customer import build_customer, render_customer
from bot.reports.drivers import build_drivers, render_drivers
from bot.reports.journey import build_journey, render_journey
from bot.reports.quotes import build_quotes, parse_quote_request, render_quotes
from bot.reports.segments import build_segments, render_segments
from bot.reports.summary import build_summary, render_summary
from bot.reports.texts import REPORTS
from bot.reports.themes import (
    build_themes,
    parse_themes_request,
    render_themes,
    theme_lines,
    theme_quotes_report,
)
from bot.telegram.common import user_language
from bot.telegram.services import MomentoApplication, MomentoContext
from storage import customers as customer_repo
from storage.db import utcnow

log = logging.getLogger(__name__)

MAX_MESSAGE = 4000  # Telegram allows 4096 characters; keep a margin for entities.
MAX_ALERT_CARDS = 10
DIGEST_JOB = "momento.digest"
DIGEST_CHECK_EVERY = timedelta(minutes=1)
DIGEST_FIRST_CHECK = timedelta(seconds=30)

Handler = Callable[[Update, MomentoContext], Coroutine[Any, Any, None]]


async def allowed(update: Update, context: MomentoContext, *, admin: bool = False) -> bool:
    """The user's role decides; refusals are neutral and identical for every command."""
    message = update.effective_message
    found = context.services
    user_id = update.effective_user.id if update.effective_user else None
    role: Role | None = await role_of(found.db, found.settings, user_id)
    if role == "admin" or (role == "staff" and not admin):
        return True
    if message is not None:
        await message.reply_text(translate(COMMON, "not_allowed", user_language(update)))
    return False


async def staff_language(update: Update, context: MomentoContext) -> str:
    """The staff member's own language: their /language choice (kept like a customer's), else their
    Telegram language, else English — never the group's or the bot's default."""
    user = update.effective_user
    if user is None:
        return user_language(update)
    chosen = await customer_repo.get_by_telegram_user(context.services.db, user.id)
    return pick_language(chosen.language if chosen else None, user.language_code)


def staff_command(*, admin: bool = False) -> Callable[[Handler], Handler]:
    def wrap(handler: Handler) -> Handler:
        async def guarded(update: Update, context: MomentoContext) -> None:
            if update.effective_message is None or not await allowed(update, context, admin=admin):
                return
            try:
                await handler(update, context)
            except ReportError as exc:
                await update.effective_message.reply_text(str(exc))

        guarded.__name__ = handler.__name__
        guarded.__doc__ = handler.__doc__
        return guarded

    return wrap


def split_message(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Split on line breaks (every line is complete HTML) so long reports arrive as several messages."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        if len(line) > limit:
            line = line[: limit - 1] + "…"
        if current and len(current) + 1 + len(line) > limit:
            chunks.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return chunks


async def send_report(message: Message, report: Report) -> None:
    for chunk in split_message(report.text):
        await message.reply_text(chunk)
    if report.chart is not None:
        await send_chart(message, report.chart)


async def send_chart(message: Message, chart: Chart) -> None:
    await message.reply_photo(chart.png, caption=chart.title[:1024], filename=chart.filename, parse_mode=None)


def _args(context: MomentoContext) -> list[str]:
    return list(context.args or [])


@staff_command()
async def summary(update: Update, context: MomentoContext) -> None:
    """/summary [touchpoint] [period] [tier]"""
    message, found = update.effective_message, context.services
    language = await staff_language(update, context)
    assert message is not None
    scope = await parse_scope(found.db, found.settings, _args(context), now=utcnow(), language=language)
    result = await build_summary(found.db, found.settings, scope)
    report = await asyncio.to_thread(render_summary, result, found.settings, language)
    if scope.touchpoint is not None:
        themes = await theme_lines(
            found.db, found.settings, scope.touchpoint, now=utcnow(), language=language
        )
        if themes:
            report = Report(report.text + "\n" + "\n".join(themes), report.chart)
    await send_report(message, report)


async def _period_report(
    update: Update,
    context: MomentoContext,
    build: Callable[..., Coroutine[Any, Any, Any]],
    render: Callable[[Any, Settings, str], Report],
) -> None:
    """Reports that take only a period: parse it, build from the database, render (charts) off the loop."""
    message, found = update.effective_message, context.services
    language = await staff_language(update, context)
    assert message is not None
    scope = await parse_scope(
        found.db,
        found.settings,
        _args(context),
        now=utcnow(),
        language=language,
        allow_touchpoint=False,
        allow_tier=False,
    )
    result = await build(found.db, found.settings, scope)
    await send_report(message, await asyncio.to_thread(render, result, found.settings, language))


@staff_command()
async def touchpoints(update: Update, context: MomentoContext) -> None:
    """/touchpoints [period]"""
    await _period_report(update, context, build_drivers, render_drivers)


@staff_command()
async def journey(update: Update, context: MomentoContext) -> None:
    """/journey [period]"""
    await _period_report(update, context, build_journey, render_journey)


@staff_command()
async def segments(update: Update, context: MomentoContext) -> None:
    """/segments [period]"""
    await _period_report(update, context, build_segments, render_segments)


@staff_command()
async def customer(update: Update, context: MomentoContext) -> None:
    """/customer <external id>"""
    message, found = update.effective_message, context.services
    language = await staff_language(update, context)
    assert message is not None
    history = await build_customer(found.db, " ".join(_args(context)), language)
    await send_report(message, render_customer(history, found.settings, language))


@staff_command()
async def quotes(update: Update, context: MomentoContext) -> None:
    """/quotes <touchpoint> [sentiment or emotion] [period], or /quotes <touchpoint> theme:<key>"""
    message, found = update.effective_message, context.services
    language = await staff_language(update, context)
    assert message is not None
    args = _args(context)
    theme = next((a for a in args if a.lower().startswith("theme:")), None)
    if theme is not None and found.settings.themes.enabled:
        keys = [tp.key for tp in found.settings.touchpoints]
        touchpoint = next((a.lower() for a in args if a.lower() in keys), None)
        report = await theme_quotes_report(
            found.db, found.settings, touchpoint, theme.split(":", 1)[1], now=utcnow(), language=language
        )
        await send_report(message, report)
        return
    request = await parse_quote_request(
        found.db, found.settings, _args(context), now=utcnow(), language=language
    )
    result = await build_quotes(found.db, request)
    await send_report(message, render_quotes(result, found.settings, language))


@staff_command()
async def themes(update: Update, context: MomentoContext) -> None:
    """/themes [touchpoint] [period] [tier]: what customers talk about, read from the precomputed runs."""
    message, found = update.effective_message, context.services
    language = await staff_language(update, context)
    assert message is not None
    if not found.settings.themes.enabled:
        await message.reply_text(translate(REPORTS, "themes_off", language))
        return
    touchpoint, label, tier = await parse_themes_request(
        found.db, found.settings, _args(context), language=language
    )
    result = await build_themes(found.db, found.settings, touchpoint, label, tier, now=utcnow())
    await send_report(message, await asyncio.to_thread(render_themes, result, found.settings, language))


@staff_command()
async def alerts(update: Update, context: MomentoContext) -> None:
    """/alerts: open alerts, oldest first, each as its card with the [Acknowledge / Resolve] buttons."""
    message, found = update.effective_message, context.services
    language = await staff_language(update, context)
    assert message is not None
    cards, total = await open_alert_cards(found.db, found.settings, limit=MAX_ALERT_CARDS, language=language)
    if not cards:
        await message.reply_text(translate(REPORTS, "alerts_none", language))
        return
    more = translate(REPORTS, "alerts_more", language, shown=len(cards)) if total > len(cards) else ""
    header = translate_plural(REPORTS, "alerts_header", total, language, count=total, more=more)
    await message.reply_text(header)
    for card in cards:
        keyboard = InlineKeyboardMarkup(
            [[InlineKeyboardButton(b.text, callback_data=b.data) for b in row] for row in card.buttons]
        )
        await message.reply_text(card.text, reply_markup=keyboard if card.buttons else None)


async def post_digest(context: MomentoContext) -> None:
    """Job: post the digest to the staff chat once it is due (remembered across restarts)."""
    found = context.services
    settings: Settings = found.settings
    chat_id = settings.telegram.staff_chat_id
    if chat_id is None:
        return
    due = await digest.due_digest(found.db, settings, utcnow())
    # Claimed before it is posted: whichever worker's clock fires first posts it, the others see it taken.
    if due is None or not await digest.claim(found.db, due):
        return
    language = pick_language(settings.survey.default_language)
    text = await digest.digest_text(found.db, settings, due, language)
    if text is not None:
        for chunk in split_message(text):
            await context.bot.send_message(chat_id, chunk)
        log.info("posted the %s digest %s to the staff chat", due.kind, due.key)


async def on_alert_press(update: Update, context: MomentoContext) -> None:
    """[Acknowledge / Resolve] on an alert card: recovery decides (staff only), the button never spins."""
    query, user = update.callback_query, update.effective_user
    if query is None:
        return
    if user is None:
        await query.answer(translate(COMMON, "button_unknown", user_language(update)))
        return
    result = await context.services.recovery.on_press(user.id, query.data or "")
    await query.answer(text=result.toast, show_alert=result.alert)


def register(application: MomentoApplication) -> None:
    application.add_handler(CallbackQueryHandler(on_alert_press, pattern=r"^al:"))
    for name, callback in (
        ("summary", summary),
        ("touchpoints", touchpoints),
        ("journey", journey),
        ("segments", segments),
        ("alerts", alerts),
        ("customer", customer),
        ("quotes", quotes),
        ("themes", themes),
    ):
        application.add_handler(CommandHandler(name, callback))
    settings = application.bot_data.settings
    if settings is not None and application.job_queue is not None and settings.reports.digest != "off":
        application.job_queue.run_repeating(
            post_digest, interval=DIGEST_CHECK_EVERY, first=DIGEST_FIRST_CHECK, name=DIGEST_JOB
        )

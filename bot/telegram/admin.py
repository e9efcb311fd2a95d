"""Admin commands: /staff add|remove|list and /export; staff and customers get the neutral refusal."""

from __future__ import annotations

import html
import tempfile
from pathlib import Path

from telegram import Update
from telegram.constants import ChatAction
from telegram.ext import CommandHandler

from bot.i18n import Catalogue, translate, translate_plural
from bot.reports.exports import ExportError, export_answers, parse_export_request
from bot.telegram.services import MomentoApplication, MomentoContext
from bot.telegram.staff import staff_command, staff_language
from storage import audit
from storage import staff as staff_repo
from storage.db import utcnow

# Telegram refuses documents over 50 MB sent by bots.
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024

# The texts are the admin.* messages of the catalogues in bot/locale (see bot.i18n).
ADMIN = Catalogue("admin")


def _parse_user_id(value: str) -> int | None:
    try:
        user_id = int(value)
    except ValueError:
        return None
    return user_id if user_id > 0 else None


@staff_command(admin=True)
async def staff(update: Update, context: MomentoContext) -> None:
    """/staff add <user id> [staff|admin] [name] · /staff remove <user id> · /staff list"""
    message, found = update.effective_message, context.services
    language = await staff_language(update, context)
    assert message is not None and update.effective_user is not None
    actor = update.effective_user.id
    args = list(context.args or [])
    action = args[0].lower() if args else "list"
    if action == "list":
        members = await staff_repo.list_staff(found.db)
        config_admins = found.settings.telegram.admin_user_ids
        lines = [translate(ADMIN, "list_header", language, count=len(config_admins) + len(members))]
        lines.extend(translate(ADMIN, "list_config", language, user=user) for user in config_admins)
        for member in members:
            if member.telegram_user_id in config_admins:
                continue
            name = f" · {html.escape(member.display_name)}" if member.display_name else ""
            lines.append(
                translate(
                    ADMIN, "list_row", language, user=member.telegram_user_id, role=member.role, name=name
                )
            )
        lines.extend(["", translate(ADMIN, "list_next", language)])
        await message.reply_text("\n".join(lines))
        return
    if action not in ("add", "remove") or len(args) < 2:
        await message.reply_text(translate(ADMIN, "staff_usage", language))
        return
    user_id = _parse_user_id(args[1])
    if user_id is None:
        await message.reply_text(translate(ADMIN, "bad_user_id", language, value=html.escape(args[1][:40])))
        return
    if action == "add":
        role = "staff"
        rest = args[2:]
        if rest and rest[0].lower() in ("staff", "admin"):
            role = rest[0].lower()
            rest = rest[1:]
        display_name = " ".join(rest).strip()[:64] or None
        await staff_repo.add_staff(
            found.db, user_id, "admin" if role == "admin" else "staff", actor, display_name
        )
        await audit.record(
            found.db,
            actor=f"telegram:{actor}",
            action="staff.add",
            subject=str(user_id),
            details={"role": role},
        )
        await message.reply_text(translate(ADMIN, "added", language, user=user_id, role=role))
        return
    if user_id in found.settings.telegram.admin_user_ids:
        await message.reply_text(translate(ADMIN, "config_admin", language, user=user_id))
        return
    if await staff_repo.remove_staff(found.db, user_id):
        await audit.record(found.db, actor=f"telegram:{actor}", action="staff.remove", subject=str(user_id))
        await message.reply_text(translate(ADMIN, "removed", language, user=user_id))
    else:
        await message.reply_text(translate(ADMIN, "not_staff", language, user=user_id))


@staff_command(admin=True)
async def export(update: Update, context: MomentoContext) -> None:
    """/export [csv|xlsx|jsonl] [answers|surveys] [period] [touchpoint]: a document, audited."""
    message, found = update.effective_message, context.services
    language = await staff_language(update, context)
    assert message is not None and update.effective_user is not None
    now = utcnow()
    try:
        request = parse_export_request(list(context.args or []), found.settings, now=now)
    except ExportError as exc:
        await message.reply_text(translate(ADMIN, "export_usage", language, reason=html.escape(str(exc))))
        return
    await message.reply_chat_action(ChatAction.UPLOAD_DOCUMENT)
    with tempfile.TemporaryDirectory(prefix="momento-export-") as folder:
        destination = Path(folder) / request.filename(now)
        try:
            result = await export_answers(
                found.db, request, destination, found.settings, actor=f"telegram:{update.effective_user.id}"
            )
        except ExportError as exc:
            await message.reply_text(translate(ADMIN, "export_usage", language, reason=html.escape(str(exc))))
            return
        size = destination.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            await message.reply_text(
                translate(ADMIN, "export_too_big", language, rows=result.rows, size=round(size / 2**20))
            )
            return
        caption = translate_plural(
            ADMIN,
            "export_caption" if request.rows == "answers" else "export_caption_surveys",
            result.rows,
            language,
            rows=result.rows,
            period=html.escape(request.period.label if request.period else "all"),
            touchpoint=f" · {request.touchpoint}" if request.touchpoint else "",
        )
        with destination.open("rb") as handle:
            await message.reply_document(handle, filename=destination.name, caption=caption)


def register(application: MomentoApplication) -> None:
    application.add_handler(CommandHandler("staff", staff))
    application.add_handler(CommandHandler("export", export))

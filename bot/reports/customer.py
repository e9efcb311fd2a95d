"""/customer: one customer's history — their surveys, what they said, and their alerts — for staff."""

from __future__ import annotations

import html
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.i18n import translate, translate_plural
from bot.reports.common import Report, ReportError, touchpoint_name
from bot.reports.texts import REPORTS
from storage import reports as report_queries
from storage.db import Database
from storage.reports import CustomerHistory

# Long answers are cut so one history fits a Telegram message (4096 characters).
ANSWER_PREVIEW = 200


async def build_customer(db: Database, external_id: str, language: str) -> CustomerHistory:
    if not external_id.strip():
        raise ReportError(translate(REPORTS, "customer_usage", language))
    found = await report_queries.customer_history(db, external_id.strip())
    if found is None:
        raise ReportError(translate(REPORTS, "customer_unknown", language, id=html.escape(external_id[:64])))
    return found


def _preview(text: str) -> str:
    cut = text if len(text) <= ANSWER_PREVIEW else text[: ANSWER_PREVIEW - 1] + "…"
    return html.escape(cut)


def render_customer(history: CustomerHistory, settings: Settings, language: str) -> Report:
    zone = ZoneInfo(settings.survey.default_timezone)
    lines = [
        f"<b>{translate(REPORTS, 'customer_title', language, id=html.escape(history.external_id))}</b>"
        + (f" · {html.escape(history.display_name)}" if history.display_name else ""),
        translate_plural(
            REPORTS,
            "customer_profile",
            history.events,
            language,
            tier=html.escape(history.tier),
            language=html.escape(history.language or "–"),
            consent=html.escape(history.consent),
            linked=translate(REPORTS, "linked" if history.linked else "not_linked", language),
            events=history.events,
        ),
    ]
    if history.erased:
        lines.append(translate(REPORTS, "erased", language))
    lines.append("")
    if not history.surveys:
        lines.append(translate(REPORTS, "customer_no_surveys", language))
    for survey in history.surveys:
        when = survey.at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        if survey.survey_id is None:
            heading = translate(REPORTS, "general_feedback", language)
        else:
            key = survey.touchpoint_key
            heading = touchpoint_name(settings, key, language) if key else html.escape(survey.kind)
        lines.append(f"<b>{when}</b> · {heading} · {html.escape(survey.status)}")
        for answer in survey.answers:
            parts = [html.escape(answer.question)]
            if answer.rating is not None:
                parts.append("★" * answer.rating + f" {answer.rating}/5")
            if answer.text:
                parts.append(f"“{_preview(answer.text)}”")
            if answer.sentiment:
                parts.append(f"({html.escape(answer.sentiment)}, {html.escape(answer.emotion or '–')})")
            lines.append("  · " + " ".join(parts))
    if history.alerts:
        lines.extend(["", translate(REPORTS, "customer_alerts", language)])
        for alert in history.alerts:
            when = alert.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
            lines.append(
                f"  · #{alert.alert_id} {when} {touchpoint_name(settings, alert.touchpoint_key, language)}: "
                f"{html.escape(alert.reason)} ({html.escape(alert.severity)}) — "
                f"{html.escape(alert.status)}"
            )
        lines.extend(["", translate(REPORTS, "customer_next", language)])
    return Report("\n".join(lines))

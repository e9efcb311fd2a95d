"""/quotes: the verbatims that show a touchpoint's sentiment or emotion most strongly, HTML-escaped.

"Most telling" = the highest model probability for the asked sentiment or emotion; without a filter, the
most extreme net sentiment either way. Longer answers win ties (they say more).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.i18n import translate
from bot.reports.common import Report, ReportError, touchpoint_ids, touchpoint_name, try_longer
from bot.reports.numbers import pct, signed
from bot.reports.periods import Period, PeriodError, looks_like_period, parse_period
from bot.reports.texts import REPORTS
from storage import reports as report_queries
from storage.db import Database
from storage.reports import Quote

SENTIMENTS = ("negative", "neutral", "positive")
QUOTE_LIMIT = 5
QUOTE_CHARS = 500


@dataclass(frozen=True, slots=True)
class QuoteRequest:
    touchpoint: str
    period: Period
    sentiment: str | None = None
    emotion: str | None = None


@dataclass(frozen=True, slots=True)
class Quotes:
    request: QuoteRequest
    quotes: list[Quote]


async def parse_quote_request(
    db: Database, settings: Settings, args: list[str], *, now: datetime, language: str
) -> QuoteRequest:
    keys = [tp.key for tp in settings.touchpoints]
    if not args or args[0].lower() not in keys:
        raise ReportError(translate(REPORTS, "quotes_usage", language, touchpoints=", ".join(keys) or "–"))
    touchpoint = args[0].lower()
    period_text: str | None = None
    sentiment: str | None = None
    emotion: str | None = None
    for raw in args[1:]:
        value = raw.strip().lower()
        if looks_like_period(value) and period_text is None:
            period_text = value
        elif value in SENTIMENTS and sentiment is None and emotion is None:
            sentiment = value
        elif sentiment is None and emotion is None:
            _, emotions = await report_queries.known_labels(db)
            if value not in emotions:
                raise ReportError(
                    translate(
                        REPORTS,
                        "quotes_bad_filter",
                        language,
                        value=html.escape(raw[:40]),
                        emotions=html.escape(", ".join(sorted(emotions))) or "–",
                    )
                )
            emotion = value
        else:
            raise ReportError(translate(REPORTS, "quotes_usage", language, touchpoints=", ".join(keys)))
    try:
        period = parse_period(period_text, now=now, timezone=settings.survey.default_timezone)
    except PeriodError as exc:
        raise ReportError(translate(REPORTS, "bad_period", language, reason=html.escape(str(exc)))) from exc
    return QuoteRequest(touchpoint, period, sentiment, emotion)


async def build_quotes(db: Database, request: QuoteRequest) -> Quotes:
    tp_id = (await touchpoint_ids(db)).get(request.touchpoint)
    if tp_id is None:
        return Quotes(request, [])
    found = await report_queries.quotes(
        db,
        tp_id,
        request.period.start,
        request.period.end,
        sentiment=request.sentiment,
        emotion=request.emotion,
        limit=QUOTE_LIMIT * 4,
    )
    # The same words from several customers are one quote: show the next telling one instead.
    distinct: dict[str, Quote] = {}
    for quote in found:
        distinct.setdefault(" ".join(quote.text.casefold().split()), quote)
    return Quotes(request, list(distinct.values())[:QUOTE_LIMIT])


def render_quotes(quotes: Quotes, settings: Settings, language: str) -> Report:
    request = quotes.request
    zone = ZoneInfo(settings.survey.default_timezone)
    label = request.sentiment or request.emotion or translate(REPORTS, "quotes_most_telling", language)
    name = touchpoint_name(settings, request.touchpoint, language)
    lines = [
        "<b>"
        + translate(
            REPORTS,
            "quotes_title",
            language,
            name=name,
            filter=html.escape(label),
            period=request.period.label,
        )
        + "</b>",
        "",
    ]
    if not quotes.quotes:
        words = " ".join(
            w for w in ("/quotes", request.touchpoint, request.sentiment or request.emotion) if w
        )
        lines.append(
            translate(REPORTS, "quotes_none", language, hint=try_longer(words, request.period, language))
        )
        return Report("\n".join(lines))
    for quote in quotes.quotes:
        text = quote.text if len(quote.text) <= QUOTE_CHARS else quote.text[: QUOTE_CHARS - 1] + "…"
        when = quote.received_at.astimezone(zone).strftime("%Y-%m-%d")
        lines.append(f"“{html.escape(text)}”")
        lines.append(
            f"<i>{when} · {html.escape(quote.tier)} · {html.escape(quote.sentiment)} "
            f"{signed(quote.sentiment_score, 2, language)} · {html.escape(quote.emotion)} · "
            f"{pct(quote.strength, language)}</i>"
        )
        lines.append("")
    lines.append(translate(REPORTS, "quotes_next", language, key=request.touchpoint))
    return Report("\n".join(lines))

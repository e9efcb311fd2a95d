"""Every conclusion a report draws is true: exact figures on seed_conclusions, where the old wording misled
(a journey that ends at delivery called blocked, a support call counted as a comeback, responses fewer than
ratings, a change against a period without data), and every suggested command runs as typed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.i18n import translate_plural
from bot.reports.common import Scope, parse_scope
from bot.reports.drivers import build_drivers, render_drivers
from bot.reports.exports import parse_export_request
from bot.reports.journey import build_journey, render_journey
from bot.reports.periods import parse_period
from bot.reports.quotes import build_quotes, parse_quote_request, render_quotes
from bot.reports.segments import build_segments, render_segments
from bot.reports.summary import build_summary, render_summary
from bot.reports.texts import REPORTS
from storage.db import Database
from tests.support.report_data import NOW, make_settings, seed_conclusions, seed_known

COMMAND = re.compile(r"/(summary|touchpoints|journey|segments|quotes|export)((?: [a-z0-9_][a-z0-9_.\-]*)*)")


async def open_seeded(tmp_path: Path, seed: Any, **options: Any) -> tuple[Database, Settings]:
    settings = make_settings(tmp_path, **options)
    db = await Database.open(settings.storage.path)
    await seed(db)
    return db, settings


def scope(text: str | None = None, **kwargs: Any) -> Scope:
    return Scope(period=parse_period(text, now=NOW, timezone="UTC"), **kwargs)


async def test_a_journey_that_ends_at_delivery_is_not_blocked_there(tmp_path: Path) -> None:
    db, settings = await open_seeded(tmp_path, seed_conclusions, ends=("delivery",))
    try:
        text = render_journey(await build_journey(db, settings, scope()), settings, "en").text
        assert "· delivery → support call: 3 · –" in text
        assert "· store visit → delivery: 1 · 100.0%" in text
        # Drop-out only before the journey's end: c6's store visit (day 10) led nowhere, c1's did.
        assert "the journey is meant to end at delivery, support call" in text
        assert "· after store visit: 50.0% of 2" in text
        assert "after delivery" not in text and "Blocked" not in text
        # Unmarked, the same data would call delivery blocked (c4 and c5 went no further).
        unmarked = make_settings(tmp_path)
        text = render_journey(await build_journey(db, unmarked, scope()), unmarked, "en").text
        assert "· after delivery: 33.3% of 6" in text
        assert "⛔ Blocked: after delivery 33.3% of customers go no further." in text
    finally:
        await db.close()


async def test_coming_back_is_a_new_visit_not_a_support_call(tmp_path: Path) -> None:
    db, settings = await open_seeded(tmp_path, seed_conclusions, comeback_touchpoints=["store_visit"])
    try:
        report = await build_drivers(db, settings, scope())
        delivery = next(o for o in report.outcomes if o.key == "delivery")
        # c1–c3 called support after their bad delivery: contact, not a comeback. c6 came back to the store.
        assert (delivery.negative_events, delivery.negative_comeback) == (5, 0.0)
        assert (delivery.positive_events, delivery.positive_comeback) == (1, 1.0)
        text = render_drivers(report, settings, "en").text
        assert "came back = a new store visit within 60d" in text
        assert (
            "· delivery: after a positive experience 100.0% (n=1) came back, after a negative one 0.0% (n=5)"
            in text
        )
        # No amounts in the data: no "0.00 vs 0.00" line.
        assert "amount per visit" not in text and "spent afterwards" not in text
        # Counting any later contact (support calls too) would have said 60%.
        contact = make_settings(tmp_path, comeback_touchpoints=["store_visit", "support_call"])
        anything = await build_drivers(db, contact, scope())
        assert next(o for o in anything.outcomes if o.key == "delivery").negative_comeback == pytest.approx(
            0.6
        )
    finally:
        await db.close()


async def test_amounts_are_shown_only_where_there_are_amounts(tmp_path: Path) -> None:
    db, settings = await open_seeded(tmp_path, seed_known)
    try:
        text = render_drivers(await build_drivers(db, settings, scope()), settings, "en").text
        # seed_known's surveyed store visit (c1, 20.00) and delivery (c1, 50.00) carry amounts; no comeback
        # (a new store visit) spent anything.
        assert "  amount per visit 50.00 vs –" in text
        assert "spent afterwards" not in text
    finally:
        await db.close()


async def test_counts_agree_with_each_other(tmp_path: Path) -> None:
    db, settings = await open_seeded(tmp_path, seed_conclusions)
    try:
        summary = await build_summary(db, settings, scope())
        now = summary.current
        # Six deliveries invited on day 20, all answered, c5's still in progress: 6 responses, 5 completed,
        # 6 ratings (2, 2, 1, 2, 2, 5). c4's store visit was invited before the period: not counted, although
        # its rating arrived inside it.
        assert (now.invited, now.responses, now.completed, now.ratings) == (6, 6, 5, 6)
        assert now.invited >= now.responses >= now.completed and now.responses >= now.ratings
        text = render_summary(summary, settings, "en", with_chart=False).text
        assert "Responses: <b>6</b> of 6 invited (100.0%) · 5 completed" in text
        assert "CSAT (4–5): <b>16.7%</b> of 6 ratings · mean 2.3/5" in text
        assert "over 6 surveys" in text
        # Segments count the same ratings: gold c1–c3 (2, 2, 1), standard c4–c6 (2, 2, 5).
        segments = render_segments(await build_segments(db, settings, scope()), settings, "en").text
        assert "<b>gold</b>: CSAT 0.0% (minimum 40.0%) · 3 ratings" in segments
        assert "<b>standard</b>: CSAT 33.3% (minimum 50.0%) · 3 ratings" in segments
    finally:
        await db.close()


async def test_a_change_is_shown_only_against_a_period_with_data(tmp_path: Path) -> None:
    db, settings = await open_seeded(tmp_path, seed_known)
    try:
        # 7d: S2 (4), S3 (2) rated, S4 unanswered; the 7 days before: S5 (3), S1 (5), S6 (1), all answered.
        # Data began on day 40, before that earlier week: the comparison is fair.
        text = render_summary(await build_summary(db, settings, scope("7d")), settings, "en").text
        assert "Responses: <b>2</b> of 3 invited (66.7%) · 2 completed ▼ −33.3%" in text
        assert "CSAT (4–5): <b>50.0%</b> of 2 ratings · mean 3.0/5 ▲ +16.7 pts" in text
        assert "Changes are against the 7 days before." in text
        # 60d: the 60 days before began on 2026-07-26, long before the first survey (day 40).
        text = render_summary(await build_summary(db, settings, scope("60d")), settings, "en").text
        assert "No earlier data" in text and "▲" not in text and "▼" not in text
    finally:
        await db.close()


async def test_gap_headings_match_the_gaps(tmp_path: Path) -> None:
    db, settings = await open_seeded(tmp_path, seed_known)
    try:
        negative = render_drivers(await build_drivers(db, settings, scope()), settings, "en").text
        assert "(most negative first)" in negative
        # Only S7 (15 Oct): experience 0.5 against an expectation of 0.5.
        october = scope("2026-10-01..2026-10-20")
        text = render_drivers(await build_drivers(db, settings, october), settings, "en").text
        assert "most negative" not in text
        assert "experience met or beat expectations everywhere" in text
        assert "· delivery: 0.00 over 1 survey\n" in text or text.endswith("· delivery: 0.00 over 1 survey")
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("key", "n", "language", "expected"),
    [
        ("completed", 1, "en", "1 completed"),
        ("completed", 1, "es", "1 completada"),
        ("completed", 2, "es", "2 completadas"),
        ("gap_row", 1, "es", "· entrega: +0,10 en 1 encuesta"),
        ("gap_row", 3, "es", "· entrega: +0,10 en 3 encuestas"),
    ],
)
def test_plurals_in_both_languages(key: str, n: int, language: str, expected: str) -> None:
    assert translate_plural(
        REPORTS, key, n, language, completed=n, name="entrega", gap="+0,10", surveys=n
    ) == (expected)


def test_a_single_invitation_reads_right_in_spanish() -> None:
    one = translate_plural(
        REPORTS, "responses", 1, "es", responses=0, invited=1, rate="0,0 %", completed="", change=""
    )
    assert "de 1 invitado (" in one
    many = translate_plural(
        REPORTS, "responses", 2, "es", responses=0, invited=2, rate="0,0 %", completed="", change=""
    )
    assert "de 2 invitados (" in many


async def run_suggestion(db: Database, settings: Settings, line: str) -> None:
    """A "Next:"/"Try" command, parsed by the parser its command uses (raises if it would be refused)."""
    known = {tp.key for tp in settings.touchpoints} | {
        "gold",
        "standard",
        "negative",
        "neutral",
        "positive",
        "joy",
    }
    known |= {"all", "this-week", "last-week", "this-month", "last-month", "csv", "xlsx", "jsonl", "surveys"}
    for match in COMMAND.finditer(line):
        command, words = match.group(1), []
        # The command's arguments end where the sentence goes on ("… 30d for details").
        for word in match.group(2).split():
            word = word[:-1] if word.endswith(".") and not word.endswith("..") else word
            if word not in known and not any(ch.isdigit() for ch in word):
                break
            words.append(word)
        if command == "quotes":
            await parse_quote_request(db, settings, words, now=NOW, language="en")
        elif command == "export":
            parse_export_request(words, settings, now=NOW)
        elif command == "summary":
            await parse_scope(db, settings, words, now=NOW, language="en")
        else:
            await parse_scope(
                db, settings, words, now=NOW, language="en", allow_touchpoint=False, allow_tier=False
            )


async def test_every_suggested_command_works_as_typed(tmp_path: Path) -> None:
    db, settings = await open_seeded(tmp_path, seed_known)
    try:
        texts = []
        for period in ("7d", "30d", "90d", "365d", "all", "last-week", "2026-10", "2020-01-01..2020-01-31"):
            for builder, renderer in (
                (build_summary, render_summary),
                (build_drivers, render_drivers),
                (build_journey, render_journey),
            ):
                texts.append(
                    renderer(
                        await builder(db, settings, scope(period)), settings, "en", with_chart=False
                    ).text
                )
            texts.append(
                render_segments(await build_segments(db, settings, scope(period)), settings, "en").text
            )
            texts.append(
                render_summary(
                    await build_summary(db, settings, scope(period, touchpoint="delivery")),
                    settings,
                    "en",
                    with_chart=False,
                ).text
            )
            for words in (
                ["delivery", period],
                ["support_call", "negative", period],
                ["delivery", "joy", period],
            ):
                request = await parse_quote_request(db, settings, words, now=NOW, language="en")
                texts.append(render_quotes(await build_quotes(db, request), settings, "en").text)
        found = [line for text in texts for line in text.split("\n") if COMMAND.search(line)]
        assert len(found) > 40
        for line in found:
            await run_suggestion(db, settings, line)
        joined = "\n".join(texts)
        # The old refusals: "/quotes delivery most telling 90d", and a period suggesting itself.
        assert "most telling 90d" not in joined
        assert "Try a longer period: /quotes support_call negative 90d" in joined
        empty = render_journey(
            await build_journey(db, settings, scope("2020-01-01..2020-01-31")), settings, "en"
        )
        assert "Try a longer period: /journey 90d" in empty.text
        ninety = render_drivers(await build_drivers(db, settings, scope("90d")), settings, "en").text
        assert "/touchpoints 90d" not in ninety
    finally:
        await db.close()


@pytest.mark.parametrize(
    "period", ["last-week", "last-month", "this-week", "2026-10", "7d", "2026-10-01..2026-10-31"]
)
async def test_every_command_reads_the_same_periods(tmp_path: Path, period: str) -> None:
    db, settings = await open_seeded(tmp_path, seed_known)
    try:
        expected = parse_period(period, now=NOW, timezone="UTC")
        summary = await parse_scope(db, settings, ["delivery", period, "gold"], now=NOW, language="en")
        only_period = await parse_scope(
            db, settings, [period], now=NOW, language="en", allow_touchpoint=False, allow_tier=False
        )
        quotes = await parse_quote_request(
            db, settings, ["delivery", "negative", period], now=NOW, language="en"
        )
        export = parse_export_request(["xlsx", period, "delivery"], settings, now=NOW)
        assert summary.period == only_period.period == quotes.period == export.period == expected
    finally:
        await db.close()

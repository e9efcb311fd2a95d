"""Staff reports on a hand-seeded database: every figure is computed by hand in the comments."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.config import Settings
from bot.reports.charts import Chart
from bot.reports.common import ReportError, Scope, parse_scope
from bot.reports.customer import build_customer, render_customer
from bot.reports.digest import claim, digest_text, due_digest, mark_sent
from bot.reports.drivers import build_drivers, correlation, render_drivers
from bot.reports.journey import build_journey, render_journey
from bot.reports.periods import PeriodError, parse_period
from bot.reports.quotes import build_quotes, parse_quote_request, render_quotes
from bot.reports.segments import build_segments, render_segments
from bot.reports.summary import build_summary, render_summary
from storage.db import Database
from storage.reports import DriverSums
from tests.support.postgres import BOTH_ENGINES
from tests.support.report_data import NOW, Seeder, days, make_settings, seed_known


@pytest.fixture
async def seeded(tmp_path: Path, storage_target: str | Path) -> Any:
    settings = make_settings(tmp_path)
    db = await Database.open(storage_target)
    seed = await seed_known(db)
    try:
        yield db, settings, seed
    finally:
        await db.close()


def scope(settings: Settings, text: str | None = None, **kwargs: Any) -> Scope:
    return Scope(period=parse_period(text, now=NOW, timezone=settings.survey.default_timezone), **kwargs)


def assert_png(chart: Chart | None, title: str, dates: str = "2026-10-25 to 2026-11-24 (UTC)") -> None:
    """A PNG sharp on a phone (≥ 1280 px wide) whose title says what, and the dates it covers."""
    assert chart is not None
    assert chart.png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(chart.png))
    image.load()
    assert image.info["Title"] == chart.title == f"{title}\n{dates}"
    assert image.size[0] >= 1280


@BOTH_ENGINES
async def test_summary_of_all_touchpoints_gives_the_hand_computed_figures(seeded: Any) -> None:
    db, settings, _ = seeded
    report = render_summary(await build_summary(db, settings, scope(settings)), settings, "en")
    text = report.text
    # 6 invited in the period (S1–S6), 5 answered and completed.
    assert "Responses: <b>5</b> of 6 invited (83.3%) · 5 completed\n" in text
    # Ratings 3, 5, 1, 4, 2: two of five are 4–5; mean 3.0.
    assert "CSAT (4–5): <b>40.0%</b> of 5 ratings · mean 3.0/5\n" in text
    # Experience scores 0.0, 0.8, −0.9, 0.4, −0.7: net −0.08.
    assert "Sentiment: 😊 40.0% · 😐 20.0% · 😞 40.0% · net <b>−0.08</b>\n" in text
    assert "Top emotions: anger 2, joy 2" in text
    # Gaps 0.0, 0.6, −1.2, −0.2, −1.2 -> −0.40.
    assert "Expectation → experience gap: <b>−0.40</b> over 5 surveys\n" in text
    # The 30 days before started 2026-09-25; the first survey went out on 2026-10-15: nothing to compare.
    assert "▲" not in text and "▼" not in text
    assert "No earlier data for a period of the same length: no change shown." in text
    # One open alert; resolved in 2 h and 4 h -> median 3 h.
    assert "Alerts: <b>1</b> open · median time to resolve 3h 00m" in text
    assert "1. delivery: 66.7% · 3 · +0.17" in text
    assert "2. store visit: 0.0% · 2 · −0.45" in text
    assert "/summary store_visit 30d" in text  # what to do next: the weakest touchpoint
    assert_png(report.chart, "CSAT by touchpoint · 30d")
    assert report.chart is not None and report.chart.limits == (0.0, 100.0)
    assert report.chart.values == pytest.approx((200 / 3, 0.0))


@BOTH_ENGINES
async def test_summary_of_one_touchpoint_and_one_tier(seeded: Any) -> None:
    db, settings, _ = seeded
    delivery = render_summary(
        await build_summary(db, settings, scope(settings, touchpoint="delivery")), settings, "en"
    )
    assert "Responses: <b>3</b> of 4 invited (75.0%)" in delivery.text
    assert "CSAT (4–5): <b>66.7%</b> of 3 ratings · mean 3.7/5\n" in delivery.text
    assert "gap: <b>−0.27</b> over 3 surveys" in delivery.text
    # The trend: weekly CSAT from 25 Oct; S1 (rated 5) in the week of 8 Nov, S2 (4) and S3 (2) in that of
    # 15 Nov.
    assert_png(delivery.chart, "Weekly trend · delivery · 30d")
    assert delivery.chart is not None and delivery.chart.limits == (0.0, 100.0)
    assert delivery.chart.values == pytest.approx((100.0, 50.0))
    gold = render_summary(await build_summary(db, settings, scope(settings, tier="gold")), settings, "en")
    # Gold customers c1, c2, c3 rated 3, 5, 1, 4.
    assert "CSAT (4–5): <b>50.0%</b> of 4 ratings · mean 3.2/5" in gold.text
    assert "all touchpoints, tier gold" in gold.text


@BOTH_ENGINES
async def test_summary_in_spanish_uses_decimal_commas(seeded: Any) -> None:
    db, settings, _ = seeded
    report = render_summary(await build_summary(db, settings, scope(settings)), settings, "es")
    assert "Respuestas: <b>5</b> de 6 invitados (83,3 %)" in report.text
    assert "1. entrega: 66,7 % · 3 · +0,17" in report.text


@BOTH_ENGINES
async def test_empty_period_says_what_to_try(seeded: Any) -> None:
    db, settings, _ = seeded
    period = scope(settings, "2020-01-01..2020-01-31")
    report = render_summary(await build_summary(db, settings, period), settings, "en")
    assert "No answers in this period yet" in report.text
    assert report.chart is None


@BOTH_ENGINES
async def test_segments_flag_the_tier_below_its_minimum(seeded: Any) -> None:
    db, settings, _ = seeded
    text = render_segments(await build_segments(db, settings, scope(settings)), settings, "en").text
    # standard: only c4 rated (2) -> 0.0% < 50.0%; gold: 50.0% >= 40.0%.
    assert "🔴 <b>standard</b>: CSAT 0.0% (minimum 50.0%) · 1 rating · mean 2.0/5 · net −0.70" in text
    assert "🟢 <b>gold</b>: CSAT 50.0% (minimum 40.0%) · 4 ratings · mean 3.2/5 · net +0.08" in text
    assert "Below the minimum: standard" in text
    assert text.index("standard") < text.index("gold")


@BOTH_ENGINES
async def test_journey_counts_transitions_negative_turns_and_dropouts(seeded: Any) -> None:
    db, settings, _ = seeded
    journey = await build_journey(db, settings, scope(settings))
    report = render_journey(journey, settings, "en")
    # c1 and c4 went store visit -> delivery; c4's delivery was negative after an unsurveyed visit.
    assert "· store visit → delivery: 2 · 50.0%" in report.text
    # Store visits: c1, c3, c4 -> c3 went nowhere. Deliveries: c1, c2, c4, c5 -> none went further.
    assert "· after store visit: 33.3% of 3" in report.text
    assert "· after delivery: 100.0% of 4" in report.text
    assert_png(report.chart, "Journey transitions · 30d")
    assert report.chart is not None and report.chart.values == (2.0,)


@BOTH_ENGINES
async def test_touchpoints_report_gaps_comebacks_and_amounts(seeded: Any) -> None:
    db, settings, _ = seeded
    result = await build_drivers(db, settings, scope(settings))
    # Fewer than five customers per touchpoint: correlations are not ranked, but listed.
    assert [d.key for d in result.drivers] == ["delivery", "store_visit"]
    assert all(d.impact is None for d in result.drivers)
    assert result.gaps == [
        ("store_visit", pytest.approx(-0.6), 2),
        ("delivery", pytest.approx(-0.8 / 3), 3),
    ]
    text = render_drivers(result, settings, "en").text
    assert "· store visit: −0.60 over 2 surveys" in text
    # c1's neutral store visit was followed by the delivery (a comeback); the negative one (c3) was not.
    outcomes = {o.key: o for o in result.outcomes}
    assert outcomes["store_visit"].negative_comeback == 0.0
    assert outcomes["delivery"].positive_comeback == 0.0
    assert outcomes["delivery"].positive_amount == pytest.approx(50.0)
    assert (
        "· delivery: after a positive experience 0.0% (n=2) came back, after a negative one 0.0% (n=1)"
        in text
    )


def test_key_driver_correlation_and_weight() -> None:
    # x = (1, 2, 3, 4, 5), y = (2, 4, 6, 8, 10): r = 1; y reversed: r = −1.
    xs, ys = [1.0, 2, 3, 4, 5], [2.0, 4, 6, 8, 10]
    sums = DriverSums(
        1,
        5,
        sum(xs),
        sum(ys),
        sum(x * x for x in xs),
        sum(y * y for y in ys),
        sum(x * y for x, y in zip(xs, ys, strict=True)),
    )
    assert correlation(sums) == pytest.approx(1.0)
    flipped = DriverSums(
        1,
        5,
        sum(xs),
        sum(ys),
        sum(x * x for x in xs),
        sum(y * y for y in ys),
        sum(x * y for x, y in zip(xs, reversed(ys), strict=True)),
    )
    assert correlation(flipped) == pytest.approx(-1.0)
    assert correlation(DriverSums(1, 4, 1, 1, 1, 1, 1)) is None


async def test_key_drivers_rank_by_correlation_times_weight(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    async with await Database.open(settings.storage.path) as db:
        seed = Seeder(db)
        await seed.setup()
        # Five customers (c1..c5): delivery experience tracks their rating exactly (r = 1, weight 1.5);
        # store visit experience runs against it (r = −1, weight 1).
        for i, name in enumerate(["c1", "c2", "c3", "c4", "c5"]):
            rating = i + 1
            score = -1 + i * 0.5
            await seed.survey(
                f"d{i}",
                name,
                "delivery",
                days(5),
                rating=rating,
                experience=score,
                expectation=0.0,
                sentiment="neutral",
            )
            await seed.survey(
                f"s{i}",
                name,
                "store_visit",
                days(6),
                rating=rating,
                experience=-score,
                expectation=0.0,
                sentiment="neutral",
            )
        result = await build_drivers(db, settings, scope(settings))
        assert [(d.key, round(d.impact or 0, 6)) for d in result.drivers] == [
            ("delivery", 1.5),
            ("store_visit", -1.0),
        ]
        report = render_drivers(result, settings, "en")
        assert "1. delivery: impact <b>+1.50</b> (r +1.00 × weight 1.5, 5 customers)" in report.text
        assert "Next: improve delivery first" in report.text
        # Signed: store visit pulls satisfaction down, so its bar is drawn below zero.
        assert_png(report.chart, "Key drivers of satisfaction · 30d")
        assert report.chart is not None and report.chart.values == pytest.approx((1.5, -1.0))
        low, high = report.chart.limits
        assert low < -1.0 and high > 1.5 and low == -high


@BOTH_ENGINES
async def test_quotes_are_the_most_telling_and_escaped(seeded: Any) -> None:
    db, settings, _ = seeded
    request = await parse_quote_request(db, settings, ["delivery", "negative"], now=NOW, language="en")
    text = render_quotes(await build_quotes(db, request), settings, "en").text
    assert "“&lt;b&gt;Late&lt;/b&gt; &amp; broken =SUM(A1)”" in text
    assert "Fast and friendly" not in text
    by_emotion = await parse_quote_request(db, settings, ["delivery", "joy"], now=NOW, language="en")
    text = render_quotes(await build_quotes(db, by_emotion), settings, "en").text
    assert "Fast and friendly" in text and "Good, a bit late" in text and "Late" not in text.split("“")[0]
    with pytest.raises(ReportError, match="neither a sentiment"):
        await parse_quote_request(db, settings, ["delivery", "furious"], now=NOW, language="en")
    with pytest.raises(ReportError, match="Which touchpoint"):
        await parse_quote_request(db, settings, [], now=NOW, language="en")


@BOTH_ENGINES
async def test_customer_history_shows_answers_and_alerts(seeded: Any) -> None:
    db, settings, _ = seeded
    text = render_customer(await build_customer(db, "C4", "en"), settings, "en").text
    assert "<b>Customer C4</b> · Name c4" in text
    assert "Tier standard" in text and "2 touchpoint events" in text
    assert "“&lt;b&gt;Late&lt;/b&gt; &amp; broken =SUM(A1)” (negative, anger)" in text
    assert "rating ★★ 2/5" in text
    assert "low_rating (high) — open" in text
    with pytest.raises(ReportError, match="No customer has the id “nobody”"):
        await build_customer(db, "nobody", "en")


@BOTH_ENGINES
async def test_arguments_in_any_order_and_clear_errors(seeded: Any) -> None:
    db, settings, _ = seeded
    parsed = await parse_scope(db, settings, ["gold", "7d", "delivery"], now=NOW, language="en")
    assert (parsed.touchpoint, parsed.tier, parsed.period.start) == (
        "delivery",
        "gold",
        NOW - timedelta(days=7),
    )
    with pytest.raises(ReportError, match=r"“bogus” is not a touchpoint\. Touchpoints: store_visit"):
        await parse_scope(db, settings, ["bogus"], now=NOW, language="en")
    # Each unknown word is named as what it was surely meant to be: a period, a tier, a touchpoint.
    with pytest.raises(ReportError, match="That period doesn't work: “lastweek”"):
        await parse_scope(db, settings, ["lastweek"], now=NOW, language="en")
    with pytest.raises(ReportError, match=r"“golden” is not a customer tier\. Tiers: gold, standard"):
        await parse_scope(db, settings, ["golden"], now=NOW, language="en")
    with pytest.raises(ReportError, match="“delivery”: here only a period works"):
        await parse_scope(
            db, settings, ["delivery"], now=NOW, language="en", allow_touchpoint=False, allow_tier=False
        )
    with pytest.raises(ReportError, match="does not exist"):
        await parse_scope(db, settings, ["2026-02-30..2026-03-01"], now=NOW, language="en")


def test_periods() -> None:
    month = parse_period("this-month", now=NOW, timezone="Europe/Madrid")
    assert month.start == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)  # 1 Nov, local midnight (UTC+1)
    assert month.end == NOW
    span = parse_period("2026-01-01..2026-01-31", now=NOW, timezone="UTC")
    assert (span.start, span.end) == (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
    assert span.previous().start == datetime(2025, 12, 1, tzinfo=UTC)
    assert parse_period(None, now=NOW, timezone="UTC").length == timedelta(days=30)
    # Weeks start on Monday, months on the 1st, local time (NOW is Tuesday 24 Nov 2026, 12:00 UTC).
    madrid = "Europe/Madrid"
    this_week = parse_period("this-week", now=NOW, timezone=madrid)
    assert (this_week.start, this_week.end) == (datetime(2026, 11, 22, 23, 0, tzinfo=UTC), NOW)
    last_week = parse_period("last-week", now=NOW, timezone=madrid)
    assert (last_week.start, last_week.end) == (
        datetime(2026, 11, 15, 23, 0, tzinfo=UTC),
        datetime(2026, 11, 22, 23, 0, tzinfo=UTC),
    )
    last_month = parse_period("last-month", now=NOW, timezone=madrid)
    assert (last_month.start, last_month.end) == (
        datetime(2026, 9, 30, 22, 0, tzinfo=UTC),  # 1 Oct, summer time (UTC+2)
        datetime(2026, 10, 31, 23, 0, tzinfo=UTC),
    )
    october = parse_period("2026-10", now=NOW, timezone="UTC")
    assert (october.start, october.end) == (
        datetime(2026, 10, 1, tzinfo=UTC),
        datetime(2026, 11, 1, tzinfo=UTC),
    )
    december = parse_period("2026-12", now=NOW, timezone="UTC")
    assert december.end == datetime(2027, 1, 1, tzinfo=UTC)
    january = parse_period("last-month", now=datetime(2027, 1, 10, tzinfo=UTC), timezone="UTC")
    assert january.start == datetime(2026, 12, 1, tzinfo=UTC)
    for bad in ("0d", "yesterday", "2026-02-01..2026-01-01", "2026-13", "1999-12"):
        with pytest.raises(PeriodError):
            parse_period(bad, now=NOW, timezone="UTC")


@BOTH_ENGINES
async def test_digest_is_due_once_per_day_and_survives_restarts(seeded: Any) -> None:
    db, settings, _ = seeded
    daily = settings.model_copy(update={"reports": settings.reports.model_copy(update={"digest": "daily"})})
    before = datetime(2026, 11, 19, 8, 0, tzinfo=UTC)  # 08:00 < 08:30
    assert await due_digest(db, daily, before) is None
    at = datetime(2026, 11, 19, 8, 31, tzinfo=UTC)
    due = await due_digest(db, daily, at)
    assert due is not None and due.key == "daily:2026-11-19"
    text = await digest_text(db, daily, due)
    # 18 Nov (NOW − 6 d) holds only c4's store visit, which was not surveyed: nothing to say.
    assert text is None
    await mark_sent(db, due)
    assert await due_digest(db, daily, at + timedelta(hours=3)) is None
    next_day = await due_digest(db, daily, at + timedelta(days=1))
    assert next_day is not None and next_day.key == "daily:2026-11-20"


@BOTH_ENGINES
async def test_a_due_digest_is_claimed_by_exactly_one_of_several_workers(
    seeded: Any, storage_target: str | Path
) -> None:
    """Each worker's clock fires at digest time; one database handle per worker, all claiming at once."""
    db, settings, _ = seeded
    daily = settings.model_copy(update={"reports": settings.reports.model_copy(update={"digest": "daily"})})
    due = await due_digest(db, daily, datetime(2026, 11, 19, 8, 31, tzinfo=UTC))
    assert due is not None
    workers = [await Database.open(storage_target) for _ in range(4)]
    try:
        won = await asyncio.gather(*(claim(worker, due) for worker in workers for _ in range(3)))
    finally:
        for worker in workers:
            await worker.close()
    assert sorted(won) == [False] * 11 + [True]
    assert await due_digest(db, daily, datetime(2026, 11, 19, 9, 0, tzinfo=UTC)) is None


@BOTH_ENGINES
async def test_weekly_digest_summarises_last_week(seeded: Any) -> None:
    db, settings, _ = seeded
    weekly = settings.model_copy(update={"reports": settings.reports.model_copy(update={"digest": "weekly"})})
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    due = await due_digest(db, weekly, monday)
    assert due is not None and due.key == "weekly:2026-W48"
    assert (due.period.start, due.period.end) == (datetime(2026, 11, 16, tzinfo=UTC), monday.replace(hour=0))
    text = await digest_text(db, weekly, due)
    # Week of 16–22 Nov: S6 (16 Nov, rating 1), S2 (17 Nov, 4), S3 (19 Nov, 2); S4 (21 Nov) unanswered.
    assert text is not None
    assert text.startswith("<b>📅 Weekly digest</b>")
    assert "Responses: <b>3</b> of 4 invited (75.0%)" in text
    assert "CSAT (4–5): <b>33.3%</b> of 3 ratings · mean 2.3/5" in text


@BOTH_ENGINES
async def test_the_same_words_are_quoted_once(seeded: Any) -> None:
    db, settings, seed = seeded
    for day in (2, 4):
        await seed.survey(
            f"dup{day}",
            "c5",
            "delivery",
            days(day),
            rating=1,
            experience=-0.8,
            expectation=0.0,
            sentiment="negative",
            emotion="anger",
            text="<b>Late</b>  & BROKEN =sum(a1)",
        )
    request = await parse_quote_request(db, settings, ["delivery", "negative"], now=NOW, language="en")
    quotes = await build_quotes(db, request)
    assert len(quotes.quotes) == 1


def test_numbers_read_well_on_a_phone() -> None:
    from bot.reports.numbers import change_points, count, duration, pct, signed

    assert (pct(0.7251), pct(0.7251, "es"), pct(None)) == ("72.5%", "72,5 %", "–")
    assert (signed(0.081), signed(-0.4), signed(-0.004)) == ("+0.08", "−0.40", "0.00")
    assert (change_points(0.4, 1.0), change_points(0.5, 0.5), change_points(0.5, None)) == (
        "▼ −60.0 pts",
        "= 0.0 pts",
        "",
    )
    assert (count(20088), count(20088, "es")) == ("20,088", "20.088")
    assert (duration(45 * 60), duration(3 * 3600), duration(50 * 3600)) == ("45m", "3h 00m", "2d 2h")


def test_long_reports_are_split_on_line_breaks() -> None:
    from bot.telegram.staff import split_message

    lines = [f"<b>line {i}</b> " + "x" * 90 for i in range(100)]
    chunks = split_message("\n".join(lines), limit=1000)
    assert all(len(chunk) <= 1000 for chunk in chunks)
    assert "\n".join(chunks).split("\n") == lines  # nothing lost, no tag cut in half

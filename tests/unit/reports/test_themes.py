"""Themes on the clock: runs per calendar week, /themes read from them, and the theme alert rule (fires
once on a seeded spike, never on normal variation)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import SecretStr

from bot.config import OutgoingWebhookSettings, Settings
from bot.reports.common import ReportError
from bot.reports.themes import (
    ExampleVectors,
    bucket,
    build_themes,
    compute_due,
    parse_themes_request,
    render_themes,
    theme_quotes_report,
    theme_spikes,
)
from bot.telegram.themes import run_themes_pass
from storage import answers, customers, touchpoints
from storage.db import Database
from storage.models import TouchpointSpec
from tests.support.readings import Reading

NOW = datetime(2026, 5, 6, 12, 0, tzinfo=UTC)  # a Wednesday
DIM = 32
RNG = np.random.default_rng(5)
TOPICS = {name: RNG.normal(size=DIM) for name in ("late", "broken", "friendly")}
LANGUAGE = {"en": RNG.normal(size=DIM) * 3, "es": RNG.normal(size=DIM) * 3}
WORDS = {
    "late": {"en": "the parcel came late again", "es": "el paquete llegó tarde otra vez"},
    "broken": {"en": "the box arrived broken", "es": "la caja llegó rota"},
    "friendly": {"en": "friendly helpful courier", "es": "repartidor muy amable"},
}


def vector(topic: str, language: str) -> Any:
    raw = TOPICS[topic] + LANGUAGE[language] + RNG.normal(size=DIM) * 0.3
    return (raw / np.linalg.norm(raw)).astype(np.float32)


def settings(tmp_path: Path, **themes: Any) -> Settings:
    return Settings(
        storage={"path": str(tmp_path / "momento.db")},
        telegram={"staff_chat_id": -100},
        survey={"default_timezone": "UTC"},
        touchpoints=[
            {
                "key": "delivery",
                "names": {"en": "delivery", "es": "entrega"},
                "team_chat_id": -200,
                "themes": [
                    {
                        "key": "late_delivery",
                        "names": {"en": "Late delivery", "es": "Entrega tardía"},
                        "examples": {"en": ["parcel late"], "es": ["paquete tarde"]},
                    }
                ],
            }
        ],
        themes={"enabled": True, **themes},
    )


async def fake_encode(texts: Sequence[str], languages: Sequence[str | None]) -> list[Any]:
    """The example phrases of the config, encoded like the answers of their topic."""
    return [vector("late", language or "en") for language in languages]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "momento.db")
    await touchpoints.sync_touchpoints(
        database, [TouchpointSpec("delivery", {"en": "delivery"}, "direct", 1, 1.0, "courier")]
    )
    yield database
    await database.close()


class Seeder:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.user = 1000

    async def add(self, topic: str, count: int, at: datetime, *, negative: bool = True) -> None:
        (tp,) = [t for t in await touchpoints.list_touchpoints(self.db) if t.key == "delivery"]
        for n in range(count):
            language = "en" if n % 2 == 0 else "es"
            self.user += 1
            customer = await customers.ensure_telegram_customer(
                self.db,
                telegram_user_id=self.user,
                telegram_chat_id=self.user,
                display_name="C",
                language=language,
            )
            answer, _ = await answers.record_answer(
                self.db,
                survey_id=None,
                customer_id=customer.id,
                touchpoint_id=tp.id,
                question="experience",
                text=f"{WORDS[topic][language]} #{n}",
                rating=None,
                language=language,
                chat_id=None,
                message_id=None,
                received_at=at + timedelta(minutes=n),
            )
            sentiment = "negative" if negative else "positive"
            await answers.save_analysis(
                self.db, answer.id, Reading(sentiment, {sentiment: 0.9}, vector=vector(topic, language))
            )

    async def weeks(self, late_per_week: Sequence[int], *, background: int = 8) -> None:
        """Oldest week first; the last entry is the current week (up to NOW)."""
        for back, late in zip(range(len(late_per_week) - 1, -1, -1), late_per_week, strict=True):
            start = bucket("week", NOW, "UTC", back=back).start + timedelta(hours=1)
            await self.add("late", late, start)
            await self.add("broken", background, start + timedelta(hours=3))
            await self.add("friendly", background, start + timedelta(hours=6), negative=False)


async def test_runs_feed_themes_with_counts_negative_share_change_and_quotes(
    db: Database, tmp_path: Path
) -> None:
    config = settings(tmp_path)
    await Seeder(db).weeks([6, 10])
    async with db.transaction() as conn:  # a third of the customers are gold
        await conn.execute("UPDATE customers SET tier = 'gold' WHERE id % 3 = 0")
    await compute_due(db, config, ExampleVectors(fake_encode), model_id="fake", now=NOW)
    touchpoint, label, tier = await parse_themes_request(db, config, ["delivery"], language="en")
    assert (touchpoint, label, tier) == ("delivery", "this-week", None)
    result = await build_themes(db, config, "delivery", "this-week", None, now=NOW)
    assert result.run is not None and result.run.answers == 26
    keys = [line.theme.key for line in result.lines]
    assert keys[0] == "late_delivery"
    late = result.lines[0]
    assert (late.theme.kind, late.theme.answers, late.theme.negative, late.previous) == (
        "declared",
        10,
        10,
        6,
    )
    assert len(result.lines) == 3  # late (declared), broken and friendly (discovered)
    # Discovered themes are recognised from last week by their centroid: same key, a real change.
    assert [line.previous for line in result.lines[1:]] == [8, 8]
    by_tier = {}
    for tier_name in ("standard", "gold"):
        split = await build_themes(db, config, "delivery", "this-week", tier_name, now=NOW)
        by_tier[tier_name] = {line.theme.key: line.theme.answers for line in split.lines}
        assert all(line.theme.quote for line in split.lines)  # a quote of that tier's own customers
    assert by_tier["gold"] and by_tier["standard"]
    assert by_tier["gold"]["late_delivery"] + by_tier["standard"]["late_delivery"] == 10
    report = render_themes(result, config, "es")
    assert "Entrega tardía" in report.text and "+4" in report.text and "100 %" in report.text
    assert report.chart is not None and report.chart.values[0] == 10.0
    quotes = await theme_quotes_report(db, config, "delivery", "late_delivery", now=NOW, language="en")
    assert quotes.text.count("“") == 10
    with pytest.raises(ReportError):
        await parse_themes_request(db, config, ["30d"], language="en")


async def test_customer_words_are_escaped_in_the_report(db: Database, tmp_path: Path) -> None:
    config = settings(tmp_path)
    seeder = Seeder(db)
    await seeder.weeks([8])
    WORDS["late"]["en"] = "<b>late</b> & lost"
    try:
        await seeder.add("late", 2, NOW - timedelta(hours=1))
    finally:
        WORDS["late"]["en"] = "the parcel came late again"
    await compute_due(db, config, ExampleVectors(fake_encode), model_id="fake", now=NOW)
    result = await build_themes(db, config, "delivery", "this-week", None, now=NOW)
    text = render_themes(result, config, "en").text
    assert "<b>late</b>" not in text.replace("<b>Late delivery</b>", "")


class Bot:
    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    async def send_message(self, chat_id: int, text: str) -> None:
        self.sent.append((chat_id, text))


@dataclass
class Found:
    settings: Settings
    db: Database
    classifier: Any


class Classifier:
    model_id = "fake"

    async def analyse(self, texts: Sequence[str], languages: Sequence[str | None] | None = None) -> list[Any]:
        return [Reading("neutral", {}, vector=v) for v in await fake_encode(texts, list(languages or []))]


async def test_a_seeded_spike_posts_one_card_to_the_team_chat_never_twice(
    db: Database, tmp_path: Path
) -> None:
    config = settings(tmp_path).model_copy(
        update={
            "webhooks": [
                OutgoingWebhookSettings(name="crm", url="https://crm.example/hook", events=["theme.alert"])
            ],
            "webhook_secrets": {"crm": SecretStr("s3cret")},
        }
    )
    await Seeder(db).weeks([2, 3, 2, 3, 14])
    bot = Bot()
    found: Any = Found(config, db, Classifier())
    assert await run_themes_pass(found, bot, now=NOW) == 1
    ((chat, card),) = bot.sent
    assert chat == -200 and "Late delivery" in card and "14 negative" in card and "2.5" in card
    assert card.count("“") == 3
    # The spike keeps growing: still one card.
    await Seeder(db).add("late", 4, NOW - timedelta(hours=2))
    assert await run_themes_pass(found, bot, now=NOW + timedelta(hours=1)) == 0
    assert len(bot.sent) == 1
    events = await db.fetch_all("SELECT event_type, body FROM webhook_outbox")
    assert [row["event_type"] for row in events] == ["theme.alert"]  # one event, like the card
    assert '"key":"late_delivery"' in events[0]["body"].replace(" ", "")


async def test_normal_variation_posts_nothing(db: Database, tmp_path: Path) -> None:
    config = settings(tmp_path)
    await Seeder(db).weeks([4, 6, 5, 4, 7])
    bot = Bot()
    found: Any = Found(config, db, Classifier())
    assert await run_themes_pass(found, bot, now=NOW) == 0
    assert bot.sent == []
    assert await theme_spikes(db, config, now=NOW) == []


async def test_themes_appear_in_the_digest_and_the_touchpoint_summary_block(
    db: Database, tmp_path: Path
) -> None:
    from bot.reports.digest import DueDigest, digest_text
    from bot.reports.periods import Period
    from bot.reports.themes import theme_lines

    config = settings(tmp_path)
    await Seeder(db).weeks([6, 10])
    await compute_due(db, config, ExampleVectors(fake_encode), model_id="fake", now=NOW)
    block = await theme_lines(db, config, "delivery", now=NOW, language="en")
    assert block[1].startswith("<b>Top themes this week</b>")
    assert block[2] == "• Late delivery — 10 answers, 100% negative"
    monday = bucket("week", NOW, "UTC").start  # the seeded answers of this week came on Monday
    day = Period(monday, monday + timedelta(days=1), "monday")
    text = await digest_text(db, config, DueDigest("daily:x", "daily", day), "en")
    assert text is not None and "Top themes this week" in text and "Late delivery" in text
    off = config.model_copy(update={"themes": config.themes.model_copy(update={"enabled": False})})
    assert await theme_lines(db, off, "delivery", now=NOW, language="en") == []

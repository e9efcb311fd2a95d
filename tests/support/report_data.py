"""A hand-seeded database whose report figures are known exactly (reports, exports and the staff e2e)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.config import Settings
from storage.db import Database, to_db_time

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TOUCHPOINTS = [
    {
        "key": "store_visit",
        "names": {"en": "store visit", "es": "visita a la tienda"},
        "stage": 1,
        "weight": 1.0,
    },
    {"key": "delivery", "names": {"en": "delivery", "es": "entrega"}, "stage": 2, "weight": 1.5},
    {"key": "support_call", "names": {"en": "support call"}, "stage": 3, "weight": 2.0},
]


def make_settings(tmp_path: Path, *, ends: tuple[str, ...] = (), **reports: Any) -> Settings:
    """The seeds' config; *ends*: touchpoints marked ``journey_end`` (support_call, the last stage, is one
    anyway)."""
    return Settings(
        storage={"path": str(tmp_path / "reports.db")},
        survey={"default_timezone": "UTC"},
        reports={"tier_minimum_csat": {"gold": 0.4, "standard": 0.5}, **reports},
        touchpoints=[{**tp, "journey_end": tp["key"] in ends} for tp in TOUCHPOINTS],
        telegram={"staff_chat_id": -100100, "admin_user_ids": [900]},
    )


async def _insert(conn: Any, sql: str, params: Any) -> int:
    """The id of the row an INSERT adds, on either engine (RETURNING, not SQLite's lastrowid)."""
    rows = await conn.execute_fetchall(sql + " RETURNING id", params)
    return int(rows[0][0])


class Seeder:
    """Writes rows straight into the schema (the report code under test must not write its own fixtures)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.customers: dict[str, int] = {}
        self.touchpoints: dict[str, int] = {}
        self.surveys: dict[str, int] = {}
        self.answer_ids: list[int] = []

    async def setup(self) -> None:
        async with self.db.transaction() as conn:
            for tp in TOUCHPOINTS:
                cursor = await _insert(
                    conn,
                    "INSERT INTO touchpoints (key, names, kind, stage, weight, channel, updated_at) "
                    "VALUES (?, ?, 'direct', ?, ?, 'store', ?)",
                    (tp["key"], json.dumps(tp["names"]), tp["stage"], tp["weight"], to_db_time(NOW)),
                )
                self.touchpoints[str(tp["key"])] = cursor
            for name, tier in (
                ("c1", "gold"),
                ("c2", "gold"),
                ("c3", "gold"),
                ("c4", "standard"),
                ("c5", "standard"),
                ("c6", "standard"),
            ):
                cursor = await _insert(
                    conn,
                    "INSERT INTO customers (external_id, display_name, tier, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (name.upper(), f"Name {name}", tier, to_db_time(NOW), to_db_time(NOW)),
                )
                self.customers[name] = cursor

    async def event(self, customer: str, touchpoint: str, at: datetime, amount: float | None = None) -> int:
        async with self.db.transaction() as conn:
            return await _insert(
                conn,
                "INSERT INTO touchpoint_events (external_id, customer_id, touchpoint_id, occurred_at, "
                "amount, "
                "received_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    f"ev-{customer}-{touchpoint}-{at.isoformat()}",
                    self.customers[customer],
                    self.touchpoints[touchpoint],
                    to_db_time(at),
                    amount,
                    to_db_time(at),
                ),
            )

    async def answer(
        self,
        conn: Any,
        survey_id: int | None,
        customer: str,
        touchpoint: str | None,
        question: str,
        at: datetime,
        *,
        text: str | None = None,
        rating: int | None = None,
        score: float | None = None,
        sentiment: str = "neutral",
        emotion: str = "neutral",
    ) -> int:
        cursor = await _insert(
            conn,
            "INSERT INTO answers (survey_id, customer_id, touchpoint_id, question, text, rating, language, "
            "received_at, analysis_state) VALUES (?, ?, ?, ?, ?, ?, 'en', ?, ?)",
            (
                survey_id,
                self.customers[customer],
                self.touchpoints[touchpoint] if touchpoint else None,
                question,
                text,
                rating,
                to_db_time(at),
                "not_applicable" if score is None else "done",
            ),
        )
        answer_id = cursor
        self.answer_ids.append(answer_id)
        if score is not None:
            scores = {"negative": 0.0, "neutral": 0.0, "positive": 0.0}
            scores[sentiment] = 0.9
            cursor = await _insert(
                conn,
                "INSERT INTO analyses (answer_id, model_id, model_version, sentiment, sentiment_scores, "
                "sentiment_score, emotion, emotion_scores, analysed_at) "
                "VALUES (?, 'test', '1', ?, ?, ?, ?, ?, ?)",
                (
                    answer_id,
                    sentiment,
                    json.dumps(scores),
                    score,
                    emotion,
                    json.dumps({emotion: 0.8}),
                    to_db_time(at),
                ),
            )
            await conn.execute("UPDATE answers SET current_analysis_id = ? WHERE id = ?", (cursor, answer_id))
        return answer_id

    async def survey(
        self,
        name: str,
        customer: str,
        touchpoint: str,
        at: datetime,
        *,
        rating: int | None = None,
        experience: float | None = None,
        expectation: float | None = None,
        sentiment: str = "neutral",
        emotion: str = "neutral",
        text: str = "fine",
        amount: float | None = None,
        status: str | None = None,
    ) -> int:
        """An event, its survey invited 1 h later and (with a rating) answered 2 h later; *status* overrides
        completed/expired (e.g. rated but still in progress)."""
        event_id = await self.event(customer, touchpoint, at, amount)
        completed = rating is not None
        async with self.db.transaction() as conn:
            cursor = await _insert(
                conn,
                "INSERT INTO surveys (customer_id, event_id, touchpoint_id, kind, status, scheduled_at, "
                "invited_at, "
                "completed_at, created_at) VALUES (?, ?, ?, 'touchpoint', ?, ?, ?, ?, ?)",
                (
                    self.customers[customer],
                    event_id,
                    self.touchpoints[touchpoint],
                    status or ("completed" if completed else "expired"),
                    to_db_time(at),
                    to_db_time(at + timedelta(hours=1)),
                    to_db_time(at + timedelta(hours=2))
                    if completed and status in (None, "completed")
                    else None,
                    to_db_time(at),
                ),
            )
            survey_id = cursor
            answered = at + timedelta(hours=2)
            if completed:
                await self.answer(
                    conn,
                    survey_id,
                    customer,
                    touchpoint,
                    "expectation",
                    answered,
                    text="I expected it quick",
                    score=expectation,
                    sentiment="neutral",
                )
                await self.answer(
                    conn,
                    survey_id,
                    customer,
                    touchpoint,
                    "experience",
                    answered,
                    text=text,
                    score=experience,
                    sentiment=sentiment,
                    emotion=emotion,
                )
                await self.answer(conn, survey_id, customer, touchpoint, "rating", answered, rating=rating)
        self.surveys[name] = survey_id
        return survey_id

    async def alert(
        self, survey: str, customer: str, touchpoint: str, created: datetime, resolved: datetime | None = None
    ) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO alerts (survey_id, customer_id, touchpoint_id, reason, severity, status, "
                "created_at, "
                "resolved_at) VALUES (?, ?, ?, 'low_rating', 'high', ?, ?, ?)",
                (
                    self.surveys[survey],
                    self.customers[customer],
                    self.touchpoints[touchpoint],
                    "resolved" if resolved else "open",
                    to_db_time(created),
                    to_db_time(resolved) if resolved else None,
                ),
            )


def days(n: float) -> datetime:
    return NOW - timedelta(days=n)


async def seed_known(db: Database) -> Seeder:
    """The dataset every figure below is computed from (period: the 30 days before NOW)."""
    seed = Seeder(db)
    await seed.setup()
    # Customer journeys: c1 store_visit -> delivery; c4 store_visit (not surveyed) -> delivery; c3 stops.
    await seed.survey(
        "S5",
        "c1",
        "store_visit",
        days(12),
        rating=3,
        experience=0.0,
        expectation=0.0,
        sentiment="neutral",
        emotion="neutral",
        text="It was ok",
        amount=20.0,
    )
    await seed.survey(
        "S1",
        "c1",
        "delivery",
        days(10),
        rating=5,
        experience=0.8,
        expectation=0.2,
        sentiment="positive",
        emotion="joy",
        text="Fast and friendly",
        amount=50.0,
    )
    await seed.survey(
        "S6",
        "c3",
        "store_visit",
        days(8),
        rating=1,
        experience=-0.9,
        expectation=0.3,
        sentiment="negative",
        emotion="anger",
        text="Nobody helped me at all",
    )
    await seed.survey(
        "S2",
        "c2",
        "delivery",
        days(7),
        rating=4,
        experience=0.4,
        expectation=0.6,
        sentiment="positive",
        emotion="joy",
        text="Good, a bit late",
    )
    await seed.event("c4", "store_visit", days(6))
    await seed.survey(
        "S3",
        "c4",
        "delivery",
        days(5),
        rating=2,
        experience=-0.7,
        expectation=0.5,
        sentiment="negative",
        emotion="anger",
        text="<b>Late</b> & broken =SUM(A1)",
    )
    await seed.survey("S4", "c5", "delivery", days(3))  # invited, never answered
    # The previous 30 days: one happy delivery.
    await seed.survey(
        "S7",
        "c6",
        "delivery",
        days(40),
        rating=5,
        experience=0.5,
        expectation=0.5,
        sentiment="positive",
        emotion="joy",
        text="Perfect",
    )
    await seed.alert("S3", "c4", "delivery", days(1))
    await seed.alert("S6", "c3", "store_visit", days(10), days(10) + timedelta(hours=2))
    await seed.alert("S5", "c1", "store_visit", days(5), days(5) + timedelta(hours=4))
    return seed


async def seed_conclusions(db: Database) -> Seeder:
    """Where the old conclusions misled (period: the 30 days before NOW).

    Six deliveries on day 20: c1–c5 negative (c5 rated but still in progress), c6 positive. c1–c3 then call
    support (contact, not a comeback); c4 and c5 go no further (delivery is where the journey ends); c6 comes
    back for a store visit on day 10. c1 visited the store before (day 25); c4's store-visit survey was
    invited just before the period and answered just inside it.
    """
    seed = Seeder(db)
    await seed.setup()
    await seed.event("c1", "store_visit", days(25))
    await seed.survey(
        "V4", "c4", "store_visit", days(30) - timedelta(hours=1, minutes=30), rating=1,
        experience=-0.8, expectation=0.2, sentiment="negative", emotion="anger", text="Rude",
    )  # fmt: skip
    for name in ("c1", "c2", "c3", "c4", "c5"):
        await seed.survey(
            f"D{name[1]}", name, "delivery", days(20), rating=1 if name == "c3" else 2,
            experience=-0.6, expectation=0.2, sentiment="negative", emotion="anger", text="Late again",
            status="in_progress" if name == "c5" else None,
        )  # fmt: skip
    await seed.survey(
        "D6", "c6", "delivery", days(20), rating=5, experience=0.8, expectation=0.2, sentiment="positive",
        emotion="joy", text="On time",
    )  # fmt: skip
    for name in ("c1", "c2", "c3"):
        await seed.event(name, "support_call", days(19))
    await seed.event("c6", "store_visit", days(10))
    return seed

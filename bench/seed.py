"""Generate a realistic Momento database for benchmarks: customers, a year of touchpoint events, surveys,
answers with analyses, alerts.

Reused by the storage and report benchmarks::

    python -m bench.seed --db bench/out/seed.db --answers 1000000 --customers 50000

Each completed survey has four answers (expectation, experience and improvement as text, and a 1-5 rating);
a fifth of the invitations are never answered. Touchpoints differ in quality so reports have something to
show. The schema comes from ``Database.open`` (the real migrations); rows go in through plain sqlite3 in
large transactions with ``synchronous=OFF`` — a bulk loader, not the product's write path (the repositories
keep FULL). The output is deterministic for a given seed and end time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage import touchpoints as touchpoint_repo
from storage.db import Database, to_db_time
from storage.models import TouchpointSpec

TOUCHPOINT_KEYS: tuple[tuple[str, str, str, int, float, str, float], ...] = (
    # key, English name, Spanish name, stage, weight, channel, quality (mean net sentiment of experience)
    ("ad_campaign", "ad campaign", "campaña publicitaria", 1, 0.5, "social", 0.3),
    ("website_visit", "website visit", "visita a la web", 1, 0.8, "web", 0.2),
    ("store_visit", "store visit", "visita a la tienda", 2, 1.0, "store", 0.4),
    ("purchase", "in-store purchase", "compra en tienda", 2, 1.0, "store", 0.35),
    ("online_order", "online order", "pedido online", 2, 1.0, "web", 0.25),
    ("payment", "payment", "pago", 2, 1.2, "web", 0.1),
    ("delivery", "delivery", "entrega", 3, 1.5, "courier", -0.15),
    ("installation", "installation", "instalación", 3, 1.5, "field", 0.05),
    ("support_chat", "support chat", "chat de soporte", 4, 1.8, "chat", -0.05),
    ("support_call", "support call", "llamada al servicio", 4, 2.0, "phone", -0.25),
    ("return", "product return", "devolución", 4, 1.6, "store", -0.3),
    ("renewal", "contract renewal", "renovación", 5, 2.0, "email", 0.15),
)
QUESTIONS_PER_SURVEY = 4
EMOTIONS = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")
TEXTS = {
    "expectation": {
        "en": ["I expected it to be quick and easy", "Hoping for friendly staff", "I expected it on time"],
        "es": ["Esperaba que fuera rápido", "Esperaba un trato amable", "Esperaba que llegara a tiempo"],
    },
    "positive": {
        "en": [
            "Great, everything went smoothly",
            "Very friendly and fast, thank you",
            "Better than expected",
        ],
        "es": ["Todo perfecto, muy rápido", "Muy amables, gracias", "Mejor de lo que esperaba"],
    },
    "neutral": {
        "en": ["It was fine, nothing special", "Okay overall", "As usual"],
        "es": ["Normal, nada especial", "Bien en general", "Como siempre"],
    },
    "negative": {
        "en": ["Took far too long and nobody helped", "Rude staff, very disappointing", "It arrived broken"],
        "es": ["Tardó demasiado y nadie ayudó", "Personal muy borde", "Llegó roto, qué decepción"],
    },
    "improvement": {
        "en": ["Answer the phone faster", "Keep me informed about delays", "Nothing, keep it up"],
        "es": ["Contestar antes el teléfono", "Avisar de los retrasos", "Nada, seguid así"],
    },
}


@dataclass(frozen=True, slots=True)
class SeedSummary:
    path: Path
    customers: int
    touchpoints: int
    events: int
    surveys: int
    answers: int
    analyses: int
    alerts: int
    seconds: float
    start: datetime
    end: datetime

    @property
    def answers_per_second(self) -> float:
        return self.answers / self.seconds if self.seconds else 0.0


def touchpoint_specs() -> list[TouchpointSpec]:
    return [
        TouchpointSpec(key=k, names={"en": en, "es": es}, kind="direct", stage=stage, weight=w, channel=ch)
        for k, en, es, stage, w, ch, _ in TOUCHPOINT_KEYS
    ]


def _score_pool(rng: random.Random, sentiment: str, size: int = 64) -> list[tuple[str, float]]:
    """Pre-encoded (scores JSON, net score) pairs: json.dumps per row would dominate the seeding time."""
    pool = []
    for _ in range(size):
        main = rng.uniform(0.55, 0.95)
        rest = 1.0 - main
        other = rng.uniform(0, rest)
        probs = {"negative": 0.0, "neutral": 0.0, "positive": 0.0}
        probs[sentiment] = main
        others = [s for s in probs if s != sentiment]
        probs[others[0]] = other
        probs[others[1]] = rest - other
        rounded = {k: round(v, 4) for k, v in probs.items()}
        pool.append((json.dumps(rounded, sort_keys=True), rounded["positive"] - rounded["negative"]))
    return pool


def _emotion_pool(rng: random.Random, emotion: str, size: int = 32) -> list[str]:
    pool = []
    for _ in range(size):
        raw = {e: rng.uniform(0.0, 0.2) for e in EMOTIONS}
        raw[emotion] = rng.uniform(0.5, 0.95)
        total = sum(raw.values())
        pool.append(json.dumps({k: round(v / total, 4) for k, v in raw.items()}, sort_keys=True))
    return pool


_EMOTION_FOR = {
    "negative": (("anger", 0.45), ("sadness", 0.25), ("disgust", 0.15), ("fear", 0.15)),
    "neutral": (("neutral", 0.8), ("surprise", 0.2)),
    "positive": (("joy", 0.85), ("surprise", 0.15)),
}


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    roll = rng.random()
    for value, weight in weighted:
        roll -= weight
        if roll <= 0:
            return value
    return weighted[-1][0]


def _sentiment_for(rng: random.Random, quality: float) -> str:
    """A touchpoint's quality shifts the odds between negative, neutral and positive experiences."""
    positive = min(max(0.45 + quality, 0.05), 0.9)
    negative = min(max(0.3 - quality, 0.05), 0.9)
    roll = rng.random() * (positive + negative + 0.25)
    if roll < positive:
        return "positive"
    if roll < positive + negative:
        return "negative"
    return "neutral"


_RATING_FOR = {
    "positive": ((5, 0.55), (4, 0.4), (3, 0.05)),
    "neutral": ((4, 0.3), (3, 0.5), (2, 0.2)),
    "negative": ((1, 0.45), (2, 0.4), (3, 0.15)),
}


def _rating(rng: random.Random, sentiment: str) -> int:
    roll = rng.random()
    for value, weight in _RATING_FOR[sentiment]:
        roll -= weight
        if roll <= 0:
            return value
    return _RATING_FOR[sentiment][-1][0]


async def _prepare(path: Path) -> dict[str, int]:
    async with await Database.open(path) as db:
        stored = await touchpoint_repo.sync_touchpoints(db, touchpoint_specs())
    return {tp.key: tp.id for tp in stored}


def seed(
    path: str | Path,
    *,
    answers: int = 1_000_000,
    customers: int = 50_000,
    days: int = 365,
    end: datetime | None = None,
    seed_value: int = 42,
    unanswered_share: float = 0.2,
    batch: int = 50_000,
) -> SeedSummary:
    """Fill a new database file at *path* (refuses an existing one: benchmarks need a known content).

    Synchronous (it runs its own event loop for the migrations): from async code use ``asyncio.to_thread``.
    """
    db_path = Path(path)
    if db_path.exists():
        raise FileExistsError(f"{db_path} exists; seed writes a fresh file")
    end = (end or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    started = time.perf_counter()
    touchpoint_ids = asyncio.run(_prepare(db_path))
    rng = random.Random(seed_value)
    pools = {s: _score_pool(rng, s) for s in ("negative", "neutral", "positive")}
    emotion_pools = {e: _emotion_pool(rng, e) for e in EMOTIONS}
    qualities = {touchpoint_ids[k]: q for k, *_, q in TOUCHPOINT_KEYS}
    tp_ids = list(qualities)
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("PRAGMA cache_size = -262144")
    created = to_db_time(start - timedelta(days=30))
    tiers = (("standard", 0.7), ("gold", 0.2), ("platinum", 0.1))
    languages = [rng.choice(("en", "en", "en", "es", "es")) for _ in range(customers)]
    conn.execute("BEGIN")
    conn.executemany(
        """INSERT INTO customers (id, external_id, telegram_user_id, telegram_chat_id, display_name, language,
               tier, consent, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'granted', ?, ?)""",
        (
            (
                n,
                f"seed-{n}",
                10_000_000 + n,
                10_000_000 + n,
                f"Customer {n}",
                languages[n - 1],
                _pick(rng, tiers),
                created,
                created,
            )
            for n in range(1, customers + 1)
        ),
    )
    conn.execute("COMMIT")

    completed_surveys = answers // QUESTIONS_PER_SURVEY
    total_surveys = int(completed_surveys / (1.0 - unanswered_share))
    span = (end - start).total_seconds()
    # Events in time order, so the time indexes grow at their end like in production.
    moments = sorted(rng.random() * span for _ in range(total_surveys))
    answered = set(rng.sample(range(total_surveys), completed_surveys))
    counts = {"events": 0, "surveys": 0, "answers": 0, "analyses": 0, "alerts": 0}
    answer_id = 0
    analysis_id = 0

    def rows() -> Iterator[tuple[list[tuple[object, ...]], ...]]:
        nonlocal answer_id, analysis_id
        events: list[tuple[object, ...]] = []
        surveys: list[tuple[object, ...]] = []
        answer_rows: list[tuple[object, ...]] = []
        analysis_rows: list[tuple[object, ...]] = []
        alert_rows: list[tuple[object, ...]] = []
        for index, offset in enumerate(moments):
            survey_id = index + 1
            customer = rng.randint(1, customers)
            language = languages[customer - 1]
            tp = rng.choice(tp_ids)
            occurred = start + timedelta(seconds=offset)
            invited = occurred + timedelta(hours=rng.choice((1, 2, 4, 24)))
            amount = round(rng.lognormvariate(3.5, 0.8), 2)
            events.append(
                (
                    survey_id,
                    f"seed-ev-{survey_id}",
                    customer,
                    tp,
                    to_db_time(occurred),
                    json.dumps({"amount": amount, "store": f"S{tp:02d}"}),
                    amount,
                    to_db_time(occurred),
                )
            )
            if index not in answered:
                status = rng.choice(("expired", "expired", "declined"))
                surveys.append(
                    (
                        survey_id,
                        customer,
                        survey_id,
                        tp,
                        status,
                        None,
                        language,
                        to_db_time(invited),
                        to_db_time(invited),
                        None,
                        to_db_time(invited + timedelta(days=3)),
                        to_db_time(occurred),
                    )
                )
            else:
                sentiment = _sentiment_for(rng, qualities[tp])
                rating = _rating(rng, sentiment)
                at = invited + timedelta(minutes=rng.randint(1, 240))
                surveys.append(
                    (
                        survey_id,
                        customer,
                        survey_id,
                        tp,
                        "completed",
                        "done",
                        language,
                        to_db_time(invited),
                        to_db_time(invited),
                        to_db_time(at + timedelta(minutes=4)),
                        to_db_time(invited + timedelta(days=3)),
                        to_db_time(occurred),
                    )
                )
                expectation_sentiment = rng.choice(("positive", "neutral", "neutral"))
                for step, (question, text_kind, answer_sentiment) in enumerate(
                    (
                        ("expectation", "expectation", expectation_sentiment),
                        ("experience", sentiment, sentiment),
                        ("rating", None, None),
                        ("improvement", "improvement", rng.choice(("neutral", "negative", "positive"))),
                    )
                ):
                    answer_id += 1
                    received = to_db_time(at + timedelta(minutes=step))
                    text = rng.choice(TEXTS[text_kind][language]) if text_kind else None
                    current = None
                    if answer_sentiment is not None:
                        analysis_id += 1
                        current = analysis_id
                        scores, net = rng.choice(pools[answer_sentiment])
                        emotion = _pick(rng, _EMOTION_FOR[answer_sentiment])
                        analysis_rows.append(
                            (
                                analysis_id,
                                answer_id,
                                "seed",
                                "1",
                                answer_sentiment,
                                scores,
                                net,
                                emotion,
                                rng.choice(emotion_pools[emotion]),
                                received,
                            )
                        )
                    answer_rows.append(
                        (
                            answer_id,
                            survey_id,
                            customer,
                            tp,
                            question,
                            text,
                            rating if question == "rating" else None,
                            language,
                            10_000_000 + customer,
                            answer_id,
                            received,
                            "done" if current else "not_applicable",
                            current,
                        )
                    )
                if rating <= 2:
                    status = rng.choice(("open", "acknowledged", "resolved", "resolved", "resolved"))
                    alert_rows.append(
                        (
                            survey_id,
                            customer,
                            tp,
                            "low_rating",
                            "high" if rating == 1 else "medium",
                            status,
                            int(rng.random() < 0.3),
                            to_db_time(at),
                            to_db_time(at + timedelta(hours=2)) if status != "open" else None,
                            to_db_time(at + timedelta(hours=rng.randint(3, 72)))
                            if status == "resolved"
                            else None,
                        )
                    )
            if len(answer_rows) >= batch or index == len(moments) - 1:
                yield events, surveys, answer_rows, analysis_rows, alert_rows
                events, surveys, answer_rows, analysis_rows, alert_rows = [], [], [], [], []

    for events, surveys, answer_rows, analysis_rows, alert_rows in rows():
        conn.execute("BEGIN")
        conn.executemany(
            """INSERT INTO touchpoint_events (id, external_id, customer_id, touchpoint_id, occurred_at,
                   attributes, amount, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            events,
        )
        conn.executemany(
            """INSERT INTO surveys (id, customer_id, event_id, touchpoint_id, kind, status, step, language,
                   scheduled_at, invited_at, completed_at, expires_at, created_at)
               VALUES (?, ?, ?, ?, 'touchpoint', ?, ?, ?, ?, ?, ?, ?, ?)""",
            surveys,
        )
        conn.executemany(
            """INSERT INTO analyses (id, answer_id, model_id, model_version, sentiment, sentiment_scores,
                   sentiment_score, emotion, emotion_scores, analysed_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            analysis_rows,
        )
        conn.executemany(
            """INSERT INTO answers (id, survey_id, customer_id, touchpoint_id, question, text, rating,
                   language, chat_id, message_id, received_at, analysis_state, current_analysis_id)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            answer_rows,
        )
        conn.executemany(
            """INSERT INTO alerts (survey_id, customer_id, touchpoint_id, reason, severity, status,
                   callback_requested, created_at, acknowledged_at, resolved_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            alert_rows,
        )
        conn.execute("COMMIT")
        counts["events"] += len(events)
        counts["surveys"] += len(surveys)
        counts["answers"] += len(answer_rows)
        counts["analyses"] += len(analysis_rows)
        counts["alerts"] += len(alert_rows)
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return SeedSummary(
        path=db_path,
        customers=customers,
        touchpoints=len(tp_ids),
        events=counts["events"],
        surveys=counts["surveys"],
        answers=counts["answers"],
        analyses=counts["analyses"],
        alerts=counts["alerts"],
        seconds=time.perf_counter() - started,
        start=start,
        end=end,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--db", required=True, type=Path, help="new database file to create")
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--end", type=datetime.fromisoformat, default=None, help="last moment (UTC ISO)")
    args = parser.parse_args(argv)
    end = args.end.replace(tzinfo=args.end.tzinfo or UTC) if args.end else None
    summary = seed(
        args.db, answers=args.answers, customers=args.customers, days=args.days, end=end, seed_value=args.seed
    )
    size = summary.path.stat().st_size / 2**20
    print(
        f"{summary.path}: {summary.customers} customers, {summary.touchpoints} touchpoints, "
        f"{summary.events} events, {summary.surveys} surveys, {summary.answers} answers, "
        f"{summary.analyses} analyses, {summary.alerts} alerts in {summary.seconds:.1f} s "
        f"({summary.answers_per_second:,.0f} answers/s), {size:.0f} MiB, "
        f"{summary.start:%Y-%m-%d} .. {summary.end:%Y-%m-%d}"
    )


if __name__ == "__main__":
    main()

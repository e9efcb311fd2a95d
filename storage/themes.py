"""Sentence vectors of answers and the precomputed themes the clock writes and /themes reads."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from storage import _rows
from storage.db import Database, from_db_time, to_db_time, utcnow

FloatArray = npt.NDArray[np.float32]


# -- vectors -------------------------------------------------------------------------------------------------


def pack_vector(vector: FloatArray) -> tuple[bytes, float]:
    """int8 with one scale per vector: a quarter of float32, cosine to the original above 0.999."""
    values = np.asarray(vector, dtype=np.float32).ravel()
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    scale = peak / 127.0 if peak > 0 else 1.0
    quantised = np.clip(np.rint(values / scale), -127, 127).astype(np.int8)
    return quantised.tobytes(), scale


def unpack_vector(blob: bytes, scale: float) -> FloatArray:
    return np.frombuffer(blob, dtype=np.int8).astype(np.float32) * np.float32(scale)


async def save_vector(
    conn: Any, answer_id: int, model_id: str, model_version: str, vector: FloatArray
) -> None:
    """Store (or replace) the answer's vector, inside the caller's transaction (*conn* is its writer)."""
    blob, scale = pack_vector(vector)
    await conn.execute(
        """
        INSERT INTO answer_vectors (answer_id, model_id, model_version, dim, scale, vector)
        VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (answer_id) DO UPDATE SET model_id = excluded.model_id,
            model_version = excluded.model_version, dim = excluded.dim, scale = excluded.scale,
            vector = excluded.vector
        """,
        (answer_id, model_id, model_version, int(np.asarray(vector).size), scale, blob),
    )


async def vector_of(db: Database, answer_id: int) -> FloatArray | None:
    row = await db.fetch_one("SELECT scale, vector FROM answer_vectors WHERE answer_id = ?", (answer_id,))
    return None if row is None else unpack_vector(bytes(row["vector"]), float(row["scale"]))


@dataclass(frozen=True, slots=True)
class VectorisedAnswer:
    """What grouping needs of one answer besides its vector: its words, language and reading."""

    answer_id: int
    text: str
    language: str | None
    negative: bool
    tier: str = "standard"


@dataclass(frozen=True, slots=True)
class VectorisedAnswers:
    """The answers of a period and their unit vectors as one (answers, dim) float32 matrix (row i is
    answers[i]): one allocation, not one small array per answer."""

    answers: list[VectorisedAnswer]
    vectors: FloatArray


async def vectorised_answers(
    db: Database,
    touchpoint_id: int | None,
    start: datetime,
    end: datetime,
    *,
    model_id: str | None = None,
    all_touchpoints: bool = False,
    batch: int = 5000,
) -> VectorisedAnswers:
    """Free-text answers of a touchpoint (None: unsolicited feedback; *all_touchpoints*: every answer)
    received in [start, end) that have a vector; with *model_id*, only vectors of that model (vectors of
    two encoders do not compare). Streamed in batches into a matrix sized by a count first."""
    if all_touchpoints:
        where_tp = "1"
    else:
        where_tp = "a.touchpoint_id = :tp" if touchpoint_id is not None else "a.touchpoint_id IS NULL"
    where = f"""
        FROM answers AS a
        JOIN answer_vectors AS v ON v.answer_id = a.id
        WHERE {where_tp} AND a.received_at >= :start AND a.received_at < :end
          AND a.text IS NOT NULL AND a.question != 'rating'
          AND (:model IS NULL OR v.model_id = :model)"""
    params = {"tp": touchpoint_id, "start": to_db_time(start), "end": to_db_time(end), "model": model_id}
    counted = await db.fetch_one(f"SELECT COUNT(*) AS n, MAX(v.dim) AS dim {where}", params)
    total = int(counted["n"]) if counted else 0
    dim = int(counted["dim"] or 0) if counted else 0
    answers: list[VectorisedAnswer] = []
    vectors = np.zeros((total, dim), dtype=np.float32)
    joins = (
        "LEFT JOIN analyses AS n ON n.id = a.current_analysis_id JOIN customers AS c ON c.id = a.customer_id"
    )
    query = f"""SELECT a.id, a.text, a.language, n.sentiment, c.tier, v.scale, v.vector
                {where.replace("WHERE", joins + " WHERE", 1)} ORDER BY a.id"""
    async for rows in db.iterate_batches(query, params, batch=batch):
        for row in rows:
            index = len(answers)
            if index >= total:  # answers arrived between the count and the read: the next run has them
                break
            blob = bytes(row["vector"])
            if len(blob) != dim:
                continue  # a vector of another size (another model) is never mixed in
            vectors[index] = np.frombuffer(blob, dtype=np.int8).astype(np.float32) * np.float32(row["scale"])
            answers.append(
                VectorisedAnswer(
                    int(row["id"]),
                    str(row["text"]),
                    row["language"],
                    row["sentiment"] == "negative",
                    str(row["tier"]),
                )
            )
    return VectorisedAnswers(answers, vectors[: len(answers)])


async def answer_ids_missing_vectors(db: Database) -> list[int]:
    """Answers with text whose current reading has no stored vector (filled by ``reanalyse --all``)."""
    rows = await db.fetch_all(
        """
        SELECT a.id FROM answers AS a
        WHERE a.text IS NOT NULL AND TRIM(a.text) != '' AND a.question != 'rating'
          AND NOT EXISTS (SELECT 1 FROM answer_vectors AS v WHERE v.answer_id = a.id)
        ORDER BY a.id
        """
    )
    return [int(row["id"]) for row in rows]


# -- precomputed themes ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThemeRow:
    """One theme of one run, as written by the clock."""

    key: str
    kind: str
    names: dict[str, str]
    words: list[str]
    answer_ids: list[int]
    negative: int
    representative_answer_id: int | None
    centroid: FloatArray | None = None
    # tier -> (answers, negative, quote answer id)
    tiers: dict[str, tuple[int, int, int | None]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredTheme:
    """One theme of a stored run, as /themes reads it."""

    key: str
    kind: str
    names: dict[str, str]
    words: list[str]
    answers: int
    negative: int
    quote: str | None


@dataclass(frozen=True, slots=True)
class ThemeRun:
    run_id: int
    touchpoint_id: int | None
    period: str
    period_start: datetime
    period_end: datetime
    answers: int
    computed_at: datetime


async def save_run(
    db: Database,
    touchpoint_id: int | None,
    period: str,
    start: datetime,
    end: datetime,
    themes: Sequence[ThemeRow],
    *,
    answers: int,
    computed_at: datetime | None = None,
) -> int:
    """Replace the run of this touchpoint, period and start with *themes*, in one transaction."""
    async with db.transaction() as conn:
        await conn.execute(
            """DELETE FROM theme_runs WHERE touchpoint_id IS ? AND period = ? AND period_start = ?""",
            (touchpoint_id, period, to_db_time(start)),
        )
        row = await _rows.one(
            conn,
            """INSERT INTO theme_runs (touchpoint_id, period, period_start, period_end, answers, computed_at)
               VALUES (?, ?, ?, ?, ?, ?) RETURNING id""",
            (
                touchpoint_id,
                period,
                to_db_time(start),
                to_db_time(end),
                answers,
                to_db_time(computed_at or utcnow()),
            ),
        )
        assert row is not None
        run_id = int(row["id"])
        await conn.executemany(
            """INSERT INTO themes (run_id, key, kind, names, words, answers, negative,
                                   representative_answer_id, centroid, centroid_scale)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                (
                    run_id,
                    t.key,
                    t.kind,
                    _rows.dumps(t.names),
                    json.dumps(t.words, ensure_ascii=False),
                    len(t.answer_ids),
                    t.negative,
                    t.representative_answer_id,
                    *(pack_vector(t.centroid) if t.centroid is not None else (None, None)),
                )
                for t in themes
            ],
        )
        await conn.executemany(
            """INSERT INTO theme_tiers (run_id, theme_key, tier, answers, negative, quote_answer_id)
               VALUES (?, ?, ?, ?, ?, ?)""",
            [
                (run_id, t.key, tier, answers, negative, quote)
                for t in themes
                for tier, (answers, negative, quote) in t.tiers.items()
            ],
        )
        await conn.executemany(
            "INSERT OR IGNORE INTO theme_answers (run_id, answer_id, theme_key) VALUES (?, ?, ?)",
            [(run_id, answer_id, t.key) for t in themes for answer_id in t.answer_ids],
        )
    return run_id


def _run(row: Any) -> ThemeRun:
    start = from_db_time(row["period_start"])
    end = from_db_time(row["period_end"])
    computed = from_db_time(row["computed_at"])
    assert start is not None and end is not None and computed is not None
    return ThemeRun(
        int(row["id"]), row["touchpoint_id"], str(row["period"]), start, end, int(row["answers"]), computed
    )


async def latest_run(db: Database, touchpoint_id: int | None, period: str) -> ThemeRun | None:
    row = await db.fetch_one(
        """SELECT * FROM theme_runs WHERE touchpoint_id IS ? AND period = ?
           ORDER BY period_start DESC LIMIT 1""",
        (touchpoint_id, period),
    )
    return None if row is None else _run(row)


async def run_at(db: Database, touchpoint_id: int | None, period: str, start: datetime) -> ThemeRun | None:
    """The stored run of one bucket (touchpoint None: all answers)."""
    row = await db.fetch_one(
        "SELECT * FROM theme_runs WHERE touchpoint_id IS ? AND period = ? AND period_start = ?",
        (touchpoint_id, period, to_db_time(start)),
    )
    return None if row is None else _run(row)


async def run_before(db: Database, run: ThemeRun) -> ThemeRun | None:
    """The run of the period just before *run* (for "change vs the previous period")."""
    row = await db.fetch_one(
        """SELECT * FROM theme_runs WHERE touchpoint_id IS ? AND period = ? AND period_start < ?
           ORDER BY period_start DESC LIMIT 1""",
        (run.touchpoint_id, run.period, to_db_time(run.period_start)),
    )
    return None if row is None else _run(row)


async def run_themes(db: Database, run_id: int, *, tier: str | None = None) -> list[StoredTheme]:
    """The run's themes, largest first; with *tier*, counted over that tier's customers only."""
    if tier is None:
        rows = await db.fetch_all(
            """SELECT t.key, t.kind, t.names, t.words, t.answers, t.negative, a.text AS quote
               FROM themes AS t LEFT JOIN answers AS a ON a.id = t.representative_answer_id
               WHERE t.run_id = ? ORDER BY t.answers DESC, t.key""",
            (run_id,),
        )
    else:
        rows = await db.fetch_all(
            """SELECT t.key, t.kind, t.names, t.words, tt.answers, tt.negative, a.text AS quote
               FROM themes AS t
               JOIN theme_tiers AS tt ON tt.run_id = t.run_id AND tt.theme_key = t.key AND tt.tier = ?
               LEFT JOIN answers AS a ON a.id = tt.quote_answer_id
               WHERE t.run_id = ? ORDER BY tt.answers DESC, t.key""",
            (tier, run_id),
        )
    return [
        StoredTheme(
            key=str(r["key"]),
            kind=str(r["kind"]),
            names=_rows.loads(r["names"]) if r["names"] else {},
            words=[str(w) for w in json.loads(r["words"] or "[]")],
            answers=int(r["answers"]),
            negative=int(r["negative"]),
            quote=r["quote"],
        )
        for r in rows
    ]


async def known_centroids(
    db: Database, touchpoint_id: int | None, period: str, before: datetime, *, runs: int = 4
) -> list[tuple[str, FloatArray]]:
    """(key, centroid) of the discovered themes of the latest *runs* runs before *before*, newest first, each
    key once: what a new run's discovered themes are recognised against."""
    rows = await db.fetch_all(
        """SELECT t.key, t.centroid, t.centroid_scale FROM themes AS t
           JOIN (SELECT id, period_start FROM theme_runs
                 WHERE touchpoint_id IS ? AND period = ? AND period_start < ?
                 ORDER BY period_start DESC LIMIT ?) AS r ON r.id = t.run_id
           WHERE t.kind = 'discovered' AND t.centroid IS NOT NULL
           ORDER BY r.period_start DESC, t.answers DESC""",
        (touchpoint_id, period, to_db_time(before), runs),
    )
    found: dict[str, FloatArray] = {}
    for row in rows:
        if row["key"] not in found:
            found[str(row["key"])] = unpack_vector(bytes(row["centroid"]), float(row["centroid_scale"]))
    return list(found.items())


async def theme_quotes(
    db: Database, run_id: int, key: str, limit: int = 10, *, negative_only: bool = False
) -> list[str]:
    """Answer texts of one theme of a run, newest first (only negative readings with *negative_only*)."""
    rows = await db.fetch_all(
        """SELECT a.text FROM theme_answers AS ta JOIN answers AS a ON a.id = ta.answer_id
           LEFT JOIN analyses AS n ON n.id = a.current_analysis_id
           WHERE ta.run_id = ? AND ta.theme_key = ? AND a.text IS NOT NULL
             AND (? = 0 OR n.sentiment = 'negative')
           ORDER BY a.received_at DESC, a.id DESC LIMIT ?""",
        (run_id, key, int(negative_only), limit),
    )
    return [str(r["text"]) for r in rows]


async def language_means(
    db: Database, model_id: str, *, recent: int = 2000
) -> dict[str, tuple[FloatArray, int]]:
    """Mean vector (and how many answers it holds) per language over the most recent vectors of one model:
    the frame a single answer is centred in before it is compared with declared themes' examples."""
    rows = await db.fetch_all(
        """SELECT a.language, v.scale, v.vector
           FROM answer_vectors AS v JOIN answers AS a ON a.id = v.answer_id
           WHERE v.model_id = ? ORDER BY v.answer_id DESC LIMIT ?""",
        (model_id, recent),
    )
    sums: dict[str, tuple[FloatArray, int]] = {}
    for row in rows:
        vector = unpack_vector(bytes(row["vector"]), float(row["scale"]))
        vector = vector / max(float(np.linalg.norm(vector)), 1e-12)
        key = str(row["language"] or "und").split("-")[0].lower()
        total, count = sums.get(key, (np.zeros_like(vector), 0))
        sums[key] = (total + vector, count + 1)
    return {key: (np.asarray(total / count, dtype=np.float32), count) for key, (total, count) in sums.items()}

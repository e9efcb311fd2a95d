"""Answers and their analyses: the product's raw material. Nothing here ever deletes an answer."""

from __future__ import annotations

from datetime import datetime

from storage import _rows
from storage import themes as theme_repo
from storage.db import Database, to_db_time, utcnow
from storage.models import AnalysisRecord, AnalysisResult, Answer, NotFoundError


async def record_answer(
    db: Database,
    *,
    survey_id: int | None,
    customer_id: int,
    touchpoint_id: int | None,
    question: str,
    text: str | None,
    rating: int | None,
    language: str | None,
    truncated: bool = False,
    chat_id: int | None,
    message_id: int | None,
    received_at: datetime,
) -> tuple[Answer, bool]:
    """Store one answer. The same Telegram message for the same question again (a retried update) returns
    the stored answer and False. Answers without text need no analysis."""
    if rating is not None and not 1 <= rating <= 5:
        raise ValueError(f"rating must be between 1 and 5, not {rating}")
    state = "pending" if text and text.strip() else "not_applicable"
    async with db.transaction() as conn:
        row = await _rows.one(
            conn,
            """
            INSERT INTO answers (survey_id, customer_id, touchpoint_id, question, text, rating, language,
                                 truncated, chat_id, message_id, received_at, analysis_state)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (chat_id, message_id, question) WHERE message_id IS NOT NULL DO NOTHING
            RETURNING *
            """,
            (
                survey_id,
                customer_id,
                touchpoint_id,
                question,
                text,
                rating,
                language,
                int(truncated),
                chat_id,
                message_id,
                to_db_time(received_at),
                state,
            ),
        )
        if row is not None:
            return _rows.answer(row), True
        existing = await _rows.one(
            conn,
            "SELECT * FROM answers WHERE chat_id IS ? AND message_id = ? AND question = ?",
            (chat_id, message_id, question),
        )
    assert existing is not None
    return _rows.answer(existing), False


async def message_seen(db: Database, chat_id: int, message_id: int) -> bool:
    """Did answers already come from this Telegram message? (an update delivered twice after a restart)"""
    row = await db.fetch_one(
        "SELECT 1 FROM answers WHERE chat_id = ? AND message_id = ? LIMIT 1", (chat_id, message_id)
    )
    return row is not None


async def answers_for_message(db: Database, chat_id: int, message_id: int) -> list[Answer]:
    """The answers one Telegram message carried (a replayed update finds what it stored before a crash)."""
    rows = await db.fetch_all(
        f"{_rows.ANSWER_WITH_ANALYSIS} WHERE a.chat_id = ? AND a.message_id = ? ORDER BY a.id",
        (chat_id, message_id),
    )
    return [_rows.answer(row, with_analysis=True) for row in rows]


async def get_answer(db: Database, answer_id: int) -> Answer | None:
    row = await db.fetch_one(f"{_rows.ANSWER_WITH_ANALYSIS} WHERE a.id = ?", (answer_id,))
    return _rows.answer(row, with_analysis=True) if row else None


async def update_answer_text(
    db: Database, *, chat_id: int, message_id: int, text: str, edited_at: datetime
) -> list[Answer]:
    """A customer edited the message their answers came in: the texts follow the edit and go back to
    analysis (the old analysis stays in history but is no longer current). Ratings are left alone."""
    async with db.transaction() as conn:
        rows = await _rows.all_rows(
            conn,
            """
            UPDATE answers SET text = :text, edited_at = :edited_at, current_analysis_id = NULL,
                analysis_attempts = 0,
                analysis_state = CASE WHEN TRIM(:text) = '' THEN 'not_applicable' ELSE 'pending' END
            WHERE chat_id = :chat_id AND message_id = :message_id AND text IS NOT NULL
            RETURNING *
            """,
            {"text": text, "edited_at": to_db_time(edited_at), "chat_id": chat_id, "message_id": message_id},
        )
    return sorted((_rows.answer(row) for row in rows), key=lambda answer: answer.id)


async def answers_for_survey(db: Database, survey_id: int) -> list[Answer]:
    """In the order they came, each with its current analysis (None until analysed)."""
    rows = await db.fetch_all(
        f"{_rows.ANSWER_WITH_ANALYSIS} WHERE a.survey_id = ? ORDER BY a.received_at, a.id", (survey_id,)
    )
    return [_rows.answer(row, with_analysis=True) for row in rows]


async def answers_for_customer(db: Database, customer_id: int) -> list[Answer]:
    rows = await db.fetch_all(
        f"{_rows.ANSWER_WITH_ANALYSIS} WHERE a.customer_id = ? ORDER BY a.received_at, a.id", (customer_id,)
    )
    return [_rows.answer(row, with_analysis=True) for row in rows]


async def answers_needing_analysis(db: Database, limit: int, *, max_attempts: int = 5) -> list[Answer]:
    """Oldest first: pending answers, and failed ones with attempts left (the model may have recovered)."""
    rows = await db.fetch_all(
        """
        SELECT * FROM answers
        WHERE analysis_state IN ('pending', 'failed') AND analysis_attempts < ?
        ORDER BY id LIMIT ?
        """,
        (max_attempts, limit),
    )
    return [_rows.answer(row) for row in rows]


def _sentiment_score(scores: dict[str, float]) -> float:
    """Net sentiment in [-1, 1]: p(positive) - p(negative)."""
    return float(scores.get("positive", 0.0)) - float(scores.get("negative", 0.0))


async def save_analysis(
    db: Database,
    answer_id: int,
    analysis: AnalysisResult,
    *,
    analysed_at: datetime | None = None,
    analysed_text: str | None = None,
) -> AnalysisRecord:
    """Store what a model read in an answer and make it the current analysis. The same model and version
    again replaces its earlier reading (a re-run after an edit); a newer model adds a row beside it.

    Pass *analysed_text* (the text the model saw): if the customer edited the message meanwhile, the
    reading is kept in history but does not become current, and the answer stays pending for the new text.
    """
    at = to_db_time(analysed_at or utcnow())
    async with db.transaction() as conn:
        current = await _rows.one(conn, "SELECT text FROM answers WHERE id = ?", (answer_id,))
        if current is None:
            raise NotFoundError(f"answer {answer_id} does not exist")
        row = await _rows.one(
            conn,
            """
            INSERT INTO analyses (answer_id, model_id, model_version, sentiment, sentiment_scores,
                                  sentiment_score, emotion, emotion_scores, analysed_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (answer_id, model_id, model_version) DO UPDATE SET
                sentiment = excluded.sentiment, sentiment_scores = excluded.sentiment_scores,
                sentiment_score = excluded.sentiment_score, emotion = excluded.emotion,
                emotion_scores = excluded.emotion_scores, analysed_at = excluded.analysed_at
            RETURNING *
            """,
            (
                answer_id,
                analysis.model_id,
                analysis.model_version,
                analysis.sentiment,
                _rows.dumps(analysis.sentiment_scores),
                _sentiment_score(analysis.sentiment_scores),
                analysis.emotion,
                _rows.dumps(analysis.emotion_scores),
                at,
            ),
        )
        assert row is not None
        if analysed_text is None or analysed_text == current["text"]:
            await conn.execute(
                "UPDATE answers SET current_analysis_id = ?, analysis_state = 'done' WHERE id = ?",
                (row["id"], answer_id),
            )
            # The sentence vector of the same reading, for themes (models without one store none).
            vector = getattr(analysis, "vector", None)
            if vector is not None:
                await theme_repo.save_vector(
                    conn, answer_id, analysis.model_id, analysis.model_version, vector
                )
    return _rows.analysis(row)


async def mark_analysis_failed(db: Database, answer_id: int) -> Answer:
    """The model failed on this answer; it is retried until ``max_attempts`` (never lost)."""
    async with db.transaction() as conn:
        row = await _rows.one(
            conn,
            """UPDATE answers SET analysis_state = 'failed', analysis_attempts = analysis_attempts + 1
               WHERE id = ? RETURNING *""",
            (answer_id,),
        )
    if row is None:
        raise NotFoundError(f"answer {answer_id} does not exist")
    return _rows.answer(row)


async def all_answer_ids_for_reanalysis(
    db: Database, model_id: str, model_version: str, *, read_since: datetime | None = None
) -> list[int]:
    """Answers with text that this model and version has not read yet (after a model upgrade); with
    *read_since*, also those it read before that moment (a full re-read that resumes where it stopped)."""
    since = to_db_time(read_since) if read_since is not None else ""
    rows = await db.fetch_all(
        """
        SELECT a.id FROM answers AS a
        WHERE a.text IS NOT NULL AND TRIM(a.text) != ''
          AND NOT EXISTS (SELECT 1 FROM analyses AS n
                          WHERE n.answer_id = a.id AND n.model_id = ? AND n.model_version = ?
                            AND n.analysed_at >= ?)
        ORDER BY a.id
        """,
        (model_id, model_version, since),
    )
    return [int(row["id"]) for row in rows]

"""`momento reanalyse --all`: answers read before themes existed get their sentence vector."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bot.conversation.analysis import analyse_answers, reanalyse_all
from sentiment import Analysis
from storage import answers, customers
from storage import themes as theme_repo
from storage.db import Database


class VectorClassifier:
    """Labels nothing in particular; hands a vector only when asked to (an older model handed none)."""

    model_id = "minilm-heads"
    model_version = "1"

    def __init__(self, with_vectors: bool) -> None:
        self.with_vectors = with_vectors

    async def analyse(
        self, texts: Sequence[str], languages: Sequence[str | None] | None = None
    ) -> list[Analysis]:
        vector = np.ones(8, dtype=np.float32) / np.sqrt(8) if self.with_vectors else None
        scores = {"negative": 0.1, "neutral": 0.8, "positive": 0.1}
        return [
            Analysis("neutral", scores, "neutral", {"neutral": 1.0}, "minilm-heads", "1", vector)
            for _ in texts
        ]

    async def aclose(self) -> None:
        return None


async def test_reanalyse_all_fills_missing_vectors(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "momento.db")
    try:
        customer = await customers.ensure_telegram_customer(
            db, telegram_user_id=7, telegram_chat_id=7, display_name="Ana", language="es"
        )
        answer, _ = await answers.record_answer(
            db,
            survey_id=None,
            customer_id=customer.id,
            touchpoint_id=None,
            question="unsolicited",
            text="el paquete llegó tarde",
            rating=None,
            language="es",
            chat_id=None,
            message_id=None,
            received_at=datetime(2026, 5, 1, tzinfo=UTC),
        )
        await analyse_answers(db, VectorClassifier(with_vectors=False), [answer])
        assert await theme_repo.vector_of(db, answer.id) is None
        # The same model again: plain reanalyse has nothing to do, --all reads it for its vector.
        assert await reanalyse_all(db, VectorClassifier(with_vectors=True)) == (0, 0)
        assert await reanalyse_all(db, VectorClassifier(with_vectors=True), everything=True) == (1, 0)
        assert await theme_repo.vector_of(db, answer.id) is not None
    finally:
        await db.close()

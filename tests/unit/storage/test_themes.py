"""Sentence vectors stored with the reading (int8, erased with the customer) and precomputed theme runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from storage import answers, customers, privacy, touchpoints
from storage import themes as theme_repo
from storage.db import Database
from storage.models import TouchpointSpec
from tests.support.readings import Reading

AT = datetime(2026, 4, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "momento.db")
    yield database
    await database.close()


def unit(seed: int, dim: int = 384) -> Any:
    vector = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return vector / np.linalg.norm(vector)


def test_int8_packing_keeps_the_direction() -> None:
    vector = unit(1)
    blob, scale = theme_repo.pack_vector(vector)
    assert len(blob) == 384
    back = theme_repo.unpack_vector(blob, scale)
    assert float(back @ vector / np.linalg.norm(back)) > 0.999


async def _answer(db: Database, text: str, *, tier: str = "standard", user: int = 501) -> tuple[int, int]:
    (tp,) = await touchpoints.sync_touchpoints(
        db, [TouchpointSpec("delivery", {"en": "delivery"}, "direct", 3, 1.0, "courier")]
    )
    customer = await customers.ensure_telegram_customer(
        db, telegram_user_id=user, telegram_chat_id=user, display_name="Ana", language="en"
    )
    if tier != "standard":
        async with db.transaction() as conn:
            await conn.execute("UPDATE customers SET tier = ? WHERE id = ?", (tier, customer.id))
    answer, _ = await answers.record_answer(
        db,
        survey_id=None,
        customer_id=customer.id,
        touchpoint_id=tp.id,
        question="experience",
        text=text,
        rating=None,
        language="en",
        chat_id=None,
        message_id=None,
        received_at=AT,
    )
    return answer.id, tp.id


async def test_the_vector_is_stored_with_the_reading_and_erased_with_the_customer(db: Database) -> None:
    answer_id, tp_id = await _answer(db, "The parcel came late")
    assert await theme_repo.answer_ids_missing_vectors(db) == [answer_id]
    await answers.save_analysis(db, answer_id, Reading("negative", {"negative": 0.9}, vector=unit(2)))
    stored = await theme_repo.vector_of(db, answer_id)
    assert stored is not None and float(stored @ unit(2) / np.linalg.norm(stored)) > 0.999
    assert await theme_repo.answer_ids_missing_vectors(db) == []
    found = await theme_repo.vectorised_answers(db, tp_id, AT - timedelta(hours=1), AT + timedelta(hours=1))
    assert [(a.answer_id, a.negative) for a in found.answers] == [(answer_id, True)]
    assert found.vectors.shape == (1, 384) and float(found.vectors[0] @ unit(2)) > 0.99 * float(
        np.linalg.norm(found.vectors[0])
    )
    customer_id = (await answers.get_answer(db, answer_id)).customer_id  # type: ignore[union-attr]
    await privacy.erase_customer(db, customer_id, actor="admin:1")
    assert await theme_repo.vector_of(db, answer_id) is None


async def test_a_model_without_vectors_stores_none(db: Database) -> None:
    answer_id, _ = await _answer(db, "ok")
    await answers.save_analysis(db, answer_id, Reading("neutral", {"neutral": 1.0}))
    assert await theme_repo.vector_of(db, answer_id) is None


async def test_runs_are_replaced_per_period_and_read_by_tier(db: Database) -> None:
    late, tp_id = await _answer(db, "late again")
    vip, _ = await _answer(db, "late for a VIP", tier="gold", user=502)
    for answer_id in (late, vip):
        await answers.save_analysis(db, answer_id, Reading("negative", {"negative": 0.9}, vector=unit(3)))
    start, end = AT - timedelta(days=7), AT
    rows = [
        theme_repo.ThemeRow(
            "late_delivery",
            "declared",
            {"en": "Late"},
            ["late"],
            [late, vip],
            2,
            late,
            tiers={"standard": (1, 1, late), "gold": (1, 1, vip)},
        )
    ]
    await theme_repo.save_run(db, tp_id, "week", start - timedelta(days=7), start, rows[:0], answers=0)
    await theme_repo.save_run(db, tp_id, "week", start, end, rows, answers=2)
    again = await theme_repo.save_run(db, tp_id, "week", start, end, rows, answers=2)
    counted = await db.fetch_one("SELECT COUNT(*) AS n FROM theme_runs")
    assert counted is not None and counted["n"] == 2  # the week's run was replaced, not duplicated
    run = await theme_repo.latest_run(db, tp_id, "week")
    assert run is not None and run.run_id == again and run.answers == 2
    previous = await theme_repo.run_before(db, run)
    assert previous is not None and previous.period_start == start - timedelta(days=7)
    (theme,) = await theme_repo.run_themes(db, run.run_id)
    assert (theme.key, theme.answers, theme.negative, theme.quote) == ("late_delivery", 2, 2, "late again")
    (gold,) = await theme_repo.run_themes(db, run.run_id, tier="gold")
    assert (gold.answers, gold.negative, gold.quote) == (1, 1, "late for a VIP")  # a quote of that tier
    assert await theme_repo.run_themes(db, run.run_id, tier="silver") == []
    assert set(await theme_repo.theme_quotes(db, run.run_id, "late_delivery")) == {
        "late again",
        "late for a VIP",
    }

"""Classifying answers as they arrive, and again later for those the model could not read.

An answer is stored before it is classified, so a model failure never loses it: the answer is marked
``failed`` and a periodic retry (and ``momento reanalyse``) picks it up once the model works again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from bot import metrics
from bot.config import Settings
from bot.outreach import webhooks
from sentiment import Analysis, ClassificationError, Classifier
from storage import answers as answer_repo
from storage import themes as theme_repo
from storage import touchpoints as touchpoint_repo
from storage.db import Database, to_db_time, utcnow
from storage.models import Answer

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


async def analyse_answers(
    db: Database, classifier: Classifier, answers: Sequence[Answer], *, settings: Settings | None = None
) -> dict[int, Analysis]:
    """Classify and store; returns the analyses by answer id (empty for answers the model failed on).

    With *settings*, each stored reading is reported to the webhooks subscribed to ``answer.analysed``, in
    the same transaction as the reading."""
    readable = [answer for answer in answers if answer.text and answer.text.strip()]
    if not readable:
        return {}
    metrics.CLASSIFIER_QUEUE.inc(len(readable))
    started = time.perf_counter()
    try:
        results = await classifier.analyse([a.text or "" for a in readable], [a.language for a in readable])
    except ClassificationError as exc:
        log.warning("classifier failed on %d answer(s); kept for retry: %s", len(readable), exc)
        for answer in readable:
            await answer_repo.mark_analysis_failed(db, answer.id)
        return {}
    finally:
        metrics.CLASSIFIER_QUEUE.dec(len(readable))
        metrics.CLASSIFIER_SECONDS.observe(time.perf_counter() - started)
    reported = settings is not None and webhooks.wants(settings, "answer.analysed")
    found: dict[int, Analysis] = {}
    for answer, analysis in zip(readable, results, strict=True):
        if not reported or settings is None:
            await answer_repo.save_analysis(db, answer.id, analysis)
            found[answer.id] = analysis
            continue
        # The payload is read before the write lock is taken: a transaction never waits on reads.
        now = utcnow()
        data = await _answer_data(db, answer, analysis, now)
        async with db.transaction():
            await answer_repo.save_analysis(db, answer.id, analysis, analysed_at=now)
            await webhooks.enqueue_event(
                db, settings, "answer.analysed", data, at=now, customer_id=answer.customer_id
            )
        found[answer.id] = analysis
    return found


async def _answer_data(db: Database, answer: Answer, analysis: Analysis, at: Any) -> dict[str, Any]:
    return {
        "answer": {
            "id": answer.id,
            "survey_id": answer.survey_id,
            "question": answer.question,
            "text": answer.text,
            "language": answer.language,
            "touchpoint": await touchpoint_repo.touchpoint_key(db, answer.touchpoint_id),
            "received_at": to_db_time(answer.received_at),
        },
        "analysis": {
            "sentiment": analysis.sentiment,
            "sentiment_scores": analysis.sentiment_scores,
            "emotion": analysis.emotion,
            "emotion_scores": analysis.emotion_scores,
            "model": f"{analysis.model_id}@{analysis.model_version}",
            "analysed_at": to_db_time(at or utcnow()),
        },
        "customer": await webhooks.customer_ref(db, answer.customer_id),
    }


async def retry_pending(
    db: Database, classifier: Classifier, *, limit: int = 200, settings: Settings | None = None
) -> int:
    """One pass over pending and failed answers; returns how many were analysed now."""
    waiting = await answer_repo.answers_needing_analysis(db, limit, max_attempts=MAX_ATTEMPTS)
    done = 0
    for start in range(0, len(waiting), 32):
        done += len(await analyse_answers(db, classifier, waiting[start : start + 32], settings=settings))
    return done


async def reanalyse_all(
    db: Database,
    classifier: Classifier,
    *,
    batch: int = 64,
    progress: Callable[[int, int], None] | None = None,
    settings: Settings | None = None,
    fill_vectors: bool = False,
) -> tuple[int, int]:
    """Read every answer the current model has not read yet (after a model upgrade or an outage); with
    *settings*, each new reading is recorded for the ``answer.analysed`` webhooks (sent by the bot's clock).

    With *fill_vectors* (``reanalyse --all``), answers already read but stored without a sentence vector
    (before themes existed) are read again for it. Returns (analysed, still failing)."""
    ids = await answer_repo.all_answer_ids_for_reanalysis(db, classifier.model_id, classifier.model_version)
    if fill_vectors:
        ids = sorted(set(ids) | set(await theme_repo.answer_ids_missing_vectors(db)))
    analysed = failed = 0
    for start in range(0, len(ids), batch):
        chunk = [await answer_repo.get_answer(db, answer_id) for answer_id in ids[start : start + batch]]
        present = [answer for answer in chunk if answer is not None]
        done = await analyse_answers(db, classifier, present, settings=settings)
        analysed += len(done)
        failed += len(present) - len(done)
        if progress is not None:
            progress(min(start + batch, len(ids)), len(ids))
    return analysed, failed

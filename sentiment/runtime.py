"""Batching off the event loop: concurrent callers' texts are gathered into batches for one worker thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sentiment.analysis import Analysis, ClassificationError, SyncModel

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Job:
    text: str
    language: str | None
    future: asyncio.Future[Analysis]


class BatchingClassifier:
    """Implements `Classifier`: gather up to batch_size texts or max_wait, run them in a one-worker thread."""

    def __init__(
        self,
        model: SyncModel,
        *,
        batch_size: int = 32,
        max_wait_ms: int = 20,
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        self.model = model
        self.model_id = model.model_id
        self.model_version = model.model_version
        self.batch_size = batch_size
        self.max_wait = max_wait_ms / 1000
        self._executor = executor or ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="momento-classifier"
        )
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._closed = False

    async def analyse(
        self, texts: Sequence[str], languages: Sequence[str | None] | None = None
    ) -> list[Analysis]:
        """One Analysis per text, in order; raises ClassificationError if the model failed on any of them."""
        if self._closed:
            raise ClassificationError("the classifier is closed")
        if languages is not None and len(languages) != len(texts):
            raise ValueError("languages must be None or as long as texts")
        if not texts:
            return []
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run(), name="momento-classifier")
        loop = asyncio.get_running_loop()
        jobs = [
            _Job(
                text if isinstance(text, str) else "",
                languages[i] if languages else None,
                loop.create_future(),
            )
            for i, text in enumerate(texts)
        ]
        for job in jobs:
            self._queue.put_nowait(job)
        try:
            return list(await asyncio.gather(*(job.future for job in jobs)))
        except BaseException:
            for job in jobs:
                job.future.cancel()
            raise

    async def _run(self) -> None:
        batch: list[_Job] = []
        try:
            await self._serve(batch)
        except asyncio.CancelledError:
            # Closing mid-batch: the texts already taken from the queue must not wait forever.
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(ClassificationError("the classifier was closed"))
            raise

    async def _serve(self, batch: list[_Job]) -> None:
        """Gather queued texts into *batch* (shared with _run for clean cancellation) and classify them."""
        loop = asyncio.get_running_loop()
        while True:
            batch.clear()
            batch.append(await self._queue.get())
            deadline = loop.time() + self.max_wait
            while len(batch) < self.batch_size:
                if not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                    continue
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
            live = [job for job in batch if not job.future.done()]
            if not live:
                continue
            texts = [job.text for job in live]
            languages = [job.language for job in live]
            try:
                results = await loop.run_in_executor(self._executor, self.model.predict, texts, languages)
                if len(results) != len(live):
                    raise RuntimeError(f"model returned {len(results)} analyses for {len(live)} texts")
            except Exception as exc:
                logger.exception("classification of %d texts failed", len(live))
                for job in live:
                    if not job.future.done():
                        job.future.set_exception(ClassificationError(f"the model failed: {exc}"))
                continue
            for job, result in zip(live, results, strict=True):
                if not job.future.done():
                    job.future.set_result(result)

    async def aclose(self) -> None:
        """Stop the worker, fail queued callers, and release the thread."""
        self._closed = True
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                job.future.set_exception(ClassificationError("the classifier was closed"))
        await asyncio.to_thread(self._executor.shutdown, wait=True)

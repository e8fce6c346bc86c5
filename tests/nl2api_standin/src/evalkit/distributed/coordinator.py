"""Producer side: enqueue a batch, poll `scorecards` until the count reaches the task count, delete the streams.

Completion is counted in scorecards only, so a task that ended in the DLQ (no scorecard) keeps the producer
waiting until the timeout (3600 s in the real app).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from CONTRACTS import TestCase, WorkerTask
from src.evalkit.distributed.config import CoordinatorConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchResult:
    batch_id: str
    total: int
    passed: int
    failed: int
    in_dlq: int
    duration_seconds: float
    completed: bool


class BatchCoordinator:
    def __init__(self, queue: Any, scorecard_repo: Any, config: CoordinatorConfig | None = None) -> None:
        self.queue = queue
        self.scorecard_repo = scorecard_repo
        self.config = config or CoordinatorConfig()

    async def start_batch(self, test_cases: list[TestCase], batch_id: str) -> int:
        await self.queue.ensure_stream(batch_id)
        tasks = [WorkerTask(test_case_id=tc.id, batch_id=batch_id) for tc in test_cases]
        total = 0
        for start in range(0, len(tasks), 100):
            total += len(await self.queue.enqueue_batch(tasks[start : start + 100], batch_id))
        logger.info("Enqueued %d tasks for batch %s", total, batch_id)
        return total

    async def wait_for_completion(self, batch_id: str, total_tasks: int) -> BatchResult:
        started = time.monotonic()
        while True:
            summary = await self.scorecard_repo.get_batch_summary(batch_id)
            done = summary["passed"] + summary["failed"]
            elapsed = time.monotonic() - started
            if done >= total_tasks or elapsed >= self.config.batch_timeout_seconds:
                in_dlq = await self.queue.dlq_length(batch_id)
                if done < total_tasks:
                    logger.warning(
                        "Batch %s timed out after %.1fs (%d/%d completed)", batch_id, elapsed, done, total_tasks
                    )
                return BatchResult(batch_id, total_tasks, summary["passed"], summary["failed"], in_dlq, elapsed,
                                   done >= total_tasks)
            await asyncio.sleep(self.config.progress_poll_interval_seconds)

    async def cleanup(self, batch_id: str) -> None:
        await self.queue.delete_stream(batch_id)

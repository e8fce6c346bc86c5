"""The evaluation worker loop, with the real shutdown semantics.

SIGTERM and SIGINT only set a flag (loop.add_signal_handler), and the flag is looked at only when a message
arrives. So:
- an idle worker logs "received shutdown signal" and keeps blocking on XREADGROUP: it does not exit;
- a busy worker finishes its task and acks it, then waits for the next message; when one arrives it is nacked
  with requeue (attempt+1, or the DLQ on its last attempt) and the worker returns normally (exit 0).
One message at a time, no task timeout, no heartbeat file or endpoint (the heartbeat is a debug log line).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

from src.evalkit.common.telemetry import get_meter, get_tracer
from src.evalkit.distributed.models import QueueMessage

logger = logging.getLogger(__name__)

tracer = get_tracer(__name__)
meter = get_meter(__name__)
tasks_processed_counter = meter.create_counter("eval_worker_tasks_processed", description="Tasks processed")
tasks_failed_counter = meter.create_counter("eval_worker_tasks_failed", description="Tasks that failed")
task_duration_histogram = meter.create_histogram("eval_worker_task_duration_ms", description="Task time in ms")
worker_active_gauge = meter.create_up_down_counter("eval_worker_active", description="Active workers")

HEARTBEAT_SECONDS = 30

#: (message, test case) -> scorecard already saved; raises on failure.
TaskProcessor = Callable[[QueueMessage, Any], Awaitable[None]]
TestCaseFetcher = Callable[[str], Awaitable[Any]]


class EvalWorker:
    def __init__(
        self,
        worker_id: str,
        queue: Any,
        batch_id: str,
        eval_mode: str,
        test_case_fetcher: TestCaseFetcher,
        processor: TaskProcessor,
    ) -> None:
        self.worker_id = worker_id
        self.queue = queue
        self.batch_id = batch_id
        self.eval_mode = eval_mode
        self.test_case_fetcher = test_case_fetcher
        self.processor = processor
        self.shutdown_requested = asyncio.Event()
        self.processed = 0
        self.failed = 0

    def _on_signal(self) -> None:
        logger.info("Worker %s received shutdown signal", self.worker_id)
        self.shutdown_requested.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_signal)
        logger.info("Worker %s starting for batch %s", self.worker_id, self.batch_id)
        active = {"worker_id": self.worker_id, "batch_id": self.batch_id}
        worker_active_gauge.add(1, active)
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            await self._loop()
        finally:
            heartbeat.cancel()
            worker_active_gauge.add(-1, active)
            logger.info("Worker %s stopped. Processed: %d, Failed: %d", self.worker_id, self.processed, self.failed)

    async def _heartbeat(self) -> None:
        while True:
            logger.debug("Worker %s heartbeat: processed=%d failed=%d", self.worker_id, self.processed, self.failed)
            await asyncio.sleep(HEARTBEAT_SECONDS)

    async def _loop(self) -> None:
        labels = {"worker_id": self.worker_id, "batch_id": self.batch_id, "eval_mode": self.eval_mode}
        async for message in self.queue.consume(consumer_id=self.worker_id, batch_id=self.batch_id, block_ms=5000):
            if self.shutdown_requested.is_set():
                logger.info("Shutdown requested, requeueing message %s", message.message_id)
                await self.queue.nack(message, requeue=True)
                break
            started = time.monotonic()
            try:
                with tracer.start_as_current_span("eval.worker.process_task") as span:
                    span.set_attribute("worker_id", self.worker_id)
                    span.set_attribute("task_id", message.task_id or "")
                    span.set_attribute("attempt", message.attempt)
                    if not message.test_case_id:
                        raise ValueError(f"Message {message.message_id} has no test_case_id")
                    test_case = await self.test_case_fetcher(message.test_case_id)
                    if test_case is None:
                        raise ValueError(f"Test case {message.test_case_id} not found")
                    await self.processor(message, test_case)
                await self.queue.ack(message)
                self.processed += 1
                tasks_processed_counter.add(1, {**labels, "status": "success"})
                task_duration_histogram.record((time.monotonic() - started) * 1000, labels)
            except Exception as exc:
                self.failed += 1
                logger.error("Task %s failed: %s", message.task_id, exc, exc_info=True)
                tasks_failed_counter.add(1, {**labels, "error_type": type(exc).__name__})
                await self.queue.nack(message, requeue=True, error=str(exc)[:500])

"""The evaluation queue on Redis Streams, with the real protocol and its gaps.

- One stream per batch, eval:tasks:<batch_id>, consumer group eval-workers created with
  XGROUP CREATE ... 0 MKSTREAM by the producer and by every worker at start (BUSYGROUP ignored).
- Entry fields: task_id, test_case_id, batch_id, payload (WorkerTask JSON), attempt, enqueued_at; a requeued
  entry adds error. MAXLEN ~100000 on tasks, ~10000 on the DLQ eval:dlq:<batch_id>.
- Read: XREADGROUP GROUP eval-workers <consumer> COUNT 1 BLOCK 5000 STREAMS <stream> >, in a loop for ever; an
  empty read just loops. NOGROUP re-creates the group (and the stream). Any other error (the producer deleting the
  stream under a blocked reader: "UNBLOCKED the stream key no longer exists") ends consumption with
  QueueConsumeError.
- ack = XACK. Entries are never XDELeted, so XLEN never falls; the backlog is the group's `lag`.
- nack = XACK, then XADD a copy with attempt+1 at once (no backoff), or, from attempt >= max_retries on, XADD to
  the DLQ with error and moved_at.
- Nothing reads the pending entries list: a message delivered to a consumer that dies is never reclaimed.
- The client is redis.asyncio.from_url(url, db=0, decode_responses=True) with no socket timeout of its own, so
  with redis-py >= 8 (5 s default socket timeout = the 5 s block) an idle consumer fails after about 5 s.
- The full URL, password included, is logged at INFO on connect.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as redis
from redis.exceptions import ResponseError

from CONTRACTS import WorkerTask, utc_now
from src.evalkit.common.telemetry import get_meter
from src.evalkit.distributed.config import QueueConfig
from src.evalkit.distributed.models import QueueMessage
from src.evalkit.distributed.queue import QueueConnectionError, QueueConsumeError

logger = logging.getLogger(__name__)

meter = get_meter(__name__)
enqueued_counter = meter.create_counter("eval_queue_enqueued", description="Tasks enqueued")
acked_counter = meter.create_counter("eval_queue_acked", description="Tasks acknowledged")
nacked_counter = meter.create_counter("eval_queue_nacked", description="Tasks nacked (requeue or dlq)")
dlq_counter = meter.create_counter("eval_queue_dlq", description="Tasks moved to the dead-letter stream")


def batch_of(stream_name: str) -> str:
    return stream_name.split(":")[-1]


class RedisStreamQueue:
    def __init__(self, client: Any, config: QueueConfig) -> None:
        self.client = client
        self.config = config
        self.closed = False

    @classmethod
    async def create(cls, config: QueueConfig) -> RedisStreamQueue:
        try:
            client = redis.from_url(config.redis_url, db=config.redis_db, decode_responses=True)
            await client.ping()
        except Exception as exc:
            raise QueueConnectionError(f"redis: {exc}") from exc
        logger.info("Connected to Redis at %s", config.redis_url)
        return cls(client, config)

    async def ensure_stream(self, batch_id: str) -> None:
        try:
            await self.client.xgroup_create(
                self.config.stream_name(batch_id), self.config.consumer_group, id="0", mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def enqueue_batch(self, tasks: list[WorkerTask], batch_id: str) -> list[str]:
        stream = self.config.stream_name(batch_id)
        async with self.client.pipeline(transaction=False) as pipe:
            for task in tasks:
                pipe.xadd(
                    stream,
                    {
                        "task_id": task.task_id,
                        "test_case_id": task.test_case_id,
                        "batch_id": batch_id,
                        "payload": task.model_dump_json(),
                        "attempt": "1",
                        "enqueued_at": utc_now().isoformat(),
                    },
                    maxlen=self.config.stream_max_len,
                    approximate=True,
                )
            ids = await pipe.execute()
        enqueued_counter.add(len(tasks), {"batch_id": batch_id})
        logger.info("Enqueued %d tasks to batch %s", len(tasks), batch_id)
        return [str(i) for i in ids]

    async def consume(self, consumer_id: str, batch_id: str, block_ms: int = 5000) -> AsyncIterator[QueueMessage]:
        stream = self.config.stream_name(batch_id)
        await self.ensure_stream(batch_id)
        try:
            while not self.closed:
                try:
                    result = await self.client.xreadgroup(
                        groupname=self.config.consumer_group,
                        consumername=consumer_id,
                        streams={stream: ">"},
                        count=1,
                        block=block_ms,
                    )
                except ResponseError as exc:
                    if "NOGROUP" in str(exc):
                        await self.ensure_stream(batch_id)
                        continue
                    raise
                for stream_name, entries in result or []:
                    for message_id, fields in entries:
                        yield self._message(message_id, stream_name, fields)
        except Exception as exc:
            raise QueueConsumeError(f"consumer {consumer_id}: {exc}") from exc

    def _message(self, message_id: str, stream_name: str, fields: dict[str, Any]) -> QueueMessage:
        try:
            payload = json.loads(fields.get("payload") or "{}")
        except ValueError:
            payload = {"raw": fields.get("payload")}
        return QueueMessage(
            message_id=str(message_id),
            stream_name=stream_name,
            fields=dict(fields),
            attempt=int(fields.get("attempt") or 1),
            max_attempts=self.config.max_retries,
            consumer_group=self.config.consumer_group,
            payload=payload if isinstance(payload, dict) else {},
        )

    async def ack(self, message: QueueMessage) -> None:
        done = await self.client.xack(message.stream_name, message.consumer_group, message.message_id)
        if done == 0:
            logger.warning("XACK returned 0 for message %s (may have already been acked)", message.message_id)
        else:
            acked_counter.add(1, {"batch_id": batch_of(message.stream_name)})

    async def nack(self, message: QueueMessage, requeue: bool = True, error: str | None = None) -> None:
        await self.client.xack(message.stream_name, message.consumer_group, message.message_id)
        batch_id = batch_of(message.stream_name)
        if requeue and message.is_retriable:
            await self.client.xadd(
                self.config.stream_name(batch_id),
                {
                    "task_id": message.task_id or "",
                    "test_case_id": message.test_case_id or "",
                    "batch_id": batch_id,
                    "payload": message.fields.get("payload", ""),
                    "attempt": str(message.attempt + 1),
                    "enqueued_at": utc_now().isoformat(),
                    "error": error or "",
                },
                maxlen=self.config.stream_max_len,
                approximate=True,
            )
            nacked_counter.add(1, {"batch_id": batch_id, "action": "requeue"})
            return
        await self.client.xadd(
            self.config.dlq_name(batch_id),
            {
                "original_message_id": message.message_id,
                "task_id": message.task_id or "",
                "test_case_id": message.test_case_id or "",
                "batch_id": batch_id,
                "payload": message.fields.get("payload", ""),
                "attempt": str(message.attempt),
                "error": error or "max_retries_exceeded",
                "moved_at": utc_now().isoformat(),
            },
            maxlen=self.config.dlq_max_len,
            approximate=True,
        )
        logger.info("Moved message %s to DLQ (error: %s)", message.message_id, error)
        dlq_counter.add(1, {"batch_id": batch_id})
        nacked_counter.add(1, {"batch_id": batch_id, "action": "dlq"})

    async def stream_length(self, batch_id: str) -> int:
        """XLEN, which the real coordinator calls "pending" although acked entries stay in it."""
        return int(await self.client.xlen(self.config.stream_name(batch_id)))

    async def dlq_length(self, batch_id: str) -> int:
        return int(await self.client.xlen(self.config.dlq_name(batch_id)))

    async def delete_stream(self, batch_id: str) -> None:
        await self.client.delete(self.config.stream_name(batch_id), self.config.dlq_name(batch_id))
        logger.info("Deleted streams for batch %s", batch_id)

    async def close(self) -> None:
        self.closed = True
        await self.client.aclose()
        logger.info("Redis queue closed")

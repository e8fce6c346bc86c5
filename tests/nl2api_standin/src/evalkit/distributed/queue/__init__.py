"""Queue factory. redis is imported only when a queue is created, as in the real factory: an image without the
redis package passes an import check of the worker module and fails at start with
"Redis backend requires 'redis' package" (exit 1)."""

from __future__ import annotations

import logging
from typing import Any

from src.evalkit.distributed.config import QueueConfig

logger = logging.getLogger(__name__)


class QueueError(Exception):
    pass


class QueueConnectionError(QueueError):
    pass


class QueueConsumeError(QueueError):
    pass


async def create_queue(config: QueueConfig | None = None) -> Any:
    config = config or QueueConfig()
    logger.info("Creating queue with backend: redis")
    try:
        from src.evalkit.distributed.queue.redis_stream import RedisStreamQueue
    except ImportError as exc:
        raise QueueError("Redis backend requires 'redis' package. Install with: pip install redis") from exc
    return await RedisStreamQueue.create(config)


__all__ = ["QueueConnectionError", "QueueConsumeError", "QueueError", "create_queue"]

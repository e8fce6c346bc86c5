"""Redis cache. Its constructor takes one CacheConfig; the MCP server calls it with keyword arguments instead
(redis_url=..., default_ttl_seconds=..., key_prefix=...), which raises TypeError, exactly like the real app:
the MCP server therefore never uses Redis, whatever ENTITY_MCP_REDIS_URL says."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CacheConfig:
    redis_url: str = "redis://localhost:6379/0"
    default_ttl_seconds: int = 3600
    key_prefix: str = "nl2api:"


class RedisCache:
    def __init__(self, config: CacheConfig) -> None:
        self.config = config
        self._client: Any = None

    @property
    def is_connected(self) -> bool:
        return self._client is not None

    async def connect(self) -> None:
        import redis.asyncio as redis

        logger.info("Connecting to Redis at %s", self.config.redis_url)
        self._client = redis.from_url(self.config.redis_url, decode_responses=True)
        await self._client.ping()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

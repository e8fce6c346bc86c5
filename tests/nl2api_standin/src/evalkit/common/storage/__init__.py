"""Repositories over PostgreSQL (asyncpg), created from StorageConfig.

As in the real factory, a pool that cannot be created raises StorageConnectionError whose message contains the
complete DSN, password included; the worker logs it. The deployment has to keep that out of its logs.
"""

from __future__ import annotations

import logging
from typing import Any

from src.evalkit.common.storage.config import DEFAULT_POSTGRES_URL, StorageConfig
from src.evalkit.common.storage.errors import StorageConnectionError, StorageError

logger = logging.getLogger(__name__)

_pool: Any = None


async def create_repositories(config: StorageConfig | None = None) -> tuple[Any, Any, Any]:
    """(test_case_repo, scorecard_repo, batch_repo) sharing one pool."""
    global _pool
    config = config or StorageConfig()
    if config.backend == "azure":
        raise NotImplementedError("Azure storage backend is not implemented")
    if config.backend == "memory":
        raise NotImplementedError("the stand-in has no in-memory storage backend")
    import asyncpg

    from src.evalkit.common.storage.postgres.repositories import (
        PostgresBatchJobRepository,
        PostgresScorecardRepository,
        PostgresTestCaseRepository,
    )

    try:
        _pool = await asyncpg.create_pool(
            config.postgres_url, min_size=config.postgres_pool_min, max_size=config.postgres_pool_max
        )
    except Exception as exc:
        raise StorageConnectionError(f"Failed to connect to {config.postgres_url}: {exc}") from exc
    logger.info("PostgreSQL pool created (min %d, max %d)", config.postgres_pool_min, config.postgres_pool_max)
    return PostgresTestCaseRepository(_pool), PostgresScorecardRepository(_pool), PostgresBatchJobRepository(_pool)


async def get_pool() -> Any:
    if _pool is None:
        raise RuntimeError("storage pool not initialised")
    return _pool


async def close_repositories() -> None:
    global _pool
    if _pool is not None:
        await _pool.close()
        _pool = None


__all__ = [
    "DEFAULT_POSTGRES_URL",
    "StorageConfig",
    "StorageConnectionError",
    "StorageError",
    "close_repositories",
    "create_repositories",
    "get_pool",
]

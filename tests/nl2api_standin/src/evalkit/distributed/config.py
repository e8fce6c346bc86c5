"""Queue and worker settings (the names and defaults the real code has)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class EvalMode(str, Enum):
    SIMULATED = "simulated"
    RESOLVER = "resolver"
    ROUTING = "routing"
    TOOL_ONLY = "tool_only"
    ORCHESTRATOR = "orchestrator"


@dataclass(frozen=True)
class QueueConfig:
    redis_url: str = "redis://localhost:6379"
    redis_db: int = 0
    stream_prefix: str = "eval:tasks"
    dlq_prefix: str = "eval:dlq"
    consumer_group: str = "eval-workers"
    max_retries: int = 3
    stream_max_len: int = 100_000
    dlq_max_len: int = 10_000
    block_ms: int = 5000

    def stream_name(self, batch_id: str) -> str:
        return f"{self.stream_prefix}:{batch_id}"

    def dlq_name(self, batch_id: str) -> str:
        return f"{self.dlq_prefix}:{batch_id}"


@dataclass(frozen=True)
class CoordinatorConfig:
    progress_poll_interval_seconds: float = 2.0
    batch_timeout_seconds: float = 3600.0

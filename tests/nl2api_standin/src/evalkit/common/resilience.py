"""A small circuit breaker: after `failure_threshold` consecutive failures calls are refused for
`recovery_timeout` seconds, then one trial call decides whether it closes again."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class CircuitOpenError(RuntimeError):
    pass


class CircuitBreaker:
    def __init__(self, failure_threshold: int = 5, recovery_timeout: float = 30.0, name: str = "circuit") -> None:
        self.failure_threshold = failure_threshold
        self.recovery_timeout = recovery_timeout
        self.name = name
        self.failure_count = 0
        self.total_calls = 0
        self._opened_at: float | None = None

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if time.monotonic() - self._opened_at >= self.recovery_timeout:
            return "half_open"
        return "open"

    @property
    def is_open(self) -> bool:
        return self.state == "open"

    @property
    def stats(self) -> dict[str, Any]:
        return {"state": self.state, "failure_count": self.failure_count, "total_calls": self.total_calls}

    async def call(self, func: Callable[[], Awaitable[T]]) -> T:
        if self.is_open:
            raise CircuitOpenError(f"circuit {self.name} is open")
        self.total_calls += 1
        try:
            result = await func()
        except Exception:
            self.failure_count += 1
            if self.failure_count >= self.failure_threshold:
                self._opened_at = time.monotonic()
            raise
        self.failure_count = 0
        self._opened_at = None
        return result

"""A delivered stream entry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class QueueMessage:
    message_id: str
    stream_name: str
    fields: dict[str, Any]
    attempt: int = 1
    max_attempts: int = 3
    consumer_group: str = "eval-workers"
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def is_retriable(self) -> bool:
        return self.attempt < self.max_attempts

    @property
    def task_id(self) -> str | None:
        return self.fields.get("task_id") or self.payload.get("task_id")

    @property
    def test_case_id(self) -> str | None:
        return self.fields.get("test_case_id") or self.payload.get("test_case_id")

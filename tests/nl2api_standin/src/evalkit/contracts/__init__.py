"""Data shapes passed between the producer, the queue, the worker and the database.

The real project re-exports its contracts from a root-level CONTRACTS.py; the stand-in does the same, and its
storage, evaluation and queue modules import them from there, so that a wheel-only install fails the same way.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    return str(uuid.uuid4())


class TestCase(BaseModel):
    """One row of `test_cases`: a question and the entity identifier a correct answer resolves it to."""

    __test__ = False  # not a pytest class
    model_config = ConfigDict(frozen=True)

    id: str
    nl_query: str
    entity_name: str | None = None
    expected_identifier: str | None = None
    tags: tuple[str, ...] = ()
    # Stand-in test knobs, read from expected_response (the real app has no such keys): how long processing
    # takes, and whether it raises (to exercise the nack / retry / DLQ path).
    standin_delay_seconds: float = 0.0
    standin_fail: bool = False


class WorkerTask(BaseModel):
    """What the producer puts in a stream entry's `payload` field (as JSON)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    task_id: str = Field(default_factory=new_uuid)
    test_case_id: str
    batch_id: str
    created_at: datetime = Field(default_factory=utc_now)


class Scorecard(BaseModel):
    """One row of `scorecards`, written by a worker for every processed task."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=new_uuid)
    test_case_id: str
    batch_id: str | None = None
    overall_passed: bool
    overall_score: float
    generated_identifier: str | None = None
    worker_id: str
    attempt_number: int = 1
    message_id: str | None = None
    eval_mode: str
    total_latency_ms: int = 0


class BatchJob(BaseModel):
    """One row of `batch_jobs`; the id is generated here, by the producer, as in the real CLI."""

    model_config = ConfigDict(frozen=True)

    batch_id: str = Field(default_factory=new_uuid)
    total_tests: int
    completed_count: int = 0
    failed_count: int = 0
    status: str = "pending"
    tags: tuple[str, ...] = ()
    run_label: str | None = None
    created_at: datetime = Field(default_factory=utc_now)
    started_at: datetime | None = None
    completed_at: datetime | None = None


__all__ = ["BatchJob", "Scorecard", "TestCase", "WorkerTask", "new_uuid", "utc_now"]

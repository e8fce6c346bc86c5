"""asyncpg repositories for test_cases, scorecards and batch_jobs (columns: see migrations/)."""

from __future__ import annotations

import json
from typing import Any

from CONTRACTS import BatchJob, Scorecard, TestCase


def _first_ticker(expected_tool_calls: Any) -> str | None:
    """The identifier a correct answer carries: the first `tickers` argument of the expected tool calls."""
    calls = json.loads(expected_tool_calls) if isinstance(expected_tool_calls, str) else expected_tool_calls
    for call in calls or []:
        tickers = (call.get("arguments") or {}).get("tickers") if isinstance(call, dict) else None
        if tickers:
            return str(tickers[0])
    return None


def _row_to_test_case(row: Any) -> TestCase:
    expected = row["expected_response"]
    expected = json.loads(expected) if isinstance(expected, str) else (expected or {})
    return TestCase(
        id=str(row["id"]),
        nl_query=row["nl_query"],
        entity_name=expected.get("input_entity"),
        expected_identifier=_first_ticker(row["expected_tool_calls"]),
        tags=tuple(row["tags"] or ()),
        standin_delay_seconds=float(expected.get("standin_delay_seconds") or 0),
        standin_fail=bool(expected.get("standin_fail")),
    )


class PostgresTestCaseRepository:
    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def get(self, test_case_id: str) -> TestCase | None:
        row = await self.pool.fetchrow(
            "SELECT id, nl_query, expected_tool_calls, expected_response, tags FROM test_cases WHERE id = $1::uuid",
            test_case_id,
        )
        return _row_to_test_case(row) if row else None

    async def list(self, tags: list[str] | None = None, limit: int = 10000) -> list[TestCase]:
        """Active test cases having any of `tags` (array overlap, as the real repository filters)."""
        rows = await self.pool.fetch(
            "SELECT id, nl_query, expected_tool_calls, expected_response, tags FROM test_cases"
            " WHERE status = 'active' AND ($1::text[] IS NULL OR tags && $1::text[])"
            " ORDER BY created_at DESC LIMIT $2",
            tags,
            limit,
        )
        return [_row_to_test_case(row) for row in rows]


class PostgresScorecardRepository:
    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def save(self, scorecard: Scorecard) -> None:
        generated = (
            [{"tool_name": "get_data", "arguments": {"tickers": [scorecard.generated_identifier]}}]
            if scorecard.generated_identifier
            else []
        )
        await self.pool.execute(
            "INSERT INTO scorecards (id, test_case_id, batch_id, syntax_result, generated_tool_calls,"
            " overall_passed, overall_score, worker_id, attempt_number, message_id, total_latency_ms, eval_mode,"
            " completed_at)"
            " VALUES ($1::uuid, $2::uuid, $3, $4::jsonb, $5::jsonb, $6, $7, $8, $9, $10, $11, $12, now())",
            scorecard.id,
            scorecard.test_case_id,
            scorecard.batch_id,
            json.dumps({"passed": scorecard.overall_passed, "score": scorecard.overall_score}),
            json.dumps(generated),
            scorecard.overall_passed,
            scorecard.overall_score,
            scorecard.worker_id,
            scorecard.attempt_number,
            scorecard.message_id,
            scorecard.total_latency_ms,
            scorecard.eval_mode,
        )

    async def get_batch_summary(self, batch_id: str) -> dict[str, int]:
        row = await self.pool.fetchrow(
            "SELECT count(*) AS total, count(*) FILTER (WHERE overall_passed) AS passed,"
            " count(*) FILTER (WHERE NOT overall_passed) AS failed FROM scorecards WHERE batch_id = $1",
            batch_id,
        )
        return {"total": row["total"], "passed": row["passed"], "failed": row["failed"]}


class PostgresBatchJobRepository:
    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def create(self, job: BatchJob) -> None:
        await self.pool.execute(
            "INSERT INTO batch_jobs (id, total_tests, completed_count, failed_count, status, tags, run_label,"
            " created_at, started_at) VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9)",
            job.batch_id,
            job.total_tests,
            job.completed_count,
            job.failed_count,
            job.status,
            list(job.tags),
            job.run_label,
            job.created_at,
            job.started_at,
        )

    async def update(self, job: BatchJob) -> None:
        await self.pool.execute(
            "UPDATE batch_jobs SET completed_count = $2, failed_count = $3, status = $4, started_at = $5,"
            " completed_at = $6 WHERE id = $1::uuid",
            job.batch_id,
            job.completed_count,
            job.failed_count,
            job.status,
            job.started_at,
            job.completed_at,
        )

    async def get(self, batch_id: str) -> dict[str, Any] | None:
        row = await self.pool.fetchrow("SELECT * FROM batch_jobs WHERE id = $1::uuid", batch_id)
        return dict(row) if row else None

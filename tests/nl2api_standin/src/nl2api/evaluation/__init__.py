"""The nl2api evaluation pack of the stand-in: a response passes when it carries the expected identifier."""

from __future__ import annotations

from CONTRACTS import Scorecard, TestCase


class NL2APIPack:
    name = "nl2api"

    def evaluate(
        self,
        test_case: TestCase,
        generated_identifier: str | None,
        *,
        worker_id: str,
        batch_id: str,
        eval_mode: str,
        attempt: int,
        message_id: str,
        latency_ms: int,
    ) -> Scorecard:
        expected = test_case.expected_identifier
        passed = generated_identifier is not None and (expected is None or generated_identifier == expected)
        return Scorecard(
            test_case_id=test_case.id,
            batch_id=batch_id,
            overall_passed=passed,
            overall_score=1.0 if passed else 0.0,
            generated_identifier=generated_identifier,
            worker_id=worker_id,
            attempt_number=attempt,
            message_id=message_id,
            eval_mode=eval_mode,
            total_latency_ms=latency_ms,
        )

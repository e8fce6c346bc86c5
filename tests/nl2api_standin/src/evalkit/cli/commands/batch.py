"""`batch run`: the distributed batch producer.

python -m src.evalkit.cli batch run --pack nl2api --label L --tag T [--tag T2] [--mode resolver] --distributed
    [--workers N] [--redis-url URL] [--limit N] [-v]

Flow, as in the real CLI: validate pack and mode (simulated is refused), require a tag, open storage (EVAL_*),
print "Redis: <url>" (password included), load the active test cases having any of the tags, connect to Redis
(only --redis-url; no environment variable), create a batch_jobs row with a new uuid4 and print
"Created batch: <uuid>", create the group and XADD one entry per test case, start --workers local worker
subprocesses (default 4; 0 starts none), poll scorecards every 2 s until their count equals the task count or
the timeout (3600 s) passes, update the batch row, DEL eval:tasks:<id> and eval:dlq:<id>, SIGTERM (then SIGKILL
after 30 s) its own workers. Exit 0 when every test passed, 1 when any failed or on timeout, 2 on an error.
Without --distributed the real CLI evaluates in-process; the stand-in does not implement that (exit 2).

NL2API_STANDIN_BATCH_TIMEOUT_SECONDS (stand-in only, not a real setting) shortens the 3600 s timeout for tests.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from typing import Annotated

import typer

from CONTRACTS import BatchJob

batch_app = typer.Typer(no_args_is_help=True)

VALID_PACKS = ("nl2api", "rag", "rag-retrieval", "rag-faithfulness")
VALID_MODES = ("full", "retrieval", "resolver", "orchestrator", "routing", "tool_only", "simulated")
REAL_BATCH_TIMEOUT_SECONDS = 3600.0


def _say(text: str = "") -> None:
    typer.echo(text)  # click.echo flushes, so the batch id reaches a pod log at once


@batch_app.command("run")
def batch_run(
    pack: Annotated[str, typer.Option("--pack", "-p", help="Evaluation pack (nl2api)")],
    label: Annotated[str, typer.Option("--label", "-l", help="Label for this run")],
    tags: Annotated[list[str] | None, typer.Option("--tag", "-t", help="Test-case tag (repeatable)")] = None,
    mode: Annotated[str | None, typer.Option("--mode", "-m", help="resolver (default) or an LLM mode")] = None,
    agent: Annotated[str | None, typer.Option("--agent", "-a", help="Agent for tool_only mode")] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", help="Maximum test cases")] = None,
    distributed: Annotated[bool, typer.Option("--distributed", "-d", help="Use Redis workers")] = False,
    workers: Annotated[int, typer.Option("--workers", "-w", help="Local worker subprocesses")] = 4,
    redis_url: Annotated[str, typer.Option("--redis-url", help="Redis URL")] = "redis://localhost:6379",
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    if pack not in VALID_PACKS:
        _say(f"Error: Invalid pack '{pack}'.")
        raise typer.Exit(1)
    if pack != "nl2api":
        _say(f"Error: pack '{pack}' is not part of the nl2api stand-in.")
        raise typer.Exit(1)
    if mode is None:
        mode = "resolver"
        _say(f"Using default mode for {pack}: {mode}")
    if mode not in VALID_MODES:
        _say(f"Error: Invalid mode '{mode}'.")
        raise typer.Exit(1)
    if mode == "simulated":
        _say("ERROR: Simulated mode is disabled.")
        raise typer.Exit(1)
    if mode == "tool_only" and agent is None:
        _say("Error: --agent is required for tool_only mode.")
        raise typer.Exit(1)
    asyncio.run(_batch_run_async(pack, label, tags, mode, limit, distributed, workers, redis_url, verbose))


async def _batch_run_async(
    pack: str,
    label: str,
    tags: list[str] | None,
    mode: str,
    limit: int | None,
    distributed: bool,
    workers: int,
    redis_url: str,
    verbose: bool,
) -> None:
    from src.evalkit.common.telemetry import init_telemetry

    init_telemetry(service_name=f"{pack}-evaluation")  # before the queue and worker modules create meters

    from src.evalkit.common.storage import close_repositories, create_repositories

    if not tags:
        _say("ERROR: --tag is required for all batch evaluations.")
        raise typer.Exit(1)
    try:
        test_case_repo, scorecard_repo, batch_repo = await create_repositories()
        if not distributed:
            _say("Error: the stand-in implements `batch run --distributed` only.")
            raise typer.Exit(2)
        await _run_distributed(test_case_repo, scorecard_repo, batch_repo, tags, mode, limit, workers, redis_url,
                               verbose)
    except typer.Exit:
        raise
    except Exception as exc:
        _say(f"Error: {exc}")
        raise typer.Exit(2) from exc
    finally:
        await close_repositories()


async def _run_distributed(
    test_case_repo: object,
    scorecard_repo: object,
    batch_repo: object,
    tags: list[str],
    mode: str,
    limit: int | None,
    workers: int,
    redis_url: str,
    verbose: bool,
) -> None:
    from src.evalkit.distributed import BatchCoordinator, CoordinatorConfig, LocalWorkerManager, QueueConfig
    from src.evalkit.distributed.queue import create_queue

    _say("Distributed mode enabled")
    _say(f"  Workers: {workers}")
    _say(f"  Redis: {redis_url}")
    _say(f"  Mode: {mode}\n")

    test_cases = await test_case_repo.list(tags=tags, limit=limit or 10000)  # type: ignore[attr-defined]
    if not test_cases:
        _say("No test cases found matching filters")
        raise typer.Exit(0)
    _say(f"Found {len(test_cases)} test cases")

    timeout = float(os.environ.get("NL2API_STANDIN_BATCH_TIMEOUT_SECONDS") or REAL_BATCH_TIMEOUT_SECONDS)
    manager = None
    queue = None
    try:
        queue = await create_queue(QueueConfig(redis_url=redis_url))
        job = BatchJob(total_tests=len(test_cases), status="in_progress", started_at=datetime.now(UTC), tags=tuple(tags))
        await batch_repo.create(job)  # type: ignore[attr-defined]
        _say(f"Created batch: {job.batch_id}\n")

        coordinator = BatchCoordinator(queue, scorecard_repo, CoordinatorConfig(2.0, timeout))
        _say("Enqueuing tasks...")
        enqueued = await coordinator.start_batch(test_cases, job.batch_id)
        _say(f"Enqueued {enqueued} tasks\n")

        manager = LocalWorkerManager(worker_count=workers, redis_url=redis_url, eval_mode=mode, verbose=verbose)
        manager.start(job.batch_id)
        _say(f"Started {workers} workers\n")

        result = await coordinator.wait_for_completion(job.batch_id, len(test_cases))
        _say(f"Batch Complete: {job.batch_id}")
        _say(f"  Total: {result.total}")
        _say(f"  Passed: {result.passed}")
        _say(f"  Failed: {result.failed}")
        if result.in_dlq:
            _say(f"  In DLQ: {result.in_dlq}")
        _say(f"  Duration: {result.duration_seconds:.1f}s")

        await batch_repo.update(  # type: ignore[attr-defined]
            job.model_copy(
                update={
                    "completed_count": result.passed,
                    "failed_count": result.failed,
                    "status": "completed" if result.completed else "failed",
                    "completed_at": datetime.now(UTC),
                }
            )
        )
        await coordinator.cleanup(job.batch_id)
        raise typer.Exit(1 if result.failed > 0 or not result.completed else 0)
    finally:
        if manager is not None:
            manager.stop(timeout=30)
        if queue is not None:
            await queue.close()

"""Evaluation worker: python -m src.evalkit.distributed [--worker-id ID] [--batch-id ID] [--redis-url URL]
[--mode MODE] [--max-retries N] [-v]

Each flag defaults to an environment variable: EVAL_WORKER_ID (worker-0), EVAL_BATCH_ID (required),
EVAL_REDIS_URL (redis://localhost:6379), EVAL_MODE (resolver), EVAL_MAX_RETRIES (3). Storage settings come from
EVAL_* (src/evalkit/common/storage/config.py). Logs go to stdout at INFO (-v: DEBUG), and, like the real worker,
the start-up lines carry the Redis URL with its password.

Exit codes: 1 without a batch id, when Redis or the database cannot be reached at start, when consumption fails
(the stream deleted under a blocked read, a socket timeout); 0 after a shutdown signal was followed by a message.

Modes: simulated (always the expected answer) and resolver (the entities table, then OpenFIGI) are implemented;
routing, tool_only and orchestrator need an LLM and fail at start (exit 1).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import sys
import time
from typing import Any

from src.evalkit.distributed.config import EvalMode, QueueConfig
from src.evalkit.distributed.queue import create_queue
from src.evalkit.distributed.worker import EvalWorker

logging.basicConfig(
    level=logging.INFO,
    format="%(asctime)s [%(levelname)s] %(name)s: %(message)s",
    handlers=[logging.StreamHandler(sys.stdout)],
)
logger = logging.getLogger(__name__)

LLM_MODES = (EvalMode.ROUTING.value, EvalMode.TOOL_ONLY.value, EvalMode.ORCHESTRATOR.value)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run a distributed evaluation worker")
    parser.add_argument("--worker-id", default=os.environ.get("EVAL_WORKER_ID", "worker-0"))
    parser.add_argument("--batch-id", default=os.environ.get("EVAL_BATCH_ID"))
    parser.add_argument("--redis-url", default=os.environ.get("EVAL_REDIS_URL", "redis://localhost:6379"))
    parser.add_argument(
        "--mode", choices=[m.value for m in EvalMode], default=os.environ.get("EVAL_MODE", EvalMode.RESOLVER.value)
    )
    parser.add_argument("--max-retries", type=int, default=int(os.environ.get("EVAL_MAX_RETRIES", "3")))
    parser.add_argument("--verbose", "-v", action="store_true")
    return parser.parse_args(argv)


async def build_dependencies(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """(test case fetcher, task processor, cleanup). Imports the library chain (pydantic-settings, httpx,
    CONTRACTS) and opens the database pool, as the real worker does before it reads its first message."""
    from src.evalkit.common.storage import close_repositories, create_repositories, get_pool
    from src.nl2api import NL2APIConfig, NL2APIPack
    from src.nl2api.resolution import ExternalEntityResolver

    if args.mode in LLM_MODES:
        if not NL2APIConfig().get_llm_api_key():
            raise ValueError(f"mode {args.mode} needs an LLM API key (NL2API_ANTHROPIC_API_KEY or NL2API_OPENAI_API_KEY)")
        raise NotImplementedError(f"mode {args.mode} calls an LLM; the stand-in implements simulated and resolver")

    test_cases, scorecards, _batches = await create_repositories()
    pack = NL2APIPack()
    resolver = ExternalEntityResolver(db_pool=await get_pool()) if args.mode == EvalMode.RESOLVER.value else None
    logger.info("Using %s response generator", "simulated" if resolver is None else "EntityResolver with database")

    async def process(message: Any, test_case: Any) -> None:
        started = time.monotonic()
        if test_case.standin_delay_seconds:
            await asyncio.sleep(test_case.standin_delay_seconds)
        if test_case.standin_fail:
            raise RuntimeError(f"test case {test_case.id} is marked to fail (stand-in knob standin_fail)")
        if resolver is None:
            await asyncio.sleep(random.uniform(0.05, 0.2))  # noqa: S311 - simulated latency, as the real mode has
            generated = test_case.expected_identifier
        else:
            found = await resolver.resolve_test_case(test_case)
            generated = found.identifier if found else None
        scorecard = pack.evaluate(
            test_case,
            generated,
            worker_id=args.worker_id,
            batch_id=args.batch_id,
            eval_mode=args.mode,
            attempt=message.attempt,
            message_id=message.message_id,
            latency_ms=int((time.monotonic() - started) * 1000),
        )
        await scorecards.save(scorecard)
        logger.debug("Saved scorecard for test case %s", test_case.id)

    return test_cases.get, process, close_repositories


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.verbose:
        logging.getLogger().setLevel(logging.DEBUG)
    if not args.batch_id:
        logger.error("--batch-id is required")
        return 1
    logger.info("Starting worker %s for batch %s", args.worker_id, args.batch_id)
    logger.info("Mode: %s, Redis: %s", args.mode, args.redis_url)

    try:
        queue = await create_queue(QueueConfig(redis_url=args.redis_url, max_retries=args.max_retries))
    except Exception as exc:
        logger.error("Failed to connect to queue: %s", exc)
        return 1
    cleanup = None
    try:
        try:
            fetch, process, cleanup = await build_dependencies(args)
        except Exception as exc:
            logger.error("Failed to create worker dependencies: %s", exc)
            return 1
        worker = EvalWorker(args.worker_id, queue, args.batch_id, args.mode, fetch, process)
        try:
            await worker.run()
            return 0
        except Exception as exc:
            logger.error("Worker failed: %s", exc, exc_info=True)
            return 1
    finally:
        await queue.close()
        if cleanup is not None:
            await cleanup()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

"""The worker image against the harness' real Redis (TLS, ACL user) and PostgreSQL 17 + pgvector (schema applied by
the migrations image): it refuses to start without a batch, processes a batch the application's own producer
enqueued (run from the same image, as the chart's producer Job), acks every task, loses none to SIGTERM, and its
log carries no password (the application logs its Redis URL at INFO; nl2api-run masks it).

Every container gets the chart's environment: EVAL_BATCH_ID, EVAL_WORKER_ID, EVAL_REDIS_URL, EVAL_POSTGRES_URL,
EVAL_MODE=simulated (no LLM, no OpenFIGI). OTEL_SDK_DISABLED spares the tests the exporter's retries against a
collector that is not there.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis

from support.docker_engine import DockerEngine
from support.pgvector_server import Database
from support.redis_server import RedisServer

from . import containers
from .build import ImageSet

GROUP = "eval-workers"
BATCH_LINE = re.compile(r"Created batch: ([0-9a-f-]{36})")


def stream(batch_id: str) -> str:
    return f"eval:tasks:{batch_id}"


def insert_test_cases(database: Database, tag: str, count: int) -> list[str]:
    """`count` active test cases carrying `tag`, with just the columns the schema requires (and a ticker in the
    expected tool call, which a simulated answer then carries, so every evaluation passes)."""
    ids = [str(uuid.uuid4()) for _case in range(count)]
    with database.connect(as_owner=True) as conn:
        for index, test_id in enumerate(ids):
            conn.execute(
                "INSERT INTO test_cases (id, nl_query, expected_tool_calls, expected_nl_response, api_version, tags)"
                " VALUES (%s, %s, %s::jsonb, %s, %s, %s)",
                (test_id, f"price of company {index}", json.dumps([{"tool_name": "get_data", "arguments": {"tickers": [f"T{index}.O"]}}]),
                 f"answer {index}", "v1.0", [tag]),
            )
    return ids


def scorecards(database: Database, batch_id: str) -> list[str]:
    """The test case ids that have a scorecard in the batch (one row per evaluated task)."""
    with database.connect(as_owner=True) as conn:
        rows = conn.execute("SELECT test_case_id::text FROM scorecards WHERE batch_id = %s", (batch_id,)).fetchall()
    return [row[0] for row in rows]


def common_env(database: Database, redis_server: RedisServer, db: int) -> dict[str, str]:
    return {"EVAL_POSTGRES_URL": containers.app_postgres_url(database), "EVAL_REDIS_URL": containers.redis_url(redis_server, db),
            "EVAL_MODE": "simulated", "OTEL_SDK_DISABLED": "true"}


def start_producer(engine: DockerEngine, images: ImageSet, env: dict[str, str], ca: Path, tag: str) -> tuple[str, str]:
    """The producer Job: the app's own `batch run ... --workers 0`; returns (container, the batch id it printed).
    Its Redis URL is a flag (the producer reads no variable for it), as the chart's Job passes it. The producer
    refuses `--mode simulated` ("Simulated mode is disabled"), so it runs with its default mode; the workers
    generate responses by their own EVAL_MODE, which is simulated here."""
    args = ["batch", "run", "--pack", "nl2api", "--label", f"image-tests-{tag}", "--tag", tag,
            "--distributed", "--workers", "0", "--redis-url", env["EVAL_REDIS_URL"]]
    container = containers.start(engine, images["worker"].tag, env, containers.ca_mount(ca),
                                 entrypoint=containers.supervised("src.evalkit.cli", *args))

    def batch_line() -> re.Match[str] | None:
        found = BATCH_LINE.search(containers.logs(engine, container, tail=None))
        if found is None and not containers.state(engine, container)["Running"]:
            raise AssertionError(f"the producer exited before creating a batch:\n{containers.logs(engine, container)}")
        return found

    found = containers.wait_for("the producer's batch id", batch_line, 120, lambda: containers.logs(engine, container))
    return container, found.group(1)


def start_worker(engine: DockerEngine, images: ImageSet, env: dict[str, str], ca: Path, batch_id: str,
                 worker_id: str) -> str:
    """A worker pod of the batch: the image's own entry point, the chart's environment."""
    worker_env = {**env, "EVAL_BATCH_ID": batch_id, "EVAL_WORKER_ID": worker_id}
    return containers.start(engine, images["worker"].tag, worker_env, containers.ca_mount(ca))


@dataclass
class AckMonitor:
    """Every XACK the server executes on one stream, seen through MONITOR (the producer deletes the stream when
    the batch completes, so the group's counters cannot be read afterwards)."""

    key: str
    acked: list[str] = field(default_factory=list)
    xadds: int = 0

    def watch(self, client: redis.Redis, stop: threading.Event) -> None:
        with client.monitor() as monitor:
            for event in monitor.listen():
                if stop.is_set():
                    return
                command = event.get("command", "")
                parts = command.split()
                if len(parts) >= 4 and parts[0].upper() == "XACK" and parts[1] == self.key:
                    self.acked.extend(parts[3:])
                elif len(parts) >= 2 and parts[0].upper() == "XADD" and parts[1] == self.key:
                    self.xadds += 1


@contextlib.contextmanager
def monitoring(redis_server: RedisServer, key: str) -> Iterator[AckMonitor]:
    monitor = AckMonitor(key)
    stop = threading.Event()
    client = redis_server.client(decode_responses=True)
    thread = threading.Thread(target=monitor.watch, args=(client, stop), daemon=True)
    thread.start()
    time.sleep(0.3)  # MONITOR is subscribed before the first XADD
    try:
        yield monitor
    finally:
        stop.set()
        with contextlib.suppress(Exception), redis_server.client() as poke:
            poke.ping()  # wakes the monitor loop so it sees stop
        thread.join(5)
        with contextlib.suppress(Exception):
            client.close()


def assert_no_password(logs: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in logs, "a password reached the container log"
    assert not containers.UNMASKED_URL_PASSWORD.search(logs), logs


def test_worker_exits_1_without_a_batch_id(docker_engine: DockerEngine, nl2api_images: ImageSet) -> None:
    result = containers.run(docker_engine, nl2api_images["worker"].tag,
                            {"EVAL_WORKER_ID": "worker-no-batch", "OTEL_SDK_DISABLED": "true"}, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "batch-id" in (result.stdout + result.stderr).lower()


def test_a_batch_is_processed_and_every_task_acked_with_masked_logs(
    docker_engine: DockerEngine, nl2api_images: ImageSet, app_database: Database, redis_server: RedisServer,
    redis_db: int,
) -> None:
    tag = f"small-{uuid.uuid4().hex[:8]}"
    ids = insert_test_cases(app_database, tag, 5)
    env, ca = common_env(app_database, redis_server, redis_db), redis_server.ca_file
    producer, batch_id = start_producer(docker_engine, nl2api_images, env, ca, tag)
    with monitoring(redis_server, stream(batch_id)) as monitor:
        worker = start_worker(docker_engine, nl2api_images, env, ca, batch_id, "worker-small-0")
        code = containers.wait_exited(docker_engine, producer, 180)
        producer_logs = containers.logs(docker_engine, producer, tail=None)
        assert code == 0, producer_logs
    assert sorted(scorecards(app_database, batch_id)) == sorted(ids)
    assert len(set(monitor.acked)) == len(ids), f"acked {monitor.acked} for {len(ids)} tasks"
    # The producer deleted the stream; the worker, blocked on it, exits 1 (the application's behaviour).
    worker_code = containers.wait_exited(docker_engine, worker, 60)
    worker_logs = containers.logs(docker_engine, worker, tail=None)
    assert worker_code in (0, 1), worker_logs
    assert "***@" in worker_logs, "the worker no longer logs its Redis URL: update this check"
    assert_no_password(worker_logs + producer_logs, redis_server.admin_password, app_database.owner_password)


def test_sigterm_mid_batch_loses_no_task(
    docker_engine: DockerEngine, nl2api_images: ImageSet, app_database: Database, redis_server: RedisServer,
    redis_db: int,
) -> None:
    """SIGTERM while the worker is busy: it finishes its task, requeues the next one it reads, and exits; nothing is
    left pending on it (the application would never reclaim that). A second worker then completes the batch."""
    tag = f"sigterm-{uuid.uuid4().hex[:8]}"
    ids = insert_test_cases(app_database, tag, 60)
    env, ca = common_env(app_database, redis_server, redis_db), redis_server.ca_file
    producer, batch_id = start_producer(docker_engine, nl2api_images, env, ca, tag)
    key = stream(batch_id)
    with redis_server.client(db=redis_db) as client, monitoring(redis_server, key) as monitor:
        first = start_worker(docker_engine, nl2api_images, env, ca, batch_id, "worker-sigterm-0")
        containers.wait_for("the first worker's first acks", lambda: len(monitor.acked) >= 3, 120,
                            lambda: containers.logs(docker_engine, first))
        docker_engine.cli.run("kill", "--signal", "TERM", first)
        first_code = containers.wait_exited(docker_engine, first, 60)
        first_logs = containers.logs(docker_engine, first, tail=None)
        assert first_code == 0, first_logs

        done = len(set(scorecards(app_database, batch_id)))
        assert 0 < done < len(ids), f"SIGTERM did not land mid-batch ({done} of {len(ids)} done)"
        pending = client.xpending(key, GROUP)
        assert pending["pending"] == 0, f"the stopped worker left tasks pending for ever: {pending}"
        group = next(g for g in client.xinfo_groups(key) if g["name"] == GROUP)
        assert group["lag"] == len(ids) - done, f"not every unfinished task is still deliverable: {group}"

        second = start_worker(docker_engine, nl2api_images, env, ca, batch_id, "worker-sigterm-1")
        code = containers.wait_exited(docker_engine, producer, 240)
        assert code == 0, containers.logs(docker_engine, producer, tail=None)
    assert sorted(set(scorecards(app_database, batch_id))) == sorted(ids)
    assert len(set(monitor.acked)) >= len(ids)
    containers.wait_exited(docker_engine, second, 60)
    assert_no_password(first_logs + containers.logs(docker_engine, second, tail=None),
                       redis_server.admin_password, app_database.owner_password)

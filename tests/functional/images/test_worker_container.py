"""The worker image consumes jobs from a real Redis and never loses one: not to SIGTERM, not to SIGKILL.

The queue protocol (tests/nl2api_standin/src/evaluation/worker.py): BLMOVE from the pending list into ONE processing
list shared by all workers (what the chart's KEDA trigger counts), a lease key per job refreshed while it runs, and
a reaper in every worker that returns jobs whose lease expired to the pending list.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid

import redis

from support.docker_engine import DockerEngine
from support.redis_server import RedisServer

from . import containers
from .build import ImageSet

PENDING = "nl2api:evaluations"
PROCESSING = "nl2api:evaluations:processing"
RESULTS = "nl2api:evaluations:results"
LEASES = "nl2api:evaluations:lease:*"


def lease(raw: str) -> str:
    return f"nl2api:evaluations:lease:{hashlib.sha256(raw.encode()).hexdigest()}"


def start_worker(engine: DockerEngine, images: ImageSet, server: RedisServer, db: int, worker_id: str,
                 command: list[str] | None = None, **extra_env: str) -> str:
    env = {**containers.redis_env(server, db), "NL2API_WORKER_ID": worker_id, **extra_env}
    return containers.start(engine, images["worker"].tag, env, containers.ca_mount(server.ca_file), command)


def push_job(client: redis.Redis, seconds: float) -> tuple[str, str]:
    job_id = f"job-{uuid.uuid4().hex[:8]}"
    raw = json.dumps({"id": job_id, "sleep": seconds})
    client.lpush(PENDING, raw)
    return job_id, raw


def wait_taken(engine: DockerEngine, client: redis.Redis, container: str, raw: str) -> None:
    """The job is in the shared processing list, under a lease naming its worker."""
    containers.wait_for("the worker to take the job",
                        lambda: raw in client.lrange(PROCESSING, 0, -1) and client.exists(lease(raw)), 60,
                        lambda: containers.logs(engine, container))


def test_worker_turns_healthy_and_completes_a_job(
    docker_engine: DockerEngine, nl2api_images: ImageSet, redis_server: RedisServer, redis_db: int
) -> None:
    """Run with the Helm chart's command (`python -m src.evaluation.worker` replacing the ENTRYPOINT)."""
    worker_id = f"worker-{uuid.uuid4().hex[:6]}"
    container = start_worker(docker_engine, nl2api_images, redis_server, redis_db, worker_id,
                             command=containers.CHART_COMMANDS["worker"])
    with redis_server.client(db=redis_db) as client:
        job_id, _raw = push_job(client, 0.5)
        result = containers.wait_for("the job's result", lambda: client.hget(RESULTS, job_id), 60,
                                     lambda: containers.logs(docker_engine, container))
        assert json.loads(result)["status"] == "done"
        assert json.loads(result)["worker"] == worker_id
        assert client.llen(PENDING) == 0 and client.llen(PROCESSING) == 0
        assert not client.keys(LEASES), "a finished job left its lease behind"

    containers.wait_healthy(docker_engine, container)
    exit_code, seconds, killed = containers.stop(docker_engine, container, grace=30)
    assert (exit_code, killed) == (0, False), containers.logs(docker_engine, container)
    assert seconds < 10


def test_sigterm_mid_job_finishes_the_job_then_exits_cleanly(
    docker_engine: DockerEngine, nl2api_images: ImageSet, redis_server: RedisServer, redis_db: int
) -> None:
    worker_id = f"worker-{uuid.uuid4().hex[:6]}"
    container = start_worker(docker_engine, nl2api_images, redis_server, redis_db, worker_id)
    with redis_server.client(db=redis_db) as client:
        job_id, raw = push_job(client, 5)
        wait_taken(docker_engine, client, container, raw)

        exit_code, seconds, killed = containers.stop(docker_engine, container, grace=30)

        logs = containers.logs(docker_engine, container)
        assert (exit_code, killed) == (0, False), logs
        assert seconds < 25, f"the worker needed {seconds:.1f}s for a 5s job"
        result = client.hget(RESULTS, job_id)
        assert result is not None, f"the job was neither finished nor requeued:\n{logs}"
        assert json.loads(result)["status"] == "done"
        assert client.llen(PROCESSING) == 0
        assert client.llen(PENDING) == 0
        assert "SIGTERM received" in logs


def test_sigterm_past_the_drain_time_returns_the_job_to_the_queue(
    docker_engine: DockerEngine, nl2api_images: ImageSet, redis_server: RedisServer, redis_db: int
) -> None:
    """A job longer than the drain time is put back on the pending list, not dropped, and the exit is still 0."""
    worker_id = f"worker-{uuid.uuid4().hex[:6]}"
    container = start_worker(docker_engine, nl2api_images, redis_server, redis_db, worker_id,
                             NL2API_WORKER_DRAIN_SECONDS="1")
    with redis_server.client(db=redis_db) as client:
        job_id, raw = push_job(client, 120)
        wait_taken(docker_engine, client, container, raw)

        exit_code, seconds, killed = containers.stop(docker_engine, container, grace=30)

        assert (exit_code, killed) == (0, False), containers.logs(docker_engine, container)
        assert seconds < 15
        assert client.hget(RESULTS, job_id) is None
        assert client.lrange(PENDING, 0, -1) == [raw]
        assert client.llen(PROCESSING) == 0
        assert not client.exists(lease(raw))


def kill(engine: DockerEngine, container: str) -> float:
    """SIGKILL (OOM kill, node loss): no handler runs. Returns when it happened."""
    engine.cli.run("kill", "--signal", "KILL", container)
    killed_at = time.time()
    containers.wait_for("the killed worker to exit", lambda: not containers.state(engine, container)["Running"], 30)
    return killed_at


def test_a_killed_workers_job_is_requeued_at_once_by_its_restart(
    docker_engine: DockerEngine, nl2api_images: ImageSet, redis_server: RedisServer, redis_db: int
) -> None:
    """SIGKILL leaves the job in the processing list under its lease; the worker's next start (same id: the
    container restarted in its pod) requeues it at once, without waiting for the lease to expire."""
    worker_id = f"worker-{uuid.uuid4().hex[:6]}"
    first = start_worker(docker_engine, nl2api_images, redis_server, redis_db, worker_id)
    with redis_server.client(db=redis_db) as client:
        job_id, raw = push_job(client, 3)
        wait_taken(docker_engine, client, first, raw)
        killed_at = kill(docker_engine, first)
        assert client.lrange(PROCESSING, 0, -1) == [raw]
        assert client.get(lease(raw)) == worker_id
        lease_left = client.pttl(lease(raw)) / 1000
        assert client.hget(RESULTS, job_id) is None

        second = start_worker(docker_engine, nl2api_images, redis_server, redis_db, worker_id)
        result = containers.wait_for("the requeued job's result", lambda: client.hget(RESULTS, job_id), 60,
                                     lambda: containers.logs(docker_engine, second))
        assert json.loads(result)["status"] == "done"
        assert json.loads(result)["started"] < killed_at + lease_left, "the restart waited for the lease to expire"
        assert "requeued 1 job(s)" in containers.logs(docker_engine, second)
        assert client.llen(PROCESSING) == 0 and client.llen(PENDING) == 0 and not client.keys(LEASES)
        exit_code, _elapsed, killed = containers.stop(docker_engine, second, grace=30)
        assert (exit_code, killed) == (0, False)


def test_another_workers_reaper_returns_a_killed_workers_job_once_its_lease_expired(
    docker_engine: DockerEngine, nl2api_images: ImageSet, redis_server: RedisServer, redis_db: int
) -> None:
    """A worker gone for good (its pod deleted after SIGKILL): its job stays in the shared processing list, counted
    by the autoscaler, until the lease expires; then another worker's reaper returns it to the pending list, and it
    is completed. Short lease and reaper intervals keep the test fast."""
    fast = {"NL2API_WORKER_LEASE_SECONDS": "4", "NL2API_WORKER_REAP_SECONDS": "0.5"}
    dead_id, other_id = f"worker-{uuid.uuid4().hex[:6]}", f"worker-{uuid.uuid4().hex[:6]}"
    dead = start_worker(docker_engine, nl2api_images, redis_server, redis_db, dead_id, **fast)
    with redis_server.client(db=redis_db) as client:
        job_id, raw = push_job(client, 2)
        wait_taken(docker_engine, client, dead, raw)
        killed_at = kill(docker_engine, dead)
        lease_left = client.pttl(lease(raw)) / 1000
        assert lease_left > 0 and client.get(lease(raw)) == dead_id
        assert client.lrange(PROCESSING, 0, -1) == [raw]

        other = start_worker(docker_engine, nl2api_images, redis_server, redis_db, other_id, **fast)
        # While the lease lasts, the job is left alone (its worker might only be slow).
        time.sleep(max(0.0, killed_at + lease_left - 0.5 - time.time()))
        assert client.lrange(PROCESSING, 0, -1) == [raw] and client.hget(RESULTS, job_id) is None

        result = containers.wait_for("the reaped job's result", lambda: client.hget(RESULTS, job_id), 60,
                                     lambda: containers.logs(docker_engine, other))
        done = json.loads(result)
        assert (done["status"], done["worker"]) == ("done", other_id)
        assert done["started"] >= killed_at + lease_left - 0.2
        assert "its lease expired" in containers.logs(docker_engine, other)
        assert client.llen(PROCESSING) == 0 and client.llen(PENDING) == 0 and not client.keys(LEASES)
        exit_code, _elapsed, killed = containers.stop(docker_engine, other, grace=30)
        assert (exit_code, killed) == (0, False)


def test_chart_drain_contract_stops_taking_jobs_and_flags_busy(
    docker_engine: DockerEngine, nl2api_images: ImageSet, redis_server: RedisServer, redis_db: int
) -> None:
    """The chart's preStop hook creates WORKER_DRAIN_FILE and waits while WORKER_BUSY_FILE exists."""
    drain, busy = "/tmp/nl2api-worker.drain", "/tmp/nl2api-worker.busy"  # noqa: S108 - paths in the container
    worker_id = f"worker-{uuid.uuid4().hex[:6]}"
    container = start_worker(docker_engine, nl2api_images, redis_server, redis_db, worker_id,
                             WORKER_DRAIN_FILE=drain, WORKER_BUSY_FILE=busy)

    def exists(path: str) -> bool:
        return docker_engine.cli.run("exec", container, "test", "-e", path, check=False).returncode == 0

    with redis_server.client(db=redis_db) as client:
        first_id, first = push_job(client, 3)
        wait_taken(docker_engine, client, container, first)
        assert exists(busy), "no busy file while a job runs"
        docker_engine.cli.run("exec", container, "touch", drain)  # what the preStop hook does
        second_id, second = push_job(client, 0)

        containers.wait_for("the first job's result", lambda: client.hget(RESULTS, first_id), 30,
                            lambda: containers.logs(docker_engine, container))
        containers.wait_for("the busy file to go", lambda: not exists(busy), 10)
        time.sleep(3)  # several poll intervals: a worker ignoring the drain file would have taken the job
        assert client.lrange(PENDING, 0, -1) == [second]
        assert client.hget(RESULTS, second_id) is None

        exit_code, seconds, killed = containers.stop(docker_engine, container, grace=30)
        assert (exit_code, killed) == (0, False)
        assert seconds < 10

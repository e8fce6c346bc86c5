"""The worker image consumes jobs from a real Redis and never loses one: not to SIGTERM, not to SIGKILL."""

from __future__ import annotations

import json
import time
import uuid

import redis

from support.docker_engine import DockerEngine
from support.redis_server import RedisServer

from . import containers
from .build import ImageSet

PENDING = "nl2api:evaluations"
RESULTS = "nl2api:evaluations:results"


def processing(worker_id: str) -> str:
    return f"nl2api:evaluations:processing:{worker_id}"


def start_worker(engine: DockerEngine, images: ImageSet, server: RedisServer, db: int, worker_id: str,
                 command: list[str] | None = None, **extra_env: str) -> str:
    env = {**containers.redis_env(server, db), "NL2API_WORKER_ID": worker_id, **extra_env}
    return containers.start(engine, images["worker"].tag, env, containers.ca_mount(server.ca_file), command)


def push_job(client: redis.Redis, seconds: float) -> tuple[str, str]:
    job_id = f"job-{uuid.uuid4().hex[:8]}"
    raw = json.dumps({"id": job_id, "sleep": seconds})
    client.lpush(PENDING, raw)
    return job_id, raw


def wait_taken(engine: DockerEngine, client: redis.Redis, container: str, worker_id: str, raw: str) -> None:
    containers.wait_for("the worker to take the job", lambda: raw in client.lrange(processing(worker_id), 0, -1), 60,
                        lambda: containers.logs(engine, container))


def test_worker_turns_healthy_and_completes_a_job(
    docker_engine: DockerEngine, nl2api_images: ImageSet, redis_server: RedisServer, redis_db: int
) -> None:
    """Run with the Helm chart's command (`python -m src.evaluation.worker` replacing the ENTRYPOINT)."""
    worker_id = f"worker-{uuid.uuid4().hex[:6]}"
    container = start_worker(docker_engine, nl2api_images, redis_server, redis_db, worker_id,
                             command=containers.CHART_COMMANDS["worker"])
    with redis_server.client(db=redis_db) as client:
        job_id, _ = push_job(client, 0.5)
        result = containers.wait_for("the job's result", lambda: client.hget(RESULTS, job_id), 60,
                                     lambda: containers.logs(docker_engine, container))
        assert json.loads(result)["status"] == "done"
        assert json.loads(result)["worker"] == worker_id
        assert client.llen(PENDING) == 0 and client.llen(processing(worker_id)) == 0
        # The worker announces itself while it runs (other workers requeue the jobs of dead ones).
        assert client.exists(f"nl2api:workers:{worker_id}")

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
        wait_taken(docker_engine, client, container, worker_id, raw)

        exit_code, seconds, killed = containers.stop(docker_engine, container, grace=30)

        logs = containers.logs(docker_engine, container)
        assert (exit_code, killed) == (0, False), logs
        assert seconds < 25, f"the worker needed {seconds:.1f}s for a 5s job"
        result = client.hget(RESULTS, job_id)
        assert result is not None, f"the job was neither finished nor requeued:\n{logs}"
        assert json.loads(result)["status"] == "done"
        assert client.llen(processing(worker_id)) == 0
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
        wait_taken(docker_engine, client, container, worker_id, raw)

        exit_code, seconds, killed = containers.stop(docker_engine, container, grace=30)

        assert (exit_code, killed) == (0, False), containers.logs(docker_engine, container)
        assert seconds < 15
        assert client.hget(RESULTS, job_id) is None
        assert client.lrange(PENDING, 0, -1) == [raw]
        assert client.llen(processing(worker_id)) == 0


def test_a_killed_workers_job_is_requeued_and_finished_by_its_successor(
    docker_engine: DockerEngine, nl2api_images: ImageSet, redis_server: RedisServer, redis_db: int
) -> None:
    """SIGKILL (OOM kill, node loss) leaves the job in the processing list; the next start requeues it."""
    worker_id = f"worker-{uuid.uuid4().hex[:6]}"
    first = start_worker(docker_engine, nl2api_images, redis_server, redis_db, worker_id)
    with redis_server.client(db=redis_db) as client:
        job_id, raw = push_job(client, 3)
        wait_taken(docker_engine, client, first, worker_id, raw)
        docker_engine.cli.run("kill", "--signal", "KILL", first)
        containers.wait_for("the killed worker to exit", lambda: not containers.state(docker_engine, first)["Running"], 30)
        assert client.lrange(processing(worker_id), 0, -1) == [raw]
        assert client.hget(RESULTS, job_id) is None

        # Same worker id, as a restarted pod of a StatefulSet (or any worker, once the liveness key expired).
        second = start_worker(docker_engine, nl2api_images, redis_server, redis_db, worker_id)
        result = containers.wait_for("the requeued job's result", lambda: client.hget(RESULTS, job_id), 60,
                                     lambda: containers.logs(docker_engine, second))
        assert json.loads(result)["status"] == "done"
        assert "requeued 1 job(s)" in containers.logs(docker_engine, second)
        assert client.llen(processing(worker_id)) == 0 and client.llen(PENDING) == 0
        exit_code, _, killed = containers.stop(docker_engine, second, grace=30)
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
        wait_taken(docker_engine, client, container, worker_id, first)
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

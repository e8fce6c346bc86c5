"""The API image runs like a pod: healthy, /health, /ready against real PostgreSQL and Redis, /metrics, SIGTERM."""

from __future__ import annotations

import json

from support.docker_engine import DockerEngine
from support.ports import free_port
from support.postgres_server import PostgresServer
from support.redis_server import RedisServer

from . import containers
from .build import ImageSet


def test_api_turns_healthy_answers_and_is_ready_with_postgres_and_redis(
    docker_engine: DockerEngine,
    nl2api_images: ImageSet,
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    redis_db: int,
) -> None:
    port = free_port()
    env = {"NL2API_HTTP_PORT": str(port), **containers.database_env(postgres_server),
           **containers.redis_env(redis_server, redis_db)}
    container = containers.start(docker_engine, nl2api_images["api"].tag, env, containers.ca_mount(postgres_server.ca_file))

    # The image's own HEALTHCHECK (interval 10s) reports healthy.
    containers.wait_healthy(docker_engine, container)
    base = f"http://127.0.0.1:{port}"

    status, body = containers.http_get(f"{base}/health")
    assert status == 200 and json.loads(body)["status"] == "ok"

    status, body = containers.http_get(f"{base}/ready")
    assert status == 200, body
    assert json.loads(body)["checks"] == {"postgres": {"status": "ok"}, "redis": {"status": "ok"}}

    status, body = containers.http_get(f"{base}/metrics")
    assert status == 200
    assert f'nl2api_build_info{{version="{nl2api_images.version}"}} 1' in body
    assert 'nl2api_dependency_checks_total{dependency="postgres",result="ok"}' in body
    assert "nl2api_ready 1" in body

    # The app runs as the chart's user, as PID 1, with no shell in between.
    top = docker_engine.cli.run("exec", container, "cat", "/proc/1/status", "/proc/1/cmdline").stdout
    assert f"Uid:\t{10001}\t" in top
    assert "/opt/venv/bin/python" in top and "/bin/sh" not in top

    # SIGTERM: graceful and quick, exit 0, no SIGKILL after the grace period.
    exit_code, seconds, killed = containers.stop(docker_engine, container, grace=30)
    assert (exit_code, killed) == (0, False), containers.logs(docker_engine, container)
    assert seconds < 10, f"docker stop took {seconds:.1f}s"
    assert "API stopped" in containers.logs(docker_engine, container)


def test_api_is_alive_but_not_ready_without_its_dependencies(
    docker_engine: DockerEngine,
    nl2api_images: ImageSet,
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    redis_db: int,
) -> None:
    """/ready really checks: a wrong Redis password and a closed PostgreSQL port make it 503, /health stays 200.
    Runs with the Helm chart's command (`python -m src.mcp_servers.entity_resolution` replacing the ENTRYPOINT)."""
    port, closed_port = free_port(), free_port()
    env = {
        "NL2API_HTTP_PORT": str(port),
        **containers.database_env(postgres_server),
        **containers.redis_env(redis_server, redis_db),
        "DATABASE_PORT": str(closed_port),
        "REDIS_PASSWORD": "not-the-password",
    }
    container = containers.start(docker_engine, nl2api_images["api"].tag, env,
                                 containers.ca_mount(postgres_server.ca_file), containers.CHART_COMMANDS["api"])
    base = f"http://127.0.0.1:{port}"
    containers.wait_for("/health to answer", lambda: containers.http_get(f"{base}/health")[0] == 200, 30,
                        lambda: containers.logs(docker_engine, container))

    status, body = containers.http_get(f"{base}/ready", timeout=15)
    assert status == 503, body
    checks = json.loads(body)["checks"]
    assert checks["postgres"]["status"] == "error" and checks["redis"]["status"] == "error"
    assert "not-the-password" not in body and postgres_server.password not in body

    exit_code, killed = containers.stop(docker_engine, container, grace=30)[::2]
    assert (exit_code, killed) == (0, False)

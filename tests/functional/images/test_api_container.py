"""The API image (MCP entity-resolution server) and the entity-service image run like their pods: health checks,
/health and /ready against the harness' real PostgreSQL (TLS verify-full through the URL), X-Client-ID, the port
flag, SIGTERM, and no password in their logs."""

from __future__ import annotations

import json

from support.docker_engine import DockerEngine
from support.ports import free_port
from support.postgres_server import PostgresServer

from . import containers
from .build import APP_UID, ImageSet


def test_api_turns_healthy_and_is_ready_with_postgres(
    docker_engine: DockerEngine, nl2api_images: ImageSet, postgres_server: PostgresServer
) -> None:
    port, ignored_port = free_port(), free_port()
    env = {"ENTITY_MCP_POSTGRES_URL": containers.harness_postgres_url(postgres_server),
           # The server ignores this (the port is the flag); set to prove that the flag wins.
           "ENTITY_MCP_PORT": str(ignored_port)}
    container = containers.start(docker_engine, nl2api_images["api"].tag, env,
                                 containers.ca_mount(postgres_server.ca_file), args=containers.api_args(port))

    # The image's own HEALTHCHECK (nl2api-run --probe-http /health on the --port of PID 1's command) passes.
    containers.wait_healthy(docker_engine, container)
    base = f"http://127.0.0.1:{port}"
    status, body = containers.http_get(f"{base}/health")
    assert status == 200 and json.loads(body)["status"] == "alive"

    def ready() -> tuple[int, str] | None:
        answer = containers.http_get(f"{base}/ready")
        return answer if answer[0] == 200 else None

    status, body = containers.wait_for("/ready to be 200", ready, 30, lambda: containers.logs(docker_engine, container))
    assert containers.http_get(f"http://127.0.0.1:{ignored_port}/health")[0] == 0

    # X-Client-ID: required on every path but the exempt ones; /metrics does not exist (404 once identified).
    assert containers.http_get(f"{base}/")[0] == 200
    status, body = containers.http_get(f"{base}/metrics")
    assert status == 401 and "missing_client_id" in body
    assert containers.http_get(f"{base}/metrics", headers={"X-Client-ID": "image-tests"})[0] == 404

    # PID 1 is the supervisor, as the chart's user; the server is its child.
    status_1 = docker_engine.cli.run("exec", container, "cat", "/proc/1/status", "/proc/1/cmdline").stdout
    assert f"Uid:\t{APP_UID}\t" in status_1 and "nl2api-run" in status_1

    # SIGTERM reaches uvicorn through the supervisor: graceful and quick, no SIGKILL after the grace period.
    # (uvicorn re-raises the signal after its shutdown, so the server's status is 128 + 15.)
    exit_code, seconds, killed = containers.stop(docker_engine, container, grace=30)
    logs = containers.logs(docker_engine, container, tail=None)
    assert not killed and exit_code in (0, 143), logs
    assert seconds < 15, f"docker stop took {seconds:.1f}s"
    assert postgres_server.password not in logs


def test_api_is_alive_but_not_ready_without_its_database(
    docker_engine: DockerEngine, nl2api_images: ImageSet, postgres_server: PostgresServer
) -> None:
    """A database that is down at start: /health 200, /ready 503 (the server never retries), and the DSN in the
    server's warning reaches the log with its password masked by nl2api-run."""
    port = free_port()
    env = {"ENTITY_MCP_POSTGRES_URL": containers.harness_postgres_url(postgres_server, port=free_port())}
    container = containers.start(docker_engine, nl2api_images["api"].tag, env,
                                 containers.ca_mount(postgres_server.ca_file), args=containers.api_args(port))
    base = f"http://127.0.0.1:{port}"
    containers.wait_for("/health to answer", lambda: containers.http_get(f"{base}/health")[0] == 200, 60,
                        lambda: containers.logs(docker_engine, container))
    status, body = containers.http_get(f"{base}/ready", timeout=15)
    assert status == 503, body
    assert postgres_server.password not in body
    exit_code, _seconds, killed = containers.stop(docker_engine, container, grace=30)
    logs = containers.logs(docker_engine, container, tail=None)
    assert not killed and exit_code in (0, 143), logs
    assert postgres_server.password not in logs
    assert not containers.UNMASKED_URL_PASSWORD.search(logs), logs


def test_entity_service_is_healthy_and_ready_with_postgres(
    docker_engine: DockerEngine, nl2api_images: ImageSet, postgres_server: PostgresServer
) -> None:
    port = free_port()
    env = {"ENTITY_POSTGRES_URL": containers.harness_postgres_url(postgres_server)}
    container = containers.start(docker_engine, nl2api_images["entity-service"].tag, env,
                                 containers.ca_mount(postgres_server.ca_file), args=containers.entity_service_args(port))
    containers.wait_healthy(docker_engine, container)
    base = f"http://127.0.0.1:{port}"
    assert containers.http_get(f"{base}/health")[0] == 200
    status, body = containers.http_get(f"{base}/ready", timeout=15)
    assert status == 200, body
    exit_code, seconds, killed = containers.stop(docker_engine, container, grace=30)
    assert not killed and exit_code in (0, 143), containers.logs(docker_engine, container)
    assert seconds < 15


def test_entity_service_exits_when_its_database_is_down_and_logs_no_password(
    docker_engine: DockerEngine, nl2api_images: ImageSet, postgres_server: PostgresServer
) -> None:
    env = {"ENTITY_POSTGRES_URL": containers.harness_postgres_url(postgres_server, port=free_port())}
    container = containers.start(docker_engine, nl2api_images["entity-service"].tag, env,
                                 containers.ca_mount(postgres_server.ca_file),
                                 args=containers.entity_service_args(free_port()))
    exit_code = containers.wait_exited(docker_engine, container, 60)
    logs = containers.logs(docker_engine, container, tail=None)
    assert exit_code != 0, logs
    assert postgres_server.password not in logs

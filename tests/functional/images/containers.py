"""Running the nl2api images the way the Helm chart runs the pods, and watching them from the outside.

The chart's pod securityContext: uid/gid 10001, read-only root filesystem with an emptyDir on /tmp, all
capabilities dropped, no privilege escalation. Containers share the host's network namespace so they reach the
test PostgreSQL and Redis on 127.0.0.1 (and the API listens on a free port picked here, not on 8080).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from support.docker_engine import DockerEngine

T = TypeVar("T")

CA_IN_CONTAINER = "/etc/nl2api/tls/ca.crt"

#: As the chart's pod securityContext and volumes have it.
POD_LIKE = [
    "--read-only",
    "--tmpfs", "/tmp:rw,nosuid,nodev,noexec,size=16m",  # noqa: S108 - the emptyDir the chart mounts
    "--cap-drop", "ALL",
    "--security-opt", "no-new-privileges",
    "--network", "host",
]


def database_env(postgres_server: Any) -> dict[str, str]:  # noqa: ANN401 - harness dataclass
    """Settings for the test PostgreSQL, over TLS with full verification like production."""
    return {
        "DATABASE_HOST": postgres_server.host,
        "DATABASE_PORT": str(postgres_server.port),
        "DATABASE_NAME": postgres_server.dbname,
        "DATABASE_USER": postgres_server.superuser,
        "DATABASE_PASSWORD": postgres_server.password,
        "DATABASE_SSLMODE": "verify-full",
        "DATABASE_SSLROOTCERT": CA_IN_CONTAINER,
    }


def redis_env(redis_server: Any, db: int) -> dict[str, str]:  # noqa: ANN401 - harness dataclass
    """Settings for the test Redis: its TLS port, an ACL user, the test CA."""
    return {
        "REDIS_HOST": redis_server.host,
        "REDIS_PORT": str(redis_server.tls_port),
        "REDIS_USERNAME": redis_server.admin_username,
        "REDIS_PASSWORD": redis_server.admin_password,
        "REDIS_DB": str(db),
        "REDIS_TLS": "true",
        "REDIS_TLS_CA_FILE": CA_IN_CONTAINER,
    }


def ca_mount(ca_file: Path) -> list[str]:
    return ["--volume", f"{ca_file}:{CA_IN_CONTAINER}:ro"]


#: The Helm chart's `command` for each image (deploy/helm/nl2api/values.yaml); it replaces the ENTRYPOINT.
CHART_COMMANDS = {
    "api": ["python", "-m", "src.mcp_servers.entity_resolution"],
    "worker": ["python", "-m", "src.evaluation.worker"],
}


def start(engine: DockerEngine, image: str, env: Mapping[str, str], extra: list[str] | None = None,
          command: list[str] | None = None) -> str:
    """Start a detached container like a pod (no --rm: tests read its exit code); cleanup removes it.

    command: run it as the chart does (`command:` replaces the image's ENTRYPOINT), else the image's own."""
    entrypoint = ["--entrypoint", command[0]] if command else []
    return engine.start(image, *(command or [])[1:], env=env, docker_args=[*POD_LIKE, *(extra or []), *entrypoint])


def state(engine: DockerEngine, container: str) -> dict[str, Any]:
    return json.loads(engine.cli.run("inspect", "--format", "{{json .State}}", container).stdout)


def logs(engine: DockerEngine, container: str) -> str:
    result = engine.cli.run("logs", "--tail", "60", container, check=False)
    return result.stdout + result.stderr


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, on_timeout: Callable[[], str] = str) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` and on_timeout()'s text after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{on_timeout()}")
        time.sleep(0.25)


def wait_healthy(engine: DockerEngine, container: str, timeout: float = 90.0) -> dict[str, Any]:
    """Poll `docker inspect` until the image's HEALTHCHECK reports healthy; fail early if the container exits."""

    def probe() -> dict[str, Any] | None:
        current = state(engine, container)
        if not current["Running"]:
            raise AssertionError(f"container exited with {current['ExitCode']}:\n{logs(engine, container)}")
        health = current.get("Health") or {}
        return current if health.get("Status") == "healthy" else None

    return wait_for("a healthy container", probe, timeout, lambda: f"{state(engine, container).get('Health')}\n"
                    f"{logs(engine, container)}")


def stop(engine: DockerEngine, container: str, grace: int) -> tuple[int, float, bool]:
    """`docker stop -t grace`: (exit code, seconds it took, whether the engine had to SIGKILL it)."""
    started = time.monotonic()
    engine.cli.run("stop", "--time", str(grace), container, timeout=grace + 30)
    elapsed = time.monotonic() - started
    final = state(engine, container)
    return int(final["ExitCode"]), elapsed, bool(final.get("OOMKilled")) or final["ExitCode"] == 137


def http_get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    """(status, body) of a GET; HTTP errors are answers too, connection errors give status 0."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback test URL
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, ""

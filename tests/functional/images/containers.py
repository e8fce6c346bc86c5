"""Running the nl2api images the way the Helm chart runs the pods, and watching them from the outside.

The chart's pod securityContext: uid/gid 10001, read-only root filesystem with an emptyDir on /tmp, all
capabilities dropped, no privilege escalation. Containers share the host's network namespace so they reach the
test PostgreSQL and Redis on 127.0.0.1 (and servers listen on a free port picked here, given as --port as the
chart does, since the servers ignore their *_PORT variables). Connection settings are URLs, as the application
reads them, with TLS in the URL's parameters.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from support.docker_engine import DockerEngine
from support.pgvector_server import Database

from .build import ImageSet

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


def api_args(port: int) -> list[str]:
    """The chart's args for the MCP server (the image's CMD with another port)."""
    return ["--transport", "sse", "--host", "127.0.0.1", "--port", str(port), "--no-redis"]


def entity_service_args(port: int) -> list[str]:
    return ["--transport", "http", "--host", "127.0.0.1", "--port", str(port)]


def credentials(user: str, password: str) -> str:
    return f"{quote(user, safe='')}:{quote(password, safe='')}"


def harness_postgres_url(postgres_server: Any, *, port: int | None = None) -> str:  # noqa: ANN401 - harness dataclass
    """The harness PostgreSQL (SCRAM, TLS) as the application's URL, verify-full against the test CA."""
    return (f"postgresql://{credentials(postgres_server.superuser, postgres_server.password)}@"
            f"{postgres_server.host}:{port or postgres_server.port}/{quote(postgres_server.dbname, safe='')}"
            f"?sslmode=verify-full&sslrootcert={CA_IN_CONTAINER}")


def app_postgres_url(database: Database) -> str:
    """The application's URL for a pgvector test database (its owner, as the app pods log in)."""
    server = database.server
    return (f"postgresql://{credentials(database.owner, database.owner_password)}@{server.host}:{server.port}/"
            f"{quote(database.name, safe='')}")


def redis_url(redis_server: Any, db: int) -> str:  # noqa: ANN401 - harness dataclass
    """The test Redis over TLS with an ACL user, as the chart writes the redis-url key."""
    return (f"rediss://{credentials(redis_server.admin_username, redis_server.admin_password)}@"
            f"{redis_server.host}:{redis_server.tls_port}/{db}?ssl_cert_reqs=required&ssl_ca_certs={CA_IN_CONTAINER}")


def ca_mount(ca_file: Path) -> list[str]:
    return ["--volume", f"{ca_file}:{CA_IN_CONTAINER}:ro"]


def start(engine: DockerEngine, image: str, env: Mapping[str, str], extra: list[str] | None = None,
          args: list[str] | None = None, entrypoint: list[str] | None = None) -> str:
    """Start a detached container like a pod (no --rm: tests read its exit code); cleanup removes it.

    args replace the image's CMD (the pod's args); entrypoint replaces its ENTRYPOINT (the pod's command)."""
    override = ["--entrypoint", entrypoint[0]] if entrypoint else []
    command = [*(entrypoint or [])[1:], *(args or [])]
    return engine.start(image, *command, env=env, docker_args=[*POD_LIKE, *(extra or []), *override])


def run(engine: DockerEngine, image: str, env: Mapping[str, str], *, args: list[str] | None = None,
        entrypoint: list[str] | None = None, extra: list[str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """A one-shot container like a Job's pod; the result carries its exit code and output."""
    override = ["--entrypoint", entrypoint[0]] if entrypoint else []
    command = [*(entrypoint or [])[1:], *(args or [])]
    return engine.run(image, *command, env=env, docker_args=[*POD_LIKE, *(extra or []), *override],
                      timeout=timeout, check=False)


def supervised(module: str, *args: str) -> list[str]:
    """The chart's `command:` form: nl2api-run -- python -m MODULE ARGS."""
    return ["/usr/local/bin/nl2api-run", "--", "python", "-m", module, *args]


def migrate(engine: DockerEngine, images: ImageSet, database: Database) -> subprocess.CompletedProcess[str]:
    """The migration Job: the migrations image with the owner's DATABASE_URL and the admin's MIGRATIONS_ADMIN_URL."""
    env = {"DATABASE_URL": database.owner_url, "MIGRATIONS_ADMIN_URL": database.admin_url}
    return run(engine, images["migrations"].tag, env, timeout=300)


def state(engine: DockerEngine, container: str) -> dict[str, Any]:
    return json.loads(engine.cli.run("inspect", "--format", "{{json .State}}", container).stdout)


def logs(engine: DockerEngine, container: str, tail: int | None = 80) -> str:
    result = engine.cli.run("logs", *(["--tail", str(tail)] if tail else []), container, check=False)
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


def wait_exited(engine: DockerEngine, container: str, timeout: float) -> int:
    """The container's exit code once it has stopped."""
    def stopped() -> dict | None:
        current = state(engine, container)
        return None if current["Running"] else current

    final = wait_for("the container to exit", stopped, timeout, lambda: logs(engine, container))
    return int(final["ExitCode"])


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
    return int(final["ExitCode"]), elapsed, final["ExitCode"] == 137


def http_get(url: str, timeout: float = 5.0, headers: Mapping[str, str] | None = None) -> tuple[int, str]:
    """(status, body) of a GET; HTTP errors are answers too, connection errors give status 0."""
    request = urllib.request.Request(url, headers=dict(headers or {}))  # noqa: S310 - loopback test URL
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback test URL
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, ""


#: An unmasked password in a URL: scheme://user:<anything but ***>@
UNMASKED_URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:(?!\*\*\*@)[^@\s]+@")

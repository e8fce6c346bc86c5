"""Session fixtures that run real PostgreSQL, Redis, moto and Docker for the functional tests.

Each fixture starts its component once per session (per xdist worker) on free loopback ports and always tears it
down, whatever the tests did. Outcomes when a component is unusable:

* a missing binary, system account or Python package, or a daemon that will not start: the test *fails* with a
  message naming what to install, because a half-provisioned machine must not report green;
* no Docker engine and no way to start one (not root, no dockerd): the test is *skipped* with the precise
  reason, unless NL2API_REQUIRE_DOCKER=1 (set it in CI) turns that into a failure too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import TypeVar

import pytest

from support.docker_engine import DockerdSettings, DockerEngine, docker_engine as start_docker_engine
from support.errors import DockerUnavailableError, HarnessError
from support.moto_server import MotoServer, run_moto
from support.pgvector_server import PgvectorServer, run_pgvector
from support.postgres_server import PostgresServer, run_postgres
from support.redis_server import RedisServer, run_redis
from support.tls import TlsBundle, temporary_test_ca

REPO_ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE_SCRIPT = REPO_ROOT / "scripts" / "build-base-image.sh"

T = TypeVar("T")


def _enter(stack: ExitStack, component: str, context: AbstractContextManager[T]) -> T:
    """Enter a harness context manager, turning a setup failure into a plain pytest outcome with its message.

    The outcome is raised outside the except block, so the report shows the harness's message instead of a
    chained harness traceback. Teardown errors are left alone: they are bugs to read in full."""
    try:
        return stack.enter_context(context)
    except DockerUnavailableError as exc:
        failure, unavailable = None, str(exc)
    except HarnessError as exc:
        failure, unavailable = f"{component}: {exc}", None
    if failure is not None:
        pytest.fail(failure, pytrace=False)
    if os.environ.get("NL2API_REQUIRE_DOCKER") == "1":
        pytest.fail(f"Docker is required (NL2API_REQUIRE_DOCKER=1) but unavailable: {unavailable}", pytrace=False)
    pytest.skip(f"Docker unavailable: {unavailable}")


@pytest.fixture(scope="session")
def test_ca() -> Iterator[TlsBundle]:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost/::1 (ca_cert, server_cert, server_key)."""
    with temporary_test_ca() as bundle:
        yield bundle


@pytest.fixture(scope="session")
def postgres_server(test_ca: TlsBundle) -> Iterator[PostgresServer]:
    """PostgreSQL with SCRAM-only authentication and TLS (verify-full against test_ca) on 127.0.0.1."""
    with ExitStack() as stack:
        yield _enter(stack, "PostgreSQL", run_postgres(test_ca))


@pytest.fixture(scope="session")
def redis_server(test_ca: TlsBundle) -> Iterator[RedisServer]:
    """Redis with the default user off, an admin ACL user, and a TLS port verified against test_ca."""
    with ExitStack() as stack:
        yield _enter(stack, "Redis", run_redis(test_ca))


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """moto in server mode on 127.0.0.1 (us-east-1, dummy credentials)."""
    with ExitStack() as stack:
        yield _enter(stack, "moto", run_moto())


@pytest.fixture
def aws(moto_server: MotoServer) -> MotoServer:
    """moto_server reset to an empty account before the test, for tests that count or list resources."""
    moto_server.reset()
    return moto_server


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    """A Docker engine (reused, or started and later stopped) plus the local base image tag (base_image)."""
    with ExitStack() as stack:
        yield _enter(stack, "Docker", start_docker_engine(DockerdSettings.from_environment(), BASE_IMAGE_SCRIPT))


@pytest.fixture(scope="session")
def pgvector_server(docker_engine: DockerEngine) -> Iterator[PgvectorServer]:
    """PostgreSQL 17 + pgvector (the application's schema needs `vector`), run like the chart's pod (uid 10001,
    read-only root) on a loopback port; its image is scripts/build-postgres-image.sh's, cached by recipe digest."""
    with ExitStack() as stack:
        yield _enter(stack, "PostgreSQL + pgvector container", run_pgvector(docker_engine))

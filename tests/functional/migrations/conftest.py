"""Fixtures for the migration tests: one PostgreSQL 17 + pgvector container per session, a database per test.

The container comes from the image scripts/build-postgres-image.sh builds (cached in Docker's image store by
its recipe digest), so only the first session on a machine pays for debootstrap.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from support.docker_engine import DockerEngine
from support.errors import HarnessError
from support.pgvector_server import Database, PgvectorServer, run_pgvector


@pytest.fixture(scope="session")
def pgvector_server(docker_engine: DockerEngine) -> Iterator[PgvectorServer]:
    """PostgreSQL 17 + pgvector, run like the chart's pod (uid 10001, read-only root) on a loopback port."""
    with ExitStack() as stack:
        failure = None
        try:
            server = stack.enter_context(run_pgvector(docker_engine))
        except HarnessError as exc:
            failure = f"PostgreSQL + pgvector container: {exc}"
        if failure is not None:  # outside the except block, so the report shows the message, not a chain
            pytest.fail(failure, pytrace=False)
        yield server


@pytest.fixture
def database(pgvector_server: PgvectorServer) -> Iterator[Database]:
    """A fresh database owned by a fresh non-superuser role, dropped after the test."""
    created = pgvector_server.create_database("migrate")
    try:
        yield created
    finally:
        pgvector_server.drop_database(created)

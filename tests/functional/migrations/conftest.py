"""Fixtures for the migration tests: a database per test on the session's PostgreSQL 17 + pgvector container
(pgvector_server, tests/functional/conftest.py).

The container comes from the image scripts/build-postgres-image.sh builds (cached in Docker's image store by
its recipe digest), so only the first session on a machine pays for debootstrap.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.pgvector_server import Database, PgvectorServer


@pytest.fixture
def database(pgvector_server: PgvectorServer) -> Iterator[Database]:
    """A fresh database owned by a fresh non-superuser role, dropped after the test."""
    with pgvector_server.temporary_database("migrate") as created:
        yield created

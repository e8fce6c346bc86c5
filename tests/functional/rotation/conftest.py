"""Fixtures of the rotation tests: a fresh RotationScenario (roles, ACL user, file consumers, a vault-encrypted
test inventory) on the session's real PostgreSQL and Redis, dropped again after the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.postgres_server import PostgresServer
from support.redis_server import RedisServer

from .loadgen import RotationScenario


@pytest.fixture
def scenario(postgres_server: PostgresServer, redis_server: RedisServer, tmp_path: Path) -> Iterator[RotationScenario]:
    """postgres-app and redis-app in use with their initial credentials, ready for playbooks/rotate_secrets.yml."""
    built = RotationScenario(postgres_server, redis_server, tmp_path).create()
    try:
        yield built
    finally:
        built.drop()

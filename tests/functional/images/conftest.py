"""Fixtures for the image tests: the four targets of docker/Dockerfile built from the stand-in, or from the nl2api
checkout NL2API_SRC names (`make test-real-app`), and the data stores the containers talk to.

The builds run with `--network none`, so the builder stage provably needs no network (build.py explains how
its inputs get in). Everything built here is removed at the end of the session: the tagged images (labelled, so
the harness' own cleanup finds them too) and the untagged intermediate images of the builder stage, which carry
no label.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.docker_engine import DockerEngine
from support.errors import HarnessError
from support.pgvector_server import Database, PgvectorServer, build_postgres_image
from support.redis_server import RedisServer

from . import containers
from .build import (
    SIZE_REPORT_KEY, Builder, ImageSet, download_wheelhouse, image_size, project_version, source_dir, stage_context,
)


@pytest.fixture(scope="session")
def image_source() -> Path:
    return source_dir()


@pytest.fixture(scope="session")
def image_builder(docker_engine: DockerEngine) -> Iterator[Builder]:
    builder = Builder(docker_engine)
    try:
        yield builder
    finally:
        builder.cleanup()


@pytest.fixture(scope="session")
def wheelhouse(docker_engine: DockerEngine) -> Path:
    return download_wheelhouse(docker_engine)


@pytest.fixture(scope="session")
def image_context(tmp_path_factory: pytest.TempPathFactory, image_source: Path, wheelhouse: Path) -> Path:
    return stage_context(tmp_path_factory.mktemp("image-context") / "nl2api", image_source, wheelhouse)


@pytest.fixture(scope="session")
def migrations_base_image(docker_engine: DockerEngine) -> str:
    """scripts/build-postgres-image.sh's PostgreSQL 17 + pgvector image: it has psql (built once, cached by tag)."""
    try:
        return build_postgres_image(docker_engine)[0]
    except HarnessError as exc:
        failure = f"the migrations base image (scripts/build-postgres-image.sh): {exc}"
    pytest.fail(failure, pytrace=False)


@pytest.fixture(scope="session")
def nl2api_images(docker_engine: DockerEngine, image_builder: Builder, image_context: Path, image_source: Path,
                  migrations_base_image: str) -> ImageSet:
    """All four targets, built offline with the local base images as BASE_IMAGE and MIGRATIONS_BASE_IMAGE."""
    images = ImageSet(image_source, docker_engine.base_image, image_size(docker_engine, docker_engine.base_image),
                      migrations_base_image, project_version(image_source))
    return image_builder.build_all(images, image_context)


@pytest.fixture(scope="session")
def app_database(docker_engine: DockerEngine, nl2api_images: ImageSet, pgvector_server: PgvectorServer
                 ) -> Iterator[Database]:
    """A database with the application's schema, applied by the migrations image as the chart's Job does."""
    with pgvector_server.temporary_database("images") as database:
        result = containers.migrate(docker_engine, nl2api_images, database)
        assert result.returncode == 0, result.stdout + result.stderr
        yield database


@pytest.fixture
def redis_db(redis_server: RedisServer, request: pytest.FixtureRequest) -> Iterator[int]:
    """A Redis database of its own for one test (1..15; 0 is left to other tests), flushed before and after."""
    db = 1 + int(hashlib.sha256(request.node.nodeid.encode()).hexdigest(), 16) % 15
    with redis_server.client(db=db) as client:
        client.flushdb()
    yield db
    with contextlib.suppress(Exception), redis_server.client(db=db) as client:
        client.flushdb()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001, ARG001 - pytest hook
    """Print the image sizes and build times that test_image_sizes recorded (also under pytest-xdist)."""
    lines = []
    for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", []):
        for key, value in getattr(report, "user_properties", []):
            if key == SIZE_REPORT_KEY:
                lines.extend(value)
    if lines:
        terminalreporter.write_sep("-", "nl2api image sizes and build times")
        for line in lines:
            terminalreporter.write_line(line)

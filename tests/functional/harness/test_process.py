"""The process plumbing every fixture relies on: group kill, fail-fast readiness, port-clash retry."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from support.errors import StartupError
from support.process import ManagedProcess, group_members, run_with_port_retry, wait_until


def test_stop_kills_children_that_ignore_the_shutdown_signal(tmp_path: Path) -> None:
    """A daemon's forked children (PostgreSQL backends, say) must not survive the leader."""
    script = "trap '' TERM; sleep 300 & sleep 300 & wait"
    process = ManagedProcess(["sh", "-c", script], log_path=tmp_path / "log")
    wait_until(lambda: len(group_members(process.pid)) == 3, what="shell and two sleeps", timeout=10)

    started = time.monotonic()
    process.stop(signal.SIGTERM, timeout=1)

    assert group_members(process.pid) == []
    assert process.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 10


def test_wait_until_fails_fast_with_the_log_when_the_daemon_dies(tmp_path: Path) -> None:
    process = ManagedProcess(["sh", "-c", "echo 'FATAL: bad config' >&2; exit 7"], log_path=tmp_path / "log")
    started = time.monotonic()

    with pytest.raises(StartupError, match=r"(?s)exited with status 7.*FATAL: bad config"):
        wait_until(lambda: False, what="doomed daemon", timeout=30, process=process)

    assert time.monotonic() - started < 10
    process.stop()


def test_port_clash_is_retried_and_other_failures_are_not() -> None:
    attempts: list[int] = []

    def clashes_twice() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise StartupError("bind: Address already in use")
        return "up"

    assert run_with_port_retry(clashes_twice) == "up"
    assert len(attempts) == 3

    def broken() -> str:
        attempts.append(1)
        raise StartupError("invalid configuration")

    attempts.clear()
    with pytest.raises(StartupError, match="invalid configuration"):
        run_with_port_retry(broken)
    assert len(attempts) == 1

"""Run a command while a Docker engine answers: the running one, or a dockerd started (and stopped) for it.

Molecule scenarios that build images need an engine, and `make test` must not depend on one being left running
by an earlier tier. This shares the pytest harness's lock and ownership rules, so a daemon someone else started
is never stopped, and one this wrapper starts is stopped when the command ends.

    PYTHONPATH=tests/functional python -m support.with_docker_engine -- molecule test -s images
"""

from __future__ import annotations

import subprocess
import sys

from .docker_engine import DockerdSettings, docker_daemon
from .errors import DockerUnavailableError


def main(argv: list[str]) -> int:
    """Hold the engine for the duration of `argv` (after an optional `--`) and return its exit status."""
    command = argv[1:] if argv[:1] == ["--"] else argv
    if not command:
        print("usage: python -m support.with_docker_engine -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    try:
        with docker_daemon(DockerdSettings.from_environment()) as daemon:
            origin = "started for this command" if daemon.started_by_harness else "already running"
            print(f"docker engine {daemon.server_version} ({origin})", file=sys.stderr, flush=True)
            return subprocess.run(command, check=False).returncode  # noqa: S603 - the caller's command
    except DockerUnavailableError as exc:
        print(f"no Docker engine: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

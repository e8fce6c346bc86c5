"""Temporary directories for the daemons, and the sweep that removes those a killed test run left behind.

Teardown deletes each directory, but a runner killed with SIGKILL (CI timeout, OOM killer) cannot. Its daemons
die with it (process.ManagedProcess sets a parent-death signal); its directories are swept by the next session,
which recognises them by the pid recorded inside: a directory whose owner is dead is garbage.

The directories live directly in the system temp dir, not under pytest's tmp_path: Unix socket paths (the
PostgreSQL socket lives here) must stay under ~100 bytes, and the postgres account must be able to own them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .process import process_alive

OWNER_FILE = ".nl2api-owner-pid"


def make_workdir(component: str) -> Path:
    """A fresh 0700 directory /tmp/nl2api-<component>-XXXX, after sweeping that component's orphans."""
    prefix = f"nl2api-{component}-"
    sweep_orphans(prefix)
    path = Path(tempfile.mkdtemp(prefix=prefix))
    (path / OWNER_FILE).write_text(str(os.getpid()), encoding="ascii")
    return path


@contextmanager
def temporary_workdir(component: str) -> Iterator[Path]:
    """make_workdir(component) for the block, removed with everything in it when the block ends."""
    path = make_workdir(component)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def sweep_orphans(prefix: str) -> None:
    """Remove directories with this prefix whose recorded owner process no longer exists.

    Directories without an owner record, or whose owner is alive (another session, an xdist worker), stay."""
    for candidate in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        try:
            owner = int((candidate / OWNER_FILE).read_text(encoding="ascii"))
        except (OSError, ValueError):
            continue
        if not process_alive(owner):
            shutil.rmtree(candidate, ignore_errors=True)

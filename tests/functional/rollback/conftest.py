"""Run nl2api.deploy.helm_rollback and playbooks/rollback.yml the way an operator does: ansible from the repository,
the real helm binary, no stand-in for either."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from support.ansible_cli import BIN, JSON_CALLBACK, REPO_ROOT, Run, clean_ansible_environment, find_helm
from support.kube_api import write_kubeconfig
from support.ports import free_port


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return clean_ansible_environment(
        ANSIBLE_COLLECTIONS_PATH=str(REPO_ROOT / "collections"),
        ANSIBLE_LOCAL_TEMP=str(Path(os.environ.get("TMPDIR", "/tmp")) / "nl2api-rollback-tests"),
        **(extra or {}),
    )


@pytest.fixture(scope="session")
def helm_binary() -> str:
    return find_helm()


@pytest.fixture
def run_module(helm_binary: str, tmp_path: Path):
    """`ansible localhost -m nl2api.deploy.helm_rollback -a <json>` with the json callback; returns Run."""

    def run(args: dict[str, Any], *, check: bool = False, diff: bool = False, env: dict[str, str] | None = None,
            timeout: int = 120) -> Run:
        argv = [str(BIN / "ansible"), "localhost", "-m", "nl2api.deploy.helm_rollback", "-a", json.dumps(args),
                "-e", "ansible_python_interpreter=%s" % sys.executable]
        if check:
            argv.append("--check")
        if diff:
            argv.append("--diff")
        proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=timeout, check=False,
                              env=_env({**JSON_CALLBACK, **(env or {})}))
        return Run(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture
def run_playbook(tmp_path: Path):
    """`ansible-playbook playbooks/rollback.yml` with an inventory like the repository's: localhost in the
    nl2api_control group, and no cluster variables (each test passes its own)."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"all": {"children": {"nl2api_control": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}}}))

    def run(*extra: str, env: dict[str, str] | None = None, timeout: int = 180) -> Run:
        argv = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(REPO_ROOT / "playbooks" / "rollback.yml"),
                *extra]
        proc = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, env=_env(env),
                              check=False)
        return Run(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture
def unreachable_kubeconfig(tmp_path):
    """A kubeconfig (context `gone`) whose API server port has nothing listening (connection refused)."""
    return write_kubeconfig(tmp_path / "kubeconfig-unreachable", "https://127.0.0.1:%d" % free_port(), context="gone")

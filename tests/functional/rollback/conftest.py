"""Run nl2api.deploy.helm_rollback and playbooks/rollback.yml the way an operator does: ansible from the repository,
the real helm binary, no stand-in for either."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


@dataclass
class Run:
    rc: int
    stdout: str
    stderr: str

    @property
    def result(self) -> dict[str, Any]:
        """The module result of an `ansible -m` run with the json callback."""
        data = json.loads(self.stdout)
        return data["plays"][0]["tasks"][0]["hosts"]["localhost"]


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("K8S_AUTH_", "ANSIBLE_"))}
    env.pop("KUBECONFIG", None)
    env.update({
        "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(REPO_ROOT / "collections"),
        "PATH": "%s%s%s" % (BIN, os.pathsep, env.get("PATH", "")),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(Path(os.environ.get("TMPDIR", "/tmp")) / "nl2api-rollback-tests"),
    })
    env.update(extra or {})
    return env


@pytest.fixture(scope="session")
def helm_binary() -> str:
    helm = shutil.which("helm", path="%s%s%s" % (BIN, os.pathsep, os.environ.get("PATH", "")))
    if helm is None:
        pytest.fail("helm not found on PATH or in %s: run `make setup`, which installs it into .venv/bin" % BIN,
                    pytrace=False)
    return helm


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
                              env=_env({"ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
                                        **(env or {})}))
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
    """A kubeconfig whose API server port has nothing listening (connection refused)."""
    path = tmp_path / "kubeconfig-unreachable"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "gone",
        "clusters": [{"name": "gone", "cluster": {"server": "https://127.0.0.1:%d" % free_port()}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
    }))
    return path

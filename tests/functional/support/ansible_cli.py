"""The command-line tools the functional tests run as an operator would (ansible, ansible-playbook, helm): where they
are, the environment they get, and `ansible localhost -m <module>` with its JSON result.

A missing tool fails the test with what to do (`make setup` installs them into .venv/bin); it never skips.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
#: The virtualenv's bin directory of the interpreter running the tests, where `make setup` puts every tool.
BIN = Path(sys.executable).parent


def find_tool(name: str, *, env_var: str | None = None) -> str:
    """The executable `name`: $`env_var` when set, else this interpreter's bin directory, the repository's .venv,
    then PATH."""
    candidates = [os.environ.get(env_var) if env_var else None, str(BIN / name),
                  str(REPO_ROOT / ".venv" / "bin" / name), shutil.which(name)]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("%s not found%s in %s, .venv/bin or on PATH: run `make setup`, which installs it into .venv/bin"
                % (name, " (%s is not set)" % env_var if env_var else "", BIN), pytrace=False)


def find_helm() -> str:
    """helm: $HELM, else the one `make setup` installed."""
    return find_tool("helm", env_var="HELM")


def clean_ansible_environment(**overrides: str) -> dict[str, str]:
    """os.environ without the caller's Ansible and Kubernetes settings (ANSIBLE_*, K8S_AUTH_*, KUBECONFIG), with the
    repository's ansible.cfg, no colour, and the virtualenv's bin first on PATH; then `overrides`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("K8S_AUTH_", "ANSIBLE_"))}
    env.pop("KUBECONFIG", None)
    env.update({
        "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "PATH": "%s%s%s" % (BIN, os.pathsep, env.get("PATH", "")),
    })
    env.update(overrides)
    return env


#: What makes `ansible` print one JSON document (ansible.posix.json) that module_result() reads.
JSON_CALLBACK = {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}


def module_result(stdout: str) -> dict[str, Any]:
    """The localhost result of the only task of an `ansible -m` run with the JSON callback."""
    return json.loads(stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


@dataclass
class Run:
    """How an ansible or ansible-playbook command ended."""

    rc: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def result(self) -> dict[str, Any]:
        """The module result of an `ansible -m` run with the JSON callback."""
        return module_result(self.stdout)

    def recap(self, host: str = "localhost") -> dict[str, int]:
        """The play recap's counters for `host` (ok, changed, failed...) of an ansible-playbook run."""
        match = re.search(r"%s\s+:\s+(ok=.*)" % re.escape(host), self.stdout)
        assert match, "no play recap in:\n" + self.output[-3000:]
        return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


@dataclass
class ModuleRun:
    rc: int
    result: dict[str, Any]
    stdout: str
    stderr: str


def run_module(module: str, args: dict[str, Any], *extra: str, env: dict[str, str | None] | None = None,
               timeout: int = 300) -> ModuleRun:
    """`ansible localhost -m <module> -a <json args>` from the repository root with its ansible.cfg, over the local
    connection with this interpreter; the environment is this one's plus the JSON callback and `env` (where None
    removes a variable)."""
    cmd = [find_tool("ansible"), "localhost", "-i", "localhost,", "-c", "local",
           "-e", "ansible_python_interpreter=%s" % sys.executable,
           "-m", module, "-a", json.dumps(args), *extra]
    environment = dict(os.environ, ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", **JSON_CALLBACK)
    for name, value in (env or {}).items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    done = subprocess.run(cmd, cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=timeout,
                          check=False)
    try:
        result = module_result(done.stdout)
    except json.JSONDecodeError:
        pytest.fail("ansible printed no JSON (rc=%d):\n%s\n%s" % (done.returncode, done.stdout, done.stderr))
    return ModuleRun(done.returncode, result, done.stdout, done.stderr)

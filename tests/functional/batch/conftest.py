"""Run playbooks/run_batch.yml the way an operator does (-i inventories/local), against stand-ins for the two things
that cannot run here: helm talking to a cluster (fake_helm.py) and the Kubernetes API (kube_standin.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from support.ansible_cli import BIN, REPO_ROOT, Run, clean_ansible_environment, find_helm

from .kube_standin import Cluster, ProducerScript, kube_standin

NAMESPACE = "nl2api"
PLATFORM_RELEASE = "nl2api"
# A copied checkout may have no git history for the local inventory's tag lookup: pin the tag.
PINNED_TAG = "0123456789ab"


@dataclass
class FakeHelm:
    binary: Path
    state_path: Path

    def state(self) -> dict[str, Any]:
        return json.loads(self.state_path.read_text(encoding="utf-8"))

    def calls(self, command: str | None = None) -> list[list[str]]:
        argvs = [call["argv"] for call in self.state()["calls"]]
        return [argv for argv in argvs if command is None or argv[:1] == [command]]

    def changes(self) -> list[tuple[str, str, str]]:
        """(command, release, namespace) of every upgrade and uninstall, in order."""
        return [(call["argv"][0], call["argv"][-2 if call["argv"][0] == "upgrade" else -1], call["namespace"])
                for call in self.state()["calls"] if call["argv"][0] in ("upgrade", "uninstall")]

    def upgrade_values(self) -> list[dict[str, Any]]:
        """The merged values files of each `helm upgrade -i`, in order."""
        return [call["values"] for call in self.state()["calls"] if call["argv"][0] == "upgrade"]

    def upgrade_manifests(self) -> list[dict[str, dict[str, Any]]]:
        """What the chart rendered for each `helm upgrade -i`, as {"<Kind>/<name>": object}, in order."""
        return [{"%s/%s" % (doc["kind"], doc["metadata"]["name"]): doc for doc in call["manifest"]}
                for call in self.state()["calls"] if call["argv"][0] == "upgrade"]

    def install(self, name: str, status: str = "deployed", values: dict[str, Any] | None = None) -> None:
        state = self.state()
        state["releases"][name] = {"namespace": NAMESPACE, "revision": 1, "status": status, "values": values or {}}
        self.state_path.write_text(json.dumps(state), encoding="utf-8")


@pytest.fixture(scope="session")
def real_helm() -> str:
    return find_helm()


@pytest.fixture
def fake_helm(tmp_path: Path, real_helm: str) -> FakeHelm:
    """helm on a state file where the platform release is deployed and nothing else exists."""
    state_path = tmp_path / "helm-state.json"
    state_path.write_text(json.dumps({"releases": {}, "calls": []}), encoding="utf-8")
    binary = tmp_path / "helm"
    binary.write_text("#!/bin/sh\nexec %s %s %s %s \"$@\"\n" % (
        sys.executable, Path(__file__).with_name("fake_helm.py"), state_path, real_helm))
    binary.chmod(0o755)
    helm = FakeHelm(binary, state_path)
    helm.install(PLATFORM_RELEASE)
    return helm


@dataclass
class Batch:
    """One run of the playbook against a stand-in cluster, and what helm and the API saw."""

    helm: FakeHelm
    cluster: Cluster
    run: Callable[..., Run]


def _env() -> dict[str, str]:
    return clean_ansible_environment(
        ANSIBLE_FORCE_COLOR="0",
        NL2API_IMAGE_TAG=PINNED_TAG,
        # Modules through the interpreter's stdin instead of a copied file: each poll of the API is a module run.
        ANSIBLE_PIPELINING="1",
    )


@pytest.fixture
def batch_cluster(tmp_path: Path, fake_helm: FakeHelm) -> Iterator[Callable[[ProducerScript], Batch]]:
    """Start the stand-in API for a producer script; `.run(*ansible_args)` runs playbooks/run_batch.yml against it
    with -i inventories/local, the stand-in's kubeconfig, the fake helm, and a 1-second poll."""
    with ExitStack() as stack:

        def start(script: ProducerScript) -> Batch:
            cluster = stack.enter_context(kube_standin(NAMESPACE, fake_helm.state_path, script))
            kubeconfig = cluster.kubeconfig(tmp_path)

            def run(*extra: str, timeout: int = 120) -> Run:
                argv = [str(BIN / "ansible-playbook"), str(REPO_ROOT / "playbooks" / "run_batch.yml"),
                        "-i", str(REPO_ROOT / "inventories" / "local"),
                        "-e", "app_kubeconfig=%s" % kubeconfig, "-e", "app_context=standin",
                        "-e", "app_helm_binary=%s" % fake_helm.binary, "-e", "batch_poll_seconds=1",
                        "-e", "batch_finish_poll_seconds=1", *extra]
                proc = subprocess.run(argv, cwd=REPO_ROOT, env=_env(), capture_output=True, text=True,
                                      timeout=timeout, check=False)
                return Run(proc.returncode, proc.stdout, proc.stderr)

            return Batch(fake_helm, cluster, run)

        yield start


@pytest.fixture
def idle_cluster(batch_cluster: Callable[[ProducerScript], Batch]) -> Batch:
    """A stand-in whose producer would never say anything: for runs that must stop before the cluster is asked."""
    return batch_cluster(ProducerScript(release="nl2api-batch-baseline", batch_id="", startup_log=[]))

"""A Kubernetes API stand-in for one batch release: its producer Job, the Job's pod and the pod's log.

It answers what kubernetes.core's k8s_info, k8s_log and the k8s lookup ask: API discovery (/api, /apis, /api/v1,
/apis/batch/v1), pods listed by label selector or read by name, pods/<name>/log, and jobs/<name>. Writes are refused.

Which objects exist follows the fake helm's state file (fake_helm.py): the producer Job and its pod exist while the
batch release is installed. How the producer behaves is a ProducerScript, driven by what the role does:
- the pod is Pending for the first `pending_reads` reads, then Running;
- each read of the log reveals one more chunk of `startup_log`;
- a producer with `ends_on_its_own` ends once its whole startup log was read (an error, or no test case); any other
  ends only after the release's rendered manifest has the worker Deployment with EVAL_BATCH_ID equal to its batch
  id, `reads_until_done` Job reads later - so a role that never starts the right batch's workers waits in vain;
- when it ends, `final_log` is appended, the pod is Succeeded or Failed with `exit_code`, and the Job gets its
  Complete or Failed condition.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from support.kube_api import not_found, refuse_write, selector_matches, serve_kube_api, write_kubeconfig


@dataclass
class ProducerScript:
    release: str
    batch_id: str
    startup_log: list[str]
    final_log: str = ""
    exit_code: int = 0
    ends_on_its_own: bool = False
    pending_reads: int = 1
    reads_until_done: int = 1
    # The Job controller's reason when the pod failed: BackoffLimitExceeded, or DeadlineExceeded past its deadline.
    failure_reason: str = "BackoffLimitExceeded"


@dataclass
class Cluster:
    url: str
    namespace: str
    state_path: Path
    script: ProducerScript
    requests: list[str] = field(default_factory=list)
    pod_reads: int = 0
    log_reads: int = 0
    job_reads_after_workers: int = 0

    @property
    def job_name(self) -> str:
        return self.script.release + "-producer"

    @property
    def pod_name(self) -> str:
        return self.job_name + "-x7k2p"

    def release(self) -> dict[str, Any] | None:
        releases = json.loads(self.state_path.read_text(encoding="utf-8"))["releases"]
        release = releases.get(self.script.release)
        return release if release and release["namespace"] == self.namespace else None

    def workers_started(self) -> bool:
        """Whether the release's rendered manifest has a worker Deployment for this producer's batch id."""
        for doc in (self.release() or {}).get("manifest", []):
            if doc["kind"] == "Deployment" and doc["metadata"]["name"] == self.script.release + "-worker":
                for container in doc["spec"]["template"]["spec"]["containers"]:
                    if {"name": "EVAL_BATCH_ID", "value": self.script.batch_id} in container.get("env", []):
                        return True
        return False

    def ended(self) -> bool:
        if self.script.ends_on_its_own:
            return self.log_reads >= len(self.script.startup_log)
        return self.job_reads_after_workers >= self.script.reads_until_done

    def log(self) -> str:
        text = "".join(self.script.startup_log[:self.log_reads])
        return text + self.script.final_log if self.ended() else text

    def pod(self) -> dict[str, Any]:
        labels = {"batch.kubernetes.io/job-name": self.job_name, "job-name": self.job_name}
        if self.ended():
            phase = "Succeeded" if self.script.exit_code == 0 else "Failed"
            state = {"terminated": {"exitCode": self.script.exit_code, "reason": "Completed" if phase == "Succeeded"
                                    else "Error"}}
        elif self.pod_reads <= self.script.pending_reads:
            phase, state = "Pending", {"waiting": {"reason": "ContainerCreating"}}
        else:
            phase, state = "Running", {"running": {"startedAt": "2026-12-03T12:00:00Z"}}
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": self.pod_name, "namespace": self.namespace, "labels": labels},
                "spec": {"containers": [{"name": "producer", "image": "nl2api-worker:test"}]},
                "status": {"phase": phase, "containerStatuses": [{"name": "producer", "state": state}]}}

    def kubeconfig(self, directory: Path) -> Path:
        """A kubeconfig whose context `standin` reaches this stand-in."""
        return write_kubeconfig(directory / "kubeconfig", self.url, context="standin")

    def job(self) -> dict[str, Any]:
        status: dict[str, Any] = {"active": 1}
        if self.ended():
            condition = "Complete" if self.script.exit_code == 0 else "Failed"
            status = {"succeeded" if condition == "Complete" else "failed": 1,
                      "conditions": [{"type": condition, "status": "True",
                                      "reason": "Completed" if condition == "Complete"
                                      else self.script.failure_reason}]}
        return {"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": self.job_name, "namespace": self.namespace},
                "spec": {"backoffLimit": 0, "selector": {"matchLabels": {"batch.kubernetes.io/job-name": self.job_name}}},
                "status": status}


def _resources(group_version: str, resources: list[tuple[str, str, bool]]) -> dict[str, Any]:
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": [
        {"name": name, "singularName": "", "namespaced": namespaced, "kind": kind,
         "verbs": ["get", "list"] if "/" not in name else ["get"]}
        for name, kind, namespaced in resources]}


DISCOVERY = {
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        {"name": "batch", "versions": [{"groupVersion": "batch/v1", "version": "v1"}],
         "preferredVersion": {"groupVersion": "batch/v1", "version": "v1"}}]},
    "/api/v1": _resources("v1", [("pods", "Pod", True), ("pods/log", "Pod", True), ("namespaces", "Namespace", False)]),
    "/apis/batch/v1": _resources("batch/v1", [("jobs", "Job", True)]),
    "/version": {"major": "1", "minor": "35", "gitVersion": "v1.35.0"},
}


def _answer(cluster: Cluster, path: str, query: str) -> tuple[int, dict[str, Any] | str]:
    """What a GET of `path` gets; it counts the reads that move the producer along."""
    if path in DISCOVERY:
        return 200, DISCOVERY[path]
    pods = "/api/v1/namespaces/%s/pods" % cluster.namespace
    exists = cluster.release() is not None
    if path == pods:
        cluster.pod_reads += 1
        selector = parse_qs(query).get("labelSelector", [""])[0]
        items = [cluster.pod()] if exists and selector_matches(cluster.pod()["metadata"]["labels"], selector) else []
        return 200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}
    if path == "%s/%s" % (pods, cluster.pod_name) and exists:
        cluster.pod_reads += 1
        return 200, cluster.pod()
    if path == "%s/%s/log" % (pods, cluster.pod_name) and exists:
        cluster.log_reads += 1
        return 200, cluster.log()
    if path == "/apis/batch/v1/namespaces/%s/jobs/%s" % (cluster.namespace, cluster.job_name) and exists:
        if cluster.workers_started():
            cluster.job_reads_after_workers += 1
        return 200, cluster.job()
    return not_found("object", path.rsplit("/", 1)[-1])


@contextmanager
def kube_standin(namespace: str, state_path: Path, script: ProducerScript) -> Iterator[Cluster]:
    cluster = Cluster(url="", namespace=namespace, state_path=state_path, script=script)
    lock = threading.Lock()

    def answer(method: str, raw_path: str, _content_type: str, _body: bytes) -> tuple[int, dict[str, Any] | str]:
        with lock:
            cluster.requests.append("%s %s" % (method, raw_path))
            if method != "GET":
                return refuse_write(method)
            url = urlparse(raw_path)
            return _answer(cluster, url.path, url.query)

    with serve_kube_api(answer, name="batch-kube-standin") as cluster.url:
        yield cluster

"""The module's worker-autoscaling values through the real chart: `helm template` renders exactly one autoscaler
for the worker, carrying exactly the decided values, valid against the KEDA CRDs and the Kubernetes 1.31 and 1.35
schemas; and the behavior the cluster receives is the one whose scale-up time the module proved."""

from __future__ import annotations

import copy
import functools
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT / "collections") not in sys.path:
    sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.nl2api.deploy.plugins.module_utils.queue_autoscaling import (  # noqa: E402
    DEFAULT_WORKER_PDB,
    NO_PDB,
    AutoscalingIntent,
    PdbIntent,
    QueueIntent,
    SpeedIntent,
    assess,
    intent_scale_up_timing,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.queue_autoscaling_hpa import (  # noqa: E402
    ScalingPolicy,
    ScalingRules,
    worst_case_scale_up,
)

CHART = ROOT / "deploy" / "helm" / "nl2api"
CRD_DIR = ROOT / "deploy" / "crds"
KUBERNETES_VERSIONS = ("1.31", "1.35")
RELEASE, NAMESPACE = "nl2api", "nl2api"

PENDING, PROCESSING = "nl2api:evaluations", "nl2api:evaluations:processing"
PROD = AutoscalingIntent(
    queue=QueueIntent(lists=(PENDING,), processing_lists=(PROCESSING,), address="nl2api-redis.nl2api.svc:6379",
                      tls=True, credentials_secret="nl2api-redis-scaler"),
    jobs_per_worker=5, min_replicas=2, max_replicas=20, max_job_duration_seconds=240,
)
CASES = {
    "prod": PROD,
    "scale-to-zero-single-list": replace(PROD, min_replicas=0, activation_jobs=2, worker_pdb=PdbIntent(max_unavailable=1),
                                         queue=replace(PROD.queue, processing_lists=(), address="")),
    "no-pdb": replace(PROD, min_replicas=1, worker_pdb=NO_PDB),
    "password-only-db-2": replace(PROD, queue=replace(PROD.queue, username_key="", database=2, tls=False,
                                                      credentials_secret="")),
    "two-queues-percent-policies": replace(
        PROD, queue=replace(PROD.queue, lists=(PENDING, "nl2api:priority"),
                            processing_lists=(PROCESSING, "nl2api:priority:processing")),
        scale_up=SpeedIntent(2, 200, 30, 15, "Max"), scale_down=SpeedIntent(0, 5, 120, 600, "Max"),
        worker_pdb=PdbIntent(max_unavailable="25%")),
    "hpa": replace(PROD, engine="hpa"),
}


def helm() -> str:
    for candidate in (os.environ.get("HELM"), str(ROOT / ".venv" / "bin" / "helm"), shutil.which("helm")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("helm binary not found (make setup installs it into .venv/bin)", pytrace=False)


def chart_pdb(pdb: PdbIntent) -> dict[str, Any]:
    """worker.podDisruptionBudget for the PDB the intent assumes (the role passes both to the chart)."""
    if pdb == NO_PDB:
        return {"enabled": False}
    return {"enabled": True, "maxUnavailable": "" if pdb.max_unavailable is None else pdb.max_unavailable,
            "minAvailable": "" if pdb.min_available is None else pdb.min_available}


def render(values: dict[str, Any], tmp_path: Path, pdb: PdbIntent = DEFAULT_WORKER_PDB) -> list[dict[str, Any]]:
    values_file = tmp_path / "autoscaling.yaml"
    values_file.write_text(yaml.safe_dump({"worker": {"autoscaling": values, "podDisruptionBudget": chart_pdb(pdb)}}))
    cmd = [helm(), "template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--values", str(values_file)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def worker_deployment(objects: list[dict[str, Any]]) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == "Deployment"
             and o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "worker"]
    assert len(found) == 1
    return found[0]


def autoscalers_of(objects: list[dict[str, Any]], deployment: dict[str, Any]) -> list[dict[str, Any]]:
    name = deployment["metadata"]["name"]
    return [o for o in objects if o["kind"] in ("ScaledObject", "HorizontalPodAutoscaler")
            and o["spec"]["scaleTargetRef"]["name"] == name and o["spec"]["scaleTargetRef"]["kind"] == "Deployment"]


@functools.lru_cache(maxsize=None)
def crd_validator(kind: str) -> jsonschema.Draft7Validator:
    for path in sorted(CRD_DIR.glob("keda-*_keda.sh_%ss.yaml" % kind.lower())):
        crd = yaml.safe_load(path.read_text())
        version = next(v for v in crd["spec"]["versions"] if v.get("served"))
        return jsonschema.Draft7Validator(_strict(version["schema"]["openAPIV3Schema"]))
    pytest.fail("no CRD for %s in %s" % (kind, CRD_DIR), pytrace=False)


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """Unknown fields rejected, as the API server would prune them silently."""
    schema = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.pop("x-kubernetes-int-or-string", False):
                node.pop("type", None)
                node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
            if "properties" in node and "additionalProperties" not in node \
                    and not node.get("x-kubernetes-preserve-unknown-fields"):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(schema)
    return schema


def assert_valid(obj: dict[str, Any]) -> None:
    if obj["apiVersion"].startswith("keda.sh/"):
        problems = [(list(e.path), e.message) for e in crd_validator(obj["kind"]).iter_errors(obj)]
        assert not problems, problems
    else:
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)


def keda_hpa(scaled_object: dict[str, Any]) -> dict[str, Any]:
    """The HPA KEDA derives from the ScaledObject (its behavior must be a valid autoscaling/v2 behavior)."""
    spec = scaled_object["spec"]
    return {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "keda-hpa-" + scaled_object["metadata"]["name"], "namespace": NAMESPACE},
        "spec": {
            "scaleTargetRef": spec["scaleTargetRef"], "minReplicas": max(1, spec["minReplicaCount"]),
            "maxReplicas": spec["maxReplicaCount"],
            "behavior": spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"],
            "metrics": [{"type": "External", "external": {
                "metric": {"name": "s0-redis", "selector": {"matchLabels": {"scaledobject.keda.sh/name": "w"}}},
                "target": {"type": "AverageValue", "averageValue": "5"}}}],
        },
    }


def rules_from(behavior_direction: dict[str, Any]) -> ScalingRules:
    return ScalingRules(
        tuple(ScalingPolicy(p["type"], p["value"], p["periodSeconds"]) for p in behavior_direction.get("policies", [])),
        behavior_direction.get("selectPolicy", "Max"),
        behavior_direction.get("stabilizationWindowSeconds", 0),
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_chart_renders_exactly_the_decided_autoscaler(case, tmp_path):
    intent = CASES[case]
    assessment = assess(intent)
    assert not assessment.errors, assessment.errors
    values = assessment.plan.to_values()
    objects = render(values, tmp_path, intent.worker_pdb)
    deployment = worker_deployment(objects)
    assert "replicas" not in deployment["spec"]  # the autoscaler owns the count; helm upgrades must not reset it
    autoscalers = autoscalers_of(objects, deployment)
    assert len(autoscalers) == 1, [o["kind"] for o in autoscalers]  # never an HPA and a ScaledObject together
    autoscaler = autoscalers[0]
    spec = autoscaler["spec"]

    if intent.engine == "hpa":
        assert autoscaler["kind"] == "HorizontalPodAutoscaler" and autoscaler["apiVersion"] == "autoscaling/v2"
        assert not [o for o in objects if o["kind"] in ("ScaledObject", "TriggerAuthentication")]
        assert autoscaler["metadata"]["annotations"]["nl2api.io/counted-lists"] == ",".join(
            item["name"] for item in values["lists"])  # the adapter must serve the sum of these
        assert (spec["minReplicas"], spec["maxReplicas"]) == (values["minReplicas"], values["maxReplicas"])
        assert spec["behavior"] == values["behavior"]
        (metric,) = spec["metrics"]
        assert metric["external"]["metric"]["name"] == values["external"]["metricName"]
        assert metric["external"]["target"] == {"type": "AverageValue", "averageValue": "5"}
        behavior, hpa = spec["behavior"], autoscaler
    else:
        assert autoscaler["kind"] == "ScaledObject"
        assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (values["minReplicas"], values["maxReplicas"])
        assert (spec["pollingInterval"], spec["cooldownPeriod"]) == (15, 300)
        behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
        assert behavior == values["behavior"]
        triggers = spec["triggers"]
        assert [t["name"] for t in triggers] == assessment.plan.trigger_names()
        assert [t["metadata"]["listName"] for t in triggers] == [item["name"] for item in values["lists"]]
        for trigger in triggers:
            meta = trigger["metadata"]
            assert trigger["type"] == "redis"
            assert meta["listLength"] == "5" and meta["activationListLength"] == str(intent.activation_jobs)
            assert meta["databaseIndex"] == str(intent.queue.database)
            assert meta["enableTLS"] == ("true" if intent.queue.tls else "false")
            if intent.queue.address:
                assert meta["address"] == intent.queue.address
            else:
                assert meta["address"].endswith(":6379")  # derived by the chart from its Redis settings
        formula = values["keda"]["scalingModifiersFormula"]
        if len(triggers) > 1:
            assert formula == " + ".join(t["name"] for t in triggers)  # taken items count toward the replicas
            assert spec["advanced"]["scalingModifiers"] == {
                "formula": formula, "target": "5", "activationTarget": str(intent.activation_jobs),
                "metricType": "AverageValue"}
        else:
            assert "scalingModifiers" not in spec["advanced"] and triggers[0]["metricType"] == "AverageValue"
        auth_name = triggers[0]["authenticationRef"]["name"]
        (trigger_auth,) = [o for o in objects if o["kind"] == "TriggerAuthentication"
                           and o["metadata"]["name"] == auth_name]
        refs = {ref["parameter"]: ref for ref in trigger_auth["spec"]["secretTargetRef"]}
        assert refs["password"]["key"] == intent.queue.password_key
        assert ("username" in refs) is bool(intent.queue.username_key)
        if intent.queue.credentials_secret:
            assert {ref["name"] for ref in refs.values()} == {intent.queue.credentials_secret}
        assert not [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"
                    and o["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]]
        hpa = keda_hpa(autoscaler)
        assert_valid(trigger_auth)
        assert_valid(autoscaler)
    assert_valid(hpa)

    # What the cluster gets is what was proven: the worst case recomputed from the rendered behavior is the same.
    rendered = worst_case_scale_up(
        rules_from(behavior["scaleUp"]), min_replicas=values["minReplicas"], max_replicas=values["maxReplicas"],
        sync_period_seconds=intent.hpa_sync_period, metric_delay_seconds=intent.metric_staleness_seconds,
        activation_interval_seconds=values["keda"]["pollingInterval"] if values["minReplicas"] == 0 else 0,
        pod_ready_seconds=intent.pod_ready_seconds)
    assert rendered.seconds == intent_scale_up_timing(intent).seconds == assessment.scale_up.seconds
    assert rendered.seconds <= intent.target_scale_up_seconds


def test_disabled_autoscaling_renders_no_autoscaler(tmp_path):
    values = assess(replace(PROD, enabled=False)).plan.to_values()
    objects = render(values, tmp_path)
    deployment = worker_deployment(objects)
    assert not autoscalers_of(objects, deployment)
    assert not [o for o in objects if o["kind"] == "TriggerAuthentication"]
    assert "replicas" in deployment["spec"]

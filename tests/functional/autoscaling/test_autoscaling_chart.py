"""The module's worker-autoscaling values through the real chart: `helm template` of a batch release renders exactly
one autoscaler for the worker, with the redis-streams triggers on the batch's stream and exactly the decided
values, valid against the KEDA CRDs, the Kubernetes 1.31 and 1.35 schemas and bin/nl2api-gate; the behavior the
cluster receives is the one whose scale-up time the module proved; and the module's merge of the chart values is
the one Helm renders."""

from __future__ import annotations

import functools
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from support.ansible_cli import find_helm
from support.kube_api import strict_schema

from ansible_collections.nl2api.deploy.plugins.module_utils.autoscaling import chart_values
from ansible_collections.nl2api.deploy.plugins.module_utils.autoscaling.hpa import (
    ScalingPolicy,
    ScalingRules,
    worst_case_scale_up,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.autoscaling.plan import (
    DEFAULT_WORKER_PDB,
    NO_PDB,
    AutoscalingIntent,
    PdbIntent,
    QueueIntent,
    SpeedIntent,
    assess,
    intent_scale_up_timing,
)

ROOT = Path(__file__).resolve().parents[3]

CHART = ROOT / "deploy" / "helm" / "nl2api"
ENVIRONMENTS = ROOT / "deploy" / "helm" / "environments"
CRD_DIR = ROOT / "deploy" / "crds"
GATE = ROOT / "bin" / "nl2api-gate"
KUBERNETES_VERSIONS = ("1.31", "1.35")
RELEASE, NAMESPACE = "nl2api-batch", "nl2api"
BATCH = "6f1c0b7e-1a8e-4f55-9a53-0a4a1c9f2d11"
STREAM = "eval:tasks:" + BATCH

PROD = AutoscalingIntent(
    queue=QueueIntent(address="nl2api-redis.nl2api.svc:6379", tls=True, credentials_secret="nl2api-redis-scaler"),
    tasks_per_worker=5, min_replicas=2, max_replicas=20, max_task_seconds=240,
)
CASES = {
    "prod": PROD,
    "scale-to-zero-derived-address": replace(PROD, min_replicas=0, activation_lag=2,
                                             worker_pdb=PdbIntent(max_unavailable=1),
                                             queue=replace(PROD.queue, address="")),
    "no-pdb": replace(PROD, min_replicas=1, worker_pdb=NO_PDB),
    "password-only-db-2": replace(PROD, queue=replace(PROD.queue, username_key="", database=2, tls=False,
                                                      credentials_secret="")),
    "tls-with-private-ca": replace(PROD, queue=replace(PROD.queue, ca_config_map="redis-ca", ca_key="bundle.pem")),
    "percent-policies": replace(PROD, scale_up=SpeedIntent(2, 200, 30, 15, "Max"),
                                scale_down=SpeedIntent(0, 5, 120, 600, "Max"), max_pods_removed_per_period=2,
                                worker_pdb=PdbIntent(max_unavailable="25%")),
    "hpa": replace(PROD, engine="hpa"),
}


def chart_pdb(pdb: PdbIntent) -> dict[str, Any]:
    """worker.podDisruptionBudget for the PDB the intent assumes."""
    if pdb == NO_PDB:
        return {"enabled": False}
    return {"enabled": True, "maxUnavailable": "" if pdb.max_unavailable is None else pdb.max_unavailable,
            "minAvailable": "" if pdb.min_available is None else pdb.min_available}


def batch_values(batch_id: str = BATCH) -> dict[str, Any]:
    """What playbooks/run_batch.yml adds for one batch's release."""
    if not batch_id:
        return {}
    return {"worker": {"batchId": batch_id},
            "batch": {"enabled": True, "producer": {"label": "autoscaling-test", "tags": ["smoke"]}}}


def helm_template(tmp_path: Path, *files: Path) -> list[dict[str, Any]]:
    cmd = [find_helm(), "template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    for path in files:
        cmd += ["--values", str(path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def render(values: dict[str, Any], tmp_path: Path, pdb: PdbIntent = DEFAULT_WORKER_PDB,
           batch_id: str = BATCH) -> list[dict[str, Any]]:
    document = chart_values.merge_maps(batch_values(batch_id), {
        "worker": {"autoscaling": values, "podDisruptionBudget": chart_pdb(pdb)}})
    values_file = tmp_path / "autoscaling.yaml"
    values_file.write_text(yaml.safe_dump(document))
    return helm_template(tmp_path, values_file)


def worker_deployment(objects: list[dict[str, Any]]) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == "Deployment"
             and o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "worker"]
    assert len(found) == 1, [o["metadata"]["name"] for o in found]
    return found[0]


def autoscalers_of(objects: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in ("ScaledObject", "HorizontalPodAutoscaler")
            and o["spec"]["scaleTargetRef"]["name"] == name and o["spec"]["scaleTargetRef"]["kind"] == "Deployment"]


@functools.lru_cache(maxsize=None)
def crd_validator(kind: str) -> jsonschema.Draft7Validator:
    for path in sorted(CRD_DIR.glob("keda-*_keda.sh_%ss.yaml" % kind.lower())):
        crd = yaml.safe_load(path.read_text())
        version = next(v for v in crd["spec"]["versions"] if v.get("served"))
        return jsonschema.Draft7Validator(strict_schema(version["schema"]["openAPIV3Schema"], int_or_string=True))
    pytest.fail("no CRD for %s in %s" % (kind, CRD_DIR), pytrace=False)


def assert_valid(obj: dict[str, Any]) -> None:
    if obj["apiVersion"].startswith("keda.sh/"):
        problems = [(list(e.path), e.message) for e in crd_validator(obj["kind"]).iter_errors(obj)]
        assert not problems, problems
    else:
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)


def keda_hpa(scaled_object: dict[str, Any]) -> dict[str, Any]:
    """The HPA KEDA derives from the ScaledObject: one External metric per trigger, the behavior as given."""
    spec = scaled_object["spec"]
    metrics = [{"type": "External", "external": {
        "metric": {"name": "s%d-redis-streams-%s" % (index, STREAM.replace(":", "-")),
                   "selector": {"matchLabels": {"scaledobject.keda.sh/name": scaled_object["metadata"]["name"]}}},
        "target": {"type": "AverageValue", "averageValue": trigger["metadata"].get(
            "lagCount", trigger["metadata"].get("pendingEntriesCount"))}}}
        for index, trigger in enumerate(spec["triggers"])]
    return {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "keda-hpa-" + scaled_object["metadata"]["name"], "namespace": NAMESPACE},
        "spec": {"scaleTargetRef": spec["scaleTargetRef"], "minReplicas": max(1, spec["minReplicaCount"]),
                 "maxReplicas": spec["maxReplicaCount"],
                 "behavior": spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"], "metrics": metrics},
    }


def rules_from(behavior_direction: dict[str, Any]) -> ScalingRules:
    return ScalingRules(
        tuple(ScalingPolicy(p["type"], p["value"], p["periodSeconds"]) for p in behavior_direction.get("policies", [])),
        behavior_direction.get("selectPolicy", "Max"),
        behavior_direction.get("stabilizationWindowSeconds", 0),
    )


def gate(objects: list[dict[str, Any]], tmp_path: Path) -> None:
    """bin/nl2api-gate (schemas, CRDs, policy) on the autoscaling objects, for prod."""
    path = tmp_path / "autoscaling-objects.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    done = subprocess.run([sys.executable, str(GATE), "--env", "prod", "--quiet", "--crd-dir", str(CRD_DIR), str(path)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def check_keda(intent, values, objects, autoscaler) -> dict[str, Any]:
    spec = autoscaler["spec"]
    assert not [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (values["minReplicas"], values["maxReplicas"])
    assert (spec["pollingInterval"], spec["cooldownPeriod"]) == (15, 300)
    assert "scalingModifiers" not in spec["advanced"]  # the HPA takes the larger proposal of the two triggers
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior == values["behavior"]
    lag, pending = spec["triggers"]
    assert [t["name"] for t in (lag, pending)] == ["lag", "pending"]
    for trigger in (lag, pending):
        meta = trigger["metadata"]
        assert trigger["type"] == "redis-streams" and trigger["metricType"] == "AverageValue"
        assert (meta["stream"], meta["consumerGroup"]) == (STREAM, "eval-workers")
        assert meta["databaseIndex"] == str(intent.queue.database)
        assert meta["enableTLS"] == ("true" if intent.queue.tls else "false")
        if intent.queue.address:
            assert meta["address"] == intent.queue.address
        else:
            assert meta["address"].endswith(":6379")  # derived by the chart from its Redis settings
    assert lag["metadata"]["lagCount"] == "5" and lag["metadata"]["activationLagCount"] == str(intent.activation_lag)
    assert "pendingEntriesCount" not in lag["metadata"]
    assert pending["metadata"]["pendingEntriesCount"] == "1" and pending["metadata"]["activationLagCount"] == "0"
    assert "lagCount" not in pending["metadata"]  # with lagCount KEDA would read the lag again

    auth_name = lag["authenticationRef"]["name"]
    assert pending["authenticationRef"]["name"] == auth_name
    (trigger_auth,) = [o for o in objects if o["kind"] == "TriggerAuthentication" and o["metadata"]["name"] == auth_name]
    refs = {ref["parameter"]: ref for ref in trigger_auth["spec"]["secretTargetRef"]}
    assert refs["password"]["key"] == intent.queue.password_key
    assert ("username" in refs) is bool(intent.queue.username_key)
    if intent.queue.credentials_secret:
        assert {ref["name"] for ref in refs.values()} == {intent.queue.credentials_secret}
    if intent.queue.tls and intent.queue.ca_config_map:
        assert trigger_auth["spec"]["configMapTargetRef"] == [
            {"parameter": "ca", "name": intent.queue.ca_config_map, "key": intent.queue.ca_key}]
    else:
        assert "configMapTargetRef" not in trigger_auth["spec"]
    for obj in (trigger_auth, autoscaler, keda_hpa(autoscaler)):
        assert_valid(obj)
    return behavior


def check_hpa(values, objects, autoscaler) -> dict[str, Any]:
    spec = autoscaler["spec"]
    assert autoscaler["apiVersion"] == "autoscaling/v2"
    assert not [o for o in objects if o["kind"] in ("ScaledObject", "TriggerAuthentication")]
    assert autoscaler["metadata"]["annotations"]["nl2api.io/stream"] == STREAM
    assert (spec["minReplicas"], spec["maxReplicas"]) == (values["minReplicas"], values["maxReplicas"])
    assert spec["behavior"] == values["behavior"]
    lag, pending = (metric["external"] for metric in spec["metrics"])
    assert lag["metric"] == {"name": "redis_stream_group_lag", "selector": {"matchLabels": {"batch_id": BATCH}}}
    assert lag["target"] == {"type": "AverageValue", "averageValue": "5"}
    assert pending["metric"]["name"] == "redis_stream_group_pending"
    assert pending["target"] == {"type": "AverageValue", "averageValue": "1"}
    assert_valid(autoscaler)
    return spec["behavior"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_chart_renders_exactly_the_decided_autoscaler(case, tmp_path):
    intent = CASES[case]
    assessment = assess(intent)
    assert not assessment.errors, assessment.errors
    values = assessment.plan.to_values()
    objects = render(values, tmp_path, intent.worker_pdb)
    deployment = worker_deployment(objects)
    assert "replicas" not in deployment["spec"]  # the autoscaler owns the count; helm upgrades must not reset it
    autoscalers = autoscalers_of(objects, deployment["metadata"]["name"])
    assert len(autoscalers) == 1, [o["kind"] for o in autoscalers]  # never an HPA and a ScaledObject together
    autoscaler = autoscalers[0]
    assert autoscaler["metadata"]["annotations"]["nl2api.io/batch-id"] == BATCH
    if intent.engine == "hpa":
        assert autoscaler["kind"] == "HorizontalPodAutoscaler"
        behavior = check_hpa(values, objects, autoscaler)
    else:
        assert autoscaler["kind"] == "ScaledObject"
        behavior = check_keda(intent, values, objects, autoscaler)
    gate([o for o in objects if o["kind"] in ("ScaledObject", "TriggerAuthentication", "HorizontalPodAutoscaler")],
         tmp_path)

    # What the cluster gets is what was proven: the worst case recomputed from the rendered behavior is the same.
    rendered = worst_case_scale_up(
        rules_from(behavior["scaleUp"]), min_replicas=values["minReplicas"], max_replicas=values["maxReplicas"],
        sync_period_seconds=intent.hpa_sync_period, metric_delay_seconds=intent.metric_staleness_seconds,
        activation_interval_seconds=values["keda"]["pollingInterval"] if values["minReplicas"] == 0 else 0,
        pod_ready_seconds=intent.pod_ready_seconds)
    assert rendered.seconds == intent_scale_up_timing(intent).seconds == assessment.scale_up.seconds
    assert rendered.seconds <= intent.target_scale_up_seconds


def test_the_platform_release_without_a_batch_renders_no_autoscaler(tmp_path):
    """One stream per batch: a release without worker.batchId (the platform's) has no worker to scale."""
    values = assess(PROD).plan.to_values()
    objects = render(values, tmp_path, batch_id="")
    assert not [o for o in objects if o["kind"] in ("ScaledObject", "TriggerAuthentication", "HorizontalPodAutoscaler")
                and o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "worker"]


def test_disabled_autoscaling_renders_no_autoscaler(tmp_path):
    values = assess(replace(PROD, enabled=False)).plan.to_values()
    objects = render(values, tmp_path)
    deployment = worker_deployment(objects)
    assert not autoscalers_of(objects, deployment["metadata"]["name"])
    assert not [o for o in objects if o["kind"] == "TriggerAuthentication"]
    assert "replicas" in deployment["spec"]


def test_the_schema_rejects_the_old_list_interface(tmp_path):
    values = assess(PROD).plan.to_values()
    values["lists"] = [{"name": "nl2api:evaluations", "role": "pending"}]
    document = chart_values.merge_maps(batch_values(), {"worker": {"autoscaling": values}})
    values_file = tmp_path / "old.yaml"
    values_file.write_text(yaml.safe_dump(document))
    done = subprocess.run([find_helm(), "template", RELEASE, str(CHART), "--values", str(values_file)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0 and "lists" in done.stderr


# --------------------------------------------------------------------------------------------------------------
# The module's merge of the chart values is Helm's


def test_merged_worker_settings_are_what_helm_renders(tmp_path):
    """Environment file, then a site file (app_values_files), then the values passed last: the grace period, the
    PDB (a null in the site file deletes the chart's minAvailable) and the longest task the module checks are the
    ones in the rendered Deployment and PodDisruptionBudget."""
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump({"worker": {"terminationGracePeriodSeconds": 200,
                                               "shutdown": {"maxTaskSeconds": 150},
                                               "podDisruptionBudget": {"minAvailable": None, "maxUnavailable": 1}}}))
    last = tmp_path / "last.yaml"
    overrides = chart_values.merge_maps(batch_values(), {"worker": {"terminationGracePeriodSeconds": 240}})
    last.write_text(yaml.safe_dump(overrides))
    files = [ENVIRONMENTS / "staging.yaml", site]
    merged = chart_values.load_values(str(CHART), [str(path) for path in files], overrides)
    settings = chart_values.worker_settings(merged)
    assert settings["worker_termination_grace_period_seconds"] == 240
    assert settings["max_task_seconds"] == 150 and settings["batch_id"] == BATCH
    assert settings["worker_pdb"]["max_unavailable"] == 1 and settings["worker_pdb"]["min_available"] is None

    objects = helm_template(tmp_path, *files, last)
    deployment = worker_deployment(objects)
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 240
    (pdb,) = [o for o in objects if o["kind"] == "PodDisruptionBudget"
              and o["metadata"]["labels"].get("app.kubernetes.io/component") == "worker"]
    assert pdb["spec"].get("maxUnavailable") == 1 and "minAvailable" not in pdb["spec"]
    assert "150" in yaml.safe_dump(deployment["spec"]["template"]["spec"]["containers"][0]["lifecycle"])

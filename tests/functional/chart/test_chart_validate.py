"""Strict schema validation of everything the chart renders.

Built-in kinds: kubernetes-validate --strict (offline schemas) for Kubernetes 1.31 and 1.35.
Custom resources (KEDA, External Secrets Operator, Prometheus Operator): jsonschema against the
openAPIV3Schema of the served CRD version, with unknown fields rejected.
Covers every environment and a pairwise covering set of toggle combinations.
"""

from __future__ import annotations

import itertools

import pytest

# Each dimension: name -> {option: values overlay}. Overlays are merged onto the dev environment.
DIMENSIONS: dict[str, dict[str, dict]] = {
    "api_autoscaling": {
        "off": {"api": {"autoscaling": {"enabled": False}, "replicaCount": 2,
                        "podDisruptionBudget": {"enabled": True, "minAvailable": 1}}},
        "on": {"api": {"autoscaling": {"enabled": True}, "podDisruptionBudget": {"enabled": True}}},
    },
    # Only the stable part of worker.autoscaling (nl2api.deploy.queue_autoscaling fills in the rest).
    "worker_autoscaling": {
        "disabled": {"worker": {"autoscaling": {"enabled": False}}},
        "keda": {"worker": {"autoscaling": {"enabled": True, "engine": "keda", "minReplicas": 0,
                                            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}}},
        "hpa": {"worker": {"autoscaling": {"enabled": True, "engine": "hpa", "minReplicas": 1,
                                           "behavior": {"scaleUp": {"policies": [
                                               {"type": "Pods", "value": 2, "periodSeconds": 60}]}}}}},
    },
    # The platform release, or a batch release of it (producer Job and workers).
    "release": {
        "platform": {},
        "batch": {"batch": {"enabled": True, "platformRelease": "rel-nl2api",
                            "producer": {"label": "L", "tags": ["smoke"]}},
                  "worker": {"batchId": "0b7e3c1e-1111-4222-8333-444455556666"}},
    },
    "entity_service": {
        "off": {"entityService": {"enabled": False}},
        "on": {"entityService": {"enabled": True, "replicaCount": 2}},
    },
    "ingress": {
        "off": {"ingress": {"enabled": False}},
        "tls": {"ingress": {"enabled": True, "className": "nginx",
                            "hosts": [{"host": "api.example.com", "paths": [{"path": "/", "pathType": "Prefix"}]}],
                            "tls": [{"secretName": "api-tls", "hosts": ["api.example.com"]}]}},
    },
    "stores": {
        "in_cluster": {},
        "external": {"postgresql": {"enabled": False}, "redis": {"enabled": False},
                     "externalDatabase": {"host": "db.example.com"},
                     "externalRedis": {"host": "cache.example.com", "port": 6380, "tls": True},
                     "networkPolicy": {"egress": {"database": {"cidrs": ["10.0.16.0/20"]}}}},
    },
    "secrets": {
        "create": {"secrets": {"create": True, "values": {"postgres-password": "pw"},
                               "extra": {"openfigi-api-key": "k"}}},
        "existing": {"secrets": {"create": False, "existingSecret": "nl2api-credentials"}},
        "external_aws": {"secrets": {"create": False, "externalSecret": {
            "enabled": True,
            "data": [{"secretKey": k, "remoteRef": {"key": "nl2api/db", "property": k}}
                     for k in ("postgres-username", "postgres-password", "redis-username", "redis-password")],
            "secretStore": {"create": True, "provider": "aws", "aws": {"region": "eu-west-1"},
                            "serviceAccount": {"annotations": {
                                "eks.amazonaws.com/role-arn": "arn:aws:iam::000000000000:role/eso"}}}}}},
        "external_azure": {"secrets": {"create": False, "externalSecret": {
            "enabled": True, "dataFrom": [{"extract": {"key": "nl2api"}}],
            "secretStore": {"create": True, "provider": "azure",
                            "azure": {"vaultUrl": "https://kv-nl2api.vault.azure.net",
                                      "tenantId": "00000000-0000-0000-0000-000000000000"}}}}},
        "external_cluster_store": {"secrets": {"create": False, "externalSecret": {
            "enabled": True, "targetName": "nl2api-app",
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": "platform-vault"},
            "data": [{"secretKey": "redis-password", "remoteRef": {"key": "redis", "version": "AWSCURRENT"}}]}}},
    },
    "service_monitor": {
        "off": {"metrics": {"serviceMonitor": {"enabled": False}}},
        "on": {"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"},
                                              "relabelings": [{"action": "replace", "targetLabel": "team",
                                                               "replacement": "nl2api"}]}}},
    },
    "otel_collector": {
        "off": {"otelCollector": {"enabled": False}},
        "on": {"otelCollector": {"enabled": True, "replicaCount": 2,
                                 "podDisruptionBudget": {"enabled": True, "minAvailable": 1}}},
    },
    "network_policy": {
        "on": {"networkPolicy": {"enabled": True}},
        "off": {"networkPolicy": {"enabled": False}},
    },
}


def pairwise(dimensions: dict[str, dict[str, dict]]) -> list[dict[str, str]]:
    """Greedy pairwise covering set: every pair of options of two dimensions appears at least once."""
    names = list(dimensions)
    uncovered = {
        (a, oa, b, ob)
        for a, b in itertools.combinations(names, 2)
        for oa in dimensions[a] for ob in dimensions[b]
    }
    rows: list[dict[str, str]] = []
    candidates = [dict(zip(names, combo)) for combo in itertools.product(*(list(dimensions[n]) for n in names))]
    while uncovered:
        def gain(row):
            return sum(1 for a, b in itertools.combinations(names, 2) if (a, row[a], b, row[b]) in uncovered)
        best = max(candidates, key=gain)
        rows.append(best)
        uncovered -= {(a, best[a], b, best[b]) for a, b in itertools.combinations(names, 2)}
    return rows


COMBINATIONS = pairwise(DIMENSIONS)


def overlay(h, combo: dict[str, str]) -> dict:
    values: dict = {}
    for dim, option in combo.items():
        values = h.deep_merge(values, DIMENSIONS[dim][option])
    return values


def render_combo(chart, h, combo: dict[str, str]) -> list[dict]:
    """A batch release is installed under a release name of its own (its platform is release `rel`)."""
    release = h.BATCH_RELEASE if combo["release"] == "batch" else h.RELEASE
    return chart.render("dev", overlay(h, combo), release=release)


def combo_id(combo: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in combo.items())


def test_environment_validates(chart, h, environment, k8s_version, crds_available):
    assert h.validate_docs(chart.render(environment), k8s_version) == []
    assert h.validate_docs(chart.render_batch(environment), k8s_version) == []


def test_defaults_validate(chart, h, k8s_version, crds_available):
    assert h.validate_docs(chart.render(), k8s_version) == []


def test_pairwise_set_covers_every_option():
    for dim, options in DIMENSIONS.items():
        assert {row[dim] for row in COMBINATIONS} == set(options), dim


@pytest.mark.parametrize("combo", COMBINATIONS, ids=combo_id)
def test_toggle_combination_validates(chart, h, combo, crds_available):
    docs = render_combo(chart, h, combo)
    for version in h.KUBERNETES_VERSIONS:
        assert h.validate_docs(docs, version) == []
    # Every pod restricted in every combination too.
    problems = [p for name, _meta, spec in h.pod_specs(docs) for p in h.restricted_violations(name, spec)]
    assert problems == []
    kinds = {d["kind"] for d in docs}
    components = {d["metadata"]["labels"].get("app.kubernetes.io/component") for d in docs}
    platform = combo["release"] == "platform"
    # Workers and their autoscaler exist in a batch release only; everything else in the platform release only.
    assert ("worker" in components) == (not platform)
    assert ("producer" in components) == (not platform)
    assert ("ScaledObject" in kinds) == (combo["worker_autoscaling"] == "keda" and not platform)
    assert ("ExternalSecret" in kinds) == (combo["secrets"].startswith("external") and platform)
    assert ("ServiceMonitor" in kinds) == (combo["service_monitor"] == "on" and combo["otel_collector"] == "on"
                                           and platform)
    assert ("Ingress" in kinds) == (combo["ingress"] == "tls" and platform)
    assert ("StatefulSet" in kinds) == (combo["stores"] == "in_cluster" and platform)
    assert ("Secret" in kinds) == (combo["secrets"] == "create" and platform)
    assert ("migrations" in components) == platform
    assert ("entity-service" in components) == (combo["entity_service"] == "on" and platform)


def test_crd_validation_is_strict(chart, h, crds_available):
    """The custom-resource check really rejects unknown and mistyped fields."""
    so = h.one(chart.render_batch("prod"), "ScaledObject", "batch-nl2api-worker")
    so["spec"]["triggers"][0]["metadata"]["stream"] = 5  # must be a string
    so["spec"]["advanced"]["scalingModifier"] = {}  # typo
    es = h.one(chart.render("prod"), "ExternalSecret", "rel-nl2api")
    es["spec"]["refreshInterval"] = 3600
    errors = h.validate_docs([so, es], "1.31")
    assert any("scalingModifier" in e for e in errors), errors
    assert any("stream" in e or "is not of type 'string'" in e for e in errors), errors
    assert any(e.startswith("ExternalSecret/") for e in errors), errors


def test_builtin_validation_is_strict(chart, h):
    docs = chart.render("dev")
    api = h.one(docs, "Deployment", "rel-nl2api-api")
    api["spec"]["template"]["spec"]["containers"][0]["lifecycle"]["preStop"]["sleep"]["second"] = 1
    errors = h.validate_docs([api], "1.31")
    assert errors and "second" in errors[0]


def test_unknown_kinds_are_reported(h):
    errors = h.validate_docs([{"apiVersion": "example.com/v1", "kind": "Nope", "metadata": {"name": "x"}}], "1.31")
    assert errors and "no schema" in errors[0]


def _deploy_gate():
    """The collection's deploy gate, imported from this working tree (pytest.ini puts collections/ on the path)."""
    from ansible_collections.nl2api.deploy.plugins.module_utils.deploy_gate import gate as deploy_gate  # pylint: disable=import-outside-toplevel

    return deploy_gate


def _gate_failures(docs: list[dict], environment: str) -> list[str]:
    gate = _deploy_gate()
    findings = gate.check_manifests(docs, gate.GateOptions(environment=environment))
    return [finding.format() for finding in findings if finding.severity == "error"]


@pytest.mark.parametrize("env", ["local", "dev", "staging", "prod"])
def test_environment_passes_the_deploy_gate(chart, env):
    assert _gate_failures(chart.render(env), env) == []
    assert _gate_failures(chart.render_batch(env), env) == []


@pytest.mark.parametrize("combo", COMBINATIONS, ids=combo_id)
def test_toggle_combination_passes_the_deploy_gate(chart, h, combo):
    assert _gate_failures(render_combo(chart, h, combo), "dev") == []


def test_deploy_gate_fails_an_unsafe_combination(chart, h):
    """The control: the same gate on a render made unsafe must report it."""
    docs = render_combo(chart, h, COMBINATIONS[0])
    api = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-api"))
    api["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] = 1
    assert any("maxUnavailable" in line for line in _gate_failures(docs, "dev"))

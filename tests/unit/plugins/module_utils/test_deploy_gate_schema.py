# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Schema checks of the deploy gate: strict built-in schemas per Kubernetes version, CRD schemas, unknown kinds."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

from typing import Any, Dict, List, Tuple

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.nl2api.deploy.plugins.module_utils.deploy_gate import gate
from ansible_collections.nl2api.deploy.plugins.module_utils.deploy_gate.schema import (
    crd_schema_to_jsonschema,
)
from ansible_collections.nl2api.deploy.tests.unit.plugins.module_utils.test_deploy_gate_fixtures import (
    CRD_DIR,
    api_deployment,
    external_secret,
    find,
    good_set,
    metadata,
    service_monitor,
    trigger_authentication,
    worker_scaled_object,
)


def run(manifests: List[Any], environment: str = "prod", versions: Tuple[str, ...] = ("1.31", "1.35")) -> List[gate.Finding]:
    return gate.check_manifests(manifests, gate.GateOptions(environment, versions), gate.load_crds(CRD_DIR))


def summary(findings: List[gate.Finding]) -> List[Tuple[str, str, str]]:
    return [(f.check, f.object_ref, f.field) for f in findings]


def only_one(findings: List[gate.Finding]) -> gate.Finding:
    assert len(findings) == 1, [f.format() for f in findings]
    return findings[0]


def with_object(obj: Dict[str, Any]) -> List[Any]:
    """The good set plus one object (replacing the good set's object of the same kind and name)."""
    manifests = [o for o in good_set() if (o["kind"], o["metadata"]["name"]) != (obj["kind"], obj["metadata"]["name"])]
    return manifests + [obj]


# ----------------------------------------------------------------------------------------------------------------
# The good set


def test_vendored_crds_define_the_custom_resources_of_the_project():
    kinds = gate.load_crds(CRD_DIR).kinds()
    for kind in ("ScaledObject.keda.sh", "TriggerAuthentication.keda.sh", "ExternalSecret.external-secrets.io",
                 "SecretStore.external-secrets.io", "ClusterSecretStore.external-secrets.io",
                 "ServiceMonitor.monitoring.coreos.com", "PodMonitor.monitoring.coreos.com"):
        assert kind in kinds


@pytest.mark.parametrize("environment", gate.ENVIRONMENTS)
def test_good_set_passes_in_every_environment(environment):
    assert run(good_set(), environment) == []


def test_default_crd_dir_is_the_vendored_one():
    assert gate.default_crd_dir() == CRD_DIR
    assert gate.check_manifests(good_set(), gate.GateOptions("prod")) == []


# ----------------------------------------------------------------------------------------------------------------
# Built-in kinds, strict, per version


def test_unknown_deployment_field_fails_strict_schema_in_both_versions():
    manifests = good_set()
    find(manifests, "Deployment", "nl2api-api")["spec"]["replicass"] = 3
    finding = only_one(run(manifests))
    assert (finding.check, finding.field, finding.kind, finding.name) == ("k8s-schema", "spec.replicass", "Deployment", "nl2api-api")
    assert finding.reason == 'unknown field "replicass" (strict schema, kubernetes 1.31, 1.35)'
    assert finding.severity == "error"


def test_unknown_field_deep_in_a_container_is_named_by_container_name():
    manifests = good_set()
    find(manifests, "Deployment", "nl2api-api")["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsNonroot"] = True
    finding = only_one(run(manifests))
    assert finding.field == "spec.template.spec.containers[api].securityContext.runAsNonroot"


def test_wrong_types_are_reported_with_the_field():
    manifests = good_set()
    deployment = find(manifests, "Deployment", "nl2api-api")
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "8080"
    deployment["spec"]["revisionHistoryLimit"] = "5"
    findings = run(manifests)
    assert summary(findings) == [
        ("k8s-schema", "Deployment/nl2api/nl2api-api", "spec.revisionHistoryLimit"),
        ("k8s-schema", "Deployment/nl2api/nl2api-api", "spec.template.spec.containers[api].ports[http].containerPort"),
    ]
    assert findings[1].reason == "must be of type integer (got string) (strict schema, kubernetes 1.31, 1.35)"


def test_missing_required_field_is_reported_at_its_path():
    manifests = good_set()
    del find(manifests, "Deployment", "nl2api-worker")["spec"]["selector"]
    finding = only_one(run(manifests))
    assert (finding.field, finding.reason) == ("spec.selector", "required field is missing (strict schema, kubernetes 1.31, 1.35)")


def test_int_or_string_fields_accept_both():
    manifests = good_set()
    find(manifests, "Deployment", "nl2api-api")["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = "25%"
    find(manifests, "Service", "nl2api-api")["spec"]["ports"][0]["targetPort"] = 8080
    assert run(manifests) == []


def test_null_values_are_treated_as_unset_like_the_api_server():
    manifests = good_set()
    find(manifests, "Deployment", "nl2api-api")["spec"]["replicas"] = None
    find(manifests, "Deployment", "nl2api-api")["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = 1
    find(manifests, "Deployment", "nl2api-api")["metadata"]["annotations"] = None
    assert run(manifests) == []


def test_api_served_by_the_oldest_version_only_is_reported_for_the_newest():
    flow_schema = {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1beta3",
        "kind": "FlowSchema",
        "metadata": {"name": "nl2api"},
        "spec": {"priorityLevelConfiguration": {"name": "workload-low"}, "matchingPrecedence": 1000},
    }
    finding = only_one(run(good_set() + [flow_schema]))
    assert (finding.check, finding.field, finding.object_ref) == ("k8s-schema", "apiVersion", "FlowSchema/nl2api")
    assert "kubernetes 1.35" in finding.reason and "1.31" not in finding.reason
    assert run([flow_schema], versions=("1.31",)) == []


def test_api_served_by_the_newest_version_only_is_reported_for_the_oldest():
    volume_attributes_class = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "VolumeAttributesClass",
        "metadata": {"name": "gp3-fast"},
        "driverName": "ebs.csi.aws.com",
        "parameters": {"iops": "6000"},
    }
    finding = only_one(run(good_set() + [volume_attributes_class]))
    assert (finding.check, finding.field) == ("k8s-schema", "apiVersion")
    assert "kubernetes 1.31" in finding.reason and "1.35" not in finding.reason


def test_a_field_added_in_a_newer_version_fails_for_the_older_one_only():
    manifests = good_set()
    # Pod-level resources (PodLevelResources) exist in the 1.35 schema but not in 1.31.
    find(manifests, "Deployment", "nl2api-worker")["spec"]["template"]["spec"]["resources"] = {"limits": {"cpu": "2"}}
    finding = only_one(run(manifests))
    assert finding.field == "spec.template.spec.resources"
    assert finding.reason == 'unknown field "resources" (strict schema, kubernetes 1.31)'


def test_unknown_kind_and_unknown_group_have_no_schema():
    foreign_deployment = api_deployment()
    foreign_deployment["apiVersion"] = "apps.example.com/v1"
    foreign_deployment["metadata"]["name"] = "foreign"
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "nl2api"}}
    findings = [f for f in run(good_set() + [foreign_deployment, widget]) if f.check == "unknown-kind"]
    assert summary(findings) == [("unknown-kind", "Deployment/nl2api/foreign", "kind"), ("unknown-kind", "Widget/nl2api/w", "kind")]
    assert findings[1].reason.startswith("no schema for kind Widget (apiVersion example.com/v1)")


def test_schema_types_of_kubernetes_validate_are_not_top_level_kinds():
    spec_as_kind = {"apiVersion": "apps/v1", "kind": "DeploymentSpec", "metadata": {"name": "x"}}
    assert only_one(run([spec_as_kind])).check == "unknown-kind"


def test_secret_values_never_appear_in_findings():
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata("nl2api-db", "secrets"),
        "type": "Opaque",
        "data": {"password": ["aHVudGVyMg=="]},
        "stringData": {"token": {"hunter2": "swordfish"}},
    }
    findings = run(good_set() + [secret])
    rendered = "\n".join(f.format() for f in findings)
    assert findings and "hunter2" not in rendered and "swordfish" not in rendered and "aHVudGVyMg" not in rendered
    assert {f.check for f in findings} == {"k8s-schema", "secret-literal-data"}


# ----------------------------------------------------------------------------------------------------------------
# Custom resources


def test_typo_in_scaled_object_spec_fails_crd_schema():
    manifests = good_set()
    find(manifests, "ScaledObject", "nl2api-worker")["spec"]["pollingIntervall"] = 30
    finding = only_one(run(manifests))
    assert (finding.check, finding.kind, finding.field) == ("crd-schema", "ScaledObject", "spec.pollingIntervall")
    assert finding.reason == 'unknown field "pollingIntervall" (CRD ScaledObject.keda.sh v1alpha1 schema)'


def test_scaled_object_trigger_metadata_is_a_map_of_strings():
    manifests = good_set()
    find(manifests, "ScaledObject", "nl2api-worker")["spec"]["triggers"][0]["metadata"]["listLength"] = 10
    finding = only_one(run(manifests))
    assert (finding.check, finding.field) == ("crd-schema", "spec.triggers[0].metadata.listLength")
    assert finding.reason.startswith("must be of type string (got integer)")


def test_scaled_object_below_crd_minimum_fails():
    manifests = good_set()
    find(manifests, "ScaledObject", "nl2api-worker")["spec"]["pollingInterval"] = 0
    finding = only_one(run(manifests))
    assert (finding.field, finding.reason) == ("spec.pollingInterval", "must be >= 1 (got 0) (CRD ScaledObject.keda.sh v1alpha1 schema)")


@pytest.mark.parametrize(
    "builder,mutate,field",
    [
        (trigger_authentication, lambda o: o["spec"]["secretTargetRef"][0].update(paramater="x"), "spec.secretTargetRef[0].paramater"),
        (external_secret, lambda o: o["spec"].update(refreshIntervall="1h"), "spec.refreshIntervall"),
        (external_secret, lambda o: o["spec"]["secretStoreRef"].update(kind="VaultStore"), "spec.secretStoreRef.kind"),
        (external_secret, lambda o: o["spec"]["data"][0].pop("remoteRef"), "spec.data[0].remoteRef"),
        (service_monitor, lambda o: o["spec"]["endpoints"][0].update(intervall="30s"), "spec.endpoints[0].intervall"),
        (worker_scaled_object, lambda o: o["metadata"].update(lables={}), "metadata.lables"),
    ],
)
def test_custom_resource_mistakes_fail_crd_schema(builder, mutate, field):
    obj = builder()
    mutate(obj)
    finding = only_one(run(with_object(obj)))
    assert (finding.check, finding.kind, finding.field) == ("crd-schema", obj["kind"], field)


def test_unserved_crd_version_fails():
    obj = external_secret()
    obj["apiVersion"] = "external-secrets.io/v1beta1"
    finding = only_one(run(with_object(obj)))
    assert (finding.check, finding.field) == ("crd-schema", "apiVersion")
    assert "v1beta1 is not served by the CRD ExternalSecret.external-secrets.io (served: v1)" in finding.reason


def test_int_or_string_in_a_crd_accepts_both():
    store = {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ClusterSecretStore",
        "metadata": {"name": "aws"},
        "spec": {"refreshInterval": 60, "provider": {"aws": {"service": "SecretsManager", "region": "eu-west-1"}}},
    }
    assert run([store]) == []
    store["spec"]["refreshInterval"] = "60"
    assert run([store]) == []
    store["spec"]["refreshInterval"] = 1.5
    assert only_one(run([store])).field == "spec.refreshInterval"


def _crd(schema: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Gadget", "plural": "gadgets", "singular": "gadget", "listKind": "GadgetList"},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}],
        },
    }


GADGET_SCHEMA = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "properties": {
                "port": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"size": {"type": "integer"}}},
                "raw": {"x-kubernetes-preserve-unknown-fields": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "note": {"type": "string", "nullable": True},
                "marker": {"type": "object"},
                "template": {"type": "object", "x-kubernetes-embedded-resource": True, "x-kubernetes-preserve-unknown-fields": True},
                "replicas": {"type": "integer", "minimum": 1, "exclusiveMinimum": True},
            },
        },
    },
}


def test_crds_shipped_with_the_manifests_are_used():
    gadget = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g", "namespace": "nl2api"},
              "spec": {"port": "http", "config": {"size": 3, "anything": [1]}, "raw": [1, "x"], "labels": {"a": "b"},
                       "note": None, "marker": {}, "template": {"apiVersion": "v1", "kind": "Pod", "whatever": 1}, "replicas": 2}}
    assert run([_crd(GADGET_SCHEMA), gadget]) == []
    gadget["spec"].update(port=8080, portt=1)
    gadget["spec"]["config"]["size"] = "3"
    gadget["spec"]["labels"]["b"] = 1
    gadget["spec"]["marker"] = {"x": 1}
    gadget["spec"]["replicas"] = 1
    assert summary(run([_crd(GADGET_SCHEMA), gadget])) == [
        ("crd-schema", "Gadget/nl2api/g", "spec.config.size"),
        ("crd-schema", "Gadget/nl2api/g", "spec.labels.b"),
        ("crd-schema", "Gadget/nl2api/g", "spec.marker.x"),
        ("crd-schema", "Gadget/nl2api/g", "spec.portt"),
        ("crd-schema", "Gadget/nl2api/g", "spec.replicas"),
    ]


def test_crd_schema_conversion_closes_structural_objects_only():
    converted = crd_schema_to_jsonschema(GADGET_SCHEMA, root=True)
    spec = converted["properties"]["spec"]
    assert converted["additionalProperties"] is False and "metadata" in converted["properties"]
    assert spec["additionalProperties"] is False
    assert spec["properties"]["port"]["type"] == ["integer", "string"]
    assert "additionalProperties" not in spec["properties"]["port"]["anyOf"][0]
    assert "additionalProperties" not in spec["properties"]["config"]
    assert spec["properties"]["raw"] == {}
    assert spec["properties"]["note"]["type"] == ["string", "null"]
    assert spec["properties"]["marker"]["additionalProperties"] is False
    jsonschema.Draft4Validator.check_schema(converted)


@settings(max_examples=25, deadline=None, database=None)
@given(st.from_regex(r"^[a-z][A-Za-z]{2,20}$", fullmatch=True))
def test_any_unknown_scaled_object_spec_field_is_reported(field):
    manifests = good_set()
    spec = find(manifests, "ScaledObject", "nl2api-worker")["spec"]
    known = set(gate.load_crds(CRD_DIR).lookup("keda.sh/v1alpha1", "ScaledObject").versions["v1alpha1"].schema["properties"]["spec"]["properties"])
    if field in known:
        return
    spec[field] = "x"
    finding = only_one(run(manifests))
    assert (finding.check, finding.field) == ("crd-schema", "spec.%s" % field)


@settings(max_examples=25, deadline=None, database=None)
@given(st.from_regex(r"^[a-z][A-Za-z]{2,20}$", fullmatch=True))
def test_any_unknown_deployment_spec_field_is_reported_for_both_versions(field):
    if field in ("minReadySeconds", "paused", "progressDeadlineSeconds", "replicas", "revisionHistoryLimit", "selector",
                 "strategy", "template"):
        return
    manifests = good_set()
    find(manifests, "Deployment", "nl2api-worker")["spec"][field] = 1
    finding = only_one(run(manifests))
    assert (finding.check, finding.field) == ("k8s-schema", "spec.%s" % field)
    assert finding.reason.endswith("(strict schema, kubernetes 1.31, 1.35)")

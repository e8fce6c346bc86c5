# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Policy checks of the deploy gate: one mutation of the good set, exactly the expected finding."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import math
from fractions import Fraction
from typing import Any, Callable, Dict, List, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.nl2api.deploy.plugins.module_utils.deploy_gate import gate
from ansible_collections.nl2api.deploy.plugins.module_utils.deploy_gate.policy import (
    check_pdbs,
    parse_image,
    parse_quantity,
)
from ansible_collections.nl2api.deploy.tests.unit.plugins.module_utils.test_deploy_gate_fixtures import (
    CRD_DIR,
    container_security_context,
    find,
    good_set,
    labels,
    metadata,
    pod_security_context,
    resources,
    worker_deployment,
)

API = "spec.template.spec.containers[api]"
WORKER = "spec.template.spec.containers[worker]"


def run(manifests: List[Any], environment: str = "prod") -> List[gate.Finding]:
    return gate.check_manifests(manifests, gate.GateOptions(environment), gate.load_crds(CRD_DIR))


def api(manifests: List[Any]) -> Dict[str, Any]:
    return find(manifests, "Deployment", "nl2api-api")


def api_pod(manifests: List[Any]) -> Dict[str, Any]:
    return api(manifests)["spec"]["template"]["spec"]


def api_container(manifests: List[Any]) -> Dict[str, Any]:
    return api_pod(manifests)["containers"][0]


def worker_container(manifests: List[Any]) -> Dict[str, Any]:
    return find(manifests, "Deployment", "nl2api-worker")["spec"]["template"]["spec"]["containers"][0]


def mutated(mutate: Callable[[List[Any]], Any], environment: str = "prod") -> List[Tuple[str, str, str, str]]:
    manifests = good_set()
    mutate(manifests)
    return [(f.severity, f.check, f.object_ref, f.field) for f in run(manifests, environment)]


def fail(check: str, field: str, ref: str = "Deployment/nl2api/nl2api-api") -> List[Tuple[str, str, str, str]]:
    return [("error", check, ref, field)]


# ----------------------------------------------------------------------------------------------------------------
# pod-security

POD_SECURITY_CASES = [
    ("pod and container runAsNonRoot unset",
     lambda m: (api_pod(m)["securityContext"].pop("runAsNonRoot"), api_container(m)["securityContext"].pop("runAsNonRoot")),
     API + ".securityContext.runAsNonRoot"),
    ("container overrides runAsNonRoot to false",
     lambda m: api_container(m)["securityContext"].update(runAsNonRoot=False), API + ".securityContext.runAsNonRoot"),
    ("allowPrivilegeEscalation unset",
     lambda m: api_container(m)["securityContext"].pop("allowPrivilegeEscalation"), API + ".securityContext.allowPrivilegeEscalation"),
    ("readOnlyRootFilesystem false",
     lambda m: api_container(m)["securityContext"].update(readOnlyRootFilesystem=False), API + ".securityContext.readOnlyRootFilesystem"),
    ("capabilities not dropped",
     lambda m: api_container(m)["securityContext"].update(capabilities={"drop": ["NET_RAW"]}), API + ".securityContext.capabilities.drop"),
    ("capability added",
     lambda m: api_container(m)["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]), API + ".securityContext.capabilities.add"),
    ("no seccomp profile anywhere",
     lambda m: api_pod(m)["securityContext"].pop("seccompProfile"), API + ".securityContext.seccompProfile.type"),
    ("pod seccomp Unconfined",
     lambda m: api_pod(m)["securityContext"].update(seccompProfile={"type": "Unconfined"}),
     "spec.template.spec.securityContext.seccompProfile.type"),
    ("container seccomp Unconfined",
     lambda m: api_container(m)["securityContext"].update(seccompProfile={"type": "Unconfined"}), API + ".securityContext.seccompProfile.type"),
    ("privileged", lambda m: api_container(m)["securityContext"].update(privileged=True), API + ".securityContext.privileged"),
    ("runAsUser 0 in the container", lambda m: api_container(m)["securityContext"].update(runAsUser=0), API + ".securityContext.runAsUser"),
    ("runAsUser 0 in the pod", lambda m: api_pod(m)["securityContext"].update(runAsUser=0), "spec.template.spec.securityContext.runAsUser"),
    ("hostNetwork", lambda m: api_pod(m).update(hostNetwork=True), "spec.template.spec.hostNetwork"),
    ("hostPID", lambda m: api_pod(m).update(hostPID=True), "spec.template.spec.hostPID"),
    ("hostIPC", lambda m: api_pod(m).update(hostIPC=True), "spec.template.spec.hostIPC"),
    ("hostPath volume",
     lambda m: api_pod(m)["volumes"].append({"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}),
     "spec.template.spec.volumes[docker].hostPath"),
    ("hostPort", lambda m: api_container(m)["ports"][0].update(hostPort=8080), API + ".ports[http].hostPort"),
    ("procMount", lambda m: api_container(m)["securityContext"].update(procMount="Unmasked"), API + ".securityContext.procMount"),
    ("unsafe sysctl",
     lambda m: api_pod(m)["securityContext"].update(sysctls=[{"name": "kernel.msgmax", "value": "65536"}]),
     "spec.template.spec.securityContext.sysctls[kernel.msgmax]"),
    ("SELinux user",
     lambda m: api_container(m)["securityContext"].update(seLinuxOptions={"user": "system_u"}), API + ".securityContext.seLinuxOptions.user"),
]


@pytest.mark.parametrize("description,mutate,field", POD_SECURITY_CASES, ids=[c[0] for c in POD_SECURITY_CASES])
def test_pod_security_violation_is_reported_exactly(description, mutate, field):
    assert mutated(mutate) == fail("pod-security", field), description


@pytest.mark.parametrize("mutate", [
    lambda m: api_container(m)["securityContext"].pop("runAsNonRoot"),  # the pod level is enough
    lambda m: (api_pod(m)["securityContext"].pop("runAsNonRoot"), worker_container(m)["securityContext"].update(runAsNonRoot=True)),
    lambda m: (api_pod(m)["securityContext"].pop("seccompProfile"),
               api_container(m)["securityContext"].update(seccompProfile={"type": "Localhost", "localhostProfile": "nl2api.json"})),
    lambda m: api_container(m)["securityContext"]["capabilities"].update(add=["NET_BIND_SERVICE"]),
    lambda m: api_pod(m)["securityContext"].update(sysctls=[{"name": "net.ipv4.ip_local_port_range", "value": "1024 65535"}]),
    lambda m: api_pod(m)["volumes"].append({"name": "cfg", "projected": {"sources": [{"configMap": {"name": "nl2api-config"}}]}}),
], ids=["pod-level-runAsNonRoot", "container-level-runAsNonRoot", "localhost-seccomp", "net-bind-service", "safe-sysctl", "projected-volume"])
def test_what_restricted_allows_passes(mutate):
    assert mutated(mutate) == []


def test_pod_security_message_matches_the_documented_format():
    manifests = good_set()
    api_pod(manifests)["securityContext"].pop("runAsNonRoot")
    api_container(manifests)["securityContext"].pop("runAsNonRoot")
    (finding,) = run(manifests)
    assert finding.format() == ("FAIL Deployment/nl2api/nl2api-api spec.template.spec.containers[api].securityContext.runAsNonRoot:"
                                " must be true (restricted pod security)")


def test_init_containers_are_checked_too():
    manifests = good_set()
    api_pod(manifests)["initContainers"] = [{
        "name": "migrate", "image": "registry.example.com/nl2api/api:1.4.2", "command": ["nl2api", "migrate"],
        "resources": resources(), "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }]
    assert mutated(lambda m: api_pod(m).update(initContainers=api_pod(manifests)["initContainers"])) == fail(
        "pod-security", "spec.template.spec.initContainers[migrate].securityContext.readOnlyRootFilesystem")


# ----------------------------------------------------------------------------------------------------------------
# resources and probes


@pytest.mark.parametrize("section,resource", [("requests", "cpu"), ("requests", "memory"), ("limits", "cpu"), ("limits", "memory")])
def test_each_missing_request_and_limit_is_reported(section, resource):
    assert mutated(lambda m: api_container(m)["resources"][section].pop(resource)) == fail(
        "resources", "%s.resources.%s.%s" % (API, section, resource))


def test_request_above_limit_is_reported():
    assert mutated(lambda m: api_container(m)["resources"]["requests"].update(memory="1Gi")) == fail(
        "resources", API + ".resources.requests.memory")


def test_invalid_quantity_is_reported():
    assert mutated(lambda m: worker_container(m)["resources"]["limits"].update(cpu="lots")) == fail(
        "resources", WORKER + ".resources.limits.cpu", "Deployment/nl2api/nl2api-worker")


@pytest.mark.parametrize("probe", ["livenessProbe", "readinessProbe"])
def test_serving_container_needs_liveness_and_readiness(probe):
    assert mutated(lambda m: api_container(m).pop(probe)) == fail("probes", "%s.%s" % (API, probe))


def test_port_less_worker_needs_no_probe():
    # nl2api's worker serves nothing and writes no file: no probe can tell it idle from hung.
    assert mutated(lambda m: worker_container(m).pop("livenessProbe", None)) == []
    assert mutated(lambda m: worker_container(m).update(readinessProbe=None)) == []


def test_a_serving_container_still_needs_both_probes():
    assert mutated(lambda m: worker_container(m).update(ports=[{"containerPort": 8080}], livenessProbe=None,
                                                        readinessProbe=None)) == fail(
        "probes", WORKER + ".livenessProbe", "Deployment/nl2api/nl2api-worker") + fail(
        "probes", WORKER + ".readinessProbe", "Deployment/nl2api/nl2api-worker")


def test_batch_pods_need_no_probes():
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata("nl2api-migrate", "migrate"),
        "spec": {"backoffLimit": 2, "template": {"metadata": {"labels": labels("migrate")}, "spec": {
            "restartPolicy": "Never", "securityContext": pod_security_context(),
            "containers": [{"name": "migrate", "image": "registry.example.com/nl2api/api:1.4.2", "resources": resources(),
                            "securityContext": container_security_context()}]}}},
    }
    assert run(good_set() + [job]) == []


# ----------------------------------------------------------------------------------------------------------------
# zero-downtime


def test_api_must_not_lose_capacity_during_rollout():
    assert mutated(lambda m: api(m)["spec"]["strategy"]["rollingUpdate"].update(maxUnavailable=1)) == fail(
        "zero-downtime", "spec.strategy.rollingUpdate.maxUnavailable")
    assert mutated(lambda m: api(m)["spec"].pop("strategy")) == fail("zero-downtime", "spec.strategy.rollingUpdate.maxUnavailable")
    assert mutated(lambda m: api(m)["spec"]["strategy"]["rollingUpdate"].update(maxUnavailable="0%")) == []


def test_api_recreate_strategy_fails():
    assert mutated(lambda m: api(m)["spec"].update(strategy={"type": "Recreate"})) == fail("zero-downtime", "spec.strategy.type")


def test_api_needs_surge_when_nothing_may_be_unavailable():
    assert mutated(lambda m: api(m)["spec"]["strategy"]["rollingUpdate"].update(maxSurge=0)) == fail(
        "zero-downtime", "spec.strategy.rollingUpdate.maxSurge")


def test_api_needs_a_pre_stop_hook():
    assert mutated(lambda m: api_container(m).pop("lifecycle")) == fail("zero-downtime", API + ".lifecycle.preStop")


def test_api_is_found_by_its_pod_template_label_too():
    def mutate(manifests):
        api(manifests)["metadata"]["labels"].pop("app.kubernetes.io/component")
        api_container(manifests).pop("lifecycle")
    assert mutated(mutate) == fail("zero-downtime", API + ".lifecycle.preStop")


def test_other_deployments_may_use_the_default_strategy():
    assert mutated(lambda m: find(m, "Deployment", "nl2api-worker")["spec"].update(
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "50%"}})) == []


# ----------------------------------------------------------------------------------------------------------------
# image tags and literal Secrets


@pytest.mark.parametrize("image", ["registry.example.com/nl2api/api:latest", "registry.example.com/nl2api/api",
                                   "registry.example.com:5000/nl2api/api", "nginx"])
@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_latest_or_untagged_image_fails_in_staging_and_prod(image, environment):
    assert mutated(lambda m: api_container(m).update(image=image), environment) == fail("image-tag", API + ".image")


@pytest.mark.parametrize("image", ["registry.example.com/nl2api/api:latest", "nginx"])
@pytest.mark.parametrize("environment", ["local", "dev"])
def test_latest_or_untagged_image_is_fine_in_local_and_dev(image, environment):
    assert mutated(lambda m: api_container(m).update(image=image), environment) == []


@pytest.mark.parametrize("tag", ["main", "master", "dev", "LATEST", "stable", "release-2024", "1.4"])
def test_a_branch_like_tag_fails_in_prod_only(tag):
    image = "registry.example.com/nl2api/api:" + tag
    assert mutated(lambda m: api_container(m).update(image=image), "prod") == fail("image-tag", API + ".image")
    expected_staging = fail("image-tag", API + ".image") if tag == "LATEST" else []
    assert mutated(lambda m: api_container(m).update(image=image), "staging") == expected_staging


@pytest.mark.parametrize("tag", ["1.4.2", "v2.0.0-rc.1", "0123abc", "4dfd54937c5374f9a285301c2210a7a7cc312819",
                                 "4dfd549-1.4.2"])
def test_a_version_or_commit_tag_passes_in_prod(tag):
    assert mutated(lambda m: api_container(m).update(image="registry.example.com/nl2api/api:" + tag), "prod") == []


def test_digest_pins_an_image():
    digest = "sha256:" + "a" * 64
    assert mutated(lambda m: api_container(m).update(image="registry.example.com:5000/nl2api/api@" + digest)) == []
    assert mutated(lambda m: api_container(m).update(image="registry.example.com/nl2api/api:latest@" + digest)) == []


def _secret(**content: Any) -> Dict[str, Any]:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": metadata("nl2api-db", "secrets"), "type": "Opaque"}
    secret.update(content)
    return secret


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_secret_with_literal_data_fails_in_staging_and_prod(environment):
    findings = run(good_set() + [_secret(data={"password": "aHVudGVyMg=="}, stringData={"user": "nl2api"})], environment)
    assert [(f.check, f.field) for f in findings] == [("secret-literal-data", "data"), ("secret-literal-data", "stringData")]
    assert findings[0].reason == "literal secret data (keys: password) is not allowed in %s: use an ExternalSecret" % environment
    assert "aHVudGVyMg" not in findings[0].format() and "nl2api" not in findings[1].reason.replace("keys: user", "")


@pytest.mark.parametrize("environment", ["local", "dev"])
def test_secret_with_literal_data_passes_in_local_and_dev(environment):
    assert run(good_set() + [_secret(data={"password": "aHVudGVyMg=="})], environment) == []


def test_secret_without_data_passes_in_prod():
    assert run(good_set() + [_secret(data={}), ]) == []


# ----------------------------------------------------------------------------------------------------------------
# PodDisruptionBudgets


def test_pdb_min_available_at_hpa_minimum_blocks_evictions():
    assert mutated(lambda m: find(m, "PodDisruptionBudget", "nl2api-api")["spec"].update(minAvailable=2)) == fail(
        "pdb", "spec.minAvailable", "PodDisruptionBudget/nl2api/nl2api-api")


def test_pdb_min_available_at_scaled_object_minimum_blocks_evictions():
    def mutate(manifests):
        find(manifests, "PodDisruptionBudget", "nl2api-worker")["spec"] = {"minAvailable": 1, "selector": {"matchLabels": labels("worker")}}
    assert mutated(mutate) == fail("pdb", "spec.minAvailable", "PodDisruptionBudget/nl2api/nl2api-worker")


@pytest.mark.parametrize("value", [0, "0%"])
def test_pdb_max_unavailable_zero_fails(value):
    assert mutated(lambda m: find(m, "PodDisruptionBudget", "nl2api-worker")["spec"].update(maxUnavailable=value)) == fail(
        "pdb", "spec.maxUnavailable", "PodDisruptionBudget/nl2api/nl2api-worker")


def test_pdb_min_available_100_percent_fails():
    assert mutated(lambda m: find(m, "PodDisruptionBudget", "nl2api-api")["spec"].update(minAvailable="100%")) == fail(
        "pdb", "spec.minAvailable", "PodDisruptionBudget/nl2api/nl2api-api")


def test_two_pdbs_on_the_same_pods_fail():
    def mutate(manifests):
        extra = find(manifests, "PodDisruptionBudget", "nl2api-api")
        manifests.append(dict(extra, metadata=metadata("nl2api-api-extra")))
    assert mutated(mutate) == fail("pdb", "spec.selector", "PodDisruptionBudget/nl2api/nl2api-api-extra")


def test_pdb_selecting_nothing_is_a_warning():
    findings = mutated(lambda m: find(m, "PodDisruptionBudget", "nl2api-api")["spec"].update(selector={"matchLabels": {"app": "other"}}))
    assert findings == [("warning", "pdb", "PodDisruptionBudget/nl2api/nl2api-api", "spec.selector")]


def _pdb_pair(replicas: int, min_available: Any) -> List[Dict[str, Any]]:
    deployment = worker_deployment()
    deployment["spec"]["replicas"] = replicas
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": metadata("nl2api-worker", "worker"),
           "spec": {"minAvailable": min_available, "selector": {"matchLabels": labels("worker")}}}
    return [deployment, pdb]


@settings(max_examples=200, deadline=None, database=None)
@given(replicas=st.integers(min_value=0, max_value=50), min_available=st.integers(min_value=0, max_value=60))
def test_pdb_blocks_iff_min_available_reaches_fixed_replicas(replicas, min_available):
    fields = [f.field for f in check_pdbs(_pdb_pair(replicas, min_available))]
    # A workload scaled to zero has no pod to evict, so nothing is blocked.
    assert fields == (["spec.minAvailable"] if replicas > 0 and min_available >= replicas else [])


@settings(max_examples=200, deadline=None, database=None)
@given(replicas=st.integers(min_value=1, max_value=50), percent=st.integers(min_value=0, max_value=100))
def test_pdb_percentage_is_rounded_up_like_the_disruption_controller(replicas, percent):
    fields = [f.field for f in check_pdbs(_pdb_pair(replicas, "%d%%" % percent))]
    assert fields == (["spec.minAvailable"] if math.ceil(percent * replicas / 100.0) >= replicas else [])


@settings(max_examples=50, deadline=None, database=None)
@given(min_replicas=st.integers(min_value=1, max_value=10), min_available=st.integers(min_value=0, max_value=12))
def test_pdb_against_hpa_minimum_through_the_whole_gate(min_replicas, min_available):
    manifests = good_set()
    find(manifests, "HorizontalPodAutoscaler", "nl2api-api")["spec"]["minReplicas"] = min_replicas
    find(manifests, "PodDisruptionBudget", "nl2api-api")["spec"]["minAvailable"] = min_available
    findings = [(f.check, f.field) for f in run(manifests)]
    assert findings == ([("pdb", "spec.minAvailable")] if min_available >= min_replicas else [])


# ----------------------------------------------------------------------------------------------------------------
# autoscaling


def test_hpa_min_above_max_fails():
    assert mutated(lambda m: find(m, "HorizontalPodAutoscaler", "nl2api-api")["spec"].update(minReplicas=11)) == fail(
        "autoscaling", "spec.minReplicas", "HorizontalPodAutoscaler/nl2api/nl2api-api")


def test_scaled_object_min_above_max_fails():
    assert mutated(lambda m: find(m, "ScaledObject", "nl2api-worker")["spec"].update(minReplicaCount=21)) == fail(
        "autoscaling", "spec.minReplicaCount", "ScaledObject/nl2api/nl2api-worker")


def test_hpa_and_scaled_object_on_the_same_deployment_fail():
    def mutate(manifests):
        hpa = find(manifests, "HorizontalPodAutoscaler", "nl2api-api")
        manifests.append(dict(hpa, metadata=metadata("nl2api-worker", "worker"),
                              spec=dict(hpa["spec"], scaleTargetRef={"apiVersion": "apps/v1", "kind": "Deployment", "name": "nl2api-worker"})))
    assert mutated(mutate) == fail("autoscaling", "spec.scaleTargetRef.name", "HorizontalPodAutoscaler/nl2api/nl2api-worker")


def test_fixed_replicas_under_an_autoscaler_fail_in_prod_and_warn_in_dev():
    def mutate(manifests):
        api(manifests)["spec"]["replicas"] = 3
    assert mutated(mutate, "prod") == fail("autoscaling", "spec.replicas")
    assert mutated(mutate, "dev") == [("warning", "autoscaling", "Deployment/nl2api/nl2api-api", "spec.replicas")]


def test_autoscaler_without_its_target_is_a_warning():
    findings = run([find(good_set(), "HorizontalPodAutoscaler", "nl2api-api")])
    assert [(f.severity, f.check, f.field) for f in findings] == [("warning", "autoscaling", "spec.scaleTargetRef.name")]
    assert gate.gate_passed(findings)


# ----------------------------------------------------------------------------------------------------------------
# helpers


@settings(max_examples=100, deadline=None, database=None)
@given(st.integers(min_value=0, max_value=10 ** 6))
def test_parse_quantity_suffixes(number):
    assert parse_quantity("%dm" % number) == Fraction(number, 1000)
    assert parse_quantity("%dMi" % number) == number * 2 ** 20
    assert parse_quantity("%dk" % number) == number * 1000
    assert parse_quantity(number) == number


def test_parse_quantity_forms():
    assert parse_quantity("1.5") == Fraction(3, 2)
    assert parse_quantity("1e3") == 1000
    assert parse_quantity("1E") == 10 ** 18
    assert parse_quantity(".5Gi") == 2 ** 29
    assert parse_quantity("lots") is None and parse_quantity(True) is None


@settings(max_examples=100, deadline=None, database=None)
@given(registry=st.sampled_from(["", "registry.example.com/", "registry.example.com:5000/", "localhost:5000/"]),
       repository=st.from_regex(r"^[a-z0-9]+(/[a-z0-9]+){0,2}$", fullmatch=True),
       tag=st.one_of(st.none(), st.from_regex(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$", fullmatch=True)))
def test_parse_image_finds_the_tag_after_a_registry_port(registry, repository, tag):
    image = registry + repository + (":" + tag if tag else "")
    assert parse_image(image) == (registry + repository, tag, None)

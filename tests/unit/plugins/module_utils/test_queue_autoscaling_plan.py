# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""queue_autoscaling: intent -> chart values, validation (one test per error), desired replicas, and the objects
rendered from the values (the way deploy/helm/nl2api renders them) against the KEDA CRDs and Kubernetes schemas."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import copy
import functools
from dataclasses import replace
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.nl2api.deploy.plugins.module_utils.queue_autoscaling import (
    ENGINE_HPA,
    ERROR,
    WARNING,
    AutoscalingIntent,
    PdbIntent,
    QueueIntent,
    SpeedIntent,
    assess,
    backlog_items,
    counted_depth,
    desired_replicas,
    intent_scale_up_timing,
    parse_pdb_value,
    pdb_allowed_disruptions,
    plan,
    scale_up_suggestions,
    validate,
    worst_case_scale_up_seconds,
)

REPO_ROOT = Path(__file__).resolve().parents[4]
CRD_DIR = REPO_ROOT / "deploy" / "crds"
KUBERNETES_VERSIONS = ("1.31", "1.35")

PENDING = "nl2api:evaluations"
PROCESSING = "nl2api:evaluations:processing"

PROD = AutoscalingIntent(
    queue=QueueIntent(lists=(PENDING,), processing_lists=(PROCESSING,), address="nl2api-redis.nl2api.svc:6379",
                      tls=True, credentials_secret="nl2api-redis-scaler"),
    jobs_per_worker=5,
    min_replicas=2,
    max_replicas=20,
    max_job_duration_seconds=240,
)


def errors(intent, **kwargs):
    return [p for p in validate(intent, **kwargs) if p.severity == ERROR]


def options_of(problems):
    return [p.option for p in problems]


# --------------------------------------------------------------------------------------------------------------
# Values


CHART_INTERFACE = {
    "enabled": None, "engine": None, "minReplicas": None, "maxReplicas": None, "behavior": None,
    "redis": {"address": None, "enableTLS": None, "databaseIndex": None,
              "auth": {"secretName": None, "usernameKey": None, "passwordKey": None}},
    "lists": None,
    "keda": {"pollingInterval": None, "cooldownPeriod": None, "listLength": None, "activationListLength": None,
             "scalingModifiersFormula": None},
    "external": {"metricName": None, "averageValue": None},
}


def _shape(values, interface):
    assert set(values) == set(interface)
    for key, sub in interface.items():
        if sub is not None:
            _shape(values[key], sub)


@pytest.mark.parametrize("engine", ["keda", "hpa"])
def test_values_have_exactly_the_chart_interface(engine):
    _shape(plan(replace(PROD, engine=engine)).to_values(), CHART_INTERFACE)


def test_prod_values():
    values = plan(PROD).to_values()
    assert values["engine"] == "keda" and values["enabled"] is True
    assert (values["minReplicas"], values["maxReplicas"]) == (2, 20)
    assert values["lists"] == [{"name": PENDING, "role": "pending"}, {"name": PROCESSING, "role": "processing"}]
    assert values["keda"] == {"pollingInterval": 15, "cooldownPeriod": 300, "listLength": 5,
                              "activationListLength": 0, "scalingModifiersFormula": "pending_0 + processing_1"}
    assert values["redis"] == {"address": "nl2api-redis.nl2api.svc:6379", "enableTLS": True, "databaseIndex": 0,
                               "auth": {"secretName": "nl2api-redis-scaler", "usernameKey": "REDIS_USERNAME",
                                        "passwordKey": "REDIS_PASSWORD"}}
    assert values["external"] == {"metricName": "redis_list_length", "averageValue": "5"}
    assert values["behavior"] == {
        "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                    "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                 {"type": "Percent", "value": 100, "periodSeconds": 15}]},
        "scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
                      "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
    }


def test_prod_scale_up_is_within_120_seconds():
    assessment = assess(PROD)
    assert not assessment.errors and not assessment.warnings
    assert assessment.scale_up.seconds == 75 <= 120
    assert worst_case_scale_up_seconds(plan(PROD)) == 75
    assert assessment.backlog_items == 105


def test_one_list_needs_no_formula_and_trigger_names_follow_the_chart():
    single = plan(replace(PROD, queue=replace(PROD.queue, processing_lists=())))
    assert single.scaling_modifiers_formula == "" and single.trigger_names() == ["pending_0"]
    multi = plan(replace(PROD, queue=replace(PROD.queue, lists=("a", "b"), processing_lists=("a:p", "b:p"))))
    assert multi.trigger_names() == ["pending_0", "pending_1", "processing_2", "processing_3"]
    assert multi.scaling_modifiers_formula == "pending_0 + pending_1 + processing_2 + processing_3"


def test_engine_hpa_leaves_the_sum_to_the_metrics_adapter():
    values = plan(replace(PROD, engine=ENGINE_HPA)).to_values()
    assert values["keda"]["scalingModifiersFormula"] == "" and len(values["lists"]) == 2


def test_disabled_policies_are_left_to_api_defaults():
    behavior = plan(replace(PROD, scale_down=replace(PROD.scale_down, select_policy="Disabled", pods_per_period=0)))
    assert behavior.behavior()["scaleDown"] == {"stabilizationWindowSeconds": 300, "selectPolicy": "Disabled"}


def test_from_params_fills_defaults_like_the_module():
    intent = AutoscalingIntent.from_params({
        "queue": {"lists": [PENDING], "processing_lists": None, "address": None, "username_key": ""},
        "jobs_per_worker": 5, "max_replicas": 20, "min_replicas": None,
        "scale_up": {"pods_per_period": 8}, "worker_pdb": {"max_unavailable": None, "min_available": None},
    })
    assert intent.min_replicas == 1 and intent.queue.address == "" and intent.queue.processing_lists == ()
    assert intent.queue.username_key == ""  # empty: password-only AUTH
    assert intent.scale_up == SpeedIntent(8, 100, 15, 0, "Max")
    assert intent.worker_pdb == PdbIntent(min_available=1)  # the chart's default worker PDB
    no_pdb = AutoscalingIntent.from_params({"queue": {"lists": ["q"]}, "jobs_per_worker": 1, "max_replicas": 2,
                                            "worker_pdb": {"enabled": False, "min_available": 1}})
    assert no_pdb.worker_pdb == PdbIntent()
    pdb = AutoscalingIntent.from_params({"queue": {"lists": ["q"]}, "jobs_per_worker": 1, "max_replicas": 2,
                                         "worker_pdb": {"max_unavailable": "25%"}}).worker_pdb
    assert pdb == PdbIntent(max_unavailable="25%")


# --------------------------------------------------------------------------------------------------------------
# Validation: one test per error


def test_max_below_min():
    problems = errors(replace(PROD, min_replicas=5, max_replicas=3))
    assert options_of(problems) == ["max_replicas"]
    assert "max_replicas (3) is lower than min_replicas (5)" in problems[0].message


def test_zero_targets():
    assert "jobs_per_worker" in options_of(errors(replace(PROD, jobs_per_worker=0)))
    assert "max_replicas" in options_of(errors(replace(PROD, min_replicas=0, max_replicas=0)))


def test_activation_is_ignored_by_keda_while_min_is_one_or_more():
    problems = errors(replace(PROD, activation_jobs=3))
    assert options_of(problems) == ["activation_jobs"]
    assert "ignored by KEDA" in problems[0].message
    assert not errors(replace(PROD, activation_jobs=3, min_replicas=0, worker_pdb=PdbIntent(max_unavailable=1)))


def test_hpa_engine_cannot_scale_to_zero_or_activate():
    assert options_of(errors(replace(PROD, engine=ENGINE_HPA, min_replicas=0))) == ["min_replicas"]
    assert options_of(errors(replace(PROD, engine=ENGINE_HPA, activation_jobs=2))) == ["activation_jobs"]
    assert not errors(replace(PROD, engine=ENGINE_HPA))


def test_processing_lists_that_are_not_counted():
    intent = replace(PROD, queue=replace(PROD.queue, count_processing=False))
    problems = errors(intent)
    assert options_of(problems) == ["queue.count_processing"]
    assert PROCESSING in problems[0].message
    assert [item.name for item in plan(intent).lists] == [PENDING]


def test_list_patterns_duplicates_and_empty_lists():
    pattern = errors(replace(PROD, queue=replace(PROD.queue, processing_lists=("nl2api:evaluations:processing:*",))))
    assert options_of(pattern) == ["queue.processing_lists"] and "key pattern" in pattern[0].message
    duplicate = errors(replace(PROD, queue=replace(PROD.queue, processing_lists=(PENDING,))))
    assert options_of(duplicate) == ["queue.processing_lists"] and "counted twice" in duplicate[0].message
    assert options_of(errors(replace(PROD, queue=replace(PROD.queue, lists=())))) == ["queue.lists"]


def test_malformed_address():
    for address in ("redis", "redis:0", "redis:http", ":6379", "::1:6379"):
        assert options_of(errors(replace(PROD, queue=replace(PROD.queue, address=address)))) == ["queue.address"]
    for address in ("redis:6379", "[::1]:6379", "10.0.0.1:16379", ""):
        assert not errors(replace(PROD, queue=replace(PROD.queue, address=address)))


def test_scale_down_faster_than_the_pdb_allows():
    pods = errors(replace(PROD, scale_down=replace(PROD.scale_down, pods_per_period=3),
                          worker_pdb=PdbIntent(max_unavailable=2)))
    assert options_of(pods) == ["scale_down.pods_per_period"]
    assert "removes up to 3 worker pods per 60 s" in pods[0].message and "maxUnavailable 2" in pods[0].message
    # 10 % of 11 (int(11 * 0.9) = 9) is 2 pods, more than maxUnavailable 1; the Pods policy alone (1) would be fine.
    percent = errors(replace(PROD, scale_down=replace(PROD.scale_down, percent_per_period=10),
                             worker_pdb=PdbIntent(max_unavailable=1)))
    assert options_of(percent) == ["scale_down.percent_per_period"]
    assert "at 11 replicas" in percent[0].message
    # selectPolicy Min takes the smaller change: within the PDB again.
    assert not errors(replace(PROD, scale_down=replace(PROD.scale_down, percent_per_period=10, select_policy="Min"),
                              worker_pdb=PdbIntent(max_unavailable=1)))


def test_pdb_that_blocks_evictions_at_the_minimum():
    problems = errors(replace(PROD, min_replicas=1))  # chart default minAvailable 1
    assert options_of(problems) == ["worker_pdb"] and "no eviction at 1 worker(s)" in problems[0].message
    # Scaling to zero: KEDA's HPA still keeps 1 worker while there is work.
    assert options_of(errors(replace(PROD, min_replicas=0))) == ["worker_pdb"]
    blocked = options_of(errors(replace(PROD, min_replicas=2, worker_pdb=PdbIntent(max_unavailable="0%"))))
    assert blocked == ["scale_down.pods_per_period", "worker_pdb"]  # scale-down evicts faster than 0 too
    assert not errors(replace(PROD, min_replicas=1, worker_pdb=PdbIntent(max_unavailable=1)))
    assert not errors(replace(PROD, min_replicas=1, worker_pdb=PdbIntent()))  # no PDB at all


def test_grace_period_shorter_than_the_longest_job():
    problems = errors(replace(PROD, max_job_duration_seconds=600))
    assert options_of(problems) == ["worker_termination_grace_period_seconds"]
    assert "killed mid-job" in problems[0].message and "600" in problems[0].message


def test_unknown_job_duration_is_a_warning():
    problems = validate(replace(PROD, max_job_duration_seconds=None))
    assert [(p.severity, p.option) for p in problems] == [(WARNING, "max_job_duration_seconds")]


def test_scale_down_periods_shorter_than_a_drain_warn():
    intent = replace(PROD, scale_down=replace(PROD.scale_down, period_seconds=30), worker_pdb=PdbIntent(max_unavailable=1))
    assert [(p.severity, p.option) for p in validate(intent)] == [(WARNING, "scale_down.period_seconds")]


def test_slow_scale_up_names_the_settings_to_change():
    slow = replace(PROD, scale_up=SpeedIntent(pods_per_period=1, percent_per_period=0, period_seconds=60,
                                              stabilization_window_seconds=0))
    problems = errors(slow)
    assert len(problems) == 1 and problems[0].option == "scale_up.pods_per_period"
    message = problems[0].message
    assert message.startswith("scale-up from 2 to 20 replicas takes 1065 s in the worst case")
    assert "> target_scale_up_seconds 120" in message
    assert "raise scale_up.pods_per_period to 9 (now 1)" in message


def test_stabilization_window_suggestion():
    slow = replace(PROD, scale_up=replace(PROD.scale_up, stabilization_window_seconds=120))
    message = errors(slow)[0].message
    assert "stabilization 105 s" in message and "lower scale_up.stabilization_window_seconds to 60 (now 120)" in message


def test_suggestions_are_minimal_and_sufficient():
    slow = replace(PROD, scale_up=SpeedIntent(2, 0, 30, 30))
    suggestions = scale_up_suggestions(slow)
    assert suggestions
    for text in suggestions:
        direction, option, _to, value = text.split()[:4]
        value = int(value)
        step = -1 if direction == "raise" else 1

        def with_value(v, option=option):
            if option.startswith("scale_up."):
                return replace(slow, scale_up=replace(slow.scale_up, **{option.split(".")[1]: v}))
            return replace(slow, **{option: v})

        assert intent_scale_up_timing(with_value(value)).seconds <= 120
        assert intent_scale_up_timing(with_value(value + step)).seconds > 120


def test_scale_up_disabled():
    problems = errors(replace(PROD, scale_up=replace(PROD.scale_up, select_policy="Disabled")))
    assert options_of(problems) == ["scale_up.select_policy"] and "never reaches" in problems[0].message


def test_pod_start_alone_over_target():
    message = errors(replace(PROD, pod_ready_seconds=150))[0].message
    assert "pod_ready_seconds (150) alone" in message


@pytest.mark.parametrize("change, option", [
    ({"scale_up": SpeedIntent(4, 100, 0, 0)}, "scale_up.period_seconds"),
    ({"scale_up": SpeedIntent(4, 100, 1801, 0)}, "scale_up.period_seconds"),
    ({"scale_down": SpeedIntent(1, 0, 60, 3601)}, "scale_down.stabilization_window_seconds"),
    ({"scale_down": SpeedIntent(0, 0, 60, 300)}, "scale_down.pods_per_period"),
    ({"scale_up": SpeedIntent(-1, 100, 15, 0)}, "scale_up.pods_per_period"),
    ({"scale_up": SpeedIntent(4, 100, 15, 0, "Fastest")}, "scale_up.select_policy"),
    ({"polling_interval": 0}, "polling_interval"),
    ({"hpa_sync_period": 0}, "hpa_sync_period"),
    ({"target_scale_up_seconds": 0}, "target_scale_up_seconds"),
    ({"engine": "prometheus"}, "engine"),
    ({"worker_pdb": PdbIntent(max_unavailable=1, min_available=1)}, "worker_pdb"),
    ({"worker_pdb": PdbIntent(max_unavailable="lots")}, "worker_pdb.max_unavailable"),
    ({"queue": replace(PROD.queue, password_key="")}, "queue.password_key"),
    ({"max_job_duration_seconds": 0}, "max_job_duration_seconds"),
])
def test_range_errors(change, option):
    assert option in options_of(errors(replace(PROD, **change)))


def test_disabled_autoscaling_only_checks_structure():
    assert not errors(replace(PROD, enabled=False, pod_ready_seconds=500))
    assert options_of(errors(replace(PROD, enabled=False, max_replicas=1))) == ["max_replicas"]
    assert plan(replace(PROD, enabled=False)).to_values()["enabled"] is False


def test_structural_errors_skip_the_timing():
    assessment = assess(replace(PROD, jobs_per_worker=0))
    assert assessment.scale_up is None and assessment.scale_in is None
    assert options_of(assessment.errors) == ["jobs_per_worker"]


def test_scale_in_summary():
    scale_in = assess(PROD).scale_in
    assert scale_in == {"seconds": 1320, "from_replicas": 20, "to_replicas": 2, "max_pods_removed_per_period": 1,
                        "period_seconds": 60, "pdb_allowed_disruptions_at_min": 1}
    zero = assess(replace(PROD, min_replicas=0)).scale_in
    assert zero["seconds"] == 300 + 15  # KEDA: cooldownPeriod, then its next poll


# --------------------------------------------------------------------------------------------------------------
# PDB arithmetic and desired replicas


def test_pdb_arithmetic_rounds_percentages_up():
    assert parse_pdb_value("25%") == (25, True) and parse_pdb_value(" 3 ") == (3, False) and parse_pdb_value(2) == (2, False)
    for bad in ("-1", "x%", True, -1, "1.5"):
        with pytest.raises(ValueError):
            parse_pdb_value(bad)
    assert pdb_allowed_disruptions(PdbIntent(max_unavailable="25%"), 10) == 3
    assert pdb_allowed_disruptions(PdbIntent(min_available="50%"), 5) == 2
    assert pdb_allowed_disruptions(PdbIntent(min_available=1), 1) == 0
    assert pdb_allowed_disruptions(PdbIntent(), 4) == 4
    assert pdb_allowed_disruptions(PdbIntent(max_unavailable=1), 0) == 0


def test_desired_replicas():
    prod = plan(PROD)
    assert desired_replicas(prod, 0) == 2
    assert desired_replicas(prod, 37) == 8
    assert desired_replicas(prod, 10_000) == 20
    assert desired_replicas(prod, 42, current_replicas=8) == 8  # 42 / 40 = 1.05: within tolerance
    assert desired_replicas(prod, 45, current_replicas=8) == 9
    zero = plan(replace(PROD, min_replicas=0, activation_jobs=2))
    assert desired_replicas(zero, 2) == 0 and desired_replicas(zero, 3) == 1
    assert counted_depth(prod, {PENDING: 30, PROCESSING: 7, "other": 99}) == 37


def test_backlog_is_large_enough_for_the_tolerance_and_activation():
    assert backlog_items(plan(PROD)) == 105
    assert backlog_items(plan(replace(PROD, min_replicas=0, max_replicas=1, activation_jobs=9))) == 10


# --------------------------------------------------------------------------------------------------------------
# Properties


@settings(max_examples=200, deadline=None)
@given(low=st.integers(-5, 200), high=st.integers(-5, 200))
def test_max_below_min_is_always_rejected(low, high):
    problems = errors(replace(PROD, min_replicas=low, max_replicas=high))
    if high < low:
        assert any(p.option == "max_replicas" and "lower than min_replicas" in p.message for p in problems)
    else:
        assert not any("lower than min_replicas" in p.message for p in problems)


intents = st.builds(
    AutoscalingIntent,
    queue=st.builds(QueueIntent, lists=st.lists(st.sampled_from(["q", "r", "s*"]), max_size=3).map(tuple),
                    processing_lists=st.lists(st.sampled_from(["q:p", "q", "r:p"]), max_size=2).map(tuple),
                    count_processing=st.booleans(), address=st.sampled_from(["", "r:6379", "bad"])),
    jobs_per_worker=st.integers(-1, 50), max_replicas=st.integers(-1, 40), min_replicas=st.integers(-1, 10),
    engine=st.sampled_from(["keda", "hpa"]), activation_jobs=st.integers(-1, 5),
    scale_up=st.builds(SpeedIntent, st.integers(-1, 10), st.integers(-1, 300), st.integers(0, 120),
                       st.integers(0, 400), st.sampled_from(["Max", "Min", "Disabled"])),
    scale_down=st.builds(SpeedIntent, st.integers(-1, 5), st.integers(-1, 100), st.integers(0, 120),
                         st.integers(0, 400), st.sampled_from(["Max", "Min", "Disabled"])),
    polling_interval=st.integers(0, 60), hpa_sync_period=st.integers(0, 30), pod_ready_seconds=st.integers(0, 200),
    worker_pdb=st.sampled_from([PdbIntent(max_unavailable=1), PdbIntent(min_available="50%"), PdbIntent(),
                                PdbIntent(max_unavailable="x")]),
    max_job_duration_seconds=st.one_of(st.none(), st.integers(0, 900)),
)


@settings(max_examples=300, deadline=None)
@given(intent=intents)
def test_assess_never_raises_and_errors_block_timing(intent):
    assessment = assess(intent)
    assert assessment.plan.to_values()["minReplicas"] == intent.min_replicas
    if assessment.scale_up is not None:
        assert assessment.scale_up.seconds is None or assessment.scale_up.seconds >= 0
    assert all(p.option and p.message for p in assessment.problems)
    severities = [p.severity for p in assessment.problems]
    assert severities == sorted(severities, key=lambda s: 0 if s == ERROR else 1)


@settings(max_examples=200, deadline=None)
@given(depth=st.integers(0, 10_000), current=st.one_of(st.none(), st.integers(0, 40)),
       low=st.integers(0, 5), span=st.integers(0, 30), jobs=st.integers(1, 20), activation=st.integers(0, 5))
def test_desired_replicas_stay_within_bounds(depth, current, low, span, jobs, activation):
    high = max(1, low + span)
    values = plan(replace(PROD, min_replicas=low, max_replicas=high, jobs_per_worker=jobs,
                          activation_jobs=activation if low == 0 else 0))
    wanted = desired_replicas(values, depth, current)
    if wanted == 0:
        assert low == 0 and depth <= activation
    else:
        assert max(1, low) <= wanted <= high
        if current is None and low <= depth // jobs <= high and depth % jobs == 0:
            assert wanted == max(1, depth // jobs)


# --------------------------------------------------------------------------------------------------------------
# Rendered objects, as the chart renders the values, against the KEDA CRDs and the Kubernetes schemas


def render(values, name="nl2api-worker", namespace="nl2api", address="nl2api-redis.nl2api.svc.cluster.local:6379",
           secret="nl2api"):
    """deploy/helm/nl2api/templates/worker/{scaledobject,hpa}.yaml in Python (the chart's mapping of the values)."""
    if not values["enabled"]:
        return []
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    meta = {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/component": "worker"}}
    if values["engine"] == "hpa":
        return [{
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta,
            "spec": {"scaleTargetRef": target, "minReplicas": values["minReplicas"],
                     "maxReplicas": values["maxReplicas"], "behavior": values["behavior"],
                     "metrics": [{"type": "External", "external": {
                         "metric": {"name": values["external"]["metricName"]},
                         "target": {"type": "AverageValue", "averageValue": values["external"]["averageValue"]}}}]},
        }]
    redis, keda, auth = values["redis"], values["keda"], values["redis"]["auth"]
    auth_name = name + "-redis"
    refs = []
    if auth["usernameKey"]:
        refs.append({"parameter": "username", "name": auth["secretName"] or secret, "key": auth["usernameKey"]})
    refs.append({"parameter": "password", "name": auth["secretName"] or secret, "key": auth["passwordKey"]})
    trigger_auth = {"apiVersion": "keda.sh/v1alpha1", "kind": "TriggerAuthentication",
                    "metadata": dict(meta, name=auth_name), "spec": {"secretTargetRef": refs}}
    formula = keda["scalingModifiersFormula"]
    triggers = []
    for index, item in enumerate(values["lists"]):
        trigger = {"type": "redis", "name": "%s_%d" % (item["role"], index),
                   "metadata": {"address": redis["address"] or address, "listName": item["name"],
                                "listLength": str(keda["listLength"]),
                                "activationListLength": str(keda["activationListLength"]),
                                "databaseIndex": str(redis["databaseIndex"]),
                                "enableTLS": "true" if redis["enableTLS"] else "false"},
                   "authenticationRef": {"kind": "TriggerAuthentication", "name": auth_name}}
        if not formula:
            trigger["metricType"] = "AverageValue"
        triggers.append(trigger)
    advanced = {"horizontalPodAutoscalerConfig": {"name": name, "behavior": values["behavior"]}}
    if formula:
        advanced["scalingModifiers"] = {"formula": formula, "target": str(keda["listLength"]),
                                        "activationTarget": str(keda["activationListLength"]),
                                        "metricType": "AverageValue"}
    scaled_object = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": meta, "spec": {
        "scaleTargetRef": target, "pollingInterval": keda["pollingInterval"], "cooldownPeriod": keda["cooldownPeriod"],
        "minReplicaCount": values["minReplicas"], "maxReplicaCount": values["maxReplicas"], "advanced": advanced,
        "triggers": triggers}}
    return [trigger_auth, scaled_object]


def strict(schema):
    """A CRD openAPIV3Schema as strict JSON Schema: unknown fields rejected (the API server would prune them)."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if not isinstance(node, dict):
            return
        if node.pop("x-kubernetes-int-or-string", False):
            node.pop("type", None)
            node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        if "properties" in node and "additionalProperties" not in node \
                and not node.get("x-kubernetes-preserve-unknown-fields"):
            node["additionalProperties"] = False
        for value in node.values():
            if isinstance(value, dict):
                walk(value)
            elif isinstance(value, list):
                for item in value:
                    walk(item)

    walk(schema)
    return schema


@functools.lru_cache(maxsize=None)
def crd_validator(kind):
    for path in sorted(CRD_DIR.glob("keda-*_keda.sh_%ss.yaml" % kind.lower())):
        crd = yaml.safe_load(path.read_text())
        if crd["spec"]["names"]["kind"] == kind:
            version = next(v for v in crd["spec"]["versions"] if v.get("served"))
            return jsonschema.Draft7Validator(strict(version["schema"]["openAPIV3Schema"]))
    raise AssertionError("no CRD for %s in %s" % (kind, CRD_DIR))


def validate_object(obj):
    if obj["apiVersion"].startswith("keda.sh/"):
        found = sorted(crd_validator(obj["kind"]).iter_errors(obj), key=str)
        assert not found, [(list(e.path), e.message) for e in found]
        return
    for version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(obj, version, strict=True)


def hpa_keda_would_create(scaled_object):
    """The HPA KEDA creates from a ScaledObject: checks that the behavior block is a valid HPA behavior."""
    spec = scaled_object["spec"]
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "keda-hpa-" + scaled_object["metadata"]["name"], "namespace": "nl2api"},
            "spec": {"scaleTargetRef": spec["scaleTargetRef"], "minReplicas": max(1, spec["minReplicaCount"]),
                     "maxReplicas": spec["maxReplicaCount"],
                     "behavior": spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"],
                     "metrics": [{"type": "External", "external": {
                         "metric": {"name": "s0-redis-nl2api-evaluations",
                                    "selector": {"matchLabels": {"scaledobject.keda.sh/name": "nl2api-worker"}}},
                         "target": {"type": "AverageValue", "averageValue": str(5)}}}]}}


RENDER_CASES = {
    "prod": PROD,
    "single-list": replace(PROD, queue=replace(PROD.queue, processing_lists=())),
    "scale-to-zero": replace(PROD, min_replicas=0, activation_jobs=1, worker_pdb=PdbIntent(max_unavailable=1)),
    "password-only-db-3": replace(PROD, queue=replace(PROD.queue, username_key="", database=3, tls=False)),
    "hpa": replace(PROD, engine=ENGINE_HPA),
    "scale-down-disabled": replace(PROD, scale_down=SpeedIntent(0, 0, 60, 300, "Disabled")),
    "percent-policies": replace(PROD, scale_up=SpeedIntent(0, 300, 30, 15, "Min"),
                                scale_down=SpeedIntent(0, 5, 120, 600), worker_pdb=PdbIntent(max_unavailable="25%")),
}


@pytest.mark.parametrize("case", sorted(RENDER_CASES))
def test_rendered_objects_are_valid(case):
    intent = RENDER_CASES[case]
    assert not errors(intent), errors(intent)
    objects = render(plan(intent).to_values())
    kinds = sorted(obj["kind"] for obj in objects)
    if intent.engine == ENGINE_HPA:
        assert kinds == ["HorizontalPodAutoscaler"]  # never both
    else:
        assert kinds == ["ScaledObject", "TriggerAuthentication"]
        objects.append(hpa_keda_would_create(objects[1]))
    for obj in objects:
        validate_object(obj)


def test_the_strict_crd_check_catches_mistakes():
    scaled_object = render(plan(PROD).to_values())[1]
    scaled_object["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleUp"]["policies"][0].pop("type")
    scaled_object["spec"]["pollingIntervall"] = 15
    found = list(crd_validator("ScaledObject").iter_errors(scaled_object))
    assert len(found) == 2
    with pytest.raises(kubernetes_validate.ValidationError):
        hpa = render(plan(replace(PROD, engine=ENGINE_HPA)).to_values())[0]
        hpa["spec"]["behavior"]["scaleUp"]["selectPolicy"] = 7
        validate_object(hpa)

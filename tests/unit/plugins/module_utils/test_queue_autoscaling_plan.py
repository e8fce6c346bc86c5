# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""autoscaling.plan: intent -> chart values, the trigger design (lag and pending), validation (one test per
error), desired replicas. The objects the chart renders from the values are checked with the real chart in
tests/functional/autoscaling/test_autoscaling_chart.py."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.nl2api.deploy.plugins.module_utils.autoscaling.plan import (
    CONSUMER_GROUP,
    ENGINE_HPA,
    ERROR,
    STREAM_PREFIX,
    WARNING,
    AutoscalingIntent,
    PdbIntent,
    QueueIntent,
    SpeedIntent,
    assess,
    backlog_items,
    desired_replicas,
    intent_scale_up_timing,
    is_active,
    parse_pdb_value,
    pdb_allowed_disruptions,
    plan,
    scale_up_suggestions,
    scale_up_timing,
    stream_name,
    validate,
)

BATCH = "6f1c0b7e-1a8e-4f55-9a53-0a4a1c9f2d11"
PROD = AutoscalingIntent(
    queue=QueueIntent(address="nl2api-redis.nl2api.svc:6379", tls=True, credentials_secret="nl2api-redis-scaler"),
    tasks_per_worker=5,
    min_replicas=2,
    max_replicas=20,
    max_task_seconds=240,
)


def errors(intent, **kwargs):
    return [p for p in validate(intent, **kwargs) if p.severity == ERROR]


def options_of(problems):
    return [p.option for p in problems]


# --------------------------------------------------------------------------------------------------------------
# Values


CHART_INTERFACE = {
    "enabled": None, "engine": None, "minReplicas": None, "maxReplicas": None, "behavior": None,
    "stream": {"prefix": None, "consumerGroup": None},
    "redis": {"address": None, "enableTLS": None, "databaseIndex": None,
              "auth": {"secretName": None, "usernameKey": None, "passwordKey": None},
              "caConfigMap": {"name": None, "key": None}},
    "keda": {"pollingInterval": None, "cooldownPeriod": None, "lagCount": None, "activationLagCount": None,
             "pendingEntriesCount": None},
    "external": {"lagMetricName": None, "lagAverageValue": None, "pendingMetricName": None,
                 "pendingAverageValue": None},
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
    assert values["stream"] == {"prefix": "eval:tasks:", "consumerGroup": "eval-workers"}
    assert values["keda"] == {"pollingInterval": 15, "cooldownPeriod": 300, "lagCount": 5, "activationLagCount": 0,
                              "pendingEntriesCount": 1}
    assert values["redis"] == {"address": "nl2api-redis.nl2api.svc:6379", "enableTLS": True, "databaseIndex": 0,
                               "auth": {"secretName": "nl2api-redis-scaler", "usernameKey": "redis-username",
                                        "passwordKey": "redis-password"},
                               "caConfigMap": {"name": "", "key": "ca.crt"}}
    assert values["external"] == {"lagMetricName": "redis_stream_group_lag", "lagAverageValue": "5",
                                  "pendingMetricName": "redis_stream_group_pending", "pendingAverageValue": "1"}
    assert values["behavior"] == {
        "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                    "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                 {"type": "Percent", "value": 100, "periodSeconds": 15}]},
        "scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
                      "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
    }


def test_the_stream_is_the_applications():
    assert stream_name(BATCH) == "eval:tasks:" + BATCH
    assert (STREAM_PREFIX, CONSUMER_GROUP) == ("eval:tasks:", "eval-workers")
    assert replace(PROD, batch_id=BATCH).stream == "eval:tasks:" + BATCH and PROD.stream == ""


def test_prod_scale_up_is_within_120_seconds():
    assessment = assess(PROD)
    assert not assessment.errors and not assessment.warnings
    assert assessment.scale_up.seconds == 75 <= 120
    assert scale_up_timing(plan(PROD)).seconds == 75
    assert assessment.backlog_items == 105


def test_disabled_policies_are_left_to_api_defaults():
    behavior = plan(replace(PROD, scale_down=replace(PROD.scale_down, select_policy="Disabled", pods_per_period=0)))
    assert behavior.behavior()["scaleDown"] == {"stabilizationWindowSeconds": 300, "selectPolicy": "Disabled"}


def test_from_params_fills_defaults_like_the_module():
    intent = AutoscalingIntent.from_params({
        "queue": {"address": None, "username_key": ""},
        "tasks_per_worker": 5, "max_replicas": 20, "min_replicas": None,
        "scale_up": {"pods_per_period": 8}, "worker_pdb": {"max_unavailable": None, "min_available": None},
    })
    assert intent.min_replicas == 1 and intent.queue.address == "" and intent.batch_id == ""
    assert intent.queue.username_key == ""  # empty: password-only AUTH
    assert intent.queue.password_key == "redis-password" and intent.queue.ca_key == "ca.crt"
    assert intent.scale_up == SpeedIntent(8, 100, 15, 0, "Max")
    assert intent.worker_pdb == PdbIntent(min_available=1)  # the chart's default worker PDB
    no_pdb = AutoscalingIntent.from_params({"tasks_per_worker": 1, "max_replicas": 2,
                                            "worker_pdb": {"enabled": False, "min_available": 1}})
    assert no_pdb.worker_pdb == PdbIntent()
    pdb = AutoscalingIntent.from_params({"tasks_per_worker": 1, "max_replicas": 2,
                                         "worker_pdb": {"max_unavailable": "25%", "min_available": ""}}).worker_pdb
    assert pdb == PdbIntent(max_unavailable="25%")


# --------------------------------------------------------------------------------------------------------------
# The trigger design: the larger of ceil(lag / lagCount) and pending / 1


@settings(max_examples=300, deadline=None)
@given(lag=st.integers(0, 5000), busy=st.integers(1, 20), tasks_per_worker=st.integers(1, 20))
def test_busy_workers_are_never_proposed_away(lag, busy, tasks_per_worker):
    """Each of `busy` workers holds one pending entry: the autoscaler never wants fewer workers than that, during a
    backlog (every worker busy) or after it (the last tasks still running)."""
    values = plan(replace(PROD, tasks_per_worker=tasks_per_worker))
    assert desired_replicas(values, lag, busy, current_replicas=busy) >= busy
    assert desired_replicas(values, lag, busy) >= busy


def test_a_summed_formula_would_remove_busy_workers():
    """Why two triggers and not scalingModifiers `lag + pending` against lagCount: at the end of a batch, 10 tasks
    still running and nothing waiting, the sum asks for 2 workers; the chosen design keeps 10."""
    values = plan(PROD)
    lag, pending = 0, 10
    summed = math.ceil((lag + pending) / values.lag_count)
    assert summed == 2 < pending
    assert desired_replicas(values, lag, pending, current_replicas=10) == 10
    # And while the lag drains (all 20 workers busy) the sum falls below the worker count; the design holds 20.
    assert math.ceil((40 + 20) / values.lag_count) == 12
    assert desired_replicas(values, 40, 20, current_replicas=20) == 20


def test_lag_scales_up_and_pending_alone_cannot_start_from_zero():
    zero = plan(replace(PROD, min_replicas=0, worker_pdb=PdbIntent(max_unavailable=1)))
    assert desired_replicas(zero, 0, 0) == 0 and not is_active(zero, 0, 0)
    assert desired_replicas(zero, 1, 0) == 1 and is_active(zero, 1, 0)  # activationLagCount 0: one task wakes it
    assert desired_replicas(zero, 37, 0) == 8


def test_a_running_task_keeps_the_scaled_object_active():
    zero = plan(replace(PROD, min_replicas=0, activation_lag=3, worker_pdb=PdbIntent(max_unavailable=1)))
    assert not is_active(zero, 3, 0) and desired_replicas(zero, 3, 0) == 0
    assert is_active(zero, 0, 1) and desired_replicas(zero, 0, 1) == 1  # no scale to zero under a running task


def test_desired_replicas():
    prod = plan(PROD)
    assert desired_replicas(prod, 0, 0) == 2
    assert desired_replicas(prod, 37, 0) == 8
    assert desired_replicas(prod, 37, 12) == 12
    assert desired_replicas(prod, 10_000, 0) == 20
    assert desired_replicas(prod, 42, 0, current_replicas=8) == 8  # 42 / 40 = 1.05: within tolerance
    assert desired_replicas(prod, 45, 0, current_replicas=8) == 9
    assert desired_replicas(prod, None, 3) == 3  # a lag Redis cannot determine: KEDA reads no backlog


def test_backlog_is_large_enough_for_the_tolerance_and_activation():
    assert backlog_items(plan(PROD)) == 105
    assert backlog_items(plan(replace(PROD, min_replicas=0, max_replicas=1, activation_lag=9))) == 10


# --------------------------------------------------------------------------------------------------------------
# Validation: one test per error


def test_max_below_min():
    problems = errors(replace(PROD, min_replicas=5, max_replicas=3))
    assert options_of(problems) == ["max_replicas"]
    assert "max_replicas (3) is lower than min_replicas (5)" in problems[0].message


def test_zero_targets():
    assert "tasks_per_worker" in options_of(errors(replace(PROD, tasks_per_worker=0)))
    assert "max_replicas" in options_of(errors(replace(PROD, min_replicas=0, max_replicas=0)))


def test_activation_is_ignored_by_keda_while_min_is_one_or_more():
    problems = errors(replace(PROD, activation_lag=3))
    assert options_of(problems) == ["activation_lag"]
    assert "ignored by KEDA" in problems[0].message
    assert not errors(replace(PROD, activation_lag=3, min_replicas=0, worker_pdb=PdbIntent(max_unavailable=1)))


def test_hpa_engine_cannot_scale_to_zero_or_activate():
    assert options_of(errors(replace(PROD, engine=ENGINE_HPA, min_replicas=0))) == ["min_replicas"]
    assert options_of(errors(replace(PROD, engine=ENGINE_HPA, activation_lag=2))) == ["activation_lag"]
    assert not errors(replace(PROD, engine=ENGINE_HPA))


def test_batch_id_and_object_names():
    assert not errors(replace(PROD, batch_id=BATCH))
    for bad in ("eval:tasks:*", "has space", "-leading", "x" * 70):
        assert options_of(errors(replace(PROD, batch_id=bad))) == ["batch_id"]
    assert options_of(errors(replace(PROD, queue=replace(PROD.queue, credentials_secret="Not_A_Name")))) == \
        ["queue.credentials_secret"]
    assert options_of(errors(replace(PROD, queue=replace(PROD.queue, ca_config_map="redis-ca", ca_key="")))) == \
        ["queue.ca_key"]
    assert options_of(errors(replace(PROD, queue=replace(PROD.queue, username_key="user name")))) == \
        ["queue.username_key"]


def test_a_ca_without_tls_is_a_warning():
    problems = validate(replace(PROD, queue=replace(PROD.queue, tls=False, ca_config_map="redis-ca")))
    assert [(p.severity, p.option) for p in problems] == [(WARNING, "queue.ca_config_map")]


def test_malformed_address():
    for address in ("redis", "redis:0", "redis:http", ":6379", "::1:6379"):
        assert options_of(errors(replace(PROD, queue=replace(PROD.queue, address=address)))) == ["queue.address"]
    for address in ("redis:6379", "[::1]:6379", "10.0.0.1:16379", ""):
        assert not errors(replace(PROD, queue=replace(PROD.queue, address=address)))


def test_scale_down_faster_than_the_pdb_allows():
    fast = replace(PROD, max_pods_removed_per_period=10)  # only the PDB limits here
    pods = errors(replace(fast, scale_down=replace(fast.scale_down, pods_per_period=3),
                          worker_pdb=PdbIntent(max_unavailable=2)))
    assert options_of(pods) == ["scale_down.pods_per_period"]
    assert "removes up to 3 worker pods per 60 s" in pods[0].message and "maxUnavailable 2" in pods[0].message
    # 10 % of 11 (int(11 * 0.9) = 9) is 2 pods, more than maxUnavailable 1; the Pods policy alone (1) would be fine.
    percent = errors(replace(fast, scale_down=replace(fast.scale_down, percent_per_period=10),
                             worker_pdb=PdbIntent(max_unavailable=1)))
    assert options_of(percent) == ["scale_down.percent_per_period"]
    assert "at 11 replicas" in percent[0].message
    # selectPolicy Min takes the smaller change: within the PDB again.
    assert not errors(replace(fast, scale_down=replace(fast.scale_down, percent_per_period=10, select_policy="Min"),
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


def test_grace_period_must_cover_the_longest_task_plus_margin():
    problems = errors(replace(PROD, max_task_seconds=295))  # 295 + 10 > 300
    assert options_of(problems) == ["worker_termination_grace_period_seconds"]
    assert "SIGKILLed mid-task" in problems[0].message and "to 305 or more" in problems[0].message
    assert not errors(replace(PROD, max_task_seconds=290))  # exactly 300
    assert options_of(errors(replace(PROD, termination_margin_seconds=61))) == \
        ["worker_termination_grace_period_seconds"]
    assert not errors(replace(PROD, max_task_seconds=600, worker_termination_grace_period_seconds=610))


def test_unknown_task_duration_is_an_error():
    problems = validate(replace(PROD, max_task_seconds=None))
    assert [(p.severity, p.option) for p in problems] == [(ERROR, "max_task_seconds")]
    assert "never reclaims the pending entry" in problems[0].message
    assert not errors(replace(PROD, max_task_seconds=None, enabled=False))  # nothing to scale in


def test_scale_down_removing_more_than_allowed_per_period():
    faster = replace(PROD, scale_down=replace(PROD.scale_down, pods_per_period=2),
                     worker_pdb=PdbIntent(max_unavailable=3))
    problems = errors(faster)
    assert options_of(problems) == ["scale_down.pods_per_period"]
    assert "more than max_pods_removed_per_period (1)" in problems[0].message
    assert not errors(replace(faster, max_pods_removed_per_period=2))
    percent = errors(replace(PROD, scale_down=SpeedIntent(0, 10, 60, 300), worker_pdb=PdbIntent(max_unavailable=5)))
    assert options_of(percent) == ["scale_down.percent_per_period"] and "at 11 replicas" in percent[0].message


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
    ({"max_task_seconds": 0}, "max_task_seconds"),
    ({"termination_margin_seconds": -1}, "termination_margin_seconds"),
    ({"max_pods_removed_per_period": 0}, "max_pods_removed_per_period"),
    ({"lag_metric_name": ""}, "lag_metric_name"),
])
def test_range_errors(change, option):
    assert option in options_of(errors(replace(PROD, **change)))


def test_disabled_autoscaling_only_checks_structure():
    assert not errors(replace(PROD, enabled=False, pod_ready_seconds=500))
    assert options_of(errors(replace(PROD, enabled=False, max_replicas=1))) == ["max_replicas"]
    assert plan(replace(PROD, enabled=False)).to_values()["enabled"] is False


def test_structural_errors_skip_the_timing():
    assessment = assess(replace(PROD, tasks_per_worker=0))
    assert assessment.scale_up is None and assessment.scale_in is None
    assert options_of(assessment.errors) == ["tasks_per_worker"]


def test_scale_in_summary():
    scale_in = assess(PROD).scale_in
    assert scale_in == {"seconds": 1320, "from_replicas": 20, "to_replicas": 2, "max_pods_removed_per_period": 1,
                        "period_seconds": 60, "pdb_allowed_disruptions_at_min": 1,
                        "termination_grace_period_seconds": 300, "required_grace_period_seconds": 250}
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
    queue=st.builds(QueueIntent, address=st.sampled_from(["", "r:6379", "bad"]), tls=st.booleans(),
                    ca_config_map=st.sampled_from(["", "redis-ca", "Bad_Name"])),
    tasks_per_worker=st.integers(-1, 50), max_replicas=st.integers(-1, 40), min_replicas=st.integers(-1, 10),
    engine=st.sampled_from(["keda", "hpa"]), activation_lag=st.integers(-1, 5),
    batch_id=st.sampled_from(["", BATCH, "bad id"]),
    scale_up=st.builds(SpeedIntent, st.integers(-1, 10), st.integers(-1, 300), st.integers(0, 120),
                       st.integers(0, 400), st.sampled_from(["Max", "Min", "Disabled"])),
    scale_down=st.builds(SpeedIntent, st.integers(-1, 5), st.integers(-1, 100), st.integers(0, 120),
                         st.integers(0, 400), st.sampled_from(["Max", "Min", "Disabled"])),
    polling_interval=st.integers(0, 60), hpa_sync_period=st.integers(0, 30), pod_ready_seconds=st.integers(0, 200),
    worker_pdb=st.sampled_from([PdbIntent(max_unavailable=1), PdbIntent(min_available="50%"), PdbIntent(),
                                PdbIntent(max_unavailable="x")]),
    max_task_seconds=st.one_of(st.none(), st.integers(0, 900)),
    termination_margin_seconds=st.integers(-1, 60), max_pods_removed_per_period=st.integers(0, 3),
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
@given(lag=st.integers(0, 10_000), pending=st.integers(0, 40), current=st.one_of(st.none(), st.integers(0, 40)),
       low=st.integers(0, 5), span=st.integers(0, 30), per_worker=st.integers(1, 20), activation=st.integers(0, 5))
def test_desired_replicas_stay_within_bounds(lag, pending, current, low, span, per_worker, activation):
    high = max(1, low + span)
    values = plan(replace(PROD, min_replicas=low, max_replicas=high, tasks_per_worker=per_worker,
                          activation_lag=activation if low == 0 else 0))
    wanted = desired_replicas(values, lag, pending, current)
    if wanted == 0:
        assert low == 0 and lag <= activation and pending == 0
    else:
        assert max(1, low) <= wanted <= high
        if current is None:
            assert wanted == min(high, max(1, low, math.ceil(lag / per_worker), pending))

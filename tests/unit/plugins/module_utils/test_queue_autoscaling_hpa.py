# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HPA model of autoscaling.hpa, cross-checked by an independent second-by-second simulation.

ControllerSimulation below re-implements, without using the module under test, what happens in a cluster when a
backlog lands on the queue: the HPA controller (sync loop, External AverageValue metric with tolerance,
stabilization windows with the controller's recommendation bookkeeping, behavior policies with its scale-event
bookkeeping), KEDA's polling loop (activation 0 -> 1 and scale to zero after cooldownPeriod), a metrics adapter that
scrapes the queue at an interval (engine hpa), the Deployment creating pods, and pods turning Ready after a delay.
It runs every integer phase of the loops and reports the slowest. worst_case_scale_up must agree with it exactly.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import math
from dataclasses import dataclass, field, replace
from typing import List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ansible_collections.nl2api.deploy.plugins.module_utils.autoscaling.hpa import (
    POLICY_PERCENT,
    POLICY_PODS,
    SELECT_DISABLED,
    SELECT_MAX,
    SELECT_MIN,
    ScaleEvent,
    ScalingPolicy,
    ScalingRules,
    external_average_value_replicas,
    max_removed_per_period,
    replicas_changed_in_period,
    scale_down_limit,
    scale_down_seconds,
    scale_up_limit,
    sustained_backlog,
    within_tolerance,
    worst_case_scale_up,
)

HPA_DEFAULT_UP = ScalingRules((ScalingPolicy(POLICY_PODS, 4, 15), ScalingPolicy(POLICY_PERCENT, 100, 15)))
HPA_DEFAULT_DOWN = ScalingRules((ScalingPolicy(POLICY_PERCENT, 100, 15),), stabilization_window_seconds=300)


# --------------------------------------------------------------------------------------------------------------
# Independent simulation


@dataclass
class SimConfig:
    """One cluster set-up. Policies are (type, value, periodSeconds) triples."""

    min_replicas: int
    max_replicas: int
    jobs_per_worker: int = 5
    up_policies: Tuple[Tuple[str, int, int], ...] = (("Pods", 4, 15), ("Percent", 100, 15))
    up_select: str = "Max"
    up_window: int = 0
    down_policies: Tuple[Tuple[str, int, int], ...] = (("Pods", 1, 60),)
    down_select: str = "Max"
    down_window: int = 300
    sync_period: int = 15
    metric_interval: int = 0  # 0: read live at each HPA sync (KEDA); else a scraper's interval (adapter)
    polling_interval: int = 15  # KEDA
    cooldown_period: int = 300  # KEDA
    activation: int = 0
    pod_ready: int = 30
    backlog: Optional[int] = None  # default: large enough for any count
    tolerance: float = 0.1
    horizon: int = 4000


@dataclass
class _Rec:
    value: int
    at: int


@dataclass
class _Event:
    change: int
    at: int
    outdated: bool = False


@dataclass
class ControllerSimulation:
    """The cluster, one integer second at a time. Within a second: HPA sync, then metric scrape / KEDA poll, then
    (at t=0, after everything else) the backlog lands."""

    config: SimConfig
    hpa_phase: int
    other_phase: int = 0
    spec_replicas: int = 0
    pods: List[int] = field(default_factory=list)  # creation times
    queue: int = 0
    scraped: int = 0
    recommendations: List[_Rec] = field(default_factory=list)
    up_events: List[_Event] = field(default_factory=list)
    down_events: List[_Event] = field(default_factory=list)
    keda_last_active: float = -1e9
    trace: List[Tuple[int, int]] = field(default_factory=list)

    # -- HPA (horizontal.go) --------------------------------------------------------------------------------------
    @property
    def hpa_min(self) -> int:
        return max(1, self.config.min_replicas)

    def _metric(self) -> int:
        return self.queue if self.config.metric_interval == 0 else self.scraped

    def _proposal(self, current: int) -> int:
        usage, target = self._metric(), self.config.jobs_per_worker
        ratio = usage / (target * current)
        if (1.0 - self.config.tolerance) <= ratio <= (1.0 + self.config.tolerance):
            return current
        return math.ceil(usage / target)

    @staticmethod
    def _changed(events: List[_Event], period: int, now: int) -> int:
        return sum(e.change for e in events if e.at > now - period)

    def _limit(self, current: int, policies, select: str, now: int, up: bool) -> int:
        if select == "Disabled":
            return current
        values = []
        for kind, value, period in policies:
            start = current - self._changed(self.up_events, period, now) + self._changed(self.down_events, period, now)
            if up:
                values.append(start + value if kind == "Pods" else math.ceil(start * (1 + value / 100)))
            else:
                values.append(start - value if kind == "Pods" else int(start * (1 - value / 100)))
        if up:
            return min(values) if select == "Min" else max(values)
        return max(values) if select == "Min" else min(values)

    def _stabilize(self, current: int, desired: int, now: int) -> int:
        up_cut, down_cut = now - self.config.up_window, now - self.config.down_window
        up_rec = down_rec = desired
        old = None
        for index, rec in enumerate(self.recommendations):
            if rec.at > up_cut:
                up_rec = min(up_rec, rec.value)
            if rec.at > down_cut:
                down_rec = max(down_rec, rec.value)
            if rec.at < up_cut and rec.at < down_cut:
                old = index
        recommendation = current
        if recommendation < up_rec:
            recommendation = up_rec
        if recommendation > down_rec:
            recommendation = down_rec
        if old is not None:
            self.recommendations[old] = _Rec(desired, now)
        else:
            self.recommendations.append(_Rec(desired, now))
        return recommendation

    def _store_event(self, previous: int, new: int, now: int) -> None:
        events, policies = (self.up_events, self.config.up_policies) if new > previous else \
            (self.down_events, self.config.down_policies)
        longest = max([p[2] for p in policies] or [0])
        for event in events:
            if event.at < now - longest:
                event.outdated = True
        fresh = _Event(abs(new - previous), now)
        for index, event in enumerate(events):
            if event.outdated:
                events[index] = fresh
                return
        events.append(fresh)

    def hpa_sync(self, now: int) -> None:
        current = self.spec_replicas
        if current == 0 and self.hpa_min != 0:
            return  # "scaling is disabled since the replica count of the target is zero"
        if current > self.config.max_replicas:
            desired = self.config.max_replicas
        elif current < self.hpa_min:
            desired = self.hpa_min
        else:
            desired = max(0, self._proposal(current))
            recommendation = self._stabilize(current, desired, now)
            desired = recommendation
            if recommendation > current:
                limit = max(self._limit(current, self.config.up_policies, self.config.up_select, now, True), current)
                desired = min(recommendation, self.config.max_replicas, limit)
            elif recommendation < current:
                limit = min(self._limit(current, self.config.down_policies, self.config.down_select, now, False), current)
                desired = max(recommendation, self.hpa_min, limit)
        if desired != current:
            self._scale(desired, now)
            self._store_event(current, desired, now)

    # -- KEDA operator loop, adapter, Deployment ------------------------------------------------------------------
    def keda_poll(self, now: int) -> None:
        active = self.queue > self.config.activation
        if active:
            self.keda_last_active = now
            if self.spec_replicas == 0:
                self._scale(max(1, self.config.min_replicas), now)
        elif self.config.min_replicas == 0 and self.spec_replicas > 0 \
                and self.keda_last_active + self.config.cooldown_period < now:
            self._scale(0, now)

    def _scale(self, replicas: int, now: int) -> None:
        self.spec_replicas = replicas
        while len(self.pods) < replicas:
            self.pods.append(now)
        del self.pods[replicas:]
        self.trace.append((now, replicas))

    def ready(self, now: int) -> int:
        return sum(1 for created in self.pods if created + self.config.pod_ready <= now)

    def _due(self, now: int, phase: int, period: int) -> bool:
        return period > 0 and (now - phase) % period == 0

    def run(self, backlog: int) -> Optional[int]:
        """Seconds from the backlog until max_replicas pods are Ready (None: not within the horizon)."""
        c = self.config
        keda_zero = c.min_replicas == 0
        # Long enough for steady state: every window and policy period has seen only the idle queue.
        longest = max([p[2] for p in c.up_policies + c.down_policies] + [c.up_window, c.down_window])
        start = -(max(longest, c.cooldown_period if keda_zero else 0) + 2 * c.sync_period + 10)
        self._scale(1 if keda_zero else c.min_replicas, start - 10000)
        if keda_zero:
            # Idle since long enough that KEDA's poll at (or just after) t=0 scales to zero.
            self.keda_last_active = -c.cooldown_period - 0.5
        for now in range(start, c.horizon):
            if self._due(now, self.hpa_phase, c.sync_period):
                self.hpa_sync(now)
            if keda_zero and self._due(now, self.other_phase, c.polling_interval):
                self.keda_poll(now)
            if c.metric_interval and self._due(now, self.other_phase, c.metric_interval):
                self.scraped = self.queue
            if now == 0:
                self.queue = backlog
            if now >= 0 and self.spec_replicas == c.max_replicas and self.ready(now) >= c.max_replicas:
                return now
        return None


def simulate_worst_case(config: SimConfig) -> Tuple[Optional[int], Tuple[int, int]]:
    """Slowest time over every integer phase of the HPA loop and of the KEDA/scrape loop; (seconds, phases)."""
    backlog = config.backlog
    if backlog is None:
        backlog = config.max_replicas * config.jobs_per_worker
        while config.max_replicas > 1 and not backlog / (config.jobs_per_worker * (config.max_replicas - 1)) > 1.1:
            backlog += 1
        backlog = max(backlog, config.activation + 1)
    other_period = config.polling_interval if config.min_replicas == 0 else config.metric_interval
    worst: Tuple[Optional[int], Tuple[int, int]] = (-1, (0, 0))
    for hpa_phase in range(config.sync_period):
        for other_phase in range(max(other_period, 1)):
            seconds = ControllerSimulation(config, hpa_phase, other_phase).run(backlog)
            if seconds is None:
                return None, (hpa_phase, other_phase)
            if seconds > worst[0]:
                worst = (seconds, (hpa_phase, other_phase))
    return worst


def model_worst_case(config: SimConfig):
    def rules(policies, select, window):
        return ScalingRules(tuple(ScalingPolicy(k, v, p) for k, v, p in policies), select, window)

    return worst_case_scale_up(
        rules(config.up_policies, config.up_select, config.up_window),
        min_replicas=config.min_replicas,
        max_replicas=config.max_replicas,
        sync_period_seconds=config.sync_period,
        metric_delay_seconds=config.metric_interval,
        activation_interval_seconds=config.polling_interval if config.min_replicas == 0 else 0,
        pod_ready_seconds=config.pod_ready,
    )


# --------------------------------------------------------------------------------------------------------------
# The model against the simulation

PROD = SimConfig(min_replicas=2, max_replicas=20)
CONFIGURATIONS = {
    "prod-defaults": (PROD, 75),
    "stabilization-60": (replace(PROD, up_window=60), 120),
    "stabilization-20-not-a-multiple": (replace(PROD, up_window=20), 90),
    "scale-to-zero": (replace(PROD, min_replicas=0, polling_interval=30), 105),
    "scale-to-zero-with-window": (replace(PROD, min_replicas=0, polling_interval=20, up_window=45), 105),
    "adapter-30s": (replace(PROD, metric_interval=30), 105),
    "one-pod-per-minute": (replace(PROD, up_policies=(("Pods", 1, 60),)), 1065),
    "two-pods-per-45s": (replace(PROD, up_policies=(("Pods", 2, 45),)), 405),
    "percent-only-50": (replace(PROD, up_policies=(("Percent", 50, 15),)), 120),
    "select-min": (replace(PROD, up_select="Min"), 105),
    "sync-10-odd-periods": (replace(PROD, sync_period=10, up_policies=(("Pods", 3, 25), ("Percent", 60, 40))), 150),
    "single-step": (replace(PROD, max_replicas=6), 45),
    "big-fleet": (replace(PROD, min_replicas=1, max_replicas=100, jobs_per_worker=2), 120),
}


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_model_and_simulation_agree_on_the_worst_case(name):
    config, expected = CONFIGURATIONS[name]
    model = model_worst_case(config)
    simulated, phases = simulate_worst_case(config)
    assert model.seconds == simulated, "%s: model %s, simulation %s at phases %s" % (name, model.seconds, simulated,
                                                                                     phases)
    assert model.seconds == expected


def test_prod_defaults_timeline():
    timing = model_worst_case(PROD)
    assert timing.seconds == 75
    assert timing.timeline == ((15, 6), (30, 12), (45, 20))
    assert (timing.detection_seconds, timing.stabilization_seconds, timing.rate_limit_seconds,
            timing.pod_ready_seconds) == (15, 0, 30, 30)


def test_scale_to_zero_counts_the_keda_activation():
    timing = model_worst_case(replace(PROD, min_replicas=0, polling_interval=30))
    assert timing.activation_seconds == 30 and timing.detection_seconds == 45
    assert timing.timeline[0] == (30, 1)


def test_disabled_scale_up_never_reaches_max_in_model_or_simulation():
    config = replace(PROD, up_select="Disabled", horizon=600)
    assert model_worst_case(config).seconds is None
    assert simulate_worst_case(replace(config, sync_period=5))[0] is None


def test_a_backlog_of_exactly_max_times_target_stalls_one_short_within_tolerance():
    """Why the worst case assumes a larger backlog: at 19 of 20 replicas, 100 items / (5 * 19) = 1.05 is within
    the 10 % tolerance, so the controller stays at 19."""
    config = replace(PROD, up_policies=(("Pods", 1, 15),), horizon=800)
    sim = ControllerSimulation(config, hpa_phase=0)
    assert sim.run(backlog=100) is None
    assert sim.spec_replicas == 19
    assert sustained_backlog(20, 5) == 105
    assert ControllerSimulation(config, hpa_phase=0).run(backlog=105) is not None


def test_min_equals_max_takes_no_time():
    assert worst_case_scale_up(HPA_DEFAULT_UP, 5, 5, pod_ready_seconds=30).seconds == 0


def test_scale_from_zero_to_one_is_keda_alone():
    timing = worst_case_scale_up(HPA_DEFAULT_UP, 0, 1, activation_interval_seconds=30, pod_ready_seconds=10)
    assert timing.seconds == 40
    assert simulate_worst_case(SimConfig(min_replicas=0, max_replicas=1, polling_interval=30, pod_ready=10))[0] == 40


def test_scale_from_zero_needs_a_polling_interval():
    with pytest.raises(ValueError):
        worst_case_scale_up(HPA_DEFAULT_UP, 0, 5)


# --------------------------------------------------------------------------------------------------------------
# Pieces of the algorithm


def test_events_count_strictly_after_the_cutoff():
    events = [ScaleEvent(0, 4), ScaleEvent(10, 2)]
    assert replicas_changed_in_period(events, 15, now=15) == 2  # the event at 0 is exactly 15 s old: out
    assert replicas_changed_in_period(events, 15, now=14) == 6


def test_default_scale_up_limit_is_max_of_four_pods_and_doubling():
    assert scale_up_limit(2, HPA_DEFAULT_UP, now=0) == 6
    assert scale_up_limit(10, HPA_DEFAULT_UP, now=0) == 20
    assert scale_up_limit(10, replace(HPA_DEFAULT_UP, select_policy=SELECT_MIN), now=0) == 14
    assert scale_up_limit(10, replace(HPA_DEFAULT_UP, select_policy=SELECT_DISABLED), now=0) == 10


def test_scale_up_limit_counts_from_the_start_of_the_period():
    rules = ScalingRules((ScalingPolicy(POLICY_PODS, 4, 60),))
    assert scale_up_limit(6, rules, now=30, up_events=[ScaleEvent(0, 4)]) == 6  # 4 already added this minute
    assert scale_up_limit(6, rules, now=60, up_events=[ScaleEvent(0, 4)]) == 10


def test_percent_policies_use_go_float_arithmetic():
    # float64(50) * (1 + 10/100) is 55.00000000000001, so Go's math.Ceil gives 56, not 55.
    assert scale_up_limit(50, ScalingRules((ScalingPolicy(POLICY_PERCENT, 10, 15),)), now=0) == 56
    # float64(10) * (1 - 80/100) is 1.9999999999999996, and int32() truncates it to 1, not 2.
    assert scale_down_limit(10, ScalingRules((ScalingPolicy(POLICY_PERCENT, 80, 15),)), now=0) == 1
    assert scale_down_limit(10, ScalingRules((ScalingPolicy(POLICY_PERCENT, 10, 15),)), now=0) == 9


def test_scale_down_limit_and_removal_per_period():
    rules = ScalingRules((ScalingPolicy(POLICY_PODS, 1, 60), ScalingPolicy(POLICY_PERCENT, 10, 60)))
    assert scale_down_limit(20, rules, now=0) == 18  # Max: the larger change (10 % of 20 = 2)
    assert scale_down_limit(20, replace(rules, select_policy=SELECT_MIN), now=0) == 19
    assert max_removed_per_period(20, rules, floor=2) == 2
    assert max_removed_per_period(3, rules, floor=2) == 1  # never below the floor
    assert max_removed_per_period(20, replace(rules, select_policy=SELECT_DISABLED)) == 0


def test_tolerance_band_is_inclusive():
    assert within_tolerance(1.1) and within_tolerance(0.9) and not within_tolerance(1.1000001)
    assert external_average_value_replicas(55, 5, 10) == 10  # ratio exactly 1.1: hold
    assert external_average_value_replicas(56, 5, 10) == 12  # ratio 1.12: ceil(56 / 5)
    assert external_average_value_replicas(44, 5, 10) == 9  # ratio 0.88: ceil(44 / 5)
    assert external_average_value_replicas(56, 5, 0) == 12  # no replicas: no ratio to hold
    with pytest.raises(ValueError):
        external_average_value_replicas(1, 0, 1)


def test_scale_down_seconds():
    one_per_minute = ScalingRules((ScalingPolicy(POLICY_PODS, 1, 60),), stabilization_window_seconds=300)
    # detection at 15 s, window: the last high recommendation (t=0) leaves it at 300 s, then 18 steps a minute apart.
    assert scale_down_seconds(one_per_minute, 20, 2) == 300 + 17 * 60
    assert scale_down_seconds(HPA_DEFAULT_DOWN, 20, 2) == 300
    assert scale_down_seconds(replace(one_per_minute, select_policy=SELECT_DISABLED), 20, 2) is None
    assert scale_down_seconds(one_per_minute, 2, 2) == 0


# --------------------------------------------------------------------------------------------------------------
# Properties

policy_lists = st.lists(
    st.tuples(st.sampled_from([POLICY_PODS, POLICY_PERCENT]), st.integers(1, 300), st.integers(1, 120)),
    min_size=1, max_size=3)


def _rules(policies, select=SELECT_MAX, window=0):
    return ScalingRules(tuple(ScalingPolicy(k, v, p) for k, v, p in policies), select, window)


@settings(max_examples=150, deadline=None)
@given(policies=policy_lists, select=st.sampled_from([SELECT_MAX, SELECT_MIN]), window=st.integers(0, 300),
       low=st.integers(0, 30), span=st.integers(0, 60), sync=st.integers(5, 30), delay=st.integers(0, 60),
       poll=st.integers(1, 60), ready=st.integers(0, 120))
def test_time_is_finite_non_negative_and_covers_its_phases(policies, select, window, low, span, sync, delay, poll,
                                                           ready):
    timing = worst_case_scale_up(_rules(policies, select, window), low, low + span, sync, delay, poll, ready)
    assert timing.seconds is not None and timing.seconds >= 0
    if span == 0:
        assert timing.seconds == 0
    else:
        assert timing.seconds >= ready + timing.detection_seconds
        assert timing.seconds == timing.detection_seconds + timing.stabilization_seconds + \
            timing.rate_limit_seconds + timing.pod_ready_seconds
        assert timing.timeline[-1][1] == low + span
        assert [r for _at, r in timing.timeline] == sorted(r for _at, r in timing.timeline)


@settings(max_examples=150, deadline=None)
@given(policies=policy_lists, window=st.integers(0, 300), low=st.integers(1, 20), span=st.integers(1, 60),
       sync=st.integers(5, 30), which=st.integers(0, 2), extra_value=st.integers(1, 100),
       shorter=st.integers(1, 119), smaller_window=st.integers(0, 300))
def test_a_more_aggressive_scale_up_is_never_slower(policies, window, low, span, sync, which, extra_value, shorter,
                                                    smaller_window):
    base = _rules(policies, SELECT_MAX, window)
    kind, value, period = policies[which % len(policies)]
    faster_policies = list(policies)
    faster_policies[which % len(policies)] = (kind, value + extra_value, max(1, min(period, shorter)))
    faster = _rules(faster_policies, SELECT_MAX, min(window, smaller_window))
    slow = worst_case_scale_up(base, low, low + span, sync).seconds
    fast = worst_case_scale_up(faster, low, low + span, sync).seconds
    assert fast <= slow
    # An extra policy under Max can only help too.
    more = worst_case_scale_up(_rules(list(policies) + [(POLICY_PODS, 1, 15)], SELECT_MAX, window), low, low + span,
                               sync).seconds
    assert more <= slow


@settings(max_examples=100, deadline=None)
@given(low=st.integers(0, 50), span=st.integers(0, 50), sync=st.integers(1, 30), window=st.integers(0, 300))
def test_min_equals_max_is_zero_and_more_headroom_is_never_faster(low, span, sync, window):
    rules = replace(HPA_DEFAULT_UP, stabilization_window_seconds=window)
    assert worst_case_scale_up(rules, low + span, low + span, sync, activation_interval_seconds=15).seconds == 0
    assume(low >= 1)
    assert worst_case_scale_up(rules, low, low + span + 1, sync).seconds >= \
        worst_case_scale_up(rules, low, low + span, sync).seconds


sim_policies = st.lists(
    st.tuples(st.sampled_from(["Pods", "Percent"]), st.integers(1, 150), st.sampled_from([5, 10, 15, 20, 30, 45, 60])),
    min_size=1, max_size=2)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies=sim_policies, select=st.sampled_from(["Max", "Min"]), window=st.sampled_from([0, 10, 15, 30, 45, 60]),
       low=st.integers(0, 4), span=st.integers(1, 12), sync=st.sampled_from([5, 10, 15]),
       mode=st.sampled_from(["live", "adapter", "zero"]), other=st.sampled_from([5, 10, 15, 20]),
       ready=st.integers(0, 40))
def test_model_matches_simulation_on_random_configurations(policies, select, window, low, span, sync, mode, other,
                                                           ready):
    if mode == "zero":
        low = 0
    elif low == 0:
        low = 1
    config = SimConfig(min_replicas=low, max_replicas=low + span, jobs_per_worker=3, up_policies=tuple(policies),
                       up_select=select, up_window=window, sync_period=sync,
                       metric_interval=other if mode == "adapter" else 0, polling_interval=other, pod_ready=ready,
                       horizon=3000)
    assert model_worst_case(config).seconds == simulate_worst_case(config)[0]

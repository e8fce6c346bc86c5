# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A model of the Kubernetes HorizontalPodAutoscaler controller, as pure functions.

It follows ``pkg/controller/podautoscaler`` (``horizontal.go`` and ``replica_calculator.go``):

* External metric with an ``AverageValue`` target: the proposal is ``ceil(total / target)`` unless the usage ratio
  ``total / (target * current)`` lies within ``[1 - tolerance, 1 + tolerance]`` (default tolerance 0.1), in which
  case the replica count stays as it is.
* ``behavior`` policies: each policy bounds the change over its trailing ``periodSeconds``. The period's start is
  ``current - added_in_period + removed_in_period``, where a scale event counts when its timestamp is strictly
  after ``now - periodSeconds``. ``Pods`` adds/removes ``value`` pods; ``Percent`` scales up to
  ``ceil(start * (1 + value/100))`` and down to ``int(start * (1 - value/100))`` (float64 arithmetic, as in Go).
  ``selectPolicy`` ``Max`` picks the policy allowing the largest change, ``Min`` the smallest, ``Disabled`` none.
* Stabilization: a recommendation counts when its timestamp is strictly after ``now - window``; scale-up takes the
  minimum of the recommendations in the scale-up window, scale-down the maximum of those in the scale-down window.

On top of it, :func:`worst_case_scale_up` computes how long a sudden, sustained backlog takes to bring a workload
from its minimum to its maximum replica count, over every phase of the controller loops. Standard library only.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

POLICY_PODS = "Pods"
POLICY_PERCENT = "Percent"
POLICY_TYPES = (POLICY_PODS, POLICY_PERCENT)

SELECT_MAX = "Max"
SELECT_MIN = "Min"
SELECT_DISABLED = "Disabled"
SELECT_POLICIES = (SELECT_MAX, SELECT_MIN, SELECT_DISABLED)

#: kube-controller-manager --horizontal-pod-autoscaler-tolerance
DEFAULT_TOLERANCE = 0.1
#: kube-controller-manager --horizontal-pod-autoscaler-sync-period
DEFAULT_SYNC_PERIOD_SECONDS = 15
#: API validation limits of autoscaling/v2 HPAScalingPolicy / HPAScalingRules.
MAX_POLICY_PERIOD_SECONDS = 1800
MAX_STABILIZATION_WINDOW_SECONDS = 3600

#: Upper bound on controller syncs followed in one computation (guards against rules that never converge).
_MAX_SYNCS = 100000


@dataclass(frozen=True)
class ScalingPolicy:
    """One ``HPAScalingPolicy``: change by ``value`` pods (or percent) over ``period_seconds``."""

    type: str
    value: int
    period_seconds: int

    def to_dict(self) -> Dict[str, Any]:
        return {"type": self.type, "value": self.value, "periodSeconds": self.period_seconds}


@dataclass(frozen=True)
class ScalingRules:
    """One direction of ``HorizontalPodAutoscalerBehavior`` (``HPAScalingRules``)."""

    policies: Tuple[ScalingPolicy, ...]
    select_policy: str = SELECT_MAX
    stabilization_window_seconds: int = 0

    @property
    def disabled(self) -> bool:
        return self.select_policy == SELECT_DISABLED or not self.policies

    @property
    def longest_period_seconds(self) -> int:
        return max([policy.period_seconds for policy in self.policies] or [0])

    def to_dict(self) -> Dict[str, Any]:
        """The ``HPAScalingRules`` object. Without policies (scaling disabled) the API server fills in defaults."""
        out: Dict[str, Any] = {
            "stabilizationWindowSeconds": self.stabilization_window_seconds,
            "selectPolicy": self.select_policy,
        }
        if self.policies:
            out["policies"] = [policy.to_dict() for policy in self.policies]
        return out


@dataclass(frozen=True)
class ScaleEvent:
    """A change the controller made: ``change`` pods (always positive) at time ``at`` (seconds)."""

    at: float
    change: int


def replicas_changed_in_period(events: Iterable[ScaleEvent], period_seconds: float, now: float) -> int:
    """Sum of the changes whose timestamp is strictly after ``now - period_seconds`` (getReplicasChangePerPeriod)."""
    cutoff = now - period_seconds
    return sum(event.change for event in events if event.at > cutoff)


def period_start_replicas(
    current: int,
    period_seconds: float,
    now: float,
    up_events: Sequence[ScaleEvent],
    down_events: Sequence[ScaleEvent],
) -> int:
    """The replica count at the start of a policy's period: today's count minus what it added, plus what it removed."""
    added = replicas_changed_in_period(up_events, period_seconds, now)
    removed = replicas_changed_in_period(down_events, period_seconds, now)
    return current - added + removed


def _policy_proposals(
    current: int,
    rules: ScalingRules,
    now: float,
    up_events: Sequence[ScaleEvent],
    down_events: Sequence[ScaleEvent],
    pods: Callable[[int, int], int],
    percent: Callable[[int, int], int],
) -> List[int]:
    """What each policy proposes from the replica count at the start of its period: pods(start, value) for a Pods
    policy, percent(start, value) for a Percent one."""
    proposals = []
    for policy in rules.policies:
        period_start = period_start_replicas(current, policy.period_seconds, now, up_events, down_events)
        proposals.append((pods if policy.type == POLICY_PODS else percent)(period_start, policy.value))
    return proposals


def scale_up_limit(
    current: int,
    rules: ScalingRules,
    now: float,
    up_events: Sequence[ScaleEvent] = (),
    down_events: Sequence[ScaleEvent] = (),
) -> int:
    """The highest replica count the scale-up rules allow now (calculateScaleUpLimitWithScalingRules).

    Never below ``current``: the controller does not scale up further until old events leave the windows."""
    if rules.disabled:
        return current
    proposals = _policy_proposals(
        current, rules, now, up_events, down_events,
        pods=lambda start, value: start + value,
        percent=lambda start, value: int(math.ceil(float(start) * (1 + float(value) / 100))),
    )
    limit = min(proposals) if rules.select_policy == SELECT_MIN else max(proposals)
    return max(limit, current)


def scale_down_limit(
    current: int,
    rules: ScalingRules,
    now: float,
    up_events: Sequence[ScaleEvent] = (),
    down_events: Sequence[ScaleEvent] = (),
) -> int:
    """The lowest replica count the scale-down rules allow now (calculateScaleDownLimitWithBehaviors).

    Never above ``current``."""
    if rules.disabled:
        return current
    proposals = _policy_proposals(
        current, rules, now, up_events, down_events,
        pods=lambda start, value: start - value,
        # Go: int32(float64(periodStartReplicas) * (1 - float64(policy.Value)/100)), truncation toward zero.
        percent=lambda start, value: int(float(start) * (1 - float(value) / 100)),
    )
    # Max (default) frees as many pods as any policy allows (lowest proposal); Min as few as any policy allows.
    limit = max(proposals) if rules.select_policy == SELECT_MIN else min(proposals)
    return min(limit, current)


def max_removed_per_period(replicas: int, rules: ScalingRules, floor: int = 0) -> int:
    """How many of ``replicas`` pods the scale-down rules may remove within one policy period (no prior events)."""
    if replicas <= floor:
        return 0
    return replicas - max(scale_down_limit(replicas, rules, now=0.0), floor)


def within_tolerance(usage_ratio: float, tolerance: float = DEFAULT_TOLERANCE) -> bool:
    """Tolerances.isWithin: no change while ``1 - tolerance <= ratio <= 1 + tolerance``."""
    return (1.0 - tolerance) <= usage_ratio <= (1.0 + tolerance)


def external_average_value_replicas(
    metric_total: float, target_per_replica: float, current: int, tolerance: float = DEFAULT_TOLERANCE
) -> int:
    """Replica proposal for an External metric with an AverageValue target (GetExternalPerPodMetricReplicas).

    ``current`` is the target's current replica count; with ``current <= 0`` there is no ratio to hold, and the plain
    ``ceil(total / target)`` is returned."""
    if target_per_replica <= 0:
        raise ValueError("target_per_replica must be positive")
    proposal = int(math.ceil(float(metric_total) / float(target_per_replica)))
    if current <= 0:
        return proposal
    usage_ratio = float(metric_total) / (float(target_per_replica) * float(current))
    if within_tolerance(usage_ratio, tolerance):
        return current
    return proposal


def sustained_backlog(max_replicas: int, target_per_replica: int, tolerance: float = DEFAULT_TOLERANCE) -> int:
    """The smallest backlog that drives the controller all the way to ``max_replicas`` from any lower count.

    It must ask for at least ``max_replicas`` (``ceil(B / target) >= max``) and stay outside the tolerance band at
    ``max - 1`` replicas (``B / (target * (max - 1)) > 1 + tolerance``), or the controller would stop one short."""
    backlog = max_replicas * target_per_replica
    if max_replicas > 1:
        while not float(backlog) / (float(target_per_replica) * float(max_replicas - 1)) > 1.0 + tolerance:
            backlog += 1
    return backlog


@dataclass(frozen=True)
class ScaleUpTiming:
    """The worst case of :func:`worst_case_scale_up`.

    All times are seconds after the backlog appears. ``seconds`` is ``None`` when the rules never reach the maximum
    (scale-up disabled)."""

    seconds: Optional[int]
    from_replicas: int
    to_replicas: int
    activation_seconds: int = 0
    detection_seconds: int = 0
    stabilization_seconds: int = 0
    rate_limit_seconds: int = 0
    pod_ready_seconds: int = 0
    syncs: int = 0
    timeline: Tuple[Tuple[int, int], ...] = field(default_factory=tuple)

    @property
    def reaches_max(self) -> bool:
        return self.seconds is not None

    def to_dict(self) -> Dict[str, Any]:
        return {
            "seconds": self.seconds,
            "from_replicas": self.from_replicas,
            "to_replicas": self.to_replicas,
            "phases": {
                "activation_seconds": self.activation_seconds,
                "detection_seconds": self.detection_seconds,
                "stabilization_seconds": self.stabilization_seconds,
                "rate_limit_seconds": self.rate_limit_seconds,
                "pod_ready_seconds": self.pod_ready_seconds,
            },
            "scaling_syncs": self.syncs,
            "timeline": [{"at_seconds": at, "replicas": replicas} for at, replicas in self.timeline],
        }


def _first_sync_after(instant: int, phase: int, period: int) -> int:
    """The first controller sync strictly after ``instant`` on the grid ``phase + k * period``.

    Strictly: a sync at the very same instant runs first and misses the event (the worst-case order)."""
    return phase + period * ((instant - phase) // period + 1)


def _last_sync_at_or_before(instant: int, phase: int, period: int) -> int:
    return phase + period * ((instant - phase) // period)


def _climb(
    rules: ScalingRules, start_replicas: int, max_replicas: int, first_scaling_sync: int, sync_period: int
) -> Tuple[Optional[int], List[Tuple[int, int]], int]:
    """Follow the controller from the first sync allowed to scale up until it sets ``max_replicas``.

    The metric asks for more than ``max_replicas`` at every sync, so each sync moves to ``min(max, limit)``.
    Returns (time of the sync that reached max, [(time, replicas)] at each change, number of syncs)."""
    replicas = start_replicas
    events: List[ScaleEvent] = []
    timeline: List[Tuple[int, int]] = []
    now = first_scaling_sync
    idle_syncs = 0
    idle_limit = rules.longest_period_seconds // sync_period + 2
    for sync in range(1, _MAX_SYNCS + 1):
        target = min(max_replicas, scale_up_limit(replicas, rules, now, events))
        if target > replicas:
            events.append(ScaleEvent(now, target - replicas))
            replicas = target
            timeline.append((now, replicas))
            idle_syncs = 0
        else:
            idle_syncs += 1
            if idle_syncs > idle_limit:
                return None, timeline, sync
        if replicas >= max_replicas:
            return now, timeline, sync
        now += sync_period
    return None, timeline, _MAX_SYNCS


def worst_case_scale_up(
    rules: ScalingRules,
    min_replicas: int,
    max_replicas: int,
    sync_period_seconds: int = DEFAULT_SYNC_PERIOD_SECONDS,
    metric_delay_seconds: int = 0,
    activation_interval_seconds: int = 0,
    pod_ready_seconds: int = 0,
) -> ScaleUpTiming:
    """Worst-case seconds from a sudden backlog at ``min_replicas`` to ``max_replicas`` pods that are Ready.

    The backlog appears at t=0, is large enough to ask for ``max_replicas`` from every count below it (see
    :func:`sustained_backlog`) and persists. Before it, the workload sat at its minimum with no scale event or
    higher recommendation inside any window. Every integer phase of the HPA sync loop relative to the backlog is
    tried, and the slowest is returned; when several controllers act at the same instant, the order that delays
    scaling is assumed (the HPA sync runs before the metric refresh or the KEDA poll, and all of them before the
    backlog lands).

    * ``min_replicas >= 1``: the metric shows the backlog from ``metric_delay_seconds`` on (0 when the metric is
      read live from the queue at each sync, as KEDA's metrics server does; the scrape interval of a metrics
      adapter otherwise). The first HPA sync strictly after that acts on it.
    * ``min_replicas == 0`` (KEDA scale to zero, ``activation_interval_seconds`` = KEDA ``pollingInterval``): KEDA's
      own loop sees the backlog at its next poll, at worst ``pollingInterval`` later, and scales 0 -> 1; the HPA,
      idle while the target has 0 replicas, takes over at its first sync after that. The workload is assumed to
      have been scaled to zero just before the backlog, so the HPA's last low recommendation is as recent as it
      can be.
    * A scale-up stabilization window holds the count until the last low recommendation has left the window.
    * From then on every sync raises the count to the policy limit, capped at ``max_replicas``.
    * ``pod_ready_seconds`` is added for the last pods created to become Ready.

    Syncs are taken as exactly ``sync_period_seconds`` apart, so a scale event or recommendation exactly
    ``periodSeconds`` (or the window) old has left it, per the controller's strict ``After`` comparison; in a cluster
    each sync starts a little more than a period after the previous one ended, which keeps that true.

    Returns a :class:`ScaleUpTiming` whose ``seconds`` is ``None`` when scale-up is disabled."""
    sync = int(sync_period_seconds)
    if sync <= 0:
        raise ValueError("sync_period_seconds must be positive")
    if max_replicas <= min_replicas or max_replicas <= 0:
        return ScaleUpTiming(seconds=0, from_replicas=min_replicas, to_replicas=max(max_replicas, min_replicas))
    scale_from_zero = min_replicas <= 0
    if scale_from_zero and activation_interval_seconds <= 0:
        raise ValueError("scaling from zero needs activation_interval_seconds (KEDA pollingInterval)")
    start_replicas = 1 if scale_from_zero else min_replicas
    window = int(rules.stabilization_window_seconds)
    if scale_from_zero and max_replicas == 1:
        # KEDA alone: its next poll scales 0 -> 1, the HPA never has to act.
        activated_at = int(activation_interval_seconds)
        return ScaleUpTiming(seconds=activated_at + int(pod_ready_seconds), from_replicas=0, to_replicas=1,
                             activation_seconds=activated_at, detection_seconds=activated_at,
                             pod_ready_seconds=int(pod_ready_seconds), timeline=((activated_at, 1),))

    worst: Optional[ScaleUpTiming] = None
    for phase in range(sync):
        if scale_from_zero:
            # The KEDA poll at t=0 ran before the backlog (and scaled the idle workload to zero): the next one, at
            # pollingInterval, activates it. The HPA recorded its last (low) recommendation at or before t=0.
            activated_at = int(activation_interval_seconds)
            first_sync = _first_sync_after(activated_at, phase, sync)
            last_low = _last_sync_at_or_before(0, phase, sync)
            timeline = [(activated_at, 1)]
        else:
            activated_at = 0
            first_sync = _first_sync_after(int(metric_delay_seconds), phase, sync)
            last_low = first_sync - sync
            timeline = []
        # A sync may scale up once no low recommendation is strictly after now - window.
        scaling_from = max(first_sync, last_low + window)
        first_scaling_sync = _first_sync_after(scaling_from - 1, phase, sync)
        reached, climb, syncs = _climb(rules, start_replicas, max_replicas, first_scaling_sync, sync)
        if reached is None:
            return ScaleUpTiming(seconds=None, from_replicas=min_replicas, to_replicas=max_replicas,
                                 activation_seconds=activated_at, detection_seconds=first_sync)
        candidate = ScaleUpTiming(
            seconds=reached + int(pod_ready_seconds),
            from_replicas=min_replicas,
            to_replicas=max_replicas,
            activation_seconds=activated_at,
            detection_seconds=first_sync,
            stabilization_seconds=first_scaling_sync - first_sync,
            rate_limit_seconds=max(reached - first_scaling_sync, 0),
            pod_ready_seconds=int(pod_ready_seconds),
            syncs=syncs,
            timeline=tuple(timeline + climb),
        )
        if worst is None or (candidate.seconds or 0) > (worst.seconds or 0):
            worst = candidate
    if worst is None:  # pragma: no cover - sync >= 1, so the loop ran
        raise RuntimeError("no phase was evaluated")
    return worst


def scale_down_seconds(
    rules: ScalingRules,
    from_replicas: int,
    to_replicas: int,
    sync_period_seconds: int = DEFAULT_SYNC_PERIOD_SECONDS,
    metric_delay_seconds: int = 0,
) -> Optional[int]:
    """Worst-case seconds from an empty queue at ``from_replicas`` until the HPA has set ``to_replicas``.

    The mirror image of :func:`worst_case_scale_up` for ``min_replicas >= 1``: detection at the first sync after the
    metric shows the empty queue, the scale-down stabilization window (the last high recommendation must leave it),
    then one policy-limited step per sync. ``None`` when scale-down is disabled."""
    sync = int(sync_period_seconds)
    if from_replicas <= to_replicas:
        return 0
    if rules.disabled:
        return None
    first_sync = int(metric_delay_seconds) + sync
    last_high = first_sync - sync
    now = max(first_sync, last_high + int(rules.stabilization_window_seconds))
    now = first_sync + sync * int(math.ceil(float(now - first_sync) / sync))
    replicas = from_replicas
    events: List[ScaleEvent] = []
    for _sync in range(_MAX_SYNCS):
        target = max(to_replicas, scale_down_limit(replicas, rules, now, down_events=events))
        if target < replicas:
            events.append(ScaleEvent(now, replicas - target))
            replicas = target
        if replicas <= to_replicas:
            return now
        now += sync
    return None

# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Queue-depth autoscaling of the nl2api workers: from a few intent-level settings to the chart's values.

* :class:`AutoscalingIntent` is what the operator says: the queue, jobs per worker, min/max replicas, how fast to
  scale up and down, the worker PDB and grace period, and how fast a sudden backlog must be met.
* :func:`plan` turns it into an :class:`AutoscalingPlan`, whose :meth:`AutoscalingPlan.to_values` is the chart's
  ``worker.autoscaling`` block: either a KEDA ScaledObject (redis list scaler) or an autoscaling/v2 HPA on an
  External metric, never both. The chart renders the objects, this module decides the values.
* :func:`validate` returns every :class:`Problem`, each naming the module option to change.
* :func:`scale_up_timing` computes the worst-case time from min to max replicas by following the HPA algorithm
  (:mod:`queue_autoscaling_hpa`); :func:`validate` enforces it against the intent's target.
* :func:`desired_replicas` tells what the autoscaler wants for a given queue depth.

Pure Python, standard library only; option names in messages are those of the ``queue_autoscaling`` module.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ansible_collections.nl2api.deploy.plugins.module_utils.queue_autoscaling_hpa import (
    DEFAULT_SYNC_PERIOD_SECONDS,
    DEFAULT_TOLERANCE,
    MAX_POLICY_PERIOD_SECONDS,
    MAX_STABILIZATION_WINDOW_SECONDS,
    POLICY_PERCENT,
    POLICY_PODS,
    SELECT_DISABLED,
    SELECT_MAX,
    SELECT_POLICIES,
    ScaleUpTiming,
    ScalingPolicy,
    ScalingRules,
    external_average_value_replicas,
    max_removed_per_period,
    scale_down_seconds,
    sustained_backlog,
    worst_case_scale_up,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.redis_connection import split_address

ENGINE_KEDA = "keda"
ENGINE_HPA = "hpa"
ENGINES = (ENGINE_KEDA, ENGINE_HPA)

ROLE_PENDING = "pending"
ROLE_PROCESSING = "processing"

ERROR = "error"
WARNING = "warning"

DEFAULT_TARGET_SCALE_UP_SECONDS = 120
DEFAULT_POD_READY_SECONDS = 30
DEFAULT_POLLING_INTERVAL = 15
DEFAULT_COOLDOWN_PERIOD = 300
DEFAULT_METRICS_SCRAPE_INTERVAL = 30
DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 300
DEFAULT_EXTERNAL_METRIC_NAME = "redis_list_length"
DEFAULT_USERNAME_KEY = "REDIS_USERNAME"
DEFAULT_PASSWORD_KEY = "REDIS_PASSWORD"

_KEY_PATTERN_CHARS = re.compile(r"[*?\[\]]")
_PERCENT = re.compile(r"^\s*(\d+)\s*%\s*$")
_INTEGER = re.compile(r"^\s*(\d+)\s*$")


# --------------------------------------------------------------------------------------------------------------
# Intent


@dataclass(frozen=True)
class QueueIntent:
    """The Redis queue the workers consume, as the autoscaler (in the cluster) reaches it."""

    lists: Tuple[str, ...]
    address: str = ""
    processing_lists: Tuple[str, ...] = ()
    count_processing: bool = True
    tls: bool = False
    database: int = 0
    credentials_secret: str = ""
    username_key: str = DEFAULT_USERNAME_KEY
    password_key: str = DEFAULT_PASSWORD_KEY


@dataclass(frozen=True)
class SpeedIntent:
    """How fast one direction may go: ``pods_per_period`` pods or ``percent_per_period`` % per ``period_seconds``.

    A value of 0 drops that policy."""

    pods_per_period: int
    percent_per_period: int
    period_seconds: int
    stabilization_window_seconds: int
    select_policy: str = SELECT_MAX

    def rules(self) -> ScalingRules:
        policies = []
        if self.pods_per_period > 0:
            policies.append(ScalingPolicy(POLICY_PODS, self.pods_per_period, self.period_seconds))
        if self.percent_per_period > 0:
            policies.append(ScalingPolicy(POLICY_PERCENT, self.percent_per_period, self.period_seconds))
        return ScalingRules(
            policies=tuple(policies),
            select_policy=self.select_policy,
            stabilization_window_seconds=self.stabilization_window_seconds,
        )


#: The HPA's own scale-up default: 4 pods or 100 % per 15 s, whichever is more, no stabilization.
DEFAULT_SCALE_UP = SpeedIntent(pods_per_period=4, percent_per_period=100, period_seconds=15,
                               stabilization_window_seconds=0)
#: One pod a minute after 5 minutes of lower recommendations: gentle on workers in the middle of jobs.
DEFAULT_SCALE_DOWN = SpeedIntent(pods_per_period=1, percent_per_period=0, period_seconds=60,
                                 stabilization_window_seconds=300)

PdbValue = Union[int, str, None]


@dataclass(frozen=True)
class PdbIntent:
    """The worker PodDisruptionBudget as the chart renders it (one of the two, int or ``"N%"``)."""

    max_unavailable: PdbValue = None
    min_available: PdbValue = None

    def describe(self) -> str:
        if _blank(self.max_unavailable) and _blank(self.min_available):
            return "none"
        if not _blank(self.max_unavailable):
            return "maxUnavailable %s" % self.max_unavailable
        return "minAvailable %s" % self.min_available


#: The chart's default worker PDB (worker.podDisruptionBudget).
DEFAULT_WORKER_PDB = PdbIntent(min_available=1)
#: No worker PDB (worker.podDisruptionBudget.enabled=false): every pod may be evicted.
NO_PDB = PdbIntent()


@dataclass(frozen=True)
class AutoscalingIntent:
    """Everything the operator decides about worker autoscaling (the module's options)."""

    queue: QueueIntent
    jobs_per_worker: int
    max_replicas: int
    min_replicas: int = 1
    engine: str = ENGINE_KEDA
    enabled: bool = True
    activation_jobs: int = 0
    scale_up: SpeedIntent = DEFAULT_SCALE_UP
    scale_down: SpeedIntent = DEFAULT_SCALE_DOWN
    polling_interval: int = DEFAULT_POLLING_INTERVAL
    cooldown_period: int = DEFAULT_COOLDOWN_PERIOD
    hpa_sync_period: int = DEFAULT_SYNC_PERIOD_SECONDS
    metrics_scrape_interval: int = DEFAULT_METRICS_SCRAPE_INTERVAL
    pod_ready_seconds: int = DEFAULT_POD_READY_SECONDS
    target_scale_up_seconds: int = DEFAULT_TARGET_SCALE_UP_SECONDS
    worker_pdb: PdbIntent = DEFAULT_WORKER_PDB
    worker_termination_grace_period_seconds: int = DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS
    max_job_duration_seconds: Optional[int] = None
    external_metric_name: str = DEFAULT_EXTERNAL_METRIC_NAME

    @property
    def metric_staleness_seconds(self) -> int:
        """How old the metric may be when the HPA reads it.

        KEDA's metrics server reads the lists live at every HPA request (the chart does not set
        ``useCachedMetrics``), so 0; a metrics adapter serves what its exporter scraped last."""
        return 0 if self.engine == ENGINE_KEDA else self.metrics_scrape_interval

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "AutoscalingIntent":
        """Build from the module's parameters (nested dicts as Ansible passes them); missing keys take defaults."""
        queue = params.get("queue") or {}
        pdb = params.get("worker_pdb") or {}
        if pdb.get("enabled") is False:
            worker_pdb = NO_PDB
        elif _blank(pdb.get("max_unavailable")) and _blank(pdb.get("min_available")):
            worker_pdb = DEFAULT_WORKER_PDB
        else:
            worker_pdb = PdbIntent(max_unavailable=pdb.get("max_unavailable"), min_available=pdb.get("min_available"))
        return cls(
            queue=QueueIntent(
                lists=tuple(queue.get("lists") or ()),
                address=queue.get("address") or "",
                processing_lists=tuple(queue.get("processing_lists") or ()),
                count_processing=_default(queue.get("count_processing"), True),
                tls=bool(queue.get("tls")),
                database=_default(queue.get("database"), 0),
                credentials_secret=queue.get("credentials_secret") or "",
                username_key=_default(queue.get("username_key"), DEFAULT_USERNAME_KEY),
                password_key=_default(queue.get("password_key"), DEFAULT_PASSWORD_KEY),
            ),
            jobs_per_worker=params["jobs_per_worker"],
            max_replicas=params["max_replicas"],
            min_replicas=_default(params.get("min_replicas"), 1),
            engine=_default(params.get("engine"), ENGINE_KEDA),
            enabled=_default(params.get("enabled"), True),
            activation_jobs=_default(params.get("activation_jobs"), 0),
            scale_up=_speed(params.get("scale_up"), DEFAULT_SCALE_UP),
            scale_down=_speed(params.get("scale_down"), DEFAULT_SCALE_DOWN),
            polling_interval=_default(params.get("polling_interval"), DEFAULT_POLLING_INTERVAL),
            cooldown_period=_default(params.get("cooldown_period"), DEFAULT_COOLDOWN_PERIOD),
            hpa_sync_period=_default(params.get("hpa_sync_period"), DEFAULT_SYNC_PERIOD_SECONDS),
            metrics_scrape_interval=_default(params.get("metrics_scrape_interval"), DEFAULT_METRICS_SCRAPE_INTERVAL),
            pod_ready_seconds=_default(params.get("pod_ready_seconds"), DEFAULT_POD_READY_SECONDS),
            target_scale_up_seconds=_default(params.get("target_scale_up_seconds"), DEFAULT_TARGET_SCALE_UP_SECONDS),
            worker_pdb=worker_pdb,
            worker_termination_grace_period_seconds=_default(
                params.get("worker_termination_grace_period_seconds"), DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS),
            max_job_duration_seconds=params.get("max_job_duration_seconds"),
            external_metric_name=_default(params.get("external_metric_name"), DEFAULT_EXTERNAL_METRIC_NAME),
        )


def _default(value: Any, default: Any) -> Any:
    return default if value is None else value


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _speed(params: Optional[Mapping[str, Any]], default: SpeedIntent) -> SpeedIntent:
    params = params or {}
    return SpeedIntent(
        pods_per_period=_default(params.get("pods_per_period"), default.pods_per_period),
        percent_per_period=_default(params.get("percent_per_period"), default.percent_per_period),
        period_seconds=_default(params.get("period_seconds"), default.period_seconds),
        stabilization_window_seconds=_default(params.get("stabilization_window_seconds"),
                                              default.stabilization_window_seconds),
        select_policy=_default(params.get("select_policy"), default.select_policy),
    )


# --------------------------------------------------------------------------------------------------------------
# Plan (the chart's worker.autoscaling values)


@dataclass(frozen=True)
class CountedList:
    """A list the autoscaler counts; ``role`` is ``pending`` or ``processing`` (items workers already took)."""

    name: str
    role: str


@dataclass(frozen=True)
class AutoscalingPlan:
    """The decided ``worker.autoscaling`` values; :meth:`to_values` has exactly the chart's keys."""

    enabled: bool
    engine: str
    min_replicas: int
    max_replicas: int
    scale_up: ScalingRules
    scale_down: ScalingRules
    redis_address: str
    redis_tls: bool
    redis_database: int
    auth_secret_name: str
    auth_username_key: str
    auth_password_key: str
    lists: Tuple[CountedList, ...]
    polling_interval: int
    cooldown_period: int
    list_length: int
    activation_list_length: int
    scaling_modifiers_formula: str
    external_metric_name: str
    external_average_value: str

    @property
    def hpa_min_replicas(self) -> int:
        """The HPA's minReplicas: KEDA handles 0 <-> 1 itself and gives its HPA at least 1."""
        return max(1, self.min_replicas)

    def trigger_names(self) -> List[str]:
        """KEDA trigger names as the chart renders them: ``<role>_<index in lists>``."""
        return ["%s_%d" % (item.role, index) for index, item in enumerate(self.lists)]

    def behavior(self) -> Dict[str, Any]:
        return {"scaleUp": self.scale_up.to_dict(), "scaleDown": self.scale_down.to_dict()}

    def to_values(self) -> Dict[str, Any]:
        return {
            "enabled": self.enabled,
            "engine": self.engine,
            "minReplicas": self.min_replicas,
            "maxReplicas": self.max_replicas,
            "behavior": self.behavior(),
            "redis": {
                "address": self.redis_address,
                "enableTLS": self.redis_tls,
                "databaseIndex": self.redis_database,
                "auth": {
                    "secretName": self.auth_secret_name,
                    "usernameKey": self.auth_username_key,
                    "passwordKey": self.auth_password_key,
                },
            },
            "lists": [{"name": item.name, "role": item.role} for item in self.lists],
            "keda": {
                "pollingInterval": self.polling_interval,
                "cooldownPeriod": self.cooldown_period,
                "listLength": self.list_length,
                "activationListLength": self.activation_list_length,
                "scalingModifiersFormula": self.scaling_modifiers_formula,
            },
            "external": {
                "metricName": self.external_metric_name,
                "averageValue": self.external_average_value,
            },
        }


def counted_lists(queue: QueueIntent) -> Tuple[CountedList, ...]:
    """Every list the autoscaler counts: the pending lists, then (unless switched off) the processing lists."""
    items = [CountedList(name, ROLE_PENDING) for name in queue.lists]
    if queue.count_processing:
        items += [CountedList(name, ROLE_PROCESSING) for name in queue.processing_lists]
    return tuple(items)


def plan(intent: AutoscalingIntent) -> AutoscalingPlan:
    """The chart values for ``intent``. Total: never raises; :func:`validate` says whether they are any good."""
    items = counted_lists(intent.queue)
    names = ["%s_%d" % (item.role, index) for index, item in enumerate(items)]
    return AutoscalingPlan(
        enabled=bool(intent.enabled),
        engine=intent.engine,
        min_replicas=intent.min_replicas,
        max_replicas=intent.max_replicas,
        scale_up=intent.scale_up.rules(),
        scale_down=intent.scale_down.rules(),
        redis_address=intent.queue.address,
        redis_tls=bool(intent.queue.tls),
        redis_database=intent.queue.database,
        auth_secret_name=intent.queue.credentials_secret,
        auth_username_key=intent.queue.username_key,
        auth_password_key=intent.queue.password_key,
        lists=items,
        polling_interval=intent.polling_interval,
        cooldown_period=intent.cooldown_period,
        list_length=intent.jobs_per_worker,
        activation_list_length=intent.activation_jobs,
        # KEDA: several lists are summed into one composite metric, so taken items count toward the desired
        # replicas (without it KEDA's HPA would take the maximum over the lists). Engine hpa: the metrics adapter
        # serves the sum, and the chart rejects a formula.
        scaling_modifiers_formula=" + ".join(names) if len(names) > 1 and intent.engine == ENGINE_KEDA else "",
        external_metric_name=intent.external_metric_name,
        external_average_value=str(intent.jobs_per_worker),
    )


# --------------------------------------------------------------------------------------------------------------
# Timing


def worst_case_scale_up_seconds(
    autoscaling_plan: AutoscalingPlan,
    hpa_sync_period: int = DEFAULT_SYNC_PERIOD_SECONDS,
    pod_ready_seconds: int = DEFAULT_POD_READY_SECONDS,
    metric_staleness_seconds: int = 0,
) -> Optional[int]:
    """Worst-case seconds from a sudden backlog at minReplicas to maxReplicas Ready pods; ``None``: never."""
    return scale_up_timing(autoscaling_plan, hpa_sync_period, pod_ready_seconds, metric_staleness_seconds).seconds


def scale_up_timing(
    autoscaling_plan: AutoscalingPlan,
    hpa_sync_period: int = DEFAULT_SYNC_PERIOD_SECONDS,
    pod_ready_seconds: int = DEFAULT_POD_READY_SECONDS,
    metric_staleness_seconds: int = 0,
) -> ScaleUpTiming:
    """The full worst-case breakdown (see :func:`queue_autoscaling_hpa.worst_case_scale_up`).

    With engine ``keda`` and minReplicas 0, the 0 -> 1 step is KEDA's activation at its ``pollingInterval``."""
    from_zero = autoscaling_plan.engine == ENGINE_KEDA and autoscaling_plan.min_replicas == 0
    return worst_case_scale_up(
        autoscaling_plan.scale_up,
        min_replicas=autoscaling_plan.min_replicas,
        max_replicas=autoscaling_plan.max_replicas,
        sync_period_seconds=hpa_sync_period,
        metric_delay_seconds=metric_staleness_seconds,
        activation_interval_seconds=autoscaling_plan.polling_interval if from_zero else 0,
        pod_ready_seconds=pod_ready_seconds,
    )


def intent_scale_up_timing(intent: AutoscalingIntent, autoscaling_plan: Optional[AutoscalingPlan] = None) -> ScaleUpTiming:
    return scale_up_timing(autoscaling_plan or plan(intent), intent.hpa_sync_period, intent.pod_ready_seconds,
                           intent.metric_staleness_seconds)


def backlog_items(autoscaling_plan: AutoscalingPlan, tolerance: float = DEFAULT_TOLERANCE) -> int:
    """Size of the sudden backlog the worst-case figure assumes (enough to demand maxReplicas from any count)."""
    return max(sustained_backlog(autoscaling_plan.max_replicas, autoscaling_plan.list_length, tolerance),
               autoscaling_plan.activation_list_length + 1)


def desired_replicas(
    autoscaling_plan: AutoscalingPlan,
    queue_depth: int,
    current_replicas: Optional[int] = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> int:
    """The replica count the autoscaler wants for ``queue_depth`` items in the counted lists, within min/max.

    With engine ``keda`` and minReplicas 0, a depth at or below activationListLength means inactive: 0 (KEDA
    scales to zero once cooldownPeriod has passed). With ``current_replicas`` the HPA's tolerance applies (no change
    while the usage ratio is within 10 %); without it the plain ``ceil(depth / listLength)`` is bounded. Policies and
    stabilization windows decide how fast the workload gets there, not where it goes."""
    if autoscaling_plan.engine == ENGINE_KEDA and autoscaling_plan.min_replicas == 0 \
            and queue_depth <= autoscaling_plan.activation_list_length:
        return 0
    proposal = external_average_value_replicas(queue_depth, autoscaling_plan.list_length,
                                               current_replicas or 0, tolerance)
    return min(autoscaling_plan.max_replicas, max(autoscaling_plan.hpa_min_replicas, proposal))


# --------------------------------------------------------------------------------------------------------------
# Validation


@dataclass(frozen=True)
class Problem:
    """One finding; ``option`` is the module option (dotted for sub-options) to change."""

    severity: str
    option: str
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def to_dict(self) -> Dict[str, str]:
        return {"severity": self.severity, "option": self.option, "message": self.message}


def parse_pdb_value(value: PdbValue) -> Tuple[int, bool]:
    """``(number, is_percent)`` of an IntOrString PDB field; raises ValueError when it is neither."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a PDB value")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("must not be negative")
        return value, False
    text = str(value)
    match = _PERCENT.match(text)
    if match:
        return int(match.group(1)), True
    match = _INTEGER.match(text)
    if match:
        return int(match.group(1)), False
    raise ValueError("must be a non-negative integer or a percentage like 25%")


def pdb_allowed_disruptions(pdb: PdbIntent, replicas: int) -> int:
    """Evictions the PDB allows with ``replicas`` healthy pods (percentages round up, as the disruption
    controller computes them). Without a PDB, every pod may go."""
    if replicas <= 0:
        return 0
    if not _blank(pdb.max_unavailable):
        number, percent = parse_pdb_value(pdb.max_unavailable)
        unavailable = int(math.ceil(number * replicas / 100.0)) if percent else number
        return max(0, min(replicas, unavailable))
    if not _blank(pdb.min_available):
        number, percent = parse_pdb_value(pdb.min_available)
        available = int(math.ceil(number * replicas / 100.0)) if percent else number
        return max(0, replicas - available)
    return replicas


def _speed_problems(prefix: str, speed: SpeedIntent) -> List[Problem]:
    problems = []
    if speed.select_policy not in SELECT_POLICIES:
        problems.append(Problem(ERROR, prefix + ".select_policy", "%s.select_policy must be one of %s, not %r"
                                % (prefix, ", ".join(SELECT_POLICIES), speed.select_policy)))
    for name in ("pods_per_period", "percent_per_period"):
        if getattr(speed, name) < 0:
            problems.append(Problem(ERROR, "%s.%s" % (prefix, name),
                                    "%s.%s must not be negative (0 drops that policy)" % (prefix, name)))
    if speed.select_policy != SELECT_DISABLED and speed.pods_per_period <= 0 and speed.percent_per_period <= 0:
        problems.append(Problem(ERROR, prefix + ".pods_per_period",
                                "%s has no policy: set %s.pods_per_period or %s.percent_per_period above 0, or "
                                "%s.select_policy to Disabled" % (prefix, prefix, prefix, prefix)))
    if not 1 <= speed.period_seconds <= MAX_POLICY_PERIOD_SECONDS:
        problems.append(Problem(ERROR, prefix + ".period_seconds", "%s.period_seconds must be between 1 and %d, not %d"
                                % (prefix, MAX_POLICY_PERIOD_SECONDS, speed.period_seconds)))
    if not 0 <= speed.stabilization_window_seconds <= MAX_STABILIZATION_WINDOW_SECONDS:
        problems.append(Problem(ERROR, prefix + ".stabilization_window_seconds",
                                "%s.stabilization_window_seconds must be between 0 and %d, not %d"
                                % (prefix, MAX_STABILIZATION_WINDOW_SECONDS, speed.stabilization_window_seconds)))
    return problems


def _structure_problems(intent: AutoscalingIntent) -> List[Problem]:
    """Problems that make the values unusable, before any timing is computed."""
    problems: List[Problem] = []
    add = problems.append
    queue = intent.queue
    if intent.engine not in ENGINES:
        add(Problem(ERROR, "engine", "engine must be one of %s, not %r" % (", ".join(ENGINES), intent.engine)))
    if intent.jobs_per_worker < 1:
        add(Problem(ERROR, "jobs_per_worker", "jobs_per_worker must be at least 1, not %d: it is the target of "
                    "queued items per worker (listLength / averageValue), and a zero target cannot be divided by"
                    % intent.jobs_per_worker))
    if intent.max_replicas < 1:
        add(Problem(ERROR, "max_replicas", "max_replicas must be at least 1, not %d" % intent.max_replicas))
    if intent.min_replicas < 0:
        add(Problem(ERROR, "min_replicas", "min_replicas must not be negative, not %d" % intent.min_replicas))
    if intent.max_replicas < intent.min_replicas:
        add(Problem(ERROR, "max_replicas", "max_replicas (%d) is lower than min_replicas (%d): raise max_replicas or "
                    "lower min_replicas" % (intent.max_replicas, intent.min_replicas)))
    if intent.activation_jobs < 0:
        add(Problem(ERROR, "activation_jobs", "activation_jobs must not be negative"))
    if intent.engine == ENGINE_KEDA and intent.activation_jobs > 0 and intent.min_replicas >= 1:
        add(Problem(ERROR, "activation_jobs", "activation_jobs (%d) is ignored by KEDA while min_replicas (%d) is 1 or "
                    "more: activation only decides between 0 and 1 replica. Set activation_jobs to 0, or min_replicas "
                    "to 0 to scale to zero" % (intent.activation_jobs, intent.min_replicas)))
    if intent.engine == ENGINE_HPA:
        if intent.min_replicas < 1:
            add(Problem(ERROR, "min_replicas", "engine hpa cannot scale to zero (the HPA needs the alpha "
                        "HPAScaleToZero feature gate): set min_replicas to 1 or more, or engine to keda"))
        if intent.activation_jobs > 0:
            add(Problem(ERROR, "activation_jobs", "activation_jobs is a KEDA setting and has no effect with engine "
                        "hpa: set it to 0"))
    if not intent.external_metric_name:
        add(Problem(ERROR, "external_metric_name", "external_metric_name must not be empty"))

    # Queue
    if not queue.lists:
        add(Problem(ERROR, "queue.lists", "queue.lists must name at least one pending list"))
    if queue.address:
        try:
            split_address(queue.address)
        except ValueError as exc:
            add(Problem(ERROR, "queue.address", "queue.address %r: %s" % (queue.address, exc)))
    if queue.database < 0:
        add(Problem(ERROR, "queue.database", "queue.database must not be negative"))
    if not queue.password_key:
        add(Problem(ERROR, "queue.password_key", "queue.password_key must name the Secret key of the Redis password"))
    seen: Dict[str, str] = {}
    for option, names in (("queue.lists", queue.lists), ("queue.processing_lists", queue.processing_lists)):
        for name in names:
            if not name or not str(name).strip():
                add(Problem(ERROR, option, "%s has an empty list name" % option))
                continue
            if _KEY_PATTERN_CHARS.search(name):
                add(Problem(ERROR, option, "%s entry %r is a key pattern, but LLEN and KEDA's redis scaler count one "
                            "exact list: name every list, or have workers use one fixed processing list" % (option, name)))
            if name in seen:
                add(Problem(ERROR, option, "list %r appears twice (%s and %s): it would be counted twice"
                            % (name, seen[name], option)))
            seen[name] = option
    if queue.processing_lists and not queue.count_processing:
        add(Problem(ERROR, "queue.count_processing", "items workers have already taken (in %s) are not counted, so the "
                    "autoscaler sees an empty queue while jobs are still running and scales in (or to zero) under "
                    "busy workers: set queue.count_processing to true" % ", ".join(queue.processing_lists)))

    # Speeds and timings
    problems += _speed_problems("scale_up", intent.scale_up)
    problems += _speed_problems("scale_down", intent.scale_down)
    for name, minimum in (("polling_interval", 1), ("cooldown_period", 0), ("hpa_sync_period", 1),
                          ("metrics_scrape_interval", 0), ("pod_ready_seconds", 0), ("target_scale_up_seconds", 1),
                          ("worker_termination_grace_period_seconds", 0)):
        if getattr(intent, name) < minimum:
            add(Problem(ERROR, name, "%s must be at least %d, not %d" % (name, minimum, getattr(intent, name))))
    if intent.max_job_duration_seconds is not None and intent.max_job_duration_seconds < 1:
        add(Problem(ERROR, "max_job_duration_seconds", "max_job_duration_seconds must be at least 1"))

    # PDB
    pdb = intent.worker_pdb
    if not _blank(pdb.max_unavailable) and not _blank(pdb.min_available):
        add(Problem(ERROR, "worker_pdb", "worker_pdb sets both max_unavailable and min_available; a "
                    "PodDisruptionBudget takes one"))
    for name in ("max_unavailable", "min_available"):
        value = getattr(pdb, name)
        if not _blank(value):
            try:
                parse_pdb_value(value)
            except ValueError as exc:
                add(Problem(ERROR, "worker_pdb." + name, "worker_pdb.%s %r: %s" % (name, value, exc)))
    return problems


def _scale_in_problems(intent: AutoscalingIntent, autoscaling_plan: AutoscalingPlan, pdb: PdbIntent) -> List[Problem]:
    """Scale-in safety: the scale-down policy against the worker PDB, and the grace period against job duration."""
    problems: List[Problem] = []
    add = problems.append
    floor = autoscaling_plan.hpa_min_replicas
    rules = autoscaling_plan.scale_down
    period = intent.scale_down.period_seconds
    worst = None  # (excess, replicas, removed, allowed)
    for replicas in range(floor + 1, autoscaling_plan.max_replicas + 1):
        removed = max_removed_per_period(replicas, rules, floor)
        allowed = pdb_allowed_disruptions(pdb, replicas)
        if removed > allowed and (worst is None or removed - allowed > worst[0]):
            worst = (removed - allowed, replicas, removed, allowed)
    if worst is not None:
        replicas, removed, allowed = worst[1:]
        culprits = [("scale_down.pods_per_period", policy) if policy.type == POLICY_PODS
                    else ("scale_down.percent_per_period", policy) for policy in rules.policies
                    if max_removed_per_period(replicas, ScalingRules((policy,)), floor) > allowed]
        options = " and ".join("%s (%d)" % (name, policy.value) for name, policy in culprits) or \
            "scale_down.select_policy (%s)" % rules.select_policy
        add(Problem(ERROR, culprits[0][0] if culprits else "scale_down.select_policy",
                    "scale-down removes up to %d worker pods per %d s at %d replicas, more than the %d disruption(s) the "
                    "worker PDB (%s) allows at that size: lower %s, or loosen worker_pdb"
                    % (removed, period, replicas, allowed, pdb.describe(), options)))

    if pdb_allowed_disruptions(pdb, floor) == 0:
        add(Problem(ERROR, "worker_pdb", "the worker PDB (%s) allows no eviction at %d worker(s), the fewest the HPA "
                    "keeps (min_replicas=%d), so node drains block while the workers sit at their minimum: raise "
                    "min_replicas or loosen worker_pdb" % (pdb.describe(), floor, intent.min_replicas)))

    grace = intent.worker_termination_grace_period_seconds
    job = intent.max_job_duration_seconds
    if job is None:
        add(Problem(WARNING, "max_job_duration_seconds", "max_job_duration_seconds is not set, so nothing proves that a "
                    "worker removed by scale-in (worker_termination_grace_period_seconds=%d) finishes its job" % grace))
    elif grace < job:
        add(Problem(ERROR, "worker_termination_grace_period_seconds", "worker_termination_grace_period_seconds (%d) is "
                    "shorter than max_job_duration_seconds (%d): a worker removed by scale-in is killed mid-job. Raise "
                    "worker_termination_grace_period_seconds to %d or more (and keep the chart's worker drain timeout "
                    "below it)" % (grace, job, job)))
    drain = job if job is not None else grace
    if not rules.disabled and 0 < period < drain and autoscaling_plan.max_replicas > floor:
        removed_max = max_removed_per_period(autoscaling_plan.max_replicas, rules, floor)
        terminating = min(autoscaling_plan.max_replicas - floor, removed_max * int(math.ceil(float(drain) / period)))
        allowed_max = pdb_allowed_disruptions(pdb, autoscaling_plan.max_replicas)
        if terminating > allowed_max:
            add(Problem(WARNING, "scale_down.period_seconds", "pods removed in one scale-down period may still be "
                        "finishing jobs (up to %d s) when the next period removes more: up to %d workers terminating at "
                        "once, while the worker PDB allows %d; raise scale_down.period_seconds to %d to stay within it"
                        % (drain, terminating, allowed_max, drain)))
    return problems


_Knob = Tuple[str, str, Callable[[AutoscalingIntent, int], AutoscalingIntent], int, int]


def _knobs(intent: AutoscalingIntent) -> List[_Knob]:
    """Settings that shorten the scale-up: (option, raise|lower, setter, current, bound)."""
    up = intent.scale_up
    knobs: List[_Knob] = [
        ("scale_up.pods_per_period", "raise",
         lambda i, v: replace(i, scale_up=replace(i.scale_up, pods_per_period=v)),
         up.pods_per_period, max(intent.max_replicas - intent.min_replicas, 1)),
        ("scale_up.percent_per_period", "raise",
         lambda i, v: replace(i, scale_up=replace(i.scale_up, percent_per_period=v)),
         up.percent_per_period, 1000),
        ("scale_up.period_seconds", "lower",
         lambda i, v: replace(i, scale_up=replace(i.scale_up, period_seconds=v)),
         up.period_seconds, 1),
        ("scale_up.stabilization_window_seconds", "lower",
         lambda i, v: replace(i, scale_up=replace(i.scale_up, stabilization_window_seconds=v)),
         up.stabilization_window_seconds, 0),
    ]
    if intent.engine == ENGINE_KEDA and intent.min_replicas == 0:
        knobs.append(("polling_interval", "lower", lambda i, v: replace(i, polling_interval=v),
                      intent.polling_interval, 1))
    if intent.engine == ENGINE_HPA:
        knobs.append(("metrics_scrape_interval", "lower", lambda i, v: replace(i, metrics_scrape_interval=v),
                      intent.metrics_scrape_interval, 0))
    knobs.append(("min_replicas", "raise", lambda i, v: replace(i, min_replicas=v), intent.min_replicas,
                  intent.max_replicas))
    return knobs


def _meets(intent: AutoscalingIntent) -> bool:
    seconds = intent_scale_up_timing(intent).seconds
    return seconds is not None and seconds <= intent.target_scale_up_seconds


def scale_up_suggestions(intent: AutoscalingIntent) -> List[str]:
    """For each setting that could bring the scale-up within target on its own, the smallest change that does.

    Binary search over the setting (faster settings never slow the scale-up down), confirmed by a final check."""
    out = []
    for option, direction, setter, current, bound in _knobs(intent):
        if (direction == "raise" and current >= bound) or (direction == "lower" and current <= bound):
            continue
        if not _meets(setter(intent, bound)):
            continue
        if direction == "raise":
            low, high = current + 1, bound  # high meets the target
            while low < high:
                middle = (low + high) // 2
                if _meets(setter(intent, middle)):
                    high = middle
                else:
                    low = middle + 1
        else:
            low, high = bound, current - 1  # low meets the target
            while low < high:
                middle = (low + high + 1) // 2
                if _meets(setter(intent, middle)):
                    low = middle
                else:
                    high = middle - 1
        value = high if direction == "raise" else low
        if _meets(setter(intent, value)):
            out.append("%s %s to %d (now %d)" % (direction, option, value, current))
    return out


def _timing_problems(intent: AutoscalingIntent, timing: ScaleUpTiming) -> List[Problem]:
    if timing.seconds is None:
        return [Problem(ERROR, "scale_up.select_policy", "scale-up never reaches max_replicas (%d): scale_up.select_policy "
                        "is %s; set it to Max" % (intent.max_replicas, intent.scale_up.select_policy))]
    if timing.seconds <= intent.target_scale_up_seconds:
        return []
    phases = ", ".join("%s %d s" % (label, value) for label, value in (
        ("activation", timing.activation_seconds),
        ("detection", timing.detection_seconds - timing.activation_seconds),
        ("stabilization", timing.stabilization_seconds),
        ("rate limit", timing.rate_limit_seconds),
        ("pod ready", timing.pod_ready_seconds)) if value)
    suggestions = scale_up_suggestions(intent)
    if intent.pod_ready_seconds >= intent.target_scale_up_seconds:
        advice = "pod_ready_seconds (%d) alone reaches target_scale_up_seconds: make the worker start faster or raise " \
                 "target_scale_up_seconds" % intent.pod_ready_seconds
    elif suggestions:
        advice = ", or ".join(suggestions)
    else:
        advice = "no single setting is enough: raise scale_up.pods_per_period and scale_up.percent_per_period, lower " \
                 "scale_up.period_seconds and scale_up.stabilization_window_seconds, or raise target_scale_up_seconds"
    option = suggestions[0].split()[1] if suggestions and intent.pod_ready_seconds < intent.target_scale_up_seconds \
        else "target_scale_up_seconds"
    return [Problem(ERROR, option, "scale-up from %d to %d replicas takes %d s in the worst case (%s) > "
                    "target_scale_up_seconds %d: %s" % (timing.from_replicas, timing.to_replicas, timing.seconds, phases,
                                                        intent.target_scale_up_seconds, advice))]


def validate(
    intent: AutoscalingIntent,
    autoscaling_plan: Optional[AutoscalingPlan] = None,
    pdb: Optional[PdbIntent] = None,
    timing: Optional[ScaleUpTiming] = None,
) -> List[Problem]:
    """Every problem with ``intent`` and its plan, errors first. ``pdb`` defaults to ``intent.worker_pdb``.

    Structural errors (min/max, zero targets, list names, activation, ranges) are reported first; the scale-up
    time and scale-in safety are only judged when the structure is sound. A disabled autoscaler is only checked
    for structure."""
    autoscaling_plan = autoscaling_plan or plan(intent)
    pdb = pdb or intent.worker_pdb
    problems = _structure_problems(intent)
    if intent.enabled and not any(problem.is_error for problem in problems):
        problems += _timing_problems(intent, timing or intent_scale_up_timing(intent, autoscaling_plan))
        problems += _scale_in_problems(intent, autoscaling_plan, pdb)
    return sorted(problems, key=lambda problem: 0 if problem.is_error else 1)


# --------------------------------------------------------------------------------------------------------------
# Everything at once


@dataclass(frozen=True)
class Assessment:
    """What the module reports: the plan, its problems, and the timings (``None`` when not computable)."""

    plan: AutoscalingPlan
    problems: Tuple[Problem, ...]
    scale_up: Optional[ScaleUpTiming]
    scale_in: Optional[Dict[str, Any]]
    backlog_items: Optional[int] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> List[Problem]:
        return [problem for problem in self.problems if problem.is_error]

    @property
    def warnings(self) -> List[Problem]:
        return [problem for problem in self.problems if not problem.is_error]


def scale_in_summary(intent: AutoscalingIntent, autoscaling_plan: AutoscalingPlan) -> Dict[str, Any]:
    """Scale-in figures: the fastest removal per period, what the PDB allows, and the time from max back to min.

    Call it on a structurally valid intent (the PDB values must parse)."""
    floor = autoscaling_plan.hpa_min_replicas
    rules = autoscaling_plan.scale_down
    removed = max([max_removed_per_period(r, rules, floor) for r in range(floor + 1, autoscaling_plan.max_replicas + 1)]
                  or [0])
    to_floor = scale_down_seconds(rules, autoscaling_plan.max_replicas, floor, intent.hpa_sync_period,
                                  intent.metric_staleness_seconds)
    if autoscaling_plan.engine == ENGINE_KEDA and autoscaling_plan.min_replicas == 0:
        # KEDA scales straight to zero once the lists stayed at or below activation for cooldownPeriod.
        seconds: Optional[int] = autoscaling_plan.cooldown_period + autoscaling_plan.polling_interval
    else:
        seconds = to_floor
    return {
        "seconds": seconds,
        "from_replicas": autoscaling_plan.max_replicas,
        "to_replicas": autoscaling_plan.min_replicas,
        "max_pods_removed_per_period": removed,
        "period_seconds": intent.scale_down.period_seconds,
        "pdb_allowed_disruptions_at_min": pdb_allowed_disruptions(intent.worker_pdb, floor),
    }


def assess(intent: AutoscalingIntent) -> Assessment:
    """Plan, validate and time ``intent`` in one go (what the module runs)."""
    autoscaling_plan = plan(intent)
    structural = [problem for problem in _structure_problems(intent) if problem.is_error]
    timing = None
    scale_in = None
    backlog = None
    if not structural:
        timing = intent_scale_up_timing(intent, autoscaling_plan)
        scale_in = scale_in_summary(intent, autoscaling_plan)
        backlog = backlog_items(autoscaling_plan)
    problems = validate(intent, autoscaling_plan, timing=timing)
    return Assessment(plan=autoscaling_plan, problems=tuple(problems), scale_up=timing, scale_in=scale_in,
                      backlog_items=backlog)


def counted_depth(autoscaling_plan: AutoscalingPlan, depths: Mapping[str, int]) -> int:
    """Items the autoscaler counts, given the length of each list (lists missing from ``depths`` count 0)."""
    return sum(int(depths.get(item.name, 0)) for item in autoscaling_plan.lists)


def list_names(autoscaling_plan: AutoscalingPlan) -> Sequence[str]:
    return [item.name for item in autoscaling_plan.lists]

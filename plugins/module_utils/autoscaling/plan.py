# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Queue-depth autoscaling of the nl2api workers: from a few intent-level settings to the chart's values.

The queue is the application's Redis Stream ``eval:tasks:<batch_id>``, read by the consumer group
``eval-workers``. Two numbers of ``XINFO GROUPS`` describe it: ``lag`` (entries not yet delivered to any worker)
and ``pending`` (delivered, not yet acknowledged: the tasks in flight).

* :class:`AutoscalingIntent` is what the operator says: tasks per worker, min/max replicas, how fast to scale up
  and down, the longest task, the worker PDB and grace period, and how fast a sudden backlog must be met.
* :func:`plan` turns it into an :class:`AutoscalingPlan`, whose :meth:`AutoscalingPlan.to_values` is the chart's
  ``worker.autoscaling`` block: a KEDA ScaledObject (``redis-streams`` scaler) or an autoscaling/v2 HPA on External
  metrics, never both. The chart renders the objects, this module decides the values.
* :func:`validate` returns every :class:`Problem`, each naming the module option to change.
* :func:`scale_up_timing` computes the worst-case time from min to max replicas by following the HPA algorithm
  (:mod:`.hpa`); :func:`validate` enforces it against the intent's target.
* :func:`desired_replicas` tells what the autoscaler wants for a given lag and pending count.

Pure Python, standard library only; option names in messages are those of the ``queue_autoscaling`` module.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import math
import re
from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from ansible_collections.nl2api.deploy.plugins.module_utils.autoscaling.hpa import (
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

ERROR = "error"
WARNING = "warning"

#: The application's task stream is ``eval:tasks:<batch_id>``, read by this consumer group (contract section 3).
STREAM_PREFIX = "eval:tasks:"
CONSUMER_GROUP = "eval-workers"
#: A worker reads with COUNT 1 and runs one task at a time, so it holds at most one pending entry.
TASKS_IN_FLIGHT_PER_WORKER = 1
#: KEDA trigger names as the chart renders them.
TRIGGER_LAG = "lag"
TRIGGER_PENDING = "pending"

DEFAULT_ENGINE = ENGINE_KEDA
DEFAULT_MIN_REPLICAS = 1
DEFAULT_ACTIVATION_LAG = 0
DEFAULT_TARGET_SCALE_UP_SECONDS = 120
DEFAULT_POD_READY_SECONDS = 30
DEFAULT_POLLING_INTERVAL = 15
DEFAULT_COOLDOWN_PERIOD = 300
DEFAULT_METRICS_SCRAPE_INTERVAL = 30
DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 300
#: Time a worker needs after its longest task before SIGKILL may come: the ack, the preStop hook's last XPENDING
#: poll (once a second). The chart's own check on worker.shutdown.maxTaskSeconds uses the same 10 s.
DEFAULT_TERMINATION_MARGIN_SECONDS = 10
DEFAULT_MAX_PODS_REMOVED_PER_PERIOD = 1
DEFAULT_LAG_METRIC_NAME = "redis_stream_group_lag"
DEFAULT_PENDING_METRIC_NAME = "redis_stream_group_pending"
#: Raw keys of the app Secret (design: only for data stores and the scaler, never env of app pods).
DEFAULT_USERNAME_KEY = "redis-username"
DEFAULT_PASSWORD_KEY = "redis-password"
DEFAULT_CA_KEY = "ca.crt"

_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
#: The producer's batch ids are UUIDs; anything a stream key and a label value can carry is accepted.
_BATCH_ID = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
_PERCENT = re.compile(r"^\s*(\d+)\s*%\s*$")
_INTEGER = re.compile(r"^\s*(\d+)\s*$")


def stream_name(batch_id: str) -> str:
    """The task stream of one batch."""
    return STREAM_PREFIX + batch_id


# --------------------------------------------------------------------------------------------------------------
# Intent


@dataclass(frozen=True)
class QueueIntent:
    """How the autoscaler (in the cluster) reaches the Redis holding the task streams."""

    address: str = ""
    tls: bool = False
    database: int = 0
    credentials_secret: str = ""
    username_key: str = DEFAULT_USERNAME_KEY
    password_key: str = DEFAULT_PASSWORD_KEY
    ca_config_map: str = ""
    ca_key: str = DEFAULT_CA_KEY


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
#: One pod a minute after 5 minutes of lower recommendations: gentle on workers in the middle of tasks.
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


def pdb_intent(pdb: Optional[Mapping[str, Any]]) -> PdbIntent:
    """The PDB of a ``worker_pdb`` option (or of the chart's ``worker.podDisruptionBudget`` in snake case)."""
    pdb = pdb or {}
    if pdb.get("enabled") is False:
        return NO_PDB
    if _blank(pdb.get("max_unavailable")) and _blank(pdb.get("min_available")):
        return DEFAULT_WORKER_PDB
    return PdbIntent(max_unavailable=None if _blank(pdb.get("max_unavailable")) else pdb.get("max_unavailable"),
                     min_available=None if _blank(pdb.get("min_available")) else pdb.get("min_available"))


@dataclass(frozen=True)
class AutoscalingIntent:
    """Everything the operator decides about worker autoscaling (the module's options)."""

    tasks_per_worker: int
    max_replicas: int
    queue: QueueIntent = QueueIntent()
    min_replicas: int = DEFAULT_MIN_REPLICAS
    engine: str = DEFAULT_ENGINE
    enabled: bool = True
    batch_id: str = ""
    activation_lag: int = DEFAULT_ACTIVATION_LAG
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
    max_task_seconds: Optional[int] = None
    termination_margin_seconds: int = DEFAULT_TERMINATION_MARGIN_SECONDS
    max_pods_removed_per_period: int = DEFAULT_MAX_PODS_REMOVED_PER_PERIOD
    lag_metric_name: str = DEFAULT_LAG_METRIC_NAME
    pending_metric_name: str = DEFAULT_PENDING_METRIC_NAME

    @property
    def metric_staleness_seconds(self) -> int:
        """How old the metric may be when the HPA reads it.

        KEDA's metrics server reads the stream live at every HPA request (the chart does not set
        ``useCachedMetrics``), so 0; a metrics adapter serves what its exporter scraped last."""
        return 0 if self.engine == ENGINE_KEDA else self.metrics_scrape_interval

    @property
    def stream(self) -> str:
        return stream_name(self.batch_id) if self.batch_id else ""

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "AutoscalingIntent":
        """Build from the module's parameters (nested dicts as Ansible passes them); missing keys take defaults."""
        queue = params.get("queue") or {}
        return cls(
            queue=QueueIntent(
                address=queue.get("address") or "",
                tls=bool(queue.get("tls")),
                database=_default(queue.get("database"), 0),
                credentials_secret=queue.get("credentials_secret") or "",
                username_key=_default(queue.get("username_key"), DEFAULT_USERNAME_KEY),
                password_key=_default(queue.get("password_key"), DEFAULT_PASSWORD_KEY),
                ca_config_map=queue.get("ca_config_map") or "",
                ca_key=_default(queue.get("ca_key"), DEFAULT_CA_KEY),
            ),
            tasks_per_worker=params["tasks_per_worker"],
            max_replicas=params["max_replicas"],
            min_replicas=_default(params.get("min_replicas"), DEFAULT_MIN_REPLICAS),
            engine=_default(params.get("engine"), DEFAULT_ENGINE),
            enabled=_default(params.get("enabled"), True),
            batch_id=params.get("batch_id") or "",
            activation_lag=_default(params.get("activation_lag"), DEFAULT_ACTIVATION_LAG),
            scale_up=_speed(params.get("scale_up"), DEFAULT_SCALE_UP),
            scale_down=_speed(params.get("scale_down"), DEFAULT_SCALE_DOWN),
            polling_interval=_default(params.get("polling_interval"), DEFAULT_POLLING_INTERVAL),
            cooldown_period=_default(params.get("cooldown_period"), DEFAULT_COOLDOWN_PERIOD),
            hpa_sync_period=_default(params.get("hpa_sync_period"), DEFAULT_SYNC_PERIOD_SECONDS),
            metrics_scrape_interval=_default(params.get("metrics_scrape_interval"), DEFAULT_METRICS_SCRAPE_INTERVAL),
            pod_ready_seconds=_default(params.get("pod_ready_seconds"), DEFAULT_POD_READY_SECONDS),
            target_scale_up_seconds=_default(params.get("target_scale_up_seconds"), DEFAULT_TARGET_SCALE_UP_SECONDS),
            worker_pdb=pdb_intent(params.get("worker_pdb")),
            worker_termination_grace_period_seconds=_default(
                params.get("worker_termination_grace_period_seconds"), DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS),
            max_task_seconds=params.get("max_task_seconds"),
            termination_margin_seconds=_default(params.get("termination_margin_seconds"),
                                                DEFAULT_TERMINATION_MARGIN_SECONDS),
            max_pods_removed_per_period=_default(params.get("max_pods_removed_per_period"),
                                                 DEFAULT_MAX_PODS_REMOVED_PER_PERIOD),
            lag_metric_name=_default(params.get("lag_metric_name"), DEFAULT_LAG_METRIC_NAME),
            pending_metric_name=_default(params.get("pending_metric_name"), DEFAULT_PENDING_METRIC_NAME),
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
class AutoscalingPlan:
    """The decided ``worker.autoscaling`` values; :meth:`to_values` has exactly the chart's keys.

    Two signals, each its own trigger (KEDA) or External metric (HPA); the HPA takes the larger proposal:

    * ``lag`` with target ``lag_count`` per worker: the backlog. The only signal that can scale up from zero
      workers (``pending`` is 0 when no worker runs).
    * ``pending`` with target ``pending_entries_count`` = 1 per worker: the tasks in flight. While a backlog lasts
      every worker holds one, so ``pending`` equals the worker count and the HPA never proposes fewer workers: no
      scale-down in the middle of a batch, where a terminating worker would take one more task and requeue it
      (burning one of its attempts). Once the backlog is gone it keeps one worker per running task, and it keeps the
      ScaledObject active (no scale to zero) while any task runs.

    Summing the two in one ``scalingModifiers`` formula, ``(lag + pending) / lagCount``, would do neither: with
    ``lagCount`` above 1 it proposes fewer workers than tasks running, and it falls while the lag drains."""

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
    ca_config_map: str
    ca_key: str
    polling_interval: int
    cooldown_period: int
    lag_count: int
    activation_lag_count: int
    lag_metric_name: str
    pending_metric_name: str
    pending_entries_count: int = TASKS_IN_FLIGHT_PER_WORKER
    stream_prefix: str = STREAM_PREFIX
    consumer_group: str = CONSUMER_GROUP

    @property
    def hpa_min_replicas(self) -> int:
        """The HPA's minReplicas: KEDA handles 0 <-> 1 itself and gives its HPA at least 1."""
        return max(1, self.min_replicas)

    def behavior(self) -> Dict[str, Any]:
        return {"scaleUp": self.scale_up.to_dict(), "scaleDown": self.scale_down.to_dict()}

    def to_values(self) -> Dict[str, Any]:
        return {
            "enabled": self.enabled,
            "engine": self.engine,
            "minReplicas": self.min_replicas,
            "maxReplicas": self.max_replicas,
            "behavior": self.behavior(),
            "stream": {"prefix": self.stream_prefix, "consumerGroup": self.consumer_group},
            "redis": {
                "address": self.redis_address,
                "enableTLS": self.redis_tls,
                "databaseIndex": self.redis_database,
                "auth": {
                    "secretName": self.auth_secret_name,
                    "usernameKey": self.auth_username_key,
                    "passwordKey": self.auth_password_key,
                },
                "caConfigMap": {"name": self.ca_config_map, "key": self.ca_key},
            },
            "keda": {
                "pollingInterval": self.polling_interval,
                "cooldownPeriod": self.cooldown_period,
                "lagCount": self.lag_count,
                "activationLagCount": self.activation_lag_count,
                "pendingEntriesCount": self.pending_entries_count,
            },
            "external": {
                "lagMetricName": self.lag_metric_name,
                "lagAverageValue": str(self.lag_count),
                "pendingMetricName": self.pending_metric_name,
                "pendingAverageValue": str(self.pending_entries_count),
            },
        }


def plan(intent: AutoscalingIntent) -> AutoscalingPlan:
    """The chart values for ``intent``. Total: never raises; :func:`validate` says whether they are any good."""
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
        ca_config_map=intent.queue.ca_config_map,
        ca_key=intent.queue.ca_key,
        polling_interval=intent.polling_interval,
        cooldown_period=intent.cooldown_period,
        lag_count=intent.tasks_per_worker,
        activation_lag_count=intent.activation_lag,
        lag_metric_name=intent.lag_metric_name,
        pending_metric_name=intent.pending_metric_name,
    )


# --------------------------------------------------------------------------------------------------------------
# Timing


def scale_up_timing(
    autoscaling_plan: AutoscalingPlan,
    hpa_sync_period: int = DEFAULT_SYNC_PERIOD_SECONDS,
    pod_ready_seconds: int = DEFAULT_POD_READY_SECONDS,
    metric_staleness_seconds: int = 0,
) -> ScaleUpTiming:
    """The full worst-case breakdown (see :func:`.hpa.worst_case_scale_up`) for a sudden lag.

    With engine ``keda`` and minReplicas 0, the 0 -> 1 step is KEDA's activation at its ``pollingInterval``. The
    pending metric only ever asks for as many workers as exist, so the lag alone drives the scale-up."""
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
    """Size of the sudden lag the worst-case figure assumes (enough to demand maxReplicas from any count)."""
    return max(sustained_backlog(autoscaling_plan.max_replicas, autoscaling_plan.lag_count, tolerance),
               autoscaling_plan.activation_lag_count + 1)


def is_active(autoscaling_plan: AutoscalingPlan, lag: int, pending: int) -> bool:
    """KEDA's activity: the lag trigger is active above activationLagCount, the pending one above 0."""
    return lag > autoscaling_plan.activation_lag_count or pending > 0


def desired_replicas(
    autoscaling_plan: AutoscalingPlan,
    lag: int,
    pending: int,
    current_replicas: Optional[int] = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> int:
    """The replica count the autoscaler wants for ``lag`` waiting and ``pending`` running tasks, within min/max.

    With engine ``keda`` and minReplicas 0, an inactive stream (see :func:`is_active`) means 0 (KEDA scales to zero
    once cooldownPeriod has passed). Otherwise the larger of the two metrics' proposals, each ``ceil(value /
    target)``; with ``current_replicas`` the HPA's tolerance applies to each (no change while the usage ratio is
    within 10 %). A lag that Redis cannot determine (``None``) is read by KEDA as a negative number: no backlog."""
    lag = max(0, lag or 0)
    if autoscaling_plan.engine == ENGINE_KEDA and autoscaling_plan.min_replicas == 0 \
            and not is_active(autoscaling_plan, lag, pending):
        return 0
    proposals = [
        external_average_value_replicas(lag, autoscaling_plan.lag_count, current_replicas or 0, tolerance),
        external_average_value_replicas(pending, autoscaling_plan.pending_entries_count, current_replicas or 0,
                                        tolerance),
    ]
    return min(autoscaling_plan.max_replicas, max(autoscaling_plan.hpa_min_replicas, *proposals))


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


def _queue_problems(queue: QueueIntent) -> List[Problem]:
    problems: List[Problem] = []
    add = problems.append
    if queue.address:
        try:
            split_address(queue.address)
        except ValueError as exc:
            add(Problem(ERROR, "queue.address", "queue.address %r: %s" % (queue.address, exc)))
    if queue.database < 0:
        add(Problem(ERROR, "queue.database", "queue.database must not be negative"))
    if not queue.password_key:
        add(Problem(ERROR, "queue.password_key", "queue.password_key must name the Secret key of the Redis password"))
    for option, value, required in (("queue.password_key", queue.password_key, False),
                                    ("queue.username_key", queue.username_key, False),
                                    ("queue.ca_key", queue.ca_key, True)):
        if value and not _SECRET_KEY.match(value) or (required and not value):
            add(Problem(ERROR, option, "%s %r is not a valid Secret/ConfigMap key (letters, digits, '-', '_', '.')"
                        % (option, value)))
    for option, value in (("queue.credentials_secret", queue.credentials_secret),
                          ("queue.ca_config_map", queue.ca_config_map)):
        if value and not _DNS_SUBDOMAIN.match(value):
            add(Problem(ERROR, option, "%s %r is not a valid Kubernetes object name" % (option, value)))
    if queue.ca_config_map and not queue.tls:
        add(Problem(WARNING, "queue.ca_config_map", "queue.ca_config_map is set but queue.tls is false: KEDA "
                    "connects without TLS and never uses the CA"))
    return problems


def _structure_problems(intent: AutoscalingIntent) -> List[Problem]:
    """Problems that make the values unusable, before any timing is computed."""
    problems: List[Problem] = []
    add = problems.append
    if intent.engine not in ENGINES:
        add(Problem(ERROR, "engine", "engine must be one of %s, not %r" % (", ".join(ENGINES), intent.engine)))
    if intent.tasks_per_worker < 1:
        add(Problem(ERROR, "tasks_per_worker", "tasks_per_worker must be at least 1, not %d: it is the target lag "
                    "per worker (lagCount / the lag metric's averageValue), and a zero target cannot be divided by"
                    % intent.tasks_per_worker))
    if intent.max_replicas < 1:
        add(Problem(ERROR, "max_replicas", "max_replicas must be at least 1, not %d" % intent.max_replicas))
    if intent.min_replicas < 0:
        add(Problem(ERROR, "min_replicas", "min_replicas must not be negative, not %d" % intent.min_replicas))
    if intent.max_replicas < intent.min_replicas:
        add(Problem(ERROR, "max_replicas", "max_replicas (%d) is lower than min_replicas (%d): raise max_replicas or "
                    "lower min_replicas" % (intent.max_replicas, intent.min_replicas)))
    if intent.activation_lag < 0:
        add(Problem(ERROR, "activation_lag", "activation_lag must not be negative"))
    if intent.engine == ENGINE_KEDA and intent.activation_lag > 0 and intent.min_replicas >= 1:
        add(Problem(ERROR, "activation_lag", "activation_lag (%d) is ignored by KEDA while min_replicas (%d) is 1 or "
                    "more: activation only decides between 0 and 1 replica. Set activation_lag to 0, or min_replicas "
                    "to 0 to scale to zero" % (intent.activation_lag, intent.min_replicas)))
    if intent.engine == ENGINE_HPA:
        if intent.min_replicas < 1:
            add(Problem(ERROR, "min_replicas", "engine hpa cannot scale to zero (the HPA needs the alpha "
                        "HPAScaleToZero feature gate): set min_replicas to 1 or more, or engine to keda"))
        if intent.activation_lag > 0:
            add(Problem(ERROR, "activation_lag", "activation_lag is a KEDA setting and has no effect with engine "
                        "hpa: set it to 0"))
    for option in ("lag_metric_name", "pending_metric_name"):
        if not getattr(intent, option):
            add(Problem(ERROR, option, "%s must not be empty" % option))
    if intent.batch_id and not _BATCH_ID.match(intent.batch_id):
        add(Problem(ERROR, "batch_id", "batch_id %r is not a batch id (the UUID the producer prints as 'Created "
                    "batch: <uuid>'; letters, digits, '-', '_', '.')" % intent.batch_id))
    problems += _queue_problems(intent.queue)

    # Speeds and timings
    problems += _speed_problems("scale_up", intent.scale_up)
    problems += _speed_problems("scale_down", intent.scale_down)
    for name, minimum in (("polling_interval", 1), ("cooldown_period", 0), ("hpa_sync_period", 1),
                          ("metrics_scrape_interval", 0), ("pod_ready_seconds", 0), ("target_scale_up_seconds", 1),
                          ("worker_termination_grace_period_seconds", 0), ("termination_margin_seconds", 0),
                          ("max_pods_removed_per_period", 1)):
        if getattr(intent, name) < minimum:
            add(Problem(ERROR, name, "%s must be at least %d, not %d" % (name, minimum, getattr(intent, name))))
    if intent.max_task_seconds is not None and intent.max_task_seconds < 1:
        add(Problem(ERROR, "max_task_seconds", "max_task_seconds must be at least 1"))

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


def required_grace_seconds(intent: AutoscalingIntent) -> Optional[int]:
    """The shortest ``terminationGracePeriodSeconds`` that lets a worker finish its longest task after SIGTERM."""
    if intent.max_task_seconds is None:
        return None
    return intent.max_task_seconds + intent.termination_margin_seconds


def _grace_problems(intent: AutoscalingIntent) -> List[Problem]:
    """The grace period must cover the longest task: nothing reclaims the pending entry of a killed worker.

    On SIGTERM the application's worker finishes its task and acks it, then exits only when the next message
    arrives (which it requeues); an idle worker never exits. So SIGKILL at the end of the grace period always
    comes, and it must not come before the ack (contract 2.3 and 3: no XCLAIM, no XAUTOCLAIM anywhere)."""
    grace = intent.worker_termination_grace_period_seconds
    needed = required_grace_seconds(intent)
    if needed is None:
        return [Problem(ERROR, "max_task_seconds", "max_task_seconds is not set, so nothing proves that a worker "
                        "removed by scale-in (terminationGracePeriodSeconds %d) acks its task before SIGKILL; the "
                        "application never reclaims the pending entry of a killed worker, so that task would be lost "
                        "for the batch. Set max_task_seconds to the longest task you accept" % grace)]
    if grace < needed:
        return [Problem(ERROR, "worker_termination_grace_period_seconds", "the worker's terminationGracePeriodSeconds "
                        "(%d) is shorter than max_task_seconds (%d) + termination_margin_seconds (%d): a worker "
                        "removed by scale-in is SIGKILLed mid-task and its pending entry stays in the group's PEL "
                        "forever (nothing reclaims it). Set worker.terminationGracePeriodSeconds to %d or more"
                        % (grace, intent.max_task_seconds, intent.termination_margin_seconds, needed))]
    return []


def _scale_down_rate_problems(intent: AutoscalingIntent, autoscaling_plan: AutoscalingPlan,
                              pdb: PdbIntent) -> List[Problem]:
    """How many workers one scale-down period removes: at most ``max_pods_removed_per_period``, and within the PDB."""
    problems: List[Problem] = []
    add = problems.append
    floor = autoscaling_plan.hpa_min_replicas
    rules = autoscaling_plan.scale_down
    period = intent.scale_down.period_seconds

    def culprits(replicas: int, allowed: int) -> List[Tuple[str, ScalingPolicy]]:
        return [("scale_down.pods_per_period" if policy.type == POLICY_PODS else "scale_down.percent_per_period",
                 policy) for policy in rules.policies
                if max_removed_per_period(replicas, ScalingRules((policy,)), floor) > allowed]

    def describe(found: List[Tuple[str, ScalingPolicy]]) -> str:
        return " and ".join("%s (%d)" % (name, policy.value) for name, policy in found) or \
            "scale_down.select_policy (%s)" % rules.select_policy

    worst_rate = None  # (removed, replicas)
    worst_pdb = None  # (excess, replicas, removed, allowed)
    for replicas in range(floor + 1, autoscaling_plan.max_replicas + 1):
        removed = max_removed_per_period(replicas, rules, floor)
        if removed > intent.max_pods_removed_per_period and (worst_rate is None or removed > worst_rate[0]):
            worst_rate = (removed, replicas)
        allowed = pdb_allowed_disruptions(pdb, replicas)
        if removed > allowed and (worst_pdb is None or removed - allowed > worst_pdb[0]):
            worst_pdb = (removed - allowed, replicas, removed, allowed)
    if worst_rate is not None:
        removed, replicas = worst_rate
        found = culprits(replicas, intent.max_pods_removed_per_period)
        add(Problem(ERROR, found[0][0] if found else "scale_down.select_policy",
                    "scale-down removes up to %d worker pods per %d s (at %d replicas), more than "
                    "max_pods_removed_per_period (%d): each removed worker may take one more task and requeue it, "
                    "spending one of the task's attempts. Lower %s, or raise max_pods_removed_per_period"
                    % (removed, period, replicas, intent.max_pods_removed_per_period, describe(found))))
    if worst_pdb is not None:
        replicas, removed, allowed = worst_pdb[1:]
        found = culprits(replicas, allowed)
        add(Problem(ERROR, found[0][0] if found else "scale_down.select_policy",
                    "scale-down removes up to %d worker pods per %d s at %d replicas, more than the %d disruption(s) "
                    "the worker PDB (%s) allows at that size: lower %s, or loosen worker_pdb"
                    % (removed, period, replicas, allowed, pdb.describe(), describe(found))))
    if pdb_allowed_disruptions(pdb, floor) == 0:
        add(Problem(ERROR, "worker_pdb", "the worker PDB (%s) allows no eviction at %d worker(s), the fewest the HPA "
                    "keeps (min_replicas=%d), so node drains block while the workers sit at their minimum: raise "
                    "min_replicas or loosen worker_pdb" % (pdb.describe(), floor, intent.min_replicas)))

    # A removed worker terminates for up to the whole grace period (an idle one ignores SIGTERM).
    grace = intent.worker_termination_grace_period_seconds
    if not rules.disabled and 0 < period < grace and autoscaling_plan.max_replicas > floor:
        removed_max = max_removed_per_period(autoscaling_plan.max_replicas, rules, floor)
        terminating = min(autoscaling_plan.max_replicas - floor, removed_max * int(math.ceil(float(grace) / period)))
        allowed_max = pdb_allowed_disruptions(pdb, autoscaling_plan.max_replicas)
        if terminating > allowed_max:
            add(Problem(WARNING, "scale_down.period_seconds", "workers removed in one scale-down period stay "
                        "Terminating for up to terminationGracePeriodSeconds (%d s; an idle worker ignores SIGTERM) "
                        "when the next period removes more: up to %d workers terminating at once, while the worker "
                        "PDB allows %d; raise scale_down.period_seconds to %d to stay within it"
                        % (grace, terminating, allowed_max, grace)))
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

    Structural errors (min/max, zero targets, names, activation, ranges) are reported first; the scale-up time and
    scale-in safety are only judged when the structure is sound. A disabled autoscaler is only checked for
    structure."""
    autoscaling_plan = autoscaling_plan or plan(intent)
    pdb = pdb or intent.worker_pdb
    problems = _structure_problems(intent)
    if intent.enabled and not any(problem.is_error for problem in problems):
        problems += _timing_problems(intent, timing or intent_scale_up_timing(intent, autoscaling_plan))
        problems += _grace_problems(intent)
        problems += _scale_down_rate_problems(intent, autoscaling_plan, pdb)
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

    @property
    def errors(self) -> List[Problem]:
        return [problem for problem in self.problems if problem.is_error]

    @property
    def warnings(self) -> List[Problem]:
        return [problem for problem in self.problems if not problem.is_error]


def scale_in_summary(intent: AutoscalingIntent, autoscaling_plan: AutoscalingPlan) -> Dict[str, Any]:
    """Scale-in figures: the fastest removal per period, what the PDB allows, the time from max back to min, and
    the grace period the longest task needs.

    Call it on a structurally valid intent (the PDB values must parse)."""
    floor = autoscaling_plan.hpa_min_replicas
    rules = autoscaling_plan.scale_down
    removed = max([max_removed_per_period(r, rules, floor) for r in range(floor + 1, autoscaling_plan.max_replicas + 1)]
                  or [0])
    to_floor = scale_down_seconds(rules, autoscaling_plan.max_replicas, floor, intent.hpa_sync_period,
                                  intent.metric_staleness_seconds)
    if autoscaling_plan.engine == ENGINE_KEDA and autoscaling_plan.min_replicas == 0:
        # KEDA scales straight to zero once no trigger was active (lag at or below activation, nothing pending)
        # for cooldownPeriod.
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
        "termination_grace_period_seconds": intent.worker_termination_grace_period_seconds,
        "required_grace_period_seconds": required_grace_seconds(intent),
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

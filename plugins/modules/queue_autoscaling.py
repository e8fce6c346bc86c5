#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

DOCUMENTATION = r"""
---
module: queue_autoscaling
short_description: Turn worker autoscaling intent into validated chart values, and prove the scale-up time
version_added: 0.1.0
author:
  - nl2api-deploy maintainers (@nl2api)
description:
  - Takes what the operator means (the Redis queue, jobs per worker, min and max replicas, how fast to scale up and
    down, the worker PodDisruptionBudget and grace period, and how fast a sudden backlog must be met) and returns
    RV(autoscaling), the C(worker.autoscaling) values of the nl2api chart. The chart renders the objects from them; this
    module decides the values.
  - With O(engine=keda) the chart renders a KEDA ScaledObject (redis list scaler, one trigger per counted list) and
    its TriggerAuthentication; with O(engine=hpa) an C(autoscaling/v2) HorizontalPodAutoscaler on an External
    metric. Never both, so the worker never has two autoscalers.
  - Every list is counted, the processing lists included (items a worker has already taken); with more than one list,
    KEDA's C(scalingModifiers) formula sums them, so jobs in flight keep counting toward the desired replicas and a
    queue whose items are all taken does not look empty. Workers that scale-in does remove finish their job within
    O(worker_termination_grace_period_seconds), which is checked against O(max_job_duration_seconds).
  - "Validation fails with messages naming the option to change: O(max_replicas) below O(min_replicas); a zero
    O(jobs_per_worker); O(activation_jobs) while O(min_replicas) is 1 or more (KEDA ignores it); processing lists that
    are not counted, key patterns and duplicates; a scale-down policy removing more pods per period than the worker
    PDB allows disruptions; a grace period shorter than the longest job; and a worst-case scale-up slower than
    O(target_scale_up_seconds)."
  - "The worst-case scale-up time (RV(scale_up.seconds)) is the time from the moment a sudden backlog lands, with
    the workers at O(min_replicas), until O(max_replicas) workers are Ready. It follows the Kubernetes HPA algorithm
    (C(pkg/controller/podautoscaler)): syncs every O(hpa_sync_period) seconds; the External metric's AverageValue
    proposal (counted items divided by O(jobs_per_worker), rounded up) with the 0.1 tolerance; each behavior policy bounding the change over
    its trailing C(periodSeconds), combined by C(selectPolicy); the scale-up stabilization window holding the count
    until older, lower recommendations have left it. It takes the slowest phase of the sync loop relative to the
    backlog, and the order of simultaneous events that delays scaling most."
  - "What it counts: KEDA activation when O(min_replicas=0) (KEDA's own loop polls every O(polling_interval) and
    scales 0 to 1, the HPA takes over at its next sync); the metric's age (0 with KEDA, whose metrics server reads
    the lists at every HPA request; O(metrics_scrape_interval) with O(engine=hpa)); the HPA sync period; the
    stabilization window; one policy-limited step per sync until O(max_replicas); and O(pod_ready_seconds) for the
    last pods created. The backlog is assumed large enough to ask for O(max_replicas) from every replica count below
    it, and to persist (RV(scale_up.backlog_items)). API-server, scheduling and image-pull latency are in
    O(pod_ready_seconds) or not counted."
  - Optionally reads the current depth of the counted lists from Redis (C(LLEN), pipelined) and reports the replica
    count the autoscaler wants for it (RV(desired_replicas)).
  - Changes nothing, anywhere; check mode runs everything, including the Redis read.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - nl2api.deploy.redis
attributes:
  check_mode:
    support: full
    details: The module only computes values and, with O(read_queue_depth=true), reads list lengths.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  engine:
    description:
      - V(keda) renders a KEDA ScaledObject and TriggerAuthentication (KEDA must be installed in the cluster);
        V(hpa) renders an HPA on the External metric O(external_metric_name), served by a metrics adapter.
    type: str
    choices: [keda, hpa]
    default: keda
  enabled:
    description:
      - V(false) turns worker autoscaling off in the chart (the worker then runs its fixed replica count). The values
        are still returned, but only their structure is validated.
    type: bool
    default: true
  queue:
    description:
      - The Redis queue the workers consume, as the autoscaler in the cluster reaches it.
    type: dict
    required: true
    suboptions:
      address:
        description:
          - C(host:port) of Redis as seen from the cluster (KEDA's operator pods), for example
            C(nl2api-redis.nl2api.svc.cluster.local:6379). C([v6]:port) for IPv6 literals.
          - When empty the chart derives it from its own Redis settings.
          - With O(read_queue_depth=true), also where the module connects unless O(login_host) / O(login_port) say
            otherwise.
        type: str
        default: ""
      lists:
        description:
          - The pending lists that workers take jobs from (exact key names).
        type: list
        elements: str
        required: true
      processing_lists:
        description:
          - The lists where workers keep items they have taken and not finished (the reliable-queue pattern,
            C(BLMOVE pending processing)). They are counted too, so a queue whose items are all in flight does not
            look empty.
        type: list
        elements: str
        default: []
      count_processing:
        description:
          - Count O(queue.processing_lists). V(false) is rejected when there are processing lists (the autoscaler
            would scale in under busy workers); it exists so that the intent can state it and be told why not.
        type: bool
        default: true
      tls:
        description:
          - The autoscaler connects to Redis with TLS (KEDA C(enableTLS)).
        type: bool
        default: false
      database:
        description:
          - Redis database number of the lists.
        type: int
        default: 0
      credentials_secret:
        description:
          - Name of the Kubernetes Secret holding the autoscaler's Redis credentials (referenced by the
            TriggerAuthentication). Empty means the app's Secret.
        type: str
        default: ""
      username_key:
        description:
          - Key of the Redis ACL user name in O(queue.credentials_secret). Empty for password-only C(AUTH).
        type: str
        default: REDIS_USERNAME
      password_key:
        description:
          - Key of the Redis password in O(queue.credentials_secret).
        type: str
        default: REDIS_PASSWORD
  jobs_per_worker:
    description:
      - Target number of counted items (queued plus in flight) per worker replica; KEDA C(listLength), the HPA's
        C(averageValue).
    type: int
    required: true
  min_replicas:
    description:
      - Fewest workers. V(0) scales to zero (O(engine=keda) only); KEDA then handles 0 to 1 and its HPA starts at 1.
    type: int
    default: 1
  max_replicas:
    description:
      - Most workers.
    type: int
    required: true
  activation_jobs:
    description:
      - With O(min_replicas=0), the counted items at or below which KEDA keeps the workers at zero
        (C(activationListLength)). Must be 0 otherwise, because KEDA ignores it then.
    type: int
    default: 0
  scale_up:
    description:
      - How fast the worker count may grow (the HPA C(behavior.scaleUp)). Defaults are the HPA's own defaults.
      - Both policies share O(scale_up.period_seconds); V(0) drops a policy.
    type: dict
    suboptions:
      pods_per_period:
        description: Pods that may be added per period.
        type: int
        default: 4
      percent_per_period:
        description: Percent of the count at the start of the period that may be added per period.
        type: int
        default: 100
      period_seconds:
        description: Length of the policy window (1 to 1800).
        type: int
        default: 15
      stabilization_window_seconds:
        description:
          - Seconds of recommendations to consider; the count only rises to the lowest recommendation of the window
            (0 to 3600).
        type: int
        default: 0
      select_policy:
        description: V(Max) uses the policy allowing the larger change, V(Min) the smaller, V(Disabled) none.
        type: str
        choices: [Max, Min, Disabled]
        default: Max
  scale_down:
    description:
      - How fast the worker count may shrink (the HPA C(behavior.scaleDown)). Checked against O(worker_pdb).
      - Both policies share O(scale_down.period_seconds); V(0) drops a policy.
    type: dict
    suboptions:
      pods_per_period:
        description: Pods that may be removed per period.
        type: int
        default: 1
      percent_per_period:
        description: Percent of the count at the start of the period that may be removed per period.
        type: int
        default: 0
      period_seconds:
        description: Length of the policy window (1 to 1800).
        type: int
        default: 60
      stabilization_window_seconds:
        description:
          - Seconds of recommendations to consider; the count only falls to the highest recommendation of the window
            (0 to 3600).
        type: int
        default: 300
      select_policy:
        description: V(Max) uses the policy allowing the larger change, V(Min) the smaller, V(Disabled) none.
        type: str
        choices: [Max, Min, Disabled]
        default: Max
  polling_interval:
    description:
      - KEDA C(pollingInterval) in seconds; how often KEDA checks activation (0 to 1 and back).
    type: int
    default: 15
  cooldown_period:
    description:
      - KEDA C(cooldownPeriod) in seconds; how long the lists must stay at or below O(activation_jobs) before KEDA
        scales to zero (with O(min_replicas=0)).
    type: int
    default: 300
  hpa_sync_period:
    description:
      - The cluster's HPA sync period in seconds (kube-controller-manager C(--horizontal-pod-autoscaler-sync-period)).
        Only used for the scale-up time.
    type: int
    default: 15
  metrics_scrape_interval:
    description:
      - With O(engine=hpa), how old the External metric may be when the HPA reads it (exporter scrape interval plus
        adapter caching). Only used for the scale-up time.
    type: int
    default: 30
  pod_ready_seconds:
    description:
      - Seconds from a worker pod's creation to Ready (scheduling, image pull, start-up). Added to the scale-up time.
    type: int
    default: 30
  target_scale_up_seconds:
    description:
      - The worst-case scale-up time must not exceed this many seconds.
    type: int
    default: 120
  worker_pdb:
    description:
      - The worker PodDisruptionBudget as the chart renders it (C(worker.podDisruptionBudget)); set one of
        O(worker_pdb.max_unavailable) and O(worker_pdb.min_available).
      - "When neither is set, the chart's default C(minAvailable: 1) is assumed."
    type: dict
    suboptions:
      enabled:
        description: V(false) when the chart renders no worker PDB (every pod may then be evicted at once).
        type: bool
        default: true
      max_unavailable:
        description: C(maxUnavailable), an integer or a percentage such as V(25%).
        type: raw
      min_available:
        description: C(minAvailable), an integer or a percentage such as V(50%).
        type: raw
  worker_termination_grace_period_seconds:
    description:
      - The worker pods' C(terminationGracePeriodSeconds) (chart C(worker.terminationGracePeriodSeconds)). Must cover
        O(max_job_duration_seconds), or scale-in kills jobs mid-way.
    type: int
    default: 300
  max_job_duration_seconds:
    description:
      - Longest time one job may take. Without it, scale-in safety against the grace period cannot be proven (a
        warning).
    type: int
  external_metric_name:
    description:
      - With O(engine=hpa), name of the External metric (the sum of the counted lists) served by the metrics adapter.
    type: str
    default: redis_list_length
  read_queue_depth:
    description:
      - Read the length of every counted list from Redis and return RV(queue_depth) and RV(desired_replicas).
      - Connects with the Redis connection options, defaulting to O(queue.address), O(queue.tls) and
        O(queue.database).
    type: bool
    default: false
  current_replicas:
    description:
      - The worker count now, to apply the HPA's tolerance to RV(desired_replicas) (no change while within 10 %).
    type: int
  fail_on_errors:
    description:
      - Fail the task when validation finds an error. With V(false) the task succeeds and RV(passed) and
        RV(problems) tell the result.
    type: bool
    default: true
requirements:
  - python >= 3.9
notes:
  - The redis-py library is only needed with O(read_queue_depth=true).
  - KEDA's redis scaler reads a list with C(EVAL) (a script calling C(TYPE) and C(LLEN)); its ACL user needs
    C(+eval +type +llen) on the list keys, more than this module's C(LLEN) read.
seealso:
  - name: KEDA Redis Lists scaler
    description: The trigger the chart renders with O(engine=keda).
    link: https://keda.sh/docs/latest/scalers/redis-lists/
  - name: Horizontal Pod Autoscaling
    description: The algorithm the scale-up time follows.
    link: https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#algorithm-details
"""

EXAMPLES = r"""
- name: Decide the worker autoscaling values for prod
  nl2api.deploy.queue_autoscaling:
    queue:
      address: nl2api-redis.nl2api.svc.cluster.local:6379
      tls: true
      lists: ["nl2api:evaluations"]
      processing_lists: ["nl2api:evaluations:processing"]
      credentials_secret: nl2api-redis-scaler
    jobs_per_worker: 5
    min_replicas: 2
    max_replicas: 20
    max_job_duration_seconds: 240
    target_scale_up_seconds: 120
  delegate_to: localhost
  register: worker_autoscaling

- name: Show the proven scale-up time
  ansible.builtin.debug:
    msg: >-
      workers scale from {{ worker_autoscaling.scale_up.from_replicas }} to
      {{ worker_autoscaling.scale_up.to_replicas }} in {{ worker_autoscaling.scale_up.seconds }} s at worst
      (target {{ worker_autoscaling.scale_up.target_seconds }} s)

- name: Deploy the chart with them
  kubernetes.core.helm:
    name: nl2api
    chart_ref: "{{ role_path }}/../../deploy/helm/nl2api"
    release_namespace: nl2api
    values: "{{ nl2api_chart_values | combine({'worker': {'autoscaling': worker_autoscaling.autoscaling}}, recursive=true) }}"

- name: Scale to zero, slower scale-down, percentages in the PDB
  nl2api.deploy.queue_autoscaling:
    queue:
      lists: ["nl2api:evaluations"]
      processing_lists: ["nl2api:evaluations:processing"]
    jobs_per_worker: 3
    min_replicas: 0
    max_replicas: 8
    activation_jobs: 0
    scale_down:
      pods_per_period: 1
      period_seconds: 120
    worker_pdb:
      max_unavailable: 25%
    max_job_duration_seconds: 120
  delegate_to: localhost

- name: How many workers would the autoscaler want right now?
  nl2api.deploy.queue_autoscaling:
    queue:
      address: nl2api-redis.nl2api.svc.cluster.local:6379
      tls: true
      lists: ["nl2api:evaluations"]
      processing_lists: ["nl2api:evaluations:processing"]
    jobs_per_worker: 5
    min_replicas: 2
    max_replicas: 20
    read_queue_depth: true
    login_host: 127.0.0.1
    login_port: 16379
    login_user: scaler
    login_password: "{{ nl2api_redis_scaler_password }}"
    ca_file: /etc/nl2api/redis-ca.pem
  delegate_to: localhost
  register: depth
"""

RETURN = r"""
autoscaling:
  description:
    - "The chart's C(worker.autoscaling) values; pass them to the chart as C({worker: {autoscaling: result.autoscaling}})."
  returned: always
  type: dict
  contains:
    enabled:
      description: Whether the chart renders an autoscaler.
      type: bool
    engine:
      description: V(keda) or V(hpa).
      type: str
    minReplicas:
      description: Fewest workers (KEDA C(minReplicaCount) or HPA C(minReplicas)).
      type: int
    maxReplicas:
      description: Most workers.
      type: int
    behavior:
      description: C(autoscaling/v2) HorizontalPodAutoscalerBehavior with explicit C(scaleUp) and C(scaleDown).
      type: dict
    redis:
      description: C(address), C(enableTLS), C(databaseIndex) and C(auth) (C(secretName), C(usernameKey), C(passwordKey)).
      type: dict
    lists:
      description: Every counted list, C(name) and C(role) (V(pending) or V(processing)).
      type: list
      elements: dict
    keda:
      description: C(pollingInterval), C(cooldownPeriod), C(listLength), C(activationListLength) and
        C(scalingModifiersFormula) (the sum of the trigger names when several lists are counted, else empty).
      type: dict
    external:
      description: C(metricName) and C(averageValue) of the External metric (engine hpa).
      type: dict
  sample:
    enabled: true
    engine: keda
    minReplicas: 2
    maxReplicas: 20
    behavior:
      scaleUp:
        stabilizationWindowSeconds: 0
        selectPolicy: Max
        policies: [{type: Pods, value: 4, periodSeconds: 15}, {type: Percent, value: 100, periodSeconds: 15}]
      scaleDown:
        stabilizationWindowSeconds: 300
        selectPolicy: Max
        policies: [{type: Pods, value: 1, periodSeconds: 60}]
    redis:
      address: nl2api-redis.nl2api.svc.cluster.local:6379
      enableTLS: true
      databaseIndex: 0
      auth: {secretName: nl2api-redis-scaler, usernameKey: REDIS_USERNAME, passwordKey: REDIS_PASSWORD}
    lists:
      - {name: "nl2api:evaluations", role: pending}
      - {name: "nl2api:evaluations:processing", role: processing}
    keda:
      pollingInterval: 15
      cooldownPeriod: 300
      listLength: 5
      activationListLength: 0
      scalingModifiersFormula: pending_0 + processing_1
    external: {metricName: redis_list_length, averageValue: "5"}
scale_up:
  description:
    - The worst-case scale-up from RV(scale_up.from_replicas) to RV(scale_up.to_replicas) for a sudden backlog.
    - Not returned when the intent is structurally invalid.
  returned: when the intent's structure is valid
  type: dict
  contains:
    seconds:
      description:
        - Seconds from the backlog landing until O(max_replicas) workers are Ready, slowest phase of the controller
          loops. V(null) when scale-up is disabled.
      type: int
      sample: 75
    target_seconds:
      description: O(target_scale_up_seconds).
      type: int
      sample: 120
    within_target:
      description: Whether RV(scale_up.seconds) is at most the target.
      type: bool
      sample: true
    from_replicas:
      description: O(min_replicas).
      type: int
      sample: 2
    to_replicas:
      description: O(max_replicas).
      type: int
      sample: 20
    backlog_items:
      description: Size of the sudden backlog assumed (enough to ask for O(max_replicas) from every lower count).
      type: int
      sample: 105
    phases:
      description:
        - Where the time goes. C(activation_seconds) (KEDA 0 to 1), C(detection_seconds) (until the first HPA sync
          acting on the backlog, activation included), C(stabilization_seconds), C(rate_limit_seconds) (policy-limited
          steps), C(pod_ready_seconds).
      type: dict
      sample: {activation_seconds: 0, detection_seconds: 15, stabilization_seconds: 0, rate_limit_seconds: 30,
               pod_ready_seconds: 30}
    scaling_syncs:
      description: HPA syncs from the first scaling one to the one setting O(max_replicas).
      type: int
      sample: 3
    timeline:
      description: Each change of the replica count in the worst case, C(at_seconds) after the backlog.
      type: list
      elements: dict
      sample: [{at_seconds: 15, replicas: 6}, {at_seconds: 30, replicas: 12}, {at_seconds: 45, replicas: 20}]
scale_in:
  description:
    - Scale-in figures once the queue is empty. C(seconds) is the worst case from O(max_replicas) back to
      O(min_replicas) (with O(min_replicas=0), KEDA's O(cooldown_period) plus O(polling_interval)).
  returned: when the intent's structure is valid
  type: dict
  sample:
    seconds: 1320
    from_replicas: 20
    to_replicas: 2
    max_pods_removed_per_period: 1
    period_seconds: 60
    pdb_allowed_disruptions_at_min: 1
problems:
  description: Every error and warning, each naming the option to change. Errors come first.
  returned: always
  type: list
  elements: dict
  contains:
    severity:
      description: V(error) or V(warning).
      type: str
    option:
      description: The module option (dotted for sub-options) to change.
      type: str
    message:
      description: What is wrong and what to do.
      type: str
  sample:
    - severity: error
      option: activation_jobs
      message: "activation_jobs (3) is ignored by KEDA while min_replicas (2) is 1 or more: ..."
passed:
  description: V(true) when there is no error.
  returned: always
  type: bool
  sample: true
queue_depth:
  description: Length of each counted list and their sum.
  returned: when O(read_queue_depth=true) and validation found no error
  type: dict
  sample: {lists: {"nl2api:evaluations": 37, "nl2api:evaluations:processing": 8}, total: 45}
desired_replicas:
  description:
    - The replica count the autoscaler wants for RV(queue_depth) (before rate limits), within the replica bounds;
      V(0) when KEDA would deactivate a scale-to-zero worker.
  returned: when O(read_queue_depth=true) and validation found no error
  type: int
  sample: 9
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nl2api.deploy.plugins.module_utils.queue_autoscaling import (
    AutoscalingIntent,
    assess,
    desired_replicas,
    list_names,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.redis_connection import (
    REDIS_REQUIRED_TOGETHER,
    redis_argument_spec,
    require_redis,
    split_address,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.redis_queue import QueueReadError, read_queue_depth


def _speed_spec(pods, percent, period, window):
    return dict(
        type="dict",
        apply_defaults=True,
        options=dict(
            pods_per_period=dict(type="int", default=pods),
            percent_per_period=dict(type="int", default=percent),
            period_seconds=dict(type="int", default=period),
            stabilization_window_seconds=dict(type="int", default=window),
            select_policy=dict(type="str", default="Max", choices=["Max", "Min", "Disabled"]),
        ),
    )


def argument_spec():
    spec = dict(
        engine=dict(type="str", default="keda", choices=["keda", "hpa"]),
        enabled=dict(type="bool", default=True),
        queue=dict(
            type="dict",
            required=True,
            options=dict(
                address=dict(type="str", default=""),
                lists=dict(type="list", elements="str", required=True),
                processing_lists=dict(type="list", elements="str", default=[]),
                count_processing=dict(type="bool", default=True),
                tls=dict(type="bool", default=False),
                database=dict(type="int", default=0),
                credentials_secret=dict(type="str", default="", no_log=False),
                username_key=dict(type="str", default="REDIS_USERNAME", no_log=False),
                password_key=dict(type="str", default="REDIS_PASSWORD", no_log=False),
            ),
        ),
        jobs_per_worker=dict(type="int", required=True),
        min_replicas=dict(type="int", default=1),
        max_replicas=dict(type="int", required=True),
        activation_jobs=dict(type="int", default=0),
        scale_up=_speed_spec(4, 100, 15, 0),
        scale_down=_speed_spec(1, 0, 60, 300),
        polling_interval=dict(type="int", default=15),
        cooldown_period=dict(type="int", default=300),
        hpa_sync_period=dict(type="int", default=15),
        metrics_scrape_interval=dict(type="int", default=30),
        pod_ready_seconds=dict(type="int", default=30),
        target_scale_up_seconds=dict(type="int", default=120),
        worker_pdb=dict(
            type="dict",
            options=dict(enabled=dict(type="bool", default=True), max_unavailable=dict(type="raw"),
                         min_available=dict(type="raw")),
            mutually_exclusive=[("max_unavailable", "min_available")],
        ),
        worker_termination_grace_period_seconds=dict(type="int", default=300),
        max_job_duration_seconds=dict(type="int"),
        external_metric_name=dict(type="str", default="redis_list_length"),
        read_queue_depth=dict(type="bool", default=False),
        current_replicas=dict(type="int"),
        fail_on_errors=dict(type="bool", default=True),
    )
    spec.update(redis_argument_spec())
    return spec


def connection_defaults(queue):
    """Where to connect when the login_* options are not set: the autoscaler's own view of the queue."""
    defaults = {"tls": queue.get("tls"), "db": queue.get("database")}
    if queue.get("address"):
        defaults["host"], defaults["port"] = split_address(queue["address"])
    return defaults


def build_result(assessment, target_seconds):
    result = dict(
        changed=False,
        autoscaling=assessment.plan.to_values(),
        problems=[problem.to_dict() for problem in assessment.problems],
        passed=not assessment.errors,
    )
    if assessment.scale_up is not None:
        scale_up = assessment.scale_up.to_dict()
        scale_up.update(
            target_seconds=target_seconds,
            within_target=scale_up["seconds"] is not None and scale_up["seconds"] <= target_seconds,
            backlog_items=assessment.backlog_items,
        )
        result["scale_up"] = scale_up
        result["scale_in"] = assessment.scale_in
    return result


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        required_together=REDIS_REQUIRED_TOGETHER,
        supports_check_mode=True,
    )
    params = module.params
    assessment = assess(AutoscalingIntent.from_params(params))
    result = build_result(assessment, params["target_scale_up_seconds"])
    for problem in assessment.warnings:
        module.warn(problem.message)
    if assessment.errors and params["fail_on_errors"]:
        module.fail_json(msg="worker autoscaling: %s" % "; ".join(problem.message for problem in assessment.errors),
                         **result)

    if params["read_queue_depth"] and not assessment.errors:
        require_redis(module)
        if not params["queue"]["address"] and not params["login_host"]:
            module.fail_json(msg="read_queue_depth needs login_host, or queue.address to connect to", **result)
        try:
            depth = read_queue_depth(params, list_names(assessment.plan), connection_defaults(params["queue"]))
        except QueueReadError as exc:
            module.fail_json(msg=str(exc), **result)
        result["queue_depth"] = depth.to_dict()
        result["desired_replicas"] = desired_replicas(assessment.plan, depth.total, params["current_replicas"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()

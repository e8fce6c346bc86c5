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
  - Takes what the operator means (tasks per worker, min and max replicas, how fast to scale up and down, the
    longest task, and how fast a sudden backlog must be met) and returns RV(autoscaling), the C(worker.autoscaling)
    values of the nl2api chart. The chart renders the objects from them; this module decides the values.
  - The queue is the application's Redis Stream C(eval:tasks:<batch_id>), consumed by the group C(eval-workers).
    There is one stream per batch, so the chart renders the autoscaler only for a release with C(worker.batchId).
  - With O(engine=keda) the chart renders a KEDA ScaledObject with two C(redis-streams) triggers and a
    TriggerAuthentication (Redis user, password and TLS CA); with O(engine=hpa) an C(autoscaling/v2)
    HorizontalPodAutoscaler on two External metrics served by a metrics adapter. Never both.
  - "The two signals: C(lag) (entries not yet delivered to any worker, KEDA C(lagCount) with target
    O(tasks_per_worker); the only one that scales up from zero) and C(pending) (delivered, not yet acked: the tasks
    running; C(pendingEntriesCount) with target 1, since a worker runs one task at a time). The HPA takes the larger
    proposal. While a backlog lasts every worker holds a task, so C(pending) equals the worker count and no worker is
    removed in the middle of a batch; afterwards one worker per running task is kept, and KEDA does not scale to
    zero while a task runs."
  - "Scale-in must lose no task. The application never reclaims the pending entry of a killed worker, and an idle
    worker ignores SIGTERM, so SIGKILL at the end of the grace period always comes. The worker's
    C(terminationGracePeriodSeconds) must therefore cover O(max_task_seconds) plus O(termination_margin_seconds),
    and one scale-down period may remove at most O(max_pods_removed_per_period) workers (each may take one more
    task and requeue it, spending one of the task's attempts)."
  - "The worker PDB, the grace period, the longest task and the batch id are read from the chart's values as Helm
    merges them (O(chart_ref)'s C(values.yaml), then O(values_files) in order, then O(release_values)), unless
    O(worker_pdb), O(worker_termination_grace_period_seconds), O(max_task_seconds) or O(batch_id) state them."
  - "Validation fails with messages naming the option to change: O(max_replicas) below O(min_replicas); a zero
    O(tasks_per_worker); O(activation_lag) while O(min_replicas) is 1 or more (KEDA ignores it); a grace period
    shorter than the longest task plus margin, or no O(max_task_seconds); a scale-down policy removing more pods per
    period than O(max_pods_removed_per_period) or than the worker PDB allows; and a worst-case scale-up slower than
    O(target_scale_up_seconds)."
  - "The worst-case scale-up time (RV(scale_up.seconds)) is the time from the moment a sudden backlog lands, with
    the workers at O(min_replicas), until O(max_replicas) workers are Ready. It follows the Kubernetes HPA algorithm
    (C(pkg/controller/podautoscaler)): syncs every O(hpa_sync_period) seconds; the External metric's AverageValue
    proposal (lag divided by O(tasks_per_worker), rounded up) with the 0.1 tolerance; each behavior policy bounding
    the change over its trailing C(periodSeconds), combined by C(selectPolicy); the scale-up stabilization window
    holding the count until older, lower recommendations have left it. It takes the slowest phase of the sync loop
    relative to the backlog, and the order of simultaneous events that delays scaling most."
  - "What it counts: KEDA activation when O(min_replicas=0) (KEDA's own loop polls every O(polling_interval) and
    scales 0 to 1, the HPA takes over at its next sync); the metric's age (0 with KEDA, whose metrics server reads
    the stream at every HPA request; O(metrics_scrape_interval) with O(engine=hpa)); the HPA sync period; the
    stabilization window; one policy-limited step per sync until O(max_replicas); and O(pod_ready_seconds) for the
    last pods created. API-server, scheduling and image-pull latency are in O(pod_ready_seconds) or not counted."
  - Optionally reads the group's lag and pending count on the batch's stream from Redis (C(XINFO GROUPS)) and
    reports the replica count the autoscaler wants for them (RV(desired_replicas)).
  - Changes nothing, anywhere; check mode runs everything, including the Redis read.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - nl2api.deploy.redis
attributes:
  check_mode:
    support: full
    details: The module only reads values files, computes values and, with O(read_queue_depth=true), reads the stream.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  engine:
    description:
      - V(keda) renders a KEDA ScaledObject and TriggerAuthentication (KEDA must be installed in the cluster);
        V(hpa) renders an HPA on the External metrics O(lag_metric_name) and O(pending_metric_name), served by a
        metrics adapter.
    type: str
    choices: [keda, hpa]
    default: keda
  enabled:
    description:
      - V(false) turns worker autoscaling off in the chart (the worker then runs its fixed replica count). The values
        are still returned, but only their structure is validated.
    type: bool
    default: true
  batch_id:
    description:
      - "The batch whose stream C(eval:tasks:<batch_id>) is measured with O(read_queue_depth=true): the UUID the
        producer prints as C(Created batch: <uuid>). Default C(worker.batchId) of the chart values."
      - The chart takes the batch from C(worker.batchId), not from RV(autoscaling).
    type: str
  queue:
    description:
      - How the autoscaler in the cluster reaches Redis (Redis 7 or later, for the consumer-group lag).
    type: dict
    default: {}
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
      tls:
        description:
          - The autoscaler connects to Redis with TLS (trigger metadata C(enableTLS)).
        type: bool
        default: false
      database:
        description:
          - Redis database number of the streams.
        type: int
        default: 0
      credentials_secret:
        description:
          - Name of the Kubernetes Secret holding the autoscaler's Redis credentials (referenced by the
            TriggerAuthentication). Empty means the app's Secret, whose raw keys C(redis-username) and
            C(redis-password) are meant for it (the app pods read only C(redis-url)).
        type: str
        default: ""
      username_key:
        description:
          - Key of the Redis ACL user name in O(queue.credentials_secret). Empty for password-only C(AUTH).
          - "The user's ACL: C(resetkeys ~eval:tasks:* -@all +info +xinfo|groups +xlen +xpending +ping +hello +auth)
            (add C(+select) for a database other than 0). KEDA checks the server version with C(INFO) before it reads
            the lag, falls back to C(XLEN) while the group does not exist, and the pending trigger reads C(XPENDING)."
        type: str
        default: redis-username
      password_key:
        description:
          - Key of the Redis password in O(queue.credentials_secret).
        type: str
        default: redis-password
      ca_config_map:
        description:
          - ConfigMap holding the CA bundle that signed Redis' certificate (TriggerAuthentication parameter C(ca)).
            Empty means the chart's C(externalRedis.caConfigMap) (managed Redis), or the system CAs.
        type: str
        default: ""
      ca_key:
        description:
          - Key of the CA bundle in O(queue.ca_config_map).
        type: str
        default: ca.crt
  tasks_per_worker:
    description:
      - Target lag (tasks waiting) per worker replica; KEDA C(lagCount), the lag metric's C(averageValue).
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
  activation_lag:
    description:
      - With O(min_replicas=0), the lag at or below which KEDA keeps the workers at zero (C(activationLagCount)),
        as long as no task is pending. Must be 0 otherwise, because KEDA ignores it then.
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
      - How fast the worker count may shrink (the HPA C(behavior.scaleDown)). Checked against
        O(max_pods_removed_per_period) and O(worker_pdb).
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
      - KEDA C(cooldownPeriod) in seconds; how long no trigger may be active before KEDA scales to zero (with
        O(min_replicas=0)).
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
      - With O(engine=hpa), how old the External metrics may be when the HPA reads them (exporter scrape interval
        plus adapter caching). Only used for the scale-up time.
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
  max_task_seconds:
    description:
      - Longest time one task may take (the application has no task timeout, so this is the operator's bound).
        Default C(worker.shutdown.maxTaskSeconds) of the chart values, which is how long the worker's preStop hook
        waits for the task in flight.
      - Required while autoscaling is enabled, because scale-in safety cannot be proven without it.
    type: int
  termination_margin_seconds:
    description:
      - Seconds the worker's grace period must exceed O(max_task_seconds) by (the ack after the task, the preStop
        hook's last poll).
    type: int
    default: 10
  max_pods_removed_per_period:
    description:
      - Most workers one scale-down period may remove, at any replica count.
    type: int
    default: 1
  lag_metric_name:
    description:
      - With O(engine=hpa), name of the External metric with the group's lag, labelled C(batch_id).
    type: str
    default: redis_stream_group_lag
  pending_metric_name:
    description:
      - With O(engine=hpa), name of the External metric with the group's pending count, labelled C(batch_id).
    type: str
    default: redis_stream_group_pending
  chart_ref:
    description:
      - Local path of the nl2api chart. Its C(values.yaml), O(values_files) and O(release_values), merged as Helm
        merges them, give the worker PDB, the grace period and the batch id.
    type: path
  values_files:
    description:
      - Values files passed to Helm with C(-f), in order (the environment's file, then any site files).
    type: list
    elements: path
    default: []
  release_values:
    description:
      - Values Helm receives last (kubernetes.core.helm O(release_values)).
    type: dict
    default: {}
  worker_pdb:
    description:
      - The worker PodDisruptionBudget, when it is not to be read from the chart values; set one of
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
      - The worker pods' C(terminationGracePeriodSeconds), when it is not to be read from the chart values
        (C(worker.terminationGracePeriodSeconds)); V(300) when neither says.
    type: int
  read_queue_depth:
    description:
      - Read the group's lag and pending count on the batch's stream and return RV(queue_depth) and
        RV(desired_replicas). Needs O(batch_id) (or C(worker.batchId)).
      - Connects with the Redis connection options, defaulting to O(queue.address), O(queue.tls) and
        O(queue.database). The user needs C(+xinfo|groups +xlen) on C(~eval:tasks:*).
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
  - PyYAML (with O(chart_ref))
notes:
  - The redis-py library is only needed with O(read_queue_depth=true).
  - Redis 7 or later, for the consumer-group C(lag) that KEDA's C(lagCount) reads.
  - "A lag Redis cannot determine (entries deleted or trimmed before delivery: the application trims the task
    stream to about 100000 entries) reads as no backlog: keep a batch's deliveries, retries included, below that."
  - "A task whose worker was killed anyway (OOM, node loss) stays pending forever, since the application never
    reclaims it: the pending trigger then keeps one worker up for it and KEDA never scales to zero, which makes it
    visible. Requeue such a task by hand (C(XCLAIM) to a live consumer, or C(XACK) and C(XADD) it again)."
seealso:
  - name: KEDA Redis Streams scaler
    description: The triggers the chart renders with O(engine=keda).
    link: https://keda.sh/docs/latest/scalers/redis-streams/
  - name: Horizontal Pod Autoscaling
    description: The algorithm the scale-up time follows.
    link: https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#algorithm-details
"""

EXAMPLES = r"""
- name: Decide the worker autoscaling values for prod, checked against the values Helm will render
  nl2api.deploy.queue_autoscaling:
    queue:
      address: nl2api-redis.nl2api.svc.cluster.local:6379
      tls: true
      credentials_secret: nl2api-redis-scaler
    tasks_per_worker: 5
    min_replicas: 2
    max_replicas: 20
    max_task_seconds: 240
    target_scale_up_seconds: 120
    chart_ref: "{{ playbook_dir }}/../deploy/helm/nl2api"
    values_files:
      - "{{ playbook_dir }}/../deploy/helm/environments/prod.yaml"
      - /etc/nl2api/site-values.yaml
    release_values: "{{ nl2api_chart_values }}"
  delegate_to: localhost
  register: worker_autoscaling

- name: Show the proven scale-up time
  ansible.builtin.debug:
    msg: >-
      workers scale from {{ worker_autoscaling.scale_up.from_replicas }} to
      {{ worker_autoscaling.scale_up.to_replicas }} in {{ worker_autoscaling.scale_up.seconds }} s at worst
      (target {{ worker_autoscaling.scale_up.target_seconds }} s)

- name: Scale to zero between batches, grace period stated here
  nl2api.deploy.queue_autoscaling:
    tasks_per_worker: 3
    min_replicas: 0
    max_replicas: 8
    max_task_seconds: 120
    worker_termination_grace_period_seconds: 180
    worker_pdb:
      max_unavailable: 25%
  delegate_to: localhost

- name: How many workers would the autoscaler want for this batch right now?
  nl2api.deploy.queue_autoscaling:
    batch_id: "{{ batch_id }}"
    queue:
      address: nl2api-redis.nl2api.svc.cluster.local:6379
      tls: true
    tasks_per_worker: 5
    min_replicas: 2
    max_replicas: 20
    max_task_seconds: 240
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
      description: Whether the chart renders an autoscaler (for a release with C(worker.batchId)).
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
    stream:
      description: C(prefix) (C(eval:tasks:), followed by C(worker.batchId)) and C(consumerGroup) (C(eval-workers)).
      type: dict
    redis:
      description: C(address), C(enableTLS), C(databaseIndex), C(auth) (C(secretName), C(usernameKey),
        C(passwordKey)) and C(caConfigMap) (C(name), C(key)).
      type: dict
    keda:
      description: C(pollingInterval), C(cooldownPeriod), C(lagCount), C(activationLagCount) and
        C(pendingEntriesCount) (1, a worker runs one task at a time).
      type: dict
    external:
      description: C(lagMetricName), C(lagAverageValue), C(pendingMetricName) and C(pendingAverageValue) (engine hpa).
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
    stream: {prefix: "eval:tasks:", consumerGroup: eval-workers}
    redis:
      address: nl2api-redis.nl2api.svc.cluster.local:6379
      enableTLS: true
      databaseIndex: 0
      auth: {secretName: nl2api-redis-scaler, usernameKey: redis-username, passwordKey: redis-password}
      caConfigMap: {name: "", key: ca.crt}
    keda: {pollingInterval: 15, cooldownPeriod: 300, lagCount: 5, activationLagCount: 0, pendingEntriesCount: 1}
    external: {lagMetricName: redis_stream_group_lag, lagAverageValue: "5",
               pendingMetricName: redis_stream_group_pending, pendingAverageValue: "1"}
checked_against:
  description:
    - The worker settings the checks used, and where each came from (V(option), V(chart values) or V(default)).
  returned: always
  type: dict
  sample:
    worker_pdb: {enabled: true, max_unavailable: null, min_available: 1}
    worker_termination_grace_period_seconds: 300
    max_task_seconds: 240
    batch_id: ""
    sources: {worker_pdb: chart values, worker_termination_grace_period_seconds: chart values,
              max_task_seconds: chart values, batch_id: default}
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
      description: Size of the sudden lag assumed (enough to ask for O(max_replicas) from every lower count).
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
    - Scale-in figures once the stream is drained. C(seconds) is the worst case from O(max_replicas) back to
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
    termination_grace_period_seconds: 300
    required_grace_period_seconds: 250
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
      option: activation_lag
      message: "activation_lag (3) is ignored by KEDA while min_replicas (2) is 1 or more: ..."
passed:
  description: V(true) when there is no error.
  returned: always
  type: bool
  sample: true
queue_depth:
  description:
    - The group's view of the batch's stream. C(lag) is V(null) when Redis cannot determine it (KEDA then sees no
      backlog). A missing stream counts as empty, a missing group counts every entry as lag (as KEDA does).
  returned: when O(read_queue_depth=true) and validation found no error
  type: dict
  sample: {stream: "eval:tasks:6f1c0b7e-1a8e-4f55-9a53-0a4a1c9f2d11", consumer_group: eval-workers, lag: 37,
           pending: 8, total: 45, stream_exists: true, group_exists: true}
desired_replicas:
  description:
    - The replica count the autoscaler wants for RV(queue_depth) (before rate limits), within the replica bounds;
      V(0) when KEDA would deactivate a scale-to-zero worker.
  returned: when O(read_queue_depth=true) and validation found no error
  type: int
  sample: 8
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nl2api.deploy.plugins.module_utils.autoscaling import chart_values
from ansible_collections.nl2api.deploy.plugins.module_utils.autoscaling.plan import (
    CONSUMER_GROUP,
    DEFAULT_ACTIVATION_LAG,
    DEFAULT_CA_KEY,
    DEFAULT_COOLDOWN_PERIOD,
    DEFAULT_ENGINE,
    DEFAULT_LAG_METRIC_NAME,
    DEFAULT_MAX_PODS_REMOVED_PER_PERIOD,
    DEFAULT_METRICS_SCRAPE_INTERVAL,
    DEFAULT_MIN_REPLICAS,
    DEFAULT_PASSWORD_KEY,
    DEFAULT_PENDING_METRIC_NAME,
    DEFAULT_POD_READY_SECONDS,
    DEFAULT_POLLING_INTERVAL,
    DEFAULT_SCALE_DOWN,
    DEFAULT_SCALE_UP,
    DEFAULT_SYNC_PERIOD_SECONDS,
    DEFAULT_TARGET_SCALE_UP_SECONDS,
    DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS,
    DEFAULT_TERMINATION_MARGIN_SECONDS,
    DEFAULT_USERNAME_KEY,
    ENGINES,
    SELECT_POLICIES,
    AutoscalingIntent,
    assess,
    desired_replicas,
    stream_name,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.autoscaling.redis_streams import (
    QueueReadError,
    read_queue_depth,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.redis_connection import (
    REDIS_REQUIRED_TOGETHER,
    redis_argument_spec,
    require_redis,
    split_address,
)

#: Options whose value, when not given, comes from the chart values (then the default below).
CHART_SETTINGS = ("worker_pdb", "worker_termination_grace_period_seconds", "max_task_seconds", "batch_id")
SETTING_DEFAULTS = {"worker_pdb": None, "worker_termination_grace_period_seconds":
                    DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS, "max_task_seconds": None, "batch_id": ""}


def _speed_spec(default):
    return dict(
        type="dict",
        apply_defaults=True,
        options=dict(
            pods_per_period=dict(type="int", default=default.pods_per_period),
            percent_per_period=dict(type="int", default=default.percent_per_period),
            period_seconds=dict(type="int", default=default.period_seconds),
            stabilization_window_seconds=dict(type="int", default=default.stabilization_window_seconds),
            select_policy=dict(type="str", default=default.select_policy, choices=list(SELECT_POLICIES)),
        ),
    )


def argument_spec():
    spec = dict(
        engine=dict(type="str", default=DEFAULT_ENGINE, choices=list(ENGINES)),
        enabled=dict(type="bool", default=True),
        batch_id=dict(type="str"),
        queue=dict(
            type="dict",
            default={},
            apply_defaults=True,
            options=dict(
                address=dict(type="str", default=""),
                tls=dict(type="bool", default=False),
                database=dict(type="int", default=0),
                credentials_secret=dict(type="str", default="", no_log=False),
                username_key=dict(type="str", default=DEFAULT_USERNAME_KEY, no_log=False),
                password_key=dict(type="str", default=DEFAULT_PASSWORD_KEY, no_log=False),
                ca_config_map=dict(type="str", default=""),
                ca_key=dict(type="str", default=DEFAULT_CA_KEY, no_log=False),
            ),
        ),
        tasks_per_worker=dict(type="int", required=True),
        min_replicas=dict(type="int", default=DEFAULT_MIN_REPLICAS),
        max_replicas=dict(type="int", required=True),
        activation_lag=dict(type="int", default=DEFAULT_ACTIVATION_LAG),
        scale_up=_speed_spec(DEFAULT_SCALE_UP),
        scale_down=_speed_spec(DEFAULT_SCALE_DOWN),
        polling_interval=dict(type="int", default=DEFAULT_POLLING_INTERVAL),
        cooldown_period=dict(type="int", default=DEFAULT_COOLDOWN_PERIOD),
        hpa_sync_period=dict(type="int", default=DEFAULT_SYNC_PERIOD_SECONDS),
        metrics_scrape_interval=dict(type="int", default=DEFAULT_METRICS_SCRAPE_INTERVAL),
        pod_ready_seconds=dict(type="int", default=DEFAULT_POD_READY_SECONDS),
        target_scale_up_seconds=dict(type="int", default=DEFAULT_TARGET_SCALE_UP_SECONDS),
        max_task_seconds=dict(type="int"),
        termination_margin_seconds=dict(type="int", default=DEFAULT_TERMINATION_MARGIN_SECONDS),
        max_pods_removed_per_period=dict(type="int", default=DEFAULT_MAX_PODS_REMOVED_PER_PERIOD),
        lag_metric_name=dict(type="str", default=DEFAULT_LAG_METRIC_NAME),
        pending_metric_name=dict(type="str", default=DEFAULT_PENDING_METRIC_NAME),
        chart_ref=dict(type="path"),
        values_files=dict(type="list", elements="path", default=[]),
        release_values=dict(type="dict", default={}),
        worker_pdb=dict(
            type="dict",
            options=dict(enabled=dict(type="bool", default=True), max_unavailable=dict(type="raw"),
                         min_available=dict(type="raw")),
            mutually_exclusive=[("max_unavailable", "min_available")],
        ),
        worker_termination_grace_period_seconds=dict(type="int"),
        read_queue_depth=dict(type="bool", default=False),
        current_replicas=dict(type="int"),
        fail_on_errors=dict(type="bool", default=True),
    )
    spec.update(redis_argument_spec())
    return spec


def worker_settings(params, chart_settings):
    """The worker PDB, grace period and batch id the checks use: the option, else the chart values, else default.

    Returns (settings, sources)."""
    settings, sources = {}, {}
    for name in CHART_SETTINGS:
        if params.get(name) is not None:
            settings[name], sources[name] = params[name], "option"
        elif name in chart_settings:
            settings[name], sources[name] = chart_settings[name], "chart values"
        else:
            settings[name], sources[name] = SETTING_DEFAULTS[name], "default"
    return settings, sources


def connection_defaults(queue):
    """Where to connect when the login_* options are not set: the autoscaler's own view of the queue."""
    defaults = {"tls": queue.get("tls"), "db": queue.get("database")}
    if queue.get("address"):
        defaults["host"], defaults["port"] = split_address(queue["address"])
    return defaults


def build_result(assessment, target_seconds, settings, sources):
    result = dict(
        changed=False,
        autoscaling=assessment.plan.to_values(),
        checked_against=dict(settings, sources=sources),
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
    chart_settings = {}
    if params["chart_ref"]:
        try:
            merged = chart_values.load_values(params["chart_ref"], params["values_files"], params["release_values"])
        except chart_values.ChartValuesError as exc:
            module.fail_json(msg=str(exc))
        chart_settings = chart_values.worker_settings(merged)
    settings, sources = worker_settings(params, chart_settings)
    assessment = assess(AutoscalingIntent.from_params(dict(params, **settings)))
    result = build_result(assessment, params["target_scale_up_seconds"], settings, sources)
    for problem in assessment.warnings:
        module.warn(problem.message)
    if assessment.errors and params["fail_on_errors"]:
        module.fail_json(msg="worker autoscaling: %s" % "; ".join(problem.message for problem in assessment.errors),
                         **result)

    if params["read_queue_depth"] and not assessment.errors:
        require_redis(module)
        if not settings["batch_id"]:
            module.fail_json(msg="read_queue_depth needs batch_id (or worker.batchId in the chart values)", **result)
        if not params["queue"]["address"] and not params["login_host"]:
            module.fail_json(msg="read_queue_depth needs login_host, or queue.address to connect to", **result)
        try:
            depth = read_queue_depth(params, stream_name(settings["batch_id"]), CONSUMER_GROUP,
                                     connection_defaults(params["queue"]))
        except QueueReadError as exc:
            module.fail_json(msg=str(exc), **result)
        if depth.lag is None:
            module.warn("Redis cannot determine the lag of %s on %s (entries were deleted or trimmed before delivery): "
                        "KEDA sees no backlog" % (CONSUMER_GROUP, depth.stream))
        result["queue_depth"] = depth.to_dict()
        result["desired_replicas"] = desired_replicas(assessment.plan, depth.lag, depth.pending,
                                                      params["current_replicas"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()

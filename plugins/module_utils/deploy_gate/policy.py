# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Policy checks of the deploy gate: pure functions from manifests (dicts) to findings.

Decisions (documented in the module too):

* pod-security follows Pod Security Standards "restricted" (Kubernetes 1.31+) for every container, init container
  and ephemeral container, and adds ``readOnlyRootFilesystem: true``. Settings may come from the pod
  securityContext where PSS allows it (runAsNonRoot, seccompProfile). Localhost seccomp profiles are accepted,
  as PSS accepts them.
* resources: every container and init container sets requests and limits for cpu and memory, requests <= limits.
* probes (long-running workloads only: Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController): a
  container that declares ports needs a livenessProbe and a readinessProbe. A container without ports (the queue
  worker) needs none: nl2api's worker serves no endpoint and writes no file, and an exec check cannot tell a
  healthy idle worker (blocked reading its stream) from a hung one, so a required liveness probe would only risk
  killing healthy workers; a crashed worker exits and is restarted. Jobs, CronJobs, ScaledJobs and bare Pods
  (helm test hooks) need no probes.
* autoscaling: a workload with a fixed ``spec.replicas`` and an autoscaler is an error in staging/prod (every
  deploy resets the scale) and a warning in local/dev.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import math
import re
from fractions import Fraction
from typing import Any, Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from ansible_collections.nl2api.deploy.plugins.module_utils.deploy_gate.common import (
    CHECK_AUTOSCALING,
    CHECK_IMAGE_TAG,
    CHECK_PDB,
    CHECK_POD_SECURITY,
    CHECK_PROBES,
    CHECK_RESOURCES,
    CHECK_SECRET_DATA,
    CHECK_ZERO_DOWNTIME,
    ERROR,
    STRICT_ENVIRONMENTS,
    WARNING,
    Finding,
    as_list,
    as_mapping,
    dig,
    item_label,
    join_path,
    labels_match_selector,
    make_finding,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.image_refs import PINNED_ENVIRONMENTS, tag_problem

PSS = "(restricted pod security)"

POD_SPEC_PATHS: Dict[str, Tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "ScaledJob": ("spec", "jobTargetRef", "template", "spec"),
}
LONG_RUNNING_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController")
SCALABLE_KINDS = ("Deployment", "StatefulSet", "ReplicaSet")

API_COMPONENT_LABEL = "app.kubernetes.io/component"
API_COMPONENT_VALUE = "api"

ALLOWED_VOLUME_TYPES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                        "projected", "secret")
ALLOWED_SECCOMP = ("RuntimeDefault", "Localhost")
ALLOWED_APPARMOR = ("RuntimeDefault", "Localhost")
ALLOWED_SELINUX_TYPES = ("", "container_t", "container_init_t", "container_kvm_t", "container_engine_t")
SAFE_SYSCTLS = ("kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes")


class Container(NamedTuple):
    spec: Mapping
    path: str
    section: str  # containers, initContainers or ephemeralContainers


class PodTemplate(NamedTuple):
    obj: Mapping
    spec: Mapping
    path: str
    metadata: Mapping


def pod_template(obj: Any) -> Optional[PodTemplate]:
    """The pod spec of a workload (with its rendered path), or None for other kinds."""
    if not isinstance(obj, Mapping) or obj.get("kind") not in POD_SPEC_PATHS:
        return None
    path = POD_SPEC_PATHS[obj["kind"]]
    spec = dig(obj, *path)
    if not isinstance(spec, Mapping):
        return None
    metadata = dig(obj, *(path[:-1] + ("metadata",)))
    return PodTemplate(obj, spec, join_path("", *path), as_mapping(metadata))


def containers(template: PodTemplate, sections: Sequence[str] = ("initContainers", "containers", "ephemeralContainers")) -> Iterator[Container]:
    for section in sections:
        for index, container in enumerate(as_list(template.spec.get(section))):
            if isinstance(container, Mapping):
                yield Container(container, join_path(template.path, section, item_label(container, index)), section)


# --------------------------------------------------------------------------------------------------------------
# pod-security


def _security_context_findings(obj: Mapping, context: Mapping, path: str) -> List[Finding]:
    """Checks that apply the same way to the pod and to container security contexts."""
    findings = []
    if context.get("runAsUser") == 0:
        findings.append(make_finding(obj, join_path(path, "runAsUser"), "must not be 0 (root) %s" % PSS, CHECK_POD_SECURITY))
    se_linux = as_mapping(context.get("seLinuxOptions"))
    if se_linux.get("type") not in ALLOWED_SELINUX_TYPES + (None,):
        findings.append(make_finding(obj, join_path(path, "seLinuxOptions", "type"),
                                     "must be one of %s %s" % (", ".join(ALLOWED_SELINUX_TYPES[1:]), PSS), CHECK_POD_SECURITY))
    for key in ("user", "role"):
        if se_linux.get(key):
            findings.append(make_finding(obj, join_path(path, "seLinuxOptions", key), "must not be set %s" % PSS, CHECK_POD_SECURITY))
    if dig(context, "windowsOptions", "hostProcess") is True:
        findings.append(make_finding(obj, join_path(path, "windowsOptions", "hostProcess"), "must not be true %s" % PSS, CHECK_POD_SECURITY))
    apparmor = dig(context, "appArmorProfile", "type")
    if apparmor is not None and apparmor not in ALLOWED_APPARMOR:
        findings.append(make_finding(obj, join_path(path, "appArmorProfile", "type"),
                                     "must be RuntimeDefault or Localhost %s" % PSS, CHECK_POD_SECURITY))
    seccomp = dig(context, "seccompProfile", "type")
    if seccomp is not None and seccomp not in ALLOWED_SECCOMP:
        findings.append(make_finding(obj, join_path(path, "seccompProfile", "type"),
                                     "must be RuntimeDefault or Localhost %s" % PSS, CHECK_POD_SECURITY))
    return findings


def check_pod_security(obj: Any) -> List[Finding]:
    """Pod Security Standards 'restricted' plus readOnlyRootFilesystem, for every pod template of ``obj``."""
    template = pod_template(obj)
    if template is None:
        return []
    spec, path = template.spec, template.path
    findings: List[Finding] = []
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key) is True:
            findings.append(make_finding(obj, join_path(path, key), "must not be true %s" % PSS, CHECK_POD_SECURITY))
    for index, volume in enumerate(as_list(spec.get("volumes"))):
        for volume_type in sorted(k for k in as_mapping(volume) if k != "name" and k not in ALLOWED_VOLUME_TYPES):
            findings.append(make_finding(obj, join_path(path, "volumes", item_label(volume, index), volume_type),
                                         "%s volumes are not allowed %s" % (volume_type, PSS), CHECK_POD_SECURITY))
    pod_context = as_mapping(spec.get("securityContext"))
    pod_context_path = join_path(path, "securityContext")
    for index, sysctl in enumerate(as_list(pod_context.get("sysctls"))):
        if as_mapping(sysctl).get("name") not in SAFE_SYSCTLS:
            findings.append(make_finding(obj, join_path(pod_context_path, "sysctls", item_label(sysctl, index)),
                                         "only safe sysctls are allowed %s" % PSS, CHECK_POD_SECURITY))
    findings.extend(_security_context_findings(obj, pod_context, pod_context_path))
    for key, value in sorted(as_mapping(template.metadata.get("annotations")).items()):
        if str(key).startswith("container.apparmor.security.beta.kubernetes.io/") and value == "unconfined":
            findings.append(make_finding(obj, join_path(path[: -len(".spec")], "metadata", "annotations", str(key)),
                                         "must not be unconfined %s" % PSS, CHECK_POD_SECURITY))
    pod_non_root = pod_context.get("runAsNonRoot")
    pod_seccomp = dig(pod_context, "seccompProfile", "type")
    for container in containers(template):
        findings.extend(_container_security(obj, container, pod_non_root, pod_seccomp))
    return findings


def _container_security(obj: Mapping, container: Container, pod_non_root: Any, pod_seccomp: Any) -> List[Finding]:
    context = as_mapping(container.spec.get("securityContext"))
    context_path = join_path(container.path, "securityContext")

    def fail(field: str, reason: str) -> Finding:
        return make_finding(obj, join_path(context_path, *field.split(".")), "%s %s" % (reason, PSS), CHECK_POD_SECURITY)

    findings = []
    if context.get("privileged") is True:
        findings.append(fail("privileged", "must not be true"))
    if context.get("allowPrivilegeEscalation") is not False:
        findings.append(fail("allowPrivilegeEscalation", "must be false"))
    non_root = context.get("runAsNonRoot", pod_non_root)
    if context.get("runAsNonRoot") is False:
        findings.append(fail("runAsNonRoot", "must not be false"))
    elif non_root is not True:
        findings.append(fail("runAsNonRoot", "must be true"))
    if context.get("readOnlyRootFilesystem") is not True:
        findings.append(fail("readOnlyRootFilesystem", "must be true"))
    capabilities = as_mapping(context.get("capabilities"))
    if "ALL" not in as_list(capabilities.get("drop")):
        findings.append(fail("capabilities.drop", "must include ALL"))
    added = [c for c in as_list(capabilities.get("add")) if c != "NET_BIND_SERVICE"]
    if added:
        findings.append(fail("capabilities.add", "may only add NET_BIND_SERVICE (adds %s)" % ", ".join(map(str, added))))
    # A wrong pod-level value is reported once, on the pod; a missing one on every container that does not set it.
    if dig(context, "seccompProfile", "type") is None and pod_seccomp is None:
        findings.append(fail("seccompProfile.type", "must be RuntimeDefault or Localhost"))
    if context.get("procMount") not in (None, "Default"):
        findings.append(fail("procMount", "must be Default"))
    findings.extend(_security_context_findings(obj, context, context_path))
    for index, port in enumerate(as_list(container.spec.get("ports"))):
        if as_mapping(port).get("hostPort") not in (None, 0):
            findings.append(make_finding(obj, join_path(container.path, "ports", item_label(port, index), "hostPort"),
                                         "must not be set %s" % PSS, CHECK_POD_SECURITY))
    return findings


# --------------------------------------------------------------------------------------------------------------
# resources

_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$")
_SUFFIX = {
    None: Fraction(1), "n": Fraction(1, 10 ** 9), "u": Fraction(1, 10 ** 6), "m": Fraction(1, 1000),
    "k": Fraction(10 ** 3), "M": Fraction(10 ** 6), "G": Fraction(10 ** 9), "T": Fraction(10 ** 12),
    "P": Fraction(10 ** 15), "E": Fraction(10 ** 18), "Ki": Fraction(2 ** 10), "Mi": Fraction(2 ** 20),
    "Gi": Fraction(2 ** 30), "Ti": Fraction(2 ** 40), "Pi": Fraction(2 ** 50), "Ei": Fraction(2 ** 60),
}


def parse_quantity(value: Any) -> Optional[Fraction]:
    """Kubernetes resource.Quantity (``500m``, ``1.5``, ``128Mi``, ``1e3``) as a Fraction; None when invalid."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Fraction(str(value))
    match = _QUANTITY.match(str(value).strip())
    if not match:
        return None
    number = Fraction(match.group(1))
    if match.group(2):
        return number * Fraction(10) ** int(match.group(2)[1:])
    return number * _SUFFIX[match.group(3)]


def check_resources(obj: Any) -> List[Finding]:
    """requests and limits for cpu and memory on every container and init container; requests <= limits."""
    template = pod_template(obj)
    if template is None:
        return []
    findings = []
    for container in containers(template, ("initContainers", "containers")):
        resources = as_mapping(container.spec.get("resources"))
        parsed: Dict[Tuple[str, str], Optional[Fraction]] = {}
        for section in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                field = join_path(container.path, "resources", section, resource)
                value = as_mapping(resources.get(section)).get(resource)
                if value is None or value == "":
                    findings.append(make_finding(obj, field, "must be set (resource requests and limits)", CHECK_RESOURCES))
                    continue
                parsed[(section, resource)] = parse_quantity(value)
                if parsed[(section, resource)] is None:
                    findings.append(make_finding(obj, field, "is not a valid quantity (resource requests and limits)", CHECK_RESOURCES))
        for resource in ("cpu", "memory"):
            request, limit = parsed.get(("requests", resource)), parsed.get(("limits", resource))
            if request is not None and limit is not None and request > limit:
                findings.append(make_finding(
                    obj, join_path(container.path, "resources", "requests", resource),
                    "request %s is greater than the limit %s (resource requests and limits)" % (
                        resources["requests"][resource], resources["limits"][resource]), CHECK_RESOURCES))
    return findings


# --------------------------------------------------------------------------------------------------------------
# probes


def check_probes(obj: Any) -> List[Finding]:
    """Liveness and readiness on serving containers of long-running workloads (port-less containers need none)."""
    template = pod_template(obj)
    if template is None or obj.get("kind") not in LONG_RUNNING_KINDS:
        return []
    findings = []
    for container in containers(template, ("containers",)):
        if as_list(container.spec.get("ports")):
            for probe in ("livenessProbe", "readinessProbe"):
                if not container.spec.get(probe):
                    findings.append(make_finding(obj, join_path(container.path, probe),
                                                 "must be set (containers that expose ports need liveness and readiness probes)",
                                                 CHECK_PROBES))
    return findings


# --------------------------------------------------------------------------------------------------------------
# zero-downtime (API Deployment)


def is_api_deployment(obj: Any) -> bool:
    if not isinstance(obj, Mapping) or obj.get("kind") != "Deployment":
        return False
    labels = as_mapping(dig(obj, "metadata", "labels"))
    template_labels = as_mapping(dig(obj, "spec", "template", "metadata", "labels"))
    return API_COMPONENT_VALUE in (labels.get(API_COMPONENT_LABEL), template_labels.get(API_COMPONENT_LABEL))


def _int_or_percent_is_zero(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value == 0
    return isinstance(value, str) and re.match(r"^0+%?$", value.strip()) is not None


def check_zero_downtime(obj: Any) -> List[Finding]:
    """The API Deployment (label app.kubernetes.io/component: api) rolls out without losing capacity or requests."""
    if not is_api_deployment(obj):
        return []
    why = "(zero-downtime rollout of the API)"
    findings = []
    strategy = as_mapping(dig(obj, "spec", "strategy"))
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        findings.append(make_finding(obj, "spec.strategy.type", "must be RollingUpdate %s" % why, CHECK_ZERO_DOWNTIME))
    else:
        rolling = as_mapping(strategy.get("rollingUpdate"))
        max_unavailable = rolling.get("maxUnavailable", "25%")
        if not _int_or_percent_is_zero(max_unavailable):
            shown = max_unavailable if "maxUnavailable" in rolling else "25% by default"
            findings.append(make_finding(obj, "spec.strategy.rollingUpdate.maxUnavailable",
                                         "must be 0 (got %s) %s" % (shown, why), CHECK_ZERO_DOWNTIME))
        elif _int_or_percent_is_zero(rolling.get("maxSurge", "25%")):
            findings.append(make_finding(obj, "spec.strategy.rollingUpdate.maxSurge",
                                         "must be greater than 0 when maxUnavailable is 0 %s" % why, CHECK_ZERO_DOWNTIME))
    template = pod_template(obj)
    if template is not None:
        regular = list(containers(template, ("containers",)))
        serving = [c for c in regular if as_list(c.spec.get("ports"))] or regular
        for container in serving:
            if not dig(container.spec, "lifecycle", "preStop"):
                findings.append(make_finding(obj, join_path(container.path, "lifecycle", "preStop"),
                                             "must be set so the pod leaves the Service endpoints before it stops %s" % why,
                                             CHECK_ZERO_DOWNTIME))
    return findings


# --------------------------------------------------------------------------------------------------------------
# image tags and literal Secrets (staging/prod)


def parse_image(image: str) -> Tuple[str, Optional[str], Optional[str]]:
    """``registry:5000/repo/name:tag@sha256:...`` -> (name, tag, digest)."""
    name, digest = image.split("@", 1) if "@" in image else (image, "")
    last = name.rsplit("/", 1)[-1]
    tag = None
    if ":" in last:
        tag = last.rsplit(":", 1)[1]
        name = name[: -len(tag) - 1]
    return name, tag or None, digest or None


def check_image_tags(obj: Any, environment: str) -> List[Finding]:
    """Every image pinned as the environment requires (module_utils/image_refs.py: staging no ``latest`` or untagged
    image, prod a digest, semantic version or commit-SHA tag)."""
    template = pod_template(obj)
    if template is None or environment not in PINNED_ENVIRONMENTS:
        return []
    findings = []
    for container in containers(template):
        image = container.spec.get("image")
        if not isinstance(image, str) or not image:
            continue
        tag, digest = parse_image(image)[1:]
        problem = tag_problem(tag, digest, environment)
        if problem:
            findings.append(make_finding(obj, join_path(container.path, "image"), "image %s %s" % (image, problem),
                                         CHECK_IMAGE_TAG))
    return findings


def check_secret_data(obj: Any, environment: str) -> List[Finding]:
    """A Secret manifest must not carry literal data in staging/prod (use an ExternalSecret). Values are never shown."""
    if environment not in STRICT_ENVIRONMENTS or not isinstance(obj, Mapping) or obj.get("kind") != "Secret":
        return []
    findings = []
    for field in ("data", "stringData"):
        value = obj.get(field)
        if value:
            keys = ", ".join(sorted(str(k) for k in value)) if isinstance(value, Mapping) else "?"
            findings.append(make_finding(obj, field, "literal secret data (keys: %s) is not allowed in %s: use an ExternalSecret" % (
                keys, environment), CHECK_SECRET_DATA))
    return findings


# --------------------------------------------------------------------------------------------------------------
# PodDisruptionBudgets and autoscalers (cross-object)

Key = Tuple[str, str, str]  # kind, namespace, name


def _key(kind: Any, namespace: Any, name: Any) -> Key:
    return (str(kind), str(namespace or ""), str(name))


def _namespace(obj: Mapping) -> str:
    return str(dig(obj, "metadata", "namespace") or "")


class Autoscaler(NamedTuple):
    obj: Mapping
    target: Key
    min_replicas: int  # the lowest replica count the autoscaler keeps while pods exist
    label: str


def _autoscalers(objects: Sequence[Any]) -> List[Autoscaler]:
    out = []
    for obj in objects:
        if not isinstance(obj, Mapping):
            continue
        spec = as_mapping(obj.get("spec"))
        ref = as_mapping(spec.get("scaleTargetRef"))
        name = ref.get("name")
        if not name:
            continue
        if obj.get("kind") == "HorizontalPodAutoscaler":
            minimum = spec.get("minReplicas", 1)
            target = _key(ref.get("kind"), _namespace(obj), name)
        elif obj.get("kind") == "ScaledObject":
            minimum = max(spec.get("minReplicaCount", 0) if isinstance(spec.get("minReplicaCount", 0), int) else 0, 1)
            target = _key(ref.get("kind") or "Deployment", _namespace(obj), name)
        else:
            continue
        minimum = minimum if isinstance(minimum, int) and not isinstance(minimum, bool) else 1
        out.append(Autoscaler(obj, target, minimum, "%s/%s" % (obj["kind"], dig(obj, "metadata", "name"))))
    return out


def _workloads(objects: Sequence[Any]) -> Dict[Key, Mapping]:
    return dict((_key(o["kind"], _namespace(o), dig(o, "metadata", "name")), o) for o in objects
                if isinstance(o, Mapping) and o.get("kind") in SCALABLE_KINDS)


def check_autoscaling(objects: Sequence[Any], environment: str) -> List[Finding]:
    """HPA/ScaledObject bounds, one autoscaler per workload, no fixed replicas under an autoscaler."""
    findings: List[Finding] = []
    workloads = _workloads(objects)
    autoscalers = _autoscalers(objects)
    for obj in objects:
        spec = as_mapping(obj.get("spec")) if isinstance(obj, Mapping) else {}
        if isinstance(obj, Mapping) and obj.get("kind") == "HorizontalPodAutoscaler":
            low, high = spec.get("minReplicas", 1), spec.get("maxReplicas")
            if isinstance(low, int) and isinstance(high, int) and low > high:
                findings.append(make_finding(obj, "spec.minReplicas", "minReplicas %d is greater than maxReplicas %d (autoscaling)" % (
                    low, high), CHECK_AUTOSCALING))
        if isinstance(obj, Mapping) and obj.get("kind") == "ScaledObject":
            low, high = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
            if isinstance(low, int) and isinstance(high, int) and low > high:
                findings.append(make_finding(obj, "spec.minReplicaCount",
                                             "minReplicaCount %d is greater than maxReplicaCount %d (autoscaling)" % (low, high),
                                             CHECK_AUTOSCALING))
    by_target: Dict[Key, List[Autoscaler]] = {}
    for scaler in autoscalers:
        by_target.setdefault(scaler.target, []).append(scaler)
    for target, scalers in by_target.items():
        target_label = "%s/%s" % (target[0], target[2])
        for later in scalers[1:]:
            findings.append(make_finding(later.obj, "spec.scaleTargetRef.name",
                                         "%s is already scaled by %s: never two autoscalers (HPA and KEDA ScaledObject) on one workload (autoscaling)"
                                         % (target_label, scalers[0].label), CHECK_AUTOSCALING))
        workload = workloads.get(target)
        if workload is None:
            for scaler in scalers:
                findings.append(make_finding(scaler.obj, "spec.scaleTargetRef.name",
                                             "target %s is not among the checked manifests (autoscaling)" % target_label,
                                             CHECK_AUTOSCALING, WARNING))
            continue
        if "replicas" in as_mapping(workload.get("spec")) and dig(workload, "spec", "replicas") is not None:
            severity = ERROR if environment in STRICT_ENVIRONMENTS else WARNING
            findings.append(make_finding(workload, "spec.replicas",
                                         "must be omitted: the replica count belongs to %s and every deploy would reset it (autoscaling)"
                                         % " and ".join(s.label for s in scalers), CHECK_AUTOSCALING, severity))
    return findings


def minimum_replicas(workload: Mapping, autoscalers: Sequence[Autoscaler]) -> Tuple[int, str]:
    """The lowest replica count the workload runs with while it has pods, and where that number comes from."""
    if autoscalers:
        scaler = min(autoscalers, key=lambda s: s.min_replicas)
        return scaler.min_replicas, "%s minimum" % scaler.label
    replicas = dig(workload, "spec", "replicas")
    if isinstance(replicas, int) and not isinstance(replicas, bool):
        return replicas, "spec.replicas"
    return 1, "default replicas"


def _scaled_value(value: Any, total: int) -> Optional[int]:
    """IntOrString as the disruption controller reads it (percentages rounded up)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    match = re.match(r"^(\d+)%$", str(value).strip())
    if not match:
        return None
    return int(math.ceil(int(match.group(1)) * total / 100.0))


def check_pdbs(objects: Sequence[Any]) -> List[Finding]:
    """A PDB must leave room for at least one voluntary eviction at the workload's minimum scale."""
    findings: List[Finding] = []
    workloads = _workloads(objects)
    autoscalers = _autoscalers(objects)
    pdbs = [o for o in objects if isinstance(o, Mapping) and o.get("kind") == "PodDisruptionBudget"]
    selected_by: Dict[Key, List[Mapping]] = {}
    why = "blocks every voluntary eviction, so node drains hang (PDB)"
    for pdb in pdbs:
        spec = as_mapping(pdb.get("spec"))
        min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
        if min_available is not None and max_unavailable is not None:
            findings.append(make_finding(pdb, "spec.maxUnavailable", "minAvailable and maxUnavailable are mutually exclusive (PDB)", CHECK_PDB))
        for field, value in (("minAvailable", min_available), ("maxUnavailable", max_unavailable)):
            if value is not None and _scaled_value(value, 100) is None:
                findings.append(make_finding(pdb, "spec.%s" % field, "must be an integer or a percentage (PDB)", CHECK_PDB))
        if max_unavailable is not None and _scaled_value(max_unavailable, 100) == 0:
            findings.append(make_finding(pdb, "spec.maxUnavailable", "maxUnavailable %s %s" % (max_unavailable, why), CHECK_PDB))
        matched = [(key, w) for key, w in workloads.items()
                   if key[1] == _namespace(pdb) and labels_match_selector(dig(w, "spec", "template", "metadata", "labels"), spec.get("selector"))]
        if not matched:
            findings.append(make_finding(pdb, "spec.selector", "selects no pods of the checked workloads (PDB)", CHECK_PDB, WARNING))
        for key, workload in matched:
            selected_by.setdefault(key, []).append(pdb)
            if min_available is None:
                continue
            replicas, source = minimum_replicas(workload, [a for a in autoscalers if a.target == key])
            required = _scaled_value(min_available, replicas)
            if replicas > 0 and required is not None and required >= replicas:
                findings.append(make_finding(pdb, "spec.minAvailable", "minAvailable %s >= %d replicas of %s/%s (%s) %s" % (
                    min_available, replicas, key[0], key[2], source, why), CHECK_PDB))
    for key, selecting in selected_by.items():
        for pdb in selecting[1:]:
            findings.append(make_finding(pdb, "spec.selector", "pods of %s/%s are also selected by PodDisruptionBudget/%s; the eviction"
                                         " API refuses pods with more than one PDB (PDB)" % (key[0], key[2], dig(selecting[0], "metadata", "name")),
                                         CHECK_PDB))
    return findings

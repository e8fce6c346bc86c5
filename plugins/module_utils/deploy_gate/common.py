# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared data model and helpers of the deploy gate (findings, object references, field paths).

Pure Python, standard library only: imported by the schema and policy checks and by the module.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import re
from dataclasses import asdict, dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

ERROR = "error"
WARNING = "warning"
SEVERITIES = (ERROR, WARNING)

ENVIRONMENTS = ("local", "dev", "staging", "prod")
# Environments where the release-hygiene checks (image tags, literal Secrets) apply.
STRICT_ENVIRONMENTS = ("staging", "prod")
DEFAULT_KUBERNETES_VERSIONS = ("1.31", "1.35")

# Check names, in the order findings of one object are reported.
CHECK_INPUT = "input"
CHECK_UNKNOWN_KIND = "unknown-kind"
CHECK_K8S_SCHEMA = "k8s-schema"
CHECK_CRD_SCHEMA = "crd-schema"
CHECK_POD_SECURITY = "pod-security"
CHECK_RESOURCES = "resources"
CHECK_PROBES = "probes"
CHECK_ZERO_DOWNTIME = "zero-downtime"
CHECK_PDB = "pdb"
CHECK_AUTOSCALING = "autoscaling"
CHECK_IMAGE_TAG = "image-tag"
CHECK_SECRET_DATA = "secret-literal-data"

CHECKS = (
    CHECK_INPUT,
    CHECK_UNKNOWN_KIND,
    CHECK_K8S_SCHEMA,
    CHECK_CRD_SCHEMA,
    CHECK_POD_SECURITY,
    CHECK_RESOURCES,
    CHECK_PROBES,
    CHECK_ZERO_DOWNTIME,
    CHECK_IMAGE_TAG,
    CHECK_SECRET_DATA,
    CHECK_PDB,
    CHECK_AUTOSCALING,
)

PathPart = Union[str, int]

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

# Lists whose items Kubernetes identifies by ``name`` (merge key); their items are rendered ``[name]``.
NAMED_LISTS = frozenset(("containers", "initContainers", "ephemeralContainers", "volumes", "volumeMounts", "volumeDevices",
                         "env", "ports", "resourceClaims", "sysctls"))


@dataclass(frozen=True)
class Finding:
    """One problem found by the gate.

    ``field`` is a JSON-path-like location inside the object, list items being named by their
    ``name`` when they have one (``spec.template.spec.containers[api].securityContext.runAsNonRoot``).
    ``reason`` never contains Secret values.
    """

    severity: str
    kind: str
    namespace: str
    name: str
    field: str
    reason: str
    check: str

    @property
    def is_failure(self) -> bool:
        return self.severity == ERROR

    @property
    def object_ref(self) -> str:
        """``Kind/namespace/name``, or ``Kind/name`` when the object has no namespace."""
        if self.namespace:
            return "%s/%s/%s" % (self.kind, self.namespace, self.name)
        return "%s/%s" % (self.kind, self.name)

    def to_dict(self) -> Dict[str, str]:
        return asdict(self)

    def format(self) -> str:
        """One line: ``FAIL Deployment/nl2api/nl2api-api spec.replicas: reason``."""
        label = "FAIL" if self.is_failure else "WARN"
        if self.field:
            return "%s %s %s: %s" % (label, self.object_ref, self.field, self.reason)
        return "%s %s: %s" % (label, self.object_ref, self.reason)


def object_identity(obj: Any) -> Tuple[str, str, str]:
    """(kind, namespace, name) of a manifest, with ``?`` for what is missing."""
    if not isinstance(obj, Mapping):
        return ("?", "", "?")
    kind = obj.get("kind")
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    name = metadata.get("name") or metadata.get("generateName") or "?"
    namespace = metadata.get("namespace") or ""
    return (str(kind) if kind else "?", str(namespace), str(name))


def make_finding(obj: Any, field: str, reason: str, check: str, severity: str = ERROR) -> Finding:
    kind, namespace, name = object_identity(obj)
    return Finding(severity=severity, kind=kind, namespace=namespace, name=name, field=field, reason=reason, check=check)


def format_path(parts: Iterable[PathPart], document: Any = None) -> str:
    """Render a path as ``a.b[name].c``.

    With ``document``, items of the lists in ``NAMED_LISTS`` are named by their ``name``, so
    ``spec.template.spec.containers[0]`` reads ``spec.template.spec.containers[api]``. Keys that are
    not plain identifiers (label keys, file names) are quoted: ``metadata.labels["app.kubernetes.io/name"]``.
    """
    out = ""
    node = document
    previous: Optional[PathPart] = None
    for part in parts:
        if isinstance(part, int):
            label = str(part)
            item = None
            if isinstance(node, list) and 0 <= part < len(node):
                item = node[part]
                if previous in NAMED_LISTS and isinstance(item, Mapping) and isinstance(item.get("name"), str) and item.get("name"):
                    label = item["name"]
            out += "[%s]" % label
            node = item
        else:
            key = str(part)
            if _PLAIN_KEY.match(key):
                out += ("." if out else "") + key
            else:
                out += '["%s"]' % key.replace('"', '\\"')
            node = node.get(part) if isinstance(node, Mapping) else None
        previous = part
    return out


def join_path(prefix: str, *parts: PathPart) -> str:
    """Append already-known parts (names, not indexes) to a rendered path."""
    out = prefix
    for part in parts:
        if isinstance(part, int):
            out += "[%d]" % part
        elif part.startswith("["):
            out += part
        elif _PLAIN_KEY.match(part):
            out += ("." if out else "") + part
        else:
            out += '["%s"]' % part
    return out


def item_label(item: Any, index: int) -> str:
    """``[name]`` for a named list item, ``[index]`` otherwise."""
    if isinstance(item, Mapping) and isinstance(item.get("name"), str) and item.get("name"):
        return "[%s]" % item["name"]
    return "[%d]" % index


def dig(obj: Any, *path: PathPart) -> Any:
    """``obj[path[0]][path[1]]...`` or None when any step is missing or of the wrong type."""
    node = obj
    for part in path:
        if isinstance(part, int):
            if not isinstance(node, list) or not -len(node) <= part < len(node):
                return None
            node = node[part]
        else:
            if not isinstance(node, Mapping):
                return None
            node = node.get(part)
    return node


def as_mapping(value: Any) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> List[Any]:
    return value if isinstance(value, list) else []


def api_group(api_version: Any) -> str:
    """``apps`` for ``apps/v1``, ``""`` for ``v1``."""
    if not isinstance(api_version, str) or "/" not in api_version:
        return ""
    return api_version.split("/", 1)[0]


def labels_match_selector(labels: Mapping, selector: Any) -> bool:
    """Kubernetes LabelSelector semantics (matchLabels AND matchExpressions); an empty selector matches everything."""
    if not isinstance(selector, Mapping):
        return False
    labels = labels if isinstance(labels, Mapping) else {}
    for key, value in as_mapping(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expression in as_list(selector.get("matchExpressions")):
        if not isinstance(expression, Mapping):
            return False
        key = expression.get("key")
        operator = expression.get("operator")
        values = as_list(expression.get("values"))
        if operator == "In" and (key not in labels or labels[key] not in values):
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def sort_findings(findings: Sequence[Finding], objects: Sequence[Any]) -> List[Finding]:
    """Group findings by object (in input order), then by check (in ``CHECKS`` order); stable otherwise."""
    order: Dict[Tuple[str, str, str], int] = {}
    for index, obj in enumerate(objects):
        order.setdefault(object_identity(obj), index)
    rank = dict((check, position) for position, check in enumerate(CHECKS))

    def key(finding: Finding) -> Tuple[int, int]:
        position = order.get((finding.kind, finding.namespace, finding.name), len(order))
        return (position, rank.get(finding.check, len(rank)))

    return sorted(findings, key=key)


def dedupe(findings: Iterable[Finding]) -> List[Finding]:
    seen = set()
    out = []
    for finding in findings:
        if finding not in seen:
            seen.add(finding)
            out.append(finding)
    return out


def short_repr(value: Any, limit: int = 60) -> Optional[str]:
    """A short rendering of a scalar for messages, or None for containers and long values."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        rendered = '"%s"' % value
        return rendered if len(rendered) <= limit else None
    return None

# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deploy gate: check rendered Kubernetes manifests before they reach a cluster.

Public API (used by the ``nl2api.deploy.deploy_gate`` module, ``bin/nl2api-gate`` and the tests)::

    load_manifests(paths, stdin=None) -> list          # YAML/JSON files, directories, "-" for stdin
    parse_manifests(text, source="<string>") -> list   # one multi-document YAML stream
    load_crds(crd_dir=None) -> CrdIndex                # CustomResourceDefinitions (default: deploy/crds)
    check_manifests(manifests, options, crds=None) -> list[Finding]
    gate_passed(findings) -> bool
    format_summary(objects_checked, findings, options) -> str

A Finding is ``(severity, kind, namespace, name, field, reason, check)``; ``Finding.format()`` renders
``FAIL Deployment/nl2api/nl2api-api spec.template.spec.containers[api].securityContext.runAsNonRoot: must be true
(restricted pod security)``. Check names are listed in ``CHECKS``.

Third-party libraries (PyYAML, jsonschema, kubernetes-validate) are optional at import time; callers check
``missing_libraries()`` before running the gate.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import datetime
import os
import sys
import traceback
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, TextIO, Tuple

from ansible_collections.nl2api.deploy.plugins.module_utils.deploy_gate.common import (  # noqa: F401 pylint: disable=unused-import
    CHECK_AUTOSCALING,
    CHECK_CRD_SCHEMA,
    CHECK_IMAGE_TAG,
    CHECK_INPUT,
    CHECK_K8S_SCHEMA,
    CHECK_PDB,
    CHECK_POD_SECURITY,
    CHECK_PROBES,
    CHECK_RESOURCES,
    CHECK_SECRET_DATA,
    CHECK_UNKNOWN_KIND,
    CHECK_ZERO_DOWNTIME,
    CHECKS,
    DEFAULT_KUBERNETES_VERSIONS,
    ENVIRONMENTS,
    ERROR,
    STRICT_ENVIRONMENTS,
    WARNING,
    Finding,
    api_group,
    dedupe,
    make_finding,
    object_identity,
    sort_findings,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.deploy_gate.policy import (
    check_autoscaling,
    check_image_tags,
    check_pdbs,
    check_pod_security,
    check_probes,
    check_resources,
    check_secret_data,
    check_zero_downtime,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.deploy_gate.schema import (  # noqa: F401 pylint: disable=unused-import
    HAS_JSONSCHEMA,
    HAS_KUBERNETES_VALIDATE,
    JSONSCHEMA_IMPORT_ERROR,
    KUBERNETES_VALIDATE_IMPORT_ERROR,
    CrdIndex,
    SchemaSetupError,
    check_schema,
    crd_from_manifest,
    normalize_kubernetes_versions,
    supported_kubernetes_versions,
)

try:
    import yaml

    HAS_YAML = True
    YAML_IMPORT_ERROR = None
    _YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
except ImportError:
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()
    _YAML_LOADER = None

MANIFEST_EXTENSIONS = (".yaml", ".yml", ".json")
COLLECTION_CRD_SUBDIR = os.path.join("ansible_collections", "nl2api", "deploy", "deploy", "crds")


class GateError(Exception):
    """The gate could not run (bad input path, unparsable YAML, bad option): not a finding."""


@dataclass(frozen=True)
class GateOptions:
    """What to check the manifests for.

    ``crd_dir`` None means ``default_crd_dir()``. Versions are normalized by ``check_manifests``.
    """

    environment: str
    kubernetes_versions: Tuple[str, ...] = DEFAULT_KUBERNETES_VERSIONS
    crd_dir: Optional[str] = None


def missing_libraries() -> List[Tuple[str, Optional[str]]]:
    """(pip name, import traceback) of every missing third-party library."""
    missing = []
    if not HAS_YAML:
        missing.append(("PyYAML", YAML_IMPORT_ERROR))
    if not HAS_JSONSCHEMA:
        missing.append(("jsonschema", JSONSCHEMA_IMPORT_ERROR))
    if not HAS_KUBERNETES_VALIDATE:
        missing.append(("kubernetes-validate", KUBERNETES_VALIDATE_IMPORT_ERROR))
    return missing


# --------------------------------------------------------------------------------------------------------------
# I/O at the edges: manifests and CRDs


def _normalize(value: Any) -> Any:
    """Make YAML data look like the JSON the API server receives (string keys, dates as strings)."""
    if isinstance(value, dict):
        return dict((str(k) if not isinstance(k, str) else k, _normalize(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def _flatten(document: Any) -> List[Any]:
    if isinstance(document, Mapping) and document.get("kind") == "List" and isinstance(document.get("items"), list):
        out: List[Any] = []
        for item in document["items"]:
            out.extend(_flatten(item))
        return out
    return [document]


def parse_manifests(text: str, source: str = "<string>") -> List[Any]:
    """Documents of one multi-document YAML (or JSON) stream; empty documents are skipped, ``kind: List`` flattened."""
    if not HAS_YAML:
        raise GateError("PyYAML is required to read manifests")
    try:
        documents = list(yaml.load_all(text, Loader=_YAML_LOADER))
    except yaml.YAMLError as exc:
        raise GateError("%s: invalid YAML: %s" % (source, exc)) from exc
    out: List[Any] = []
    for document in documents:
        if document is not None:
            out.extend(_flatten(_normalize(document)))
    return out


def _manifest_files(path: str) -> List[str]:
    if os.path.isdir(path):
        found = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found.extend(os.path.join(root, f) for f in sorted(files) if f.endswith(MANIFEST_EXTENSIONS))
        return found
    if os.path.exists(path):
        return [path]
    raise GateError("%s: no such file or directory" % path)


def load_manifests(paths: Iterable[str], stdin: Optional[TextIO] = None) -> List[Any]:
    """Manifests from files, directories (``*.yaml``, ``*.yml``, ``*.json``, recursively, sorted) and ``-`` (stdin)."""
    manifests: List[Any] = []
    for path in paths:
        if path == "-":
            manifests.extend(parse_manifests((stdin or sys.stdin).read(), "<stdin>"))
            continue
        for filename in _manifest_files(path):
            try:
                with open(filename, encoding="utf-8") as handle:
                    text = handle.read()
            except (OSError, UnicodeDecodeError) as exc:
                raise GateError("%s: cannot read: %s" % (filename, exc)) from exc
            manifests.extend(parse_manifests(text, filename))
    return manifests


def default_crd_dir() -> str:
    """``deploy/crds`` of this collection, next to ``plugins/`` (valid when the collection is on disk); this file is
    plugins/module_utils/deploy_gate/gate.py."""
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "deploy", "crds"))


def find_crd_dir(environ: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None) -> Optional[str]:
    """The collection's CRD directory: next to this file, else under a collections path; None if not found.

    Inside an AnsiballZ payload this file lives in a zip, so the module looks under ``ANSIBLE_COLLECTIONS_PATH``
    (or ``ANSIBLE_COLLECTIONS_PATHS``), ``collections/`` in the working directory (the playbook's directory when
    ansible-playbook runs the module locally) or any of its parents, ``~/.ansible/collections`` and
    ``/usr/share/ansible/collections``.
    """
    environ = os.environ if environ is None else environ
    candidates = [default_crd_dir()]
    roots: List[str] = []
    for variable in ("ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_COLLECTIONS_PATHS"):
        roots.extend(p for p in environ.get(variable, "").split(os.pathsep) if p)
    directory = os.path.abspath(cwd or os.getcwd())
    while True:
        roots.append(os.path.join(directory, "collections"))
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    roots.extend([os.path.expanduser("~/.ansible/collections"), "/usr/share/ansible/collections"])
    for root in roots:
        root = os.path.expanduser(root)
        candidates.append(os.path.join(root, COLLECTION_CRD_SUBDIR))
        if os.path.basename(os.path.normpath(root)) == "ansible_collections":
            candidates.append(os.path.join(os.path.dirname(os.path.normpath(root)), COLLECTION_CRD_SUBDIR))
    for candidate in candidates:
        if os.path.isdir(candidate):
            return candidate
    return None


_CRD_CACHE: Dict[Tuple[Any, ...], CrdIndex] = {}


def load_crds(crd_dir: Optional[str] = None) -> CrdIndex:
    """CustomResourceDefinitions of every ``*.yaml``/``*.yml``/``*.json`` file under ``crd_dir`` (cached per content)."""
    crd_dir = crd_dir or default_crd_dir()
    if not os.path.isdir(crd_dir):
        raise GateError("%s: CRD directory not found" % crd_dir)
    files = _manifest_files(crd_dir)
    key = tuple((f, os.stat(f).st_mtime_ns, os.stat(f).st_size) for f in files)
    if key not in _CRD_CACHE:
        crds = []
        for filename in files:
            for document in load_manifests([filename]):
                if isinstance(document, Mapping) and document.get("kind") == "CustomResourceDefinition":
                    try:
                        crds.append(crd_from_manifest(document, filename))
                    except SchemaSetupError as exc:
                        raise GateError(str(exc)) from exc
        _CRD_CACHE[key] = CrdIndex(crds)
    return _CRD_CACHE[key]


# --------------------------------------------------------------------------------------------------------------
# The gate


def validate_options(options: GateOptions) -> GateOptions:
    """Options with normalized Kubernetes versions; raises GateError for a bad environment or version."""
    if options.environment not in ENVIRONMENTS:
        raise GateError("unknown environment %r (expected one of %s)" % (options.environment, ", ".join(ENVIRONMENTS)))
    try:
        versions = normalize_kubernetes_versions(options.kubernetes_versions)
    except SchemaSetupError as exc:
        raise GateError(str(exc)) from exc
    return GateOptions(options.environment, versions, options.crd_dir)


def _input_findings(objects: Sequence[Any]) -> Tuple[List[Finding], List[Mapping]]:
    """Findings for documents that are not Kubernetes objects, and the objects that are."""
    findings: List[Finding] = []
    valid: List[Mapping] = []
    seen: Dict[Tuple[str, str, str, str], int] = {}
    for index, obj in enumerate(objects):
        if not isinstance(obj, Mapping):
            findings.append(make_finding(obj, "", "document %d is a %s, not a Kubernetes object (input)" % (index + 1, type(obj).__name__),
                                         CHECK_INPUT))
            continue
        problems = [f for f in ("apiVersion", "kind") if not isinstance(obj.get(f), str) or not obj.get(f)]
        metadata = obj.get("metadata")
        if not isinstance(metadata, Mapping) or not (metadata.get("name") or metadata.get("generateName")):
            problems.append("metadata.name")
        for field in problems:
            findings.append(make_finding(obj, field, "required field is missing (input)", CHECK_INPUT))
        if problems:
            continue
        key = (api_group(obj["apiVersion"]),) + object_identity(obj)
        if metadata.get("name") and key in seen:
            findings.append(make_finding(obj, "metadata.name", "duplicate object: document %d and %d (input)" % (seen[key] + 1, index + 1),
                                         CHECK_INPUT))
        seen.setdefault(key, index)
        valid.append(obj)
    return findings, valid


def check_object(obj: Mapping, options: GateOptions, crds: CrdIndex) -> List[Finding]:
    """Schema and single-object policy findings for one valid object (options already validated)."""
    findings = check_schema(obj, options.kubernetes_versions, crds)
    findings.extend(check_pod_security(obj))
    findings.extend(check_resources(obj))
    findings.extend(check_probes(obj))
    findings.extend(check_zero_downtime(obj))
    findings.extend(check_image_tags(obj, options.environment))
    findings.extend(check_secret_data(obj, options.environment))
    return findings


def check_manifests(manifests: Sequence[Any], options: GateOptions, crds: Optional[CrdIndex] = None) -> List[Finding]:
    """Every finding for a rendered set of manifests, grouped by object in input order.

    ``crds`` defaults to ``load_crds(options.crd_dir)``; CustomResourceDefinitions found in ``manifests`` are
    added to it, so a chart that ships its own CRDs is checked against them. Raises GateError when the
    options are invalid or the CRDs cannot be loaded.
    """
    missing = missing_libraries()
    if missing:
        raise GateError("missing Python libraries: %s" % ", ".join(entry[0] for entry in missing))
    options = validate_options(options)
    if crds is None:
        crds = load_crds(options.crd_dir)
    findings, objects = _input_findings(manifests)
    shipped = []
    for obj in objects:
        if obj.get("kind") == "CustomResourceDefinition" and isinstance(obj.get("spec"), Mapping):
            try:
                shipped.append(crd_from_manifest(obj, "manifests"))
            except SchemaSetupError:
                pass  # its own schema check reports what is missing
    if shipped:
        crds = crds.with_crds(shipped)
    for obj in objects:
        findings.extend(check_object(obj, options, crds))
    findings.extend(check_pdbs(objects))
    findings.extend(check_autoscaling(objects, options.environment))
    return sort_findings(dedupe(findings), manifests)


def gate_passed(findings: Iterable[Finding]) -> bool:
    """True when no finding is an error (warnings do not fail the gate)."""
    return not any(f.is_failure for f in findings)


def format_summary(objects_checked: int, findings: Sequence[Finding], options: GateOptions) -> str:
    """``gate: 31 objects, 2 failures (env=prod, kubernetes 1.31,1.35)``; ``, 1 warnings`` is added when there are warnings."""
    failures = sum(1 for f in findings if f.is_failure)
    warnings = len(findings) - failures
    text = "gate: %d objects, %d failures" % (objects_checked, failures)
    if warnings:
        text += ", %d warnings" % warnings
    return "%s (env=%s, kubernetes %s)" % (text, options.environment, ",".join(options.kubernetes_versions))

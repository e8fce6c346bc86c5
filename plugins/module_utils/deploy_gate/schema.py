# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Schema checks of the deploy gate.

* Built-in kinds are validated against the strict OpenAPI schemas shipped by kubernetes-validate, once per
  Kubernetes version (unknown fields are rejected: the strict schemas close every object).
* Custom resources are validated against the ``openAPIV3Schema`` of the served CRD version, converted to a
  closed JSON schema (an object that lists ``properties`` and no ``additionalProperties`` rejects other keys:
  the API server would silently prune them, which for a hand-written manifest means a typo).
* Anything else is reported as ``no schema for kind``.

kubernetes-validate's ``validate()`` raises on the first error only and re-reads its 1.5 MB definitions file
on every call, so the gate uses the same schema files and lookup rules (``kubernetes_validate.utils``) with
validators cached per (version, apiVersion, kind) and reports every error.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import copy
import re
import traceback
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.nl2api.deploy.plugins.module_utils.deploy_gate.common import (
    CHECK_CRD_SCHEMA,
    CHECK_K8S_SCHEMA,
    CHECK_UNKNOWN_KIND,
    Finding,
    PathPart,
    api_group,
    as_mapping,
    format_path,
    make_finding,
    short_repr,
)

try:
    import jsonschema
    from referencing import Registry, Resource

    HAS_JSONSCHEMA = True
    JSONSCHEMA_IMPORT_ERROR = None
except ImportError:
    HAS_JSONSCHEMA = False
    JSONSCHEMA_IMPORT_ERROR = traceback.format_exc()

try:
    import kubernetes_validate
    from kubernetes_validate import utils as kubernetes_validate_utils

    HAS_KUBERNETES_VALIDATE = True
    KUBERNETES_VALIDATE_IMPORT_ERROR = None
except ImportError:
    HAS_KUBERNETES_VALIDATE = False
    KUBERNETES_VALIDATE_IMPORT_ERROR = traceback.format_exc()

OBJECT_META_REF = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


class SchemaSetupError(Exception):
    """A Kubernetes version the installed kubernetes-validate has no schemas for, or a broken CRD."""


# --------------------------------------------------------------------------------------------------------------
# Kubernetes versions


def supported_kubernetes_versions() -> List[str]:
    """``major.minor`` versions kubernetes-validate ships strict schemas for, oldest first."""
    return [kubernetes_validate_utils.major_minor(v) for v in kubernetes_validate_utils.all_versions()]


def normalize_kubernetes_versions(versions: Iterable[str]) -> Tuple[str, ...]:
    """``["v1.31.4", "1.35"]`` -> ``("1.31", "1.35")``; raises SchemaSetupError for an unsupported version."""
    supported = supported_kubernetes_versions()
    out: List[str] = []
    for version in versions:
        text = str(version).strip()
        text = text[1:] if text.startswith("v") else text
        match = re.match(r"^(\d+)\.(\d+)(?:\.\d+)?$", text)
        if not match:
            raise SchemaSetupError("invalid Kubernetes version %r (expected major.minor, e.g. 1.31)" % (version,))
        normalized = "%d.%d" % (int(match.group(1)), int(match.group(2)))
        if normalized not in supported:
            raise SchemaSetupError(
                "kubernetes-validate %s has no schemas for Kubernetes %s (supported: %s to %s)"
                % (kubernetes_validate.__version__, normalized, supported[0], supported[-1])
            )
        if normalized not in out:
            out.append(normalized)
    if not out:
        raise SchemaSetupError("at least one Kubernetes version is required")
    return tuple(out)


# --------------------------------------------------------------------------------------------------------------
# Built-in kinds (kubernetes-validate strict schemas)

_REGISTRIES: Dict[str, Any] = {}
_BUILTIN_VALIDATORS: Dict[Tuple[str, str, str], Any] = {}
_META_VALIDATORS: Dict[str, Any] = {}


def _schema_dir(version: str) -> str:
    for full in kubernetes_validate_utils.all_versions():
        if kubernetes_validate_utils.major_minor(full) == version:
            return "kubernetes-json-schema/v%s-local-strict" % full
    raise SchemaSetupError("kubernetes-validate has no schemas for Kubernetes %s" % version)


def _registry(version: str) -> Any:
    if version not in _REGISTRIES:
        definitions = kubernetes_validate_utils.schema_contents("%s/_definitions.json" % _schema_dir(version), version)
        _REGISTRIES[version] = Resource.from_contents(definitions) @ Registry()
    return _REGISTRIES[version]


def _builtin_validator(version: str, api_version: str, kind: str) -> Any:
    """Draft 2020-12 validator for a top-level built-in kind, or None when the version does not serve it."""
    key = (version, api_version, kind)
    if key in _BUILTIN_VALIDATORS:
        return _BUILTIN_VALIDATORS[key]
    validator = None
    # Same file naming as kubernetes_validate.validate(): rbac.authorization.k8s.io/v1 -> rbac-v1
    suffix = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    filename = "%s/%s-%s.json" % (_schema_dir(version), kind.lower(), suffix)
    try:
        schema = kubernetes_validate_utils.schema_contents(filename, version)
    except (FileNotFoundError, kubernetes_validate_utils.VersionNotSupportedError):
        schema = None
    if schema is not None:
        group = api_group(api_version)
        version_part = api_version.rsplit("/", maxsplit=1)[-1]
        gvks = schema.get("x-kubernetes-group-version-kind") or []
        # Only top-level kinds declare their GVK; "DeploymentSpec" or "apps.example.com/v1 Deployment" do not match.
        if any(g.get("group", "") == group and g.get("version") == version_part and g.get("kind") == kind for g in gvks):
            validator = jsonschema.Draft202012Validator(schema, registry=_registry(version))
    _BUILTIN_VALIDATORS[key] = validator
    return validator


def _object_meta_validator(version: str) -> Any:
    if version not in _META_VALIDATORS:
        _META_VALIDATORS[version] = jsonschema.Draft202012Validator({"$ref": OBJECT_META_REF}, registry=_registry(version))
    return _META_VALIDATORS[version]


def is_builtin_kind(api_version: str, kind: str, versions: Sequence[str]) -> bool:
    return any(_builtin_validator(v, api_version, kind) is not None for v in versions)


# --------------------------------------------------------------------------------------------------------------
# Custom resources (CRD openAPIV3Schema)


class CrdVersion:
    def __init__(self, name: str, served: bool, schema: Optional[Mapping]) -> None:
        self.name = name
        self.served = served
        self.schema = schema
        self._validator: Any = None

    @property
    def validator(self) -> Any:
        if self._validator is None:
            converted = crd_schema_to_jsonschema(self.schema or {}, root=True)
            jsonschema.Draft4Validator.check_schema(converted)
            self._validator = jsonschema.Draft4Validator(converted)
        return self._validator


class Crd:
    def __init__(self, group: str, kind: str, scope: str, versions: Dict[str, CrdVersion], source: str) -> None:
        self.group = group
        self.kind = kind
        self.scope = scope
        self.versions = versions
        self.source = source

    @property
    def served_versions(self) -> List[str]:
        return [name for name, v in self.versions.items() if v.served]


class CrdIndex:
    """CustomResourceDefinitions by (group, kind)."""

    def __init__(self, crds: Iterable[Crd] = ()) -> None:
        self._crds: Dict[Tuple[str, str], Crd] = {}
        for crd in crds:
            self.add(crd)

    def add(self, crd: Crd) -> None:
        self._crds[(crd.group, crd.kind)] = crd

    def lookup(self, api_version: str, kind: str) -> Optional[Crd]:
        return self._crds.get((api_group(api_version), kind))

    def kinds(self) -> List[str]:
        return sorted("%s.%s" % (kind, group) for group, kind in self._crds)

    def with_crds(self, crds: Iterable[Crd]) -> "CrdIndex":
        merged = CrdIndex(self._crds.values())
        for crd in crds:
            merged.add(crd)
        return merged

    def __len__(self) -> int:
        return len(self._crds)


def crd_from_manifest(doc: Mapping, source: str = "") -> Crd:
    """Build a Crd from an apiextensions.k8s.io/v1 CustomResourceDefinition manifest."""
    spec = as_mapping(doc.get("spec"))
    names = as_mapping(spec.get("names"))
    group, kind = spec.get("group"), names.get("kind")
    if not group or not kind:
        raise SchemaSetupError("%s: CustomResourceDefinition without spec.group or spec.names.kind" % (source or "?"))
    versions: Dict[str, CrdVersion] = {}
    shared_schema = as_mapping(spec.get("validation")).get("openAPIV3Schema")  # pre-v1 CRDs
    for version in spec.get("versions") or []:
        schema = as_mapping(version.get("schema")).get("openAPIV3Schema") or shared_schema
        versions[str(version.get("name"))] = CrdVersion(str(version.get("name")), bool(version.get("served")), schema)
    return Crd(str(group), str(kind), str(spec.get("scope") or "Namespaced"), versions, source)


def crd_schema_to_jsonschema(schema: Mapping, root: bool = False, structural: bool = True) -> Dict[str, Any]:
    """Convert a CRD (OpenAPI v3.0 structural) schema to a closed JSON schema for Draft 4 validation.

    * an object with ``properties`` or without anything, and no ``additionalProperties``, is closed;
    * ``x-kubernetes-preserve-unknown-fields: true`` keeps it open (listed properties are still checked);
    * ``x-kubernetes-int-or-string: true`` accepts integers and strings;
    * ``x-kubernetes-embedded-resource: true`` implies apiVersion/kind/metadata;
    * ``nullable: true`` accepts null;
    * value validations inside allOf/anyOf/oneOf/not are kept but never closed (they do not declare fields);
    * at the root, ``metadata`` is dropped: the gate validates it against ObjectMeta separately.
    """
    out: Dict[str, Any] = {}
    for key in ("enum", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
                "maxLength", "minItems", "maxItems", "uniqueItems", "multipleOf", "minProperties", "maxProperties",
                "required"):
        if key in schema:
            out[key] = copy.deepcopy(schema[key])
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    if schema.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
    elif "type" in schema:
        out["type"] = schema["type"]
    if schema.get("nullable"):
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = types + ["null"]
        if "enum" in out:
            out["enum"] = list(out["enum"]) + [None]
    properties = dict(as_mapping(schema.get("properties")))
    if schema.get("x-kubernetes-embedded-resource"):
        properties.setdefault("apiVersion", {"type": "string"})
        properties.setdefault("kind", {"type": "string"})
        properties.setdefault("metadata", {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    if root:
        properties.pop("metadata", None)
        out["properties"] = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}}
    if properties:
        out.setdefault("properties", {})
        for name, sub in properties.items():
            out["properties"][name] = crd_schema_to_jsonschema(as_mapping(sub), structural=structural)
    if "items" in schema and isinstance(schema["items"], Mapping):
        out["items"] = crd_schema_to_jsonschema(schema["items"], structural=structural)
    additional = schema.get("additionalProperties")
    if isinstance(additional, Mapping):
        out["additionalProperties"] = crd_schema_to_jsonschema(additional, structural=structural)
    elif isinstance(additional, bool):
        out["additionalProperties"] = additional
    elif structural and not preserve and (schema.get("type") == "object" or properties or root):
        out["additionalProperties"] = False
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            out[key] = [crd_schema_to_jsonschema(as_mapping(sub), structural=False) for sub in schema[key]]
    if isinstance(schema.get("not"), Mapping):
        out["not"] = crd_schema_to_jsonschema(schema["not"], structural=False)
    if preserve and "type" not in schema and not properties:
        out.pop("type", None)
    return out


# --------------------------------------------------------------------------------------------------------------
# Error reporting


def strip_nulls(value: Any) -> Any:
    """Drop ``key: null`` from mappings, as the API server does for optional fields (Helm renders many)."""
    if isinstance(value, Mapping):
        return dict((k, strip_nulls(v)) for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    if value is None:
        return "null"
    return type(value).__name__


def _types_of(schema: Any) -> List[str]:
    types = as_mapping(schema).get("type")
    if isinstance(types, str):
        types = [types]
    return [t for t in (types or []) if t != "null"]


def _value_hint(value: Any, redact: bool) -> str:
    if redact:
        return ""
    rendered = short_repr(value)
    return " (got %s)" % rendered if rendered is not None else ""


def error_to_fields(error: Any, document: Any, redact: bool = False) -> List[Tuple[str, str]]:
    """Turn one jsonschema error into ``(field, reason)`` pairs, naming list items and unknown fields."""
    path: List[PathPart] = list(error.absolute_path)
    instance = error.instance
    validator = error.validator
    value = error.validator_value
    schema = as_mapping(error.schema)
    if validator == "additionalProperties" and value is False and isinstance(instance, Mapping):
        known = set(as_mapping(schema.get("properties")))
        patterns = list(as_mapping(schema.get("patternProperties")))
        extras = [k for k in instance if k not in known and not any(re.search(p, str(k)) for p in patterns)]
        return [(format_path(path + [str(k)], document), 'unknown field "%s"' % k) for k in extras]
    if validator == "required" and isinstance(instance, Mapping):
        missing = [k for k in value if k not in instance]
        return [(format_path(path + [k], document), "required field is missing") for k in missing]
    field = format_path(path, document)
    if validator == "type":
        expected = value if isinstance(value, list) else [value]
        expected = [t for t in expected if t != "null"]
        return [(field, "must be of type %s (got %s)" % (" or ".join(expected), _json_type(instance)))]
    if validator == "enum":
        allowed = ", ".join(short_repr(v) or "?" for v in value if v is not None)
        return [(field, "must be one of %s%s" % (allowed, _value_hint(instance, redact)))]
    if validator in ("oneOf", "anyOf"):
        types: List[str] = []
        for sub in value:
            for sub_type in _types_of(sub):
                if sub_type not in types:
                    types.append(sub_type)
        if types and all(set(as_mapping(sub)) <= {"type"} for sub in value):
            return [(field, "must be of type %s (got %s)" % (" or ".join(types), _json_type(instance)))]
        return [(field, "does not match any allowed form%s" % _value_hint(instance, redact))]
    messages = {
        "pattern": "must match the pattern %s",
        "minLength": "must be at least %s characters long",
        "maxLength": "must be at most %s characters long",
        "minimum": "must be >= %s",
        "maximum": "must be <= %s",
        "exclusiveMinimum": "must be > the minimum (%s)",
        "exclusiveMaximum": "must be < the maximum (%s)",
        "minItems": "must have at least %s items",
        "maxItems": "must have at most %s items",
        "minProperties": "must have at least %s entries",
        "maxProperties": "must have at most %s entries",
        "const": "must be %s",
        "uniqueItems": "items must be unique (%s)",
        "multipleOf": "must be a multiple of %s",
    }
    if validator in messages:
        return [(field, (messages[validator] % (value,)) + _value_hint(instance, redact))]
    if validator == "not":
        return [(field, "is not allowed here")]
    message = error.message if not redact else "is invalid (%s)" % validator
    return [(field, message if len(message) <= 200 else message[:197] + "...")]


def _problems(validator: Any, instance: Any, document: Any, redact: bool = False) -> List[Tuple[str, str]]:
    """Every ``(field, reason)`` of ``instance``, sorted by field, without duplicates."""
    problems = set()
    for error in validator.iter_errors(instance):
        problems.update(error_to_fields(error, document, redact))
    return sorted(problems)


# --------------------------------------------------------------------------------------------------------------
# Checks


def check_builtin_schema(obj: Mapping, versions: Sequence[str]) -> List[Finding]:
    """Strict OpenAPI validation of a built-in kind for each Kubernetes version.

    The same problem in several versions is reported once, naming the versions.
    """
    api_version, kind = str(obj.get("apiVersion")), str(obj.get("kind"))
    redact = kind == "Secret"
    instance = strip_nulls(obj)
    problems: Dict[Tuple[str, str], List[str]] = {}
    for version in versions:
        validator = _builtin_validator(version, api_version, kind)
        if validator is None:
            problems.setdefault(("apiVersion", "%s %s is not served by this version" % (api_version, kind)), []).append(version)
            continue
        for problem in _problems(validator, instance, obj, redact):
            problems.setdefault(problem, []).append(version)
    return [
        make_finding(obj, field, "%s (strict schema, kubernetes %s)" % (reason, ", ".join(found_in)), CHECK_K8S_SCHEMA)
        for (field, reason), found_in in problems.items()
    ]


def check_custom_resource(obj: Mapping, crd: Crd, versions: Sequence[str]) -> List[Finding]:
    """Validate a custom resource against its CRD's served version schema, and its metadata against ObjectMeta."""
    api_version = str(obj.get("apiVersion"))
    version_name = api_version.rsplit("/", maxsplit=1)[-1]
    where = "CRD %s.%s" % (crd.kind, crd.group)
    crd_version = crd.versions.get(version_name)
    if crd_version is None or not crd_version.served:
        state = "is not defined by" if crd_version is None else "is not served by"
        reason = "version %s %s the %s (served: %s)" % (version_name, state, where, ", ".join(crd.served_versions) or "none")
        return [make_finding(obj, "apiVersion", reason, CHECK_CRD_SCHEMA)]
    instance = strip_nulls(obj)
    try:
        problems = _problems(crd_version.validator, instance, obj)
    except (re.error, jsonschema.exceptions.SchemaError) as exc:
        reason = "the %s %s schema cannot be evaluated: %s" % (where, version_name, str(exc).splitlines()[0][:200])
        return [make_finding(obj, "apiVersion", reason, CHECK_CRD_SCHEMA)]
    findings = [make_finding(obj, field, "%s (%s %s schema)" % (reason, where, version_name), CHECK_CRD_SCHEMA)
                for field, reason in problems]
    metadata = instance.get("metadata")
    if metadata is not None and versions:
        for field, reason in _problems(_object_meta_validator(versions[-1]), metadata, metadata):
            field = "metadata" + ("." + field if field and not field.startswith("[") else field)
            findings.append(make_finding(obj, field, "%s (ObjectMeta schema)" % reason, CHECK_CRD_SCHEMA))
    return findings


def check_schema(obj: Mapping, versions: Sequence[str], crds: CrdIndex) -> List[Finding]:
    """Schema findings for one object (apiVersion and kind must be strings)."""
    api_version, kind = str(obj.get("apiVersion")), str(obj.get("kind"))
    crd = crds.lookup(api_version, kind)
    if crd is not None:
        return check_custom_resource(obj, crd, versions)
    if is_builtin_kind(api_version, kind, versions):
        return check_builtin_schema(obj, versions)
    reason = "no schema for kind %s (apiVersion %s): not a Kubernetes %s kind and no CRD defines it" % (
        kind, api_version, "/".join(versions))
    return [make_finding(obj, "kind", reason, CHECK_UNKNOWN_KIND)]

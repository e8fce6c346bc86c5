"""API-contract tests of plugins/module_utils/rotation/kubernetes.py (credential rotation, Kubernetes side).

No API server can run here, so an in-process HTTP server on 127.0.0.1 speaks the few REST endpoints the module
uses, strictly: Secrets, Deployments, KEDA ScaledObjects/ScaledJobs/TriggerAuthentications and
ClusterTriggerAuthentications (GET, list, POST for Secrets, PATCH). Like the real API server it

* accepts only the patch media types a resource supports (JSON merge patch everywhere, strategic merge patch for
  built-in kinds only, JSON patch only as a JSON array) and answers 415/400 otherwise;
* refuses a patch whose metadata.resourceVersion is stale (409), bumps resourceVersion on every real change and
  metadata.generation on spec changes (Deployments, and custom resources with a status subresource);
* validates every object it stores: kubernetes-validate (strict, Kubernetes 1.31 like the chart tests) for Secret
  and Deployment, the KEDA v2.20.2 CRD openAPIV3Schema (deploy/crds, unknown fields refused as the API server
  prunes/rejects them) for KEDA objects, and base64 for Secret data -- an invalid result is 422 and not stored.

The Deployment "controller" rolls out after a pod template change, one step per GET, so the wait logic runs:
normally (complete after three GETs), into ProgressDeadlineExceeded, or never (stuck: the timeout).
The real `kubernetes` Python client talks to it through a generated kubeconfig, via the module's factories.
The last test runs nl2api.deploy.credential_rotation itself (through `ansible`) against it and a real Redis.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import re
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema
import kubernetes_validate
import pytest
import redis
import yaml

from ansible_collections.nl2api.deploy.plugins.module_utils.rotation import kubernetes as rk
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.engine import (
    Credential,
    RotationError,
)
from support import ansible_cli
from support.kube_api import serve_kube_api, status, strict_schema, write_kubeconfig

ROOT = Path(__file__).resolve().parents[3]

K8S_VERSION = "1.31"
NS = "nl2api"
CRD_DIR = ROOT / "deploy" / "crds"
REV1 = "redis-app-20261127T235900Z"
REV2 = "redis-app-20261128T000500Z"
OLD_PASSWORD = "old-Password-0123456789-abcdefghijkl"
NEW_PASSWORD = "new-Password-9876543210-zyxwvutsrqpo"

KINDS = {
    # plural: (apiVersion, kind, namespaced, built-in)
    "secrets": ("v1", "Secret", True, True),
    "deployments": ("apps/v1", "Deployment", True, True),
    "scaledobjects": ("keda.sh/v1alpha1", "ScaledObject", True, False),
    "scaledjobs": ("keda.sh/v1alpha1", "ScaledJob", True, False),
    "triggerauthentications": ("keda.sh/v1alpha1", "TriggerAuthentication", True, False),
    "clustertriggerauthentications": ("keda.sh/v1alpha1", "ClusterTriggerAuthentication", False, False),
}
PLURAL_OF = {spec[1]: plural for plural, spec in KINDS.items()}
ROUTES = [
    (re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/(?P<plural>secrets)(?:/(?P<name>[^/]+))?$")),
    (re.compile(r"^/apis/apps/v1/namespaces/(?P<ns>[^/]+)/(?P<plural>deployments)(?:/(?P<name>[^/]+))?$")),
    (re.compile(r"^/apis/keda\.sh/v1alpha1/namespaces/(?P<ns>[^/]+)/"
                r"(?P<plural>scaledobjects|scaledjobs|triggerauthentications)(?:/(?P<name>[^/]+))?$")),
    (re.compile(r"^/apis/keda\.sh/v1alpha1/(?P<plural>scaledobjects|scaledjobs|triggerauthentications|"
                r"clustertriggerauthentications)(?:/(?P<name>[^/]+))?$")),
]
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


# --------------------------------------------------------------------------------------------------------------------
# Schemas


@functools.lru_cache(maxsize=None)
def keda_validators() -> dict[str, jsonschema.Draft7Validator]:
    validators = {}
    for path in sorted(CRD_DIR.glob("keda-*.yaml")):
        crd = yaml.safe_load(path.read_text())
        for version in crd["spec"]["versions"]:
            if version["name"] == "v1alpha1":
                schema = strict_schema(version["schema"]["openAPIV3Schema"])
                validators[crd["spec"]["names"]["kind"]] = jsonschema.Draft7Validator(schema)
    # ClusterTriggerAuthentication is the same Go type (TriggerAuthenticationSpec) as TriggerAuthentication, and
    # its CRD is not vendored: validate it with the TriggerAuthentication schema.
    validators["ClusterTriggerAuthentication"] = validators["TriggerAuthentication"]
    return validators


@functools.lru_cache(maxsize=None)
def _memoise_kubernetes_validate() -> None:
    import kubernetes_validate.utils as kv_utils

    kv_utils.schema_contents = functools.lru_cache(maxsize=None)(kv_utils.schema_contents)


def validation_errors(obj: dict) -> list[str]:
    kind = obj.get("kind")
    meta = obj.get("metadata") or {}
    errors = []
    if not meta.get("name"):
        errors.append("metadata.name: Required value")
    for label, values in (("annotations", meta.get("annotations")), ("labels", meta.get("labels"))):
        if values is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in values.items()):
            errors.append("metadata.%s: values must be strings" % label)
    if kind in ("Secret", "Deployment"):
        _memoise_kubernetes_validate()
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append("%s: %s" % (".".join(map(str, exc.path)), exc.message))
        if kind == "Secret":
            for key, value in (obj.get("data") or {}).items():
                try:
                    base64.b64decode(value, validate=True)
                except (ValueError, TypeError):
                    errors.append("data[%s]: Invalid value: %r: illegal base64 data" % (key, value))
    else:
        for err in keda_validators()[kind].iter_errors(obj):
            errors.append("%s: %s" % (".".join(map(str, err.path)), err.message))
    return errors


# --------------------------------------------------------------------------------------------------------------------
# JSON merge patch (RFC 7386) and the strategic merge patch of the shapes the module sends (maps only)


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    def has_list(node: Any) -> bool:
        if isinstance(node, dict):
            return any(has_list(v) or k.startswith("$") for k, v in node.items())
        return isinstance(node, list)

    if has_list(patch):
        raise ValueError("this fake API server merges maps only; lists and $directives are not implemented")
    return merge_patch(target, patch)


def json_patch(target: Any, operations: list) -> Any:
    doc = copy.deepcopy(target)
    for op in operations:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = doc
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last = parts[-1]
        if op["op"] == "test":
            current = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if current != op["value"]:
                raise ValueError("test operation failed at %s" % op["path"])
        elif op["op"] in ("add", "replace"):
            if isinstance(parent, list):
                parent.insert(int(last), op["value"]) if op["op"] == "add" else parent.__setitem__(int(last), op["value"])
            else:
                parent[last] = op["value"]
        elif op["op"] == "remove":
            del parent[int(last) if isinstance(parent, list) else last]
        else:
            raise ValueError("unsupported operation %s" % op["op"])
    return doc


# --------------------------------------------------------------------------------------------------------------------
# The fake API server


@dataclass
class Request:
    method: str
    path: str
    content_type: str
    body: Any


@dataclass
class FakeKube:
    url: str = ""
    objects: dict = field(default_factory=dict)  # (plural, namespace or None, name) -> object
    requests: list = field(default_factory=list)
    rollout_mode: dict = field(default_factory=dict)  # deployment name -> ok | deadline | stuck
    rollouts: dict = field(default_factory=dict)  # deployment key -> step of the rollout in progress
    missing_crds: set = field(default_factory=set)  # plurals whose CRD is "not installed"
    fail_next: dict = field(default_factory=dict)  # (method, plural) -> (code, reason, echo request body?)
    race_next: set = field(default_factory=set)  # (plural, name): change the object once between GET and PATCH
    resource_version: int = 100
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- fixtures' helpers -------------------------------------------------------------------------------------------

    def add(self, obj: dict) -> dict:
        obj = copy.deepcopy(obj)
        plural = PLURAL_OF[obj["kind"]]
        meta = obj.setdefault("metadata", {})
        namespaced = KINDS[plural][2]
        key = (plural, meta.get("namespace") if namespaced else None, meta["name"])
        errors = validation_errors(obj)
        assert not errors, errors
        meta["uid"] = "uid-%s-%s" % (plural, meta["name"])
        meta["creationTimestamp"] = "2026-11-01T00:00:00Z"
        if plural != "secrets":
            meta["generation"] = 1
        self._bump_rv(meta)
        self.objects[key] = obj
        return obj

    def get(self, plural: str, namespace: str | None, name: str) -> dict:
        return self.objects[(plural, namespace, name)]

    def patches(self) -> list[Request]:
        return [r for r in self.requests if r.method in ("PATCH", "POST", "PUT")]

    def calls(self) -> list[str]:
        return ["%s %s" % (r.method, r.path) for r in self.requests]

    def kubeconfig(self, directory: Path, context: str = "fake") -> str:
        return str(write_kubeconfig(directory / "kubeconfig", self.url, context=context, current="other"))

    # -- server side -------------------------------------------------------------------------------------------------

    def _bump_rv(self, meta: dict) -> None:
        self.resource_version += 1
        meta["resourceVersion"] = str(self.resource_version)

    def handle(self, method: str, raw_path: str, content_type: str, body: Any) -> tuple[int, dict]:
        path = urlparse(raw_path).path
        for route in ROUTES:
            match = route.match(path)
            if match:
                break
        else:
            return status(404, "NotFound", "the server could not find the requested resource")
        plural, name = match.group("plural"), match.group("name")
        namespace = match.groupdict().get("ns")
        api_version, kind, namespaced, builtin = KINDS[plural]
        if plural in self.missing_crds:
            return status(404, "NotFound", "the server could not find the requested resource")
        if namespaced and namespace is None and name is not None:
            return status(404, "NotFound", "the server could not find the requested resource")
        fault = self.fail_next.pop((method, plural), None)
        if fault is not None:
            code, reason, echo = fault
            message = "admission webhook denied the request" + (": %s" % json.dumps(body) if echo else "")
            return status(code, reason, message)
        if name is None:
            if method == "GET":
                items = [copy.deepcopy(o) for (p, ns, n), o in sorted(self.objects.items(), key=str)
                         if p == plural and (namespace is None or ns == namespace)]
                return 200, {"apiVersion": api_version, "kind": kind + "List",
                             "metadata": {"resourceVersion": str(self.resource_version)}, "items": items}
            if method == "POST" and plural == "secrets":
                return self._create(plural, namespace, body)
            return status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        key = (plural, namespace if namespaced else None, name)
        if key not in self.objects:
            return status(404, "NotFound", '%s "%s" not found' % (plural, name))
        if method == "GET":
            if plural == "deployments":
                self._advance_rollout(key)
            obj = copy.deepcopy(self.objects[key])
            if (plural, name) in self.race_next:
                self.race_next.discard((plural, name))
                self._bump_rv(self.objects[key]["metadata"])  # someone else wrote it after our GET
            return 200, obj
        if method == "PATCH":
            return self._patch(key, builtin, content_type, body)
        return status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def _create(self, plural: str, namespace: str, body: Any) -> tuple[int, dict]:
        if not isinstance(body, dict) or body.get("kind") != "Secret":
            return status(400, "BadRequest", "the body is not a Secret")
        meta = body.setdefault("metadata", {})
        if meta.get("namespace", namespace) != namespace:
            return status(400, "BadRequest", "the namespace of the object does not match the namespace on the request")
        meta["namespace"] = namespace
        key = (plural, namespace, meta.get("name"))
        if key in self.objects:
            return status(409, "AlreadyExists", 'secrets "%s" already exists' % meta.get("name"))
        errors = validation_errors(body)
        if errors:
            return status(422, "Invalid", 'Secret "%s" is invalid: %s' % (meta.get("name"), "; ".join(errors)))
        meta["uid"] = "uid-secret-%s" % meta["name"]
        meta["creationTimestamp"] = "2026-11-27T00:00:00Z"
        self._bump_rv(meta)
        self.objects[key] = copy.deepcopy(body)
        return 201, body

    def _patch(self, key: tuple, builtin: bool, content_type: str, body: Any) -> tuple[int, dict]:
        current = self.objects[key]
        media = content_type.split(";")[0].strip().lower()
        try:
            if media == MERGE:
                if not isinstance(body, dict):
                    return status(400, "BadRequest", "merge patch body must be a JSON object")
                patched = merge_patch(current, body)
            elif media == STRATEGIC:
                if not builtin:
                    return status(415, "UnsupportedMediaType",
                                  "the body of the request was in an unknown format - accepted media types include: "
                                  "application/json-patch+json, application/merge-patch+json, "
                                  "application/apply-patch+yaml")
                patched = strategic_merge_patch(current, body)
            elif media == JSON_PATCH:
                if not isinstance(body, list):
                    return status(400, "BadRequest",
                                  "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
                patched = json_patch(current, body)
            else:
                return status(415, "UnsupportedMediaType",
                              "the body of the request was in an unknown format - accepted media types include: "
                              "application/json-patch+json, application/merge-patch+json, "
                              "application/apply-patch+yaml")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            return status(422, "Invalid", str(exc))
        meta, old_meta = patched.setdefault("metadata", {}), current["metadata"]
        wanted_rv = meta.get("resourceVersion")
        if wanted_rv is not None and wanted_rv != old_meta["resourceVersion"]:
            return status(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the object has been modified; '
                          "please apply your changes to the latest version and try again" % (key[0], key[2]))
        for immutable in ("name", "namespace", "uid", "creationTimestamp", "generation"):
            if meta.get(immutable) != old_meta.get(immutable):
                meta[immutable] = old_meta.get(immutable)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        patched["status"] = copy.deepcopy(current.get("status")) if "status" in current else patched.get("status")
        if patched.get("status") is None:
            patched.pop("status", None)
        if patched == current:
            return 200, copy.deepcopy(current)  # a no-op patch changes nothing, not even resourceVersion
        errors = validation_errors(patched)
        if errors:
            return status(422, "Invalid", '%s "%s" is invalid: %s' % (patched.get("kind"), key[2], "; ".join(errors)))
        if key[0] != "secrets" and patched.get("spec") != current.get("spec"):
            meta["generation"] = old_meta["generation"] + 1
            if key[0] == "deployments" and (patched["spec"].get("template") != current["spec"].get("template")):
                self.rollouts[key] = 0
        self._bump_rv(meta)
        self.objects[key] = patched
        return 200, copy.deepcopy(patched)

    def _advance_rollout(self, key: tuple) -> None:
        """The Deployment controller, one step per GET while a rollout is in progress."""
        if key not in self.rollouts:
            return
        step = self.rollouts[key] = self.rollouts[key] + 1
        deployment = self.objects[key]
        mode = self.rollout_mode.get(key[2], "ok")
        wanted = deployment["spec"].get("replicas", 1)
        generation = deployment["metadata"]["generation"]
        now = "2026-11-27T23:59:%02dZ" % min(step, 59)
        progressing = {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                       "message": 'ReplicaSet "%s-new" is progressing.' % key[2],
                       "lastUpdateTime": now, "lastTransitionTime": now}
        available = {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                     "message": "Deployment has minimum availability.", "lastUpdateTime": now,
                     "lastTransitionTime": now}
        status_ = {"observedGeneration": generation, "replicas": wanted + 1, "updatedReplicas": 1,
                   "readyReplicas": wanted, "availableReplicas": wanted, "unavailableReplicas": 1,
                   "conditions": [available, progressing]}
        if mode == "ok" and step >= 2:
            status_.update(updatedReplicas=wanted, replicas=wanted + 1 if step == 2 else wanted)
            if step >= 3:
                del status_["unavailableReplicas"]
                progressing.update(reason="NewReplicaSetAvailable",
                                   message='ReplicaSet "%s-new" has successfully progressed.' % key[2])
                del self.rollouts[key]
        elif mode == "deadline" and step >= 2:
            progressing.update(status="False", reason="ProgressDeadlineExceeded",
                               message='ReplicaSet "%s-new" has timed out progressing.' % key[2])
        errors = validation_errors(dict(deployment, status=status_))
        assert not errors, errors
        deployment["status"] = status_
        self._bump_rv(deployment["metadata"])


@pytest.fixture
def kube() -> Iterator[FakeKube]:
    api = FakeKube()

    def answer(method: str, raw_path: str, content_type: str, raw: bytes) -> tuple[int, dict]:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return status(400, "BadRequest", "invalid JSON")
        with api.lock:
            api.requests.append(Request(method, raw_path, content_type, body))
            return api.handle(method, raw_path, content_type, body)

    with serve_kube_api(answer, name="fake-kube-api") as api.url:
        yield api


@pytest.fixture
def kubeconfig(kube: FakeKube, tmp_path: Path) -> dict:
    """Connection options of a consumer/refresher spec (the kubeconfig's current context points elsewhere)."""
    return {"kubeconfig": kube.kubeconfig(tmp_path), "context": "fake"}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --------------------------------------------------------------------------------------------------------------------
# Objects


def app_secret(**data: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "nl2api", "namespace": NS, "labels": {"app.kubernetes.io/name": "nl2api"}},
            "data": {k: b64(v) for k, v in data.items()}}


def deployment(name: str, replicas: int = 2, annotations: dict | None = None) -> dict:
    labels = {"app.kubernetes.io/name": "nl2api", "app.kubernetes.io/component": name.rsplit("-", 1)[-1]}
    template_meta: dict = {"labels": labels}
    if annotations:
        template_meta["annotations"] = annotations
    now = "2026-11-01T00:00:00Z"
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": template_meta, "spec": {"containers": [
                     {"name": "app", "image": "nl2api:1.0.0",
                      "envFrom": [{"secretRef": {"name": "nl2api"}}]}]}}},
        "status": {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
                   "readyReplicas": replicas, "availableReplicas": replicas,
                   "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                                   "lastUpdateTime": now, "lastTransitionTime": now},
                                  {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                                   "lastUpdateTime": now, "lastTransitionTime": now}]},
    }


def redis_trigger(list_name: str, auth_name: str = "nl2api-worker-redis",
                  auth_kind: str = "TriggerAuthentication") -> dict:
    return {"type": "redis", "name": list_name.replace(":", "_"), "metricType": "AverageValue",
            "metadata": {"address": "nl2api-redis.nl2api.svc:6379", "listName": list_name, "listLength": "5",
                         "activationListLength": "1", "databaseIndex": "0", "enableTLS": "false"},
            "authenticationRef": {"kind": auth_kind, "name": auth_name}}


def scaled_object(name: str = "nl2api-worker", namespace: str = NS, triggers: list | None = None) -> dict:
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                     "pollingInterval": 15, "cooldownPeriod": 120, "minReplicaCount": 1, "maxReplicaCount": 5,
                     "triggers": triggers if triggers is not None else [redis_trigger("nl2api:queue"),
                                                                        redis_trigger("nl2api:processing")]},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "ScaledObjectReady"}]}}


def scaled_job(name: str, triggers: list) -> dict:
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledJob", "metadata": {"name": name, "namespace": NS},
            "spec": {"jobTargetRef": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                {"name": "job", "image": "nl2api:1.0.0"}]}}}, "triggers": triggers}}


def trigger_auth(name: str = "nl2api-worker-redis", kind: str = "TriggerAuthentication") -> dict:
    meta = {"name": name} if kind == "ClusterTriggerAuthentication" else {"name": name, "namespace": NS}
    return {"apiVersion": "keda.sh/v1alpha1", "kind": kind, "metadata": meta,
            "spec": {"secretTargetRef": [{"parameter": "username", "name": "nl2api", "key": "REDIS_USERNAME"},
                                         {"parameter": "password", "name": "nl2api", "key": "REDIS_PASSWORD"}]}}


REDIS_URL = "redis://{username}:{password}@nl2api-redis:6379/0"
SECRET_SPEC = {"type": "kubernetes_secret", "name": "nl2api", "namespace": NS,
               "keys": {"REDIS_USERNAME": "username", "REDIS_PASSWORD": "password"}}


# --------------------------------------------------------------------------------------------------------------------
# kubernetes_secret consumer


def test_secret_read_current_decodes_only_the_mapped_keys(kube: FakeKube, kubeconfig: dict) -> None:
    kube.add(app_secret(REDIS_USERNAME="nl2api", REDIS_PASSWORD=OLD_PASSWORD, DATABASE_PASSWORD="db-secret"))
    consumer = rk.build_consumer(dict(SECRET_SPEC, **kubeconfig))
    assert consumer.describe() == "kubernetes_secret:nl2api/nl2api"
    assert consumer.read_current() == {"username": "nl2api", "password": OLD_PASSWORD}
    assert kube.calls() == ["GET /api/v1/namespaces/nl2api/secrets/nl2api"]


def test_secret_read_current_of_a_missing_secret_is_none(kube: FakeKube, kubeconfig: dict) -> None:
    assert rk.build_consumer(dict(SECRET_SPEC, **kubeconfig)).read_current() is None


def test_secret_write_merge_patches_only_changed_mapped_keys(kube: FakeKube, kubeconfig: dict) -> None:
    kube.add(app_secret(REDIS_USERNAME="nl2api", REDIS_PASSWORD=OLD_PASSWORD, DATABASE_PASSWORD="db-secret"))
    consumer = rk.build_consumer(dict(SECRET_SPEC, **kubeconfig))

    assert consumer.write(Credential("nl2api", NEW_PASSWORD), check_mode=False) is True

    assert kube.calls() == ["GET /api/v1/namespaces/nl2api/secrets/nl2api",
                            "PATCH /api/v1/namespaces/nl2api/secrets/nl2api"]
    patch = kube.patches()[0]
    assert patch.content_type == MERGE
    assert patch.body == {"data": {"REDIS_PASSWORD": b64(NEW_PASSWORD)}}  # the unchanged username is not sent
    stored = kube.get("secrets", NS, "nl2api")
    assert stored["data"] == {"REDIS_USERNAME": b64("nl2api"), "REDIS_PASSWORD": b64(NEW_PASSWORD),
                              "DATABASE_PASSWORD": b64("db-secret")}
    assert stored["metadata"]["labels"] == {"app.kubernetes.io/name": "nl2api"}
    assert consumer.read_current() == {"username": "nl2api", "password": NEW_PASSWORD}

    # idempotent: the same credential again sends no PATCH
    before = len(kube.requests)
    assert consumer.write(Credential("nl2api", NEW_PASSWORD), check_mode=False) is False
    assert [r.method for r in kube.requests[before:]] == ["GET"]


def test_secret_write_in_check_mode_patches_nothing(kube: FakeKube, kubeconfig: dict) -> None:
    kube.add(app_secret(REDIS_USERNAME="nl2api", REDIS_PASSWORD=OLD_PASSWORD))
    consumer = rk.build_consumer(dict(SECRET_SPEC, **kubeconfig))
    assert consumer.write(Credential("nl2api", NEW_PASSWORD), check_mode=True) is True
    assert consumer.write(Credential("nl2api", OLD_PASSWORD), check_mode=True) is False
    assert kube.patches() == []
    assert kube.get("secrets", NS, "nl2api")["data"]["REDIS_PASSWORD"] == b64(OLD_PASSWORD)


def test_secret_is_created_when_absent(kube: FakeKube, kubeconfig: dict) -> None:
    consumer = rk.build_consumer(dict(SECRET_SPEC, **kubeconfig))
    assert consumer.write(Credential("nl2api", NEW_PASSWORD), check_mode=True) is True
    assert kube.patches() == []
    assert consumer.write(Credential("nl2api", NEW_PASSWORD), check_mode=False) is True
    assert [(r.method, r.path) for r in kube.patches()] == [("POST", "/api/v1/namespaces/nl2api/secrets")]
    created = kube.get("secrets", NS, "nl2api")
    assert created["data"] == {"REDIS_USERNAME": b64("nl2api"), "REDIS_PASSWORD": b64(NEW_PASSWORD)}
    assert consumer.write(Credential("nl2api", NEW_PASSWORD), check_mode=False) is False


def test_secret_api_errors_never_carry_the_secret(kube: FakeKube, kubeconfig: dict) -> None:
    kube.add(app_secret(REDIS_USERNAME="nl2api", REDIS_PASSWORD=OLD_PASSWORD))
    consumer = rk.build_consumer(dict(SECRET_SPEC, **kubeconfig))
    # a webhook that echoes the request body (with the base64 password) in its message
    kube.fail_next[("PATCH", "secrets")] = (422, "Invalid", True)
    with pytest.raises(RotationError) as caught:
        consumer.write(Credential("nl2api", NEW_PASSWORD), check_mode=False)
    text = str(caught.value) + repr(caught.value) + repr(caught.value.args)
    assert "HTTP 422" in text and "nl2api/nl2api" in text and "********" in text
    assert NEW_PASSWORD not in text and b64(NEW_PASSWORD) not in text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_secret_consumer_without_a_username_field_names_the_key(kube: FakeKube, kubeconfig: dict) -> None:
    kube.add(app_secret(REDIS_USERNAME="nl2api", REDIS_PASSWORD=OLD_PASSWORD))
    consumer = rk.build_consumer(dict(SECRET_SPEC, **kubeconfig))
    with pytest.raises(RotationError, match="keys.REDIS_USERNAME maps to the credential's username") as caught:
        consumer.write(Credential(None, NEW_PASSWORD), check_mode=False)
    assert NEW_PASSWORD not in str(caught.value)
    assert kube.patches() == []


def test_secret_url_keys_write_the_urls_the_pods_read(kube: FakeKube, kubeconfig: dict) -> None:
    """The app's Secret: raw keys for the in-cluster Redis, the URL for the pods; one merge patch, only what
    changed; the credential in use read back; an API error masks the URL too (it carries the password)."""
    url = "redis://{username}:{password}@nl2api-redis:6379/0"
    password = "n:e@w/p#a?s%s-0123456789"
    encoded = "n%3Ae%40w%2Fp%23a%3Fs%25s-0123456789"
    kube.add(app_secret(**{"redis-username": "nl2api", "redis-password": OLD_PASSWORD, "postgres-url": "keep",
                           "redis-url": "redis://nl2api:%s@nl2api-redis:6379/0" % OLD_PASSWORD}))
    spec = {"type": "kubernetes_secret", "name": "nl2api", "namespace": NS,
            "keys": {"redis-username": "username", "redis-password": "password"}, "url_keys": {"redis-url": url}}
    consumer = rk.build_consumer(dict(spec, **kubeconfig))
    assert consumer.read_current() == {"username": "nl2api", "password": OLD_PASSWORD}

    assert consumer.write(Credential("nl2api", password), check_mode=False) is True
    assert kube.patches()[0].body == {"data": {"redis-password": b64(password),
                                               "redis-url": b64("redis://nl2api:%s@nl2api-redis:6379/0" % encoded)}}
    assert kube.get("secrets", NS, "nl2api")["data"]["postgres-url"] == b64("keep")
    url_only = rk.build_consumer(dict(spec, keys=None, **kubeconfig))
    assert url_only.read_current() == {"username": "nl2api", "password": password}

    kube.fail_next[("PATCH", "secrets")] = (422, "Invalid", True)
    with pytest.raises(RotationError) as caught:
        consumer.write(Credential("nl2api", NEW_PASSWORD), check_mode=False)
    text = str(caught.value)
    assert "HTTP 422" in text and NEW_PASSWORD not in text and b64(NEW_PASSWORD) not in text
    assert b64("redis://nl2api:%s@nl2api-redis:6379/0" % NEW_PASSWORD) not in text


def raw_patch(url: str, body: Any, content_type: str) -> int:
    request = urllib.request.Request(url, method="PATCH", data=json.dumps(body).encode(),
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


def test_the_fake_server_enforces_patch_media_types(kube: FakeKube, kubeconfig: dict) -> None:
    """The media-type rules the module's explicit content types follow: a strategic merge patch is refused for custom
    resources (415), JSON patch needs an array (400), unknown media types are refused (415); the CRD schema and
    kubernetes-validate refuse invalid results (422) and nothing is stored then."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    kube.add(app_secret(REDIS_PASSWORD=OLD_PASSWORD))
    kube.add(scaled_object())
    api_client = rk.new_api_client(kubeconfig["kubeconfig"], "fake")
    custom = client.CustomObjectsApi(api_client)
    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object("keda.sh", "v1alpha1", NS, "scaledobjects", "nl2api-worker",
                                              {"metadata": {"labels": {"a": "b"}}}, _content_type=STRATEGIC)
    assert caught.value.status == 415
    # (the client itself turns a json-patch+json dict body into a strategic merge patch: raw HTTP here)
    so_url = kube.url + "/apis/keda.sh/v1alpha1/namespaces/nl2api/scaledobjects/nl2api-worker"
    assert raw_patch(so_url, {"metadata": {"labels": {"a": "b"}}}, JSON_PATCH) == 400
    assert raw_patch(so_url, [{"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}], JSON_PATCH) == 200
    assert raw_patch(so_url, {"metadata": {"labels": {"a": "c"}}}, "application/json") == 415
    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object("keda.sh", "v1alpha1", NS, "scaledobjects", "nl2api-worker",
                                              {"spec": {"credentialRevision": "x"}}, _content_type=MERGE)
    assert caught.value.status == 422
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(api_client).patch_namespaced_secret("nl2api", NS, {"data": {"X": "not base64!"}},
                                                             _content_type=MERGE)
    assert caught.value.status == 422
    stored = kube.get("scaledobjects", NS, "nl2api-worker")
    assert stored["metadata"]["generation"] == 1 and stored["metadata"]["labels"] == {"a": "b"}
    assert kube.get("secrets", NS, "nl2api")["data"] == {"REDIS_PASSWORD": b64(OLD_PASSWORD)}


# --------------------------------------------------------------------------------------------------------------------
# Deployment rollout refresher


def rollout(kubeconfig: dict, name: str = "nl2api-api", **extra: Any) -> Any:
    return rk.build_refresher("rollout", dict({"name": name, "namespace": NS, "timeout": 10, "poll_interval": 0.01},
                                              **kubeconfig, **extra))


def test_rollout_annotates_the_pod_template_then_waits_for_completion(kube: FakeKube, kubeconfig: dict) -> None:
    kube.add(deployment("nl2api-api", replicas=2))
    refresher = rollout(kubeconfig)
    assert refresher.describe() == "rollout:nl2api/nl2api-api"

    assert refresher.refresh(REV1, check_mode=False) is True

    path = "/apis/apps/v1/namespaces/nl2api/deployments/nl2api-api"
    calls = kube.calls()
    assert calls[:2] == ["GET " + path, "PATCH " + path]
    assert calls[2:] == ["GET " + path] * 3  # the fake controller needs three observations to finish
    patch = kube.patches()[0]
    assert patch.content_type == STRATEGIC
    assert patch.body == {"spec": {"template": {"metadata": {"annotations": {rk.REVISION_ANNOTATION: REV1}}}}}
    stored = kube.get("deployments", NS, "nl2api-api")
    assert stored["metadata"]["generation"] == 2
    assert stored["spec"]["template"]["metadata"]["annotations"] == {rk.REVISION_ANNOTATION: REV1}
    assert stored["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == "api"
    assert stored["status"]["observedGeneration"] == 2
    assert stored["status"]["updatedReplicas"] == stored["status"]["availableReplicas"] == 2
    assert "unavailableReplicas" not in stored["status"]
    assert refresher.last_message.startswith("rollout complete")

    # idempotent: same revision, rollout complete -> one GET, no PATCH
    before = len(kube.requests)
    assert refresher.refresh(REV1, check_mode=False) is False
    assert kube.calls()[before:] == ["GET " + path]

    # a new revision rolls again
    assert refresher.refresh(REV2, check_mode=False) is True
    assert kube.get("deployments", NS, "nl2api-api")["metadata"]["generation"] == 3


def test_rollout_keeps_other_template_annotations(kube: FakeKube, kubeconfig: dict) -> None:
    kube.add(deployment("nl2api-worker", annotations={"checksum/config": "abc", rk.REVISION_ANNOTATION: REV1}))
    assert rollout(kubeconfig, "nl2api-worker").refresh(REV2, check_mode=False) is True
    annotations = kube.get("deployments", NS, "nl2api-worker")["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"checksum/config": "abc", rk.REVISION_ANNOTATION: REV2}


def test_rollout_check_mode_changes_nothing(kube: FakeKube, kubeconfig: dict) -> None:
    kube.add(deployment("nl2api-api"))
    refresher = rollout(kubeconfig)
    assert refresher.refresh(REV1, check_mode=True) is True
    assert kube.patches() == []
    assert kube.get("deployments", NS, "nl2api-api")["metadata"]["generation"] == 1


def test_rollout_resumed_at_the_same_revision_waits_without_patching(kube: FakeKube, kubeconfig: dict) -> None:
    """A run that died after the PATCH: the annotation is already there, the rollout still in progress."""
    kube.add(deployment("nl2api-api"))
    path = "/apis/apps/v1/namespaces/nl2api/deployments/nl2api-api"
    with pytest.raises(RotationError, match="timed out after 0.05s"):
        rollout(kubeconfig, timeout=0.05, poll_interval=1).refresh(REV1, check_mode=False)
    before = len(kube.requests)
    assert rollout(kubeconfig).refresh(REV1, check_mode=False) is False
    assert kube.calls()[before:] == ["GET " + path] * 2  # the rollout went on: two more observations finish it
    assert kube.get("deployments", NS, "nl2api-api")["status"]["updatedReplicas"] == 2


def test_rollout_progress_deadline_exceeded_fails(kube: FakeKube, kubeconfig: dict) -> None:
    kube.add(deployment("nl2api-worker"))
    kube.rollout_mode["nl2api-worker"] = "deadline"
    with pytest.raises(RotationError) as caught:
        rollout(kubeconfig, "nl2api-worker").refresh(REV1, check_mode=False)
    assert "rollout of Deployment nl2api/nl2api-worker failed: ProgressDeadlineExceeded" in str(caught.value)
    assert "timed out progressing" in str(caught.value)


def test_rollout_timeout_fails_with_the_last_progress(kube: FakeKube, kubeconfig: dict) -> None:
    kube.add(deployment("nl2api-worker", replicas=3))
    kube.rollout_mode["nl2api-worker"] = "stuck"
    with pytest.raises(RotationError) as caught:
        rollout(kubeconfig, "nl2api-worker", timeout=0.3, poll_interval=0.02).refresh(REV1, check_mode=False)
    assert "timed out after 0.3s waiting for the rollout of Deployment nl2api/nl2api-worker" in str(caught.value)
    assert "1 of 3 new replicas updated" in str(caught.value)
    assert len([c for c in kube.calls() if c.startswith("GET")]) >= 3


def test_rollout_of_a_paused_deployment_fails_at_once(kube: FakeKube, kubeconfig: dict) -> None:
    obj = deployment("nl2api-api")
    obj["spec"]["paused"] = True
    kube.add(obj)
    with pytest.raises(RotationError, match="is paused"):
        rollout(kubeconfig).refresh(REV1, check_mode=False)


def test_rollout_of_a_missing_deployment_names_it(kube: FakeKube, kubeconfig: dict) -> None:
    with pytest.raises(RotationError, match="reading Deployment nl2api/nl2api-api failed: HTTP 404"):
        rollout(kubeconfig).refresh(REV1, check_mode=False)


@pytest.mark.parametrize(("status_", "spec_replicas", "done", "message"), [
    ({"observedGeneration": 1}, 1, False, "observe generation 2"),
    ({"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}, None, True, "complete"),
    ({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2}, 2, False,
     "1 old replicas pending termination"),
    ({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}, 2, False,
     "1 of 2 updated replicas available"),
    ({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2,
      "unavailableReplicas": 1}, 2, False, "1 replicas unavailable"),
    ({"observedGeneration": 3}, 0, True, "complete"),
])
def test_rollout_progress_rules(status_: dict, spec_replicas: int | None, done: bool, message: str) -> None:
    spec = {} if spec_replicas is None else {"replicas": spec_replicas}
    result = rk.rollout_progress({"metadata": {"name": "d", "namespace": NS, "generation": 2}, "spec": spec,
                                  "status": status_})
    assert result[0] is done
    assert message in result[1]


# --------------------------------------------------------------------------------------------------------------------
# KEDA refresher


def keda(kubeconfig: dict, kind: str, name: str, namespace: str | None = NS) -> Any:
    spec = dict({"kind": kind, "name": name}, **kubeconfig)
    if namespace is not None:
        spec["namespace"] = namespace
    return rk.build_refresher("keda", spec)


def test_keda_scaled_object_refresh_bumps_its_generation(kube: FakeKube, kubeconfig: dict) -> None:
    kube.add(scaled_object())
    refresher = keda(kubeconfig, "ScaledObject", "nl2api-worker")
    assert refresher.describe() == "keda:ScaledObject nl2api/nl2api-worker"

    assert refresher.refresh(REV1, check_mode=False) is True

    path = "/apis/keda.sh/v1alpha1/namespaces/nl2api/scaledobjects/nl2api-worker"
    assert kube.calls() == ["GET " + path, "PATCH " + path]
    patch = kube.patches()[0]
    assert patch.content_type == MERGE
    assert patch.body["metadata"]["annotations"] == {rk.REVISION_ANNOTATION: REV1}
    assert patch.body["metadata"]["resourceVersion"]  # optimistic concurrency: the list is replaced whole
    stored = kube.get("scaledobjects", NS, "nl2api-worker")
    assert stored["metadata"]["generation"] == 2  # what makes KEDA rebuild the scalers cache
    triggers = stored["spec"]["triggers"]
    assert triggers[0]["metadata"][rk.KEDA_TRIGGER_METADATA_KEY] == REV1
    assert rk.KEDA_TRIGGER_METADATA_KEY not in triggers[1]["metadata"]
    original = scaled_object()["spec"]["triggers"]
    assert [dict(t, metadata={k: v for k, v in t["metadata"].items() if k != rk.KEDA_TRIGGER_METADATA_KEY})
            for t in triggers] == original
    assert stored["status"] == scaled_object()["status"]
    assert refresher.refreshed == ["ScaledObject nl2api/nl2api-worker"]

    before = len(kube.requests)
    assert refresher.refresh(REV1, check_mode=False) is False
    assert kube.calls()[before:] == ["GET " + path]
    assert refresher.refreshed == []

    assert refresher.refresh(REV2, check_mode=False) is True
    assert kube.get("scaledobjects", NS, "nl2api-worker")["metadata"]["generation"] == 3


def test_keda_annotation_alone_would_not_bump_the_generation(kube: FakeKube, kubeconfig: dict) -> None:
    """The premise of the design, on the fake's rules (the API server's): metadata changes keep the generation."""
    kube.add(trigger_auth())
    refresher = keda(kubeconfig, "TriggerAuthentication", "nl2api-worker-redis")
    assert refresher.refresh(REV1, check_mode=False) is True
    ta = kube.get("triggerauthentications", NS, "nl2api-worker-redis")
    assert ta["metadata"]["annotations"] == {rk.REVISION_ANNOTATION: REV1}
    assert ta["metadata"]["generation"] == 1


def test_keda_trigger_authentication_refreshes_its_scaled_objects_and_jobs(kube: FakeKube, kubeconfig: dict) -> None:
    kube.add(trigger_auth())
    kube.add(scaled_object())
    kube.add(scaled_object("other", triggers=[redis_trigger("q", auth_name="other-auth")]))
    kube.add(scaled_object("mixed", triggers=[redis_trigger("a", auth_name="other-auth"), redis_trigger("b")]))
    kube.add(scaled_object("elsewhere", namespace="other-ns", triggers=[redis_trigger("c")]))
    kube.add(scaled_job("batch", [redis_trigger("jobs")]))
    refresher = keda(kubeconfig, "TriggerAuthentication", "nl2api-worker-redis")

    assert refresher.refresh(REV1, check_mode=False) is True

    patched = [r.path.rsplit("/", 2)[-2:] for r in kube.patches()]
    assert patched == [["triggerauthentications", "nl2api-worker-redis"], ["scaledobjects", "mixed"],
                       ["scaledobjects", "nl2api-worker"], ["scaledjobs", "batch"]]
    assert refresher.refreshed == ["TriggerAuthentication nl2api/nl2api-worker-redis", "ScaledObject nl2api/mixed",
                                   "ScaledObject nl2api/nl2api-worker", "ScaledJob nl2api/batch"]
    for plural, name, generation in [("scaledobjects", "nl2api-worker", 2), ("scaledobjects", "mixed", 2),
                                     ("scaledjobs", "batch", 2), ("scaledobjects", "other", 1)]:
        assert kube.get(plural, NS, name)["metadata"]["generation"] == generation, name
    mixed = kube.get("scaledobjects", NS, "mixed")["spec"]["triggers"]
    assert rk.KEDA_TRIGGER_METADATA_KEY not in mixed[0]["metadata"]  # references another auth
    assert mixed[1]["metadata"][rk.KEDA_TRIGGER_METADATA_KEY] == REV1
    assert kube.get("scaledobjects", "other-ns", "elsewhere")["metadata"]["generation"] == 1
    # the ScaledObject named by the TriggerAuthentication refresh is not annotated, only its spec changed
    assert "annotations" not in kube.get("scaledobjects", NS, "nl2api-worker")["metadata"]

    before = len(kube.requests)
    assert refresher.refresh(REV1, check_mode=False) is False
    assert all(r.method == "GET" for r in kube.requests[before:])


def test_keda_cluster_trigger_authentication_refreshes_all_namespaces(kube: FakeKube, kubeconfig: dict) -> None:
    kube.add(trigger_auth("redis-shared", kind="ClusterTriggerAuthentication"))
    kube.add(scaled_object("a", triggers=[redis_trigger("q", "redis-shared", "ClusterTriggerAuthentication")]))
    kube.add(scaled_object("b", namespace="team-b",
                           triggers=[redis_trigger("q", "redis-shared", "ClusterTriggerAuthentication")]))
    kube.add(scaled_object("c", triggers=[redis_trigger("q", "redis-shared")]))  # a namespaced TA of that name
    kube.missing_crds.add("scaledjobs")  # KEDA installed without the ScaledJob CRD: nothing to list there
    refresher = keda(kubeconfig, "ClusterTriggerAuthentication", "redis-shared", namespace=None)
    assert refresher.describe() == "keda:ClusterTriggerAuthentication/redis-shared"

    assert refresher.refresh(REV1, check_mode=False) is True

    assert [r.path for r in kube.patches()] == [
        "/apis/keda.sh/v1alpha1/clustertriggerauthentications/redis-shared",
        "/apis/keda.sh/v1alpha1/namespaces/nl2api/scaledobjects/a",
        "/apis/keda.sh/v1alpha1/namespaces/team-b/scaledobjects/b",
    ]
    assert "GET /apis/keda.sh/v1alpha1/scaledobjects" in kube.calls()  # the cluster-wide list
    assert kube.get("scaledobjects", "team-b", "b")["metadata"]["generation"] == 2
    assert kube.get("scaledobjects", NS, "c")["metadata"]["generation"] == 1
    cta = kube.get("clustertriggerauthentications", None, "redis-shared")
    assert cta["metadata"]["annotations"] == {rk.REVISION_ANNOTATION: REV1}


def test_keda_check_mode_changes_nothing(kube: FakeKube, kubeconfig: dict) -> None:
    kube.add(trigger_auth())
    kube.add(scaled_object())
    refresher = keda(kubeconfig, "TriggerAuthentication", "nl2api-worker-redis")
    assert refresher.refresh(REV1, check_mode=True) is True
    assert refresher.refreshed == ["TriggerAuthentication nl2api/nl2api-worker-redis",
                                   "ScaledObject nl2api/nl2api-worker"]
    assert kube.patches() == []
    assert keda(kubeconfig, "ScaledObject", "nl2api-worker").refresh(REV1, check_mode=True) is True
    assert kube.patches() == []


def test_keda_conflict_is_retried_on_the_fresh_object(kube: FakeKube, kubeconfig: dict) -> None:
    kube.add(scaled_object())
    kube.race_next.add(("scaledobjects", "nl2api-worker"))
    assert keda(kubeconfig, "ScaledObject", "nl2api-worker").refresh(REV1, check_mode=False) is True
    path = "/apis/keda.sh/v1alpha1/namespaces/nl2api/scaledobjects/nl2api-worker"
    assert kube.calls() == ["GET " + path, "PATCH " + path, "GET " + path, "PATCH " + path]
    assert kube.get("scaledobjects", NS, "nl2api-worker")["metadata"]["generation"] == 2


def test_keda_missing_scaled_object_names_it(kube: FakeKube, kubeconfig: dict) -> None:
    with pytest.raises(RotationError, match="reading scaledobjects nl2api/nl2api-worker failed: HTTP 404"):
        keda(kubeconfig, "ScaledObject", "nl2api-worker").refresh(REV1, check_mode=False)


# --------------------------------------------------------------------------------------------------------------------
# Factories


@pytest.mark.parametrize(("builder", "message"), [
    (lambda: rk.build_consumer({"type": "kubernetes_secret", "namespace": NS, "keys": {"A": "password"}}),
     r"consumers\[kubernetes_secret\]\.name is required"),
    (lambda: rk.build_consumer({"name": "s", "namespace": NS, "keys": {}}), r"needs keys .* or url_keys"),
    (lambda: rk.build_consumer({"name": "s", "namespace": NS, "keys": {"A B": "password"}}),
     r"'A B' is not a valid Secret key"),
    (lambda: rk.build_consumer({"name": "s", "namespace": NS, "keys": {"A": "token"}}),
     r"\.keys\.A must be username or password"),
    (lambda: rk.build_consumer({"name": "s", "namespace": NS, "url_keys": {"A": "redis://{username}@h"}},
                               where="consumers[3]"),
     r"consumers\[3\]\.url_keys\.A has no \{password\}"),
    (lambda: rk.build_refresher("rollout", {"name": "d"}), r"rollouts\.namespace is required"),
    (lambda: rk.build_refresher("rollout", {"name": "d", "namespace": NS, "timeout": "soon"}),
     r"rollouts\.timeout must be a number"),
    (lambda: rk.build_refresher("keda", {"kind": "HPA", "name": "x", "namespace": NS}),
     r"keda_refresh\.kind must be one of ClusterTriggerAuthentication, ScaledObject, TriggerAuthentication"),
    (lambda: rk.build_refresher("keda", {"kind": "ScaledObject", "name": "x"}), r"keda_refresh\.namespace is required"),
    (lambda: rk.build_refresher("restart", {}), r"unknown refresher kind 'restart'"),
    (lambda: rk.build_consumer({"name": "s", "namespace": NS, "keys": {"A": "password"},
                                "kubeconfig": "/nonexistent/kubeconfig"}),
     r"kubeconfig: /nonexistent/kubeconfig does not exist"),
])
def test_factories_name_the_bad_option(builder: Any, message: str) -> None:
    with pytest.raises(RotationError, match=message):
        builder()


def test_kubeconfig_from_the_environment(kube: FakeKube, kubeconfig: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    kube.add(app_secret(REDIS_USERNAME="nl2api", REDIS_PASSWORD=OLD_PASSWORD))
    monkeypatch.setenv("K8S_AUTH_KUBECONFIG", kubeconfig["kubeconfig"])
    monkeypatch.setenv("K8S_AUTH_CONTEXT", "fake")
    assert rk.build_consumer(SECRET_SPEC).read_current() == {"username": "nl2api", "password": OLD_PASSWORD}


def test_in_cluster_configuration_when_no_kubeconfig_is_given(kube: FakeKube, monkeypatch: pytest.MonkeyPatch) -> None:
    kube.add(app_secret(REDIS_USERNAME="nl2api", REDIS_PASSWORD=OLD_PASSWORD))
    monkeypatch.delenv("K8S_AUTH_KUBECONFIG", raising=False)
    monkeypatch.delenv("K8S_AUTH_CONTEXT", raising=False)
    used = []

    def fake_incluster(client_configuration: Any = None) -> None:
        used.append("incluster")
        client_configuration.host = kube.url
        client_configuration.api_key = {"authorization": "Bearer in-cluster-token"}

    monkeypatch.setattr(rk.k8s_config, "load_incluster_config", fake_incluster)
    assert rk.build_consumer(SECRET_SPEC).read_current() == {"username": "nl2api", "password": OLD_PASSWORD}
    assert used == ["incluster"]


def test_api_client_seam(kube: FakeKube, kubeconfig: dict) -> None:
    kube.add(deployment("nl2api-api"))
    api_client = rk.new_api_client(kubeconfig["kubeconfig"], "fake")
    refresher = rk.build_refresher("rollout", {"name": "nl2api-api", "namespace": NS, "poll_interval": 0.01},
                                   api_client=api_client)
    assert refresher.apps_api.api_client is api_client
    assert refresher.refresh(REV1, check_mode=False) is True


# --------------------------------------------------------------------------------------------------------------------
# The module end to end: nl2api.deploy.credential_rotation run by Ansible, real Redis, this fake API server


def run_module(args: dict) -> tuple[int, dict, str]:
    run = ansible_cli.run_module("nl2api.deploy.credential_rotation", args)
    return run.rc, run.result, run.stdout + run.stderr


def test_module_delivers_rolls_and_refreshes_keda(kube: FakeKube, kubeconfig: dict, redis_server: Any,
                                                  tmp_path: Path) -> None:
    user = "r3_app_%s" % uuid.uuid4().hex[:8]
    admin = redis_server.client()
    admin.execute_command("ACL", "SETUSER", user, "on", ">" + OLD_PASSWORD, "~nl2api:*", "+@read", "+ping")
    try:
        kube.add(app_secret(**{"redis-username": user, "redis-password": OLD_PASSWORD, "postgres-url": "db-secret"}))
        kube.add(deployment("nl2api-api"))
        kube.add(deployment("nl2api-entity-service"))
        kube.add(trigger_auth())
        # Workers exist per batch: the TriggerAuthentication's refresh finds the batch's ScaledObject.
        kube.add(scaled_object("nl2api-worker-0f4c2a"))
        connection = dict(kubeconfig)
        args = {
            "credential": "redis-app", "engine": "redis_acl", "state_dir": str(tmp_path / "state"), "force": True,
            "redis": {"login_host": redis_server.host, "login_port": redis_server.port, "tls": False,
                      "login_user": redis_server.admin_username, "login_password": redis_server.admin_password,
                      "acl_user": user, "persist": "none"},
            "consumers": [dict(type="kubernetes_secret", name="nl2api", namespace=NS,
                               keys={"redis-username": "username", "redis-password": "password"},
                               url_keys={"redis-url": REDIS_URL}, **connection)],
            "rollouts": [dict(name=name, namespace=NS, timeout=60, **connection)
                         for name in ("nl2api-api", "nl2api-entity-service")],
            "keda_refresh": [dict(kind="TriggerAuthentication", name="nl2api-worker-redis", namespace=NS,
                                  **connection)],
        }

        rc, result, output = run_module(args)

        assert rc == 0, result
        assert result["changed"] is True and result["rotated"] is True and result["step"] == "idle", result
        revision = result["revision"]
        data = kube.get("secrets", NS, "nl2api")["data"]
        new_password = base64.b64decode(data["redis-password"]).decode()
        new_url = base64.b64decode(data["redis-url"]).decode()
        assert new_password != OLD_PASSWORD
        assert new_url == REDIS_URL.format(username=user, password=new_password)  # letters and digits: as is
        for shown in (OLD_PASSWORD, new_password, b64(new_password), new_url, b64(new_url)):
            assert shown not in output
        assert data["postgres-url"] == b64("db-secret")
        # order: deliver, then roll, then refresh KEDA
        writes = [r.path.rsplit("/", 2)[-2] + "/" + r.path.rsplit("/", 1)[-1] for r in kube.patches()]
        assert writes == ["secrets/nl2api", "deployments/nl2api-api", "deployments/nl2api-entity-service",
                          "triggerauthentications/nl2api-worker-redis", "scaledobjects/nl2api-worker-0f4c2a"]
        for name in ("nl2api-api", "nl2api-entity-service"):
            stored = kube.get("deployments", NS, name)
            assert stored["spec"]["template"]["metadata"]["annotations"][rk.REVISION_ANNOTATION] == revision
            assert stored["status"]["updatedReplicas"] == 2 and stored["status"]["observedGeneration"] == 2
        scaled = kube.get("scaledobjects", NS, "nl2api-worker-0f4c2a")
        assert scaled["metadata"]["generation"] == 2
        assert scaled["spec"]["triggers"][0]["metadata"][rk.KEDA_TRIGGER_METADATA_KEY] == revision
        # Redis: only the new password is left, and the delivered URL logs in
        assert redis.Redis.from_url(new_url.replace("nl2api-redis:6379", "%s:%s" % (
            redis_server.host, redis_server.port))).ping() is True
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis_server.client(user, OLD_PASSWORD).ping()

        # not due: nothing happens, nothing is written
        before = len(kube.patches())
        rc, result, output = run_module(dict(args, force=False))
        assert rc == 0 and result["changed"] is False and result["rotated"] is False, result
        assert len(kube.patches()) == before
    finally:
        admin.execute_command("ACL", "DELUSER", user)
        admin.close()

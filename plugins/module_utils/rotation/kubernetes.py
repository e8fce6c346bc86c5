# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes consumer and refreshers of nl2api.deploy.credential_rotation (the engine is ``engine.py``).

* :func:`build_consumer` (``type: kubernetes_secret``): a Secret. ``read_current`` base64-decodes the outputs
  (``keys`` and ``url_keys``, see ``consumers.py``); ``write`` sends a JSON merge patch of ``data`` holding only
  the outputs whose value differs (the other keys of the Secret are kept), nothing when all are equal, and creates
  the Secret (type Opaque) when it does not exist.
* :func:`build_refresher` ``("rollout", spec)``: a Deployment. The pod template annotation
  ``nl2api.io/credential-revision`` is set to the revision (strategic merge patch; nothing when already equal), then
  the rollout is awaited like ``kubectl rollout status`` does: observedGeneration >= generation, updatedReplicas,
  replicas and availableReplicas equal to spec.replicas, no unavailable replica; a Progressing condition with reason
  ProgressDeadlineExceeded, a paused Deployment or the timeout end it with RotationError.
* :func:`build_refresher` ``("keda", spec)``: a ScaledObject, TriggerAuthentication or ClusterTriggerAuthentication
  (keda.sh/v1alpha1). KEDA caches the scalers it built, with the credentials it resolved then; how to make it
  rebuild them is explained at :class:`KedaRefresher`.

Every Kubernetes call goes through the API objects given to the constructors (``CoreV1Api``, ``AppsV1Api``,
``CustomObjectsApi`` of the official ``kubernetes`` client, the library kubernetes.core uses), so tests can run
them against any API server. The factories build them from ``kubeconfig``/``context`` (or ``api_client=``).
Secret values never appear in messages, results or exceptions: API errors are masked with ``********``.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import base64
import binascii
import json
import os
import re
import time
import traceback
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from ansible_collections.nl2api.deploy.plugins.module_utils._common import mask, require_lib
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.consumers import (
    delivered_values,
    output_keys,
    read_back,
    validate_delivery,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.engine import (
    Consumer,
    Refresher,
    RotationError,
)

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.client.rest import ApiException

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised by ansible-test's import sanity test
    k8s_client = None
    k8s_config = None
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()

    class ApiException(Exception):  # type: ignore[no-redef]
        """Stand-in so ``except ApiException`` stays valid without the library (never raised)."""

        status = 0
        reason = ""
        body = None


REVISION_ANNOTATION = "nl2api.io/credential-revision"
#: Trigger metadata key written into a ScaledObject/ScaledJob to change its spec (and so its generation).
KEDA_TRIGGER_METADATA_KEY = "nl2apiCredentialRevision"
KEDA_GROUP = "keda.sh"
KEDA_VERSION = "v1alpha1"
KEDA_KINDS = {
    # kind: (plural, namespaced)
    "ScaledObject": ("scaledobjects", True),
    "TriggerAuthentication": ("triggerauthentications", True),
    "ClusterTriggerAuthentication": ("clustertriggerauthentications", False),
}
#: Scalable objects whose scalers KEDA caches by generation: (kind, plural).
KEDA_SCALABLES = (("ScaledObject", "scaledobjects"), ("ScaledJob", "scaledjobs"))

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"

#: Secret data keys (k8s.io/apimachinery IsConfigMapKey).
SECRET_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")
DEFAULT_ROLLOUT_TIMEOUT = 600.0
DEFAULT_POLL_INTERVAL = 2.0
CONFLICT_RETRIES = 5


# --------------------------------------------------------------------------------------------------------------------
# Helpers


def _b64(value: str) -> str:
    return base64.b64encode(value.encode("utf-8")).decode("ascii")


def _secret_forms(values: Iterable[Optional[str]]) -> List[str]:
    """The values and their base64 forms (an API error may echo either)."""
    forms = []
    for value in values:
        if value:
            forms.extend([value, _b64(value)])
    return forms


def _api_error(exc: Exception, action: str, target: str, secrets: Iterable[Optional[str]] = ()) -> RotationError:
    """A RotationError for a failed API call: status, reason and the API's Status message, secrets masked."""
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", None) or ""
    message = ""
    body = getattr(exc, "body", None)
    if body:
        try:
            message = json.loads(body).get("message") or ""
        except (ValueError, TypeError, AttributeError):
            message = ""
    if status is None:
        text = "%s %s failed: %s" % (action, target, exc)
    else:
        text = "%s %s failed: HTTP %s %s%s" % (action, target, status, reason, (": " + message) if message else "")
    return RotationError(mask(text, _secret_forms(secrets)))


def _status(exc: Exception) -> Optional[int]:
    return getattr(exc, "status", None)


def _require_kubernetes() -> None:
    require_lib(HAS_KUBERNETES, "kubernetes", RotationError)


def _option(spec: Mapping[str, Any], prefix: str, name: str, required: bool = True) -> Optional[str]:
    value = spec.get(name)
    if value is None or value == "":
        if required:
            raise RotationError("%s.%s is required" % (prefix, name))
        return None
    if not isinstance(value, str):
        raise RotationError("%s.%s must be a string (got %s)" % (prefix, name, type(value).__name__))
    return value


def new_api_client(kubeconfig: Optional[str] = None, context: Optional[str] = None, prefix: str = "kubernetes") -> Any:
    """An ``ApiClient`` as kubernetes.core builds it: from ``kubeconfig``/``context`` (or K8S_AUTH_KUBECONFIG /
    K8S_AUTH_CONTEXT); when neither is given, the in-cluster service account, else the default kubeconfig."""
    _require_kubernetes()
    kubeconfig = kubeconfig or os.environ.get("K8S_AUTH_KUBECONFIG") or None
    context = context or os.environ.get("K8S_AUTH_CONTEXT") or None
    try:
        if kubeconfig or context:
            if kubeconfig and not os.path.exists(os.path.expanduser(kubeconfig)):
                raise RotationError("%s.kubeconfig: %s does not exist" % (prefix, kubeconfig))
            return k8s_config.new_client_from_config(
                config_file=os.path.expanduser(kubeconfig) if kubeconfig else None, context=context,
                persist_config=False)
        configuration = k8s_client.Configuration()
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)
        except k8s_config.ConfigException:
            return k8s_config.new_client_from_config(persist_config=False)
        return k8s_client.ApiClient(configuration)
    except RotationError:
        raise
    except Exception as exc:  # pylint: disable=broad-except  # config errors have no common base class
        raise RotationError("%s: cannot load the Kubernetes configuration (kubeconfig %s, context %s): %s"
                            % (prefix, kubeconfig or "default", context or "current", exc)) from None


def _to_dict(api: Any, obj: Any) -> Dict[str, Any]:
    """A model object (or a dict already) as the API's JSON (camelCase keys)."""
    if isinstance(obj, dict):
        return obj
    return api.api_client.sanitize_for_serialization(obj)


# --------------------------------------------------------------------------------------------------------------------
# Consumer: a Secret


class KubernetesSecretConsumer(Consumer):
    """The outputs of a Secret: ``keys`` maps Secret keys to a credential field (username/password), ``url_keys``
    to URL templates (see ``consumers.py``)."""

    def __init__(self, core_api: Any, name: str, namespace: str, keys: Mapping[str, str],
                 url_keys: Optional[Mapping[str, str]] = None, where: str = "consumers[kubernetes_secret]") -> None:
        self.core_api = core_api
        self.name = name
        self.namespace = namespace
        self.keys = dict(keys)
        self.url_keys = dict(url_keys or {})
        self.where = where

    def describe(self) -> str:
        return "kubernetes_secret:%s/%s" % (self.namespace, self.name)

    def _read(self) -> Optional[Dict[str, Any]]:
        try:
            secret = self.core_api.read_namespaced_secret(self.name, self.namespace)
        except ApiException as exc:
            if _status(exc) == 404:
                return None
            raise _api_error(exc, "reading Secret", "%s/%s" % (self.namespace, self.name)) from None
        return _to_dict(self.core_api, secret)

    def read_current(self) -> Optional[Dict[str, str]]:
        secret = self._read()
        if secret is None:
            return None
        data = secret.get("data") or {}
        decoded: Dict[str, str] = {}
        for key in output_keys(self.keys, self.url_keys):
            if key in data and data[key] is not None:
                try:
                    decoded[key] = base64.b64decode(data[key], validate=True).decode("utf-8")
                except (binascii.Error, ValueError):
                    raise RotationError("%s: key %s is not base64 encoded UTF-8" % (self.describe(), key)) from None
        return read_back(self.keys, self.url_keys, decoded)

    def _desired(self, credential: Any) -> Dict[str, str]:
        values = delivered_values(self.keys, self.url_keys, credential, self.where)
        return dict((key, _b64(value)) for key, value in values.items())

    def write(self, credential: Any, check_mode: bool) -> bool:
        desired = self._desired(credential)
        # The password, and every URL that carries it (an API error may echo a value, raw or base64).
        secrets = [getattr(credential, "password", None)] + [
            base64.b64decode(desired[key]).decode("utf-8") for key in self.url_keys]
        target = "%s/%s" % (self.namespace, self.name)
        secret = self._read()
        if secret is None:
            if check_mode:
                return True
            body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": {"name": self.name, "namespace": self.namespace}, "data": desired}
            try:
                self.core_api.create_namespaced_secret(self.namespace, body)
            except ApiException as exc:
                raise _api_error(exc, "creating Secret", target, secrets) from None
            return True
        current = secret.get("data") or {}
        changes = {key: value for key, value in desired.items() if not _same_b64(current.get(key), value)}
        if not changes:
            return False
        if check_mode:
            return True
        try:
            self.core_api.patch_namespaced_secret(self.name, self.namespace, {"data": changes},
                                                  _content_type=MERGE_PATCH)
        except ApiException as exc:
            raise _api_error(exc, "patching Secret", target, secrets) from None
        return True


def _same_b64(current: Optional[str], desired: str) -> bool:
    if current is None:
        return False
    try:
        return base64.b64decode(current, validate=True) == base64.b64decode(desired)
    except (binascii.Error, ValueError):
        return False


# --------------------------------------------------------------------------------------------------------------------
# Refresher: a Deployment rollout


def rollout_progress(deployment: Mapping[str, Any]) -> Tuple[bool, str]:
    """``(done, message)`` for a Deployment (API JSON), as ``kubectl rollout status`` judges it.

    RotationError when the rollout cannot finish: paused, or its progress deadline exceeded."""
    meta = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    name = "%s/%s" % (meta.get("namespace"), meta.get("name"))
    if spec.get("paused"):
        raise RotationError("Deployment %s is paused: its rollout cannot complete (kubectl rollout resume)" % name)
    generation = meta.get("generation") or 0
    observed = status.get("observedGeneration") or 0
    if observed < generation:
        return False, "waiting for the Deployment controller to observe generation %d (observed %d)" % (
            generation, observed)
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            raise RotationError("rollout of Deployment %s failed: ProgressDeadlineExceeded: %s"
                                % (name, condition.get("message") or "progress deadline exceeded"))
    wanted = spec.get("replicas")
    wanted = 1 if wanted is None else wanted
    updated = status.get("updatedReplicas") or 0
    total = status.get("replicas") or 0
    available = status.get("availableReplicas") or 0
    unavailable = status.get("unavailableReplicas") or 0
    if updated < wanted:
        return False, "%d of %d new replicas updated" % (updated, wanted)
    if total > updated:
        return False, "%d old replicas pending termination" % (total - updated)
    if available < wanted:
        return False, "%d of %d updated replicas available" % (available, wanted)
    if unavailable:
        return False, "%d replicas unavailable" % unavailable
    return True, "rollout complete: %d of %d replicas updated and available" % (updated, wanted)


class DeploymentRolloutRefresher(Refresher):
    """Set the credential revision on a Deployment's pod template and wait for the rollout."""

    kind = "rollout"

    def __init__(self, apps_api: Any, name: str, namespace: str, timeout: float = DEFAULT_ROLLOUT_TIMEOUT,
                 poll_interval: float = DEFAULT_POLL_INTERVAL, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.apps_api = apps_api
        self.name = name
        self.namespace = namespace
        self.timeout = float(timeout)
        self.poll_interval = float(poll_interval)
        self.sleep = sleep
        self.clock = clock
        self.last_message = ""

    def describe(self) -> str:
        return "rollout:%s/%s" % (self.namespace, self.name)

    def _target(self) -> str:
        return "%s/%s" % (self.namespace, self.name)

    def _read(self) -> Dict[str, Any]:
        try:
            return _to_dict(self.apps_api, self.apps_api.read_namespaced_deployment(self.name, self.namespace))
        except ApiException as exc:
            raise _api_error(exc, "reading Deployment", self._target()) from None

    def refresh(self, revision: str, check_mode: bool) -> bool:
        deployment = self._read()
        template_meta = ((deployment.get("spec") or {}).get("template") or {}).get("metadata") or {}
        changed = (template_meta.get("annotations") or {}).get(REVISION_ANNOTATION) != revision
        if check_mode:
            return changed
        if changed:
            patch = {"spec": {"template": {"metadata": {"annotations": {REVISION_ANNOTATION: revision}}}}}
            try:
                deployment = _to_dict(self.apps_api, self.apps_api.patch_namespaced_deployment(
                    self.name, self.namespace, patch, _content_type=STRATEGIC_MERGE_PATCH))
            except ApiException as exc:
                raise _api_error(exc, "patching Deployment", self._target()) from None
        self.wait(deployment)
        return changed

    def wait(self, deployment: Optional[Dict[str, Any]] = None) -> None:
        """Poll until the rollout is complete; RotationError when it fails or ``timeout`` passes."""
        deadline = self.clock() + self.timeout
        if deployment is None:
            deployment = self._read()
        while True:
            done, self.last_message = rollout_progress(deployment)
            if done:
                return
            if self.clock() >= deadline:
                raise RotationError("timed out after %ss waiting for the rollout of Deployment %s: %s"
                                    % (_seconds(self.timeout), self._target(), self.last_message))
            self.sleep(self.poll_interval)
            deployment = self._read()


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# --------------------------------------------------------------------------------------------------------------------
# Refresher: KEDA


class KedaRefresher(Refresher):
    """Make KEDA rebuild the scalers (and so re-read the credentials) of a ScaledObject, or of every ScaledObject
    and ScaledJob that uses a TriggerAuthentication / ClusterTriggerAuthentication.

    Why an annotation is not enough (KEDA v2.20, the version of deploy/crds; kedacore/keda):

    * ``controllers/keda/scaledobject_controller.go`` (SetupWithManager) reconciles a ScaledObject update only
      through ``predicate.GenerationChangedPredicate`` or the paused/force-activation annotation predicates; an
      annotation of ours does not even start a reconcile. And ``reconcileScaledObject`` calls ``requestScaleLoop``
      (ScaleHandler.HandleScalableObject, a fresh scalers cache) only when ``scaledObjectGenerationChanged``.
    * ``pkg/scaling/scale_handler.go`` (performGetScalersCache) reuses a cached ScalersCache as long as
      ``cache.ScalableObjectGeneration`` equals the object's ``metadata.generation``; the auth params resolved from
      the TriggerAuthentication's Secret are frozen in it (``pkg/scaling/resolver/scale_resolvers.go``).
    * ``controllers/keda/triggerauthentication_controller.go`` only counts metrics and emits an event: a change of
      a TriggerAuthentication (or its Secret) invalidates no cache (kedacore/keda#7906, #5915: "update the
      ScaledObject ... or restart KEDA").
    * Otherwise a scaler is rebuilt only after it fails (``ScalersCache.refreshScaler``), i.e. after the old
      credential is revoked, with errors and possibly the fallback replicas meanwhile.

    So the refresh changes the *spec* of each affected ScaledObject/ScaledJob, which bumps ``metadata.generation``
    (custom resources with a status subresource): it sets ``nl2apiCredentialRevision: <revision>`` in the
    ``metadata`` of one trigger (for a TriggerAuthentication, the first trigger that references it).
    ``triggers[].metadata`` is the only free-form map of the ScaledObject schema; scalers ignore keys they do not
    know (``pkg/scalers/scalersconfig/typed_config.go`` checkUnexpectedParameterExist only records a Warning event
    "Unmatched input property"), and metric names do not depend on it. The revision also goes into the
    ``nl2api.io/credential-revision`` annotation of the object named (audit trail; harmless). A second refresh with
    the same revision changes nothing. The patches are JSON merge patches carrying ``metadata.resourceVersion``
    (custom resources take no strategic merge patch, and ``triggers`` is a list that a merge patch replaces whole),
    so a concurrent change fails with 409 and is retried on the fresh object.
    """

    kind = "keda"

    def __init__(self, custom_api: Any, resource_kind: str, name: str, namespace: Optional[str]) -> None:
        if resource_kind not in KEDA_KINDS:
            raise RotationError("keda_refresh.kind must be one of %s (got %r)"
                                % (", ".join(sorted(KEDA_KINDS)), resource_kind))
        self.custom_api = custom_api
        self.resource_kind = resource_kind
        self.name = name
        self.namespace = namespace if KEDA_KINDS[resource_kind][1] else None
        #: "Kind ns/name" of every object the last refresh changed (or would change, in check mode).
        self.refreshed: List[str] = []

    def describe(self) -> str:
        if self.namespace is None:
            return "keda:%s/%s" % (self.resource_kind, self.name)
        return "keda:%s %s/%s" % (self.resource_kind, self.namespace, self.name)

    # -- API calls ---------------------------------------------------------------------------------------------------

    def _get(self, plural: str, namespace: Optional[str], name: str) -> Dict[str, Any]:
        try:
            if namespace is None:
                return self.custom_api.get_cluster_custom_object(KEDA_GROUP, KEDA_VERSION, plural, name)
            return self.custom_api.get_namespaced_custom_object(KEDA_GROUP, KEDA_VERSION, namespace, plural, name)
        except ApiException as exc:
            raise _api_error(exc, "reading %s" % plural, _name(namespace, name)) from None

    def _patch(self, plural: str, namespace: Optional[str], name: str, body: Dict[str, Any]) -> None:
        if namespace is None:
            self.custom_api.patch_cluster_custom_object(KEDA_GROUP, KEDA_VERSION, plural, name, body,
                                                        _content_type=MERGE_PATCH)
        else:
            self.custom_api.patch_namespaced_custom_object(KEDA_GROUP, KEDA_VERSION, namespace, plural, name, body,
                                                           _content_type=MERGE_PATCH)

    def _list(self, plural: str, namespace: Optional[str]) -> List[Dict[str, Any]]:
        try:
            if namespace is None:
                result = self.custom_api.list_cluster_custom_object(KEDA_GROUP, KEDA_VERSION, plural)
            else:
                result = self.custom_api.list_namespaced_custom_object(KEDA_GROUP, KEDA_VERSION, namespace, plural)
        except ApiException as exc:
            if _status(exc) == 404 and plural != "scaledobjects":
                return []  # the ScaledJob CRD is optional
            raise _api_error(exc, "listing %s" % plural, namespace or "all namespaces") from None
        return list(result.get("items") or [])

    def _update(self, plural: str, namespace: Optional[str], name: str,
                mutate: Callable[[Dict[str, Any]], Optional[Dict[str, Any]]], check_mode: bool) -> bool:
        """GET, compute a merge patch with ``mutate`` (None: nothing to do), PATCH with resourceVersion; retry on
        409 Conflict."""
        for attempt in range(CONFLICT_RETRIES):
            obj = self._get(plural, namespace, name)
            patch = mutate(obj)
            if patch is None:
                return False
            if check_mode:
                return True
            patch.setdefault("metadata", {})["resourceVersion"] = (obj.get("metadata") or {}).get("resourceVersion")
            try:
                self._patch(plural, namespace, name, patch)
                return True
            except ApiException as exc:
                if _status(exc) == 409 and attempt + 1 < CONFLICT_RETRIES:
                    continue
                raise _api_error(exc, "patching %s" % plural, _name(namespace, name)) from None
        raise RotationError("patching %s %s: conflicts persisted" % (plural, _name(namespace, name)))  # pragma: no cover

    # -- refresh -----------------------------------------------------------------------------------------------------

    def refresh(self, revision: str, check_mode: bool) -> bool:
        self.refreshed = []
        plural = KEDA_KINDS[self.resource_kind][0]
        changed = False
        if self.resource_kind == "ScaledObject":
            if self._update(plural, self.namespace, self.name,
                            lambda obj: _scalable_patch(obj, revision, None, annotate=True), check_mode):
                self._note("ScaledObject", self.namespace, self.name)
                changed = True
            return changed
        if self._update(plural, self.namespace, self.name, lambda obj: _annotation_patch(obj, revision), check_mode):
            self._note(self.resource_kind, self.namespace, self.name)
            changed = True
        for kind, scalable_plural in KEDA_SCALABLES:
            for item in self._list(scalable_plural, self.namespace):
                if _referencing_trigger(item, self.resource_kind, self.name) is None:
                    continue
                meta = item.get("metadata") or {}
                item_namespace, item_name = meta.get("namespace"), meta.get("name")
                if self._update(scalable_plural, item_namespace, item_name,
                                lambda obj: _scalable_patch(obj, revision, (self.resource_kind, self.name), annotate=False),
                                check_mode):
                    self._note(kind, item_namespace, item_name)
                    changed = True
        return changed

    def _note(self, kind: str, namespace: Optional[str], name: str) -> None:
        self.refreshed.append("%s %s" % (kind, _name(namespace, name)))


def _name(namespace: Optional[str], name: str) -> str:
    return name if namespace is None else "%s/%s" % (namespace, name)


def _annotation_patch(obj: Mapping[str, Any], revision: str) -> Optional[Dict[str, Any]]:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if annotations.get(REVISION_ANNOTATION) == revision:
        return None
    return {"metadata": {"annotations": {REVISION_ANNOTATION: revision}}}


def _referencing_trigger(obj: Mapping[str, Any], auth_kind: str, auth_name: str) -> Optional[int]:
    """Index of the first trigger whose authenticationRef names this (Cluster)TriggerAuthentication."""
    for index, trigger in enumerate((obj.get("spec") or {}).get("triggers") or []):
        ref = trigger.get("authenticationRef") or {}
        if ref.get("name") == auth_name and (ref.get("kind") or "TriggerAuthentication") == auth_kind:
            return index
    return None


def _scalable_patch(obj: Mapping[str, Any], revision: str, auth: Optional[Tuple[str, str]],
                    annotate: bool) -> Optional[Dict[str, Any]]:
    """Merge patch that writes the revision into one trigger's metadata (and the annotation), None when done."""
    triggers = list((obj.get("spec") or {}).get("triggers") or [])
    if not triggers:
        meta = obj.get("metadata") or {}
        target = _name(meta.get("namespace"), meta.get("name"))
        raise RotationError("%s %s has no triggers to refresh" % (obj.get("kind"), target))
    if auth is None:
        index = next((i for i, t in enumerate(triggers) if t.get("authenticationRef")), 0)
    else:
        index = _referencing_trigger(obj, auth[0], auth[1])
        if index is None:
            return None
    patch: Dict[str, Any] = {}
    trigger_metadata = triggers[index].get("metadata") or {}
    if trigger_metadata.get(KEDA_TRIGGER_METADATA_KEY) != revision:
        new_trigger = dict(triggers[index])
        new_trigger["metadata"] = dict(trigger_metadata, **{KEDA_TRIGGER_METADATA_KEY: revision})
        triggers[index] = new_trigger
        patch["spec"] = {"triggers": triggers}
    if annotate:
        annotation = _annotation_patch(obj, revision)
        if annotation:
            patch.update(annotation)
    return patch or None


# --------------------------------------------------------------------------------------------------------------------
# Factories


def _validate_outputs(spec: Mapping[str, Any], prefix: str) -> Tuple[Dict[str, str], Dict[str, str]]:
    """``(keys, url_keys)`` of a kubernetes_secret entry, every output a valid Secret data key."""
    keys, url_keys = validate_delivery(spec, prefix)
    for key in output_keys(keys, url_keys):
        if not SECRET_KEY_RE.match(key) or len(key) > 253:
            raise RotationError("%s: %r is not a valid Secret key ([-._a-zA-Z0-9]+)" % (prefix, key))
    return keys, url_keys


def _client(spec: Mapping[str, Any], prefix: str, api_client: Any) -> Any:
    if api_client is not None:
        return api_client
    return new_api_client(_option(spec, prefix, "kubeconfig", required=False),
                          _option(spec, prefix, "context", required=False), prefix)


def build_consumer(spec: Mapping[str, Any], api_client: Any = None,
                   where: str = "consumers[kubernetes_secret]") -> KubernetesSecretConsumer:
    """The ``kubernetes_secret`` consumer: spec keys name, namespace, keys, url_keys, kubeconfig, context;
    ``where`` names the entry in messages (``consumers[0]``)."""
    prefix = where
    if spec.get("type", "kubernetes_secret") != "kubernetes_secret":
        raise RotationError("%s: unsupported consumer type %r" % (prefix, spec.get("type")))
    name = _option(spec, prefix, "name")
    namespace = _option(spec, prefix, "namespace")
    keys, url_keys = _validate_outputs(spec, prefix)
    _require_kubernetes()
    return KubernetesSecretConsumer(k8s_client.CoreV1Api(_client(spec, prefix, api_client)), name, namespace, keys,
                                    url_keys, where)


def _number(spec: Mapping[str, Any], prefix: str, name: str, default: float) -> float:
    value = spec.get(name)
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RotationError("%s.%s must be a number of seconds (got %r)" % (prefix, name, value)) from None
    if number <= 0:
        raise RotationError("%s.%s must be positive (got %r)" % (prefix, name, value))
    return number


def build_refresher(kind: str, spec: Mapping[str, Any], api_client: Any = None) -> Refresher:
    """``kind`` "rollout" (spec: name, namespace, kubeconfig, context, timeout, poll_interval) or "keda" (spec:
    kind, name, namespace, kubeconfig, context)."""
    if kind == "rollout":
        prefix = "rollouts"
        name = _option(spec, prefix, "name")
        namespace = _option(spec, prefix, "namespace")
        timeout = _number(spec, prefix, "timeout", DEFAULT_ROLLOUT_TIMEOUT)
        poll_interval = _number(spec, prefix, "poll_interval", DEFAULT_POLL_INTERVAL)
        _require_kubernetes()
        return DeploymentRolloutRefresher(k8s_client.AppsV1Api(_client(spec, prefix, api_client)), name, namespace,
                                          timeout=timeout, poll_interval=poll_interval)
    if kind == "keda":
        prefix = "keda_refresh"
        keda_kind = _option(spec, prefix, "kind")
        if keda_kind not in KEDA_KINDS:
            raise RotationError("%s.kind must be one of %s (got %r)"
                                % (prefix, ", ".join(sorted(KEDA_KINDS)), keda_kind))
        name = _option(spec, prefix, "name")
        namespace = _option(spec, prefix, "namespace", required=KEDA_KINDS[keda_kind][1])
        _require_kubernetes()
        return KedaRefresher(k8s_client.CustomObjectsApi(_client(spec, prefix, api_client)), keda_kind, name,
                             namespace)
    raise RotationError("unknown refresher kind %r (rollout or keda)" % (kind,))

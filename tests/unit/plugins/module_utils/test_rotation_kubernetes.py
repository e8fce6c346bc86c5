# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/rotation/kubernetes.py without an API server: the pure parts (rollout judgement, KEDA patches,
error texts) called for real, and the requests the consumer and the refreshers send, recorded by stand-ins of the
``CoreV1Api`` / ``AppsV1Api`` / ``CustomObjectsApi`` objects their constructors take (the module's one seam; the
functional tests in tests/functional/rotation_k8s run the same code against an API server)."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import base64
import copy
import json

import pytest

from ansible_collections.nl2api.deploy.plugins.module_utils.rotation import kubernetes as k8s
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.engine import Credential, RotationError

PASSWORD = "pw-Secret-0123456789"
REVISION = "redis-app-20260131T120000Z"
URL = "rediss://{username}:{password}@redis:6380/0"


def b64(text):
    return base64.b64encode(text.encode()).decode()


class ApiError(k8s.ApiException):
    """An API error as the client raises it (status, reason, the Status body), with or without the library."""

    def __init__(self, status, reason="", message=None):  # pylint: disable=super-init-not-called
        self.status = status
        self.reason = reason
        self.headers = None
        self.body = json.dumps({"kind": "Status", "message": message}) if message else None


class Recorder(object):
    """Records every call as (method, args, kwargs); answers from ``answers`` (method -> list of values or
    exceptions, taken in order; a value that is not a list is returned every time)."""

    def __init__(self, **answers):
        self.answers = answers
        self.calls = []

    def answer(self, method, *args, **kwargs):
        self.calls.append((method, args, kwargs))
        answer = self.answers.get(method)
        if isinstance(answer, list):
            answer = answer.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return copy.deepcopy(answer)

    def names(self):
        return [call[0] for call in self.calls]


class FakeCoreApi(Recorder):
    def read_namespaced_secret(self, name, namespace):
        return self.answer("read_namespaced_secret", name, namespace)

    def create_namespaced_secret(self, namespace, body):
        return self.answer("create_namespaced_secret", namespace, body)

    def patch_namespaced_secret(self, name, namespace, body, _content_type=None):
        return self.answer("patch_namespaced_secret", name, namespace, body, _content_type=_content_type)


class FakeAppsApi(Recorder):
    def read_namespaced_deployment(self, name, namespace):
        return self.answer("read_namespaced_deployment", name, namespace)

    def patch_namespaced_deployment(self, name, namespace, body, _content_type=None):
        return self.answer("patch_namespaced_deployment", name, namespace, body, _content_type=_content_type)


class FakeCustomApi(Recorder):
    def get_namespaced_custom_object(self, group, version, namespace, plural, name):
        return self.answer("get_namespaced", group, version, namespace, plural, name)

    def get_cluster_custom_object(self, group, version, plural, name):
        return self.answer("get_cluster", group, version, plural, name)

    def patch_namespaced_custom_object(self, group, version, namespace, plural, name, body, _content_type=None):
        return self.answer("patch_namespaced", group, version, namespace, plural, name, body,
                           _content_type=_content_type)

    def patch_cluster_custom_object(self, group, version, plural, name, body, _content_type=None):
        return self.answer("patch_cluster", group, version, plural, name, body, _content_type=_content_type)

    def list_namespaced_custom_object(self, group, version, namespace, plural):
        return self.answer("list_namespaced_%s" % plural, group, version, namespace, plural)

    def list_cluster_custom_object(self, group, version, plural):
        return self.answer("list_cluster_%s" % plural, group, version, plural)


# Pure parts ----------------------------------------------------------------------------------------------------------


def deployment(generation=2, observed=2, replicas=3, updated=3, total=3, available=3, unavailable=0, paused=False,
               conditions=(), annotations=None):
    spec = {"replicas": replicas, "template": {"metadata": {"annotations": annotations or {}}}}
    if paused:
        spec["paused"] = True
    return {"metadata": {"name": "api", "namespace": "nl2api", "generation": generation},
            "spec": spec,
            "status": {"observedGeneration": observed, "updatedReplicas": updated, "replicas": total,
                       "availableReplicas": available, "unavailableReplicas": unavailable,
                       "conditions": list(conditions)}}


@pytest.mark.parametrize("state,message", [
    (deployment(observed=1), "waiting for the Deployment controller to observe generation 2 (observed 1)"),
    (deployment(updated=1), "1 of 3 new replicas updated"),
    (deployment(total=4), "1 old replicas pending termination"),
    (deployment(available=2), "2 of 3 updated replicas available"),
    (deployment(unavailable=1), "1 replicas unavailable"),
])
def test_rollout_progress_waits_like_kubectl_rollout_status(state, message):
    assert k8s.rollout_progress(state) == (False, message)


def test_rollout_progress_done_and_default_replicas():
    assert k8s.rollout_progress(deployment()) == (True, "rollout complete: 3 of 3 replicas updated and available")
    single = deployment(updated=1, total=1, available=1)
    single["spec"]["replicas"] = None  # the API default is one replica
    assert k8s.rollout_progress(single)[0] is True
    scaled_to_zero = deployment(replicas=0, updated=0, total=0, available=0)
    assert k8s.rollout_progress(scaled_to_zero)[0] is True


def test_rollout_progress_fails_when_it_cannot_finish():
    with pytest.raises(RotationError, match=r"Deployment nl2api/api is paused"):
        k8s.rollout_progress(deployment(paused=True))
    stuck = deployment(updated=1, conditions=[{"type": "Progressing", "reason": "ProgressDeadlineExceeded",
                                               "message": "ReplicaSet api-1 has timed out progressing."}])
    with pytest.raises(RotationError, match=r"ProgressDeadlineExceeded: ReplicaSet api-1 has timed out"):
        k8s.rollout_progress(stuck)
    # Before the controller observed the new generation, an old condition says nothing about this rollout.
    assert k8s.rollout_progress(dict(stuck, metadata=dict(stuck["metadata"], generation=3)))[0] is False


def scaled_object(triggers, annotations=None, name="worker"):
    return {"kind": "ScaledObject",
            "metadata": {"name": name, "namespace": "nl2api", "resourceVersion": "7",
                         "annotations": annotations or {}},
            "spec": {"triggers": triggers}}


CPU = {"type": "cpu", "metadata": {"value": "80"}}
REDIS = {"type": "redis", "metadata": {"listName": "jobs"}, "authenticationRef": {"name": "nl2api-redis"}}
CLUSTER_REDIS = {"type": "redis", "metadata": {"listName": "jobs"},
                 "authenticationRef": {"name": "shared", "kind": "ClusterTriggerAuthentication"}}


def test_scalable_patch_writes_the_revision_into_the_trigger_that_authenticates():
    obj = scaled_object([CPU, REDIS])
    before = copy.deepcopy(obj)
    patch = k8s._scalable_patch(obj, REVISION, None, annotate=True)  # pylint: disable=protected-access
    assert patch == {
        "spec": {"triggers": [CPU, dict(REDIS, metadata={"listName": "jobs", "nl2apiCredentialRevision": REVISION})]},
        "metadata": {"annotations": {"nl2api.io/credential-revision": REVISION}},
    }
    assert obj == before  # the object read is not changed
    done = scaled_object(patch["spec"]["triggers"], annotations={"nl2api.io/credential-revision": REVISION})
    assert k8s._scalable_patch(done, REVISION, None, annotate=True) is None  # pylint: disable=protected-access


def test_scalable_patch_for_an_authentication_and_without_triggers():
    obj = scaled_object([CPU, REDIS, CLUSTER_REDIS])
    patch = k8s._scalable_patch(obj, REVISION, ("ClusterTriggerAuthentication", "shared"),  # pylint: disable=protected-access
                                annotate=False)
    assert patch["spec"]["triggers"][2]["metadata"]["nl2apiCredentialRevision"] == REVISION
    assert patch["spec"]["triggers"][1] == REDIS and "metadata" not in patch
    # A TriggerAuthentication of the same name is another object: nothing references it here.
    assert k8s._scalable_patch(scaled_object([CPU, CLUSTER_REDIS]), REVISION,  # pylint: disable=protected-access
                               ("TriggerAuthentication", "shared"), annotate=False) is None
    # Without an authenticating trigger, the first one carries the revision.
    assert k8s._scalable_patch(scaled_object([CPU]), REVISION, None,  # pylint: disable=protected-access
                               annotate=False)["spec"]["triggers"][0]["metadata"]["nl2apiCredentialRevision"] == REVISION
    with pytest.raises(RotationError, match="ScaledObject nl2api/worker has no triggers to refresh"):
        k8s._scalable_patch(scaled_object([]), REVISION, None, annotate=True)  # pylint: disable=protected-access


def test_api_errors_name_the_call_and_mask_raw_and_base64_secrets():
    error = ApiError(422, "Unprocessable Entity", "data[P]: invalid value %s (%s)" % (PASSWORD, b64(PASSWORD)))
    text = str(k8s._api_error(error, "patching Secret", "nl2api/app", [PASSWORD]))  # pylint: disable=protected-access
    assert text == "patching Secret nl2api/app failed: HTTP 422 Unprocessable Entity: data[P]: invalid value " \
                   "******** (********)"
    plain = k8s._api_error(ValueError("no route %s" % PASSWORD), "reading Secret", "a/b",  # pylint: disable=protected-access
                           [PASSWORD])
    assert str(plain) == "reading Secret a/b failed: no route ********"


# The Secret consumer ---------------------------------------------------------------------------------------------


def consumer(api, **outputs):
    outputs = outputs or {"keys": {"redis-username": "username", "redis-password": "password"}}
    return k8s.KubernetesSecretConsumer(api, "app", "nl2api", outputs.get("keys", {}), outputs.get("url_keys"),
                                        where="consumers[1]")


def test_a_missing_secret_is_created_whole_and_check_mode_creates_nothing():
    api = FakeCoreApi(read_namespaced_secret=ApiError(404, "Not Found"))
    credential = Credential("nl2api", PASSWORD)
    assert consumer(api).write(credential, check_mode=True) is True
    assert api.names() == ["read_namespaced_secret"]
    assert consumer(api).read_current() is None
    assert consumer(api).write(credential, check_mode=False) is True
    assert api.calls[-1] == ("create_namespaced_secret", ("nl2api", {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": "app", "namespace": "nl2api"},
        "data": {"redis-username": b64("nl2api"), "redis-password": b64(PASSWORD)}}), {})


def test_only_the_outputs_that_differ_are_merge_patched():
    secret = {"data": {"redis-username": b64("nl2api"), "redis-password": b64("old-password"), "other": b64("x")}}
    api = FakeCoreApi(read_namespaced_secret=secret)
    assert consumer(api).read_current() == {"username": "nl2api", "password": "old-password"}
    assert consumer(api).write(Credential("nl2api", PASSWORD), check_mode=False) is True
    assert api.calls[-1] == ("patch_namespaced_secret", ("app", "nl2api", {"data": {"redis-password": b64(PASSWORD)}}),
                             {"_content_type": "application/merge-patch+json"})
    api.calls = []
    assert consumer(api).write(Credential("nl2api", "old-password"), check_mode=False) is False
    assert api.names() == ["read_namespaced_secret"]


def test_url_outputs_are_built_and_read_back():
    outputs = {"url_keys": {"redis-url": URL}}
    api = FakeCoreApi(read_namespaced_secret={"data": {}})
    assert consumer(api, **outputs).write(Credential("nl2api", "p@ss/word"), check_mode=False) is True
    sent = api.calls[-1][1][2]["data"]["redis-url"]
    assert base64.b64decode(sent).decode() == "rediss://nl2api:p%40ss%2Fword@redis:6380/0"
    api = FakeCoreApi(read_namespaced_secret={"data": {"redis-url": sent}})
    assert consumer(api, **outputs).read_current() == {"username": "nl2api", "password": "p@ss/word"}


def test_secret_errors_are_reported_with_the_secret_masked():
    api = FakeCoreApi(read_namespaced_secret={"data": {"redis-password": "not base64!"}})
    with pytest.raises(RotationError, match="kubernetes_secret:nl2api/app: key redis-password is not base64"):
        consumer(api).read_current()
    rejected = ApiError(403, "Forbidden", "cannot patch %s" % b64(PASSWORD))
    api = FakeCoreApi(read_namespaced_secret={"data": {}}, patch_namespaced_secret=rejected)
    with pytest.raises(RotationError) as raised:
        consumer(api).write(Credential("nl2api", PASSWORD), check_mode=False)
    assert str(raised.value) == "patching Secret nl2api/app failed: HTTP 403 Forbidden: cannot patch ********"
    api = FakeCoreApi(read_namespaced_secret=ApiError(401, "Unauthorized"))
    with pytest.raises(RotationError, match="reading Secret nl2api/app failed: HTTP 401 Unauthorized"):
        consumer(api).read_current()


# The Deployment rollout ----------------------------------------------------------------------------------------------


class Clock(object):
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def rollout(api, clock, timeout=10):
    return k8s.DeploymentRolloutRefresher(api, "api", "nl2api", timeout=timeout, poll_interval=2, sleep=clock.sleep,
                                          clock=lambda: clock.now)


def test_rollout_sets_the_annotation_then_waits_until_complete():
    patched = deployment(generation=3, observed=2, annotations={"nl2api.io/credential-revision": REVISION})
    api = FakeAppsApi(read_namespaced_deployment=[deployment(), deployment(generation=3, updated=1), deployment(3, 3)],
                      patch_namespaced_deployment=patched)
    clock = Clock()
    assert rollout(api, clock).refresh(REVISION, check_mode=False) is True
    assert api.calls[1] == ("patch_namespaced_deployment", (
        "api", "nl2api", {"spec": {"template": {"metadata": {"annotations": {
            "nl2api.io/credential-revision": REVISION}}}}}), {"_content_type": "application/strategic-merge-patch+json"})
    assert api.names()[2:] == ["read_namespaced_deployment", "read_namespaced_deployment"]
    assert clock.slept == [2.0, 2.0]


def test_rollout_with_the_revision_set_only_waits_and_check_mode_only_reads():
    done = deployment(annotations={"nl2api.io/credential-revision": REVISION})
    api = FakeAppsApi(read_namespaced_deployment=done)
    assert rollout(api, Clock()).refresh(REVISION, check_mode=False) is False
    assert api.names() == ["read_namespaced_deployment"]
    api = FakeAppsApi(read_namespaced_deployment=deployment())
    assert rollout(api, Clock()).refresh(REVISION, check_mode=True) is True
    assert api.names() == ["read_namespaced_deployment"]


def test_rollout_times_out_with_the_last_state():
    api = FakeAppsApi(read_namespaced_deployment=deployment(available=1))
    clock = Clock()
    with pytest.raises(RotationError, match=r"timed out after 5s waiting for the rollout of Deployment nl2api/api: "
                                            r"1 of 3 updated replicas available"):
        rollout(api, clock, timeout=5).wait()
    assert clock.now >= 5 and len(clock.slept) == 3


# KEDA ----------------------------------------------------------------------------------------------------------------


def test_a_scaled_object_is_patched_with_its_resource_version_and_conflicts_are_retried():
    api = FakeCustomApi(get_namespaced=scaled_object([REDIS]),
                        patch_namespaced=[ApiError(409, "Conflict"), {}])
    refresher = k8s.KedaRefresher(api, "ScaledObject", "worker", "nl2api")
    assert refresher.refresh(REVISION, check_mode=False) is True
    assert api.names() == ["get_namespaced", "patch_namespaced", "get_namespaced", "patch_namespaced"]
    method, args, kwargs = api.calls[-1]
    assert args[:5] == ("keda.sh", "v1alpha1", "nl2api", "scaledobjects", "worker")
    assert args[5]["metadata"] == {"annotations": {"nl2api.io/credential-revision": REVISION}, "resourceVersion": "7"}
    assert args[5]["spec"]["triggers"][0]["metadata"]["nl2apiCredentialRevision"] == REVISION
    assert kwargs == {"_content_type": "application/merge-patch+json"}
    assert refresher.refreshed == ["ScaledObject nl2api/worker"]


def test_a_trigger_authentication_refreshes_every_scalable_that_uses_it():
    other = scaled_object([CPU], name="other")
    user = scaled_object([CPU, REDIS], name="worker")
    api = FakeCustomApi(
        get_namespaced=[{"metadata": {"name": "nl2api-redis", "resourceVersion": "3"}}, user],
        list_namespaced_scaledobjects={"items": [other, user]},
        list_namespaced_scaledjobs=ApiError(404, "Not Found"),  # the ScaledJob CRD is optional
        patch_namespaced={},
    )
    refresher = k8s.KedaRefresher(api, "TriggerAuthentication", "nl2api-redis", "nl2api")
    assert refresher.refresh(REVISION, check_mode=False) is True
    patches = [call[1] for call in api.calls if call[0] == "patch_namespaced"]
    assert [patch[3:5] for patch in patches] == [("triggerauthentications", "nl2api-redis"), ("scaledobjects", "worker")]
    assert patches[0][5] == {"metadata": {"annotations": {"nl2api.io/credential-revision": REVISION},
                                          "resourceVersion": "3"}}
    assert "annotations" not in patches[1][5]["metadata"]  # only the object named is annotated
    assert refresher.refreshed == ["TriggerAuthentication nl2api/nl2api-redis", "ScaledObject nl2api/worker"]


def test_a_cluster_trigger_authentication_is_cluster_scoped_and_check_mode_patches_nothing():
    user = scaled_object([CLUSTER_REDIS])
    api = FakeCustomApi(get_cluster={"metadata": {"name": "shared"}}, get_namespaced=user,
                        list_cluster_scaledobjects={"items": [user]}, list_cluster_scaledjobs={"items": []})
    refresher = k8s.KedaRefresher(api, "ClusterTriggerAuthentication", "shared", "ignored")
    assert refresher.namespace is None and refresher.describe() == "keda:ClusterTriggerAuthentication/shared"
    assert refresher.refresh(REVISION, check_mode=True) is True
    assert api.names() == ["get_cluster", "list_cluster_scaledobjects", "get_namespaced", "list_cluster_scaledjobs"]
    assert refresher.refreshed == ["ClusterTriggerAuthentication shared", "ScaledObject nl2api/worker"]


def test_listing_scaled_objects_must_work():
    api = FakeCustomApi(get_namespaced={"metadata": {"annotations": {"nl2api.io/credential-revision": REVISION}}},
                        list_namespaced_scaledobjects=ApiError(404, "Not Found"))
    with pytest.raises(RotationError, match="listing scaledobjects nl2api failed: HTTP 404 Not Found"):
        k8s.KedaRefresher(api, "TriggerAuthentication", "nl2api-redis", "nl2api").refresh(REVISION, False)


# Factories: the options are checked before the library or a cluster is needed -------------------------------------


@pytest.mark.parametrize("spec,message", [
    (dict(namespace="n", keys={"P": "password"}), r"consumers\[2\]\.name is required"),
    (dict(name="s", keys={"P": "password"}), r"consumers\[2\]\.namespace is required"),
    (dict(name="s", namespace="n", keys={"bad/key": "password"}), r"'bad/key' is not a valid Secret key"),
    (dict(name="s", namespace="n"), r"consumers\[2\] needs keys"),
    (dict(type="file", name="s", namespace="n", keys={"P": "password"}), "unsupported consumer type 'file'"),
])
def test_build_consumer_checks_its_options_first(spec, message):
    with pytest.raises(RotationError, match=message):
        k8s.build_consumer(spec, api_client=object(), where="consumers[2]")


@pytest.mark.parametrize("kind,spec,message", [
    ("rollout", dict(namespace="n"), r"rollouts\.name is required"),
    ("rollout", dict(name="d", namespace="n", timeout=0), r"rollouts\.timeout must be positive"),
    ("rollout", dict(name="d", namespace="n", timeout="soon"), r"rollouts\.timeout must be a number of seconds"),
    ("keda", dict(kind="Deployment", name="x"), r"keda_refresh\.kind must be one of ClusterTriggerAuthentication"),
    ("keda", dict(kind="ScaledObject", name="x"), r"keda_refresh\.namespace is required"),
    ("restart", {}, "unknown refresher kind 'restart'"),
])
def test_build_refresher_checks_its_options_first(kind, spec, message):
    with pytest.raises(RotationError, match=message):
        k8s.build_refresher(kind, spec, api_client=object())


def test_a_missing_kubeconfig_is_named(tmp_path):
    if not k8s.HAS_KUBERNETES:
        with pytest.raises(RotationError, match="kubernetes"):
            k8s.new_api_client(str(tmp_path / "nope"), None, "consumers[0]")
        return
    with pytest.raises(RotationError, match=r"consumers\[0\]\.kubeconfig: .*nope does not exist"):
        k8s.new_api_client(str(tmp_path / "nope"), None, "consumers[0]")

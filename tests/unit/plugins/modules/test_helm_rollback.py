# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nl2api.deploy.helm_rollback module: arguments, commands, results, check and diff mode, refusals, errors.

AnsibleModule.run_command is replaced by FakeHelm, which answers helm's history/get/rollback from the release
model of test_helm_release (helm 3's behaviour); what reaches a real cluster is tested in molecule/kind.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import json
import os
import stat

import pytest
from ansible.module_utils import basic

from ansible_collections.nl2api.deploy.plugins.module_utils.helm_release import (
    STATUS_DEPLOYED,
    STATUS_FAILED,
    STATUS_SUPERSEDED,
)
from ansible_collections.nl2api.deploy.plugins.modules import helm_rollback
from ansible_collections.nl2api.deploy.tests.unit.plugins.modules.module_harness import (
    ExitJson,
    FailJson,
    patch_exits,
    run_main,
)
from ansible_collections.nl2api.deploy.tests.unit.plugins.module_utils.test_helm_release import (
    ReleaseModel,
    manifest_for,
)


class FakeHelm(object):
    """Answers the helm command lines the module runs, from a ReleaseModel; records argv and environment."""

    def __init__(self, model=None, unreachable=False, rollback_fails=False):
        self.model = model
        self.unreachable = unreachable
        self.rollback_fails = rollback_fails
        self.calls = []

    def __call__(self, module, args, **kwargs):  # bound as AnsibleModule.run_command
        assert isinstance(args, list), "helm must be run with an argv list, never a shell string"
        self.calls.append((list(args), dict(kwargs.get("environ_update") or {})))
        if self.unreachable:
            return 1, "", 'Error: Kubernetes cluster unreachable: Get "https://127.0.0.1:6443/version": connection refused\n'
        command = args[1:3]
        if self.model is None:
            return 1, "", "Error: release: not found\n"
        if command[0] == "history":
            return 0, json.dumps([r.to_dict() for r in self.model.revisions]), ""
        number = int(args[args.index("--revision") + 1]) if "--revision" in args else None
        if command == ["get", "values"]:
            return 0, json.dumps({"image": {"tag": str(self.model.content_ids[number])}}), ""
        if command == ["get", "manifest"]:
            return 0, manifest_for(self.model.content_ids[number]), ""
        if command[0] == "rollback":
            target = int(args[3])
            if self.rollback_fails:
                self.model.rollback(target, ok=False)
                return 1, "", 'Error: release nl2api failed: timed out waiting for the condition\n'
            self.model.rollback(target, ok=True)
            return 0, "Rollback was a success! Happy Helming!\n", ""
        raise AssertionError("unexpected helm command %r" % args)

    def argvs(self, verb=None):
        return [call[0] for call in self.calls if verb is None or call[0][1] == verb]


@pytest.fixture(autouse=True)
def module_exits(monkeypatch):
    patch_exits(monkeypatch)
    for name in ("K8S_AUTH_KUBECONFIG", "K8S_AUTH_CONTEXT", "K8S_AUTH_HOST", "K8S_AUTH_API_KEY", "K8S_AUTH_SSL_CA_CERT",
                 "K8S_AUTH_VERIFY_SSL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def helm_binary(tmp_path):
    path = tmp_path / "helm"
    path.write_text("#!/bin/sh\nexit 99\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def install(monkeypatch, fake):
    def run_command(module, args, **kwargs):
        return fake(module, args, **kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)


def run_module(args, expect=ExitJson):
    return run_main(helm_rollback.main, args, expect)


def upgraded_release():
    model = ReleaseModel()
    model.install(1)
    model.upgrade(2)
    return model


def base_args(helm_binary, **extra):
    args = {"release_name": "nl2api", "release_namespace": "nl2api", "binary_path": helm_binary}
    args.update(extra)
    return args


def test_rolls_back_to_the_previous_revision_then_changes_nothing(monkeypatch, helm_binary):
    fake = FakeHelm(upgraded_release())
    install(monkeypatch, fake)
    first = run_module(base_args(helm_binary, wait_timeout="10m"))
    assert first["changed"] is True
    assert (first["from_revision"], first["to_revision"], first["new_revision"]) == (2, 1, 3)
    assert first["status"] == STATUS_DEPLOYED
    assert first["msg"].startswith("rolled back: release nl2api in namespace nl2api: roll back from revision 2")
    assert [h["revision"] for h in first["history"]] == [1, 2, 3]
    assert first["history"][-1]["description"] == "Rollback to 1"
    assert fake.argvs("rollback") == [[helm_binary, "rollback", "nl2api", "1", "--namespace", "nl2api", "--wait",
                                       "--timeout", "10m"]]
    assert first["commands"][0] == "%s history nl2api --output json --namespace nl2api" % helm_binary
    assert first["commands"][-2].startswith("%s rollback nl2api 1 " % helm_binary)
    assert "diff" not in first and "changes" not in first

    fake.calls.clear()
    second = run_module(base_args(helm_binary, wait_timeout="10m"))
    assert second["changed"] is False and second["new_revision"] is None
    assert second["from_revision"] == 3 and second["to_revision"] == 1
    assert "already rolled back" in second["msg"]
    assert fake.argvs("rollback") == [] and fake.argvs("get") == []
    assert [r.status for r in fake.model.revisions] == [STATUS_SUPERSEDED, STATUS_SUPERSEDED, STATUS_DEPLOYED]


def test_explicit_revision_and_options_reach_helm(monkeypatch, helm_binary, tmp_path):
    model = upgraded_release()
    model.upgrade(3)
    fake = FakeHelm(model)
    install(monkeypatch, fake)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    result = run_module(base_args(helm_binary, revision=1, wait=False, history_max=5, cleanup_on_fail=True,
                                  disable_hook=True, kubeconfig=str(kubeconfig), context="kind-nl2api",
                                  api_key="s3cr3t-token", ca_cert="/etc/ca.pem", validate_certs=False,
                                  host="https://127.0.0.1:6443"))
    assert result["changed"] is True and result["to_revision"] == 1 and result["new_revision"] == 4
    rollback = fake.argvs("rollback")[0]
    assert rollback == [helm_binary, "rollback", "nl2api", "1", "--namespace", "nl2api", "--kubeconfig", str(kubeconfig),
                        "--kube-context", "kind-nl2api", "--kube-apiserver", "https://127.0.0.1:6443", "--kube-ca-file",
                        "/etc/ca.pem", "--kube-insecure-skip-tls-verify", "--timeout", "5m0s", "--history-max", "5",
                        "--cleanup-on-fail", "--no-hooks"]
    for argv, environ in fake.calls:
        assert "s3cr3t-token" not in argv
        assert environ == {"HELM_KUBETOKEN": "s3cr3t-token"}
    assert "s3cr3t-token" not in json.dumps(result)
    assert run_module(base_args(helm_binary, revision=1, kubeconfig=str(kubeconfig)))["changed"] is False


def test_check_mode_reports_the_plan_and_runs_no_rollback(monkeypatch, helm_binary):
    fake = FakeHelm(upgraded_release())
    install(monkeypatch, fake)
    result = run_module(base_args(helm_binary, _ansible_check_mode=True))
    assert result["changed"] is True and result["new_revision"] is None
    assert result["msg"].startswith("would release nl2api in namespace nl2api: roll back from revision 2")
    assert (result["from_revision"], result["to_revision"]) == (2, 1)
    assert result["changes"] == {"added": [], "removed": [], "changed": ["Deployment/nl2api-api"]}
    assert fake.argvs("rollback") == []
    assert len(fake.model.revisions) == 2
    assert "diff" not in result


def test_diff_mode_shows_digests_never_values(monkeypatch, helm_binary):
    fake = FakeHelm(upgraded_release())
    install(monkeypatch, fake)
    result = run_module(base_args(helm_binary, _ansible_diff=True, _ansible_check_mode=True))
    diff = result["diff"]
    assert diff["before_header"].endswith("revision 2 (deployed, nl2api-0.1.0, app 1.0.2)")
    assert "revision 1 (superseded" in diff["after_header"]
    assert "Deployment/nl2api-api:" in diff["before"] and "values_sha256:" in diff["after"]
    assert diff["before"] != diff["after"]
    assert "nl2api:1" not in json.dumps(result) and '"tag"' not in json.dumps(result)


def test_missing_release_is_refused_clearly(monkeypatch, helm_binary):
    install(monkeypatch, FakeHelm(model=None))
    result = run_module(base_args(helm_binary), expect=FailJson)
    assert result["msg"].startswith("release nl2api not found in namespace nl2api: nothing to roll back")
    assert result["changed"] is False and result["new_revision"] is None
    assert len(result["commands"]) == 1


def test_first_install_has_nothing_to_roll_back_to(monkeypatch, helm_binary):
    model = ReleaseModel()
    model.install(1)
    fake = FakeHelm(model)
    install(monkeypatch, fake)
    result = run_module(base_args(helm_binary), expect=FailJson)
    assert "has no earlier successfully deployed revision" in result["msg"]
    assert result["from_revision"] == 1 and result["history"][0]["status"] == STATUS_DEPLOYED
    assert fake.argvs("rollback") == []


def test_failed_revision_is_refused_unless_forced(monkeypatch, helm_binary):
    model = upgraded_release()
    model.upgrade(3, ok=False)
    fake = FakeHelm(model)
    install(monkeypatch, fake)
    refused = run_module(base_args(helm_binary, revision=3), expect=FailJson)
    assert "revision 3 never deployed successfully (failed" in refused["msg"] and "force=true" in refused["msg"]
    assert fake.argvs("rollback") == []
    previous = run_module(base_args(helm_binary))
    assert previous["to_revision"] == 2 and previous["new_revision"] == 4


def test_unreachable_cluster_fails_with_a_hint(monkeypatch, helm_binary):
    install(monkeypatch, FakeHelm(unreachable=True))
    result = run_module(base_args(helm_binary), expect=FailJson)
    assert result["msg"].startswith("helm history nl2api (namespace nl2api) failed (exit 1): Error: Kubernetes cluster unreachable")
    assert "check kubeconfig/context" in result["msg"]
    assert "Kubernetes cluster unreachable" in result["stderr"]


def test_a_failed_rollback_fails_the_task_and_a_rerun_retries_it(monkeypatch, helm_binary):
    fake = FakeHelm(upgraded_release(), rollback_fails=True)
    install(monkeypatch, fake)
    failed = run_module(base_args(helm_binary), expect=FailJson)
    assert failed["msg"].startswith("helm rollback of release nl2api in namespace nl2api to revision 1 failed (exit 1)")
    assert "Run the module again" in failed["msg"]
    assert failed["new_revision"] == 3 and failed["status"] == STATUS_FAILED
    fake.rollback_fails = False
    retried = run_module(base_args(helm_binary))
    assert retried["to_revision"] == 1 and retried["new_revision"] == 4 and retried["changed"] is True


def test_kubeconfig_as_a_dict_goes_to_a_private_file_and_its_secrets_are_hidden(monkeypatch, helm_binary):
    fake = FakeHelm(upgraded_release())
    install(monkeypatch, fake)
    kubeconfig = {"apiVersion": "v1", "kind": "Config", "users": [{"name": "u", "user": {"token": "kube-t0ken"}}]}
    seen = {}
    real_call = fake.__call__

    def capture(module, args, **kwargs):
        path = args[args.index("--kubeconfig") + 1]
        seen["path"] = path
        seen["mode"] = stat.S_IMODE(os.stat(path).st_mode)
        with open(path) as handle:
            seen["content"] = json.load(handle)
        seen["no_log"] = "kube-t0ken" in module.no_log_values
        return real_call(module, args, **kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "run_command", capture)
    run_module(base_args(helm_binary, kubeconfig=kubeconfig, _ansible_check_mode=True))
    assert seen["content"] == kubeconfig and seen["mode"] == 0o600 and seen["no_log"] is True


def test_environment_fallbacks(monkeypatch, helm_binary, tmp_path):
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text("kind: Config\n")
    monkeypatch.setenv("K8S_AUTH_KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("K8S_AUTH_CONTEXT", "kind-nl2api")
    fake = FakeHelm(upgraded_release())
    install(monkeypatch, fake)
    run_module(base_args(helm_binary, _ansible_check_mode=True))
    assert fake.argvs("history")[0][-4:] == ["--kubeconfig", str(kubeconfig), "--kube-context", "kind-nl2api"]


def test_missing_kubeconfig_file_is_named(monkeypatch, helm_binary):
    install(monkeypatch, FakeHelm(upgraded_release()))
    result = run_module(base_args(helm_binary, kubeconfig="/nonexistent/kubeconfig"), expect=FailJson)
    assert result["msg"] == "kubeconfig /nonexistent/kubeconfig does not exist (option kubeconfig, or K8S_AUTH_KUBECONFIG)"


@pytest.mark.parametrize("extra, message", [
    ({"release_name": "NL2API"}, "release_name 'NL2API' is not a valid Helm release name"),
    ({"revision": -2}, "revision must be 1 or more"),
    ({"revision": 0}, "revision must be 1 or more, or unset for the previous good revision; got 0"),
    ({"wait_timeout": "ten minutes"}, "wait_timeout 'ten minutes' is not a Go duration"),
    ({"history_max": -1}, "history_max must be 0 (keep all) or more"),
    ({"release_namespace": ""}, "release_namespace must not be empty"),
])
def test_argument_errors_name_the_option(monkeypatch, helm_binary, extra, message):
    fake = FakeHelm(upgraded_release())
    install(monkeypatch, fake)
    result = run_module(base_args(helm_binary, **extra), expect=FailJson)
    assert message in result["msg"]
    assert fake.calls == []


def test_required_and_unknown_options(monkeypatch):
    install(monkeypatch, FakeHelm(upgraded_release()))
    assert "release_name" in run_module({"release_namespace": "nl2api"}, expect=FailJson)["msg"]
    assert "revisoin" in run_module({"release_name": "a", "release_namespace": "b", "revisoin": 1}, expect=FailJson)["msg"]


def test_binary_path_must_be_executable(monkeypatch, tmp_path):
    install(monkeypatch, FakeHelm(upgraded_release()))
    plain = tmp_path / "helm"
    plain.write_text("")
    result = run_module({"release_name": "nl2api", "release_namespace": "nl2api", "binary_path": str(plain)},
                        expect=FailJson)
    assert result["msg"] == "binary_path %s is not an executable file" % plain


def test_helm_is_found_on_path(monkeypatch, helm_binary):
    fake = FakeHelm(upgraded_release())
    install(monkeypatch, fake)
    monkeypatch.setenv("PATH", os.path.dirname(helm_binary) + os.pathsep + os.environ.get("PATH", ""))
    run_module({"release_name": "nl2api", "release_namespace": "nl2api", "_ansible_check_mode": True})
    assert fake.calls[0][0][0] == helm_binary

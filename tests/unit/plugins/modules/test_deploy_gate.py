# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nl2api.deploy.deploy_gate module: arguments, results, check mode, errors."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name


import pytest
import yaml

from ansible_collections.nl2api.deploy.plugins.modules import deploy_gate
from ansible_collections.nl2api.deploy.tests.unit.plugins.modules.module_harness import (
    ExitJson,
    FailJson,
    patch_exits,
    run_main,
)
from ansible_collections.nl2api.deploy.tests.unit.plugins.module_utils.test_deploy_gate_fixtures import (
    CRD_DIR,
    find,
    good_set,
)


@pytest.fixture(autouse=True)
def module_exits(monkeypatch):
    patch_exits(monkeypatch)


def run_module(args, expect=ExitJson):
    return run_main(deploy_gate.main, args, expect)


@pytest.fixture
def rendered(tmp_path):
    (tmp_path / "rendered.yaml").write_text(yaml.safe_dump_all(good_set()))
    return str(tmp_path)


def test_good_manifests_pass_and_change_nothing(rendered):
    result = run_module({"src": [rendered], "environment": "prod", "crd_dir": CRD_DIR})
    assert result["changed"] is False and result["passed"] is True
    assert result["findings"] == [] and result["objects_checked"] == 14
    assert result["summary"] == "gate: 14 objects, 0 failures (env=prod, kubernetes 1.31,1.35)"


def test_check_mode_runs_every_check(rendered):
    result = run_module({"src": [rendered], "environment": "prod", "_ansible_check_mode": True})
    assert result["changed"] is False and result["passed"] is True and result["objects_checked"] == 14


def test_findings_fail_the_task_with_each_failure_in_the_message():
    manifests = good_set()
    find(manifests, "Deployment", "nl2api-api")["spec"]["replicass"] = 3
    result = run_module({"manifests": manifests, "environment": "prod"}, FailJson)
    assert result["passed"] is False and result["changed"] is False
    assert result["findings"] == [{
        "severity": "error", "kind": "Deployment", "namespace": "nl2api", "name": "nl2api-api", "field": "spec.replicass",
        "reason": 'unknown field "replicass" (strict schema, kubernetes 1.31, 1.35)', "check": "k8s-schema",
    }]
    assert result["msg"].startswith("gate: 14 objects, 1 failures (env=prod, kubernetes 1.31,1.35): FAIL Deployment/nl2api/nl2api-api spec.replicass")


def test_fail_on_findings_false_reports_without_failing():
    manifests = good_set()
    find(manifests, "Deployment", "nl2api-api")["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:latest"
    result = run_module({"manifests": manifests, "environment": "staging", "fail_on_findings": False})
    assert result["passed"] is False
    assert [(f["check"], f["field"]) for f in result["findings"]] == [("image-tag", "spec.template.spec.containers[api].image")]


def test_src_and_manifests_are_checked_together(rendered):
    extra = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "extra", "namespace": "nl2api"}}
    result = run_module({"src": [rendered], "manifests": [extra], "environment": "dev", "kubernetes_versions": ["1.33"]})
    assert result["objects_checked"] == 15 and result["summary"].endswith("(env=dev, kubernetes 1.33)")


def test_one_of_src_and_manifests_is_required():
    result = run_module({"environment": "prod"}, FailJson)
    assert "one of the following is required: src, manifests" in result["msg"]


@pytest.mark.parametrize("args,message", [
    ({"src": ["/nonexistent/rendered"]}, "deploy gate could not run: /nonexistent/rendered: no such file or directory"),
    ({"manifests": [], "kubernetes_versions": ["1.99"]}, "deploy gate could not run: kubernetes-validate"),
    ({"manifests": [], "crd_dir": "/nonexistent/crds"}, "deploy gate could not run: /nonexistent/crds: CRD directory not found"),
])
def test_errors_fail_with_a_message(args, message):
    result = run_module(dict(args, environment="prod"), FailJson)
    assert result["msg"].startswith(message)


def test_missing_crd_directory_asks_for_crd_dir(monkeypatch):
    monkeypatch.setattr(deploy_gate, "find_crd_dir", lambda: None)
    result = run_module({"manifests": [], "environment": "prod"}, FailJson)
    assert "set crd_dir" in result["msg"]


def test_missing_library_is_reported_the_ansible_way(monkeypatch):
    monkeypatch.setattr(deploy_gate, "missing_libraries", lambda: [("kubernetes-validate", "Traceback ...")])
    result = run_module({"manifests": [], "environment": "prod"}, FailJson)
    assert "kubernetes-validate" in result["msg"] and result["exception"] == "Traceback ..."


def test_argument_spec_matches_the_documentation():
    documentation = yaml.safe_load(deploy_gate.DOCUMENTATION)
    assert set(documentation["options"]) == set(deploy_gate.ARGUMENT_SPEC)
    for name, spec in deploy_gate.ARGUMENT_SPEC.items():
        assert documentation["options"][name].get("default") == spec.get("default"), name
        assert documentation["options"][name]["type"] == spec["type"], name

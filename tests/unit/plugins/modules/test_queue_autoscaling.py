# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nl2api.deploy.queue_autoscaling module: arguments, results, check mode, failures, the Redis read."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import json

import pytest
from ansible.module_utils import basic

from ansible_collections.nl2api.deploy.plugins.module_utils import redis_connection
from ansible_collections.nl2api.deploy.plugins.module_utils.redis_queue import QueueDepth, QueueReadError
from ansible_collections.nl2api.deploy.plugins.modules import queue_autoscaling
from ansible_collections.nl2api.deploy.tests.unit.plugins.modules.module_harness import (
    ExitJson,
    FailJson,
    patch_exits,
    run_main,
)


WARNINGS = []


@pytest.fixture(autouse=True)
def module_exits(monkeypatch):
    def warn(self, message):  # pylint: disable=unused-argument
        WARNINGS.append(message)

    WARNINGS.clear()
    patch_exits(monkeypatch)
    monkeypatch.setattr(basic.AnsibleModule, "warn", warn)


def run_module(args, expect=ExitJson):
    return run_main(queue_autoscaling.main, args, expect)


PROD_ARGS = {
    "queue": {
        "address": "nl2api-redis.nl2api.svc.cluster.local:6379",
        "tls": True,
        "lists": ["nl2api:evaluations"],
        "processing_lists": ["nl2api:evaluations:processing"],
        "credentials_secret": "nl2api-redis-scaler",
    },
    "jobs_per_worker": 5,
    "min_replicas": 2,
    "max_replicas": 20,
    "max_job_duration_seconds": 240,
}


def with_args(**overrides):
    args = json.loads(json.dumps(PROD_ARGS))
    args.update(overrides)
    return args


def test_prod_intent():
    result = run_module(PROD_ARGS)
    assert result["changed"] is False and result["passed"] is True and result["problems"] == []
    values = result["autoscaling"]
    assert values["engine"] == "keda" and values["keda"]["scalingModifiersFormula"] == "pending_0 + processing_1"
    assert values["redis"]["enableTLS"] is True and values["redis"]["auth"]["secretName"] == "nl2api-redis-scaler"
    scale_up = result["scale_up"]
    assert scale_up["seconds"] == 75 and scale_up["within_target"] is True and scale_up["target_seconds"] == 120
    assert (scale_up["from_replicas"], scale_up["to_replicas"], scale_up["backlog_items"]) == (2, 20, 105)
    assert scale_up["timeline"][-1] == {"at_seconds": 45, "replicas": 20}
    assert result["scale_in"]["pdb_allowed_disruptions_at_min"] == 1
    assert "queue_depth" not in result and "desired_replicas" not in result
    assert WARNINGS == []


def test_check_mode_gives_the_same_answer():
    assert run_module(with_args(_ansible_check_mode=True)) == run_module(PROD_ARGS)


def test_result_is_json_serialisable():
    json.dumps(run_module(PROD_ARGS))


def test_errors_fail_and_name_the_option():
    result = run_module(with_args(min_replicas=5, max_replicas=3), expect=FailJson)
    assert result["msg"].startswith("worker autoscaling: max_replicas (3) is lower than min_replicas (5)")
    assert result["passed"] is False and result["problems"][0]["option"] == "max_replicas"
    assert "autoscaling" in result and "scale_up" not in result


def test_scale_up_over_target_fails_with_the_setting_to_change():
    result = run_module(with_args(scale_up={"pods_per_period": 1, "percent_per_period": 0, "period_seconds": 60}),
                        expect=FailJson)
    assert "takes 1065 s in the worst case" in result["msg"]
    assert "raise scale_up.pods_per_period to 9 (now 1)" in result["msg"]
    assert result["scale_up"]["within_target"] is False


def test_errors_can_be_returned_instead():
    result = run_module(with_args(activation_jobs=3, fail_on_errors=False))
    assert result["passed"] is False and [p["option"] for p in result["problems"]] == ["activation_jobs"]


def test_warnings_are_ansible_warnings():
    args = with_args()
    del args["max_job_duration_seconds"]
    result = run_module(args)
    assert result["passed"] is True
    assert WARNINGS and "max_job_duration_seconds is not set" in WARNINGS[0]


def test_argument_validation():
    result = run_module(with_args(worker_pdb={"max_unavailable": 1, "min_available": 1}), expect=FailJson)
    assert "mutually exclusive" in result["msg"]
    result = run_module(with_args(scale_up={"select_policy": "Fastest"}), expect=FailJson)
    assert "select_policy" in result["msg"]
    result = run_module(with_args(client_cert_file="/c.pem"), expect=FailJson)
    assert "client_key_file" in result["msg"]


def test_hpa_engine_and_pdb_percentages():
    result = run_module(with_args(engine="hpa", worker_pdb={"max_unavailable": "25%"}, metrics_scrape_interval=30))
    assert result["autoscaling"]["engine"] == "hpa" and result["autoscaling"]["external"]["averageValue"] == "5"
    assert result["scale_up"]["seconds"] == 105  # 30 s scrape + 15 s sync, then as with KEDA


def test_queue_depth_and_desired_replicas(monkeypatch):
    seen = {}

    def fake_read(params, names, defaults=None):
        seen.update(names=list(names), defaults=defaults, user=params["login_user"])
        return QueueDepth({"nl2api:evaluations": 37, "nl2api:evaluations:processing": 8})

    monkeypatch.setattr(redis_connection, "HAS_REDIS", True)  # the read is faked: no redis-py needed
    monkeypatch.setattr(queue_autoscaling, "read_queue_depth", fake_read)
    result = run_module(with_args(read_queue_depth=True, login_user="scaler", login_password="pw", current_replicas=8,
                                  _ansible_check_mode=True))
    assert seen == {"names": ["nl2api:evaluations", "nl2api:evaluations:processing"],
                    "defaults": {"tls": True, "db": 0, "host": "nl2api-redis.nl2api.svc.cluster.local", "port": 6379},
                    "user": "scaler"}
    assert result["queue_depth"] == {"lists": {"nl2api:evaluations": 37, "nl2api:evaluations:processing": 8},
                                     "total": 45}
    assert result["desired_replicas"] == 9
    assert "pw" not in json.dumps(result)


def test_queue_read_errors_fail(monkeypatch):
    def fake_read(params, names, defaults=None):
        raise QueueReadError("Redis at redis://scaler@h:1/0 rejected the credentials: check login_user and login_password")

    monkeypatch.setattr(redis_connection, "HAS_REDIS", True)
    monkeypatch.setattr(queue_autoscaling, "read_queue_depth", fake_read)
    result = run_module(with_args(read_queue_depth=True), expect=FailJson)
    assert "rejected the credentials" in result["msg"] and result["autoscaling"]["maxReplicas"] == 20


def test_reading_needs_somewhere_to_connect(monkeypatch):
    monkeypatch.setattr(redis_connection, "HAS_REDIS", True)
    args = with_args(read_queue_depth=True)
    args["queue"]["address"] = ""
    assert "needs login_host" in run_module(args, expect=FailJson)["msg"]


def test_missing_redis_library(monkeypatch):
    monkeypatch.setattr(redis_connection, "HAS_REDIS", False)
    monkeypatch.setattr(redis_connection, "REDIS_IMPORT_ERROR", "Traceback: No module named 'redis'")
    result = run_module(with_args(read_queue_depth=True), expect=FailJson)
    assert "Failed to import the required Python library (redis)" in result["msg"]
    # Without the read the library is not needed.
    assert run_module(PROD_ARGS)["passed"] is True

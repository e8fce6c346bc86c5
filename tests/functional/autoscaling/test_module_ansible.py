"""nl2api.deploy.queue_autoscaling run by Ansible itself (`ansible localhost -m ...` from the repository root with
its ansible.cfg), JSON output checked: the prod-like intent, a rejected one, check mode, the chart values read from
the chart and the environment file, and a live read of a batch's stream over TLS as a least-privilege ACL user."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.ansible_cli import run_module
from support.redis_server import RedisServer

from ansible_collections.nl2api.deploy.plugins.module_utils.autoscaling.redis_streams import MODULE_ACL

ROOT = Path(__file__).resolve().parents[3]

PROD_ARGS: dict[str, Any] = {
    "queue": {
        "address": "nl2api-redis.nl2api.svc.cluster.local:6379",
        "tls": True,
        "credentials_secret": "nl2api-redis-scaler",
    },
    "tasks_per_worker": 5,
    "min_replicas": 2,
    "max_replicas": 20,
    "max_task_seconds": 240,
    "target_scale_up_seconds": 120,
}
CHART = ROOT / "deploy" / "helm" / "nl2api"


def run_ansible(args: dict[str, Any], *extra: str) -> tuple[int, dict[str, Any], str]:
    """Run the module on localhost through `ansible`; (exit code, the host's result, raw stdout)."""
    run = run_module("nl2api.deploy.queue_autoscaling", args, *extra, timeout=180)
    return run.rc, run.result, run.stdout


def test_prod_intent_through_ansible():
    rc, result, _stdout = run_ansible(PROD_ARGS)
    assert rc == 0, result
    assert result["changed"] is False and result["passed"] is True and result["problems"] == []
    assert result["scale_up"]["seconds"] == 75 <= result["scale_up"]["target_seconds"] == 120
    assert result["scale_up"]["within_target"] is True
    values = result["autoscaling"]
    assert values["engine"] == "keda" and (values["minReplicas"], values["maxReplicas"]) == (2, 20)
    assert values["stream"] == {"prefix": "eval:tasks:", "consumerGroup": "eval-workers"}
    assert values["keda"] == {"pollingInterval": 15, "cooldownPeriod": 300, "lagCount": 5, "activationLagCount": 0,
                              "pendingEntriesCount": 1}


def test_check_mode_through_ansible():
    rc, result, _stdout = run_ansible(PROD_ARGS, "--check")
    assert rc == 0 and result["changed"] is False and result["scale_up"]["seconds"] == 75


def test_rejected_intent_fails_the_task():
    args = dict(PROD_ARGS, activation_lag=3)
    rc, result, _stdout = run_ansible(args)
    assert rc != 0 and result["failed"] is True
    assert "activation_lag (3) is ignored by KEDA" in result["msg"]
    assert result["problems"][0]["option"] == "activation_lag"


def test_the_chart_values_decide_the_checks_through_ansible(tmp_path):
    """The role's call: chart, environment file, a site file (app_values_files) whose grace period is too short."""
    site = tmp_path / "site.yaml"
    site.write_text("worker:\n  terminationGracePeriodSeconds: 200\n")
    args = {key: value for key, value in PROD_ARGS.items() if key != "max_task_seconds"}
    args.update(chart_ref=str(CHART), values_files=[str(CHART.parent / "environments" / "prod.yaml"), str(site)])
    rc, result, _stdout = run_ansible(args)
    assert rc != 0 and "terminationGracePeriodSeconds (200) is shorter than max_task_seconds" in result["msg"]
    sources = result["checked_against"]["sources"]
    assert sources["worker_termination_grace_period_seconds"] == sources["max_task_seconds"] == "chart values"


@pytest.fixture
def scaler(redis_server: RedisServer) -> Iterator[tuple[str, str, str]]:
    """The module's least-privilege ACL user, and a batch of 37 tasks of which 12 are running: (user, password,
    batch id)."""
    user, password = f"scaler-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(16)
    batch_id = str(uuid.uuid4())
    stream = "eval:tasks:" + batch_id
    with redis_server.client() as admin:
        admin.execute_command("ACL", "SETUSER", user, "on", f">{password}", "resetkeys", "-@all",
                              *MODULE_ACL)
        admin.xgroup_create(stream, "eval-workers", id="0", mkstream=True)
        for index in range(49):
            admin.xadd(stream, {"task_id": str(index)})
        for worker in range(12):
            admin.xreadgroup("eval-workers", "worker-%d" % worker, {stream: ">"}, count=1)
        yield user, password, batch_id
        admin.delete(stream)
        admin.execute_command("ACL", "DELUSER", user)


def test_queue_depth_over_tls_as_acl_user_through_ansible(redis_server, scaler):
    user, password, batch_id = scaler
    args = {
        "queue": {"address": "%s:%d" % (redis_server.host, redis_server.tls_port), "tls": True},
        "batch_id": batch_id, "tasks_per_worker": 5, "min_replicas": 2, "max_replicas": 20, "max_task_seconds": 240,
        "read_queue_depth": True, "login_user": user, "login_password": password,
        "ca_file": str(redis_server.ca_file), "current_replicas": 12,
    }
    rc, result, stdout = run_ansible(args, "--check")
    assert rc == 0, result
    assert (result["queue_depth"]["lag"], result["queue_depth"]["pending"]) == (37, 12)
    assert result["desired_replicas"] == 12  # the 12 running tasks keep their workers; the lag alone asks for 8
    assert password not in stdout  # login_password is no_log


def test_unreachable_queue_fails_with_the_options_to_check(redis_server, scaler):
    user, password, batch_id = scaler
    args = {
        "queue": {"address": "%s:%d" % (redis_server.host, redis_server.tls_port), "tls": True},
        "batch_id": batch_id, "tasks_per_worker": 5, "min_replicas": 2, "max_replicas": 20, "max_task_seconds": 240,
        "read_queue_depth": True, "login_user": user, "login_password": "not-" + password,
        "ca_file": str(redis_server.ca_file),
    }
    rc, result, stdout = run_ansible(args)
    assert rc != 0 and "rejected the credentials" in result["msg"] and "login_password" in result["msg"]
    assert password not in stdout

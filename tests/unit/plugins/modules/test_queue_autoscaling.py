# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nl2api.deploy.queue_autoscaling module: arguments, results, check mode, failures, the chart values it reads
(Helm's merge order, app_values_files included), the Redis read, and its wiring in roles/app/tasks/values.yml."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import json
import re
from pathlib import Path

import pytest
import yaml
from ansible.module_utils import basic

from ansible_collections.nl2api.deploy.plugins.module_utils import redis_connection
from ansible_collections.nl2api.deploy.plugins.module_utils.autoscaling import plan as plan_module
from ansible_collections.nl2api.deploy.plugins.module_utils.autoscaling.redis_streams import (
    QueueReadError,
    StreamDepth,
)
from ansible_collections.nl2api.deploy.plugins.modules import queue_autoscaling
from ansible_collections.nl2api.deploy.tests.unit.plugins.modules.module_harness import (
    ExitJson,
    FailJson,
    patch_exits,
    run_main,
)

COLLECTION_ROOT = Path(__file__).resolve().parents[4]
CHART = COLLECTION_ROOT / "deploy" / "helm" / "nl2api"
BATCH = "6f1c0b7e-1a8e-4f55-9a53-0a4a1c9f2d11"
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
        "credentials_secret": "nl2api-redis-scaler",
    },
    "tasks_per_worker": 5,
    "min_replicas": 2,
    "max_replicas": 20,
    "max_task_seconds": 240,
}


def with_args(**overrides):
    args = json.loads(json.dumps(PROD_ARGS))
    args.update(overrides)
    return args


def test_prod_intent():
    result = run_module(PROD_ARGS)
    assert result["changed"] is False and result["passed"] is True and result["problems"] == []
    values = result["autoscaling"]
    assert values["engine"] == "keda" and values["stream"] == {"prefix": "eval:tasks:", "consumerGroup": "eval-workers"}
    assert values["keda"]["lagCount"] == 5 and values["keda"]["pendingEntriesCount"] == 1
    assert values["redis"]["enableTLS"] is True and values["redis"]["auth"] == {
        "secretName": "nl2api-redis-scaler", "usernameKey": "redis-username", "passwordKey": "redis-password"}
    scale_up = result["scale_up"]
    assert scale_up["seconds"] == 75 and scale_up["within_target"] is True and scale_up["target_seconds"] == 120
    assert (scale_up["from_replicas"], scale_up["to_replicas"], scale_up["backlog_items"]) == (2, 20, 105)
    assert scale_up["timeline"][-1] == {"at_seconds": 45, "replicas": 20}
    assert result["scale_in"]["pdb_allowed_disruptions_at_min"] == 1
    assert result["scale_in"]["required_grace_period_seconds"] == 250
    assert result["checked_against"]["sources"] == {"worker_pdb": "default",
                                                    "worker_termination_grace_period_seconds": "default",
                                                    "max_task_seconds": "option", "batch_id": "default"}
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
    result = run_module(with_args(activation_lag=3, fail_on_errors=False))
    assert result["passed"] is False and [p["option"] for p in result["problems"]] == ["activation_lag"]


def test_no_longest_task_fails():
    args = with_args()
    del args["max_task_seconds"]
    result = run_module(args, expect=FailJson)
    assert "max_task_seconds is not set" in result["msg"]


def test_warnings_are_ansible_warnings():
    result = run_module(with_args(scale_down={"period_seconds": 30}, worker_pdb={"max_unavailable": 1}))
    assert result["passed"] is True
    assert WARNINGS and "terminating at once" in WARNINGS[0]


def test_argument_validation():
    result = run_module(with_args(worker_pdb={"max_unavailable": 1, "min_available": 1}), expect=FailJson)
    assert "mutually exclusive" in result["msg"]
    result = run_module(with_args(scale_up={"select_policy": "Fastest"}), expect=FailJson)
    assert "select_policy" in result["msg"]
    result = run_module(with_args(client_cert_file="/c.pem"), expect=FailJson)
    assert "client_key_file" in result["msg"]


def test_hpa_engine_and_pdb_percentages():
    result = run_module(with_args(engine="hpa", worker_pdb={"max_unavailable": "25%"}, metrics_scrape_interval=30))
    assert result["autoscaling"]["engine"] == "hpa" and result["autoscaling"]["external"]["lagAverageValue"] == "5"
    assert result["scale_up"]["seconds"] == 105  # 30 s scrape + 15 s sync, then as with KEDA


def test_argument_spec_defaults_come_from_the_module_utils_constants():
    spec = queue_autoscaling.argument_spec()
    expected = {
        "engine": plan_module.DEFAULT_ENGINE, "min_replicas": plan_module.DEFAULT_MIN_REPLICAS,
        "activation_lag": plan_module.DEFAULT_ACTIVATION_LAG, "polling_interval": plan_module.DEFAULT_POLLING_INTERVAL,
        "cooldown_period": plan_module.DEFAULT_COOLDOWN_PERIOD, "hpa_sync_period": plan_module.DEFAULT_SYNC_PERIOD_SECONDS,
        "metrics_scrape_interval": plan_module.DEFAULT_METRICS_SCRAPE_INTERVAL,
        "pod_ready_seconds": plan_module.DEFAULT_POD_READY_SECONDS,
        "target_scale_up_seconds": plan_module.DEFAULT_TARGET_SCALE_UP_SECONDS,
        "termination_margin_seconds": plan_module.DEFAULT_TERMINATION_MARGIN_SECONDS,
        "max_pods_removed_per_period": plan_module.DEFAULT_MAX_PODS_REMOVED_PER_PERIOD,
        "lag_metric_name": plan_module.DEFAULT_LAG_METRIC_NAME,
        "pending_metric_name": plan_module.DEFAULT_PENDING_METRIC_NAME,
    }
    assert {name: spec[name]["default"] for name in expected} == expected
    queue = spec["queue"]["options"]
    assert (queue["username_key"]["default"], queue["password_key"]["default"], queue["ca_key"]["default"]) == (
        plan_module.DEFAULT_USERNAME_KEY, plan_module.DEFAULT_PASSWORD_KEY, plan_module.DEFAULT_CA_KEY)
    for direction, default in (("scale_up", plan_module.DEFAULT_SCALE_UP),
                               ("scale_down", plan_module.DEFAULT_SCALE_DOWN)):
        options = spec[direction]["options"]
        assert {name: options[name]["default"] for name in options} == {
            "pods_per_period": default.pods_per_period, "percent_per_period": default.percent_per_period,
            "period_seconds": default.period_seconds,
            "stabilization_window_seconds": default.stabilization_window_seconds,
            "select_policy": default.select_policy}
    # The documentation states the same defaults.
    documented = yaml.safe_load(queue_autoscaling.DOCUMENTATION)["options"]
    for name, option in spec.items():
        if name in documented and "default" in option:
            assert documented[name].get("default") == option["default"], name


# --------------------------------------------------------------------------------------------------------------
# Chart values: read and merged in Helm's order


def write_yaml(path, document):
    path.write_text(yaml.safe_dump(document))
    return str(path)


@pytest.fixture
def chart(tmp_path):
    """A chart whose defaults are the real chart's worker grace period and PDB."""
    chart_dir = tmp_path / "chart"
    chart_dir.mkdir()
    write_yaml(chart_dir / "values.yaml", {"worker": {
        "terminationGracePeriodSeconds": 300, "podDisruptionBudget": {"enabled": True, "minAvailable": 1,
                                                                      "maxUnavailable": ""}}})
    return chart_dir


def test_a_site_values_file_after_the_environment_decides_the_grace_period(chart, tmp_path):
    """app_values_files: the role's Jinja merge of chart values left them out, so the module checked the
    environment file's grace period while Helm rendered the site file's."""
    environment = write_yaml(tmp_path / "prod.yaml", {"worker": {"terminationGracePeriodSeconds": 300}})
    site = write_yaml(tmp_path / "site.yaml", {"worker": {"terminationGracePeriodSeconds": 120}})
    result = run_module(with_args(chart_ref=str(chart), values_files=[environment, site]), expect=FailJson)
    assert "terminationGracePeriodSeconds (120) is shorter than max_task_seconds (240)" in result["msg"]
    assert result["checked_against"]["worker_termination_grace_period_seconds"] == 120
    assert result["checked_against"]["sources"]["worker_termination_grace_period_seconds"] == "chart values"
    # Files apply in order: the environment file last wins.
    fine = run_module(with_args(chart_ref=str(chart), values_files=[site, environment]))
    assert fine["checked_against"]["worker_termination_grace_period_seconds"] == 300


def test_release_values_come_last_and_options_win(chart, tmp_path):
    site = write_yaml(tmp_path / "site.yaml", {"worker": {"terminationGracePeriodSeconds": 120}})
    result = run_module(with_args(chart_ref=str(chart), values_files=[site], release_values={
        "worker": {"terminationGracePeriodSeconds": 400, "batchId": BATCH,
                   "podDisruptionBudget": {"minAvailable": "", "maxUnavailable": "50%"}}}))
    checked = result["checked_against"]
    assert checked["worker_termination_grace_period_seconds"] == 400 and checked["batch_id"] == BATCH
    assert checked["worker_pdb"] == {"enabled": True, "max_unavailable": "50%", "min_available": None}
    stated = run_module(with_args(chart_ref=str(chart), values_files=[site], worker_termination_grace_period_seconds=280))
    assert stated["checked_against"]["worker_termination_grace_period_seconds"] == 280
    assert stated["checked_against"]["sources"]["worker_termination_grace_period_seconds"] == "option"


def test_a_disabled_pdb_in_the_values(chart):
    result = run_module(with_args(chart_ref=str(chart), release_values={"worker": {"podDisruptionBudget": {
        "enabled": False}}}))
    assert result["checked_against"]["worker_pdb"]["enabled"] is False
    assert result["scale_in"]["pdb_allowed_disruptions_at_min"] == 2  # no PDB: every pod may be evicted


def test_an_unreadable_values_file_names_the_option(chart, tmp_path):
    result = run_module(with_args(chart_ref=str(chart), values_files=[str(tmp_path / "missing.yaml")]),
                        expect=FailJson)
    assert result["msg"].startswith("values_files: cannot read") and "missing.yaml" in result["msg"]
    (tmp_path / "list.yaml").write_text("- a\n")
    result = run_module(with_args(chart_ref=str(chart), values_files=[str(tmp_path / "list.yaml")]), expect=FailJson)
    assert "is not a YAML mapping" in result["msg"]


def test_the_real_chart_and_prod_environment():
    result = run_module(with_args(chart_ref=str(CHART),
                                  values_files=[str(CHART.parent / "environments" / "prod.yaml")]))
    checked = result["checked_against"]
    assert checked["sources"]["worker_termination_grace_period_seconds"] == "chart values"
    assert checked["worker_termination_grace_period_seconds"] >= 250 and result["passed"] is True


def test_the_longest_task_comes_from_the_chart_values(chart):
    """worker.shutdown.maxTaskSeconds is the chart's bound on a task (its preStop hook waits that long)."""
    args = with_args(chart_ref=str(chart), release_values={"worker": {"shutdown": {"maxTaskSeconds": 295}}})
    del args["max_task_seconds"]
    result = run_module(args, expect=FailJson)
    assert "max_task_seconds (295) + termination_margin_seconds (10)" in result["msg"]
    assert result["checked_against"]["sources"]["max_task_seconds"] == "chart values"


# --------------------------------------------------------------------------------------------------------------
# The queue read


def test_queue_depth_and_desired_replicas(monkeypatch):
    seen = {}

    def fake_read(params, stream, group, defaults=None):
        seen.update(stream=stream, group=group, defaults=defaults, user=params["login_user"])
        return StreamDepth(stream, group, lag=37, pending=12)

    monkeypatch.setattr(redis_connection, "HAS_REDIS", True)  # the read is faked: no redis-py needed
    monkeypatch.setattr(queue_autoscaling, "read_queue_depth", fake_read)
    result = run_module(with_args(read_queue_depth=True, batch_id=BATCH, login_user="scaler", login_password="pw",
                                  current_replicas=8, _ansible_check_mode=True))
    assert seen == {"stream": "eval:tasks:" + BATCH, "group": "eval-workers",
                    "defaults": {"tls": True, "db": 0, "host": "nl2api-redis.nl2api.svc.cluster.local", "port": 6379},
                    "user": "scaler"}
    assert result["queue_depth"] == {"stream": "eval:tasks:" + BATCH, "consumer_group": "eval-workers", "lag": 37,
                                     "pending": 12, "total": 49, "stream_exists": True, "group_exists": True}
    assert result["desired_replicas"] == 12  # one per running task; the lag alone (37 / 5 per worker) asks for 8
    assert "pw" not in json.dumps(result)


def test_an_undeterminable_lag_warns(monkeypatch):
    monkeypatch.setattr(redis_connection, "HAS_REDIS", True)
    monkeypatch.setattr(queue_autoscaling, "read_queue_depth",
                        lambda params, stream, group, defaults=None: StreamDepth(stream, group, lag=None, pending=3))
    result = run_module(with_args(read_queue_depth=True, batch_id=BATCH))
    assert result["desired_replicas"] == 3 and "cannot determine the lag" in WARNINGS[0]


def test_queue_read_errors_fail(monkeypatch):
    def fake_read(params, stream, group, defaults=None):
        raise QueueReadError("Redis at redis://scaler@h:1/0 rejected the credentials: check login_user and login_password")

    monkeypatch.setattr(redis_connection, "HAS_REDIS", True)
    monkeypatch.setattr(queue_autoscaling, "read_queue_depth", fake_read)
    result = run_module(with_args(read_queue_depth=True, batch_id=BATCH), expect=FailJson)
    assert "rejected the credentials" in result["msg"] and result["autoscaling"]["maxReplicas"] == 20


def test_reading_needs_a_batch_and_somewhere_to_connect(monkeypatch):
    monkeypatch.setattr(redis_connection, "HAS_REDIS", True)
    assert "needs batch_id" in run_module(with_args(read_queue_depth=True), expect=FailJson)["msg"]
    args = with_args(read_queue_depth=True, batch_id=BATCH)
    args["queue"]["address"] = ""
    assert "needs login_host" in run_module(args, expect=FailJson)["msg"]


def test_missing_redis_library(monkeypatch):
    monkeypatch.setattr(redis_connection, "HAS_REDIS", False)
    monkeypatch.setattr(redis_connection, "REDIS_IMPORT_ERROR", "Traceback: No module named 'redis'")
    result = run_module(with_args(read_queue_depth=True, batch_id=BATCH), expect=FailJson)
    assert "Failed to import the required Python library (redis)" in result["msg"]
    # Without the read the library is not needed.
    assert run_module(PROD_ARGS)["passed"] is True


# --------------------------------------------------------------------------------------------------------------
# roles/app/tasks/values.yml forwards the intent under the module's own option names

VALUES_TASKS = COLLECTION_ROOT / "roles" / "app" / "tasks" / "values.yml"
#: Options the role sets from its own variables rather than from app_worker_autoscaling.
ROLE_SET = {"chart_ref", "values_files", "release_values"}
_FORWARDED = re.compile(r"^\{\{\s*app_worker_autoscaling\.(\w+)\s*\|\s*default\(omit\)\s*\}\}$")


def module_task():
    tasks = yaml.safe_load(VALUES_TASKS.read_text())
    found = [task for task in tasks if "nl2api.deploy.queue_autoscaling" in task]
    assert len(found) == 1, "values.yml must call nl2api.deploy.queue_autoscaling exactly once"
    return found[0]["nl2api.deploy.queue_autoscaling"]


def test_values_yml_forwards_every_option_under_its_own_name():
    spec = queue_autoscaling.argument_spec()
    forwarded = module_task()
    unknown = sorted(set(forwarded) - set(spec))
    assert not unknown, "values.yml passes options the module does not have: %s" % unknown
    renamed = {name: value for name, value in forwarded.items() if name not in ROLE_SET
               and (_FORWARDED.match(str(value).strip()) is None
                    or _FORWARDED.match(str(value).strip()).group(1) != name)}
    assert not renamed, "values.yml must forward app_worker_autoscaling.<option> as <option>: %s" % renamed
    missing = sorted(set(spec) - set(forwarded))
    assert not missing, "options values.yml does not forward from app_worker_autoscaling: %s" % missing


def test_values_yml_reads_the_same_values_files_as_the_release():
    forwarded = module_task()
    assert forwarded["chart_ref"] == "{{ app_chart_path }}"
    assert forwarded["values_files"] == "{{ [app_environment_values_file] + app_values_files }}"
    release = yaml.safe_load((VALUES_TASKS.parent / "release.yml").read_text())[0]["kubernetes.core.helm"]
    assert release["values_files"] == forwarded["values_files"]


@pytest.mark.parametrize("environment", ["prod", "staging"])
def test_inventory_intents_use_only_module_options(environment):
    path = COLLECTION_ROOT / "inventories" / environment / "group_vars" / "all" / "autoscaling.yml"
    intent = yaml.safe_load(path.read_text())["app_worker_autoscaling"]
    spec = queue_autoscaling.argument_spec()
    assert not sorted(set(intent) - set(spec))
    for name, value in intent.items():
        if isinstance(value, dict) and spec[name].get("options"):
            assert not sorted(set(value) - set(spec[name]["options"])), name

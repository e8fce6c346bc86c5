"""nl2api.deploy.helm_rollback run through ansible with the real helm binary.

No cluster can run here, so what is checked is what an operator sees when things are wrong (unreachable cluster,
wrong options, missing release) and the read path against a minimal Kubernetes API that holds helm's release Secrets
(kube_api.py): the real `helm history` / `helm get` output parsed, the decision taken, check mode and diff. The
rollback itself, waiting and idempotence on a real cluster are molecule/kind's (side_effect.yml).
"""

from __future__ import annotations

import json
import shutil

import pytest

from support.ports import free_port

from .kube_api import kube_api, release_secret

RELEASE = {"release_name": "nl2api", "release_namespace": "nl2api"}


def test_unreachable_cluster_fails_cleanly(run_module, unreachable_kubeconfig):
    run = run_module({**RELEASE, "kubeconfig": str(unreachable_kubeconfig)})
    assert run.rc != 0
    result = run.result
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"].startswith("helm history nl2api (namespace nl2api) failed (exit 1): Error: Kubernetes cluster "
                                    "unreachable")
    assert "check kubeconfig/context (or K8S_AUTH_KUBECONFIG / K8S_AUTH_CONTEXT)" in result["msg"]
    assert result["new_revision"] is None
    assert result["commands"] == [
        "%s history nl2api --output json --namespace nl2api --kubeconfig %s" % (result["commands"][0].split()[0],
                                                                                unreachable_kubeconfig)]
    assert "Traceback" not in run.stdout + run.stderr


def test_unreachable_cluster_through_the_environment(run_module, unreachable_kubeconfig):
    run = run_module(RELEASE, check=True, env={"K8S_AUTH_KUBECONFIG": str(unreachable_kubeconfig),
                                               "K8S_AUTH_CONTEXT": "gone"})
    assert run.rc != 0
    assert "Kubernetes cluster unreachable" in run.result["msg"]
    assert run.result["commands"][0].endswith("--kubeconfig %s --kube-context gone" % unreachable_kubeconfig)


def test_unknown_context_is_reported(run_module, unreachable_kubeconfig):
    run = run_module({**RELEASE, "kubeconfig": str(unreachable_kubeconfig), "context": "no-such-context"})
    assert run.rc != 0
    assert 'context "no-such-context" does not exist' in run.result["msg"]


@pytest.mark.parametrize("args, message", [
    ({"release_namespace": "nl2api"}, "missing required arguments: release_name"),
    ({"release_name": "nl2api"}, "missing required arguments: release_namespace"),
    ({**RELEASE, "revision": "two"}, "revision"),
    ({**RELEASE, "revision": -1}, "revision must be 1 or more"),
    ({**RELEASE, "wait_timeout": "5 minutes"}, "wait_timeout '5 minutes' is not a Go duration"),
    ({**RELEASE, "release_name": "NL2API_prod"}, "release_name 'NL2API_prod' is not a valid Helm release name"),
    ({**RELEASE, "history_max": -3}, "history_max must be 0 (keep all) or more"),
    ({**RELEASE, "kubeconfig": "/nonexistent/kubeconfig"}, "kubeconfig /nonexistent/kubeconfig does not exist"),
    ({**RELEASE, "binary_path": "/nonexistent/helm"}, "binary_path /nonexistent/helm is not an executable file"),
    ({**RELEASE, "revison": 3}, "revison"),
])
def test_argument_errors_name_the_option(run_module, args, message):
    run = run_module(args)
    assert run.rc != 0
    assert message in run.result["msg"]
    assert not run.result.get("commands"), "nothing may run before the arguments are valid"


def test_helm_missing_from_path_is_reported(run_module):
    system_path = "/usr/bin:/bin"
    if shutil.which("helm", path=system_path + ":/usr/sbin:/sbin:/usr/local/sbin"):
        pytest.skip("helm is installed system-wide here, so it cannot be missing from PATH")
    run = run_module(RELEASE, env={"PATH": system_path})
    assert run.rc != 0
    assert "Failed to find required executable \"helm\"" in run.result["msg"]


# ---------------------------------------------------------------------------------------------------------------
# The read path against a Kubernetes API that holds helm's release Secrets


@pytest.fixture
def api_with(tmp_path):
    def start(*secrets):
        return kube_api(free_port(), list(secrets))
    return start


def test_missing_release_is_refused_by_name(run_module, api_with, tmp_path):
    with api_with(release_secret("other", 1, "deployed", "Install complete", "1")) as api:
        run = run_module({**RELEASE, "kubeconfig": str(api.kubeconfig(tmp_path))})
    assert run.rc != 0
    assert run.result["msg"].startswith("release nl2api not found in namespace nl2api: nothing to roll back "
                                        "(helm history: Error: release: not found)")


def test_check_mode_plans_the_rollback_from_real_helm_output(run_module, api_with, tmp_path):
    with api_with(
        release_secret("nl2api", 1, "superseded", "Install complete", "1.0.0"),
        release_secret("nl2api", 2, "failed", 'Upgrade "nl2api" failed: timed out waiting for the condition', "bad"),
        release_secret("nl2api", 3, "superseded", "Upgrade complete", "1.0.0"),
        release_secret("nl2api", 4, "deployed", "Upgrade complete", "1.1.0", app_version="1.1.0"),
    ) as api:
        run = run_module({**RELEASE, "kubeconfig": str(api.kubeconfig(tmp_path)), "wait_timeout": "10m"},
                         check=True, diff=True)
        writes = [r for r in api.requests if not r.startswith("GET ")]
    assert run.rc == 0, run.stdout + run.stderr
    result = run.result
    assert result["changed"] is True and result["new_revision"] is None
    assert (result["from_revision"], result["to_revision"]) == (4, 3)
    assert result["msg"].startswith("would release nl2api in namespace nl2api: roll back from revision 4 (deployed, "
                                    "nl2api-0.1.0, app 1.1.0) to revision 3 (superseded, nl2api-0.1.0, app 1.0.0)")
    assert result["changes"] == {"added": [], "removed": [], "changed": ["Deployment/nl2api-api"]}
    assert [h["revision"] for h in result["history"]] == [1, 2, 3, 4]
    assert result["history"][1]["status"] == "failed"
    verbs = [" ".join(c.split()[1:3]) for c in result["commands"]]
    assert verbs == ["history nl2api", "get values", "get manifest", "get values", "get manifest"]
    assert not any(" rollback " in c for c in result["commands"])
    assert writes == []
    assert "app_version: 1.1.0" in result["diff"]["before"] and "app_version: 1.0.0" in result["diff"]["after"]
    assert "1.1.0" not in json.dumps(result["changes"]) and '"tag"' not in run.stdout


def test_already_rolled_back_is_a_no_op_without_fetching_content(run_module, api_with, tmp_path):
    with api_with(
        release_secret("nl2api", 1, "superseded", "Install complete", "1.0.0"),
        release_secret("nl2api", 2, "superseded", "Upgrade complete", "1.1.0"),
        release_secret("nl2api", 3, "deployed", "Rollback to 1", "1.0.0"),
    ) as api:
        kubeconfig = str(api.kubeconfig(tmp_path))
        previous = run_module({**RELEASE, "kubeconfig": kubeconfig})
        explicit = run_module({**RELEASE, "kubeconfig": kubeconfig, "revision": 1})
        other = run_module({**RELEASE, "kubeconfig": kubeconfig, "revision": 2}, check=True)
    assert previous.rc == 0 and previous.result["changed"] is False
    assert "already rolled back: revision 3 is 'Rollback to 1'" in previous.result["msg"]
    assert len(previous.result["commands"]) == 1
    assert explicit.rc == 0 and explicit.result["changed"] is False
    assert other.rc == 0 and other.result["changed"] is True and other.result["to_revision"] == 2


def test_refusals_against_real_history(run_module, api_with, tmp_path):
    with api_with(
        release_secret("nl2api", 1, "superseded", "Install complete", "1.0.0"),
        release_secret("nl2api", 2, "failed", 'Upgrade "nl2api" failed: timed out', "bad"),
        release_secret("nl2api", 3, "deployed", "Rollback to 1", "1.0.0"),
    ) as api:
        kubeconfig = str(api.kubeconfig(tmp_path))
        failed = run_module({**RELEASE, "kubeconfig": kubeconfig, "revision": 2})
        missing = run_module({**RELEASE, "kubeconfig": kubeconfig, "revision": 7})
    assert failed.rc != 0
    assert failed.result["msg"].startswith("release nl2api in namespace nl2api: revision 2 never deployed "
                                           "successfully (failed: Upgrade \"nl2api\" failed: timed out)")
    assert missing.rc != 0 and "has no revision 7: its history holds revisions 1 to 3" in missing.result["msg"]
    with api_with(release_secret("nl2api", 1, "deployed", "Install complete", "1.0.0")) as api:
        first = run_module({**RELEASE, "kubeconfig": str(api.kubeconfig(tmp_path))})
    assert first.rc != 0
    assert "has no earlier successfully deployed revision to roll back to" in first.result["msg"]

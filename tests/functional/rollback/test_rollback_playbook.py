"""playbooks/rollback.yml as an operator runs it, where no cluster is reachable: it must stop at the rollback, with
the module's message, and refuse a revision that is not a number before touching anything."""

from __future__ import annotations

import pytest


def test_syntax(run_playbook):
    run = run_playbook("--syntax-check")
    assert run.rc == 0, run.stdout + run.stderr


def test_unreachable_cluster_stops_at_the_rollback(run_playbook, unreachable_kubeconfig):
    run = run_playbook("-e", "app_kubeconfig=%s" % unreachable_kubeconfig)
    output = run.stdout + run.stderr
    assert run.rc == 2, output
    assert "TASK [Roll back nl2api]" in output
    assert "Kubernetes cluster unreachable" in output
    assert "Wait for every Deployment" not in output


def test_check_mode_with_the_environment_kubeconfig(run_playbook, unreachable_kubeconfig):
    run = run_playbook("--check", env={"K8S_AUTH_KUBECONFIG": str(unreachable_kubeconfig)})
    assert run.rc == 2
    assert "Kubernetes cluster unreachable" in run.stdout + run.stderr


@pytest.mark.parametrize("revision", ["latest", "0"])
def test_a_revision_that_is_not_a_revision_number_is_refused_first(run_playbook, unreachable_kubeconfig, revision):
    run = run_playbook("-e", "app_rollback_revision=%s" % revision, "-e", "app_kubeconfig=%s" % unreachable_kubeconfig)
    output = run.stdout + run.stderr
    assert run.rc == 2
    assert "app_rollback_revision must be a revision number (1 or more)" in output and "(got %s)" % revision in output
    assert "TASK [Roll back nl2api]" not in output

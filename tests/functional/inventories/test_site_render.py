"""site.yml's render path, and the inventory checks that run before anything changes.

Every test runs the real `ansible-playbook site.yml --tags render`: the inventory is validated, the release is
rendered with `helm template` into app_render_dir and the deploy gate checks the exact manifests. No cluster is
needed. Bad inventories are copies of the real ones with one variable broken; each must be rejected with a
message that names that variable, before the render directory is even created, and with changed=0.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
INVENTORIES = ("local", "dev", "staging", "prod")
# A copied inventory is not a git checkout, so the commit-SHA tag lookup has nothing to read: pin a tag.
PINNED_TAG = "0123456789ab"


def run_site(inventory: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    # Staging and prod deploy the image tag the release pipeline passes in; the tests pass a pinned one.
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               NL2API_IMAGE_TAG=PINNED_TAG)
    return subprocess.run(
        ["ansible-playbook", str(ROOT / "site.yml"), "-i", str(inventory), "--tags", "render", *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def recap(output: str) -> dict[str, int]:
    match = re.search(r"localhost\s+:\s+(ok=.*)", output)
    assert match, f"no play recap in:\n{output[-3000:]}"
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_render_path_gates_every_inventory_and_is_idempotent(inventory: str, tmp_path: Path) -> None:
    render_dir = tmp_path / "rendered"
    first = run_site(ROOT / "inventories" / inventory, "-e", f"app_render_dir={render_dir}")
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    assert "Run the deploy gate on the rendered manifests" in first.stdout
    if inventory in ("staging", "prod"):
        # The queue intent's proven worst case is printed, and meets the plan's 2-minute criterion.
        scale_up = re.search(r"workers\s+ready\s+in\s+at\s+most\s+(\d+)\s+s", first.stdout)
        assert scale_up, "the worker scale-up time is missing from the output"
        assert int(scale_up.group(1)) <= 120
    manifests = list(yaml.safe_load_all((render_dir / "nl2api.yaml").read_text(encoding="utf-8")))
    kinds = {doc["kind"] for doc in manifests if doc}
    assert {"Deployment", "Service", "ConfigMap", "NetworkPolicy"} <= kinds
    for secret in (doc for doc in manifests if doc and doc["kind"] == "Secret"):
        assert set(secret.get("data", {}).values()) <= {"UkVEQUNURUQ="}, "Secret values must be redacted on disk"
    second = run_site(ROOT / "inventories" / inventory, "-e", f"app_render_dir={render_dir}")
    assert second.returncode == 0, second.stdout[-4000:]
    assert recap(second.stdout)["changed"] == 0, second.stdout[-4000:]


@dataclass(frozen=True)
class BadInventory:
    """One broken variable in a copy of a real inventory, and the name the error must mention."""

    name: str
    inventory: str
    override: dict[str, Any] = field(default_factory=dict)
    names: str = ""
    remove: tuple[str, ...] = ()


# What an AWS inventory's vault.yml provides (see vault.yml.example); test values only.
AWS_VAULT = {"vault_postgres_master_password": "Test-master-password-1234", "vault_redis_auth_token": "Test-auth-token-1234567890"}

BAD_INVENTORIES = [
    BadInventory("unknown-environment", "prod", {"nl2api_environment": "qa"}, "nl2api_environment"),
    BadInventory("missing-environment", "dev", names="nl2api_environment", remove=("nl2api_environment",)),
    BadInventory("unknown-platform", "dev", {"nl2api_platform": "gke"}, "nl2api_platform"),
    BadInventory("missing-platform", "staging", names="nl2api_platform", remove=("nl2api_platform",)),
    BadInventory("local-not-on-kind", "local", {"nl2api_platform": "existing"}, "nl2api_platform"),
    BadInventory("prod-on-kind", "prod", {"nl2api_platform": "kind"}, "nl2api_platform"),
    BadInventory("azure-not-available", "prod", {"nl2api_platform": "azure"}, "nl2api_platform"),
    BadInventory("aws-prod-database-single-az", "prod", {**AWS_VAULT, "nl2api_platform": "aws", "postgres_multi_az": False},
                 "postgres_multi_az"),
    BadInventory("aws-prod-cache-without-failover", "prod",
                 {**AWS_VAULT, "nl2api_platform": "aws", "redis_automatic_failover": False}, "redis_automatic_failover"),
    BadInventory("aws-one-zone", "dev", {**AWS_VAULT, "nl2api_platform": "aws", "network_az_count": 1}, "network_az_count"),
    BadInventory("aws-no-cache-token", "staging", {"nl2api_platform": "aws", "vault_postgres_master_password": "p" * 24},
                 "redis_auth_token"),
    BadInventory("kubeconfig-not-a-path", "dev", {"nl2api_kubeconfig": {"path": "/x"}}, "nl2api_kubeconfig"),
    BadInventory("namespace-not-dns", "prod", {"app_namespace": "NL2API_Prod"}, "app_namespace"),
    BadInventory("release-name-not-dns", "dev", {"app_release_name": "-nl2api"}, "app_release_name"),
    BadInventory("latest-tag-in-prod", "prod", {"app_image_tag": "latest"}, "app_image_tag"),
    BadInventory("no-tag-in-staging", "staging", {"app_image_tag": ""}, "app_image_tag"),
    BadInventory("no-tag-in-prod-environment", "prod", {"app_image_tag": "{{ lookup('ansible.builtin.env', 'NO_SUCH_TAG_VARIABLE') }}"},
                 "app_image_tag"),
    BadInventory("bad-digest", "prod", {"app_image_digest": "sha256:xyz"}, "app_image_digest"),
    BadInventory("bad-tag", "dev", {"app_image_tag": "bad tag!"}, "app_image_tag"),
    BadInventory("no-database-in-prod", "prod", {"app_external_database": {}}, "app_external_database.host"),
    BadInventory("no-redis-host-in-staging", "staging", {"app_external_redis": {"port": 6379, "tls": True}},
                 "app_external_redis.host"),
    BadInventory("database-port-not-int", "prod",
                 {"app_external_database": {"host": "db.internal", "port": "five"}}, "port"),
    BadInventory("database-sslmode-unknown", "prod",
                 {"app_external_database": {"host": "db.internal", "sslMode": "sometimes"}}, "sslMode"),
    BadInventory("helm-timeout-not-duration", "dev", {"app_helm_timeout": "ten minutes"}, "app_helm_timeout"),
    BadInventory("smoke-test-unknown", "dev", {"app_smoke_test": "curl"}, "app_smoke_test"),
    BadInventory("pod-security-privileged", "prod", {"app_pod_security_level": "privileged"}, "app_pod_security_level"),
    BadInventory("pod-security-baseline-in-prod", "prod", {"app_pod_security_level": "baseline"}, "app_pod_security_allow_weaker"),
    BadInventory("branch-tag-in-prod", "prod", {"app_image_tag": "main"}, "app_image_tag"),
    BadInventory("no-registry-in-prod", "prod", {"app_image_registry": ""}, "app_image_registry"),
    BadInventory("url-as-registry", "dev", {"app_image_registry": "https://registry.example.com"}, "app_image_registry"),
    BadInventory("reserved-namespace", "dev", {"app_namespace": "kube-system"}, "app_namespace"),
    BadInventory("values-not-a-dict", "dev", {"app_values": "replicas=3"}, "app_values"),
    BadInventory("values-file-missing", "dev", {"app_values_files": ["/nonexistent/site-values.yaml"]}, "app_values_files"),
    BadInventory("atomic-not-bool", "prod", {"app_helm_atomic": "perhaps"}, "app_helm_atomic"),
    BadInventory("worker-max-below-min", "prod", {"app_worker_autoscaling": {
        "tasks_per_worker": 5, "min_replicas": 4, "max_replicas": 2}},
        "max_replicas"),
    BadInventory("worker-scale-up-too-slow", "prod", {"app_worker_autoscaling": {
        "tasks_per_worker": 5, "min_replicas": 2, "max_replicas": 30,
        "scale_up": {"pods_per_period": 1, "percent_per_period": 0, "period_seconds": 60}}}, "scale_up"),
    BadInventory("addon-toggle-not-bool", "local", {"cluster_addons_keda_enabled": "perhaps"}, "cluster_addons_keda_enabled"),
    BadInventory("addon-chart-unpinned", "prod", {"cluster_addons_keda_chart_version": "latest"},
                 "cluster_addons_keda_chart_version"),
    BadInventory("kind-cluster-name", "local", {"local_cluster_name": "Nl2api_Local"}, "local_cluster_name"),
    BadInventory("kubernetes-range-reversed", "dev", {"preflight_kubernetes_min_version": "1.36"},
                 "preflight_kubernetes_min_version"),
]


def broken_copy(case: BadInventory, tmp_path: Path) -> tuple[Path, Path]:
    inventory = tmp_path / "inventory"
    shutil.copytree(ROOT / "inventories" / case.inventory, inventory)
    group_vars = inventory / "group_vars" / "all"
    for path in group_vars.glob("*.yml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if any(key in data for key in case.remove):
            path.write_text(yaml.safe_dump({k: v for k, v in data.items() if k not in case.remove}), encoding="utf-8")
    render_dir = tmp_path / "rendered"
    override = {"app_image_tag": PINNED_TAG, "app_render_dir": str(render_dir), **case.override}
    # Files in group_vars/all load in name order, so this one wins.
    (group_vars / "zz_test_override.yml").write_text(yaml.safe_dump(override), encoding="utf-8")
    return inventory, render_dir


def test_unbroken_copy_renders(tmp_path: Path) -> None:
    """The control for the cases below: the copy mechanism itself yields a valid inventory."""
    inventory, render_dir = broken_copy(BadInventory("control", "prod"), tmp_path)
    result = run_site(inventory)
    assert result.returncode == 0, result.stdout[-4000:]
    assert (render_dir / "nl2api.yaml").is_file()


@pytest.mark.parametrize("case", BAD_INVENTORIES, ids=lambda case: case.name)
def test_bad_inventory_is_rejected_before_any_change(case: BadInventory, tmp_path: Path) -> None:
    inventory, render_dir = broken_copy(case, tmp_path)
    result = run_site(inventory)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-4000:]
    failure = "\n".join(line for line in output.splitlines() if "fatal" in line or "msg" in line or "ERROR" in line)
    assert case.names in output, f"the error does not name {case.names}:\n{failure or output[-3000:]}"
    assert not render_dir.exists(), "the render directory was created before the inventory was rejected"
    if "PLAY RECAP" in output:
        assert recap(output)["changed"] == 0


@pytest.mark.parametrize("inventory", ("dev", "staging", "prod"))
def test_every_cloud_inventory_passes_the_aws_checks_before_provisioning(inventory: str, tmp_path: Path) -> None:
    """With nl2api_platform=aws the network, postgres, redis and cluster settings are checked in preflight (no API
    call), and each shipped inventory's AWS settings pass them."""
    inventory_copy, render_dir = broken_copy(
        BadInventory("aws", inventory, {**AWS_VAULT, "nl2api_platform": "aws"}), tmp_path)
    result = run_site(inventory_copy)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Check the cloud provisioning settings" in result.stdout
    assert (render_dir / "nl2api.yaml").is_file()
    assert AWS_VAULT["vault_redis_auth_token"] not in result.stdout + result.stderr


def test_at_least_twenty_bad_inventories() -> None:
    assert len(BAD_INVENTORIES) >= 20


def test_local_inventory_without_kind_fails_in_preflight_with_install_hint() -> None:
    """The main job on a machine without kind stops in preflight, saying what is missing and where to get it."""
    if shutil.which("kind") is not None:
        pytest.skip("kind is installed here, so the missing-kind path cannot be shown on this machine")
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    result = subprocess.run(
        ["ansible-playbook", str(ROOT / "site.yml"), "-i", str(ROOT / "inventories" / "local")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode != 0
    assert "nl2api_platform=kind needs kind" in result.stdout
    assert "https://kind.sigs.k8s.io/docs/user/quick-start/#installation" in result.stdout
    assert "PLAY [Provision" not in result.stdout, "it must stop before the provision stage"

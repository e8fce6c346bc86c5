"""The credential rotation of every shipped inventory, as a platform engineer runs it.

* `playbooks/rotate_secrets.yml --tags validate` passes on each inventory as shipped (with test vault values):
  the inventories build their url_keys with the collection's filters, which the validation must be able to
  render (ansible-core hands filters lazy containers; see plugins/filter/rotation.py, plain()).
* What the pods and KEDA read from the app Secret is what the rotation rewrites there: a rotated credential whose
  Secret key nobody updates would lock the reader out at the revoke.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.nl2api.deploy.plugins.module_utils.autoscaling.chart_values import load_values
from support.ansible_cli import clean_ansible_environment

ROOT = Path(__file__).resolve().parents[3]
INVENTORIES = ("local", "dev", "staging", "prod")
# Test values for what each inventory's vault.yml provides to the rotation (see vault.yml.example).
VAULT = {
    "vault_rotation_postgres_admin_user": "nl2api_admin",
    "vault_rotation_postgres_admin_password": "Test-admin-password-1234",
    "vault_rotation_redis_admin_user": "nl2api-admin",
    "vault_rotation_redis_admin_password": "Test-redis-admin-password-1234",
}


def rotation_settings(inventory: str) -> dict[str, Any]:
    """The inventory's nl2api_rotation_credentials, rendered by Ansible."""
    result = subprocess.run(
        ["ansible", "localhost", "-i", str(ROOT / "inventories" / inventory), "-m", "ansible.builtin.debug",
         "-a", "msg={{ nl2api_rotation_credentials | to_json }}", "-e", json.dumps(VAULT), "-o"],
        cwd=ROOT, env=clean_ansible_environment(ANSIBLE_DEPRECATION_WARNINGS="0"), capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    payload = result.stdout.split("=>", 1)[1]
    return json.loads(json.loads(payload)["msg"])


def keda_redis_auth(inventory: str) -> dict[str, Any]:
    """worker.autoscaling.redis.auth as Helm merges the chart's values and the environment file."""
    values = load_values(str(ROOT / "deploy" / "helm" / "nl2api"),
                         [str(ROOT / "deploy" / "helm" / "environments" / f"{inventory}.yaml")])
    return values["worker"]["autoscaling"]["redis"]["auth"]


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_the_rotation_settings_of_every_inventory_validate(inventory: str) -> None:
    result = subprocess.run(
        ["ansible-playbook", str(ROOT / "playbooks" / "rotate_secrets.yml"), "-i", str(ROOT / "inventories" / inventory),
         "--tags", "validate", "-e", json.dumps(VAULT)],
        cwd=ROOT, env=clean_ansible_environment(ANSIBLE_DEPRECATION_WARNINGS="0"), capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "failed=0" in result.stdout
    for secret in VAULT.values():
        assert secret not in result.stdout + result.stderr


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_the_redis_keys_keda_reads_are_rotated(inventory: str) -> None:
    settings = rotation_settings(inventory)
    redis = [spec for spec in settings.values() if spec["engine"] in ("redis_acl", "elasticache", "azure_redis")]
    assert redis, f"{inventory} rotates no Redis credential"
    auth = keda_redis_auth(inventory)
    wanted = {auth["passwordKey"]: "password"}
    if auth.get("usernameKey"):
        wanted[auth["usernameKey"]] = "username"
    for spec in redis:
        for consumer in spec["consumers"]:
            if consumer["type"] != "kubernetes_secret" or auth.get("secretName"):
                continue  # Secrets Manager / Key Vault: ESO's template maps the raw fields (checked by the chart tests)
            written = consumer.get("keys") or {}
            missing = {key: field for key, field in wanted.items() if written.get(key) != field}
            assert not missing, (f"{inventory}: KEDA's TriggerAuthentication reads {sorted(missing)} from Secret "
                                 f"{consumer['name']}, which the rotation does not rewrite (keys: {written})")

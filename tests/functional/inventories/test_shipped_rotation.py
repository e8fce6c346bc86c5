"""The credential rotation of every shipped inventory, as a platform engineer runs it.

* `playbooks/rotate_secrets.yml --tags validate` passes on each inventory as shipped (with test vault values):
  the inventories build their url_keys with the collection's filters, which the validation must be able to
  render (ansible-core hands filters lazy containers; see plugins/filter/rotation.py, plain()).
* What the pods and KEDA read from the app Secret is what the rotation rewrites there: a rotated credential whose
  Secret key nobody updates would lock the reader out at the revoke.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
INVENTORIES = ("local", "dev", "staging", "prod")
# Test values for what each inventory's vault.yml provides to the rotation (see vault.yml.example).
VAULT = {
    "vault_rotation_postgres_admin_user": "nl2api_admin",
    "vault_rotation_postgres_admin_password": "Test-admin-password-1234",
    "vault_rotation_redis_admin_user": "nl2api-admin",
    "vault_rotation_redis_admin_password": "Test-redis-admin-password-1234",
}


def ansible_env() -> dict[str, str]:
    return dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                ANSIBLE_DEPRECATION_WARNINGS="0")


def rotation_settings(inventory: str) -> dict[str, Any]:
    """The inventory's nl2api_rotation_credentials, rendered by Ansible."""
    result = subprocess.run(
        ["ansible", "localhost", "-i", str(ROOT / "inventories" / inventory), "-m", "ansible.builtin.debug",
         "-a", "msg={{ nl2api_rotation_credentials | to_json }}", "-e", json.dumps(VAULT), "-o"],
        cwd=ROOT, env=ansible_env(), capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    payload = result.stdout.split("=>", 1)[1]
    return json.loads(json.loads(payload)["msg"])


def environment_values(inventory: str) -> dict[str, Any]:
    chart = yaml.safe_load((ROOT / "deploy" / "helm" / "nl2api" / "values.yaml").read_text(encoding="utf-8"))
    env = yaml.safe_load((ROOT / "deploy" / "helm" / "environments" / f"{inventory}.yaml").read_text(encoding="utf-8"))
    auth = dict(chart["worker"]["autoscaling"]["redis"]["auth"])
    auth.update(((env.get("worker") or {}).get("autoscaling") or {}).get("redis", {}).get("auth") or {})
    return {"keda_auth": auth}


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_the_rotation_settings_of_every_inventory_validate(inventory: str) -> None:
    result = subprocess.run(
        ["ansible-playbook", str(ROOT / "playbooks" / "rotate_secrets.yml"), "-i", str(ROOT / "inventories" / inventory),
         "--tags", "validate", "-e", json.dumps(VAULT)],
        cwd=ROOT, env=ansible_env(), capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "failed=0" in result.stdout
    for secret in VAULT.values():
        assert secret not in result.stdout + result.stderr


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_the_redis_keys_keda_reads_are_rotated(inventory: str) -> None:
    settings = rotation_settings(inventory)
    redis = [spec for spec in settings.values() if spec["engine"] in ("redis_acl", "elasticache", "azure_redis")]
    assert redis, f"{inventory} rotates no Redis credential"
    auth = environment_values(inventory)["keda_auth"]
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

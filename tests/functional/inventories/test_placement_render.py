"""site.yml's render path places the pods on the node pools the cluster role creates when it provisions the
cluster (nl2api_platform: aws), through roles/app's app_node_placement (module_utils/node_pools.py); the chart
and cluster sides of that definition are held together by tests/functional/aws/test_cluster.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from support.ansible_cli import clean_ansible_environment

ROOT = Path(__file__).resolve().parents[3]
VAULT = ("-e", "vault_postgres_master_password=Test-master-password-1234",
         "-e", "vault_redis_auth_token=Test-auth-token-1234567890")


def test_a_provisioned_prod_cluster_puts_the_api_on_its_on_demand_pool(tmp_path: Path) -> None:
    env = clean_ansible_environment(NL2API_IMAGE_TAG="0123456789ab")
    result = subprocess.run(
        ["ansible-playbook", str(ROOT / "site.yml"), "-i", str(ROOT / "inventories" / "prod"), "--tags", "render",
         "-e", "nl2api_platform=aws", "-e", f"app_render_dir={tmp_path}", *VAULT],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-4000:]
    objects = [doc for doc in yaml.safe_load_all((tmp_path / "nl2api.yaml").read_text(encoding="utf-8")) if doc]
    api = next(doc for doc in objects if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "nl2api-api")
    assert api["spec"]["template"]["spec"]["nodeSelector"] == {"nl2api.io/pool": "api"}

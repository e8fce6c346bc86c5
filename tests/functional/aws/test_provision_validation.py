"""Bad inventories are rejected by playbooks/provision.yml before any AWS call: the message names the variable and
moto holds no resource afterwards (no VPC besides the default one, no DB instance, replication group or cluster)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import ENTRY, PROVISION, run_playbook, write_inventory

CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("one zone", {"network_az_count": 1}, ["network_az_count"]),
    ("seven zones", {"network_az_count": 7}, ["network_az_count"]),
    ("subnet outside the VPC", {"network_private_subnet_cidrs": ["10.99.0.0/20", "10.20.16.0/20"]},
     ["network_private_subnet_cidrs", "10.99.0.0/20"]),
    ("overlapping database windows", {"postgres_preferred_backup_window": "05:30-06:30"},
     ["postgres_preferred_backup_window", "postgres_preferred_maintenance_window", "overlap"]),
    ("overlapping windows across midnight",
     {"postgres_preferred_backup_window": "23:30-00:30", "postgres_preferred_maintenance_window": "mon:00:00-mon:01:00"},
     ["postgres_preferred_backup_window", "overlap"]),
    ("overlapping cache windows", {"redis_snapshot_window": "04:30-05:30",
                                   "redis_maintenance_window": "tue:05:00-tue:06:00"},
     ["redis_snapshot_window", "redis_maintenance_window", "overlap"]),
    ("prod database without Multi-AZ",
     {"nl2api_environment": "prod", "network_nat_mode": "per_az", "postgres_deletion_protection": True,
      "redis_num_cache_clusters": 3, "redis_automatic_failover": True, "redis_multi_az": True},
     ["postgres_multi_az", "postgres_deletion_protection"]),
    ("prod cache without failover",
     {"nl2api_environment": "prod", "network_nat_mode": "per_az", "postgres_multi_az": True,
      "postgres_deletion_protection": True},
     ["redis_automatic_failover", "redis_multi_az"]),
    ("prod with a single NAT gateway", {"nl2api_environment": "prod"}, ["network_nat_mode"]),
    ("unknown platform", {"nl2api_platform": "gcp"}, ["nl2api_platform=gcp", "aws only"]),
    ("azure not yet", {"nl2api_platform": "azure"}, ["nl2api_platform=azure", "Azure"]),
    ("missing AUTH token", {"redis_auth_token": ""}, ["redis_auth_token"]),
    ("short master password", {"postgres_master_password": "short"}, ["postgres_master_password"]),
    # The documented policy is 16 or more (vault.yml.example); RDS itself would take 8.
    ("ten-character master password", {"postgres_master_password": "Tenchars10"}, ["postgres_master_password"]),
    ("public endpoint open to the world", {"cluster_endpoint_public_access": True,
                                           "cluster_public_access_cidrs": ["0.0.0.0/0"]},
     ["cluster_public_access_cidrs"]),
    ("no region", {"nl2api_aws_region": ""}, ["nl2api_aws_region", "eu-west-1"]),
    ("not a region", {"nl2api_aws_region": "Ireland"}, ["nl2api_aws_region", "'Ireland'"]),
    ("endpoint without a scheme", {"nl2api_aws_endpoint_url": "localhost:5000"},
     ["nl2api_aws_endpoint_url", "'localhost:5000'"]),
]


def _nothing_created(aws) -> None:
    ec2 = aws.client("ec2")
    assert [v for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")] == []
    assert aws.client("rds").describe_db_instances()["DBInstances"] == []
    assert aws.client("rds").describe_db_subnet_groups()["DBSubnetGroups"] == []
    assert aws.client("elasticache").describe_replication_groups()["ReplicationGroups"] == []
    assert aws.client("eks").list_clusters()["clusters"] == []
    assert [r for r in aws.client("iam").list_roles()["Roles"] if r["RoleName"].startswith("nl2api")] == []


# Through playbooks/provision.yml itself: the stage fails before its first API call.
END_TO_END = {"one zone", "missing AUTH token", "no region", "azure not yet"}


@pytest.mark.parametrize(("case", "overrides", "expected"), [c for c in CASES if c[0] in END_TO_END],
                         ids=[c[0] for c in CASES if c[0] in END_TO_END])
def test_provision_stage_rejects_before_any_api_call(aws, tmp_path: Path, case: str, overrides: dict[str, Any],
                                                     expected: list[str]) -> None:
    inventory = write_inventory(tmp_path / "hosts.yml", aws, **overrides)
    run = run_playbook(PROVISION, inventory, aws, "-e", f"provision_outputs_file={tmp_path / 'out.json'}")
    assert run.rc != 0, f"{case}: accepted\n{run}"
    for text in expected:
        assert text in run.stdout, f"{case}: {text!r} not in the failure\n{run}"
    _nothing_created(aws)


def test_every_bad_input_is_rejected_by_the_validate_entry_points(aws, tmp_path: Path) -> None:
    """Every case in one ansible-playbook run (one play per case, its overrides as play vars, the same checks
    provision.yml runs first: preflight's `aws` entry point, then every role's validate), to keep CI time down; each
    play records its failure message."""
    plays = []
    for index, (_case, overrides, _expected) in enumerate(CASES):
        plays.append({
            "name": f"case {index}",
            "hosts": "nl2api_control",
            "gather_facts": False,
            "vars": overrides,
            "tasks": [{"name": "Validate", "block": [
                {"name": "Check the platform and the AWS connection once, as provision.yml does",
                 "ansible.builtin.include_role": {"name": "nl2api.deploy.preflight", "tasks_from": "aws"}},
                {"name": "Run every role's validate entry point",
                 "ansible.builtin.include_role": {"name": "nl2api.deploy.{{ role }}", "tasks_from": "validate"},
                 "loop": ["network", "postgres", "redis", "cluster"], "loop_control": {"loop_var": "role"}},
                {"name": "Record acceptance", "ansible.builtin.copy": {
                    "content": "ACCEPTED", "dest": str(tmp_path / f"case-{index}.txt"), "mode": "0600"}},
            ], "rescue": [
                {"name": "Record the failure", "ansible.builtin.copy": {
                    "content": "{{ ansible_failed_result.msg }}", "dest": str(tmp_path / f"case-{index}.txt"),
                    "mode": "0600"}},
            ]}],
        })
    playbook = tmp_path / "cases.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False), encoding="utf-8")
    inventory = write_inventory(tmp_path / "hosts.yml", aws)
    run = run_playbook(playbook, inventory, aws)
    assert run.rc == 0, str(run)
    for index, (case, _overrides, expected) in enumerate(CASES):
        message = (tmp_path / f"case-{index}.txt").read_text(encoding="utf-8")
        assert message != "ACCEPTED", f"{case}: accepted"
        for text in expected:
            assert text in message, f"{case}: {text!r} not in {message!r}"
    _nothing_created(aws)


def test_validate_entry_points_accept_the_dev_inventory(aws, tmp_path) -> None:
    inventory = write_inventory(tmp_path / "hosts.yml", aws)
    for role in ("network", "postgres", "redis", "cluster"):
        run = run_playbook(ENTRY, inventory, aws, "-e", f"test_role={role}", "-e", "test_entry=validate")
        assert run.rc == 0 and run.changed == 0, str(run)
    _nothing_created(aws)

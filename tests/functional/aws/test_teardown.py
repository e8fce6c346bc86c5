"""playbooks/teardown.yml: refuses to start without the environment's confirmation; on a prod-shaped network made by
nl2api.deploy.network (3 zones, a NAT gateway per zone, checked here) with a database with deletion protection in
it, keeps the database and the network unless nl2api_teardown_allow_protected, then deletes everything.

moto gaps (see conftest.py): ScheduleKeyDeletion by key ARN answers HTTP 500 (cluster_delete_kms_key=false), and a
deleted replication group stays `deleting` forever (redis_delete_wait=false)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .conftest import ENTRY, TEARDOWN, run_playbook, tags_of, write_inventory

MOTO_GAPS = ("-e", "cluster_delete_kms_key=false", "-e", "redis_delete_wait=false")
PROD = {"nl2api_environment": "prod", "network_az_count": 3, "network_nat_mode": "per_az"}


def _by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {tags_of(item.get("Tags")).get("Name", ""): item for item in items}


def _vpcs(aws) -> list[str]:
    return [v["VpcId"] for v in aws.client("ec2").describe_vpcs()["Vpcs"] if not v.get("IsDefault")]


def _live_nats(aws) -> list[dict[str, Any]]:
    return [n for n in aws.client("ec2").describe_nat_gateways()["NatGateways"] if n["State"] in ("pending", "available")]


def _check_prod_network(aws) -> tuple[str, list[str]]:
    """3 zones, a NAT gateway per zone, each private subnet routed through its own zone's; (vpc, private subnets)."""
    ec2 = aws.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["nl2api-prod-vpc"]}])["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    assert len({s["AvailabilityZone"] for s in subnets}) == 3 and len(subnets) == 6
    nats = _live_nats(aws)
    public = {s["SubnetId"] for s in subnets if s["MapPublicIpOnLaunch"]}
    assert len(nats) == 3 and {n["SubnetId"] for n in nats} == public
    tables = _by_name(ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"])
    private_tables = [t for name, t in tables.items() if name.startswith("nl2api-prod-private-")]
    assert len(private_tables) == 3
    zone_of = {s["SubnetId"]: s["AvailabilityZone"] for s in subnets}
    nat_zone = {n["NatGatewayId"]: zone_of[n["SubnetId"]] for n in nats}
    for table in private_tables:
        nat = {r.get("DestinationCidrBlock"): r for r in table["Routes"]}["0.0.0.0/0"]["NatGatewayId"]
        for association in table["Associations"]:
            assert zone_of[association["SubnetId"]] == nat_zone[nat], "each zone routes through its own NAT"
    return vpc, sorted(s["SubnetId"] for s in subnets if not s["MapPublicIpOnLaunch"])


def _seed_protected_database(aws, subnets: list[str]) -> None:
    """A prod database with deletion protection, as provision.yml would leave it (moto cannot run the role's
    parameter group step without a seed, and the teardown only needs the instance)."""
    rds = aws.client("rds")
    rds.create_db_subnet_group(DBSubnetGroupName="nl2api-prod-postgres", SubnetIds=subnets,
                               DBSubnetGroupDescription="seeded")
    rds.create_db_instance(
        DBInstanceIdentifier="nl2api-prod", DBSubnetGroupName="nl2api-prod-postgres", Engine="postgres",
        EngineVersion="16.4", DBInstanceClass="db.r6g.large", AllocatedStorage=100, MasterUsername="nl2api_admin",
        MasterUserPassword="Seeded-Passw0rd-1", DeletionProtection=True, MultiAZ=True, StorageEncrypted=True)


def test_refuses_without_the_environment_confirmation(aws, tmp_path: Path) -> None:
    vpc = aws.client("ec2").create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    inventory = write_inventory(tmp_path / "hosts.yml", aws, **PROD)
    for extra in ((), ("-e", "nl2api_teardown_confirm=dev")):
        run = run_playbook(TEARDOWN, inventory, aws, *extra, *MOTO_GAPS)
        assert run.rc != 0 and "nl2api_teardown_confirm=prod" in run.stdout, str(run)
        assert run.ok == 0, "nothing ran before the refusal"
    assert _vpcs(aws) == [vpc]


def test_protected_prod_database_is_kept_unless_allowed(aws, tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "hosts.yml", aws, **PROD)
    network = run_playbook(ENTRY, inventory, aws, "-e", "test_role=network", "-e", "test_entry=main")
    assert network.rc == 0, str(network)
    vpc, private = _check_prod_network(aws)
    _seed_protected_database(aws, private)

    kept = run_playbook(TEARDOWN, inventory, aws, "-e", "nl2api_teardown_confirm=prod", *MOTO_GAPS)
    assert kept.rc == 0, str(kept)
    assert "nl2api-prod has deletion protection and is kept" in kept.stdout
    instances = aws.client("rds").describe_db_instances()["DBInstances"]
    assert [(i["DBInstanceIdentifier"], i["DeletionProtection"]) for i in instances] == [("nl2api-prod", True)]
    assert _vpcs(aws) == [vpc] and len(_live_nats(aws)) == 3, "the network a kept database lives in is kept too"

    deleted = run_playbook(TEARDOWN, inventory, aws, "-e", "nl2api_teardown_confirm=prod",
                           "-e", "nl2api_teardown_allow_protected=true", *MOTO_GAPS)
    assert deleted.rc == 0 and deleted.changed > 0, str(deleted)
    assert aws.client("rds").describe_db_instances()["DBInstances"] == []
    snapshots = aws.client("rds").describe_db_snapshots()["DBSnapshots"]
    assert [s["DBSnapshotIdentifier"] for s in snapshots] == ["nl2api-prod-final"], "prod keeps a final snapshot"
    assert _vpcs(aws) == [] and _live_nats(aws) == []
    ec2 = aws.client("ec2")
    assert [g for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"].startswith("nl2api")] == []
    assert ec2.describe_addresses()["Addresses"] == [], "the NAT gateways' Elastic IPs are released"

"""nl2api.deploy.network on moto: the shared provisioning run (dev shape: 2 zones, one NAT gateway) read back with
boto3, its rerun changes nothing. The prod shape (3 zones, a NAT gateway per zone) is created and checked by
test_teardown.py, which then deletes it (one network run instead of two, for CI time)."""

from __future__ import annotations

from typing import Any

from .conftest import Provisioned, tags_of


def _by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {tags_of(item.get("Tags")).get("Name", ""): item for item in items}


def test_rerun_changes_nothing(provisioned: Provisioned) -> None:
    assert provisioned.first.changed > 0
    assert provisioned.second.rc == 0 and provisioned.second.changed == 0, str(provisioned.second)


def test_vpc_subnets_gateways_and_routes(provisioned: Provisioned) -> None:
    ec2 = provisioned.moto.client("ec2")
    net = provisioned.outputs["network"]
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["nl2api-dev-vpc"]}])["Vpcs"]
    assert len(vpcs) == 1 and vpcs[0]["VpcId"] == net["vpc_id"] and vpcs[0]["CidrBlock"] == "10.20.0.0/16"
    tags = tags_of(vpcs[0]["Tags"])
    assert tags["nl2api.io/environment"] == "dev" and tags["nl2api.io/managed-by"] == "nl2api.deploy"

    subnets = _by_name(ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [net["vpc_id"]]}])["Subnets"])
    assert sorted(subnets) == ["nl2api-dev-private-us-east-1a", "nl2api-dev-private-us-east-1b",
                               "nl2api-dev-public-us-east-1a", "nl2api-dev-public-us-east-1b"]
    private = [subnets["nl2api-dev-private-us-east-1a"], subnets["nl2api-dev-private-us-east-1b"]]
    public = [subnets["nl2api-dev-public-us-east-1a"], subnets["nl2api-dev-public-us-east-1b"]]
    assert [s["CidrBlock"] for s in private] == ["10.20.0.0/20", "10.20.16.0/20"]
    assert [s["CidrBlock"] for s in public] == ["10.20.128.0/22", "10.20.132.0/22"]
    assert not any(s["MapPublicIpOnLaunch"] for s in private) and all(s["MapPublicIpOnLaunch"] for s in public)
    assert [s["SubnetId"] for s in private] == net["private_subnet_ids"]
    assert [s["SubnetId"] for s in public] == net["public_subnet_ids"]
    assert tags_of(private[0]["Tags"])["kubernetes.io/role/internal-elb"] == "1"
    assert tags_of(public[0]["Tags"])["kubernetes.io/role/elb"] == "1"

    igws = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [net["vpc_id"]]}])
    assert len(igws["InternetGateways"]) == 1
    igw_id = igws["InternetGateways"][0]["InternetGatewayId"]

    nats = [n for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] in ("pending", "available")]
    assert len(nats) == 1 and nats[0]["SubnetId"] == public[0]["SubnetId"], "single mode: one NAT gateway"

    tables = _by_name(ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [net["vpc_id"]]}])["RouteTables"])
    public_rt, private_rt = tables["nl2api-dev-public"], tables["nl2api-dev-private"]
    default = {r.get("DestinationCidrBlock"): r for r in public_rt["Routes"]}["0.0.0.0/0"]
    assert default["GatewayId"] == igw_id
    default = {r.get("DestinationCidrBlock"): r for r in private_rt["Routes"]}["0.0.0.0/0"]
    assert default["NatGatewayId"] == nats[0]["NatGatewayId"]
    assert {a["SubnetId"] for a in public_rt["Associations"] if "SubnetId" in a} == set(net["public_subnet_ids"])
    assert {a["SubnetId"] for a in private_rt["Associations"] if "SubnetId" in a} == set(net["private_subnet_ids"])


def test_security_groups_admit_only_the_nodes(provisioned: Provisioned) -> None:
    ec2 = provisioned.moto.client("ec2")
    net = provisioned.outputs["network"]
    groups = {g["GroupId"]: g for g in ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [net["vpc_id"]]}])["SecurityGroups"]}
    nodes = net["node_security_group_id"]
    assert groups[nodes]["GroupName"] == "nl2api-dev-nodes"
    for key, port in (("postgres_security_group_id", 5432), ("redis_security_group_id", 6379)):
        rules = groups[net[key]]["IpPermissions"]
        assert len(rules) == 1, rules
        rule = rules[0]
        assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", port, port)
        assert [p["GroupId"] for p in rule["UserIdGroupPairs"]] == [nodes]
        assert rule.get("IpRanges", []) == [] and rule.get("Ipv6Ranges", []) == []

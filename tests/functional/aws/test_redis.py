"""nl2api.deploy.redis: the ElastiCache replication group of the shared provisioning run read back with boto3."""

from __future__ import annotations

from .conftest import AUTH_TOKEN, Provisioned


def test_replication_group_properties(provisioned: Provisioned) -> None:
    elasticache = provisioned.moto.client("elasticache")
    group = elasticache.describe_replication_groups(ReplicationGroupId="nl2api-dev")["ReplicationGroups"][0]
    assert group["TransitEncryptionEnabled"] is True and group["AtRestEncryptionEnabled"] is True
    assert group["AuthTokenEnabled"] is True
    assert group["AutomaticFailover"] == "disabled" and group["MultiAZ"] == "disabled"  # dev: one node
    assert len(group["MemberClusters"]) == 1
    assert group["CacheNodeType"] == "cache.t4g.micro"
    # moto keeps no member cache clusters (DescribeCacheClusters does not know them); subnet group checked instead.
    subnets = elasticache.describe_cache_subnet_groups(CacheSubnetGroupName="nl2api-dev-redis")["CacheSubnetGroups"][0]
    assert {s["SubnetIdentifier"] for s in subnets["Subnets"]} == set(
        provisioned.outputs["network"]["private_subnet_ids"])


def test_outputs_for_the_app_stage(provisioned: Provisioned) -> None:
    redis = provisioned.outputs["app_external_redis"]
    group = provisioned.moto.client("elasticache").describe_replication_groups(
        ReplicationGroupId="nl2api-dev")["ReplicationGroups"][0]
    primary = group["NodeGroups"][0]["PrimaryEndpoint"]
    assert redis == {"host": primary["Address"], "port": primary["Port"], "tls": True, "databaseIndex": 0,
                     "cidrs": ["10.20.0.0/20", "10.20.16.0/20"]}
    assert AUTH_TOKEN not in str(provisioned.outputs)
    assert AUTH_TOKEN not in provisioned.first.stdout and AUTH_TOKEN not in provisioned.second.stdout

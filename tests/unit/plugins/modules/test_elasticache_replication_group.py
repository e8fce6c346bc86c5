# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nl2api.deploy.elasticache_replication_group module against a real botocore ElastiCache client whose HTTP layer
is botocore's Stubber: every request is checked against the service model and against the exact parameters expected
here, in order, and any call not expected fails the test. So these tests pin what moto cannot show (moto ignores
most ModifyReplicationGroup fields, AUTH token updates and replica counts): the create request, the update steps,
the token handling, check mode making describe calls only, and bad input failing before any call."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import functools
import json

import pytest

from ansible_collections.nl2api.deploy.plugins.modules import (
    elasticache_replication_group as module_under_test,
)
from ansible_collections.nl2api.deploy.tests.unit.plugins.modules.module_harness import (
    FailJson,
    patch_exits,
    run_main,
    stubbed_aws_client,
)

TOKEN = "Tok3n-With!Specials#1234"
NEW_TOKEN = "An0ther-Token$$-5678"
ARN = "arn:aws:elasticache:us-east-1:123456789012:replicationgroup:nl2api-dev-redis"
GROUP = "nl2api-dev-redis"


@pytest.fixture(autouse=True)
def exits(monkeypatch):
    patch_exits(monkeypatch)
    monkeypatch.setattr(module_under_test, "POLL_DELAY", 0)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def client(monkeypatch):
    """A real ElastiCache client with a Stubber activated; the module gets it instead of making its own."""
    yield from stubbed_aws_client(monkeypatch, "elasticache")


def args(**extra):
    base = dict(replication_group_id=GROUP, description="nl2api queue", engine_version="7.1",
                cache_node_type="cache.t4g.micro", auth_token=TOKEN, cache_subnet_group="nl2api-dev-redis",
                security_group_ids=["sg-0redis"], snapshot_retention_limit=1, snapshot_window="03:00-04:00",
                maintenance_window="sun:05:00-sun:06:00", tags={"Name": "nl2api-dev-redis"}, region="us-east-1")
    base.update(extra)
    return base


def raw_group(status="available", members=1, failover="disabled", multi_az="disabled", node_type="cache.t4g.micro",
              description="nl2api queue", token=True, transit=True, retention=1):
    member_ids = ["%s-%03d" % (GROUP, number + 1) for number in range(members)]
    return dict(
        ReplicationGroupId=GROUP, Description=description, Status=status, MemberClusters=member_ids,
        NodeGroups=[dict(NodeGroupId="0001", Status=status,
                         PrimaryEndpoint=dict(Address="master.%s.abc.use1.cache.amazonaws.com" % GROUP, Port=6379),
                         ReaderEndpoint=dict(Address="replica.%s.abc.use1.cache.amazonaws.com" % GROUP, Port=6379))],
        AutomaticFailover=failover, MultiAZ=multi_az, SnapshotRetentionLimit=retention, SnapshotWindow="03:00-04:00",
        ClusterEnabled=False, CacheNodeType=node_type, AuthTokenEnabled=token, TransitEncryptionEnabled=transit,
        AtRestEncryptionEnabled=True, ARN=ARN, Engine="redis",
    )


def raw_member():
    return dict(CacheClusterId="%s-001" % GROUP, Engine="redis", EngineVersion="7.1.0",
                CacheSubnetGroupName="nl2api-dev-redis", SecurityGroups=[dict(SecurityGroupId="sg-0redis",
                                                                               Status="active")],
                CacheParameterGroup=dict(CacheParameterGroupName="default.redis7"),
                PreferredMaintenanceWindow="sun:05:00-sun:06:00", ReplicationGroupId=GROUP)


def expect_describe(stubber, group):
    stubber.add_response("describe_replication_groups", {"ReplicationGroups": [group]},
                         {"ReplicationGroupId": GROUP})


def expect_read(stubber, group, tags=None):
    """The module's read(): group, first member, tags."""
    expect_describe(stubber, group)
    stubber.add_response("describe_cache_clusters", {"CacheClusters": [raw_member()]},
                         {"CacheClusterId": "%s-001" % GROUP})
    tags = {"Name": "nl2api-dev-redis"} if tags is None else tags
    stubber.add_response("list_tags_for_resource", {"TagList": [{"Key": k, "Value": v} for k, v in tags.items()]},
                         {"ResourceName": ARN})


def expect_not_found(stubber):
    stubber.add_client_error("describe_replication_groups", "ReplicationGroupNotFoundFault",
                             "Replication group %s not found." % GROUP, 404,
                             expected_params={"ReplicationGroupId": GROUP})


def expect_modify(stubber, **params):
    params.update(ReplicationGroupId=GROUP, ApplyImmediately=True)
    stubber.add_response("modify_replication_group", {"ReplicationGroup": raw_group(status="modifying")}, params)


run = functools.partial(run_main, module_under_test.main)


def assert_no_token(result):
    text = json.dumps(result)
    assert TOKEN not in text and NEW_TOKEN not in text


def test_creates_subnet_group_and_group_with_exact_requests(client):
    expect_not_found(client)
    client.add_client_error("describe_cache_subnet_groups", "CacheSubnetGroupNotFoundFault", "not found", 404,
                            expected_params={"CacheSubnetGroupName": "nl2api-dev-redis"})
    client.add_response("create_cache_subnet_group", {"CacheSubnetGroup": {"CacheSubnetGroupName": "nl2api-dev-redis"}},
                        {"CacheSubnetGroupName": "nl2api-dev-redis",
                         "CacheSubnetGroupDescription": "Subnets of replication group %s" % GROUP,
                         "SubnetIds": ["subnet-a", "subnet-b"], "Tags": [{"Key": "Name", "Value": "nl2api-dev-redis"}]})
    client.add_response("create_replication_group", {"ReplicationGroup": raw_group(status="creating")}, {
        "ReplicationGroupId": GROUP, "ReplicationGroupDescription": "nl2api queue", "Engine": "redis",
        "EngineVersion": "7.1", "CacheNodeType": "cache.r7g.large", "NumCacheClusters": 3,
        "AutomaticFailoverEnabled": True, "MultiAZEnabled": True, "TransitEncryptionEnabled": True,
        "AtRestEncryptionEnabled": True, "KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/k1", "AuthToken": TOKEN,
        "CacheSubnetGroupName": "nl2api-dev-redis", "SecurityGroupIds": ["sg-0redis"], "Port": 6379,
        "SnapshotRetentionLimit": 1, "SnapshotWindow": "03:00-04:00",
        "PreferredMaintenanceWindow": "sun:05:00-sun:06:00", "Tags": [{"Key": "Name", "Value": "nl2api-dev-redis"}],
    })
    expect_describe(client, raw_group(status="creating", members=3))  # the wait polls until available
    expect_describe(client, raw_group(status="available", members=3, failover="enabled", multi_az="enabled"))
    expect_read(client, raw_group(members=3, failover="enabled", multi_az="enabled"))
    result = run(args(subnet_ids=["subnet-b", "subnet-a"], cache_node_type="cache.r7g.large", num_cache_clusters=3,
                      automatic_failover=True, multi_az=True, kms_key_id="arn:aws:kms:us-east-1:123456789012:key/k1"),
                 diff=True)
    assert result["changed"] is True
    assert result["actions"] == ["create_cache_subnet_group", "create_replication_group"]
    assert result["auth_token_updated"] is True
    group = result["replication_group"]
    assert group["primary_endpoint"] == {"address": "master.%s.abc.use1.cache.amazonaws.com" % GROUP, "port": 6379}
    assert (group["num_cache_clusters"], group["automatic_failover"], group["multi_az"]) == (3, True, True)
    assert group["auth_token_enabled"] is True and group["transit_encryption"] is True
    assert result["diff"]["before"] == {} and result["diff"]["after"]["engine_version"] == "7.1.0"
    assert_no_token(result)


def test_second_run_changes_nothing(client):
    expect_read(client, raw_group())
    result = run(args(), diff=True)
    assert result["changed"] is False and result["actions"] == [] and result["auth_token_updated"] is False
    assert result["diff"]["before"] == result["diff"]["after"]
    assert result["replication_group"]["security_group_ids"] == ["sg-0redis"]
    assert_no_token(result)


def test_check_mode_create_makes_describe_calls_only(client):
    expect_not_found(client)
    result = run(args(), check_mode=True, diff=True)
    assert result["changed"] is True and result["actions"] == ["create_replication_group"]
    assert result["replication_group"]["status"] == "creating"
    assert result["diff"]["after"]["auth_token_enabled"] is True
    assert_no_token(result)


def test_check_mode_update_makes_describe_calls_only(client):
    expect_read(client, raw_group())
    result = run(args(description="new", num_cache_clusters=2, automatic_failover=True, tags={"a": "b"}),
                 check_mode=True, diff=True)
    assert result["actions"] == ["increase_replica_count", "modify_replication_group", "add_tags_to_resource",
                                 "remove_tags_from_resource"]
    assert result["diff"]["after"]["description"] == "new" and result["diff"]["after"]["tags"] == {"a": "b"}
    assert result["diff"]["before"]["description"] == "nl2api queue"


def test_scaling_up_runs_one_step_at_a_time(client):
    expect_read(client, raw_group())
    expect_modify(client, CacheNodeType="cache.r7g.large")
    expect_describe(client, raw_group(status="available", node_type="cache.r7g.large"))
    client.add_response("increase_replica_count", {"ReplicationGroup": raw_group(status="modifying")},
                        {"ReplicationGroupId": GROUP, "NewReplicaCount": 2, "ApplyImmediately": True})
    expect_describe(client, raw_group(status="modifying", members=3))
    expect_describe(client, raw_group(status="available", members=3))
    expect_modify(client, ReplicationGroupDescription="bigger", AutomaticFailoverEnabled=True, MultiAZEnabled=True,
                  SnapshotRetentionLimit=7)
    expect_describe(client, raw_group(status="available", members=3, failover="enabled", multi_az="enabled"))
    expect_read(client, raw_group(members=3, failover="enabled", multi_az="enabled", description="bigger"))
    result = run(args(description="bigger", cache_node_type="cache.r7g.large", num_cache_clusters=3,
                      automatic_failover=True, multi_az=True, snapshot_retention_limit=7))
    assert result["actions"] == ["modify_replication_group", "increase_replica_count", "modify_replication_group"]
    assert result["changed"] is True and result["auth_token_updated"] is False


def test_scaling_down_switches_failover_off_before_removing_replicas(client):
    expect_read(client, raw_group(members=3, failover="enabled", multi_az="enabled"))
    expect_modify(client, AutomaticFailoverEnabled=False, MultiAZEnabled=False)
    expect_describe(client, raw_group(status="available", members=3))
    client.add_response("decrease_replica_count", {"ReplicationGroup": raw_group(status="modifying")},
                        {"ReplicationGroupId": GROUP, "NewReplicaCount": 0, "ApplyImmediately": True})
    expect_read(client, raw_group(status="modifying"))  # wait=false: the result is read back at once
    result = run(args(wait=False))
    assert result["actions"] == ["modify_replication_group", "decrease_replica_count"]


@pytest.mark.parametrize("strategy", ["rotate", "set"])
def test_update_auth_token_sends_it_with_the_strategy_and_never_returns_it(client, strategy):
    expect_read(client, raw_group())
    expect_modify(client, AuthToken=NEW_TOKEN, AuthTokenUpdateStrategy=strategy.upper())
    expect_read(client, raw_group(status="modifying"))
    result = run(args(auth_token=NEW_TOKEN, update_auth_token=True, auth_token_update_strategy=strategy, wait=False),
                 diff=True)
    assert result["changed"] is True and result["auth_token_updated"] is True
    assert result["actions"] == ["modify_replication_group"]
    assert_no_token(result)


def test_group_without_token_gets_one_with_rotate(client):
    expect_read(client, raw_group(token=False))
    expect_modify(client, AuthToken=TOKEN, AuthTokenUpdateStrategy="ROTATE")
    expect_read(client, raw_group(status="modifying"))
    result = run(args(wait=False))
    assert result["auth_token_updated"] is True and result["replication_group"]["auth_token_enabled"] is True


def test_immutable_changes_fail_naming_them_without_mutating(client):
    expect_read(client, raw_group(transit=True))
    result = run(args(port=6380, engine="valkey"), FailJson)
    assert "cannot change engine, port in place" in result["msg"]
    assert "port is 6379, asked 6380" in result["msg"]


def test_engine_downgrade_fails(client):
    expect_read(client, raw_group())
    result = run(args(engine_version="6.2"), FailJson)
    assert "engine_version" in result["msg"]


def test_engine_upgrade_is_a_modification(client):
    expect_read(client, raw_group())
    expect_modify(client, EngineVersion="7.2")
    expect_read(client, raw_group(status="modifying"))
    result = run(args(engine_version="7.2", wait=False))
    assert result["actions"] == ["modify_replication_group"]


def test_subnet_group_subnets_are_updated_in_order(client):
    expect_read(client, raw_group())
    client.add_response("describe_cache_subnet_groups", {"CacheSubnetGroups": [{
        "CacheSubnetGroupName": "nl2api-dev-redis", "Subnets": [{"SubnetIdentifier": "subnet-a"}]}]},
        {"CacheSubnetGroupName": "nl2api-dev-redis"})
    client.add_response("modify_cache_subnet_group", {"CacheSubnetGroup": {"CacheSubnetGroupName": "x"}},
                        {"CacheSubnetGroupName": "nl2api-dev-redis", "SubnetIds": ["subnet-a", "subnet-c"]})
    expect_read(client, raw_group())
    result = run(args(subnet_ids=["subnet-a", "subnet-c"], wait=False))
    assert result["actions"] == ["modify_cache_subnet_group"]


def test_delete_with_final_snapshot_and_wait(client):
    expect_read(client, raw_group())
    client.add_response("delete_replication_group", {"ReplicationGroup": raw_group(status="deleting")},
                        {"ReplicationGroupId": GROUP, "FinalSnapshotIdentifier": "final-1"})
    expect_describe(client, raw_group(status="deleting"))
    expect_not_found(client)
    result = run(dict(replication_group_id=GROUP, state="absent", final_snapshot_identifier="final-1",
                      region="us-east-1"), diff=True)
    assert result["changed"] is True and result["actions"] == ["delete_replication_group"]
    assert result["replication_group"] == {} and result["diff"]["after"] == {}


def test_delete_of_missing_group_changes_nothing(client):
    expect_not_found(client)
    result = run(dict(replication_group_id=GROUP, state="absent", region="us-east-1"))
    assert result["changed"] is False and result["actions"] == []


def test_wait_is_bounded_by_wait_timeout(client):
    expect_not_found(client)
    client.add_response("create_replication_group", {"ReplicationGroup": raw_group(status="creating")})
    expect_describe(client, raw_group(status="creating"))
    result = run(args(wait_timeout=0), FailJson)
    assert "timed out after 0s waiting for replication group %s to be available (last state: creating)" % GROUP \
        in result["msg"]
    assert result["changed"] is True and result["actions"] == ["create_replication_group"]


def test_aws_errors_are_one_line_with_the_token_masked(client):
    expect_not_found(client)
    client.add_client_error("create_replication_group", "InvalidParameterValue",
                            "Invalid AuthToken %s provided" % TOKEN, 400)
    result = run(args(wait=False), FailJson)
    assert result["msg"].startswith("create_replication_group failed: InvalidParameterValue: Invalid AuthToken ********")
    assert result["error_code"] == "InvalidParameterValue"
    assert_no_token(result)


BAD_INPUT = [
    (dict(multi_az=True), "multi_az=true requires automatic_failover=true"),
    (dict(automatic_failover=True, num_cache_clusters=1), "automatic_failover=true needs num_cache_clusters >= 2"),
    (dict(num_cache_clusters=7), "num_cache_clusters must be between 1 and 6"),
    (dict(auth_token=None), "auth_token is required when transit_encryption is true"),
    (dict(transit_encryption=False), "auth_token can only be used with transit_encryption=true"),
    (dict(auth_token="short"), "auth_token must be 16 to 128 characters"),
    (dict(auth_token="has/slash-and-more-chars"), "auth_token must be 16 to 128 characters"),
    (dict(auth_token='has"quote-and-more-chars'), "auth_token must be 16 to 128 characters"),
    (dict(auth_token="has@at-and-more-chars12"), "auth_token must be 16 to 128 characters"),
    (dict(auth_token="x" * 129), "auth_token must be 16 to 128 characters"),
    (dict(snapshot_window="05:30-06:30", maintenance_window="sun:06:00-sun:07:00"),
     "snapshot_window (05:30-06:30) overlaps maintenance_window (sun:06:00-sun:07:00)"),
    (dict(snapshot_window="23:30-00:30", maintenance_window="mon:00:00-mon:01:00"), "overlaps maintenance_window"),
    (dict(snapshot_window="5 to 6"), "snapshot_window: '5 to 6' is not a daily window"),
    (dict(maintenance_window="sun:05:00-sun:05:30"), "maintenance_window must be at least 60 minutes long"),
    (dict(maintenance_window="funday:05:00-sun:06:00"), "maintenance_window: 'funday:05:00-sun:06:00' is not"),
    (dict(update_auth_token=True, auth_token=None, transit_encryption=False), "update_auth_token=true requires"),
    (dict(kms_key_id="k1", at_rest_encryption=False), "kms_key_id can only be used with at_rest_encryption=true"),
    (dict(subnet_ids=["subnet-a"], cache_subnet_group=None), "subnet_ids requires cache_subnet_group"),
    (dict(cache_node_type=None), "cache_node_type is required with state=present"),
    (dict(replication_group_id="Bad_Name"), "replication_group_id 'Bad_Name' must be"),
    (dict(snapshot_retention_limit=36), "snapshot_retention_limit must be between 0 and 35"),
]


@pytest.mark.parametrize("extra,message", BAD_INPUT, ids=[m for _e, m in BAD_INPUT])
def test_bad_input_fails_before_any_aws_call(client, extra, message):
    result = run(args(**extra), FailJson)
    assert message in result["msg"]
    assert client.made == []  # no client was even created
    assert_no_token(result)


def test_token_is_no_log():
    spec = module_under_test.argument_spec()
    assert spec["auth_token"]["no_log"] is True
    assert spec["secret_key"]["no_log"] is True and spec["session_token"]["no_log"] is True


def test_run_with_wait_joins_a_group_created_earlier_without_waiting(client):
    expect_read(client, raw_group(status="creating"))
    expect_describe(client, raw_group(status="creating"))
    expect_describe(client, raw_group(status="available"))
    expect_read(client, raw_group())
    result = run(args())
    assert result["changed"] is False and result["replication_group"]["status"] == "available"

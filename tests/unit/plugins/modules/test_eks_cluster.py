# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nl2api.deploy.eks_cluster module against a real botocore EKS client with botocore's Stubber: requests are
validated against the service model and against the exact parameters expected here, in order; an unexpected call
fails the test. This covers what moto 5.2.5 lacks: access entries and access policies, AssociateEncryptionConfig,
UpdateClusterVersion, DescribeUpdate and accessConfig, plus check mode (describe/list only) and input validation
(no call at all)."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import functools

import pytest

from ansible_collections.nl2api.deploy.plugins.modules import (
    eks_cluster as module_under_test,
)
from ansible_collections.nl2api.deploy.tests.unit.plugins.modules.module_harness import (
    FailJson,
    patch_exits,
    run_main,
    stubbed_aws_client,
)

NAME = "nl2api-prod"
ARN = "arn:aws:eks:us-east-1:123456789012:cluster/nl2api-prod"
ROLE = "arn:aws:iam::123456789012:role/nl2api-prod-cluster"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd"
ADMIN = "arn:aws:iam::123456789012:role/nl2api-deployer"
VIEWER = "arn:aws:iam::123456789012:role/nl2api-readonly"
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
VIEW_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
ALL_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]


@pytest.fixture(autouse=True)
def exits(monkeypatch):
    patch_exits(monkeypatch)
    monkeypatch.setattr(module_under_test, "POLL_DELAY", 0)


@pytest.fixture
def client(monkeypatch):
    yield from stubbed_aws_client(monkeypatch, "eks")


def args(**extra):
    base = dict(name=NAME, version="1.31", role_arn=ROLE, subnet_ids=["subnet-b", "subnet-a"],
                secrets_kms_key_arn=KEY, tags={"Name": "nl2api-prod-cluster"}, region="us-east-1")
    base.update(extra)
    return base


ENTRIES = [
    dict(principal_arn=ADMIN, policies=[dict(policy_arn=ADMIN_POLICY)]),
    dict(principal_arn=VIEWER, kubernetes_groups=["viewers"],
         policies=[dict(policy_arn=VIEW_POLICY, access_scope=dict(type="namespace", namespaces=["nl2api"]))]),
]


def raw_cluster(status="ACTIVE", version="1.31", logs=None, public=False, cidrs=None, key=KEY, mode="API",
                tags=None):
    logs = ALL_LOGS if logs is None else logs
    logging = [{"types": logs, "enabled": True}] if logs else []
    off = [log for log in ALL_LOGS if log not in logs]
    if off:
        logging.append({"types": off, "enabled": False})
    cluster = dict(
        name=NAME, arn=ARN, version=version, endpoint="https://ABC.gr7.us-east-1.eks.amazonaws.com", roleArn=ROLE,
        resourcesVpcConfig=dict(subnetIds=["subnet-a", "subnet-b"], securityGroupIds=[],
                                clusterSecurityGroupId="sg-eks", vpcId="vpc-1", endpointPublicAccess=public,
                                endpointPrivateAccess=True, publicAccessCidrs=cidrs or ["0.0.0.0/0"]),
        logging=dict(clusterLogging=logging), identity=dict(oidc=dict(issuer="https://oidc.eks/id/ABC")),
        status=status, certificateAuthority=dict(data="Q0E="), platformVersion="eks.5",
        tags={"Name": "nl2api-prod-cluster"} if tags is None else tags, accessConfig=dict(authenticationMode=mode),
    )
    if key:
        cluster["encryptionConfig"] = [dict(resources=["secrets"], provider=dict(keyArn=key))]
    return cluster


def expect_describe(stubber, cluster):
    stubber.add_response("describe_cluster", {"cluster": cluster}, {"name": NAME})


def expect_not_found(stubber):
    stubber.add_client_error("describe_cluster", "ResourceNotFoundException", "No cluster found for name: %s." % NAME,
                             404, expected_params={"name": NAME})


def expect_update(stubber, operation, params, update_id, what="x"):
    """An update call, then DescribeUpdate (InProgress, Successful) and the ACTIVE check."""
    stubber.add_response(operation, {"update": {"id": update_id, "status": "InProgress", "type": what}}, params)
    name_key = "clusterName" if operation == "associate_encryption_config" else "name"
    stubber.add_response("describe_update", {"update": {"id": update_id, "status": "InProgress"}},
                         {"name": params[name_key], "updateId": update_id})
    stubber.add_response("describe_update", {"update": {"id": update_id, "status": "Successful"}},
                         {"name": params[name_key], "updateId": update_id})
    expect_describe(stubber, raw_cluster())


def expect_entry(stubber, principal, groups=None, policies=None, found=True):
    if not found:
        stubber.add_client_error("describe_access_entry", "ResourceNotFoundException", "no entry", 404,
                                 expected_params={"clusterName": NAME, "principalArn": principal})
        return
    stubber.add_response("describe_access_entry", {"accessEntry": {
        "clusterName": NAME, "principalArn": principal, "kubernetesGroups": groups or [], "type": "STANDARD",
        "username": "arn:aws:sts::123456789012:assumed-role/x/{{SessionName}}"}},
        {"clusterName": NAME, "principalArn": principal})
    stubber.add_response("list_associated_access_policies", {
        "clusterName": NAME, "principalArn": principal,
        "associatedAccessPolicies": [{"policyArn": arn, "accessScope": scope} for arn, scope in (policies or [])]},
        {"clusterName": NAME, "principalArn": principal})


run = functools.partial(run_main, module_under_test.main)


def test_create_with_access_entries_exact_requests(client):
    expect_not_found(client)
    client.add_response("create_cluster", {"cluster": raw_cluster(status="CREATING")}, {
        "name": NAME, "version": "1.31", "roleArn": ROLE,
        "resourcesVpcConfig": {"subnetIds": ["subnet-a", "subnet-b"], "endpointPrivateAccess": True,
                               "endpointPublicAccess": False},
        "logging": {"clusterLogging": [{"types": sorted(ALL_LOGS), "enabled": True}]},
        "accessConfig": {"authenticationMode": "API"},
        "encryptionConfig": [{"resources": ["secrets"], "provider": {"keyArn": KEY}}],
        "tags": {"Name": "nl2api-prod-cluster"},
    })
    expect_describe(client, raw_cluster(status="CREATING"))
    expect_describe(client, raw_cluster(status="ACTIVE"))
    client.add_response("create_access_entry", {"accessEntry": {"principalArn": ADMIN}},
                        {"clusterName": NAME, "principalArn": ADMIN, "type": "STANDARD"})
    client.add_response("associate_access_policy", {"clusterName": NAME, "principalArn": ADMIN},
                        {"clusterName": NAME, "principalArn": ADMIN, "policyArn": ADMIN_POLICY,
                         "accessScope": {"type": "cluster"}})
    client.add_response("create_access_entry", {"accessEntry": {"principalArn": VIEWER}},
                        {"clusterName": NAME, "principalArn": VIEWER, "type": "STANDARD",
                         "kubernetesGroups": ["viewers"]})
    client.add_response("associate_access_policy", {"clusterName": NAME, "principalArn": VIEWER},
                        {"clusterName": NAME, "principalArn": VIEWER, "policyArn": VIEW_POLICY,
                         "accessScope": {"type": "namespace", "namespaces": ["nl2api"]}})
    expect_describe(client, raw_cluster())
    result = run(args(access_entries=ENTRIES), diff=True)
    assert result["changed"] is True
    assert result["actions"] == ["create_cluster", "create_access_entry", "associate_access_policy",
                                 "create_access_entry", "associate_access_policy"]
    cluster = result["cluster"]
    assert cluster["endpoint"].startswith("https://") and cluster["certificate_authority"] == "Q0E="
    assert cluster["oidc_issuer"] == "https://oidc.eks/id/ABC" and cluster["secrets_kms_key_arn"] == KEY
    assert cluster["logging"] == sorted(ALL_LOGS) and cluster["authentication_mode"] == "API"
    assert [entry["principal_arn"] for entry in cluster["access_entries"]] == [ADMIN, VIEWER]
    assert result["diff"]["before"] == {}


def test_public_endpoint_create_passes_the_cidrs(client):
    expect_not_found(client)
    client.add_response("create_cluster", {"cluster": raw_cluster(status="CREATING")}, {
        "name": NAME, "roleArn": ROLE,
        "resourcesVpcConfig": {"subnetIds": ["subnet-a", "subnet-b"], "securityGroupIds": ["sg-1"],
                               "endpointPrivateAccess": True, "endpointPublicAccess": True,
                               "publicAccessCidrs": ["203.0.113.0/24"]},
        "logging": {"clusterLogging": [{"types": ["api"], "enabled": True},
                                       {"types": ["audit", "authenticator", "controllerManager", "scheduler"],
                                        "enabled": False}]},
        "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"},
    })
    expect_describe(client, raw_cluster(status="CREATING"))
    result = run(dict(name=NAME, role_arn=ROLE, subnet_ids=["subnet-a", "subnet-b"], security_group_ids=["sg-1"],
                      endpoint_public_access=True, public_access_cidrs=["203.0.113.0/24"], logging=["api"],
                      authentication_mode="API_AND_CONFIG_MAP", wait=False, region="us-east-1"))
    assert result["actions"] == ["create_cluster"]


def test_second_run_changes_nothing_and_reads_entries_only(client):
    expect_describe(client, raw_cluster())
    expect_entry(client, ADMIN, policies=[(ADMIN_POLICY, {"type": "cluster"})])
    expect_entry(client, VIEWER, groups=["viewers"], policies=[(VIEW_POLICY, {"type": "namespace",
                                                                              "namespaces": ["nl2api"]})])
    result = run(args(access_entries=ENTRIES), diff=True)
    assert result["changed"] is False and result["actions"] == []
    assert result["diff"]["before"] == result["diff"]["after"]


def test_no_access_entry_api_without_access_entries(client):
    expect_describe(client, raw_cluster())
    result = run(args())  # the Stubber fails the test on any list/describe access entry call
    assert result["changed"] is False


def test_updates_run_one_at_a_time_waiting_for_each(client):
    expect_describe(client, raw_cluster(version="1.30", logs=["api"], key=None, mode="API_AND_CONFIG_MAP"))
    expect_update(client, "update_cluster_version", {"name": NAME, "version": "1.31"}, "u1")
    expect_update(client, "update_cluster_config", {"name": NAME, "resourcesVpcConfig": {
        "endpointPrivateAccess": True, "endpointPublicAccess": True, "publicAccessCidrs": ["198.51.100.0/24"]}}, "u2")
    expect_update(client, "update_cluster_config", {"name": NAME, "logging": {"clusterLogging": [
        {"types": sorted(ALL_LOGS), "enabled": True}]}}, "u3")
    expect_update(client, "update_cluster_config", {"name": NAME, "accessConfig": {"authenticationMode": "API"}},
                  "u4")
    expect_update(client, "associate_encryption_config", {"clusterName": NAME, "encryptionConfig": [
        {"resources": ["secrets"], "provider": {"keyArn": KEY}}]}, "u5")
    client.add_response("tag_resource", {}, {"resourceArn": ARN, "tags": {"team": "nl2api"}})
    client.add_response("untag_resource", {}, {"resourceArn": ARN, "tagKeys": ["Name"]})
    expect_describe(client, raw_cluster())
    result = run(args(endpoint_public_access=True, public_access_cidrs=["198.51.100.0/24"], tags={"team": "nl2api"}),
                 diff=True)
    assert result["actions"] == ["update_cluster_version", "update_cluster_config", "update_cluster_config",
                                 "update_cluster_config", "associate_encryption_config", "tag_resource",
                                 "untag_resource"]
    assert result["diff"]["before"]["version"] == "1.30"


def test_failed_update_fails_with_its_errors(client):
    expect_describe(client, raw_cluster(logs=["api"]))
    client.add_response("update_cluster_config", {"update": {"id": "u9", "status": "InProgress"}})
    client.add_response("describe_update", {"update": {"id": "u9", "status": "Failed", "errors": [
        {"errorCode": "AccessDenied", "errorMessage": "not allowed"}]}})
    result = run(args(), FailJson)
    assert "update u9 (logging) of cluster nl2api-prod is Failed: AccessDenied: not allowed" in result["msg"]
    assert result["changed"] is True


def test_check_mode_makes_describe_and_list_calls_only(client):
    expect_describe(client, raw_cluster(logs=[]))
    expect_entry(client, ADMIN, found=False)
    expect_entry(client, VIEWER, groups=["old"],
                 policies=[(VIEW_POLICY, {"type": "cluster"}), (ADMIN_POLICY, {"type": "cluster"})])
    result = run(args(access_entries=ENTRIES), check_mode=True, diff=True)
    assert result["changed"] is True
    assert result["actions"] == ["update_cluster_config", "create_access_entry", "associate_access_policy",
                                 "update_access_entry", "associate_access_policy", "disassociate_access_policy"]
    assert result["diff"]["before"]["logging"] == [] and result["diff"]["after"]["logging"] == sorted(ALL_LOGS)


def test_check_mode_create_makes_no_call_but_describe(client):
    expect_not_found(client)
    result = run(args(access_entries=ENTRIES), check_mode=True)
    assert result["actions"][0] == "create_cluster" and result["cluster"]["status"] == "CREATING"


@pytest.mark.parametrize("extra,current,message", [
    (dict(role_arn="arn:aws:iam::123456789012:role/other"), {}, "role_arn is %s, asked" % ROLE),
    (dict(secrets_kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/other"), {},
     "secrets encryption cannot be changed or removed"),
    (dict(secrets_kms_key_arn=None), {}, "secrets_kms_key_arn is %s, asked None" % KEY),
    (dict(version="1.30"), {}, "EKS cannot downgrade"),
    (dict(version="1.33"), {}, "ask 1.32 first"),
    (dict(authentication_mode="API_AND_CONFIG_MAP"), {}, "authentication_mode is API, asked API_AND_CONFIG_MAP"),
])
def test_what_eks_cannot_change_fails_naming_it(client, extra, current, message):
    expect_describe(client, raw_cluster(**current))
    result = run(args(**extra), FailJson)
    assert message in result["msg"] and result["changed"] is False


def test_delete_waits_until_gone(client):
    expect_describe(client, raw_cluster())
    client.add_response("delete_cluster", {"cluster": raw_cluster(status="DELETING")}, {"name": NAME})
    expect_describe(client, raw_cluster(status="DELETING"))
    expect_not_found(client)
    result = run(dict(name=NAME, state="absent", region="us-east-1"))
    assert result["changed"] is True and result["cluster"] == {}


def test_delete_with_node_groups_says_so(client):
    expect_describe(client, raw_cluster())
    client.add_client_error("delete_cluster", "ResourceInUseException", "Cluster has nodegroups attached", 409)
    result = run(dict(name=NAME, state="absent", region="us-east-1"), FailJson)
    assert "still has node groups or Fargate profiles; delete them first" in result["msg"]


def test_wait_timeout_bounds_the_wait(client):
    expect_not_found(client)
    client.add_response("create_cluster", {"cluster": raw_cluster(status="CREATING")})
    expect_describe(client, raw_cluster(status="CREATING"))
    result = run(args(wait_timeout=0), FailJson)
    assert "timed out after 0s waiting for cluster nl2api-prod to be ACTIVE (last state: CREATING)" in result["msg"]


BAD_INPUT = [
    (dict(endpoint_public_access=True), "endpoint_public_access=true requires public_access_cidrs"),
    (dict(public_access_cidrs=["10.0.0.0/8"]), "public_access_cidrs can only be used with endpoint_public_access"),
    (dict(endpoint_public_access=True, public_access_cidrs=["10.0.0.1/8"]), "'10.0.0.1/8' is not an IPv4 network"),
    (dict(endpoint_private_access=False), "cannot both be false"),
    (dict(logging=["api", "kubelet"]), "logging"),
    (dict(version="131"), "version '131' must look like 1.31"),
    (dict(role_arn=None), "role_arn must not be empty"),
    (dict(subnet_ids=[]), "subnet_ids needs at least two subnets"),
    (dict(subnet_ids=["subnet-a"]), "subnet_ids needs at least two subnets"),
    (dict(secrets_kms_key_arn="alias/foo"), "secrets_kms_key_arn must be a KMS key ARN"),
    (dict(name="-bad"), "name '-bad' must be"),
    (dict(authentication_mode="CONFIG_MAP"), "authentication_mode"),
    (dict(access_entries=[dict(principal_arn="nobody")]), "access_entries[0].principal_arn 'nobody' is not"),
    (dict(access_entries=[dict(principal_arn=ADMIN), dict(principal_arn=ADMIN)]), "is listed twice"),
    (dict(access_entries=[dict(principal_arn=ADMIN, policies=[dict(policy_arn="arn:aws:iam::aws:policy/Admin")])]),
     "access_entries[0].policies[0].policy_arn"),
    (dict(access_entries=[dict(principal_arn=ADMIN, policies=[
        dict(policy_arn=ADMIN_POLICY, access_scope=dict(type="namespace"))])]),
     "type namespace requires namespaces"),
    (dict(access_entries=[dict(principal_arn=ADMIN, policies=[
        dict(policy_arn=ADMIN_POLICY, access_scope=dict(namespaces=["a"]))])]),
     "namespaces can only be used with type namespace"),
    (dict(access_entries=[dict(principal_arn=ADMIN, type="EC2_LINUX", kubernetes_groups=["x"])]),
     "only STANDARD entries take"),
]


@pytest.mark.parametrize("extra,message", BAD_INPUT, ids=[m for _e, m in BAD_INPUT])
def test_bad_input_fails_before_any_aws_call(client, extra, message):
    result = run(args(**extra), FailJson)
    assert message in result["msg"]
    assert client.made == []


@pytest.mark.parametrize("missing", ["role_arn", "subnet_ids"])
def test_state_present_requires_role_and_subnets(client, missing):
    module_args = args()
    del module_args[missing]
    result = run(module_args, FailJson)
    assert result["msg"] == "state is present but all of the following are missing: %s" % missing
    assert client.made == []


def test_state_absent_needs_neither_role_nor_subnets(client):
    expect_not_found(client)
    result = run(dict(name=NAME, state="absent", region="us-east-1"))
    assert result["changed"] is False and client.made == ["eks"]


def test_run_with_wait_joins_a_cluster_created_earlier_without_waiting(client):
    expect_describe(client, raw_cluster(status="CREATING"))
    expect_describe(client, raw_cluster(status="CREATING"))
    expect_describe(client, raw_cluster(status="ACTIVE"))
    expect_describe(client, raw_cluster(status="ACTIVE"))
    result = run(args())
    assert result["changed"] is False and result["cluster"]["status"] == "ACTIVE"


def test_config_map_mode_moves_to_api_in_two_updates(client):
    expect_describe(client, raw_cluster(mode="CONFIG_MAP"))
    expect_update(client, "update_cluster_config", {"name": NAME, "accessConfig": {
        "authenticationMode": "API_AND_CONFIG_MAP"}}, "a1")
    expect_update(client, "update_cluster_config", {"name": NAME, "accessConfig": {"authenticationMode": "API"}},
                  "a2")
    expect_describe(client, raw_cluster())
    result = run(args())
    assert result["actions"] == ["update_cluster_config", "update_cluster_config"]

"""nl2api.deploy's AWS modules run by Ansible itself (`ansible localhost -m ...` from the repository root with its
ansible.cfg) against moto in server mode: create, a second run that changes nothing, the properties read back with
boto3, a modification, a refused immutable change, bad input, delete.

What moto 5.2.5 cannot show is covered by the Stubber-based unit tests instead (tests/unit/plugins/modules/):
- ElastiCache: moto's ModifyReplicationGroup only applies description, node type, failover, Multi-AZ and snapshot
  retention; it ignores AuthToken/AuthTokenUpdateStrategy, windows, security groups and engine version, has no
  Increase/DecreaseReplicaCount and no ModifyCacheSubnetGroup, always creates one node (it ignores
  NumCacheClusters), does not model the member cache clusters, and keeps a deleted group in status "deleting"
  forever (so deletes here use wait=false). -> test_elasticache_replication_group.py
- EKS: moto has no access entries / access policies, AssociateEncryptionConfig, UpdateClusterVersion,
  DescribeUpdate or accessConfig, and its UpdateClusterConfig replaces the whole VPC config. -> test_eks_cluster.py
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.moto_server import MotoServer

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "Funct10nal-Test-T0ken-#$!"  # 25 characters of AWS's token alphabet
REDIS_ID = "nl2api-test-redis"
CLUSTER = "nl2api-test"
ROLE_ARN = "arn:aws:iam::123456789012:role/nl2api-test-cluster"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"


def ansible_binary() -> str:
    for candidate in (str(Path(sys.executable).parent / "ansible"), str(ROOT / ".venv" / "bin" / "ansible"),
                      shutil.which("ansible")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("the ansible command is not installed (make setup)", pytrace=False)


class Runner:
    """Runs one module on localhost through `ansible` against moto; keeps every stdout to grep for secrets."""

    def __init__(self, aws: MotoServer) -> None:
        self.aws = aws
        self.outputs: list[str] = []

    def raw(self, module: str, args: dict[str, Any], *extra: str,
            callback: str = "ansible.posix.json") -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        env.update(self.aws.environment())
        env.update(
            ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
            ANSIBLE_STDOUT_CALLBACK=callback,
            ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
            ANSIBLE_NOCOLOR="1",
        )
        # endpoint_url and region given explicitly (the environment also has them, for the credentials' sake)
        args = dict(args, endpoint_url=self.aws.endpoint_url, region=self.aws.region)
        cmd = [ansible_binary(), "localhost", "-i", "localhost,", "-c", "local", "-v",
               "-e", "ansible_python_interpreter=%s" % sys.executable,
               "-m", "nl2api.deploy.%s" % module, "-a", json.dumps(args), *extra]
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
        self.outputs.append(done.stdout + done.stderr)
        return done

    def playbook(self, workdir: Path, module: str, args: dict[str, Any], *extra: str) -> subprocess.CompletedProcess[str]:
        """Run the module as the one task of a playbook, with the default (human-readable) output; auth_token comes
        from a vars file, the way a vaulted variable would."""
        env = dict(os.environ)
        env.update(self.aws.environment())
        env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
        task_args = dict(args, endpoint_url=self.aws.endpoint_url, region=self.aws.region)
        secrets = {}
        if "auth_token" in task_args:
            secrets["test_auth_token"] = task_args["auth_token"]
            task_args["auth_token"] = "{{ test_auth_token }}"
        (workdir / "secrets.json").write_text(json.dumps(secrets))
        play = [{"name": "Run %s" % module, "hosts": "localhost", "gather_facts": False,
                 "tasks": [{"name": "Run the module", "nl2api.deploy.%s" % module: task_args}]}]
        (workdir / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
        cmd = [str(Path(ansible_binary()).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local",
               "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", "@%s" % (workdir / "secrets.json"),
               str(workdir / "play.yml"), *extra]
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
        self.outputs.append(done.stdout + done.stderr)
        return done

    def __call__(self, module: str, args: dict[str, Any], *extra: str) -> tuple[int, dict[str, Any]]:
        done = self.raw(module, args, *extra)
        try:  # with -v, ansible first says which config file it uses
            output = json.loads(done.stdout[done.stdout.index("{"):])
        except (ValueError, json.JSONDecodeError):
            pytest.fail("ansible printed no JSON (rc=%d):\n%s\n%s" % (done.returncode, done.stdout, done.stderr))
        return done.returncode, output["plays"][0]["tasks"][0]["hosts"]["localhost"]

    def assert_no_secret(self, secret: str) -> None:
        assert self.outputs, "nothing was run"
        for output in self.outputs:
            assert secret not in output


@pytest.fixture
def run(aws: MotoServer) -> Runner:
    return Runner(aws)


@pytest.fixture
def network(aws: MotoServer) -> dict[str, Any]:
    """A VPC with two subnets and a security group in moto."""
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.%d.0/24" % number,
                                 AvailabilityZone="us-east-1%s" % zone)["Subnet"]["SubnetId"]
               for number, zone in ((1, "a"), (2, "b"))]
    group = ec2.create_security_group(GroupName="nl2api-test", Description="test", VpcId=vpc)["GroupId"]
    return {"vpc_id": vpc, "subnet_ids": subnets, "security_group_id": group}


def redis_args(network: dict[str, Any], **extra: Any) -> dict[str, Any]:
    args = dict(replication_group_id=REDIS_ID, description="nl2api queue", cache_node_type="cache.t4g.micro",
                num_cache_clusters=1, auth_token=TOKEN, cache_subnet_group=REDIS_ID, subnet_ids=network["subnet_ids"],
                security_group_ids=[network["security_group_id"]], snapshot_retention_limit=1,
                snapshot_window="03:00-04:00", maintenance_window="sun:05:00-sun:06:00",
                tags={"Name": REDIS_ID, "nl2api.io/environment": "test"})
    args.update(extra)
    return args


def test_elasticache_replication_group_lifecycle(aws, run, network, tmp_path):
    elasticache = aws.client("elasticache")
    args = redis_args(network)

    rc, result = run("elasticache_replication_group", args, "--check", "--diff")
    assert rc == 0 and result["changed"] is True, result
    assert result["actions"] == ["create_cache_subnet_group", "create_replication_group"]
    assert elasticache.describe_replication_groups()["ReplicationGroups"] == []  # check mode created nothing

    rc, result = run("elasticache_replication_group", args, "--diff")
    assert rc == 0 and result["changed"] is True, result
    assert result["auth_token_updated"] is True
    group = result["replication_group"]
    assert group["status"] == "available" and group["primary_endpoint"]["address"].startswith("master.")
    assert group["port"] == 6379
    raw = elasticache.describe_replication_groups(ReplicationGroupId=REDIS_ID)["ReplicationGroups"][0]
    assert raw["TransitEncryptionEnabled"] is True and raw["AtRestEncryptionEnabled"] is True
    assert raw["AuthTokenEnabled"] is True and raw["CacheNodeType"] == "cache.t4g.micro"
    assert raw["Description"] == "nl2api queue" and raw["SnapshotRetentionLimit"] == 1
    tags = elasticache.list_tags_for_resource(ResourceName=raw["ARN"])["TagList"]
    assert {t["Key"]: t["Value"] for t in tags} == {"Name": REDIS_ID, "nl2api.io/environment": "test"}
    subnet_group = elasticache.describe_cache_subnet_groups(CacheSubnetGroupName=REDIS_ID)["CacheSubnetGroups"][0]
    assert sorted(s["SubnetIdentifier"] for s in subnet_group["Subnets"]) == sorted(network["subnet_ids"])

    rc, result = run("elasticache_replication_group", args, "--diff")
    assert rc == 0 and result["changed"] is False and result["actions"] == [], result

    # Rotating the token always reports a change (AWS cannot say whether it differs). Run from a playbook (the token
    # in a vars file, as from a vault) with the human-readable output at -vvv and --diff: the token is not shown.
    # (moto accepts and ignores AuthToken on modify.)
    done = run.playbook(tmp_path, "elasticache_replication_group", dict(args, update_auth_token=True), "-vvv", "--diff")
    assert done.returncode == 0 and "changed: [localhost]" in done.stdout, done.stdout
    assert "auth_token_updated: true" in done.stdout

    modified = redis_args(network, description="nl2api queue and cache", cache_node_type="cache.t4g.small",
                          snapshot_retention_limit=3, tags={"Name": REDIS_ID, "team": "nl2api"})
    rc, result = run("elasticache_replication_group", modified, "--diff")
    assert rc == 0 and result["changed"] is True, result
    assert result["actions"] == ["modify_replication_group", "modify_replication_group", "add_tags_to_resource",
                                 "remove_tags_from_resource"]
    assert result["diff"]["before"]["cache_node_type"] == "cache.t4g.micro"
    assert result["diff"]["after"]["cache_node_type"] == "cache.t4g.small"
    raw = elasticache.describe_replication_groups(ReplicationGroupId=REDIS_ID)["ReplicationGroups"][0]
    assert (raw["Description"], raw["CacheNodeType"], raw["SnapshotRetentionLimit"]) == (
        "nl2api queue and cache", "cache.t4g.small", 3)
    tags = elasticache.list_tags_for_resource(ResourceName=raw["ARN"])["TagList"]
    assert {t["Key"]: t["Value"] for t in tags} == {"Name": REDIS_ID, "team": "nl2api"}
    rc, result = run("elasticache_replication_group", modified)
    assert rc == 0 and result["changed"] is False, result

    rc, result = run("elasticache_replication_group", dict(modified, at_rest_encryption=False))
    assert rc != 0 and "cannot change at_rest_encryption in place" in result["msg"], result

    rc, result = run("elasticache_replication_group", {"replication_group_id": REDIS_ID, "state": "absent",
                                                       "wait": False})
    assert rc == 0 and result["changed"] is True and result["actions"] == ["delete_replication_group"], result
    raw = elasticache.describe_replication_groups(ReplicationGroupId=REDIS_ID)["ReplicationGroups"][0]
    assert raw["Status"] == "deleting"  # moto never finishes deleting
    rc, result = run("elasticache_replication_group", {"replication_group_id": REDIS_ID, "state": "absent",
                                                       "wait": False})
    assert rc == 0 and result["changed"] is False, result

    run.assert_no_secret(TOKEN)


@pytest.mark.parametrize("extra,message", [
    ({"multi_az": True}, "multi_az=true requires automatic_failover=true"),
    ({"automatic_failover": True}, "automatic_failover=true needs num_cache_clusters >= 2"),
    ({"auth_token": "short"}, "auth_token must be 16 to 128 characters"),
    ({"snapshot_window": "05:00-06:00", "maintenance_window": "sun:05:30-sun:06:30"},
     "snapshot_window (05:00-06:00) overlaps maintenance_window (sun:05:30-sun:06:30)"),
])
def test_elasticache_bad_input_is_rejected_before_any_call(aws, run, network, extra, message):
    rc, result = run("elasticache_replication_group", redis_args(network, **extra))
    assert rc != 0 and message in result["msg"], result
    elasticache = aws.client("elasticache")
    assert elasticache.describe_replication_groups()["ReplicationGroups"] == []
    assert elasticache.describe_cache_subnet_groups()["CacheSubnetGroups"] == []  # not even the subnet group
    run.assert_no_secret(TOKEN)


def cluster_args(network: dict[str, Any], **extra: Any) -> dict[str, Any]:
    args = dict(name=CLUSTER, version="1.31", role_arn=ROLE_ARN, subnet_ids=network["subnet_ids"],
                security_group_ids=[network["security_group_id"]], secrets_kms_key_arn=KEY_ARN,
                tags={"Name": CLUSTER, "nl2api.io/environment": "test"})
    args.update(extra)
    return args


def test_eks_cluster_and_kubeconfig_lifecycle(aws, run, network, tmp_path):
    eks = aws.client("eks")
    args = cluster_args(network)

    rc, result = run("eks_cluster", args, "--check")
    assert rc == 0 and result["changed"] is True and result["actions"] == ["create_cluster"], result
    assert eks.list_clusters()["clusters"] == []

    rc, result = run("eks_cluster", args, "--diff")
    assert rc == 0 and result["changed"] is True, result
    cluster = result["cluster"]
    assert cluster["status"] == "ACTIVE" and cluster["endpoint"].startswith("https://")
    assert cluster["oidc_issuer"].startswith("https://oidc.eks.us-east-1.amazonaws.com/id/")
    raw = eks.describe_cluster(name=CLUSTER)["cluster"]
    assert raw["version"] == "1.31" and raw["roleArn"] == ROLE_ARN
    vpc = raw["resourcesVpcConfig"]
    assert (vpc["endpointPrivateAccess"], vpc["endpointPublicAccess"]) == (True, False)
    assert sorted(vpc["subnetIds"]) == sorted(network["subnet_ids"])
    enabled = {t for group in raw["logging"]["clusterLogging"] if group["enabled"] for t in group["types"]}
    assert enabled == {"api", "audit", "authenticator", "controllerManager", "scheduler"}
    assert raw["encryptionConfig"] == [{"resources": ["secrets"], "provider": {"keyArn": KEY_ARN}}]
    assert raw["tags"] == {"Name": CLUSTER, "nl2api.io/environment": "test"}

    rc, result = run("eks_cluster", args, "--diff")
    assert rc == 0 and result["changed"] is False and result["actions"] == [], result

    kubeconfig = tmp_path / "kubeconfig"
    kube_args = {"cluster_name": CLUSTER, "path": str(kubeconfig)}
    rc, result = run("eks_kubeconfig", kube_args)
    assert rc == 0 and result["changed"] is True and result["server"] == raw["endpoint"], result
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    document = yaml.safe_load(kubeconfig.read_text())
    assert document["clusters"][0]["cluster"]["certificate-authority-data"] == raw["certificateAuthority"]["data"]
    assert document["users"][0]["user"]["exec"]["args"][:6] == ["eks", "get-token", "--cluster-name", CLUSTER,
                                                                "--region", "us-east-1"]
    rc, result = run("eks_kubeconfig", kube_args)
    assert rc == 0 and result["changed"] is False, result

    modified = cluster_args(network, endpoint_public_access=True, public_access_cidrs=["203.0.113.0/24"],
                            logging=["api", "audit"], tags={"Name": CLUSTER})
    rc, result = run("eks_cluster", modified, "--diff")
    assert rc == 0 and result["changed"] is True, result
    assert result["actions"] == ["update_cluster_config", "update_cluster_config", "untag_resource"]
    raw = eks.describe_cluster(name=CLUSTER)["cluster"]
    assert raw["resourcesVpcConfig"]["endpointPublicAccess"] is True
    assert raw["resourcesVpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]
    enabled = {t for group in raw["logging"]["clusterLogging"] if group["enabled"] for t in group["types"]}
    assert enabled == {"api", "audit"} and raw["tags"] == {"Name": CLUSTER}
    rc, result = run("eks_cluster", modified)
    assert rc == 0 and result["changed"] is False, result

    rc, result = run("eks_cluster", dict(modified, role_arn="arn:aws:iam::123456789012:role/other"))
    assert rc != 0 and "role_arn is %s, asked" % ROLE_ARN in result["msg"], result

    rc, result = run("eks_cluster", {"name": CLUSTER, "state": "absent"})
    assert rc == 0 and result["changed"] is True and result["actions"] == ["delete_cluster"], result
    assert eks.list_clusters()["clusters"] == []
    rc, result = run("eks_cluster", {"name": CLUSTER, "state": "absent"})
    assert rc == 0 and result["changed"] is False, result


@pytest.mark.parametrize("extra,message", [
    ({"endpoint_public_access": True}, "endpoint_public_access=true requires public_access_cidrs"),
    ({"logging": ["api", "kubelet"]}, "logging"),
    ({"subnet_ids": ["subnet-1"]}, "subnet_ids needs at least two subnets"),
])
def test_eks_bad_input_is_rejected_before_any_call(aws, run, network, extra, message):
    rc, result = run("eks_cluster", cluster_args(network, **extra))
    assert rc != 0 and message in result["msg"], result
    assert aws.client("eks").list_clusters()["clusters"] == []


OIDC_ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"


def test_iam_oidc_provider_lifecycle(aws, run):
    """Create (check mode first), a second run that changes nothing, thumbprint and tag updates read back with boto3,
    delete. moto has no Add/RemoveClientIDToOpenIDConnectProvider: client ID changes are unit-tested
    (tests/unit/plugins/modules/test_iam_oidc_provider.py)."""
    iam = aws.client("iam")
    args = {"url": "https://" + OIDC_ISSUER, "tags": {"Name": "nl2api-test-oidc", "nl2api.io/environment": "test"}}

    rc, result = run("iam_oidc_provider", args, "--check")
    assert rc == 0 and result["changed"] is True and result["actions"] == ["create_open_id_connect_provider"], result
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []

    rc, result = run("iam_oidc_provider", args, "--diff")
    assert rc == 0 and result["changed"] is True, result
    arn = result["oidc_provider"]["arn"]
    assert arn == "arn:aws:iam::123456789012:oidc-provider/" + OIDC_ISSUER
    raw = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert raw["Url"].removeprefix("https://") == OIDC_ISSUER
    assert raw["ClientIDList"] == ["sts.amazonaws.com"]
    assert raw["ThumbprintList"] == ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]
    tags = {t["Key"]: t["Value"] for t in iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"]}
    assert tags == args["tags"]

    rc, result = run("iam_oidc_provider", args, "--diff")
    assert rc == 0 and result["changed"] is False and result["actions"] == [], result
    assert result["oidc_provider"]["arn"] == arn

    modified = dict(args, thumbprints=["a" * 40], tags={"Name": "nl2api-test-oidc"})
    rc, result = run("iam_oidc_provider", modified)
    assert rc == 0 and result["changed"] is True, result
    assert result["actions"] == ["update_open_id_connect_provider_thumbprint", "untag_open_id_connect_provider"]
    raw = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert raw["ThumbprintList"] == ["a" * 40]
    tags = {t["Key"]: t["Value"] for t in iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"]}
    assert tags == {"Name": "nl2api-test-oidc"}
    rc, result = run("iam_oidc_provider", modified)
    assert rc == 0 and result["changed"] is False, result

    rc, result = run("iam_oidc_provider", {"url": "https://" + OIDC_ISSUER, "thumbprints": ["nothex"]})
    assert rc != 0 and "thumbprints[0]" in result["msg"], result

    rc, result = run("iam_oidc_provider", {"url": "https://" + OIDC_ISSUER, "state": "absent"})
    assert rc == 0 and result["changed"] is True and result["actions"] == ["delete_open_id_connect_provider"], result
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    rc, result = run("iam_oidc_provider", {"url": "https://" + OIDC_ISSUER, "state": "absent"})
    assert rc == 0 and result["changed"] is False, result

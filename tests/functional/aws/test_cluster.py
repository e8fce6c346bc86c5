"""nl2api.deploy.cluster: the EKS cluster of the shared provisioning run read back with boto3: IAM roles, KMS key,
control plane, node groups, the IAM OIDC provider, IRSA roles and the kubeconfig."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import yaml

from .conftest import Provisioned


def test_iam_roles_and_kms_key(provisioned: Provisioned) -> None:
    iam = provisioned.moto.client("iam")
    cluster_role = iam.get_role(RoleName="nl2api-dev-cluster")["Role"]
    statement = cluster_role["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Principal"] == {"Service": "eks.amazonaws.com"}
    attached = {p["PolicyName"] for p in iam.list_attached_role_policies(RoleName="nl2api-dev-cluster")["AttachedPolicies"]}
    assert attached == {"AmazonEKSClusterPolicy"}
    attached = {p["PolicyName"] for p in iam.list_attached_role_policies(RoleName="nl2api-dev-nodes")["AttachedPolicies"]}
    assert attached == {"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"}
    kms = provisioned.moto.client("kms")
    aliases = {a["AliasName"]: a for a in kms.list_aliases()["Aliases"]}
    key_id = aliases["alias/nl2api-dev-eks-secrets"]["TargetKeyId"]
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True


def test_control_plane(provisioned: Provisioned) -> None:
    cluster = provisioned.moto.client("eks").describe_cluster(name="nl2api-dev")["cluster"]
    vpc = cluster["resourcesVpcConfig"]
    assert vpc["endpointPrivateAccess"] is True and vpc["endpointPublicAccess"] is False
    assert set(vpc["subnetIds"]) == set(provisioned.outputs["network"]["private_subnet_ids"])
    logging = cluster["logging"]["clusterLogging"]
    enabled = {t for entry in logging if entry["enabled"] for t in entry["types"]}
    assert enabled == {"api", "audit", "authenticator", "controllerManager", "scheduler"}
    key_arn = cluster["encryptionConfig"][0]["provider"]["keyArn"]
    assert cluster["encryptionConfig"][0]["resources"] == ["secrets"] and ":key/" in key_arn
    assert cluster["roleArn"].endswith(":role/nl2api-dev-cluster")


def test_node_groups(provisioned: Provisioned) -> None:
    eks = provisioned.moto.client("eks")
    api = eks.describe_nodegroup(clusterName="nl2api-dev", nodegroupName="api")["nodegroup"]
    workers = eks.describe_nodegroup(clusterName="nl2api-dev", nodegroupName="workers")["nodegroup"]
    assert api["capacityType"] == "ON_DEMAND" and workers["capacityType"] == "SPOT"
    assert api["labels"] == {"nl2api.io/pool": "api"} and workers["labels"] == {"nl2api.io/pool": "workers"}
    assert workers["taints"] == [{"key": "nl2api.io/pool", "value": "workers", "effect": "NO_SCHEDULE"}]
    assert not api.get("taints")
    assert api["nodeRole"].endswith(":role/nl2api-dev-nodes")


def oidc_provider_arn(provisioned: Provisioned) -> str:
    """ARN of the IAM OIDC provider whose URL is the cluster's issuer (asserting there is exactly one)."""
    iam = provisioned.moto.client("iam")
    issuer = provisioned.moto.client("eks").describe_cluster(name="nl2api-dev")["cluster"]["identity"]["oidc"]["issuer"]
    matches = []
    for item in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=item["Arn"])
        if provider["Url"].removeprefix("https://") == issuer.removeprefix("https://"):
            matches.append(item["Arn"])
    assert len(matches) == 1, f"IAM OIDC providers for {issuer}: {matches}"
    return matches[0]


def test_oidc_provider(provisioned: Provisioned) -> None:
    iam = provisioned.moto.client("iam")
    arn = oidc_provider_arn(provisioned)
    assert provisioned.outputs["cluster"]["oidc_provider_arn"] == arn
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert provider["ClientIDList"] == ["sts.amazonaws.com"]
    assert provider["ThumbprintList"] == ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]
    tags = {t["Key"]: t["Value"] for t in iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"]}
    assert tags["Name"] == "nl2api-dev-oidc" and tags["nl2api.io/managed-by"] == "nl2api.deploy"


def test_service_account_roles(provisioned: Provisioned) -> None:
    iam = provisioned.moto.client("iam")
    issuer = provisioned.outputs["cluster"]["oidc_issuer"].removeprefix("https://")
    provider_arn = oidc_provider_arn(provisioned)
    arns = provisioned.outputs["cluster"]["service_account_role_arns"]
    assert set(arns) == {"nl2api-api", "nl2api-worker"}
    for account in ("nl2api-api", "nl2api-worker"):
        role = iam.get_role(RoleName=f"nl2api-dev-{account}")["Role"]
        assert role["Arn"] == arns[account]
        document = role["AssumeRolePolicyDocument"]
        if isinstance(document, str):
            document = json.loads(document)
        statement = document["Statement"][0]
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert statement["Principal"]["Federated"] == provider_arn
        assert statement["Condition"]["StringEquals"] == {
            f"{issuer}:sub": f"system:serviceaccount:nl2api:{account}", f"{issuer}:aud": "sts.amazonaws.com"}


def test_kubeconfig(provisioned: Provisioned) -> None:
    path = Path(provisioned.outputs["kubeconfig"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    cluster = provisioned.moto.client("eks").describe_cluster(name="nl2api-dev")["cluster"]
    assert config["clusters"][0]["cluster"]["server"] == cluster["endpoint"]
    user = config["users"][0]["user"]
    assert "token" not in user
    assert user["exec"]["command"] == "aws"
    assert user["exec"]["args"][:4] == ["eks", "get-token", "--cluster-name", "nl2api-dev"]

"""nl2api.deploy.cluster: the EKS cluster of the shared provisioning run read back with boto3: IAM roles, KMS key,
control plane, node groups, the IAM OIDC provider, IRSA roles and the kubeconfig."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path
from typing import Any

import yaml
from ansible_collections.nl2api.deploy.plugins.module_utils.node_pools import chart_placement
from support.ansible_cli import find_helm

from .conftest import Provisioned

ROOT = Path(__file__).resolve().parents[3]
#: The EKS API's taint effects, as Kubernetes spells them on the nodes.
NODE_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "PREFER_NO_SCHEDULE": "PreferNoSchedule", "NO_EXECUTE": "NoExecute"}


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


def tolerates(pod: dict[str, Any], taint: dict[str, str]) -> bool:
    """Whether a pod spec tolerates a node taint, by the scheduler's matching rules."""
    for toleration in pod.get("tolerations") or []:
        operator = toleration.get("operator", "Equal")
        key_matches = toleration.get("key") == taint["key"] or (not toleration.get("key") and operator == "Exists")
        value_matches = operator == "Exists" or toleration.get("value", "") == taint.get("value", "")
        if key_matches and value_matches and toleration.get("effect") in (None, "", taint["effect"]):
            return True
    return False


def rendered_pods(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The pod specs of the staging release and of one batch, by app.kubernetes.io/component."""
    batch = {"batch": {"enabled": True, "producer": {"label": "L", "tags": ["smoke"]}},
             "worker": {"batchId": "0b7e3c1e-1111-4222-8333-444455556666"}, "entityService": {"enabled": True}}
    pods = {}
    for extra in ({"entityService": {"enabled": True}}, batch):
        rendered = subprocess.run(
            [find_helm(), "template", "rel", str(ROOT / "deploy" / "helm" / "nl2api"),
             "-f", str(ROOT / "deploy" / "helm" / "environments" / "staging.yaml"), "-f", "-"],
            input=json.dumps({**values, **{k: {**values.get(k, {}), **v} for k, v in extra.items()}}),
            capture_output=True, text=True, check=True)
        for doc in yaml.safe_load_all(rendered.stdout):
            if doc and doc["kind"] in ("Deployment", "Job"):
                pods[doc["metadata"]["labels"]["app.kubernetes.io/component"]] = doc["spec"]["template"]["spec"]
    return pods


def test_the_pods_land_on_the_node_groups_made_for_them(provisioned: Provisioned) -> None:
    """The node groups the cluster role made (read back from EKS) and the placement the app role gives the chart
    come from one definition (module_utils/node_pools.py): a label or taint changed on one side only fails here."""
    eks = provisioned.moto.client("eks")
    groups = {name: eks.describe_nodegroup(clusterName="nl2api-dev", nodegroupName=name)["nodegroup"]
              for name in ("api", "workers")}
    taints = {name: [dict(t, effect=NODE_EFFECTS[t["effect"]]) for t in group.get("taints") or []]
              for name, group in groups.items()}
    assert taints["workers"], "the spot workers group must be tainted, or any pod lands there"
    pods = rendered_pods(chart_placement("aws"))
    placed = {"api": "api", "entity-service": "api", "worker": "workers", "producer": "workers"}
    assert set(placed) <= set(pods), sorted(pods)
    for component, pool in placed.items():
        pod = pods[component]
        assert pod.get("nodeSelector") and pod["nodeSelector"].items() <= groups[pool]["labels"].items(), component
        assert all(tolerates(pod, taint) for taint in taints[pool]), f"{component} does not tolerate {taints[pool]}"
        for other in set(groups) - {pool}:
            assert not pod["nodeSelector"].items() <= groups[other]["labels"].items(), f"{component} fits {other}"
    # Nothing else of the release tolerates the workers' taint: the spot pool is the workers' alone.
    for component, pod in pods.items():
        if placed.get(component) != "workers":
            assert not any(tolerates(pod, taint) for taint in taints["workers"]), component


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

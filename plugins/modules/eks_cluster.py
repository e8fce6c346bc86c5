#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

# Not community.aws.eks_cluster: it creates and deletes a cluster (name, version, role, subnets, tags) but sets no
# endpoint access, logging, secrets encryption, authentication mode or access entries, and updates nothing in place.

DOCUMENTATION = r"""
---
module: eks_cluster
short_description: Create, update and delete an EKS cluster with private endpoint, logging, secrets encryption and access entries
version_added: 0.1.0
author:
  - nl2api-deploy maintainers (@nl2api)
description:
  - "Manages an Amazon EKS control plane: Kubernetes version, VPC placement, API endpoint access, control plane
    logging, envelope encryption of Kubernetes secrets with a KMS key, the authentication mode, tags and IAM access
    entries with their access policies."
  - The module reads the cluster, compares it with the options and only calls AWS for what differs; a second run
    with the same options changes nothing. Options left unset are not managed.
  - "EKS runs one update at a time, so the module applies them in order, each waiting until EKS reports it done
    (C(DescribeUpdate)): version upgrade (C(UpdateClusterVersion), one minor version), subnets and security groups,
    endpoint access, logging, authentication mode (C(UpdateClusterConfig)), secrets encryption
    (C(AssociateEncryptionConfig)); then tags and access entries."
  - "What EKS cannot change makes the module fail, naming it, before any change: O(role_arn), a different or removed
    O(secrets_kms_key_arn) once set, a lower O(version) or one more than one minor version ahead, and
    O(authentication_mode) going back from V(API) to V(API_AND_CONFIG_MAP)."
  - Access entries are only added or updated (groups, username, policies of the listed principals); entries not
    listed, such as the ones EKS creates for node roles, are left alone. The access entry APIs are not called when
    O(access_entries) is empty.
  - Invalid input is rejected before any AWS call, with a message naming the option.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - nl2api.deploy.aws_client
  - nl2api.deploy.aws_client.tags
attributes:
  check_mode:
    details: Makes only C(Describe*) and C(List*) calls and returns the cluster as it would be.
  diff_mode:
    details: Before and after of the managed properties and access entries.
options:
  state:
    description:
      - V(present) creates or updates the cluster, V(absent) deletes it (its node groups must be deleted first).
    type: str
    choices: [present, absent]
    default: present
  name:
    description:
      - Name of the cluster.
    type: str
    required: true
    aliases: [cluster_name]
  version:
    description:
      - Kubernetes version, for example V(1.31). When not set, EKS's default on creation, and not managed afterwards.
    type: str
  role_arn:
    description:
      - ARN of the IAM role the control plane uses. Required with O(state=present); cannot be changed.
    type: str
  subnet_ids:
    description:
      - Subnets (in at least two availability zones) for the control plane's network interfaces. Required with
        O(state=present).
    type: list
    elements: str
  security_group_ids:
    description:
      - Additional security groups of the control plane's network interfaces.
    type: list
    elements: str
  endpoint_private_access:
    description:
      - Reach the API server from inside the VPC.
    type: bool
    default: true
  endpoint_public_access:
    description:
      - Reach the API server from the internet, from O(public_access_cidrs) only.
    type: bool
    default: false
  public_access_cidrs:
    description:
      - CIDR blocks allowed to reach the public endpoint. Required (non-empty) with O(endpoint_public_access=true), only
        with it.
    type: list
    elements: str
  secrets_kms_key_arn:
    description:
      - ARN of the KMS key that encrypts Kubernetes secrets. Can be added to an existing cluster, never changed or
        removed afterwards.
    type: str
  logging:
    description:
      - Control plane log types sent to CloudWatch Logs; the others are switched off. V([]) switches all off.
    type: list
    elements: str
    choices: [api, audit, authenticator, controllerManager, scheduler]
    default: [api, audit, authenticator, controllerManager, scheduler]
  authentication_mode:
    description:
      - V(API) uses only access entries; V(API_AND_CONFIG_MAP) also the C(aws-auth) ConfigMap. Can go from
        V(API_AND_CONFIG_MAP) to V(API), not back.
    type: str
    choices: [API, API_AND_CONFIG_MAP]
    default: API
  access_entries:
    description:
      - IAM principals given access to the cluster. Applied once the cluster is C(ACTIVE) (the module waits for it
        when there are entries to apply, whatever O(wait)).
    type: list
    elements: dict
    default: []
    suboptions:
      principal_arn:
        description: ARN of the IAM role or user.
        type: str
        required: true
      type:
        description: Type of the entry; only V(STANDARD) entries take groups, a username and policies.
        type: str
        choices: [STANDARD, EC2_LINUX, EC2_WINDOWS, FARGATE_LINUX]
        default: STANDARD
      kubernetes_groups:
        description: Kubernetes groups of the principal (for RBAC bindings of your own).
        type: list
        elements: str
      username:
        description: Kubernetes username of the principal. When not set, EKS's default on creation.
        type: str
      policies:
        description: EKS access policies associated with the entry; policies of the entry not listed are removed.
        type: list
        elements: dict
        default: []
        suboptions:
          policy_arn:
            description: ARN of the access policy, for example
              C(arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy).
            type: str
            required: true
          access_scope:
            description: Where the policy applies.
            type: dict
            suboptions:
              type:
                description: The whole cluster or some namespaces.
                type: str
                choices: [cluster, namespace]
                default: cluster
              namespaces:
                description: Namespaces, with O(access_entries[].policies[].access_scope.type=namespace) only.
                type: list
                elements: str
  wait:
    description:
      - Wait until the cluster is C(ACTIVE) after creating or updating it, or gone after deleting it. Between two
        updates the module always waits.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for each of these states before failing.
    type: int
    default: 1800
notes:
  - moto (the AWS mock) has no access entries, encryption association, version updates or update tracking; those
    requests are unit-tested against the real service model with botocore's Stubber.
seealso:
  - module: community.aws.eks_cluster
  - module: community.aws.eks_nodegroup
  - module: nl2api.deploy.eks_kubeconfig
"""

EXAMPLES = r"""
- name: EKS control plane for nl2api (private endpoint, all logs, secrets encrypted)
  nl2api.deploy.eks_cluster:
    name: nl2api-prod
    version: "1.31"
    role_arn: "{{ cluster_role.iam_role.arn }}"
    subnet_ids: "{{ network_outputs.private_subnet_ids }}"
    secrets_kms_key_arn: "{{ cluster_kms.key_arn }}"
    access_entries:
      - principal_arn: arn:aws:iam::123456789012:role/nl2api-deployer
        policies:
          - policy_arn: arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy
      - principal_arn: arn:aws:iam::123456789012:role/nl2api-readonly
        policies:
          - policy_arn: arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy
            access_scope: {type: namespace, namespaces: [nl2api]}
    tags:
      Name: nl2api-prod-cluster
  register: eks

- name: Open the public endpoint to the office only
  nl2api.deploy.eks_cluster:
    name: nl2api-prod
    role_arn: "{{ cluster_role.iam_role.arn }}"
    subnet_ids: "{{ network_outputs.private_subnet_ids }}"
    endpoint_public_access: true
    public_access_cidrs: [203.0.113.0/24]
"""

RETURN = r"""
extends_documentation_fragment:
  - nl2api.deploy.aws_client
cluster:
  description: The cluster after the run (as it would be, in check mode); empty when absent.
  returned: always
  type: dict
  contains:
    name: {description: "Name.", type: str, returned: success}
    arn: {description: "ARN.", type: str, returned: success}
    status: {description: "C(CREATING), C(ACTIVE), C(UPDATING), C(DELETING) ...", type: str, returned: success}
    version: {description: "Kubernetes version.", type: str, returned: success}
    platform_version: {description: "EKS platform version.", type: str, returned: success}
    endpoint: {description: "URL of the API server.", type: str, returned: success}
    certificate_authority: {description: "Base64 PEM of the cluster CA.", type: str, returned: success}
    oidc_issuer: {description: "OIDC issuer URL (for IRSA).", type: str, returned: success}
    role_arn: {description: "Control plane role.", type: str, returned: success}
    vpc_id: {description: "VPC of the cluster.", type: str, returned: success}
    subnet_ids: {description: "Subnets.", type: list, elements: str, returned: success}
    security_group_ids: {description: "Additional security groups.", type: list, elements: str, returned: success}
    cluster_security_group_id: {description: "Security group EKS created for the cluster.", type: str, returned: success}
    endpoint_private_access: {description: "Private endpoint on.", type: bool, returned: success}
    endpoint_public_access: {description: "Public endpoint on.", type: bool, returned: success}
    public_access_cidrs: {description: "CIDRs of the public endpoint.", type: list, elements: str, returned: success}
    logging: {description: "Enabled log types.", type: list, elements: str, returned: success}
    secrets_kms_key_arn: {description: "KMS key of secrets encryption (null when off).", type: str, returned: success}
    authentication_mode: {description: "Authentication mode (null when unknown).", type: str, returned: success}
    tags: {description: "Tags.", type: dict, returned: success}
    access_entries:
      description: The listed entries as they are (principal_arn, type, kubernetes_groups, username, policies).
      type: list
      elements: dict
      returned: success
actions:
  sample: [create_cluster, create_access_entry, associate_access_policy]
"""

import ipaddress
import re

from ansible_collections.nl2api.deploy.plugins.module_utils.aws_client import (
    AwsCallError,
    AwsResource,
    WaitTimeout,
    aws_argument_spec,
    aws_tags_spec,
    merged_tags,
    run_resource_module,
    tag_changes,
    wait_until,
)

LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
NAME_PATTERN = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")
VERSION_PATTERN = re.compile(r"^\d+\.\d+$")
PRINCIPAL_PATTERN = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:.+$")
POLICY_PATTERN = re.compile(r"^arn:aws[a-z-]*:eks::aws:cluster-access-policy/[A-Za-z0-9]+$")
KMS_PATTERN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/.+$")
POLL_DELAY = 20.0
#: What creating (or updating) a cluster needs.
REQUIRED_IF = [("state", "present", ["role_arn", "subnet_ids"])]


def argument_spec():
    spec = aws_argument_spec()
    scope = dict(type=dict(type="str", choices=["cluster", "namespace"], default="cluster"),
                 namespaces=dict(type="list", elements="str"))
    policy = dict(policy_arn=dict(type="str", required=True), access_scope=dict(type="dict", options=scope))
    entry = dict(
        principal_arn=dict(type="str", required=True),
        type=dict(type="str", choices=["STANDARD", "EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX"], default="STANDARD"),
        kubernetes_groups=dict(type="list", elements="str"),
        username=dict(type="str"),
        policies=dict(type="list", elements="dict", options=policy, default=[]),
    )
    spec.update(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        name=dict(type="str", required=True, aliases=["cluster_name"]),
        version=dict(type="str"),
        role_arn=dict(type="str"),
        subnet_ids=dict(type="list", elements="str"),
        security_group_ids=dict(type="list", elements="str"),
        endpoint_private_access=dict(type="bool", default=True),
        endpoint_public_access=dict(type="bool", default=False),
        public_access_cidrs=dict(type="list", elements="str"),
        secrets_kms_key_arn=dict(type="str", no_log=False),
        logging=dict(type="list", elements="str", choices=LOG_TYPES, default=list(LOG_TYPES)),
        authentication_mode=dict(type="str", choices=["API", "API_AND_CONFIG_MAP"], default="API"),
        access_entries=dict(type="list", elements="dict", options=entry, default=[]),
        **aws_tags_spec(),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
    )
    return spec


def validate(params):
    """Problems with the options, each naming them; checked before any AWS call."""
    problems = []
    if not NAME_PATTERN.match(params["name"]):
        problems.append("name %r must be 1-100 letters, digits, hyphens and underscores, starting with a letter or "
                        "digit" % params["name"])
    if params["wait_timeout"] < 0:
        problems.append("wait_timeout must not be negative")
    if params["state"] == "absent":
        return problems
    # Missing ones fail through REQUIRED_IF; these are given but empty (null, "" or []).
    if not params["role_arn"]:
        problems.append("role_arn must not be empty")
    if len(set(params["subnet_ids"] or [])) < 2:
        problems.append("subnet_ids needs at least two subnets (in two availability zones)")
    if params["version"] and not VERSION_PATTERN.match(params["version"]):
        problems.append("version %r must look like 1.31" % params["version"])
    if not params["endpoint_private_access"] and not params["endpoint_public_access"]:
        problems.append("endpoint_private_access and endpoint_public_access cannot both be false")
    cidrs = params["public_access_cidrs"]
    if params["endpoint_public_access"] and not cidrs:
        problems.append("endpoint_public_access=true requires public_access_cidrs (the networks allowed to reach the "
                        "API server; 0.0.0.0/0 must be explicit)")
    if cidrs and not params["endpoint_public_access"]:
        problems.append("public_access_cidrs can only be used with endpoint_public_access=true")
    for cidr in cidrs or []:
        try:
            ipaddress.IPv4Network(cidr)
        except ValueError:
            problems.append("public_access_cidrs: %r is not an IPv4 network (a.b.c.d/n with no host bits)" % cidr)
    if params["secrets_kms_key_arn"] and not KMS_PATTERN.match(params["secrets_kms_key_arn"]):
        problems.append("secrets_kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)")
    seen = set()
    for index, entry in enumerate(params["access_entries"]):
        where = "access_entries[%d]" % index
        if not PRINCIPAL_PATTERN.match(entry["principal_arn"]):
            problems.append("%s.principal_arn %r is not an IAM role or user ARN" % (where, entry["principal_arn"]))
        if entry["principal_arn"] in seen:
            problems.append("%s.principal_arn %s is listed twice" % (where, entry["principal_arn"]))
        seen.add(entry["principal_arn"])
        if entry["type"] != "STANDARD" and (entry["policies"] or entry["kubernetes_groups"] or entry["username"]):
            problems.append("%s: only STANDARD entries take policies, kubernetes_groups and username" % where)
        policy_arns = set()
        for number, policy in enumerate(entry["policies"]):
            at = "%s.policies[%d]" % (where, number)
            if not POLICY_PATTERN.match(policy["policy_arn"]):
                problems.append("%s.policy_arn %r is not an EKS access policy ARN "
                                "(arn:aws:eks::aws:cluster-access-policy/<name>)" % (at, policy["policy_arn"]))
            if policy["policy_arn"] in policy_arns:
                problems.append("%s.policy_arn %s is listed twice" % (at, policy["policy_arn"]))
            policy_arns.add(policy["policy_arn"])
            scope = policy["access_scope"] or {}
            if scope.get("type") == "namespace" and not scope.get("namespaces"):
                problems.append("%s.access_scope: type namespace requires namespaces" % at)
            if scope.get("type", "cluster") == "cluster" and scope.get("namespaces"):
                problems.append("%s.access_scope: namespaces can only be used with type namespace" % at)
    return problems


def minor(version):
    major_part, minor_part = version.split(".")[:2]
    return int(major_part), int(minor_part)


def logging_request(enabled):
    groups = [{"types": sorted(enabled), "enabled": True}]
    disabled = sorted(set(LOG_TYPES) - set(enabled))
    if disabled:
        groups.append({"types": disabled, "enabled": False})
    return {"clusterLogging": [group for group in groups if group["types"]]}


def normalize(raw):
    """describe_cluster's cluster -> the module's view (None = not reported, never compared)."""
    vpc = raw.get("resourcesVpcConfig") or {}
    enabled = set()
    for group in (raw.get("logging") or {}).get("clusterLogging") or []:
        if group.get("enabled"):
            enabled.update(group.get("types") or [])
    key_arn = None
    for config in raw.get("encryptionConfig") or []:
        if "secrets" in (config.get("resources") or []):
            key_arn = (config.get("provider") or {}).get("keyArn")
    return dict(
        name=raw["name"],
        arn=raw.get("arn"),
        status=raw.get("status"),
        version=raw.get("version"),
        platform_version=raw.get("platformVersion"),
        endpoint=raw.get("endpoint"),
        certificate_authority=(raw.get("certificateAuthority") or {}).get("data"),
        oidc_issuer=((raw.get("identity") or {}).get("oidc") or {}).get("issuer"),
        role_arn=raw.get("roleArn"),
        vpc_id=vpc.get("vpcId"),
        subnet_ids=sorted(vpc["subnetIds"]) if "subnetIds" in vpc else None,
        security_group_ids=sorted(vpc["securityGroupIds"]) if "securityGroupIds" in vpc else None,
        cluster_security_group_id=vpc.get("clusterSecurityGroupId"),
        endpoint_private_access=vpc.get("endpointPrivateAccess"),
        endpoint_public_access=vpc.get("endpointPublicAccess"),
        public_access_cidrs=sorted(vpc["publicAccessCidrs"]) if "publicAccessCidrs" in vpc else None,
        logging=sorted(enabled),
        secrets_kms_key_arn=key_arn,
        authentication_mode=(raw.get("accessConfig") or {}).get("authenticationMode"),
        tags=dict(sorted((raw.get("tags") or {}).items())),
    )


def scope_request(policy):
    scope = policy["access_scope"] or {}
    request = {"type": scope.get("type") or "cluster"}
    if request["type"] == "namespace":
        request["namespaces"] = sorted(set(scope.get("namespaces") or []))
    return request


class Cluster(AwsResource):
    """Reads, plans and applies; every AWS call goes through self.call (errors -> AwsCallError)."""

    def __init__(self, module, client):
        super().__init__(module, client)
        self.name = module.params["name"]
        self.entries_before = []

    def describe(self):
        try:
            return self.call("describe_cluster", name=self.name)["cluster"]
        except AwsCallError as exc:
            if exc.code == "ResourceNotFoundException":
                return None
            raise

    def read(self):
        raw = self.describe()
        return normalize(raw) if raw else None

    def wait_status(self, statuses, what):
        if self.module.check_mode:
            return None

        def check():
            raw = self.describe()
            status = raw.get("status") if raw else None
            if status == "FAILED":
                self.fail("cluster %s is FAILED (while waiting for it to be %s)" % (self.name, what))
            return status in statuses, status or "gone"
        try:
            return wait_until(check, "cluster %s to be %s" % (self.name, what), self.params["wait_timeout"],
                              delay=POLL_DELAY)
        except WaitTimeout as exc:
            self.fail(str(exc))
        return None

    def wait_update(self, response, what):
        """Wait for an update to finish: DescribeUpdate when EKS returned an update ID (moto does not), then ACTIVE."""
        if self.module.check_mode:
            return
        update_id = (response.get("update") or {}).get("id")
        if update_id:
            def check():
                update = self.call("describe_update", name=self.name, updateId=update_id)["update"]
                if update["status"] in ("Failed", "Cancelled"):
                    errors = "; ".join("%s: %s" % (error.get("errorCode"), error.get("errorMessage"))
                                       for error in update.get("errors") or [])
                    self.fail("update %s (%s) of cluster %s is %s: %s"
                              % (update_id, what, self.name, update["status"], errors or "no detail"))
                return update["status"] == "Successful", update["status"]
            try:
                wait_until(check, "update %s (%s) of cluster %s" % (update_id, what, self.name),
                           self.params["wait_timeout"], delay=POLL_DELAY)
            except WaitTimeout as exc:
                self.fail(str(exc))
        self.wait_status(("ACTIVE",), "ACTIVE after %s" % what)

    # Planning --------------------------------------------------------------------------------------------------------

    def desired_vpc(self):
        params = self.params
        return dict(
            subnet_ids=sorted(set(params["subnet_ids"] or [])),
            security_group_ids=sorted(set(params["security_group_ids"])) if params["security_group_ids"] is not None
            else None,
            endpoint_private_access=params["endpoint_private_access"],
            endpoint_public_access=params["endpoint_public_access"],
            public_access_cidrs=sorted(set(params["public_access_cidrs"] or [])) or None,
        )

    def immutable_problems(self, current):
        params, problems = self.params, []
        if current["role_arn"] and params["role_arn"] != current["role_arn"]:
            problems.append("role_arn is %s, asked %s (EKS cannot change the cluster role)"
                            % (current["role_arn"], params["role_arn"]))
        key = current["secrets_kms_key_arn"]
        if key and params["secrets_kms_key_arn"] != key:
            problems.append("secrets_kms_key_arn is %s, asked %s (secrets encryption cannot be changed or removed "
                            "once enabled)" % (key, params["secrets_kms_key_arn"]))
        if params["version"] and current["version"]:
            wanted, have = minor(params["version"]), minor(current["version"])
            if wanted < have:
                problems.append("version is %s, asked %s (EKS cannot downgrade)"
                                % (current["version"], params["version"]))
            elif wanted[0] != have[0] or wanted[1] > have[1] + 1:
                problems.append("version is %s, asked %s (EKS upgrades one minor version at a time: ask %d.%d first)"
                                % (current["version"], params["version"], have[0], have[1] + 1))
        if current["authentication_mode"] == "API" and params["authentication_mode"] != "API":
            problems.append("authentication_mode is API, asked %s (EKS cannot go back)" % params["authentication_mode"])
        return problems

    def updates(self, current):
        """[(operation, request, description)] of the control plane updates, in the order EKS applies them."""
        params, steps = self.params, []
        if params["version"] and current["version"] and params["version"] != current["version"]:
            steps.append(("update_cluster_version", dict(name=self.name, version=params["version"]), "version"))
        vpc = self.desired_vpc()
        placement = {}
        if current["subnet_ids"] is not None and vpc["subnet_ids"] != current["subnet_ids"]:
            placement["subnetIds"] = vpc["subnet_ids"]
        if vpc["security_group_ids"] is not None and current["security_group_ids"] is not None and \
                vpc["security_group_ids"] != current["security_group_ids"]:
            placement["securityGroupIds"] = vpc["security_group_ids"]
        if placement:
            steps.append(("update_cluster_config", dict(name=self.name, resourcesVpcConfig=placement),
                          "subnets and security groups"))
        access_differs = any(current[key] is not None and current[key] != vpc[key]
                             for key in ("endpoint_private_access", "endpoint_public_access"))
        if vpc["endpoint_public_access"] and current["public_access_cidrs"] is not None and \
                current["public_access_cidrs"] != vpc["public_access_cidrs"]:
            access_differs = True
        if access_differs:
            request = dict(endpointPrivateAccess=vpc["endpoint_private_access"],
                           endpointPublicAccess=vpc["endpoint_public_access"])
            if vpc["endpoint_public_access"]:
                request["publicAccessCidrs"] = vpc["public_access_cidrs"]
            steps.append(("update_cluster_config", dict(name=self.name, resourcesVpcConfig=request),
                          "endpoint access"))
        if sorted(set(params["logging"])) != current["logging"]:
            steps.append(("update_cluster_config", dict(name=self.name, logging=logging_request(params["logging"])),
                          "logging"))
        mode = current["authentication_mode"]
        if mode is not None and mode != params["authentication_mode"]:
            if mode == "CONFIG_MAP":  # EKS goes CONFIG_MAP -> API_AND_CONFIG_MAP -> API, one step at a time
                steps.append(("update_cluster_config", dict(name=self.name, accessConfig=dict(
                    authenticationMode="API_AND_CONFIG_MAP")), "authentication mode"))
            if params["authentication_mode"] != "API_AND_CONFIG_MAP":
                steps.append(("update_cluster_config", dict(name=self.name, accessConfig=dict(
                    authenticationMode=params["authentication_mode"])), "authentication mode"))
        if params["secrets_kms_key_arn"] and not current["secrets_kms_key_arn"]:
            steps.append(("associate_encryption_config", dict(clusterName=self.name, encryptionConfig=[dict(
                resources=["secrets"], provider=dict(keyArn=params["secrets_kms_key_arn"]))]), "secrets encryption"))
        return steps

    def predicted(self, current):
        """The cluster as it will be after the run (check mode, diff)."""
        params, vpc = self.params, self.desired_vpc()
        after = dict(current or {})
        if current is None:
            after.update(name=self.name, status="CREATING", role_arn=params["role_arn"], version=params["version"])
        elif params["version"]:
            after["version"] = params["version"]
        for key, value in vpc.items():
            if value is not None or current is None:
                after[key] = value
        after.update(logging=sorted(set(params["logging"])), authentication_mode=params["authentication_mode"],
                     secrets_kms_key_arn=params["secrets_kms_key_arn"] or after.get("secrets_kms_key_arn"),
                     tags=merged_tags((current or {}).get("tags") or {}, params["tags"], params["purge_tags"]))
        return after

    # Applying --------------------------------------------------------------------------------------------------------

    def create(self):
        params, vpc = self.params, self.desired_vpc()
        config = dict(subnetIds=vpc["subnet_ids"], endpointPrivateAccess=vpc["endpoint_private_access"],
                      endpointPublicAccess=vpc["endpoint_public_access"])
        if vpc["security_group_ids"]:
            config["securityGroupIds"] = vpc["security_group_ids"]
        if vpc["endpoint_public_access"]:
            config["publicAccessCidrs"] = vpc["public_access_cidrs"]
        request = dict(name=self.name, roleArn=params["role_arn"], resourcesVpcConfig=config,
                       logging=logging_request(params["logging"]),
                       accessConfig=dict(authenticationMode=params["authentication_mode"]))
        if params["version"]:
            request["version"] = params["version"]
        if params["secrets_kms_key_arn"]:
            request["encryptionConfig"] = [dict(resources=["secrets"],
                                                provider=dict(keyArn=params["secrets_kms_key_arn"]))]
        if params["tags"]:
            request["tags"] = {k: str(v) for k, v in params["tags"].items()}
        self.mutate("create_cluster", **request)

    def apply_tags(self, current):
        to_set, to_remove = tag_changes(current["tags"], self.params["tags"], self.params["purge_tags"])
        if to_set:
            self.mutate("tag_resource", resourceArn=current["arn"], tags=to_set)
        if to_remove:
            self.mutate("untag_resource", resourceArn=current["arn"], tagKeys=to_remove)

    def read_access_entry(self, principal):
        """(entry, {policy_arn: scope}) of a principal, or (None, {})."""
        try:
            entry = self.call("describe_access_entry", clusterName=self.name, principalArn=principal)["accessEntry"]
        except AwsCallError as exc:
            if exc.code == "ResourceNotFoundException":
                return None, {}
            raise
        policies, token = {}, None
        while True:
            kwargs = dict(clusterName=self.name, principalArn=principal)
            if token:
                kwargs["nextToken"] = token
            page = self.call("list_associated_access_policies", **kwargs)
            for item in page.get("associatedAccessPolicies") or []:
                scope = dict(item.get("accessScope") or {"type": "cluster"})
                if scope.get("type") == "namespace":
                    scope["namespaces"] = sorted(scope.get("namespaces") or [])
                else:
                    scope = {"type": scope.get("type", "cluster")}
                policies[item["policyArn"]] = scope
            token = page.get("nextToken")
            if not token:
                return entry, policies

    def apply_access_entries(self, exists):
        """Create/update the listed entries and their policies; returns their state (for the result)."""
        states = []
        for wanted in self.params["access_entries"]:
            principal = wanted["principal_arn"]
            entry, policies = self.read_access_entry(principal) if exists else (None, {})
            groups = sorted(set(wanted["kubernetes_groups"])) if wanted["kubernetes_groups"] is not None else None
            if entry is not None:
                self.entries_before.append(dict(
                    principal_arn=principal, type=entry.get("type"),
                    kubernetes_groups=sorted(entry.get("kubernetesGroups") or []), username=entry.get("username"),
                    policies=[dict(policy_arn=arn, access_scope=scope) for arn, scope in sorted(policies.items())]))
            if entry is None:
                request = dict(clusterName=self.name, principalArn=principal, type=wanted["type"])
                if groups:
                    request["kubernetesGroups"] = groups
                if wanted["username"]:
                    request["username"] = wanted["username"]
                self.mutate("create_access_entry", **request)
            else:
                if entry.get("type", "STANDARD") != wanted["type"]:
                    self.fail("access_entries: the entry of %s is of type %s, asked %s (EKS cannot change the type)"
                              % (principal, entry.get("type"), wanted["type"]))
                update = {}
                if groups is not None and sorted(entry.get("kubernetesGroups") or []) != groups:
                    update["kubernetesGroups"] = groups
                if wanted["username"] and entry.get("username") != wanted["username"]:
                    update["username"] = wanted["username"]
                if update:
                    self.mutate("update_access_entry", clusterName=self.name, principalArn=principal, **update)
            wanted_policies = {policy["policy_arn"]: scope_request(policy) for policy in wanted["policies"]}
            for arn, scope in sorted(wanted_policies.items()):
                if policies.get(arn) != scope:
                    self.mutate("associate_access_policy", clusterName=self.name, principalArn=principal,
                                policyArn=arn, accessScope=scope)
            for arn in sorted(set(policies) - set(wanted_policies)):
                self.mutate("disassociate_access_policy", clusterName=self.name, principalArn=principal, policyArn=arn)
            states.append(dict(principal_arn=principal, type=wanted["type"],
                               kubernetes_groups=groups if groups is not None else sorted(
                                   (entry or {}).get("kubernetesGroups") or []),
                               username=wanted["username"] or (entry or {}).get("username"),
                               policies=[dict(policy_arn=arn, access_scope=scope)
                                         for arn, scope in sorted(wanted_policies.items())]))
        return states

    def present(self):
        current = self.read()
        if current is not None:
            if current["status"] in ("DELETING", "FAILED"):
                self.fail("cluster %s is %s; delete it or wait until it is gone, then run again"
                          % (self.name, current["status"]))
            problems = self.immutable_problems(current)
            if problems:
                self.fail("cluster %s cannot be changed as asked: %s" % (self.name, "; ".join(problems)))
        entries = self.params["access_entries"]
        settled = current
        if current is None:
            self.create()
            if self.params["wait"] or entries:
                self.wait_status(("ACTIVE",), "ACTIVE")
        else:
            steps = self.updates(current)
            if steps or entries:
                if current["status"] != "ACTIVE":
                    self.wait_status(("ACTIVE",), "ACTIVE before updating it")
            for index, (operation, request, what) in enumerate(steps):
                response = self.mutate(operation, **request)
                if index < len(steps) - 1 or self.params["wait"] or entries:
                    self.wait_update(response, what)
            self.apply_tags(current)
            if not steps and self.params["wait"] and current["status"] != "ACTIVE" and not self.module.check_mode:
                self.wait_status(("ACTIVE",), "ACTIVE")  # e.g. created earlier with wait=false
                settled = self.read() or current
        entry_states = self.apply_access_entries(current is not None) if entries else []
        if not self.actions:
            after = settled
        elif self.module.check_mode:
            after = self.predicted(current)
        else:
            after = self.read() or self.predicted(current)
        after = dict(after, access_entries=entry_states)
        before = dict(current, access_entries=self.entries_before) if current else None
        return before, after

    def absent(self):
        current = self.read()
        if current is None:
            return None, {}
        if current["status"] != "DELETING":
            try:
                self.mutate("delete_cluster", name=self.name)
            except AwsCallError as exc:
                if exc.code == "ResourceInUseException":
                    self.fail("cluster %s still has node groups or Fargate profiles; delete them first (%s)"
                              % (self.name, exc))
                raise
        if self.params["wait"]:
            self.wait_status((None,), "deleted")
        return current, {}


# What the diff leaves out: fields that churn or only identify the cluster.
DIFF_HIDDEN = ("status", "certificate_authority", "endpoint", "platform_version", "arn")


def main():
    run_resource_module(argument_spec(), validate, Cluster, "eks", "cluster", DIFF_HIDDEN, REQUIRED_IF)


if __name__ == "__main__":
    main()

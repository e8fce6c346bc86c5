#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

DOCUMENTATION = r"""
---
module: elasticache_replication_group
short_description: Create, update and delete an ElastiCache (Redis OSS / Valkey) replication group, idempotently
version_added: 0.1.0
author:
  - nl2api-deploy maintainers (@nl2api)
description:
  - Manages one cluster-mode-disabled ElastiCache replication group (a primary and up to five read replicas) with TLS in
    transit, encryption at rest and an AUTH token, and optionally its cache subnet group.
  - The module reads the group (and its first member cluster, its subnet group and its tags), compares it with the
    options given, and only calls AWS for what differs. Options left unset are not managed. A second run with the same
    options changes nothing.
  - "Changes are applied one at a time, each waiting for the group to be C(available) again: the node type
    (C(ModifyReplicationGroup) with O(cache_node_type) alone), more replicas (C(IncreaseReplicaCount)) before failover
    is switched on, other settings in one C(ModifyReplicationGroup), fewer replicas (C(DecreaseReplicaCount)) after
    failover is switched off, and the AUTH token last. All with C(ApplyImmediately) unless O(apply_immediately=false)."
  - "Properties AWS cannot change in place make the module fail, naming them, before any change: O(engine),
    O(transit_encryption), O(at_rest_encryption), O(kms_key_id), O(port), O(cache_subnet_group), and an
    O(engine_version) lower than the running one."
  - The AUTH token cannot be read back from AWS. The module sends it when it creates the group, when the group has no
    token yet, and when O(update_auth_token=true) (then the task always reports a change). It never returns, logs or
    diffs it, and masks it in error messages.
  - Invalid input (for example O(multi_az) without O(automatic_failover), a malformed token, overlapping windows) is
    rejected before any AWS call, with a message naming the options.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - nl2api.deploy.aws_client
  - nl2api.deploy.aws_client.tags
attributes:
  check_mode:
    details: Makes only C(Describe*) and C(ListTagsForResource) calls and returns the group as it would be.
  diff_mode:
    details: Before and after of the managed properties (the AUTH token only as C(auth_token_enabled)).
options:
  state:
    description:
      - V(present) creates or updates the group, V(absent) deletes it (its cache subnet group is kept).
    type: str
    choices: [present, absent]
    default: present
  replication_group_id:
    description:
      - Identifier of the replication group (1-40 lowercase letters, digits and hyphens, starting with a letter).
    type: str
    required: true
    aliases: [name]
  description:
    description:
      - Description of the group.
    type: str
    default: Managed by nl2api.deploy
  engine:
    description:
      - Cache engine. Cannot be changed on an existing group.
    type: str
    choices: [redis, valkey]
    default: redis
  engine_version:
    description:
      - Engine version, for example V(7.1). When not set, AWS's default on creation, and not managed afterwards.
      - A higher version upgrades the group; a lower one fails.
    type: str
  cache_node_type:
    description:
      - Node type, for example V(cache.t4g.micro). Required with O(state=present).
    type: str
  num_cache_clusters:
    description:
      - Number of nodes (the primary plus replicas), 1 to 6. At least 2 with O(automatic_failover=true).
    type: int
    default: 1
  automatic_failover:
    description:
      - Promote a replica automatically when the primary fails. Needs O(num_cache_clusters) >= 2.
    type: bool
    default: false
  multi_az:
    description:
      - Place the replicas in other availability zones than the primary (Multi-AZ). Needs O(automatic_failover=true).
    type: bool
    default: false
  transit_encryption:
    description:
      - TLS between clients and nodes. Requires O(auth_token). Cannot be changed on an existing group.
    type: bool
    default: true
  at_rest_encryption:
    description:
      - Encrypt data on disk and in backups. Cannot be changed on an existing group.
    type: bool
    default: true
  kms_key_id:
    description:
      - KMS key (ID or ARN) for encryption at rest instead of the AWS-managed key. Only with O(at_rest_encryption=true).
        Cannot be changed on an existing group.
    type: str
  auth_token:
    description:
      - "The AUTH token (password) of the default user, 16 to 128 characters among letters, digits and
        C(! & # $ ^ < > -). Required with O(transit_encryption=true) and O(state=present); only with it."
      - Never logged, returned or shown in a diff.
    type: str
  update_auth_token:
    description:
      - Send O(auth_token) to the existing group with O(auth_token_update_strategy), because AWS cannot tell whether it
        changed. The task then always reports a change. Without it, the token is only sent on creation and when the
        group has no token.
    type: bool
    default: false
  auth_token_update_strategy:
    description:
      - With O(update_auth_token=true). V(rotate) adds the new token next to the old one (both are accepted until the
        next update with V(set)), for a rollout without downtime; V(set) replaces the token(s) at once.
    type: str
    choices: [rotate, set]
    default: rotate
  cache_subnet_group:
    description:
      - Name of the cache subnet group the nodes are placed in. When not set on creation, AWS uses the default VPC.
        Cannot be changed on an existing group.
    type: str
  subnet_ids:
    description:
      - When given, the module creates O(cache_subnet_group) with these subnets, or updates its subnets.
    type: list
    elements: str
  security_group_ids:
    description:
      - VPC security groups of the nodes.
    type: list
    elements: str
  parameter_group:
    description:
      - Cache parameter group name. When not set, AWS's default for the engine version on creation.
    type: str
  port:
    description:
      - Port the nodes listen on. Cannot be changed on an existing group.
    type: int
    default: 6379
  snapshot_retention_limit:
    description:
      - Days automatic snapshots are kept; V(0) disables them.
    type: int
  snapshot_window:
    description:
      - Daily window for automatic snapshots, C(hh24:mi-hh24:mi) UTC, at least 60 minutes. Must not overlap
        O(maintenance_window).
    type: str
  maintenance_window:
    description:
      - Weekly maintenance window, C(ddd:hh24:mi-ddd:hh24:mi) UTC, at least 60 minutes.
    type: str
  tags:
    description:
      - Tags of the group (and of a subnet group the module creates). When not set, tags are not managed.
  apply_immediately:
    description:
      - Apply modifications now rather than in the next maintenance window.
    type: bool
    default: true
  final_snapshot_identifier:
    description:
      - With O(state=absent), name of a final snapshot AWS takes before deleting the group.
    type: str
  wait:
    description:
      - Wait until the group is C(available) after creating or changing it, or gone after deleting it. Between two
        changes of one run the module always waits.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for each of these states in total before failing.
    type: int
    default: 1800
notes:
  - Cluster mode (sharding), global datastores, user groups and log delivery are not managed.
  - moto (the AWS mock) ignores most modification fields; this module's requests are unit-tested against the real
    service model with botocore's Stubber.
seealso:
  - name: CreateReplicationGroup
    description: The API call the module makes to create the group.
    link: https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html
  - module: community.aws.elasticache
"""

EXAMPLES = r"""
- name: Redis for nl2api in prod (TLS, at-rest encryption, token, Multi-AZ failover)
  nl2api.deploy.elasticache_replication_group:
    replication_group_id: nl2api-prod-redis
    description: nl2api queue and cache
    engine_version: "7.1"
    cache_node_type: cache.r7g.large
    num_cache_clusters: 3
    automatic_failover: true
    multi_az: true
    auth_token: "{{ vault_redis_auth_token }}"
    cache_subnet_group: nl2api-prod-redis
    subnet_ids: "{{ network_outputs.private_subnet_ids }}"
    security_group_ids: ["{{ network_outputs.redis_security_group_id }}"]
    snapshot_retention_limit: 7
    snapshot_window: "03:00-04:00"
    maintenance_window: "sun:05:00-sun:06:00"
    tags:
      Name: nl2api-prod-redis
      nl2api.io/environment: prod
  register: redis

- name: Rotate the token (old and new are both accepted until the next "set")
  nl2api.deploy.elasticache_replication_group:
    replication_group_id: nl2api-prod-redis
    cache_node_type: cache.r7g.large
    auth_token: "{{ vault_redis_auth_token_next }}"
    update_auth_token: true
    auth_token_update_strategy: rotate

- name: Delete it, with a final snapshot
  nl2api.deploy.elasticache_replication_group:
    replication_group_id: nl2api-prod-redis
    state: absent
    final_snapshot_identifier: nl2api-prod-redis-final
"""

RETURN = r"""
extends_documentation_fragment:
  - nl2api.deploy.aws_client
replication_group:
  description: The group after the run (as it would be, in check mode); empty when absent.
  returned: always
  type: dict
  contains:
    id: {description: "Replication group ID.", type: str, returned: success}
    arn: {description: "ARN of the group.", type: str, returned: success}
    status: {description: "C(creating), C(available), C(modifying), C(deleting) ...", type: str, returned: success}
    description: {description: "Description.", type: str, returned: success}
    engine: {description: "Engine.", type: str, returned: success}
    engine_version: {description: "Engine version (null when unknown).", type: str, returned: success}
    cache_node_type: {description: "Node type.", type: str, returned: success}
    num_cache_clusters: {description: "Number of nodes.", type: int, returned: success}
    member_clusters: {description: "IDs of the member cache clusters.", type: list, elements: str, returned: success}
    primary_endpoint:
      description: Address and port of the primary (read/write) endpoint.
      type: dict
      returned: success
      sample: {address: master.nl2api-prod-redis.abc123.euw1.cache.amazonaws.com, port: 6379}
    reader_endpoint:
      description: Address and port of the reader endpoint (all replicas).
      type: dict
      returned: success
    port: {description: "Port.", type: int, returned: success}
    automatic_failover: {description: "Automatic failover enabled.", type: bool, returned: success}
    multi_az: {description: "Multi-AZ enabled.", type: bool, returned: success}
    transit_encryption: {description: "TLS in transit enabled.", type: bool, returned: success}
    at_rest_encryption: {description: "Encryption at rest enabled.", type: bool, returned: success}
    auth_token_enabled: {description: "An AUTH token is set (never the token itself).", type: bool, returned: success}
    kms_key_id: {description: "KMS key of encryption at rest (null for the AWS-managed key).", type: str, returned: success}
    cache_subnet_group: {description: "Cache subnet group (null when unknown).", type: str, returned: success}
    security_group_ids: {description: "Security groups (null when unknown).", type: list, elements: str, returned: success}
    parameter_group: {description: "Parameter group (null when unknown).", type: str, returned: success}
    snapshot_retention_limit: {description: "Days snapshots are kept.", type: int, returned: success}
    snapshot_window: {description: "Daily snapshot window.", type: str, returned: success}
    maintenance_window: {description: "Weekly maintenance window (null when unknown).", type: str, returned: success}
    tags: {description: "Tags.", type: dict, returned: success}
actions:
  description: The mutating AWS calls made (or, in check mode, that would be made), in order, without secrets.
  sample: [create_cache_subnet_group, create_replication_group]
auth_token_updated:
  description: Whether the AUTH token was sent to AWS in this run (on creation or update).
  returned: always
  type: bool
"""

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
    tags_from_list,
    tags_to_list,
    wait_until,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.maintenance_windows import (
    daily_overlaps_weekly,
    parse_daily_window,
    parse_weekly_window,
)

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9!&#$^<>-]{16,128}$")
ID_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
POLL_DELAY = 15.0
NOT_FOUND = ("ReplicationGroupNotFoundFault", "ReplicationGroupNotFound")
#: Properties AWS cannot change in place; the module fails naming them.
IMMUTABLE = ("engine", "transit_encryption", "at_rest_encryption", "kms_key_id", "port", "cache_subnet_group")
#: Properties one ModifyReplicationGroup call changes: option -> request parameter.
MODIFIABLE = {
    "description": "ReplicationGroupDescription",
    "automatic_failover": "AutomaticFailoverEnabled",
    "multi_az": "MultiAZEnabled",
    "security_group_ids": "SecurityGroupIds",
    "parameter_group": "CacheParameterGroupName",
    "engine_version": "EngineVersion",
    "snapshot_retention_limit": "SnapshotRetentionLimit",
    "snapshot_window": "SnapshotWindow",
    "maintenance_window": "PreferredMaintenanceWindow",
}


def argument_spec():
    spec = aws_argument_spec()
    spec.update(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        replication_group_id=dict(type="str", required=True, aliases=["name"]),
        description=dict(type="str", default="Managed by nl2api.deploy"),
        engine=dict(type="str", choices=["redis", "valkey"], default="redis"),
        engine_version=dict(type="str"),
        cache_node_type=dict(type="str"),
        num_cache_clusters=dict(type="int", default=1),
        automatic_failover=dict(type="bool", default=False),
        multi_az=dict(type="bool", default=False),
        transit_encryption=dict(type="bool", default=True),
        at_rest_encryption=dict(type="bool", default=True),
        kms_key_id=dict(type="str"),
        auth_token=dict(type="str", no_log=True),
        update_auth_token=dict(type="bool", default=False),
        auth_token_update_strategy=dict(type="str", choices=["rotate", "set"], default="rotate", no_log=False),
        cache_subnet_group=dict(type="str"),
        subnet_ids=dict(type="list", elements="str"),
        security_group_ids=dict(type="list", elements="str"),
        parameter_group=dict(type="str"),
        port=dict(type="int", default=6379),
        snapshot_retention_limit=dict(type="int"),
        snapshot_window=dict(type="str"),
        maintenance_window=dict(type="str"),
        **aws_tags_spec(),
        apply_immediately=dict(type="bool", default=True),
        final_snapshot_identifier=dict(type="str"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
    )
    return spec


def window_of(params, option, parse, problems):
    """The parsed window of ``option`` (None when unset or invalid; problems gets why it is invalid)."""
    if not params[option]:
        return None
    try:
        window = parse(params[option])
    except ValueError as exc:
        problems.append("%s: %s" % (option, exc))
        return None
    if window[1] < 60:
        problems.append("%s must be at least 60 minutes long" % option)
    return window


def validate(params):
    """Problems with the options, each naming them; checked before any AWS call."""
    problems = []
    group_id = params["replication_group_id"]
    if not (1 <= len(group_id) <= 40 and ID_PATTERN.match(group_id)):
        problems.append("replication_group_id %r must be 1-40 lowercase letters, digits and single hyphens, starting "
                        "with a letter and not ending with a hyphen" % group_id)
    if params["wait_timeout"] < 0:
        problems.append("wait_timeout must not be negative")
    if params["state"] == "absent":
        return problems
    if not params["cache_node_type"]:
        problems.append("cache_node_type is required with state=present")
    count = params["num_cache_clusters"]
    if not 1 <= count <= 6:
        problems.append("num_cache_clusters must be between 1 and 6 (got %d)" % count)
    if params["automatic_failover"] and count < 2:
        problems.append("automatic_failover=true needs num_cache_clusters >= 2 (got %d)" % count)
    if params["multi_az"] and not params["automatic_failover"]:
        problems.append("multi_az=true requires automatic_failover=true")
    token = params["auth_token"]
    if params["transit_encryption"] and not token:
        problems.append("auth_token is required when transit_encryption is true")
    if token and not params["transit_encryption"]:
        problems.append("auth_token can only be used with transit_encryption=true")
    if token and not TOKEN_PATTERN.match(token):
        problems.append("auth_token must be 16 to 128 characters among letters, digits and ! & # $ ^ < > - "
                        "(got %d characters)" % len(token))
    if params["update_auth_token"] and not token:
        problems.append("update_auth_token=true requires auth_token")
    if params["kms_key_id"] and not params["at_rest_encryption"]:
        problems.append("kms_key_id can only be used with at_rest_encryption=true")
    if params["subnet_ids"] is not None and not params["cache_subnet_group"]:
        problems.append("subnet_ids requires cache_subnet_group (the name of the subnet group to create or update)")
    if params["subnet_ids"] is not None and not params["subnet_ids"]:
        problems.append("subnet_ids must not be empty")
    if not 1 <= params["port"] <= 65535:
        problems.append("port must be between 1 and 65535")
    if params["snapshot_retention_limit"] is not None and not 0 <= params["snapshot_retention_limit"] <= 35:
        problems.append("snapshot_retention_limit must be between 0 and 35 days")
    snapshot = window_of(params, "snapshot_window", parse_daily_window, problems)
    maintenance = window_of(params, "maintenance_window", parse_weekly_window, problems)
    if snapshot and maintenance and daily_overlaps_weekly(snapshot, maintenance):
        problems.append("snapshot_window (%s) overlaps maintenance_window (%s): AWS requires them apart"
                        % (params["snapshot_window"], params["maintenance_window"]))
    return problems


def version_tuple(version):
    return tuple(int(part) if part.isdigit() else 0 for part in re.split(r"[.]", version or "0"))


class ReplicationGroup(AwsResource):
    """Reads, plans and applies; every AWS call goes through self.call (errors -> AwsCallError)."""

    def __init__(self, module, client):
        super().__init__(module, client, [module.params["auth_token"]])
        self.group_id = module.params["replication_group_id"]
        # Whether this run sent the AUTH token (returned as auth_token_updated; the token itself never is).
        self.token_sent = False

    def extra_result(self):
        return dict(auth_token_updated=self.token_sent)

    # Reading ---------------------------------------------------------------------------------------------------------

    def describe(self):
        """The raw ReplicationGroup, or None."""
        try:
            groups = self.call("describe_replication_groups", ReplicationGroupId=self.group_id)["ReplicationGroups"]
        except AwsCallError as exc:
            if exc.code in NOT_FOUND:
                return None
            raise
        return groups[0] if groups else None

    def read(self):
        """The group normalized (see RETURN), or None. Fields AWS does not report are None (not compared)."""
        raw = self.describe()
        if raw is None:
            return None
        members = raw.get("MemberClusters") or []
        node_group = (raw.get("NodeGroups") or [{}])[0]
        member = self.first_member(members)
        primary = node_group.get("PrimaryEndpoint") or {}
        reader = node_group.get("ReaderEndpoint") or {}
        state = dict(
            id=raw["ReplicationGroupId"],
            arn=raw.get("ARN"),
            status=raw.get("Status"),
            description=raw.get("Description"),
            engine=raw.get("Engine") or member.get("Engine"),
            engine_version=member.get("EngineVersion"),
            cache_node_type=raw.get("CacheNodeType"),
            num_cache_clusters=len(members),
            member_clusters=list(members),
            primary_endpoint=dict(address=primary.get("Address"), port=primary.get("Port")) if primary else None,
            reader_endpoint=dict(address=reader.get("Address"), port=reader.get("Port")) if reader else None,
            port=primary.get("Port") or (raw.get("ConfigurationEndpoint") or {}).get("Port"),
            automatic_failover=raw.get("AutomaticFailover") in ("enabled", "enabling"),
            multi_az=raw.get("MultiAZ") == "enabled",
            transit_encryption=bool(raw.get("TransitEncryptionEnabled")),
            at_rest_encryption=bool(raw.get("AtRestEncryptionEnabled")),
            auth_token_enabled=bool(raw.get("AuthTokenEnabled")),
            kms_key_id=raw.get("KmsKeyId"),
            cache_subnet_group=member.get("CacheSubnetGroupName"),
            security_group_ids=(sorted(sg["SecurityGroupId"] for sg in member["SecurityGroups"])
                                if "SecurityGroups" in member else None),
            parameter_group=(member.get("CacheParameterGroup") or {}).get("CacheParameterGroupName"),
            snapshot_retention_limit=raw.get("SnapshotRetentionLimit"),
            snapshot_window=raw.get("SnapshotWindow"),
            maintenance_window=member.get("PreferredMaintenanceWindow"),
            tags={},
        )
        if state["arn"] and state["status"] != "deleting":
            listed = self.call("list_tags_for_resource", ResourceName=state["arn"])
            state["tags"] = dict(sorted(tags_from_list(listed.get("TagList")).items()))
        return state

    def first_member(self, members):
        """The first member cache cluster (engine version, subnet group, SGs, parameter group and maintenance window
        are only reported there); {} when it cannot be read (moto does not model member clusters)."""
        if not members:
            return {}
        try:
            clusters = self.call("describe_cache_clusters", CacheClusterId=members[0])["CacheClusters"]
        except AwsCallError as exc:
            if exc.code in ("CacheClusterNotFound", "CacheClusterNotFoundFault"):
                return {}
            raise
        return clusters[0] if clusters else {}

    def wait_for(self, statuses, what):
        """Poll until the group's status is in statuses (None = gone); bounded by wait_timeout."""
        def check():
            raw = self.describe()
            status = raw.get("Status") if raw else None
            return status in statuses, status or "gone"
        if self.module.check_mode:
            return
        try:
            wait_until(check, "replication group %s to be %s" % (self.group_id, what), self.params["wait_timeout"],
                       delay=POLL_DELAY)
        except WaitTimeout as exc:
            self.module.fail_json(msg=str(exc), actions=self.actions, changed=bool(self.actions))

    # Subnet group ----------------------------------------------------------------------------------------------------

    def ensure_subnet_group(self):
        name, subnets = self.params["cache_subnet_group"], self.params["subnet_ids"]
        if subnets is None:
            return
        try:
            found = self.call("describe_cache_subnet_groups", CacheSubnetGroupName=name)["CacheSubnetGroups"][0]
        except AwsCallError as exc:
            if exc.code not in ("CacheSubnetGroupNotFoundFault", "CacheSubnetGroupNotFound"):
                raise
            found = None
        if found is None:
            request = dict(CacheSubnetGroupName=name, CacheSubnetGroupDescription="Subnets of replication group %s"
                           % self.group_id, SubnetIds=sorted(subnets))
            if self.params["tags"]:
                request["Tags"] = tags_to_list(self.params["tags"])
            self.mutate("create_cache_subnet_group", **request)
            return
        current = sorted(subnet["SubnetIdentifier"] for subnet in found.get("Subnets") or [])
        if current != sorted(set(subnets)):
            self.mutate("modify_cache_subnet_group", CacheSubnetGroupName=name, SubnetIds=sorted(set(subnets)))

    # Desired state ---------------------------------------------------------------------------------------------------

    def desired(self):
        """The managed properties as the options ask for them (None = not managed)."""
        params = self.params
        return dict(
            description=params["description"],
            engine=params["engine"],
            engine_version=params["engine_version"],
            cache_node_type=params["cache_node_type"],
            num_cache_clusters=params["num_cache_clusters"],
            automatic_failover=params["automatic_failover"],
            multi_az=params["multi_az"],
            transit_encryption=params["transit_encryption"],
            at_rest_encryption=params["at_rest_encryption"],
            kms_key_id=params["kms_key_id"],
            cache_subnet_group=params["cache_subnet_group"],
            security_group_ids=sorted(set(params["security_group_ids"])) if params["security_group_ids"] is not None
            else None,
            parameter_group=params["parameter_group"],
            port=params["port"],
            snapshot_retention_limit=params["snapshot_retention_limit"],
            snapshot_window=params["snapshot_window"],
            maintenance_window=params["maintenance_window"].lower() if params["maintenance_window"] else None,
        )

    @staticmethod
    def differs(key, current, wanted):
        """Whether a managed property differs; unknown current values (None) never differ."""
        if wanted is None or current is None:
            return False
        if key == "kms_key_id":  # AWS reports the key ARN; the option may be the key ID or an alias
            return not (current == wanted or current.endswith("/" + wanted) or wanted.startswith("alias/"))
        if key == "engine_version":  # "7.1" asks for any 7.1.x, which AWS reports as 7.1.0
            return not (current == wanted or current.startswith(wanted + "."))
        if key == "maintenance_window":
            return current.lower() != wanted
        if key == "snapshot_window":
            return parse_daily_window(current) != parse_daily_window(wanted)
        return current != wanted

    def changes(self, current):
        """{property: wanted value} of what differs from current."""
        return {key: wanted for key, wanted in self.desired().items()
                if self.differs(key, current.get(key), wanted)}

    # Applying --------------------------------------------------------------------------------------------------------

    def create(self):
        params = self.params
        request = dict(
            ReplicationGroupId=self.group_id,
            ReplicationGroupDescription=params["description"],
            Engine=params["engine"],
            CacheNodeType=params["cache_node_type"],
            NumCacheClusters=params["num_cache_clusters"],
            AutomaticFailoverEnabled=params["automatic_failover"],
            MultiAZEnabled=params["multi_az"],
            TransitEncryptionEnabled=params["transit_encryption"],
            AtRestEncryptionEnabled=params["at_rest_encryption"],
            Port=params["port"],
        )
        optional = dict(EngineVersion="engine_version", KmsKeyId="kms_key_id", AuthToken="auth_token",
                        CacheSubnetGroupName="cache_subnet_group", CacheParameterGroupName="parameter_group",
                        SnapshotRetentionLimit="snapshot_retention_limit", SnapshotWindow="snapshot_window",
                        PreferredMaintenanceWindow="maintenance_window")
        for field, option in optional.items():
            if params[option] is not None:
                request[field] = params[option]
        if params["security_group_ids"]:
            request["SecurityGroupIds"] = sorted(set(params["security_group_ids"]))
        if params["tags"]:
            request["Tags"] = tags_to_list(params["tags"])
        self.mutate("create_replication_group", **request)

    def modify(self, **request):
        request.update(ReplicationGroupId=self.group_id, ApplyImmediately=self.params["apply_immediately"])
        self.mutate("modify_replication_group", **request)

    def update(self, current, changes):
        """Apply changes one step at a time, waiting for `available` between steps. Returns whether the token was
        sent."""
        steps = []
        if "cache_node_type" in changes:
            steps.append(("modify_replication_group", dict(CacheNodeType=changes["cache_node_type"])))
        replicas = changes.get("num_cache_clusters")
        growing = replicas is not None and replicas > current["num_cache_clusters"]
        if growing:
            steps.append(("increase_replica_count", dict(NewReplicaCount=replicas - 1)))
        modify = {MODIFIABLE[key]: value for key, value in changes.items() if key in MODIFIABLE}
        if modify:
            steps.append(("modify_replication_group", modify))
        if replicas is not None and not growing:
            steps.append(("decrease_replica_count", dict(NewReplicaCount=replicas - 1)))
        token_sent = False
        token = self.params["auth_token"]
        if token and (self.params["update_auth_token"] or not current["auth_token_enabled"]):
            strategy = self.params["auth_token_update_strategy"] if current["auth_token_enabled"] else "rotate"
            steps.append(("modify_replication_group", dict(AuthToken=token, AuthTokenUpdateStrategy=strategy.upper())))
            token_sent = True
        for index, (operation, request) in enumerate(steps):
            if index or current["status"] != "available":
                self.wait_for(("available",), "available before %s" % operation)
            if operation == "modify_replication_group":
                self.modify(**request)
            else:
                request.update(ReplicationGroupId=self.group_id, ApplyImmediately=True)
                self.mutate(operation, **request)
        return token_sent

    def apply_tags(self, current):
        to_set, to_remove = tag_changes(current["tags"], self.params["tags"], self.params["purge_tags"])
        if to_set:
            self.mutate("add_tags_to_resource", ResourceName=current["arn"], Tags=tags_to_list(to_set))
        if to_remove:
            self.mutate("remove_tags_from_resource", ResourceName=current["arn"], TagKeys=to_remove)

    def predicted(self, current):
        """The group as it will be after the run (for check mode and the diff): what differs, or on creation what
        the options ask for."""
        if current is None:
            after = {key: value for key, value in self.desired().items() if value is not None}
            after.update(id=self.group_id, status="creating", auth_token_enabled=bool(self.params["auth_token"]),
                         tags=dict(sorted((self.params["tags"] or {}).items())))
            return after
        after = dict(current)
        after.update(self.changes(current))
        after["auth_token_enabled"] = current["auth_token_enabled"] or bool(self.params["auth_token"])
        after["tags"] = merged_tags(current["tags"], self.params["tags"], self.params["purge_tags"])
        return after

    # Entry points ----------------------------------------------------------------------------------------------------

    def present(self):
        current = self.read()
        settled = current
        if current is not None and current["status"] in ("deleting", "create-failed"):
            self.module.fail_json(msg="replication group %s is %s; wait until it is gone or delete it, then run again"
                                  % (self.group_id, current["status"]))
        if current is not None:
            changes = self.changes(current)
            immutable = [key for key in IMMUTABLE if key in changes]
            wanted_version = changes.get("engine_version")
            if wanted_version and version_tuple(wanted_version) < \
                    version_tuple(current["engine_version"])[:len(version_tuple(wanted_version))]:
                immutable.append("engine_version")
            if immutable:
                self.module.fail_json(
                    msg="replication group %s: cannot change %s in place (%s); create a new group instead"
                    % (self.group_id, ", ".join(immutable),
                       "; ".join("%s is %r, asked %r" % (key, current[key], changes[key]) for key in immutable)))
        self.ensure_subnet_group()
        if current is None:
            self.create()
            self.token_sent = bool(self.params["auth_token"])
            if self.params["wait"]:
                self.wait_for(("available",), "available")
        else:
            changes = self.changes(current)
            self.token_sent = self.update(current, changes)
            self.apply_tags(current)
            if self.params["wait"] and (self.actions or current["status"] != "available"):
                self.wait_for(("available",), "available")  # also a group created earlier with wait=false
                if not self.actions and not self.module.check_mode:
                    settled = self.read() or current
        if not self.actions:
            return current, settled
        after = self.predicted(current)
        if not self.module.check_mode:
            after = self.read() or after
        return current, after

    def absent(self):
        current = self.read()
        if current is None:
            return None, {}
        if current["status"] != "deleting":
            request = dict(ReplicationGroupId=self.group_id)
            if self.params["final_snapshot_identifier"]:
                request["FinalSnapshotIdentifier"] = self.params["final_snapshot_identifier"]
            self.mutate("delete_replication_group", **request)
        if self.params["wait"]:
            self.wait_for((None,), "deleted")
        return current, {}


# What the diff leaves out: endpoints, member lists and status churn, the ARN only identifies (a token is never
# part of the state).
DIFF_HIDDEN = ("member_clusters", "primary_endpoint", "reader_endpoint", "status", "arn")


def main():
    run_resource_module(argument_spec(), validate, ReplicationGroup, "elasticache", "replication_group", DIFF_HIDDEN)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

DOCUMENTATION = r"""
---
module: eks_kubeconfig
short_description: Write a kubeconfig for an EKS cluster that authenticates with C(aws eks get-token)
version_added: 0.1.0
author:
  - nl2api-deploy maintainers (@nl2api)
description:
  - Writes a kubeconfig file (mode C(0600)) with one cluster, one user and one context for an EKS cluster. The user
    authenticates through the C(aws eks get-token) exec plugin, so the file holds no token or key.
  - The API server URL and CA come from O(endpoint) and O(certificate_authority) when both are given (no AWS call),
    else from C(DescribeCluster).
  - The file is only written when its content or mode would change, atomically.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - nl2api.deploy.aws_client
attributes:
  check_mode:
    details: Reports whether the file would change, without writing it.
  diff_mode:
    details: The file's content before and after.
options:
  state:
    description:
      - V(present) writes the file, V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  cluster_name:
    description:
      - Name of the EKS cluster.
    type: str
    required: true
    aliases: [name]
  path:
    description:
      - Where to write the kubeconfig. Its directory must exist.
    type: path
    required: true
  endpoint:
    description:
      - URL of the API server (C(cluster.endpoint) of M(nl2api.deploy.eks_cluster)). With O(certificate_authority),
        no AWS call is made.
    type: str
  certificate_authority:
    description:
      - Base64 PEM of the cluster CA (C(cluster.certificate_authority) of M(nl2api.deploy.eks_cluster)).
    type: str
  context_name:
    description:
      - Name of the context (and of the cluster entry). Defaults to O(cluster_name).
    type: str
  user_name:
    description:
      - Name of the user entry. Defaults to O(cluster_name).
    type: str
  aws_profile_env:
    description:
      - When set, the exec plugin runs with E(AWS_PROFILE) set to this profile.
    type: str
notes:
  - The region written into the exec arguments is O(region), else the one boto3 resolves (E(AWS_REGION) ...).
  - The AWS CLI must be installed where kubectl, helm or the kubernetes.core modules run.
seealso:
  - module: nl2api.deploy.eks_cluster
"""

EXAMPLES = r"""
- name: Kubeconfig for the next stages, from the cluster just created (no extra AWS call)
  nl2api.deploy.eks_kubeconfig:
    cluster_name: nl2api-prod
    path: "{{ nl2api_kubeconfig }}"
    region: eu-west-1
    endpoint: "{{ eks.cluster.endpoint }}"
    certificate_authority: "{{ eks.cluster.certificate_authority }}"
"""

RETURN = r"""
path:
  description: The kubeconfig path.
  returned: always
  type: str
context:
  description: The context name (the current context of the file).
  returned: state=present
  type: str
server:
  description: The API server URL written.
  returned: state=present
  type: str
"""

import os
import tempfile
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.nl2api.deploy.plugins.module_utils.aws_client import (
    AwsCallError,
    aws_argument_spec,
    aws_rules,
    call,
    module_client,
    region_of,
    require_boto3,
    secrets_of,
)

try:
    import yaml

    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()

EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"


def argument_spec():
    spec = aws_argument_spec()
    spec.update(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        cluster_name=dict(type="str", required=True, aliases=["name"]),
        path=dict(type="path", required=True),
        endpoint=dict(type="str"),
        certificate_authority=dict(type="str"),
        context_name=dict(type="str"),
        user_name=dict(type="str"),
        aws_profile_env=dict(type="str"),
    )
    return spec


def kubeconfig(cluster_name, region, server, ca_data, context, user, profile=None):
    """The kubeconfig document (a dict) for the cluster."""
    exec_config = dict(
        apiVersion=EXEC_API_VERSION,
        command="aws",
        args=["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"],
        interactiveMode="Never",
    )
    if profile:
        exec_config["env"] = [dict(name="AWS_PROFILE", value=profile)]
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": context, "cluster": {"server": server, "certificate-authority-data": ca_data}}],
        "users": [{"name": user, "user": {"exec": exec_config}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": user}}],
        "current-context": context,
    }


def render(document):
    return "# Written by nl2api.deploy.eks_kubeconfig; authenticates with `aws eks get-token`.\n" + yaml.safe_dump(
        document, default_flow_style=False, sort_keys=False)


def read_text(path):
    try:
        with open(path, "r", encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write_atomically(module, path, text):
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".kubeconfig-")  # created 0600
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        module.atomic_move(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def main():
    rules = aws_rules()
    rules["required_together"].append(["endpoint", "certificate_authority"])
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True, **rules)
    params = module.params
    path = params["path"]
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        module.fail_json(msg="path: the directory of %s does not exist" % path)
    before = read_text(path)
    if params["state"] == "absent":
        changed = before is not None
        if changed and not module.check_mode:
            os.unlink(path)
        result = dict(changed=changed, path=path)
        if module._diff:  # pylint: disable=protected-access
            result["diff"] = dict(before=before or "", after="", before_header=path, after_header=path)
        module.exit_json(**result)
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=YAML_IMPORT_ERROR)
    require_boto3(module)
    region = params["region"]
    server, ca_data = params["endpoint"], params["certificate_authority"]
    if not (server and ca_data) or not region:
        client = module_client(module, "eks")
        region = region or region_of(client)
        if not (server and ca_data):
            try:
                cluster = call(client, "describe_cluster", secrets_of(params), name=params["cluster_name"])["cluster"]
            except AwsCallError as exc:
                module.fail_json(msg=str(exc), error_code=exc.code)
            server = cluster.get("endpoint")
            ca_data = (cluster.get("certificateAuthority") or {}).get("data")
            if not server or not ca_data:
                module.fail_json(msg="cluster %s has no endpoint or CA yet (status %s); wait until it is ACTIVE"
                                 % (params["cluster_name"], cluster.get("status")))
    context = params["context_name"] or params["cluster_name"]
    user = params["user_name"] or params["cluster_name"]
    text = render(kubeconfig(params["cluster_name"], region, server, ca_data, context, user,
                             params["aws_profile_env"]))
    content_changed = before != text
    mode_changed = before is not None and (os.stat(path).st_mode & 0o777) != 0o600
    if content_changed and not module.check_mode:
        write_atomically(module, path, text)
    if not module.check_mode:
        os.chmod(path, 0o600)
    result = dict(changed=content_changed or mode_changed, path=path, context=context, server=server)
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = dict(before=before or "", after=text, before_header=path, after_header=path)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

DOCUMENTATION = r"""
---
module: iam_oidc_provider
short_description: Create, update and delete an IAM OpenID Connect identity provider (for EKS IRSA)
version_added: 0.1.0
author:
  - nl2api-deploy maintainers (@nl2api)
description:
  - "Manages an IAM OpenID Connect provider: the audiences (client IDs) it accepts, the thumbprints of its
    certificate authority and its tags. IAM roles for Kubernetes service accounts (IRSA) name it as their
    C(Federated) principal, so an EKS cluster's OIDC issuer needs one before pods can assume such roles."
  - "The provider is found by its URL (C(ListOpenIDConnectProviders), then C(GetOpenIDConnectProvider); IAM keeps
    the URL without C(https://)). The module only calls AWS for what differs; a second run with the same options
    changes nothing."
  - "Client IDs are added and removed one by one (C(AddClientIDToOpenIDConnectProvider),
    C(RemoveClientIDFromOpenIDConnectProvider)), thumbprints replaced as a whole
    (C(UpdateOpenIDConnectProviderThumbprint)), tags set and removed (C(TagOpenIDConnectProvider),
    C(UntagOpenIDConnectProvider))."
  - Invalid input is rejected before any AWS call, with a message naming the option.
  - amazon.aws 11 and community.aws 11 have no module for OpenID Connect providers.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - nl2api.deploy.aws_client
  - nl2api.deploy.aws_client.tags
attributes:
  check_mode:
    details: Makes only C(List*) and C(Get*) calls and returns the provider as it would be.
  diff_mode:
    details: Before and after of the URL, client IDs, thumbprints and tags.
options:
  state:
    description:
      - V(present) creates or updates the provider, V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  url:
    description:
      - URL of the OpenID Connect issuer, for an EKS cluster its C(identity.oidc.issuer), for example
        V(https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE).
      - Must start with C(https://) and have no query or fragment; the provider is found by this URL without the
        scheme.
    type: str
    required: true
  client_ids:
    description:
      - Audiences (C(aud) claim) the provider accepts; the others are removed. V(sts.amazonaws.com) is the audience
        of EKS service-account tokens.
    type: list
    elements: str
    default: [sts.amazonaws.com]
  thumbprints:
    description:
      - SHA-1 fingerprints (40 hexadecimal digits) of the issuer's certificate authority, at most 5; replaced as a
        whole when different.
      - "When not set: on creation, for an EKS issuer URL (C(oidc.eks.<region>.amazonaws.com)), the thumbprint AWS
        documents for EKS issuers is used (V(9e99a48a9960b14926bb7f3b02e22da2b0ab7280), the root CA of the
        issuer's certificate chain; for EKS issuers IAM validates tokens with its own library of trusted CAs
        anyway); for any other URL the option is required (with O(state=present), checked before any AWS call).
        The thumbprints of an existing provider are left as they are."
    type: list
    elements: str
notes:
  - moto (the AWS mock) has no C(AddClientIDToOpenIDConnectProvider) or C(RemoveClientIDFromOpenIDConnectProvider);
    those requests are unit-tested against the real service model with botocore's Stubber.
seealso:
  - module: nl2api.deploy.eks_cluster
  - module: amazon.aws.iam_role
"""

EXAMPLES = r"""
- name: IAM OIDC provider of the cluster's issuer (IRSA)
  nl2api.deploy.iam_oidc_provider:
    url: "{{ eks.cluster.oidc_issuer }}"
    tags:
      Name: nl2api-prod-oidc
  register: oidc

- name: Role of a service account, assumable through the provider
  amazon.aws.iam_role:
    name: nl2api-prod-api
    assume_role_policy_document: >-
      {{ {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': 'sts:AssumeRoleWithWebIdentity',
          'Principal': {'Federated': oidc.oidc_provider.arn}}]} | to_json }}

- name: Another issuer, with its own CA thumbprint
  nl2api.deploy.iam_oidc_provider:
    url: https://token.actions.githubusercontent.com
    client_ids: [sts.amazonaws.com]
    thumbprints: [6938fd4d98bab03faadb97b34396831e3780aea1]

- name: Delete the provider
  nl2api.deploy.iam_oidc_provider:
    url: "{{ eks.cluster.oidc_issuer }}"
    state: absent
"""

RETURN = r"""
extends_documentation_fragment:
  - nl2api.deploy.aws_client
oidc_provider:
  description: The provider after the run (as it would be, in check mode); empty when absent.
  returned: always
  type: dict
  contains:
    arn:
      description: ARN of the provider (null in check mode when it would be created).
      type: str
      returned: success
      sample: arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE
    url: {description: "Issuer URL, with C(https://).", type: str, returned: success}
    client_ids: {description: "Accepted audiences, sorted.", type: list, elements: str, returned: success}
    thumbprints: {description: "CA thumbprints (lower case), sorted.", type: list, elements: str, returned: success}
    tags: {description: "Tags.", type: dict, returned: success}
actions:
  sample: [create_open_id_connect_provider]
"""

import re
from urllib.parse import urlsplit

from ansible_collections.nl2api.deploy.plugins.module_utils.aws_client import (
    AwsCallError,
    AwsResource,
    aws_argument_spec,
    aws_tags_spec,
    merged_tags,
    run_resource_module,
    tag_changes,
    tags_from_list,
    tags_to_list,
)

#: The thumbprint AWS documents for EKS OIDC issuers (root CA of oidc.eks.<region>.amazonaws.com's chain).
EKS_THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"
EKS_ISSUER = re.compile(r"^oidc\.eks\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/id/[A-Za-z0-9]+$")
THUMBPRINT = re.compile(r"^[0-9A-Fa-f]{40}$")
MAX_THUMBPRINTS = 5
MAX_CLIENT_IDS = 100


def argument_spec():
    spec = aws_argument_spec()
    spec.update(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        url=dict(type="str", required=True),
        client_ids=dict(type="list", elements="str", default=["sts.amazonaws.com"]),
        thumbprints=dict(type="list", elements="str"),
        **aws_tags_spec(),
    )
    return spec


def bare_url(url):
    """https://host/path -> host/path, the form IAM keeps (and puts in the ARN)."""
    return re.sub(r"^https://", "", url.strip(), flags=re.IGNORECASE).rstrip("/")


def validate(params):
    """Problems with the options, each naming them; checked before any AWS call."""
    problems = []
    url = params["url"] or ""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        problems.append("url %r must be an https:// URL with a host (the OIDC issuer)" % url)
    elif parts.query or parts.fragment or "@" in parts.netloc:
        problems.append("url %r must have no query, fragment or user part" % url)
    elif len(url) > 255:
        problems.append("url must be at most 255 characters")
    if params["state"] == "absent":
        return problems
    client_ids = params["client_ids"]
    if len(client_ids) > MAX_CLIENT_IDS:
        problems.append("client_ids can hold at most %d client IDs" % MAX_CLIENT_IDS)
    for index, client_id in enumerate(client_ids):
        if not client_id or len(client_id) > 255:
            problems.append("client_ids[%d] must be 1 to 255 characters" % index)
    if len(set(client_ids)) != len(client_ids):
        problems.append("client_ids lists a client ID twice")
    thumbprints = params["thumbprints"]
    if thumbprints is not None:
        if not thumbprints:
            problems.append("thumbprints must not be empty (leave it unset to use the EKS default)")
        if len(thumbprints) > MAX_THUMBPRINTS:
            problems.append("thumbprints can hold at most %d thumbprints" % MAX_THUMBPRINTS)
        for index, thumbprint in enumerate(thumbprints):
            if not THUMBPRINT.match(thumbprint or ""):
                problems.append("thumbprints[%d] %r is not a SHA-1 fingerprint (40 hexadecimal digits)"
                                % (index, thumbprint))
        if len(set(t.lower() for t in thumbprints)) != len(thumbprints):
            problems.append("thumbprints lists a thumbprint twice")
    elif not problems and default_thumbprints(url) is None:
        problems.append("thumbprints is required for %s: the default thumbprint only applies to EKS issuers "
                        "(https://oidc.eks.<region>.amazonaws.com/id/<id>)" % url)
    return problems


def default_thumbprints(url):
    """The thumbprints used on creation when the option is unset, or None when it is required."""
    return [EKS_THUMBPRINT] if EKS_ISSUER.match(bare_url(url)) else None


def normalize(arn, raw):
    """get_open_id_connect_provider's answer -> the module's view."""
    return dict(
        arn=arn,
        url="https://" + bare_url(raw.get("Url") or arn.split(":oidc-provider/", 1)[-1]),
        client_ids=sorted(raw.get("ClientIDList") or []),
        thumbprints=sorted(t.lower() for t in raw.get("ThumbprintList") or []),
        tags=dict(sorted(tags_from_list(raw.get("Tags")).items())),
    )


class Provider(AwsResource):
    """Reads, plans and applies; every AWS call goes through self.call (errors -> AwsCallError)."""

    def __init__(self, module, client):
        super().__init__(module, client)
        self.url = bare_url(module.params["url"])

    def find_arn(self):
        """ARN of the provider of self.url (IAM's ARN ends with the URL without scheme), or None."""
        providers = self.call("list_open_id_connect_providers").get("OpenIDConnectProviderList") or []
        for item in providers:
            arn = item.get("Arn") or ""
            if arn.split(":oidc-provider/", 1)[-1] == self.url:
                return arn
        return None

    def read(self):
        arn = self.find_arn()
        if arn is None:
            return None
        try:
            raw = self.call("get_open_id_connect_provider", OpenIDConnectProviderArn=arn)
        except AwsCallError as exc:
            if exc.code == "NoSuchEntity":  # deleted between the two calls
                return None
            raise
        return normalize(arn, raw)

    def desired_thumbprints(self, current):
        wanted = self.params["thumbprints"]
        if wanted is not None:
            return sorted(t.lower() for t in wanted)
        if current is not None:
            return current["thumbprints"]
        return default_thumbprints(self.params["url"])

    def create(self):
        params = self.params
        request = dict(Url="https://" + self.url, ClientIDList=sorted(set(params["client_ids"])),
                       ThumbprintList=self.desired_thumbprints(None))
        if params["tags"]:
            request["Tags"] = tags_to_list(params["tags"])
        response = self.mutate("create_open_id_connect_provider", **request)
        return response.get("OpenIDConnectProviderArn")

    def predicted(self, current, arn=None):
        params = self.params
        before = current or {}
        return dict(
            arn=before.get("arn") or arn,
            url="https://" + self.url,
            client_ids=sorted(set(params["client_ids"])),
            thumbprints=self.desired_thumbprints(current),
            tags=merged_tags(before.get("tags") or {}, params["tags"], params["purge_tags"]),
        )

    def update(self, current):
        arn, params = current["arn"], self.params
        wanted_ids = set(params["client_ids"])
        for client_id in sorted(wanted_ids - set(current["client_ids"])):
            self.mutate("add_client_id_to_open_id_connect_provider", OpenIDConnectProviderArn=arn, ClientID=client_id)
        for client_id in sorted(set(current["client_ids"]) - wanted_ids):
            self.mutate("remove_client_id_from_open_id_connect_provider", OpenIDConnectProviderArn=arn,
                        ClientID=client_id)
        thumbprints = self.desired_thumbprints(current)
        if thumbprints != current["thumbprints"]:
            self.mutate("update_open_id_connect_provider_thumbprint", OpenIDConnectProviderArn=arn,
                        ThumbprintList=thumbprints)
        to_set, to_remove = tag_changes(current["tags"], params["tags"], params["purge_tags"])
        if to_set:
            self.mutate("tag_open_id_connect_provider", OpenIDConnectProviderArn=arn, Tags=tags_to_list(to_set))
        if to_remove:
            self.mutate("untag_open_id_connect_provider", OpenIDConnectProviderArn=arn, TagKeys=to_remove)

    def present(self):
        current = self.read()
        arn = None
        if current is None:
            arn = self.create()
        else:
            self.update(current)
        if not self.actions:
            after = current
        elif self.module.check_mode:
            after = self.predicted(current)
        else:
            after = self.read() or self.predicted(current, arn)
        return current, after

    def absent(self):
        current = self.read()
        if current is None:
            return None, {}
        try:
            self.mutate("delete_open_id_connect_provider", OpenIDConnectProviderArn=current["arn"])
        except AwsCallError as exc:
            if exc.code != "NoSuchEntity":
                raise
        return current, {}


# What the diff leaves out: the ARN only identifies the provider.
DIFF_HIDDEN = ("arn",)


def main():
    run_resource_module(argument_spec(), validate, Provider, "iam", "oidc_provider", DIFF_HIDDEN)


if __name__ == "__main__":
    main()

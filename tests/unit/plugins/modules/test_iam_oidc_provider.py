# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nl2api.deploy.iam_oidc_provider module against a real botocore IAM client with botocore's Stubber: requests
are validated against the service model and against the exact parameters expected here, in order; an unexpected
call fails the test. Covers create, the no-op rerun, client ID / thumbprint / tag updates (moto 5.2.5 has no
Add/RemoveClientIDToOpenIDConnectProvider), delete, check mode (list/get only) and input validation (no call)."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import functools

import pytest

from ansible_collections.nl2api.deploy.plugins.modules import (
    iam_oidc_provider as module_under_test,
)
from ansible_collections.nl2api.deploy.tests.unit.plugins.modules.module_harness import (
    FailJson,
    patch_exits,
    run_main,
    stubbed_aws_client,
)

ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789ABCDEF0123456789"
URL = "https://" + ISSUER
ARN = "arn:aws:iam::123456789012:oidc-provider/" + ISSUER
OTHER_ARN = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/0000"
EKS_THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"
THUMBPRINT = "a" * 40
TAGS = {"Name": "nl2api-prod-oidc"}


@pytest.fixture(autouse=True)
def exits(monkeypatch):
    patch_exits(monkeypatch)


@pytest.fixture
def client(monkeypatch):
    yield from stubbed_aws_client(monkeypatch, "iam")


def args(**extra):
    base = dict(url=URL, tags=TAGS, region="us-east-1")
    base.update(extra)
    return base


run = functools.partial(run_main, module_under_test.main)


def expect_list(stubber, arns):
    stubber.add_response("list_open_id_connect_providers",
                         {"OpenIDConnectProviderList": [{"Arn": arn} for arn in arns]}, {})


def expect_get(stubber, client_ids=("sts.amazonaws.com",), thumbprints=(EKS_THUMBPRINT,), tags=None):
    tags = TAGS if tags is None else tags
    stubber.add_response("get_open_id_connect_provider", {
        "Url": ISSUER, "ClientIDList": list(client_ids), "ThumbprintList": list(thumbprints),
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}, {"OpenIDConnectProviderArn": ARN})


def expect_existing(stubber, **kwargs):
    expect_list(stubber, [OTHER_ARN, ARN])
    expect_get(stubber, **kwargs)


def test_create_sends_the_eks_thumbprint_and_tags(client):
    expect_list(client, [OTHER_ARN])
    client.add_response("create_open_id_connect_provider", {"OpenIDConnectProviderArn": ARN}, {
        "Url": URL, "ClientIDList": ["sts.amazonaws.com"], "ThumbprintList": [EKS_THUMBPRINT],
        "Tags": [{"Key": "Name", "Value": "nl2api-prod-oidc"}]})
    expect_existing(client)
    result = run(args(), diff=True)
    assert result["changed"] is True
    assert result["actions"] == ["create_open_id_connect_provider"]
    assert result["oidc_provider"] == dict(arn=ARN, url=URL, client_ids=["sts.amazonaws.com"],
                                           thumbprints=[EKS_THUMBPRINT], tags=TAGS)
    assert result["diff"]["before"] == {} and result["diff"]["after"]["url"] == URL
    assert client.made == ["iam"]


def test_create_with_given_thumbprints_and_client_ids(client):
    expect_list(client, [])
    client.add_response("create_open_id_connect_provider", {"OpenIDConnectProviderArn": ARN}, {
        "Url": URL, "ClientIDList": ["a-client", "sts.amazonaws.com"], "ThumbprintList": [THUMBPRINT]})
    expect_existing(client, client_ids=["a-client", "sts.amazonaws.com"], thumbprints=[THUMBPRINT], tags={})
    result = run(args(tags=None, client_ids=["sts.amazonaws.com", "a-client"], thumbprints=[THUMBPRINT.upper()]))
    assert result["changed"] is True
    assert result["oidc_provider"]["thumbprints"] == [THUMBPRINT]


def test_second_run_changes_nothing(client):
    expect_existing(client)
    result = run(args(), diff=True)
    assert result["changed"] is False and result["actions"] == []
    assert result["oidc_provider"]["arn"] == ARN
    assert result["diff"]["before"] == result["diff"]["after"]


def test_existing_thumbprints_are_kept_when_the_option_is_unset(client):
    expect_existing(client, thumbprints=[THUMBPRINT])
    result = run(args())
    assert result["changed"] is False
    assert result["oidc_provider"]["thumbprints"] == [THUMBPRINT]


def test_updates_client_ids_thumbprints_and_tags(client):
    expect_existing(client, client_ids=["old-client", "sts.amazonaws.com"], tags={"Name": "old", "stale": "x"})
    client.add_response("add_client_id_to_open_id_connect_provider", {},
                        {"OpenIDConnectProviderArn": ARN, "ClientID": "new-client"})
    client.add_response("remove_client_id_from_open_id_connect_provider", {},
                        {"OpenIDConnectProviderArn": ARN, "ClientID": "old-client"})
    client.add_response("update_open_id_connect_provider_thumbprint", {},
                        {"OpenIDConnectProviderArn": ARN, "ThumbprintList": [EKS_THUMBPRINT, THUMBPRINT]})
    client.add_response("tag_open_id_connect_provider", {},
                        {"OpenIDConnectProviderArn": ARN, "Tags": [{"Key": "Name", "Value": "nl2api-prod-oidc"}]})
    client.add_response("untag_open_id_connect_provider", {},
                        {"OpenIDConnectProviderArn": ARN, "TagKeys": ["stale"]})
    expect_existing(client, client_ids=["new-client", "sts.amazonaws.com"],
                    thumbprints=[THUMBPRINT, EKS_THUMBPRINT])
    result = run(args(client_ids=["sts.amazonaws.com", "new-client"], thumbprints=[EKS_THUMBPRINT, THUMBPRINT]),
                 diff=True)
    assert result["changed"] is True
    assert result["actions"] == ["add_client_id_to_open_id_connect_provider",
                                 "remove_client_id_from_open_id_connect_provider",
                                 "update_open_id_connect_provider_thumbprint",
                                 "tag_open_id_connect_provider", "untag_open_id_connect_provider"]
    assert result["diff"]["before"]["client_ids"] == ["old-client", "sts.amazonaws.com"]
    assert result["diff"]["after"]["client_ids"] == ["new-client", "sts.amazonaws.com"]


def test_tags_unset_are_not_managed(client):
    expect_existing(client, tags={"other": "x"})
    result = run(args(tags=None))
    assert result["changed"] is False


def test_check_mode_makes_list_and_get_calls_only(client):
    expect_existing(client, client_ids=["old-client"], tags={})
    result = run(args(thumbprints=[THUMBPRINT]), check_mode=True, diff=True)
    assert result["changed"] is True
    assert result["actions"] == ["add_client_id_to_open_id_connect_provider",
                                 "remove_client_id_from_open_id_connect_provider",
                                 "update_open_id_connect_provider_thumbprint", "tag_open_id_connect_provider"]
    assert result["oidc_provider"] == dict(arn=ARN, url=URL, client_ids=["sts.amazonaws.com"],
                                           thumbprints=[THUMBPRINT], tags=TAGS)


def test_check_mode_create_makes_no_call_but_list(client):
    expect_list(client, [])
    result = run(args(), check_mode=True)
    assert result["changed"] is True and result["actions"] == ["create_open_id_connect_provider"]
    assert result["oidc_provider"]["arn"] is None
    assert result["oidc_provider"]["thumbprints"] == [EKS_THUMBPRINT]


def test_check_mode_delete_makes_no_call_but_list_and_get(client):
    expect_existing(client)
    result = run(args(state="absent"), check_mode=True)
    assert result["changed"] is True and result["actions"] == ["delete_open_id_connect_provider"]


def test_delete(client):
    expect_existing(client)
    client.add_response("delete_open_id_connect_provider", {}, {"OpenIDConnectProviderArn": ARN})
    result = run(args(state="absent"), diff=True)
    assert result["changed"] is True and result["oidc_provider"] == {}
    assert result["diff"]["before"]["url"] == URL and result["diff"]["after"] == {}


def test_delete_when_absent_changes_nothing(client):
    expect_list(client, [OTHER_ARN])
    result = run(args(state="absent"))
    assert result["changed"] is False and result["actions"] == []


def test_aws_error_is_one_line_naming_the_call(client):
    expect_list(client, [])
    client.add_client_error("create_open_id_connect_provider", "LimitExceeded", "too many providers", 409)
    result = run(args(), expect=FailJson)
    assert "create_open_id_connect_provider failed: LimitExceeded: too many providers" in result["msg"]
    assert result["error_code"] == "LimitExceeded"


@pytest.mark.parametrize("extra, message", [
    (dict(url="http://" + ISSUER), "url"),
    (dict(url=ISSUER), "url"),
    (dict(url=URL + "?x=1"), "url"),
    (dict(thumbprints=["abc"]), "thumbprints[0]"),
    (dict(thumbprints=["g" * 40]), "thumbprints[0]"),
    (dict(thumbprints=[]), "thumbprints"),
    (dict(thumbprints=[THUMBPRINT] * 2), "thumbprints"),
    (dict(thumbprints=["%040x" % n for n in range(6)]), "thumbprints"),
    (dict(client_ids=["a", "a"]), "client_ids"),
    (dict(client_ids=[""]), "client_ids[0]"),
    (dict(url="https://token.actions.githubusercontent.com"), "thumbprints is required"),
])
def test_bad_input_fails_before_any_aws_call(client, extra, message):
    result = run(args(**extra), expect=FailJson)
    assert message in result["msg"]
    assert client.made == []  # no client made, so no call either

# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/aws_client.py: tags, masking, error messages, the bounded poller, the argument spec."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import pytest

from ansible_collections.nl2api.deploy.plugins.module_utils import aws_client


def test_tag_changes():
    current = {"a": "1", "b": "2", "aws:cloudformation:stack": "s"}
    assert aws_client.tag_changes(current, {"a": "1", "c": 3}, purge=True) == ({"c": "3"}, ["b"])
    assert aws_client.tag_changes(current, {"a": "9"}, purge=False) == ({"a": "9"}, [])
    assert aws_client.tag_changes(current, None, purge=True) == ({}, [])
    assert aws_client.merged_tags(current, {"a": "9"}, purge=True) == {"a": "9", "aws:cloudformation:stack": "s"}
    assert aws_client.tags_to_list({"b": "2", "a": "1"}) == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    assert aws_client.tags_from_list([{"Key": "a", "Value": "1"}]) == {"a": "1"}


def test_mask_and_error_message():
    class Boom(Exception):
        response = {"Error": {"Code": "InvalidParameterValue", "Message": "bad token s3cr3t-value"},
                    "ResponseMetadata": {"RequestId": "r-1"}}

    error = aws_client.AwsCallError("modify_replication_group", Boom(), ["s3cr3t-value"])
    assert str(error) == ("modify_replication_group failed: InvalidParameterValue: bad token ******** "
                          "(request id r-1)")
    assert error.code == "InvalidParameterValue"
    assert aws_client.error_code(ValueError("x")) is None
    assert aws_client.mask("a-long-secret and long", ["long", "a-long-secret"]) == "******** and ********"


def test_wait_until_is_bounded_and_polls_with_the_delay():
    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    states = iter(["creating", "creating", "available"])

    def check():
        state = next(states)
        return state == "available", state

    assert aws_client.wait_until(check, "x", timeout=100, delay=15, sleep=sleep, clock=lambda: now[0]) == "available"
    assert slept == [15, 15]

    now[0] = 0.0
    slept.clear()
    with pytest.raises(aws_client.WaitTimeout, match=r"timed out after 20s waiting for y \(last state: busy\)"):
        aws_client.wait_until(lambda: (False, "busy"), "y", timeout=20, delay=15, sleep=sleep, clock=lambda: now[0])
    assert slept == [15, 5]  # the last check happens at the deadline, not after it


def test_argument_spec_secrets_are_no_log():
    spec = aws_client.aws_argument_spec()
    assert spec["secret_key"]["no_log"] is True and spec["session_token"]["no_log"] is True
    assert "aws_secret_access_key" in spec["secret_key"]["aliases"]
    assert spec["validate_certs"]["default"] is True


def test_session_uses_only_the_options_given(monkeypatch):
    pytest.importorskip("boto3")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-env-secret")
    session = aws_client.aws_session({"region": "eu-west-1"})
    assert session.region_name == "eu-west-1"
    assert session.get_credentials().access_key == "from-env"
    session = aws_client.aws_session({"region": "eu-west-1", "access_key": "AKIA1", "secret_key": "s"})
    assert session.get_credentials().access_key == "AKIA1"


def test_aws_client_raises_without_a_region(monkeypatch):
    pytest.importorskip("boto3")
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(aws_client.AwsClientError, match=r"^No AWS region: set the region option"):
        aws_client.aws_client({"access_key": "AKIA1", "secret_key": "s"}, "eks")


def test_aws_client_errors_are_one_line_with_the_secrets_masked(monkeypatch):
    pytest.importorskip("boto3")
    params = {"region": "eu-west-1", "access_key": "AKIA1", "secret_key": "the-secret-key",
              "endpoint_url": "not a url the-secret-key"}
    with pytest.raises(aws_client.AwsClientError) as raised:
        aws_client.aws_client(params, "eks")
    message = str(raised.value)
    assert message.startswith("Cannot create the AWS eks client: ")
    assert "the-secret-key" not in message and "********" in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_aws_client_without_boto3_names_the_library(monkeypatch):
    monkeypatch.setattr(aws_client, "HAS_BOTO3", False)
    with pytest.raises(aws_client.AwsClientError, match="boto3 and botocore"):
        aws_client.aws_client({"region": "eu-west-1"}, "eks")


def test_aws_client_makes_a_client_for_the_endpoint():
    pytest.importorskip("boto3")
    client = aws_client.aws_client({"region": "eu-west-1", "access_key": "a", "secret_key": "b",
                                    "endpoint_url": "http://127.0.0.1:1", "validate_certs": False}, "iam")
    assert client.meta.endpoint_url == "http://127.0.0.1:1"
    assert aws_client.region_of(client) == "eu-west-1"


class FailingModule(object):
    def __init__(self, params):
        self.params = params

    def fail_json(self, **kwargs):
        raise RuntimeError(kwargs)


def test_module_client_fails_the_module_with_the_message_only(monkeypatch):
    def broken(params, service):
        raise aws_client.AwsClientError("Cannot create the AWS %s client: ********" % service)

    monkeypatch.setattr(aws_client, "aws_client", broken)
    with pytest.raises(RuntimeError) as raised:
        aws_client.module_client(FailingModule({"secret_key": "s"}), "eks")
    assert raised.value.args[0] == {"msg": "Cannot create the AWS eks client: ********"}


@pytest.mark.parametrize("params,message", [
    ({"access_key": "a"}, "parameters are required together: access_key, secret_key"),
    ({"profile": "p", "access_key": "a", "secret_key": "b"}, "parameters are mutually exclusive: profile|access_key"),
    ({"session_token": "t"}, "missing parameter(s) required by 'session_token': access_key, secret_key"),
    ({"aws_access_key_id": "a", "aws_secret_access_key": "b", "aws_session_token": "t"}, None),
])
def test_the_rules_hold_for_a_dict_option_built_from_the_spec(params, message):
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    spec = dict(conn=dict(type="dict", options=aws_client.aws_argument_spec(), **aws_client.aws_rules()))
    result = ArgumentSpecValidator(spec).validate(dict(conn=params))
    if message is None:
        assert not result.error_messages
        assert result.validated_parameters["conn"]["session_token"] == "t"
    else:
        assert any(message in error for error in result.error_messages), result.error_messages

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

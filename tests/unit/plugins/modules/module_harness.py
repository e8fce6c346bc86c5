# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's main() in-process with given arguments and catch its exit_json/fail_json result.

Shared by the module unit tests, the way community collections share tests/unit/plugins/modules/utils.py.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import contextlib
import json

import pytest
from ansible.module_utils import basic

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    @contextlib.contextmanager
    def patch_module_args(args=None):
        saved = getattr(basic, "_ANSIBLE_ARGS", None)
        basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode()  # pylint: disable=protected-access
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved  # pylint: disable=protected-access


class ExitJson(Exception):
    """exit_json was called; args[0] holds the result."""


class FailJson(Exception):
    """fail_json was called; args[0] holds the result."""


def patch_exits(monkeypatch):
    """Make AnsibleModule.exit_json/fail_json raise ExitJson/FailJson instead of exiting the process."""
    def exit_json(self, **kwargs):  # pylint: disable=unused-argument
        raise ExitJson(kwargs)

    def fail_json(self, **kwargs):  # pylint: disable=unused-argument
        raise FailJson(kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)


def run_main(main, args, expect=ExitJson, **flags):
    """Run `main` with module arguments `args` and Ansible's flags (check_mode=True is _ansible_check_mode ...);
    return the result dict of the expected exit."""
    args = dict(args)
    for flag, value in flags.items():
        args["_ansible_%s" % flag] = value
    with patch_module_args(args):
        with pytest.raises(expect) as raised:
            main()
    return raised.value.args[0]


def stubbed_aws_client(monkeypatch, service):
    """For a fixture to `yield from`: a real boto3 client for `service` with botocore's Stubber active, returned by
    module_utils/aws_client.py's aws_client() (the one function the AWS modules make clients with): requests are
    checked against the service model and the queued expectations. The stubber's .made lists the services asked
    for (empty when input validation failed before any client); responses still queued when the block ends fail
    the test."""
    import boto3  # pylint: disable=import-outside-toplevel
    from botocore import stub  # pylint: disable=import-outside-toplevel

    from ansible_collections.nl2api.deploy.plugins.module_utils import aws_client  # pylint: disable=import-outside-toplevel

    real = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name="us-east-1").client(service)
    stubber = stub.Stubber(real)
    made = []

    def fake_client(params, service_):  # pylint: disable=unused-argument
        made.append(service_)
        return real

    monkeypatch.setattr(aws_client, "aws_client", fake_client)
    with stubber:
        stubber.made = made
        yield stubber
    stubber.assert_no_pending_responses()

# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nl2api.deploy.eks_kubeconfig module: the file it writes (exec plugin, no token, mode 0600), idempotence,
check and diff mode, and DescribeCluster through botocore's Stubber when the endpoint is not given."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import functools
import os
import stat

import pytest
import yaml

from ansible_collections.nl2api.deploy.plugins.module_utils import aws_client
from ansible_collections.nl2api.deploy.plugins.modules import eks_kubeconfig as module_under_test
from ansible_collections.nl2api.deploy.tests.unit.plugins.modules.module_harness import (
    FailJson,
    patch_exits,
    run_main,
)

SERVER = "https://ABC.gr7.eu-west-1.eks.amazonaws.com"
CA = "LS0tLS1CRUdJTi=="


@pytest.fixture(autouse=True)
def exits(monkeypatch):
    patch_exits(monkeypatch)


run = functools.partial(run_main, module_under_test.main)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_writes_an_exec_kubeconfig_0600_then_changes_nothing(tmp_path):
    path = tmp_path / "kubeconfig"
    module_args = dict(cluster_name="nl2api-prod", path=str(path), region="eu-west-1", endpoint=SERVER,
                       certificate_authority=CA)
    first = run(module_args, diff=True)
    assert first["changed"] is True and first["server"] == SERVER and first["context"] == "nl2api-prod"
    assert mode_of(path) == 0o600
    document = yaml.safe_load(path.read_text())
    assert document["current-context"] == "nl2api-prod"
    assert document["clusters"][0]["cluster"] == {"server": SERVER, "certificate-authority-data": CA}
    user = document["users"][0]["user"]
    assert set(user) == {"exec"}  # no token, no client key
    assert user["exec"]["command"] == "aws"
    assert user["exec"]["args"][:6] == ["eks", "get-token", "--cluster-name", "nl2api-prod", "--region", "eu-west-1"]
    assert first["diff"]["before"] == "" and first["diff"]["after"] == path.read_text()

    second = run(module_args)
    assert second["changed"] is False

    path.chmod(0o644)
    third = run(module_args)
    assert third["changed"] is True and mode_of(path) == 0o600


def test_check_mode_writes_nothing(tmp_path):
    path = tmp_path / "kubeconfig"
    result = run(dict(cluster_name="c", path=str(path), region="eu-west-1", endpoint=SERVER,
                      certificate_authority=CA), check_mode=True)
    assert result["changed"] is True and not path.exists()


def test_changed_content_is_rewritten_with_profile_env(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text("old\n")
    result = run(dict(cluster_name="c", path=str(path), region="eu-west-1", endpoint=SERVER, certificate_authority=CA,
                      aws_profile_env="deploy", context_name="prod"), diff=True)
    assert result["changed"] is True and result["diff"]["before"] == "old\n"
    document = yaml.safe_load(path.read_text())
    assert document["users"][0]["user"]["exec"]["env"] == [{"name": "AWS_PROFILE", "value": "deploy"}]
    assert document["contexts"][0] == {"name": "prod", "context": {"cluster": "prod", "user": "c"}}


def test_absent_removes_the_file(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text("x")
    assert run(dict(cluster_name="c", path=str(path), state="absent"))["changed"] is True
    assert not path.exists()
    assert run(dict(cluster_name="c", path=str(path), state="absent"))["changed"] is False


def test_missing_directory_fails_naming_path(tmp_path):
    result = run(dict(cluster_name="c", path=str(tmp_path / "no" / "kubeconfig"), region="eu-west-1",
                      endpoint=SERVER, certificate_authority=CA), FailJson)
    assert result["msg"].startswith("path: the directory of")


def test_endpoint_and_ca_go_together(tmp_path):
    result = run(dict(cluster_name="c", path=str(tmp_path / "k"), endpoint=SERVER), FailJson)
    assert "certificate_authority" in result["msg"]


def test_reads_the_cluster_when_no_endpoint_is_given(tmp_path, monkeypatch):
    boto3 = pytest.importorskip("boto3")
    stub = pytest.importorskip("botocore.stub")
    real = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name="eu-west-1").client("eks")
    monkeypatch.setattr(aws_client, "aws_client", lambda params, service: real)
    with stub.Stubber(real) as stubber:
        stubber.add_response("describe_cluster", {"cluster": {"name": "c", "endpoint": SERVER, "status": "ACTIVE",
                                                              "certificateAuthority": {"data": CA}}}, {"name": "c"})
        result = run(dict(cluster_name="c", path=str(tmp_path / "k")))
        stubber.assert_no_pending_responses()
    assert result["server"] == SERVER
    assert "--region', 'eu-west-1" in str(yaml.safe_load((tmp_path / "k").read_text())["users"][0]["user"]["exec"])

# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nl2api.deploy.credential_rotation module: argument errors name the option, results hold no secret, check mode.

The backend is replaced by an in-memory one (the real PostgreSQL and Redis backends are tested in
tests/functional/rotation); consumers are real ``file`` consumers in a temporary directory."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import json
import os
import shutil

import pytest

from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.engine import (
    MASK,
    Backend,
    RotationError,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.options import problems_of
from ansible_collections.nl2api.deploy.plugins.modules import credential_rotation
from ansible_collections.nl2api.deploy.tests.unit.plugins.modules.module_harness import (
    FailJson,
    patch_exits,
    run_main,
)


class MemoryBackend(Backend):
    name = "postgres"
    seen = []  # passwords set, across runs of one test

    def __init__(self, params):
        self.params = params

    def pending_identity(self, current_public):
        return {"username": "app_b" if (current_public or {}).get("username") == "app_a" else "app_a"}

    def set_secret(self, pending, check_mode):
        if not check_mode:
            MemoryBackend.seen.append(pending.password)
        return ["ALTER ROLE \"%s\" WITH LOGIN PASSWORD '%s'" % (pending.username, MASK)]

    def test_secret(self, pending):
        if pending.password not in MemoryBackend.seen:
            raise RotationError("login failed")

    def revoke(self, previous_public, current, check_mode):
        return ["ALTER ROLE \"%s\" WITH NOLOGIN PASSWORD NULL" % ((previous_public or {}).get("username"),)]


@pytest.fixture(autouse=True)
def module_exits(monkeypatch):
    patch_exits(monkeypatch)
    monkeypatch.delenv("NL2API_ROTATION_FAULT", raising=False)
    MemoryBackend.seen = []


@pytest.fixture
def memory_backend(monkeypatch):
    built = []

    def build(engine, params):
        built.append(engine)
        return MemoryBackend(params)

    monkeypatch.setattr(credential_rotation, "build_backend", build)
    return built


def args(tmp_path, **extra):
    base = dict(
        credential="postgres-app",
        engine="postgres",
        state_dir=str(tmp_path / "state"),
        postgres=dict(host="127.0.0.1", admin_user="postgres", admin_password="admin-secret-pw", group_role="app",
                      login_roles=["app_a", "app_b"]),
        consumers=[dict(type="file", path=str(tmp_path / "vol"),
                        keys=dict(DATABASE_USER="username", DATABASE_PASSWORD="password"))],
    )
    base.update(extra)
    return base


def secrets_in(tmp_path):
    """The passwords delivered to the file consumer so far."""
    data = tmp_path / "vol" / "DATABASE_PASSWORD"
    return [data.read_text()] if data.exists() else []


@pytest.mark.parametrize("change,words", [
    (dict(engine="redis_acl"), ["engine", "redis"]),
    (dict(redis=dict(acl_user="x")), ["postgres", "redis"]),
    (dict(password_length=12), ["password_length"]),
    (dict(max_age="soon"), ["max_age"]),
    (dict(revoke_delay="later"), ["revoke_delay"]),
    (dict(revoke_delay="-5"), ["revoke_delay"]),
    (dict(credential="../etc/passwd"), ["credential"]),
    (dict(password_alphabet="a", password_symbols=""), ["password_alphabet"]),
    (dict(consumers=[]), ["consumers"]),
    (dict(consumers=[dict(type="file", keys=dict(P="password"))]), ["consumers[0].path"]),
    (dict(consumers=[dict(type="file", path="/tmp/x", keys=dict(P="token"))]), ["consumers[0].keys.P"]),
    (dict(consumers=[dict(type="file", path="/tmp/x", keys=dict(P="password"), secret_id="a")]),
     ["consumers[0]", "secret_id", "type file"]),
])
def test_argument_errors_name_the_option(tmp_path, memory_backend, change, words):
    result = run_main(credential_rotation.main, args(tmp_path, **change), expect=FailJson)
    for word in words:
        assert word in result["msg"], result["msg"]
    assert not os.path.exists(str(tmp_path / "state"))


URL = "postgresql://{username}:{password}@db.internal:5432/nl2api?sslmode=verify-full"


WHERE = "consumers[0].url_keys.postgres-url"


@pytest.mark.parametrize("url_keys,words", [
    ({"postgres-url": "postgresql://{username}:{pasword}@db:5432/nl2api"}, [WHERE, "unknown placeholder {pasword}"]),
    ({"postgres-url": "db.internal:5432/{username}:{password}"}, [WHERE, "scheme"]),
    ({"postgres-url": "postgresql://{username}@db:5432/nl2api"}, [WHERE, "has no {password}"]),
    ({"postgres-url": "postgresql://db:5432/nl2api?password={password}"}, [WHERE, "user info"]),
    ({"DATABASE_USER": URL}, ["DATABASE_USER in both keys and url_keys"]),
])
def test_url_key_errors_name_the_url_key(tmp_path, memory_backend, url_keys, words):
    params = args(tmp_path)
    params["consumers"][0]["url_keys"] = url_keys
    result = run_main(credential_rotation.main, params, expect=FailJson)
    for word in words:
        assert word in result["msg"], result["msg"]
    assert memory_backend == [] and not (tmp_path / "state").exists()


def sm_consumer(**aws):
    return dict(type="aws_secretsmanager", secret_id="nl2api/redis", keys=dict(P="password"), **aws)


@pytest.mark.parametrize("aws,message", [
    (dict(access_key="AKIA1"), "parameters are required together: access_key, secret_key found in consumers"),
    (dict(aws_secret_access_key="aws-Secret-1"),
     "parameters are required together: access_key, secret_key found in consumers"),
    (dict(profile="p", aws_access_key_id="AKIA1", aws_secret_access_key="aws-Secret-1"),
     "parameters are mutually exclusive: profile|access_key found in consumers"),
    (dict(session_token="aws-Token-1"),
     "missing parameter(s) required by 'session_token': access_key, secret_key found in consumers"),
])
def test_aws_connection_rules_are_the_argument_spec(tmp_path, memory_backend, aws, message):
    params = args(tmp_path, consumers=[sm_consumer(**aws)])
    failed = run_main(credential_rotation.main, dict(params, validate_only=True), expect=FailJson)
    assert message in failed["msg"]
    assert "Secret-1" not in failed["msg"] and "Token-1" not in failed["msg"]
    # The rotation role's controller-side check reports the same, before any credential is touched.
    problems = problems_of(dict(params, validate_only=True))
    assert len(problems) == 1 and message in problems[0]
    assert memory_backend == [] and not (tmp_path / "state").exists()


def test_the_elasticache_block_has_the_same_rules(tmp_path):
    params = args(tmp_path, engine="elasticache", elasticache=dict(replication_group_id="g", host="h",
                                                                   access_key="AKIA1"))
    del params["postgres"]
    problems = problems_of(params)
    assert problems == ["parameters are required together: access_key, secret_key found in elasticache"]


@pytest.mark.parametrize("aws", [
    dict(access_key="AKIA1", secret_key="aws-Secret-1", session_token="aws-Token-1", region="eu-west-1",
         endpoint_url="http://127.0.0.1:1"),
    dict(aws_access_key_id="AKIA1", aws_secret_access_key="aws-Secret-1", aws_session_token="aws-Token-1",
         aws_region="eu-west-1", aws_endpoint_url="http://127.0.0.1:1"),
    dict(profile="nl2api", region="eu-west-1"),
    dict(),
])
def test_canonical_names_and_amazon_aws_aliases_are_valid(tmp_path, memory_backend, aws):
    params = args(tmp_path, consumers=[sm_consumer(**aws)])
    assert problems_of(params) == []
    valid = run_main(credential_rotation.main, dict(params, validate_only=True))
    assert "options are valid" in valid["msg"]


def test_aws_options_on_another_consumer_type_are_named_as_written(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")  # boto3 reads it; it is no option of a file consumer
    consumer = dict(type="file", path="/tmp/x", keys=dict(P="password"))
    assert problems_of(args(tmp_path, consumers=[consumer])) == []
    problems = problems_of(args(tmp_path, consumers=[dict(consumer, aws_access_key_id="AKIA1",
                                                          aws_secret_access_key="aws-Secret-1")]))
    assert problems == ["consumers[0]: options aws_access_key_id, aws_secret_access_key do not apply to type file"]


def test_every_problem_is_reported_at_once_and_validate_only_connects_to_nothing(tmp_path, memory_backend):
    params = args(tmp_path, max_age="soon", password_length=8)
    params["consumers"][0]["url_keys"] = {"postgres-url": "postgresql://{user}:{password}@db/nl2api"}
    failed = run_main(credential_rotation.main, dict(params, validate_only=True), expect=FailJson)
    assert len(failed["problems"]) == 3, failed["problems"]
    assert "max_age" in failed["msg"] and "password_length" in failed["msg"] and "{user}" in failed["msg"]
    assert failed["changed"] is False

    valid = run_main(credential_rotation.main, dict(args(tmp_path), validate_only=True))
    assert valid["changed"] is False and "options are valid" in valid["msg"]
    assert memory_backend == [] and not (tmp_path / "state").exists() and not (tmp_path / "vol").exists()


def test_url_keys_deliver_the_encoded_credential_and_the_first_run_reads_it_back(tmp_path, memory_backend):
    params = args(tmp_path)
    params["consumers"][0] = dict(type="file", path=str(tmp_path / "vol"), url_keys={"postgres-url": URL})
    result = run_main(credential_rotation.main, params)
    url = (tmp_path / "vol" / "postgres-url").read_text()
    password = MemoryBackend.seen[0]
    assert url == "postgresql://app_a:%s@db.internal:5432/nl2api?sslmode=verify-full" % password
    assert url not in json.dumps(result) and password not in json.dumps(result)
    # Without a state file, the rotation learns the role in use from the URL and alternates.
    shutil.rmtree(str(tmp_path / "state"))
    forced = run_main(credential_rotation.main, params)
    assert forced["credential"]["username"] == "app_b"
    assert (tmp_path / "vol" / "postgres-url").read_text().startswith("postgresql://app_b:")


def test_engine_option_required_and_exclusive(tmp_path, memory_backend):
    params = args(tmp_path)
    del params["postgres"]
    result = run_main(credential_rotation.main, params, expect=FailJson)
    assert result["msg"] == "engine is postgres but all of the following are missing: postgres"
    params = args(tmp_path, elasticache=dict(replication_group_id="g", host="h"))
    result = run_main(credential_rotation.main, params, expect=FailJson)
    assert result["msg"] == "parameters are mutually exclusive: postgres|redis|elasticache|azure_redis"


def test_ansible_level_errors_name_the_sub_option(tmp_path, memory_backend):
    params = args(tmp_path)
    del params["postgres"]["group_role"]
    result = run_main(credential_rotation.main, params, expect=FailJson)
    assert "group_role" in result["msg"]
    params = args(tmp_path, consumers=[dict(type="smoke_signal", keys={})])
    result = run_main(credential_rotation.main, params, expect=FailJson)
    assert "type" in result["msg"] and "smoke_signal" in result["msg"]


def test_rotation_result_has_no_secret(tmp_path, memory_backend):
    result = run_main(credential_rotation.main, args(tmp_path))
    assert result["changed"] is True and result["rotated"] is True and result["step"] == "idle"
    assert result["credential"]["username"] == "app_a"
    assert result["consumers"] == [{"type": "file", "target": str(tmp_path / "vol"), "changed": True}]
    assert result["rollouts"] == [] and result["keda_refreshed"] == []
    assert result["statements"][0].endswith("PASSWORD '********'")
    text = json.dumps(result)
    delivered = secrets_in(tmp_path)
    assert delivered and MemoryBackend.seen == delivered
    assert delivered[0] not in text and "admin-secret-pw" not in text
    assert set(result["diff"]["after"]) >= {"username", "rotated_at", "step"}
    state = json.load(open(result["state_file"]))
    assert "pending" not in state and state["current"] == {"username": "app_a"}


def test_second_run_within_max_age_changes_nothing_then_force(tmp_path, memory_backend):
    run_main(credential_rotation.main, args(tmp_path))
    again = run_main(credential_rotation.main, args(tmp_path))
    assert again["changed"] is False and again["rotated"] is False
    forced = run_main(credential_rotation.main, args(tmp_path, force=True))
    assert forced["changed"] is True and forced["credential"]["username"] == "app_b"


def test_check_mode_writes_nothing(tmp_path, memory_backend):
    params = args(tmp_path, _ansible_check_mode=True)
    result = run_main(credential_rotation.main, params)
    assert result["changed"] is True and "would rotate" in result["msg"]
    assert not (tmp_path / "state").exists() and not (tmp_path / "vol").exists()
    assert MemoryBackend.seen == []


def test_failure_mid_rotation_reports_the_step_without_secret(tmp_path, memory_backend, monkeypatch):
    def broken(self, pending):
        raise RotationError("login as %s with %s failed" % (pending.username, pending.password))

    monkeypatch.setattr(MemoryBackend, "test_secret", broken)
    result = run_main(credential_rotation.main, args(tmp_path), expect=FailJson)
    assert "step test_secret failed" in result["msg"] and MASK in result["msg"]
    assert MemoryBackend.seen and MemoryBackend.seen[0] not in json.dumps(result)
    assert result["step"] == "set_secret"


def test_bad_fault_variable_is_reported(tmp_path, memory_backend, monkeypatch):
    monkeypatch.setenv("NL2API_ROTATION_FAULT", "revoke:later")
    result = run_main(credential_rotation.main, args(tmp_path), expect=FailJson)
    assert "NL2API_ROTATION_FAULT" in result["msg"]


def test_every_secret_option_is_no_log():
    spec = credential_rotation.ARGUMENT_SPEC
    assert spec["postgres"]["options"]["admin_password"]["no_log"] is True
    assert spec["redis"]["options"]["login_password"]["no_log"] is True
    assert spec["elasticache"]["options"]["secret_key"]["no_log"] is True
    assert spec["elasticache"]["options"]["session_token"]["no_log"] is True
    assert spec["azure_redis"]["options"]["token"]["no_log"] is True
    assert spec["consumers"]["options"]["token"]["no_log"] is True
    assert spec["consumers"]["options"]["secret_key"]["no_log"] is True
    assert spec["consumers"]["options"]["session_token"]["no_log"] is True

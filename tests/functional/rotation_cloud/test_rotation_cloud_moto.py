"""rotation/aws.py against moto in server mode (the `aws` fixture) and, for test_secret, a real Redis over TLS.

Secrets Manager is covered end to end by moto: create, merge into an existing JSON SecretString (other keys kept),
no new version when nothing changed, check mode, read_current through `keys`, and `url_keys` (a URL with the
percent-encoded credential, read back from the URL when it is the only output).

ElastiCache: moto 5.2.5 accepts ModifyReplicationGroup with AuthToken/AuthTokenUpdateStrategy but ignores both
(moto/elasticache/models.py modify_replication_group takes neither argument; the group's status never leaves
`available`). So these tests prove what moto does check: the requests are valid for the service model and accepted,
the group is found and stays available, a missing group and a group without in-transit encryption are refused,
check mode only describes. The ROTATE-then-SET sequence with its exact parameters, the wait loop through
`modifying`, its bound, and secret masking in AWS errors are covered by the unit tests instead
(tests/unit/plugins/module_utils/test_rotation_cloud.py, botocore Stubber on a real client).
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from support.moto_server import MotoServer
from support.redis_server import RedisServer

from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.engine import (
    Credential,
    RotationEngine,
    RotationError,
    StateStore,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.aws import (
    build_backend,
    build_consumer,
)

GROUP_ID = "nl2api-cache"
SECRET_ID = "nl2api/database"
KEYS = {"DATABASE_USER": "username", "DATABASE_PASSWORD": "password"}


def token() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _index in range(40))


def aws_options(aws: MotoServer) -> dict[str, Any]:
    """The module's AWS options, pointed at moto (explicit credentials: never a developer's profile)."""
    return {
        "region": aws.region,
        "endpoint_url": aws.endpoint_url,
        "access_key": aws.access_key_id,
        "secret_key": aws.secret_access_key,
    }


def secret_json(aws: MotoServer) -> dict[str, Any]:
    return json.loads(aws.client("secretsmanager").get_secret_value(SecretId=SECRET_ID)["SecretString"])


def version_count(aws: MotoServer) -> int:
    return len(aws.client("secretsmanager").list_secret_version_ids(SecretId=SECRET_ID)["Versions"])


def consumer(aws: MotoServer, **overrides: Any) -> Any:
    spec = {"type": "aws_secretsmanager", "secret_id": SECRET_ID, "keys": KEYS, **aws_options(aws)}
    spec.update(overrides)
    return build_consumer(spec)


# Secrets Manager ----------------------------------------------------------------------------------------------------


def test_secretsmanager_creates_then_reads_back(aws: MotoServer) -> None:
    password = token()
    target = consumer(aws, create=True)
    assert target.read_current() is None
    assert target.write(Credential("nl2api_app_a", password), check_mode=True) is True
    assert aws.client("secretsmanager").list_secrets()["SecretList"] == []  # check mode created nothing
    assert target.write(Credential("nl2api_app_a", password), check_mode=False) is True
    assert secret_json(aws) == {"DATABASE_USER": "nl2api_app_a", "DATABASE_PASSWORD": password}
    assert target.read_current() == {"username": "nl2api_app_a", "password": password}


def test_secretsmanager_absent_secret_without_create_fails(aws: MotoServer) -> None:
    with pytest.raises(RotationError, match="create: true"):
        consumer(aws).write(Credential("nl2api_app_a", token()), check_mode=False)


def test_secretsmanager_merges_and_is_idempotent(aws: MotoServer) -> None:
    old, new = token(), token()
    aws.client("secretsmanager").create_secret(
        Name=SECRET_ID,
        SecretString=json.dumps({"DATABASE_HOST": "db.internal", "DATABASE_USER": "nl2api_app_a",
                                 "DATABASE_PASSWORD": old}),
    )
    target = consumer(aws)
    assert target.read_current() == {"username": "nl2api_app_a", "password": old}

    assert target.write(Credential("nl2api_app_b", new), check_mode=True) is True
    assert secret_json(aws)["DATABASE_PASSWORD"] == old and version_count(aws) == 1

    assert target.write(Credential("nl2api_app_b", new), check_mode=False) is True
    assert secret_json(aws) == {"DATABASE_HOST": "db.internal", "DATABASE_USER": "nl2api_app_b",
                                "DATABASE_PASSWORD": new}
    versions = version_count(aws)
    assert versions == 2

    assert target.write(Credential("nl2api_app_b", new), check_mode=False) is False
    assert version_count(aws) == versions  # no change, no new version


def test_secretsmanager_url_keys_carry_the_encoded_credential(aws: MotoServer) -> None:
    """ElastiCache AUTH tokens may hold ':', '#', '?' and '%': the URL carries them percent-encoded, and the
    credential in use is read back out of the URL when no raw key is delivered."""
    password = token()[:20] + ":#?%!&*"
    template = "rediss://:{password}@master.nl2api.cache.amazonaws.com:6379/0?ssl_cert_reqs=required"
    target = consumer(aws, keys=None, url_keys={"redis-url": template}, create=True)
    assert target.write(Credential(None, password), check_mode=False) is True
    assert secret_json(aws) == {"redis-url": "rediss://:%s%%3A%%23%%3F%%25%%21%%26%%2A@master.nl2api.cache."
                                             "amazonaws.com:6379/0?ssl_cert_reqs=required" % password[:20]}
    assert target.read_current() == {"username": None, "password": password}
    assert target.write(Credential(None, password), check_mode=False) is False


def test_secretsmanager_refuses_a_non_json_secret_without_showing_it(aws: MotoServer) -> None:
    stored = "plain-" + token()
    aws.client("secretsmanager").create_secret(Name=SECRET_ID, SecretString=stored)
    with pytest.raises(RotationError, match="is not JSON") as info:
        consumer(aws).write(Credential("nl2api_app_a", token()), check_mode=False)
    assert stored not in str(info.value)


# ElastiCache --------------------------------------------------------------------------------------------------------


def create_group(aws: MotoServer, *, transit: bool = True, auth_token: str | None = None) -> None:
    options: dict[str, Any] = {
        "ReplicationGroupId": GROUP_ID,
        "ReplicationGroupDescription": "nl2api queue",
        "Engine": "redis",
        "CacheNodeType": "cache.t4g.micro",
        "NumCacheClusters": 1,
        "TransitEncryptionEnabled": transit,
    }
    if auth_token:
        options["AuthToken"] = auth_token
    aws.client("elasticache").create_replication_group(**options)


def describe(aws: MotoServer) -> dict[str, Any]:
    groups: list[dict[str, Any]] = aws.client("elasticache").describe_replication_groups(
        ReplicationGroupId=GROUP_ID)["ReplicationGroups"]
    return groups[0]


def elasticache(aws: MotoServer, **overrides: Any) -> Any:
    params = {"replication_group_id": GROUP_ID, "host": "127.0.0.1", "port": 6379, "tls": True,
              "poll_interval": 1, "wait_timeout": 30, **aws_options(aws)}
    params.update(overrides)
    return build_backend(params)


def test_elasticache_rotate_then_set_accepted_by_moto(aws: MotoServer) -> None:
    old, new = token(), token()
    create_group(aws, auth_token=old)
    before = describe(aws)
    assert before["Status"] == "available" and before["AuthTokenEnabled"] and before["TransitEncryptionEnabled"]
    backend = elasticache(aws)
    try:
        rotated = backend.set_secret(Credential(None, new), check_mode=False)
        assert describe(aws)["Status"] == "available"
        revoked = backend.revoke({"username": None}, Credential(None, new), check_mode=False)
    finally:
        backend.close()
    after = describe(aws)
    assert after["Status"] == "available" and after["AuthTokenEnabled"]
    assert [s.rsplit("AuthTokenUpdateStrategy=", 1)[1] for s in rotated + revoked] == [
        "ROTATE ApplyImmediately=true", "SET ApplyImmediately=true"]
    assert not any(new in s or old in s for s in rotated + revoked)


def test_elasticache_check_mode_describes_only(aws: MotoServer) -> None:
    create_group(aws, auth_token=token())
    before = describe(aws)
    statements = elasticache(aws).set_secret(Credential(None, token()), check_mode=True)
    assert "AuthToken=********" in statements[0]
    assert describe(aws) == before


def test_elasticache_missing_group_names_the_option(aws: MotoServer) -> None:
    with pytest.raises(RotationError, match="replication_group_id: replication group nl2api-cache does not exist"):
        elasticache(aws).set_secret(Credential(None, token()), check_mode=False)


def test_elasticache_refuses_a_group_without_tls(aws: MotoServer) -> None:
    create_group(aws, transit=False)
    with pytest.raises(RotationError, match="in-transit encryption off"):
        elasticache(aws).set_secret(Credential(None, token()), check_mode=False)


# test_secret over TLS against a real Redis (AUTH with a password only, as ElastiCache AUTH tokens work) ---------------


@pytest.fixture
def default_user_token(redis_server: RedisServer) -> Iterator[str]:
    """See set_default_user."""
    value = token()
    with set_default_user(redis_server, value):
        yield value


@contextmanager
def set_default_user(redis_server: RedisServer, value: str) -> Iterator[None]:
    """Turn the server's `default` user on with a fresh password (what an ElastiCache AUTH token is), then put it
    back exactly as the aclfile had it."""
    admin = redis_server.client()
    original = admin.acl_getuser("default")
    admin.execute_command("ACL", "SETUSER", "default", "on", ">" + value, "+@connection")
    try:
        yield
    finally:
        admin.execute_command("ACL", "SETUSER", "default", "off", "resetpass", "-@all")
        assert admin.acl_getuser("default") == original
        admin.close()


def test_elasticache_test_secret_over_tls(aws: MotoServer, redis_server: RedisServer, default_user_token: str) -> None:
    backend = elasticache(aws, host=redis_server.host, port=redis_server.tls_port, ca_file=str(redis_server.ca_file))
    backend.test_secret(Credential(None, default_user_token))
    wrong = token()
    with pytest.raises(RotationError, match="does not work on rediss://") as info:
        backend.test_secret(Credential(None, wrong))
    assert wrong not in str(info.value)


def test_engine_rotates_elasticache_into_secrets_manager(aws: MotoServer, redis_server: RedisServer,
                                                         tmp_path: Path) -> None:
    """The whole rotation through credential_rotation's engine: ROTATE (moto), test_secret (the real Redis, whose
    default user is given the token the generator will produce, as ElastiCache would after ROTATE), delivery into
    Secrets Manager (moto, merged), SET (moto); then nothing to do until max_age."""
    old, new = token(), token()
    create_group(aws, auth_token=old)
    aws.client("secretsmanager").create_secret(
        Name=SECRET_ID, SecretString=json.dumps({"REDIS_HOST": "master.nl2api", "REDIS_PASSWORD": old}))
    store = StateStore(str(tmp_path / "state"), "redis-elasticache")

    def engine() -> Any:
        backend = elasticache(aws, host=redis_server.host, port=redis_server.tls_port,
                              ca_file=str(redis_server.ca_file))
        target = consumer(aws, keys={"REDIS_PASSWORD": "password"})
        return RotationEngine("redis-elasticache", backend, [target], [], store, max_age_seconds=86400,
                              password_generator=lambda: new)

    with pytest.raises(RotationError, match="step test_secret failed") as info:
        engine().run()  # Redis does not know the new token yet: the rotation stops before delivering it
    assert new not in str(info.value)
    assert secret_json(aws)["REDIS_PASSWORD"] == old

    with set_default_user(redis_server, new):
        result = engine().run()
    assert result["rotated"] and result["step"] == "idle" and result["resumed_from"] == "set_secret"
    assert [s.split("AuthTokenUpdateStrategy=")[1].split()[0] for s in result["statements"]] == [
        "ROTATE", "SET"]  # ROTATE again on resume (the token is set again before it is tested again), then SET
    assert result["consumers"] == [{"type": "aws_secretsmanager", "target": SECRET_ID, "changed": True}]
    assert secret_json(aws) == {"REDIS_HOST": "master.nl2api", "REDIS_PASSWORD": new}
    assert describe(aws)["Status"] == "available"
    text = json.dumps(result) + (tmp_path / "state" / "redis-elasticache.json").read_text()
    assert new not in text and old not in text

    again = engine().run()
    assert again["changed"] is False and again["rotated"] is False

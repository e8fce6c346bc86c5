# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rotation/aws.py and rotation/azure.py without a cloud: ElastiCache and Secrets Manager through botocore's
Stubber on real clients (it checks every request against the service model), Azure ARM and Key Vault through a
local HTTP server on 127.0.0.1 that records each request. tests/functional/rotation_cloud/ runs the AWS parts against moto."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import json
import string
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.nl2api.deploy.plugins.module_utils._common import mask
from ansible_collections.nl2api.deploy.plugins.module_utils.redis_connection import redis_client_kwargs
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation import aws, azure as azure_rotation
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation import redis as redis_rotation
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.aws import (
    AwsSecretsManagerConsumer,
    ElastiCacheBackend,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.azure import AzureRedisBackend
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.engine import (
    Consumer,
    Credential,
    RotationEngine,
    RotationError,
    StateStore,
)


def build_backend(engine, params):
    """The cloud backend of ``engine``, as the module picks it."""
    return {"elasticache": aws.build_backend, "azure_redis": azure_rotation.build_backend}[engine](params)


def build_consumer(spec):
    """The cloud consumer of ``spec["type"]``, as consumers.build_consumers picks it."""
    return {"aws_secretsmanager": aws.build_consumer, "azure_keyvault": azure_rotation.build_consumer}[spec["type"]](
        spec)


try:
    import boto3
    from botocore.stub import Stubber
except ImportError:  # tests/unit/requirements.txt installs boto3; without it the AWS tests must not pass silently
    boto3 = None
    Stubber = None

needs_boto3 = pytest.mark.skipif(boto3 is None, reason="boto3 is not installed (tests/unit/requirements.txt)")

NEW = "N3w-t0ken-" + "x" * 30
OLD = "0ld-t0ken-" + "y" * 30
ARM_TOKEN = "arm-bearer-token-value"
KV_TOKEN = "kv-bearer-token-value"
GROUP = {"ReplicationGroupId": "nl2api", "TransitEncryptionEnabled": True, "AuthTokenEnabled": True}


def group(status):
    return {"ReplicationGroups": [dict(GROUP, Status=status)]}


def aws_client(service):
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client(service)


class FakeClock(object):
    """time.monotonic and time.sleep stand-ins: sleeping advances the clock, nothing waits."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class FakeRedis(object):
    def __init__(self, answer=True, error=None):
        self.answer = answer
        self.error = error
        self.calls = []
        self.closed = False

    def factory(self, connection, password):
        self.calls.append((dict(connection), password))
        return self

    def ping(self):
        if self.error is not None:
            raise self.error
        return self.answer

    def close(self):
        self.closed = True


def elasticache(client, **overrides):
    params = dict(replication_group_id="nl2api", host="master.nl2api.cache.amazonaws.com", port=6379, tls=True,
                  ca_file="/etc/ssl/ca.pem", poll_interval=10, wait_timeout=60)
    params.update(overrides)
    clock = FakeClock()
    backend = ElastiCacheBackend(params, client=client, sleep=clock.sleep, clock=clock.clock)
    return backend, clock


def modify_params(token, strategy):
    return {"ReplicationGroupId": "nl2api", "AuthToken": token, "AuthTokenUpdateStrategy": strategy,
            "ApplyImmediately": True}


# ElastiCache ----------------------------------------------------------------------------------------------------------


@needs_boto3
def test_elasticache_rotate_waits_then_set_waits_with_exact_requests():
    client = aws_client("elasticache")
    backend, clock = elasticache(client)
    with Stubber(client) as stub:
        rg = {"ReplicationGroupId": "nl2api"}
        stub.add_response("describe_replication_groups", group("available"), rg)
        stub.add_response("modify_replication_group", {"ReplicationGroup": dict(GROUP, Status="modifying")},
                          modify_params(NEW, "ROTATE"))
        stub.add_response("describe_replication_groups", group("modifying"), rg)
        stub.add_response("describe_replication_groups", group("modifying"), rg)
        stub.add_response("describe_replication_groups", group("available"), rg)
        statements = backend.set_secret(Credential(None, NEW), check_mode=False)
        assert clock.sleeps == [10.0, 10.0]
        stub.assert_no_pending_responses()

        stub.add_response("describe_replication_groups", group("available"), rg)
        stub.add_response("modify_replication_group", {"ReplicationGroup": dict(GROUP, Status="modifying")},
                          modify_params(NEW, "SET"))
        stub.add_response("describe_replication_groups", group("available"), rg)
        revoked = backend.revoke({"username": None}, Credential(None, NEW), check_mode=False)
        stub.assert_no_pending_responses()
    assert statements == ["elasticache ModifyReplicationGroup ReplicationGroupId=nl2api AuthToken=******** "
                          "AuthTokenUpdateStrategy=ROTATE ApplyImmediately=true"]
    assert revoked == [statements[0].replace("ROTATE", "SET")]
    assert NEW not in repr(statements + revoked)


@needs_boto3
def test_elasticache_waits_for_a_busy_group_before_modifying():
    client = aws_client("elasticache")
    backend, clock = elasticache(client)
    rg = {"ReplicationGroupId": "nl2api"}
    with Stubber(client) as stub:
        stub.add_response("describe_replication_groups", group("snapshotting"), rg)
        stub.add_response("describe_replication_groups", group("available"), rg)
        stub.add_response("modify_replication_group", {"ReplicationGroup": dict(GROUP, Status="modifying")},
                          modify_params(NEW, "ROTATE"))
        stub.add_response("describe_replication_groups", group("available"), rg)
        backend.set_secret(Credential(None, NEW), check_mode=False)
        stub.assert_no_pending_responses()
    assert clock.sleeps == []  # the first poll found it available already


@needs_boto3
def test_elasticache_wait_is_bounded():
    client = aws_client("elasticache")
    backend, clock = elasticache(client, wait_timeout=30, poll_interval=10)
    rg = {"ReplicationGroupId": "nl2api"}
    with Stubber(client) as stub:
        stub.add_response("describe_replication_groups", group("available"), rg)
        stub.add_response("modify_replication_group", {"ReplicationGroup": dict(GROUP, Status="modifying")},
                          modify_params(NEW, "ROTATE"))
        for _index in range(4):
            stub.add_response("describe_replication_groups", group("modifying"), rg)
        with pytest.raises(RotationError) as info:
            backend.set_secret(Credential(None, NEW), check_mode=False)
        stub.assert_no_pending_responses()
    assert "still modifying after 30 seconds" in str(info.value) and "wait_timeout" in str(info.value)
    assert clock.sleeps == [10.0, 10.0, 10.0]


@needs_boto3
@pytest.mark.parametrize("status", ["create-failed", "deleting"])
def test_elasticache_wait_stops_on_a_failed_group(status):
    client = aws_client("elasticache")
    backend, clock = elasticache(client)
    with Stubber(client) as stub:
        stub.add_response("describe_replication_groups", group(status), {"ReplicationGroupId": "nl2api"})
        with pytest.raises(RotationError, match=status):
            backend.wait_available()
    assert clock.sleeps == []


@needs_boto3
def test_elasticache_check_mode_only_describes():
    client = aws_client("elasticache")
    backend, clock = elasticache(client)
    with Stubber(client) as stub:
        stub.add_response("describe_replication_groups", group("available"), {"ReplicationGroupId": "nl2api"})
        stub.add_response("describe_replication_groups", group("available"), {"ReplicationGroupId": "nl2api"})
        assert "ROTATE" in backend.set_secret(Credential(None, NEW), check_mode=True)[0]
        assert "SET" in backend.revoke(None, Credential(None, NEW), check_mode=True)[0]
        stub.assert_no_pending_responses()  # and no modify_replication_group: Stubber would have refused it
    assert clock.sleeps == []


@needs_boto3
def test_elasticache_refuses_a_group_without_transit_encryption():
    client = aws_client("elasticache")
    backend = elasticache(client)[0]
    answer = {"ReplicationGroups": [dict(GROUP, Status="available", TransitEncryptionEnabled=False)]}
    with Stubber(client) as stub:
        stub.add_response("describe_replication_groups", answer, {"ReplicationGroupId": "nl2api"})
        with pytest.raises(RotationError, match="in-transit encryption off"):
            backend.set_secret(Credential(None, NEW), check_mode=False)


@needs_boto3
def test_elasticache_missing_group_names_the_option():
    client = aws_client("elasticache")
    backend = elasticache(client)[0]
    with Stubber(client) as stub:
        stub.add_client_error("describe_replication_groups", service_error_code="ReplicationGroupNotFoundFault",
                              service_message="ReplicationGroup nl2api not found.", http_status_code=404)
        with pytest.raises(RotationError, match="replication_group_id: replication group nl2api does not exist"):
            backend.set_secret(Credential(None, NEW), check_mode=False)


@needs_boto3
def test_elasticache_errors_mask_the_token():
    client = aws_client("elasticache")
    backend = elasticache(client)[0]
    with Stubber(client) as stub:
        stub.add_response("describe_replication_groups", group("available"), {"ReplicationGroupId": "nl2api"})
        stub.add_client_error("modify_replication_group", service_error_code="InvalidParameterValue",
                              service_message="Invalid AuthToken %s" % NEW, http_status_code=400,
                              expected_params=modify_params(NEW, "ROTATE"))
        with pytest.raises(RotationError) as info:
            backend.set_secret(Credential(None, NEW), check_mode=False)
    assert NEW not in str(info.value)
    assert "Invalid AuthToken ********" in str(info.value) and "InvalidParameterValue" in str(info.value)


@pytest.mark.parametrize("alphabet, length", [
    (string.ascii_letters + string.digits, 40),
    (string.ascii_letters + string.digits + "!#$%&*+-=?^_~", 16),
    ("ab", 128),
])
def test_elasticache_alphabet_accepts(alphabet, length):
    ElastiCacheBackend({"replication_group_id": "rg", "host": "h"}, client=object()).allowed_alphabet(alphabet, length)


@pytest.mark.parametrize("alphabet, length, option, shown", [
    (string.ascii_letters, 15, "password_length", "got 15"),
    (string.ascii_letters, 129, "password_length", "got 129"),
    (string.ascii_letters + "@", 40, "password_alphabet/password_symbols", "'@'"),
    (string.ascii_letters + "/", 40, "password_alphabet/password_symbols", "'/'"),
    (string.ascii_letters + '"', 40, "password_alphabet/password_symbols", "'\"'"),
    (string.ascii_letters + " ", 40, "password_alphabet/password_symbols", "' '"),
    (string.ascii_letters + "\t", 40, "password_alphabet/password_symbols", "'\\t'"),
    (string.ascii_letters + u"\u00e9", 40, "password_alphabet/password_symbols", u"'\u00e9'"),
])
def test_elasticache_alphabet_rejects_naming_the_option(alphabet, length, option, shown):
    backend = ElastiCacheBackend({"replication_group_id": "rg", "host": "h"}, client=object())
    with pytest.raises(RotationError) as info:
        backend.allowed_alphabet(alphabet, length)
    assert option in str(info.value) and shown in str(info.value)


@pytest.mark.parametrize("token", ["short", "a" * 129, "x" * 20 + "@", "x" * 20 + " ", "x" * 20 + "/"])
def test_elasticache_never_sends_an_invalid_token(token):
    backend = elasticache(object())[0]  # any call on this client would fail the test with AttributeError
    with pytest.raises(RotationError) as info:
        backend.set_secret(Credential(None, token), check_mode=False)
    assert token not in str(info.value)


def test_elasticache_test_secret_connects_with_tls_and_the_token():
    fake = FakeRedis()
    backend = elasticache(object())[0]
    backend.redis_factory = fake.factory
    backend.test_secret(Credential(None, NEW))
    connection, password = fake.calls[0]
    assert password == NEW and fake.closed
    assert (connection["host"], connection["port"], connection["tls"], connection["ca_file"]) == (
        "master.nl2api.cache.amazonaws.com", 6379, True, "/etc/ssl/ca.pem")
    kwargs = redis_client_kwargs(redis_rotation.password_login_params(connection, NEW))
    assert kwargs["ssl"] is True and kwargs["ssl_ca_certs"] == "/etc/ssl/ca.pem" and kwargs["password"] == NEW
    assert kwargs["ssl_cert_reqs"] == "required" and kwargs["username"] is None


def test_test_secret_failure_masks_the_token():
    fake = FakeRedis(error=Exception("WRONGPASS for %s" % NEW))
    backend = elasticache(object())[0]
    backend.redis_factory = fake.factory
    with pytest.raises(RotationError) as info:
        backend.test_secret(Credential(None, NEW))
    assert NEW not in str(info.value) and "WRONGPASS for ********" in str(info.value)
    assert "rediss://master.nl2api.cache.amazonaws.com:6379" in str(info.value)


def test_default_redis_factory_builds_a_tls_client():
    redis = pytest.importorskip("redis")
    client = redis_rotation.default_password_client(
        {"host": "127.0.0.1", "port": 6380, "tls": True, "ca_file": "/tmp/ca.pem"}, NEW)
    kwargs = client.connection_pool.connection_kwargs
    assert isinstance(client, redis.Redis)
    assert kwargs["password"] == NEW and kwargs["ssl_ca_certs"] == "/tmp/ca.pem" and kwargs["port"] == 6380


# Secrets Manager -------------------------------------------------------------------------------------------------------


def secret_answer(data):
    return {"ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:nl2api/db-AbCdEf", "Name": "nl2api/db",
            "SecretString": json.dumps(data)}


def secrets_manager(client, **overrides):
    spec = dict(type="aws_secretsmanager", secret_id="nl2api/db",
                keys={"DATABASE_USER": "username", "DATABASE_PASSWORD": "password"})
    spec.update(overrides)
    return AwsSecretsManagerConsumer(spec, client=client)


@needs_boto3
def test_secretsmanager_merges_the_listed_keys_and_keeps_the_others():
    client = aws_client("secretsmanager")
    consumer = secrets_manager(client)
    with Stubber(client) as stub:
        stub.add_response("get_secret_value", secret_answer({"OTHER": "kept", "DATABASE_PASSWORD": OLD}),
                          {"SecretId": "nl2api/db"})
        stub.add_response("put_secret_value", {"Name": "nl2api/db"}, {
            "SecretId": "nl2api/db",
            "SecretString": json.dumps({"OTHER": "kept", "DATABASE_PASSWORD": NEW, "DATABASE_USER": "nl2api_app_b"}),
        })
        assert consumer.write(Credential("nl2api_app_b", NEW), check_mode=False) is True
        stub.assert_no_pending_responses()
    assert consumer.describe() == "aws_secretsmanager:nl2api/db"


@needs_boto3
def test_secretsmanager_no_change_no_write_and_check_mode_no_write():
    client = aws_client("secretsmanager")
    consumer = secrets_manager(client)
    current = {"DATABASE_USER": "nl2api_app_a", "DATABASE_PASSWORD": OLD, "OTHER": "kept"}
    with Stubber(client) as stub:
        stub.add_response("get_secret_value", secret_answer(current), {"SecretId": "nl2api/db"})
        assert consumer.write(Credential("nl2api_app_a", OLD), check_mode=False) is False
        stub.add_response("get_secret_value", secret_answer(current), {"SecretId": "nl2api/db"})
        assert consumer.write(Credential("nl2api_app_b", NEW), check_mode=True) is True
        stub.assert_no_pending_responses()  # no put_secret_value was made


@needs_boto3
def test_secretsmanager_read_current_maps_back_through_keys():
    client = aws_client("secretsmanager")
    consumer = secrets_manager(client)
    with Stubber(client) as stub:
        stub.add_response("get_secret_value", secret_answer({"DATABASE_USER": "nl2api_app_a",
                                                             "DATABASE_PASSWORD": OLD, "OTHER": 1}),
                          {"SecretId": "nl2api/db"})
        assert consumer.read_current() == {"username": "nl2api_app_a", "password": OLD}
        stub.add_client_error("get_secret_value", service_error_code="ResourceNotFoundException",
                              http_status_code=400)
        assert consumer.read_current() is None
        stub.add_response("get_secret_value", secret_answer({"OTHER": 1}), {"SecretId": "nl2api/db"})
        assert consumer.read_current() is None


@needs_boto3
def test_secretsmanager_creates_only_when_asked():
    client = aws_client("secretsmanager")
    with Stubber(client) as stub:
        stub.add_client_error("get_secret_value", service_error_code="ResourceNotFoundException",
                              http_status_code=400)
        with pytest.raises(RotationError, match="create: true"):
            secrets_manager(client).write(Credential("u", NEW), check_mode=False)
        stub.add_client_error("get_secret_value", service_error_code="ResourceNotFoundException",
                              http_status_code=400)
        stub.add_response("create_secret", {"Name": "nl2api/db"}, {
            "Name": "nl2api/db", "SecretString": json.dumps({"DATABASE_USER": "u", "DATABASE_PASSWORD": NEW})})
        assert secrets_manager(client, create=True).write(Credential("u", NEW), check_mode=False) is True
        stub.assert_no_pending_responses()


@needs_boto3
@pytest.mark.parametrize("answer, message", [
    ({"Name": "nl2api/db", "SecretBinary": b"\x00"}, "binary data"),
    ({"Name": "nl2api/db", "SecretString": "not json " + OLD}, "is not JSON"),
    ({"Name": "nl2api/db", "SecretString": json.dumps([OLD])}, "not a JSON object"),
])
def test_secretsmanager_refuses_what_it_cannot_merge_without_showing_it(answer, message):
    client = aws_client("secretsmanager")
    with Stubber(client) as stub:
        stub.add_response("get_secret_value", answer, {"SecretId": "nl2api/db"})
        with pytest.raises(RotationError, match=message) as info:
            secrets_manager(client).write(Credential("u", NEW), check_mode=False)
    assert OLD not in str(info.value) and NEW not in str(info.value)


@needs_boto3
def test_secretsmanager_put_error_masks_the_secret():
    client = aws_client("secretsmanager")
    with Stubber(client) as stub:
        stub.add_response("get_secret_value", secret_answer({"DATABASE_PASSWORD": OLD}), {"SecretId": "nl2api/db"})
        stub.add_client_error("put_secret_value", service_error_code="AccessDeniedException",
                              service_message="cannot store %s replacing %s" % (NEW, OLD), http_status_code=400)
        with pytest.raises(RotationError) as info:
            secrets_manager(client).write(Credential("u", NEW), check_mode=False)
    assert NEW not in str(info.value) and OLD not in str(info.value) and "AccessDeniedException" in str(info.value)


def test_consumer_keys_are_checked():
    with pytest.raises(RotationError, match="needs keys .* or url_keys"):
        AwsSecretsManagerConsumer({"secret_id": "s", "keys": {}}, client=object())
    with pytest.raises(RotationError, match=r"keys.X must be username or password"):
        AwsSecretsManagerConsumer({"secret_id": "s", "keys": {"X": "token"}}, client=object())
    with pytest.raises(RotationError, match="secret_id is required"):
        AwsSecretsManagerConsumer({"keys": {"X": "password"}}, client=object())
    consumer = AwsSecretsManagerConsumer({"secret_id": "s", "keys": {"USER": "username"}}, client=object())
    with pytest.raises(RotationError, match="does not have"):
        consumer.write(Credential(None, NEW), check_mode=False)


@needs_boto3
def test_aws_client_options(monkeypatch):
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = aws.aws_client("secretsmanager", {"region": "eu-west-1", "endpoint_url": "http://127.0.0.1:1",
                                               "access_key": "a", "secret_key": "b"},
                            "consumers[aws_secretsmanager]")
    assert client.meta.region_name == "eu-west-1" and client.meta.endpoint_url == "http://127.0.0.1:1"
    # elasticache.validate_certs is the Redis test connection's: the AWS API's certificate is always verified.
    made = []
    monkeypatch.setattr(aws, "shared_aws_client", lambda params, service: made.append((params, service)))
    aws.aws_client("elasticache", {"region": "eu-west-1", "validate_certs": False, "host": "h"}, "elasticache")
    assert made == [({"region": "eu-west-1", "endpoint_url": None, "profile": None, "access_key": None,
                      "secret_key": None, "session_token": None}, "elasticache")]


@needs_boto3
def test_aws_client_errors_become_rotation_errors_naming_the_block(monkeypatch):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(RotationError, match=r"^consumers\[1\]: No AWS region"):
        aws.aws_client("secretsmanager", {"access_key": "a", "secret_key": "b"}, "consumers[1]")
    with pytest.raises(RotationError) as raised:
        aws.aws_client("secretsmanager", {"region": "eu-west-1", "access_key": "a", "secret_key": "s3cr3t-key",
                                          "endpoint_url": "bad s3cr3t-key"}, "elasticache")
    assert str(raised.value).startswith("elasticache: Cannot create the AWS secretsmanager client")
    assert "s3cr3t-key" not in str(raised.value)


# Azure: a local stand-in for ARM and Key Vault -----------------------------------------------------------------------


class FakeAzure(object):
    """An HTTP server on 127.0.0.1 that answers from scripted responses and records every request."""

    def __init__(self):
        self.routes = {}
        self.requests = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fake.requests.append({
                    "method": self.command,
                    "path": self.path,
                    "authorization": self.headers.get("Authorization"),
                    "content_type": self.headers.get("Content-Type"),
                    "body": json.loads(body) if body else None,
                })
                queue = fake.routes.get((self.command, self.path.split("?", 1)[0])) or [(599, {"error": "unscripted"})]
                if callable(queue):
                    status, answer = queue(fake.requests[-1])
                else:
                    status, answer = queue.pop(0) if len(queue) > 1 else queue[0]
                payload = json.dumps(answer).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _serve

            def log_message(self, *args):  # pylint: disable=arguments-differ
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def script(self, method, path, *answers):
        self.routes[(method, path)] = list(answers)

    def handle(self, method, path, handler):
        """Answer ``method path`` with ``handler(request) -> (status, body)``."""
        self.routes[(method, path)] = handler

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def azure():
    fake = FakeAzure()
    yield fake
    fake.close()


RESOURCE = "/subscriptions/sub-1/resourceGroups/rg-nl2api/providers/Microsoft.Cache/redis/nl2api-cache"
KEYS = {"primaryKey": "PRIMARY-" + "p" * 36, "secondaryKey": "SECONDARY-" + "s" * 34}


def azure_redis(fake, **overrides):
    params = dict(subscription_id="sub-1", resource_group="rg-nl2api", name="nl2api-cache", token=ARM_TOKEN,
                  arm_endpoint=fake.url)
    params.update(overrides)
    return build_backend("azure_redis", params)


@pytest.mark.parametrize("current, pending", [
    (None, "secondary"), ({}, "secondary"), ({"slot": "primary"}, "secondary"), ({"slot": "secondary"}, "primary"),
])
def test_azure_pending_slot_alternates(azure, current, pending):
    assert azure_redis(azure).pending_identity(current) == {"slot": pending}


def test_azure_pending_slot_rejects_an_unknown_slot(azure):
    with pytest.raises(RotationError, match="unknown key slot"):
        azure_redis(azure).pending_identity({"slot": "tertiary"})


def test_azure_create_server_secret_regenerates_then_lists_keys(azure):
    azure.script("POST", RESOURCE + "/regenerateKey", (200, KEYS))
    azure.script("POST", RESOURCE + "/listKeys", (200, KEYS))
    backend = azure_redis(azure)
    assert backend.server_generated is True
    credential = backend.create_server_secret({"slot": "secondary"}, check_mode=False)
    assert credential.password == KEYS["secondaryKey"] and credential.public() == {"username": None,
                                                                                   "slot": "secondary"}
    assert [(r["method"], r["path"], r["body"]) for r in azure.requests] == [
        ("POST", RESOURCE + "/regenerateKey?api-version=2024-11-01", {"keyType": "Secondary"}),
        ("POST", RESOURCE + "/listKeys?api-version=2024-11-01", None),
    ]
    assert {r["authorization"] for r in azure.requests} == {"Bearer " + ARM_TOKEN}
    assert azure.requests[0]["content_type"] == "application/json"
    assert all(KEYS["secondaryKey"] not in s and ARM_TOKEN not in s for s in backend.set_secret(credential, False))


def test_azure_primary_slot_and_api_version(azure):
    azure.script("POST", RESOURCE + "/regenerateKey", (200, {}))
    azure.script("POST", RESOURCE + "/listKeys", (200, KEYS))
    backend = azure_redis(azure, api_version="2023-08-01")
    assert backend.create_server_secret({"slot": "primary"}, check_mode=False).password == KEYS["primaryKey"]
    assert azure.requests[0]["path"] == RESOURCE + "/regenerateKey?api-version=2023-08-01"
    assert azure.requests[0]["body"] == {"keyType": "Primary"}


def test_azure_check_mode_only_reads(azure):
    azure.script("GET", RESOURCE, (200, {"name": "nl2api-cache"}))
    backend = azure_redis(azure)
    backend.create_server_secret({"slot": "secondary"}, check_mode=True)
    statements = backend.revoke({"slot": "primary"}, Credential(None, KEYS["secondaryKey"]), check_mode=True)
    assert [r["method"] for r in azure.requests] == ["GET", "GET"]
    assert statements == ['POST %s%s/regenerateKey?api-version=2024-11-01 {"keyType": "Primary"}' % (azure.url, RESOURCE)]


def test_azure_revoke_regenerates_the_previous_slot(azure):
    azure.script("POST", RESOURCE + "/listKeys", (200, KEYS))
    azure.script("POST", RESOURCE + "/regenerateKey", (200, {}))
    backend = azure_redis(azure)
    backend.revoke({"slot": "primary"}, Credential(None, KEYS["secondaryKey"]), check_mode=False)
    assert [(r["path"].split("?")[0], r["body"]) for r in azure.requests] == [
        (RESOURCE + "/listKeys", None), (RESOURCE + "/regenerateKey", {"keyType": "Primary"})]


def test_azure_revoke_without_a_recorded_slot_keeps_the_current_key(azure):
    azure.script("POST", RESOURCE + "/listKeys", (200, KEYS))
    azure.script("POST", RESOURCE + "/regenerateKey", (200, {}))
    azure_redis(azure).revoke(None, Credential(None, KEYS["primaryKey"]), check_mode=False)
    assert azure.requests[-1]["body"] == {"keyType": "Secondary"}


def test_azure_revoke_refuses_to_regenerate_the_current_key(azure):
    azure.script("POST", RESOURCE + "/listKeys", (200, KEYS))
    with pytest.raises(RotationError, match="the primary key is the current one") as info:
        azure_redis(azure).revoke({"slot": "primary"}, Credential(None, KEYS["primaryKey"]), check_mode=False)
    assert [r["path"].split("?")[0] for r in azure.requests] == [RESOURCE + "/listKeys"]
    assert KEYS["primaryKey"] not in str(info.value)


def test_azure_errors_carry_the_code_but_no_token_or_key(azure):
    message = "The client with token %s cannot see %s" % (ARM_TOKEN, KEYS["primaryKey"])
    azure.script("POST", RESOURCE + "/listKeys", (200, KEYS))
    azure.script("POST", RESOURCE + "/regenerateKey",
                 (403, {"error": {"code": "AuthorizationFailed", "message": message}}))
    with pytest.raises(RotationError) as info:
        azure_redis(azure).revoke({"slot": "primary"}, Credential(None, KEYS["secondaryKey"]), check_mode=False)
    text = str(info.value)
    assert "HTTP 403: AuthorizationFailed" in text and ARM_TOKEN not in text and KEYS["primaryKey"] not in text
    assert "api-version" not in text


def test_azure_unreachable_endpoint_is_a_rotation_error():
    azure_closed = FakeAzure()
    url = azure_closed.url
    azure_closed.close()  # nothing listens there any more
    backend = build_backend("azure_redis", dict(subscription_id="sub-1", resource_group="rg-nl2api",
                                                name="nl2api-cache", token=ARM_TOKEN, arm_endpoint=url))
    with pytest.raises(RotationError, match="POST .*/regenerateKey") as info:
        backend.create_server_secret({"slot": "secondary"}, check_mode=False)
    assert ARM_TOKEN not in str(info.value)


def test_azure_token_from_the_environment(azure, monkeypatch):
    monkeypatch.setenv("AZURE_ACCESS_TOKEN", "from-env-token")
    azure.script("POST", RESOURCE + "/regenerateKey", (200, {}))
    azure.script("POST", RESOURCE + "/listKeys", (200, KEYS))
    azure_redis(azure, token=None).create_server_secret({"slot": "secondary"}, check_mode=False)
    assert azure.requests[0]["authorization"] == "Bearer from-env-token"
    monkeypatch.delenv("AZURE_ACCESS_TOKEN")
    with pytest.raises(RotationError, match="azure_redis.token is required"):
        azure_redis(azure, token=None)


@pytest.mark.parametrize("endpoint", ["http://management.example.com", "ftp://127.0.0.1", "management.azure.com"])
def test_azure_bearer_tokens_only_travel_over_https(endpoint):
    with pytest.raises(RotationError, match="arm_endpoint must be an https:// URL"):
        build_backend("azure_redis", dict(subscription_id="s", resource_group="r", name="n", token="t",
                                          arm_endpoint=endpoint))


def test_azure_test_secret_uses_tls_6380_by_default():
    fake = FakeRedis()
    backend = AzureRedisBackend(dict(subscription_id="s", resource_group="r", name="nl2api-cache", token="t"),
                                redis_factory=fake.factory)
    backend.test_secret(Credential(None, KEYS["secondaryKey"]))
    connection, password = fake.calls[0]
    assert (connection["host"], connection["port"], connection["tls"]) == ("nl2api-cache.redis.cache.windows.net",
                                                                           6380, True)
    assert password == KEYS["secondaryKey"]
    fake.answer = False
    with pytest.raises(RotationError, match="did not answer PONG"):
        backend.test_secret(Credential(None, KEYS["secondaryKey"]))


class MemoryConsumer(Consumer):
    """Where the engine delivers the key, in memory."""

    def __init__(self, data=None):
        self.data = data

    def describe(self):
        return "memory:test"

    def read_current(self):
        return None if self.data is None else {"username": None, "password": self.data}

    def write(self, credential, check_mode):
        changed = credential.password != self.data
        if not check_mode:
            self.data = credential.password
        return changed


class ArmRedis(object):
    """Azure Cache for Redis keys as ARM keeps them: regenerateKey gives a slot a new random value."""

    def __init__(self, fake):
        self.counter = 0
        self.keys = {"primaryKey": self.new_key(), "secondaryKey": self.new_key()}
        fake.handle("POST", RESOURCE + "/regenerateKey", self.regenerate)
        fake.handle("POST", RESOURCE + "/listKeys", lambda request: (200, dict(self.keys)))

    def new_key(self):
        self.counter += 1
        return "key-%03d-%s" % (self.counter, "k" * 32)

    def regenerate(self, request):
        self.keys[request["body"]["keyType"].lower() + "Key"] = self.new_key()
        return 200, dict(self.keys)


def test_azure_keys_alternate_through_the_engine(azure, tmp_path):
    arm = ArmRedis(azure)
    original = arm.keys["primaryKey"]
    consumer = MemoryConsumer(original)
    fake_redis = FakeRedis()
    store = StateStore(str(tmp_path), "redis-azure")

    def rotate(clock):
        backend = azure_redis(azure)
        backend.redis_factory = fake_redis.factory
        return RotationEngine("redis-azure", backend, [consumer], [], store, max_age_seconds=3600,
                              now=lambda: clock).run()

    first = rotate(1800000000.0)
    assert first["rotated"] and first["credential"]["slot"] == "secondary"
    assert consumer.data == arm.keys["secondaryKey"]  # the new secondary key is delivered and was tested
    assert fake_redis.calls[-1][1] == consumer.data
    assert arm.keys["primaryKey"] != original  # the old primary key was revoked (regenerated)
    bodies = [r["body"] for r in azure.requests if r["path"].startswith(RESOURCE + "/regenerateKey")]
    assert bodies == [{"keyType": "Secondary"}, {"keyType": "Primary"}]
    assert not any(k in json.dumps(first) for k in arm.keys.values())

    delivered = consumer.data
    second = rotate(1800000000.0 + 7200)
    assert second["rotated"] and second["credential"]["slot"] == "primary"
    assert consumer.data == arm.keys["primaryKey"] and arm.keys["secondaryKey"] != delivered
    bodies = [r["body"] for r in azure.requests if r["path"].startswith(RESOURCE + "/regenerateKey")]
    assert bodies[2:] == [{"keyType": "Primary"}, {"keyType": "Secondary"}]
    assert "pending" not in json.loads((tmp_path / "redis-azure.json").read_text())


# Key Vault --------------------------------------------------------------------------------------------------------------


def keyvault(fake, **overrides):
    spec = dict(type="azure_keyvault", vault_url=fake.url, token=KV_TOKEN,
                keys={"database-user": "username", "database-password": "password"})
    spec.update(overrides)
    return build_consumer(spec)


def test_keyvault_puts_only_the_secrets_that_differ(azure):
    azure.script("GET", "/secrets/database-user", (200, {"value": "nl2api_app_b", "id": "x"}))
    azure.script("GET", "/secrets/database-password", (404, {"error": {"code": "SecretNotFound"}}))
    azure.script("PUT", "/secrets/database-password", (200, {"value": NEW}))
    consumer = keyvault(azure)
    assert consumer.write(Credential("nl2api_app_b", NEW), check_mode=False) is True
    assert [(r["method"], r["path"], r["body"]) for r in azure.requests] == [
        ("GET", "/secrets/database-user?api-version=7.4", None),
        ("GET", "/secrets/database-password?api-version=7.4", None),
        ("PUT", "/secrets/database-password?api-version=7.4", {"value": NEW}),
    ]
    assert {r["authorization"] for r in azure.requests} == {"Bearer " + KV_TOKEN}
    assert consumer.describe() == "azure_keyvault:" + azure.url


def test_keyvault_no_change_and_check_mode_do_not_put(azure):
    azure.script("GET", "/secrets/database-user", (200, {"value": "nl2api_app_b"}))
    azure.script("GET", "/secrets/database-password", (200, {"value": OLD}))
    consumer = keyvault(azure)
    assert consumer.write(Credential("nl2api_app_b", OLD), check_mode=False) is False
    assert consumer.write(Credential("nl2api_app_b", NEW), check_mode=True) is True
    assert {r["method"] for r in azure.requests} == {"GET"}
    assert consumer.read_current() == {"username": "nl2api_app_b", "password": OLD}


def test_keyvault_read_current_when_nothing_is_there(azure):
    azure.script("GET", "/secrets/database-user", (404, {}))
    azure.script("GET", "/secrets/database-password", (404, {}))
    assert keyvault(azure).read_current() is None


def test_keyvault_errors_mask_token_and_values(azure):
    azure.script("GET", "/secrets/database-password", (200, {"value": OLD}))
    azure.script("PUT", "/secrets/database-password",
                 (403, {"error": {"code": "Forbidden", "message": "%s may not write %s over %s" % (KV_TOKEN, NEW, OLD)}}))
    with pytest.raises(RotationError) as info:
        keyvault(azure, keys={"database-password": "password"}).write(Credential(None, NEW), check_mode=False)
    text = str(info.value)
    assert "HTTP 403: Forbidden" in text and KV_TOKEN not in text and NEW not in text and OLD not in text


@pytest.mark.parametrize("name", ["DATABASE_PASSWORD", "db.password", "", "a" * 128, "pass word"])
def test_keyvault_secret_names_are_validated(azure, name):
    with pytest.raises(RotationError, match="not a Key Vault secret name"):
        keyvault(azure, keys={name: "password"})


def test_keyvault_token_is_required(azure, monkeypatch):
    monkeypatch.delenv("AZURE_KEYVAULT_ACCESS_TOKEN", raising=False)
    with pytest.raises(RotationError, match="token is required"):
        keyvault(azure, token=None)


# Factories and masking --------------------------------------------------------------------------------------------------


def test_factories_refuse_what_they_do_not_build():
    with pytest.raises(RotationError, match="elasticache is required"):
        build_backend("elasticache", None)
    with pytest.raises(RotationError, match="replication_group_id is required"):
        ElastiCacheBackend({"host": "h"}, client=object())
    with pytest.raises(RotationError, match="azure_redis.subscription_id is required"):
        build_backend("azure_redis", {"resource_group": "r", "name": "n", "token": "t"})
    with pytest.raises(RotationError, match="azure_redis is required"):
        build_backend("azure_redis", {})


@needs_boto3
def test_factories_build_aws_objects_lazily():
    backend = build_backend("elasticache", {"replication_group_id": "rg", "host": "h", "region": "us-east-1",
                                            "access_key": "a", "secret_key": "b"})
    assert backend.name == "elasticache" and backend.server_generated is False
    assert backend.pending_identity(None) == {"username": None}
    consumer = build_consumer({"type": "aws_secretsmanager", "secret_id": "s", "keys": {"P": "password"},
                               "region": "us-east-1"})
    assert consumer.describe() == "aws_secretsmanager:s"


def test_mask_masks_longest_first():
    assert mask("abc abcdef x", ["abc", "abcdef", None, ""]) == "******** ******** x"

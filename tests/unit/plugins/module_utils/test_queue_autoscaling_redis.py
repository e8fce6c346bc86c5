# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""redis_connection (shared options, client arguments) and autoscaling.redis_streams (XINFO GROUPS lag and pending,
error messages) without a server; tests/functional/autoscaling/ runs them against a real Redis."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import pytest

from ansible_collections.nl2api.deploy.plugins.module_utils import redis_connection
from ansible_collections.nl2api.deploy.plugins.module_utils.autoscaling import redis_streams
from ansible_collections.nl2api.deploy.plugins.module_utils.redis_connection import (
    describe_endpoint,
    redis_argument_spec,
    redis_client_kwargs,
    split_address,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.autoscaling.redis_streams import (
    QueueReadError,
    StreamDepth,
    read_group_depth,
)

try:
    import redis
except ImportError:  # ansible-test units installs tests/unit/requirements.txt only
    redis = None

needs_redis = pytest.mark.skipif(redis is None, reason="redis-py is not installed")


class _Missing:  # stand-ins so that the parametrize lists below can be built without redis-py
    def __getattr__(self, name):
        return Exception


exceptions = redis.exceptions if redis is not None else _Missing()


def params(**overrides):
    base = {name: spec.get("default") for name, spec in redis_argument_spec().items()}
    base.update(overrides)
    return base


def test_argument_spec_hides_the_password_and_leaves_server_defaults_open():
    spec = redis_argument_spec()
    assert spec["login_password"]["no_log"] is True
    for name in ("login_host", "login_port", "login_db", "tls"):
        assert spec[name].get("default") is None  # so a module can fall back on what it knows of the server
    assert spec["validate_certs"]["default"] is True


@pytest.mark.parametrize("address, expected", [
    ("redis:6379", ("redis", 6379)),
    ("nl2api-redis.nl2api.svc.cluster.local:16379", ("nl2api-redis.nl2api.svc.cluster.local", 16379)),
    ("[::1]:6380", ("::1", 6380)),
    (" 10.0.0.7:1 ", ("10.0.0.7", 1)),
])
def test_split_address(address, expected):
    assert split_address(address) == expected


@pytest.mark.parametrize("address", ["redis", "redis:", ":6379", "redis:65536", "redis:x", "::1:6379", "[::1]6379",
                                     "[::1]", ""])
def test_split_address_rejects(address):
    with pytest.raises(ValueError):
        split_address(address)


def test_plain_kwargs_use_module_defaults_then_localhost():
    kwargs = redis_client_kwargs(params(), defaults={"host": "redis", "port": 16379, "db": 2, "tls": False})
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("redis", 16379, 2)
    assert "ssl" not in kwargs and kwargs["username"] is None and kwargs["password"] is None
    assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == 5.0
    bare = redis_client_kwargs(params())
    assert (bare["host"], bare["port"], bare["db"]) == ("localhost", 6379, 0)
    explicit = redis_client_kwargs(params(login_host="127.0.0.1", login_port=7000, login_db=0, tls=False),
                                   defaults={"host": "redis", "port": 6379, "db": 2, "tls": True})
    assert (explicit["host"], explicit["port"], explicit["db"]) == ("127.0.0.1", 7000, 0) and "ssl" not in explicit


def test_tls_kwargs_verify_by_default():
    kwargs = redis_client_kwargs(params(tls=True, ca_file="/ca.pem", login_user="scaler", login_password="pw"))
    assert kwargs["ssl"] is True and kwargs["ssl_cert_reqs"] == "required" and kwargs["ssl_check_hostname"] is True
    assert kwargs["ssl_ca_certs"] == "/ca.pem" and kwargs["username"] == "scaler" and kwargs["password"] == "pw"
    insecure = redis_client_kwargs(params(tls=True, validate_certs=False))
    assert insecure["ssl_cert_reqs"] == "none" and insecure["ssl_check_hostname"] is False
    mutual = redis_client_kwargs(params(tls=True, client_cert_file="/c.pem", client_key_file="/k.pem"))
    assert (mutual["ssl_certfile"], mutual["ssl_keyfile"]) == ("/c.pem", "/k.pem")
    # The module's own TLS setting applies when tls is not set.
    assert redis_client_kwargs(params(), defaults={"tls": True})["ssl"] is True


def test_inconsistent_options_are_rejected():
    with pytest.raises(ValueError, match="ca_file only applies with tls=true"):
        redis_client_kwargs(params(ca_file="/ca.pem"))
    with pytest.raises(ValueError, match="login_password is not"):
        redis_client_kwargs(params(login_user="scaler"))


def test_the_endpoint_description_never_shows_the_password():
    kwargs = redis_client_kwargs(params(tls=True, login_user="scaler", login_password="s3cret", login_host="::1"))
    assert describe_endpoint(kwargs) == "rediss://scaler@[::1]:6379/0"
    assert "s3cret" not in describe_endpoint(kwargs)


@needs_redis
def test_redis_client_builds_a_client_without_connecting():
    client = redis_connection.redis_client(params(login_host="127.0.0.1", login_port=1))
    assert client.connection_pool.connection_kwargs["port"] == 1


STREAM = "eval:tasks:6f1c0b7e-1a8e-4f55-9a53-0a4a1c9f2d11"


class FakeClient:
    """XINFO GROUPS and XLEN replies as redis-py returns them (decoded)."""

    def __init__(self, groups=None, length=0, fail=None, xlen_fail=None):
        self.groups, self.length, self.fail, self.xlen_fail, self.calls = groups or [], length, fail, xlen_fail, []

    def xinfo_groups(self, name):
        self.calls.append(("XINFO GROUPS", name))
        if self.fail:
            raise self.fail
        return self.groups

    def xlen(self, name):
        self.calls.append(("XLEN", name))
        if self.xlen_fail:
            raise self.xlen_fail
        return self.length


def group(name="eval-workers", lag=7, pending=3):
    return {"name": name, "consumers": 2, "pending": pending, "last-delivered-id": "1-0", "entries-read": 3,
            "lag": lag}


def test_lag_and_pending_of_the_group():
    client = FakeClient([group("someone-else", lag=99, pending=99), group(lag=7, pending=3)])
    depth = read_group_depth(client, STREAM, "eval-workers")
    assert depth == StreamDepth(STREAM, "eval-workers", lag=7, pending=3) and depth.total == 10
    assert client.calls == [("XINFO GROUPS", STREAM)]  # one round trip
    assert depth.to_dict() == {"stream": STREAM, "consumer_group": "eval-workers", "lag": 7, "pending": 3,
                               "total": 10, "stream_exists": True, "group_exists": True}


def test_undeterminable_lag_is_none():
    depth = read_group_depth(FakeClient([group(lag=None, pending=2)]), STREAM, "eval-workers")
    assert depth.lag is None and depth.pending == 2 and depth.total == 2


def test_bytes_replies_are_read_too():
    raw = {b"name": b"eval-workers", b"pending": 1, b"lag": 4}
    assert read_group_depth(FakeClient([raw]), STREAM, "eval-workers").total == 5


def test_a_group_that_does_not_exist_yet_counts_every_entry_like_keda():
    client = FakeClient([group("other")], length=12)
    depth = read_group_depth(client, STREAM, "eval-workers")
    assert (depth.lag, depth.pending, depth.group_exists) == (12, 0, False)
    assert client.calls == [("XINFO GROUPS", STREAM), ("XLEN", STREAM)]


def test_redis_6_has_no_lag():
    old = {"name": "eval-workers", "consumers": 1, "pending": 0, "last-delivered-id": "0-0"}
    with pytest.raises(QueueReadError, match="older than 7.0.*needs Redis 7"):
        read_group_depth(FakeClient([old]), STREAM, "eval-workers")


@needs_redis
def test_a_missing_stream_is_empty():
    depth = read_group_depth(FakeClient(fail=exceptions.ResponseError("ERR no such key")), STREAM, "eval-workers")
    assert (depth.lag, depth.pending, depth.stream_exists, depth.group_exists) == (0, 0, False, False)


@needs_redis
@pytest.mark.parametrize("error, hint", [
    (exceptions.AuthenticationError("WRONGPASS invalid username-password pair"), "login_user and login_password"),
    (exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused."),
     "login_host, login_port and tls"),
    (exceptions.ConnectionError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
     "ca_file, validate_certs and tls"),
    (exceptions.TimeoutError("Timeout connecting to server"), "login_host, login_port and tls"),
    (exceptions.NoPermissionError("NOPERM User scaler has no permissions to run the 'xinfo|groups' command"),
     r"ACL needs ~eval:tasks:\* \+xinfo\|groups \+xlen"),
    (exceptions.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
     "is not a stream.*check batch_id"),
    (exceptions.ResponseError("ERR something else"), "reading the stream"),
])
def test_errors_name_the_options(error, hint):
    with pytest.raises(QueueReadError, match=hint):
        read_group_depth(FakeClient(fail=error), STREAM, "eval-workers", "redis://127.0.0.1:1/0")


@needs_redis
def test_the_xlen_fallback_reports_its_errors_too():
    client = FakeClient([], xlen_fail=exceptions.NoPermissionError("NOPERM no permissions to run the 'xlen' command"))
    with pytest.raises(QueueReadError, match=r"\+xlen"):
        read_group_depth(client, STREAM, "eval-workers")


@needs_redis
def test_read_queue_depth_reports_bad_options_as_queue_errors():
    with pytest.raises(QueueReadError, match="Redis connection options"):
        redis_streams.read_queue_depth(params(ca_file="/ca.pem"), STREAM, "eval-workers")


@needs_redis
def test_read_queue_depth_against_a_closed_port():
    with pytest.raises(QueueReadError, match="cannot reach Redis at redis://127.0.0.1:1/0"):
        redis_streams.read_queue_depth(params(login_host="127.0.0.1", login_port=1, connect_timeout=2.0), STREAM,
                                       "eval-workers")

"""The Redis fixture behaves like the production Redis: no anonymous access, ACL users, verified TLS."""

from __future__ import annotations

import secrets
import socket
import ssl
from collections.abc import Iterator

import pytest
import redis

from support.redis_server import RedisServer
from support.tls import temporary_test_ca


@pytest.fixture
def app_user(redis_server: RedisServer) -> Iterator[tuple[str, str]]:
    """An ACL user created at runtime and persisted with ACL SAVE, as the credential rotation will; removed after."""
    name = f"app-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    with redis_server.client() as admin:
        admin.acl_setuser(
            name,
            enabled=True,
            passwords=[f"+{password}"],
            keys=[f"{name}:*"],
            commands=["+@read", "+@write", "+@connection", "-@dangerous", "+acl|whoami"],
        )
        admin.acl_save()
    try:
        yield name, password
    finally:
        with redis_server.client() as admin:
            admin.acl_deluser(name)
            admin.acl_save()


def _raw_command(redis_server: RedisServer, command: bytes) -> bytes:
    """Send one inline command on a fresh, unauthenticated RESP2 connection and return the first reply line."""
    with socket.create_connection((redis_server.host, redis_server.port), timeout=5) as conn:
        conn.sendall(command + b"\r\n")
        return conn.makefile("rb").readline().rstrip(b"\r\n")


def test_unauthenticated_commands_get_noauth(redis_server: RedisServer) -> None:
    assert _raw_command(redis_server, b"PING").startswith(b"-NOAUTH")
    assert _raw_command(redis_server, b"GET anything").startswith(b"-NOAUTH")


def test_anonymous_client_is_refused(redis_server: RedisServer) -> None:
    with redis_server.client(anonymous=True) as client, pytest.raises(redis.AuthenticationError):
        client.ping()


def test_default_user_is_disabled(redis_server: RedisServer) -> None:
    with redis_server.client(anonymous=True, protocol=2) as client, pytest.raises(
        redis.AuthenticationError, match="user is disabled"
    ):
        client.execute_command("AUTH", "default", "anything")
    with redis_server.client() as admin:
        assert "off" in admin.acl_getuser("default")["flags"]


def test_admin_user_works(redis_server: RedisServer) -> None:
    with redis_server.client() as admin:
        assert admin.acl_whoami() == redis_server.admin_username
        admin.set("harness:probe", "42")
        assert admin.get("harness:probe") == "42"
        admin.delete("harness:probe")


def test_wrong_admin_password_is_refused(redis_server: RedisServer) -> None:
    with redis_server.client(redis_server.admin_username, redis_server.admin_password + "x") as client:
        with pytest.raises(redis.AuthenticationError):
            client.ping()


def test_tls_port_verifies_against_the_test_ca(redis_server: RedisServer) -> None:
    with redis_server.client(tls=True) as client:
        assert client.ping() is True
        assert client.acl_whoami() == redis_server.admin_username


def test_tls_port_rejects_a_foreign_ca(redis_server: RedisServer) -> None:
    with temporary_test_ca() as foreign, redis_server.client(tls=True, ca_file=foreign.ca_cert) as client:
        with pytest.raises(redis.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            client.ping()


def test_tls_port_speaks_only_tls(redis_server: RedisServer) -> None:
    """A plaintext client on the TLS port gets no Redis reply: the server closes, or answers with a TLS alert."""
    with socket.create_connection((redis_server.host, redis_server.tls_port), timeout=5) as conn:
        conn.sendall(b"PING\r\n")
        try:
            reply = conn.recv(64)
        except (ConnectionResetError, TimeoutError, ssl.SSLError):
            reply = b""
    assert reply == b"" or reply[0] == 0x15, reply  # 0x15: TLS record type "alert"


def test_runtime_acl_user_logs_in_over_tls(redis_server: RedisServer, app_user: tuple[str, str]) -> None:
    name, password = app_user
    with redis_server.client(name, password, tls=True) as client:
        assert client.acl_whoami() == name
        client.set(f"{name}:key", "value")
        assert client.get(f"{name}:key") == "value"
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.set("someone-else:key", "value")
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.flushall()
    assert f"user {name} on " in redis_server.aclfile.read_text()


def test_persistence_is_off(redis_server: RedisServer) -> None:
    with redis_server.client() as admin:
        assert admin.config_get("save") == {"save": ""}
        assert admin.config_get("appendonly") == {"appendonly": "no"}

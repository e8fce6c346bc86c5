"""Queue depth read from a real Redis 7 (tests/functional/support/redis_server.py): plain and TLS ports, the admin
and a least-privilege ACL user, and the errors an operator gets when something is wrong. Also proves the ACL that
KEDA's own redis scaler needs (it reads lists with EVAL), which is more than the module's LLEN."""

from __future__ import annotations

import secrets
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT / "collections") not in sys.path:
    sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.nl2api.deploy.plugins.module_utils.queue_autoscaling import (  # noqa: E402
    AutoscalingIntent,
    QueueIntent,
    desired_replicas,
    plan,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.redis_queue import (  # noqa: E402
    QueueReadError,
    read_queue_depth,
)
from support.redis_server import RedisServer  # noqa: E402
from support.tls import create_test_ca  # noqa: E402

#: The Lua script of KEDA's redis scaler (pkg/scalers/redis_scaler.go): TYPE, then the matching length command.
KEDA_LIST_LENGTH_SCRIPT = """
local listName = KEYS[1]
local listType = redis.call('type', listName).ok
local cmd = {zset = 'zcard', set = 'scard', list = 'llen', hash = 'hlen', none = 'llen'}
return redis.call(cmd[listType], listName)
"""


@dataclass(frozen=True)
class Queue:
    pending: str
    processing: str
    other: str  # outside the ACL user's key pattern


@pytest.fixture
def queue(redis_server: RedisServer) -> Iterator[Queue]:
    """Fresh lists under nl2api:* (5 pending, 3 in flight) and one key outside it; all deleted afterwards."""
    run = uuid.uuid4().hex[:8]
    q = Queue(f"nl2api:test-{run}:evaluations", f"nl2api:test-{run}:evaluations:processing", f"other:{run}")
    with redis_server.client() as admin:
        admin.rpush(q.pending, *[f"job-{i}" for i in range(5)])
        admin.rpush(q.processing, "job-a", "job-b", "job-c")
        admin.rpush(q.other, "x")
        yield q
        admin.delete(q.pending, q.processing, q.other)


@pytest.fixture
def acl_user(redis_server: RedisServer) -> Iterator[tuple[str, str]]:
    """A user that may only LLEN keys under nl2api:* (and log in): what the module's depth read needs."""
    name, password = f"scaler-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(16)
    with redis_server.client() as admin:
        admin.execute_command("ACL", "SETUSER", name, "on", f">{password}", "resetkeys", "~nl2api:*", "-@all",
                              "+llen", "+ping", "+hello", "+auth")
        yield name, password
        admin.execute_command("ACL", "DELUSER", name)


def params(server: RedisServer, *, tls: bool = False, user: str | None = None, password: str | None = None,
           **extra) -> dict:
    base = {"login_host": server.host, "login_port": server.tls_port if tls else server.port, "login_user": user,
            "login_password": password, "login_db": None, "tls": tls, "validate_certs": True,
            "ca_file": str(server.ca_file) if tls else None, "client_cert_file": None, "client_key_file": None,
            "connect_timeout": 5.0}
    base.update(extra)
    return base


def test_depth_plain_port_as_admin(redis_server, queue):
    depth = read_queue_depth(params(redis_server, user=redis_server.admin_username,
                                    password=redis_server.admin_password), [queue.pending, queue.processing])
    assert depth.lists == {queue.pending: 5, queue.processing: 3} and depth.total == 8


def test_depth_plain_port_as_acl_user(redis_server, queue, acl_user):
    depth = read_queue_depth(params(redis_server, user=acl_user[0], password=acl_user[1]),
                             [queue.pending, queue.processing, "nl2api:test-missing"])
    assert depth.lists == {queue.pending: 5, queue.processing: 3, "nl2api:test-missing": 0}


def test_depth_over_tls_as_acl_user(redis_server, queue, acl_user):
    depth = read_queue_depth(params(redis_server, tls=True, user=acl_user[0], password=acl_user[1]),
                             [queue.pending, queue.processing])
    assert depth.total == 8


def test_connection_defaults_come_from_the_queue(redis_server, queue, acl_user):
    """What the module does: no login_host/port/tls, the queue's address and TLS setting instead."""
    bare = params(redis_server, user=acl_user[0], password=acl_user[1], login_host=None, login_port=None, tls=None,
                  ca_file=str(redis_server.ca_file))
    depth = read_queue_depth(bare, [queue.pending],
                             defaults={"host": redis_server.host, "port": redis_server.tls_port, "tls": True, "db": 0})
    assert depth.total == 5


def test_desired_replicas_from_the_real_depth(redis_server, queue, acl_user):
    intent = AutoscalingIntent(queue=QueueIntent(lists=(queue.pending,), processing_lists=(queue.processing,)),
                               jobs_per_worker=2, min_replicas=1, max_replicas=10)
    values = plan(intent)
    depth = read_queue_depth(params(redis_server, tls=True, user=acl_user[0], password=acl_user[1]),
                             [item.name for item in values.lists])
    assert desired_replicas(values, depth.total) == 4  # (5 pending + 3 in flight) / 2 per worker


def test_key_outside_the_acl_pattern_names_the_acl(redis_server, queue, acl_user):
    with pytest.raises(QueueReadError, match=r"may not read '%s'.*\+llen and a key pattern" % queue.other):
        read_queue_depth(params(redis_server, user=acl_user[0], password=acl_user[1]), [queue.pending, queue.other])


def test_wrong_password_names_the_credentials(redis_server, queue, acl_user):
    with pytest.raises(QueueReadError, match="rejected the credentials.*login_user and login_password") as raised:
        read_queue_depth(params(redis_server, tls=True, user=acl_user[0], password="wrong-" + acl_user[1]),
                         [queue.pending])
    assert acl_user[1] not in str(raised.value)


def test_foreign_ca_is_refused(redis_server, queue, acl_user, tmp_path):
    foreign = create_test_ca(tmp_path / "foreign", common_name="someone else's CA")
    with pytest.raises(QueueReadError, match="TLS with Redis .* failed.*ca_file, validate_certs and tls"):
        read_queue_depth(params(redis_server, tls=True, user=acl_user[0], password=acl_user[1],
                                ca_file=str(foreign.ca_cert)), [queue.pending])


def test_plain_client_on_the_tls_port_is_a_connection_error(redis_server, queue, acl_user):
    with pytest.raises(QueueReadError, match="(cannot reach|TLS with) Redis"):
        read_queue_depth(params(redis_server, user=acl_user[0], password=acl_user[1],
                                login_port=redis_server.tls_port, connect_timeout=2.0), [queue.pending])


def test_wrong_type_names_the_key(redis_server, acl_user):
    key = f"nl2api:test-{uuid.uuid4().hex[:8]}:a-hash"
    with redis_server.client() as admin:
        admin.hset(key, "f", "v")
        try:
            with pytest.raises(QueueReadError, match="is not a list"):
                read_queue_depth(params(redis_server, user=acl_user[0], password=acl_user[1]), [key])
        finally:
            admin.delete(key)


def test_another_database_needs_select(redis_server, acl_user):
    key = f"nl2api:test-{uuid.uuid4().hex[:8]}:db3"
    with redis_server.client(db=3) as admin3, redis_server.client() as admin:
        admin3.rpush(key, "a", "b")
        try:
            with pytest.raises(QueueReadError):
                read_queue_depth(params(redis_server, user=acl_user[0], password=acl_user[1], login_db=3), [key])
            admin.execute_command("ACL", "SETUSER", acl_user[0], "+select")
            depth = read_queue_depth(params(redis_server, user=acl_user[0], password=acl_user[1], login_db=3), [key])
            assert depth.total == 2
        finally:
            admin3.delete(key)


def test_keda_scaler_needs_eval_and_type_as_well(redis_server, queue, acl_user):
    """The ACL for KEDA's TriggerAuthentication user: LLEN alone is not enough for the scaler's script."""
    with redis_server.client(acl_user[0], acl_user[1]) as llen_only:
        assert llen_only.llen(queue.pending) == 5
        with pytest.raises(redis.exceptions.NoPermissionError):
            llen_only.eval(KEDA_LIST_LENGTH_SCRIPT, 1, queue.pending)
    with redis_server.client() as admin:
        admin.execute_command("ACL", "SETUSER", acl_user[0], "+eval", "+type")
    with redis_server.client(acl_user[0], acl_user[1]) as keda_user:
        assert keda_user.eval(KEDA_LIST_LENGTH_SCRIPT, 1, queue.pending) == 5
        assert keda_user.eval(KEDA_LIST_LENGTH_SCRIPT, 1, queue.processing) == 3
        with pytest.raises(redis.exceptions.NoPermissionError):
            keda_user.eval(KEDA_LIST_LENGTH_SCRIPT, 1, queue.other)

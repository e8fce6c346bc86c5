"""The depth the module reads from a real Redis 7 (tests/functional/support/redis_server.py): the lag and pending count
of group eval-workers on a batch's stream, driven the way the application drives it (XGROUP CREATE ... 0 MKSTREAM,
XADD, XREADGROUP COUNT 1 per worker, XACK, requeue as XACK + XADD), on the plain and TLS ports, as a least-privilege
ACL user; the errors an operator gets; and the ACL that KEDA's redis-streams scaler needs (INFO, XINFO GROUPS, XLEN,
XPENDING), which is more than the module's."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis

from ansible_collections.nl2api.deploy.plugins.module_utils.autoscaling.plan import (
    CONSUMER_GROUP,
    AutoscalingIntent,
    desired_replicas,
    plan,
    stream_name,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.autoscaling.redis_streams import (
    KEDA_SCALER_ACL,
    MODULE_ACL,
    QueueReadError,
    read_queue_depth,
)
from support.redis_server import RedisServer
from support.tls import create_test_ca


@dataclass(frozen=True)
class Batch:
    batch_id: str
    stream: str


def enqueue(admin: redis.Redis, stream: str, count: int) -> None:
    """What the producer does: the group first, then one entry per task."""
    try:
        admin.xgroup_create(stream, CONSUMER_GROUP, id="0", mkstream=True)
    except redis.exceptions.ResponseError as exc:  # BUSYGROUP: the application ignores it too
        assert "BUSYGROUP" in str(exc)
    for index in range(count):
        admin.xadd(stream, {"task_id": "task-%d" % index, "attempt": "1"}, maxlen=100000, approximate=True)


def take(admin: redis.Redis, stream: str, worker: str) -> str:
    """One worker's read: XREADGROUP COUNT 1 (the application's worker runs one task at a time)."""
    reply = admin.xreadgroup(CONSUMER_GROUP, worker, {stream: ">"}, count=1)
    return reply[0][1][0][0]


@pytest.fixture
def batch(redis_server: RedisServer) -> Iterator[Batch]:
    """A batch of 10 tasks, 4 taken by 4 workers: lag 6, pending 4. The stream is deleted afterwards."""
    batch_id = str(uuid.uuid4())
    found = Batch(batch_id, stream_name(batch_id))
    with redis_server.client() as admin:
        enqueue(admin, found.stream, 10)
        for worker in range(4):
            take(admin, found.stream, "nl2api-batch-worker-%d" % worker)
        yield found
        admin.delete(found.stream)


def acl_user(redis_server: RedisServer, rules: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    name, password = f"scaler-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(16)
    with redis_server.client() as admin:
        admin.execute_command("ACL", "SETUSER", name, "on", f">{password}", "resetkeys", "resetchannels", "-@all",
                              *rules)
        yield name, password
        admin.execute_command("ACL", "DELUSER", name)


@pytest.fixture
def module_user(redis_server: RedisServer) -> Iterator[tuple[str, str]]:
    """The module's documented least-privilege user: XINFO GROUPS and XLEN on eval:tasks:*."""
    yield from acl_user(redis_server, MODULE_ACL)


@pytest.fixture
def keda_user(redis_server: RedisServer) -> Iterator[tuple[str, str]]:
    """The documented user of KEDA's TriggerAuthentication."""
    yield from acl_user(redis_server, KEDA_SCALER_ACL)


def params(server: RedisServer, *, tls: bool = False, user: str | None = None, password: str | None = None,
           **extra) -> dict:
    base = {"login_host": server.host, "login_port": server.tls_port if tls else server.port, "login_user": user,
            "login_password": password, "login_db": None, "tls": tls, "validate_certs": True,
            "ca_file": str(server.ca_file) if tls else None, "client_cert_file": None, "client_key_file": None,
            "connect_timeout": 5.0}
    base.update(extra)
    return base


def test_lag_and_pending_as_admin(redis_server, batch):
    depth = read_queue_depth(params(redis_server, user=redis_server.admin_username,
                                    password=redis_server.admin_password), batch.stream, CONSUMER_GROUP)
    assert (depth.lag, depth.pending, depth.total) == (6, 4, 10)
    assert depth.stream_exists and depth.group_exists


def test_lag_and_pending_over_tls_as_the_module_user(redis_server, batch, module_user):
    depth = read_queue_depth(params(redis_server, tls=True, user=module_user[0], password=module_user[1]),
                             batch.stream, CONSUMER_GROUP)
    assert (depth.lag, depth.pending) == (6, 4)


def test_the_depth_follows_ack_and_requeue(redis_server, batch, module_user):
    """An ack drops pending and leaves XLEN as it was (so streamLength would never fall); the application's requeue
    (XACK, then XADD of a new entry) moves a task from pending back to lag."""
    login = params(redis_server, user=module_user[0], password=module_user[1])
    with redis_server.client() as admin:
        acked = take(admin, batch.stream, "nl2api-batch-worker-9")
        admin.xack(batch.stream, CONSUMER_GROUP, acked)
        assert (read_queue_depth(login, batch.stream, CONSUMER_GROUP).lag,
                read_queue_depth(login, batch.stream, CONSUMER_GROUP).pending) == (5, 4)
        assert admin.xlen(batch.stream) == 10
        requeued = admin.xpending_range(batch.stream, CONSUMER_GROUP, "-", "+", 1)[0]["message_id"]
        admin.xack(batch.stream, CONSUMER_GROUP, requeued)
        admin.xadd(batch.stream, {"task_id": "task-requeued", "attempt": "2"})
    depth = read_queue_depth(login, batch.stream, CONSUMER_GROUP)
    assert (depth.lag, depth.pending) == (6, 3)


def test_connection_defaults_come_from_the_queue(redis_server, batch, module_user):
    """What the module does: no login_host/port/tls, the queue's address and TLS setting instead."""
    bare = params(redis_server, user=module_user[0], password=module_user[1], login_host=None, login_port=None,
                  tls=None, ca_file=str(redis_server.ca_file))
    depth = read_queue_depth(bare, batch.stream, CONSUMER_GROUP,
                             defaults={"host": redis_server.host, "port": redis_server.tls_port, "tls": True, "db": 0})
    assert depth.total == 10


def test_desired_replicas_keep_every_busy_worker(redis_server, batch, module_user):
    """4 workers busy, 6 waiting, 5 tasks per worker: the lag alone asks for 2, the pending entries keep the 4."""
    values = plan(AutoscalingIntent(tasks_per_worker=5, min_replicas=1, max_replicas=10, max_task_seconds=240))
    depth = read_queue_depth(params(redis_server, tls=True, user=module_user[0], password=module_user[1]),
                             batch.stream, CONSUMER_GROUP)
    assert desired_replicas(values, depth.lag, depth.pending, current_replicas=4) == 4
    busier = plan(AutoscalingIntent(tasks_per_worker=1, min_replicas=1, max_replicas=10, max_task_seconds=240))
    assert desired_replicas(busier, depth.lag, depth.pending, current_replicas=4) == 6


def test_a_missing_stream_is_empty_and_a_missing_group_counts_every_entry(redis_server, module_user):
    login = params(redis_server, user=module_user[0], password=module_user[1])
    missing = stream_name(str(uuid.uuid4()))
    depth = read_queue_depth(login, missing, CONSUMER_GROUP)
    assert (depth.lag, depth.pending, depth.stream_exists) == (0, 0, False)
    with redis_server.client() as admin:
        admin.xadd(missing, {"task_id": "t"})
        admin.xadd(missing, {"task_id": "u"})
        try:
            depth = read_queue_depth(login, missing, CONSUMER_GROUP)
            assert (depth.lag, depth.pending, depth.group_exists) == (2, 0, False)  # as KEDA: XLEN
        finally:
            admin.delete(missing)


def test_a_deleted_undelivered_entry_makes_the_lag_unknown(redis_server, module_user):
    """XDEL of an entry no worker has received: Redis can no longer count the lag (KEDA then sees no backlog)."""
    stream = stream_name(str(uuid.uuid4()))
    with redis_server.client() as admin:
        enqueue(admin, stream, 3)
        take(admin, stream, "w")
        last = admin.xrevrange(stream, count=1)[0][0]
        admin.xdel(stream, last)
        try:
            depth = read_queue_depth(params(redis_server, user=module_user[0], password=module_user[1]), stream,
                                     CONSUMER_GROUP)
            assert depth.lag is None and depth.pending == 1
        finally:
            admin.delete(stream)


def test_a_key_outside_the_acl_pattern_names_the_acl(redis_server, module_user):
    with pytest.raises(QueueReadError, match=r"may not read 'other:tasks'.*ACL needs ~eval:tasks:\* \+xinfo\|groups"):
        read_queue_depth(params(redis_server, user=module_user[0], password=module_user[1]), "other:tasks",
                         CONSUMER_GROUP)


def test_wrong_password_names_the_credentials(redis_server, batch, module_user):
    with pytest.raises(QueueReadError, match="rejected the credentials.*login_user and login_password") as raised:
        read_queue_depth(params(redis_server, tls=True, user=module_user[0], password="wrong-" + module_user[1]),
                         batch.stream, CONSUMER_GROUP)
    assert module_user[1] not in str(raised.value)


def test_foreign_ca_is_refused(redis_server, batch, module_user, tmp_path):
    foreign = create_test_ca(tmp_path / "foreign", common_name="someone else's CA")
    with pytest.raises(QueueReadError, match="TLS with Redis .* failed.*ca_file, validate_certs and tls"):
        read_queue_depth(params(redis_server, tls=True, user=module_user[0], password=module_user[1],
                                ca_file=str(foreign.ca_cert)), batch.stream, CONSUMER_GROUP)


def test_plain_client_on_the_tls_port_is_a_connection_error(redis_server, batch, module_user):
    with pytest.raises(QueueReadError, match="(cannot reach|TLS with) Redis"):
        read_queue_depth(params(redis_server, user=module_user[0], password=module_user[1],
                                login_port=redis_server.tls_port, connect_timeout=2.0), batch.stream, CONSUMER_GROUP)


def test_a_key_that_is_no_stream_names_the_batch(redis_server, module_user):
    key = stream_name("not-a-stream-" + uuid.uuid4().hex[:8])
    with redis_server.client() as admin:
        admin.rpush(key, "x")
        try:
            with pytest.raises(QueueReadError, match="is not a stream.*check batch_id"):
                read_queue_depth(params(redis_server, user=module_user[0], password=module_user[1]), key,
                                 CONSUMER_GROUP)
        finally:
            admin.delete(key)


def test_keda_needs_info_and_xpending_as_well(redis_server, batch, module_user, keda_user):
    """What KEDA's redis-streams scaler sends (pkg/scalers/redis_streams_scaler.go): INFO for the server version
    before the lag, XINFO GROUPS, XLEN while the group is missing, XPENDING for the pending trigger. The module's
    user may not send INFO or XPENDING; the documented scaler user may send all of them, on eval:tasks:* only."""
    with redis_server.client(*module_user) as narrow:
        assert narrow.xinfo_groups(batch.stream)[0]["lag"] == 6
        for command in (lambda: narrow.info("server"), lambda: narrow.xpending(batch.stream, CONSUMER_GROUP)):
            with pytest.raises(redis.exceptions.NoPermissionError):
                command()
    with redis_server.client(*keda_user) as scaler:
        version = scaler.info("server")["redis_version"]
        assert int(str(version).split(".", maxsplit=1)[0]) >= 7  # KEDA refuses lagCount below 7
        assert scaler.xinfo_groups(batch.stream)[0]["lag"] == 6
        assert scaler.xpending(batch.stream, CONSUMER_GROUP)["pending"] == 4
        assert scaler.xlen(batch.stream) == 10
        with pytest.raises(redis.exceptions.NoPermissionError):
            scaler.xinfo_groups("other:tasks")
        with pytest.raises(redis.exceptions.NoPermissionError):  # the scaler reads, never writes
            scaler.xadd(batch.stream, {"task_id": "forged"})

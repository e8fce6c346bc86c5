"""nl2api.deploy.credential_rotation run by Ansible itself against the real PostgreSQL and Redis of the harness.

PostgreSQL: a group role and two login roles (created here as superuser) alternate; after a rotation the new login
works, the old one keeps working until revoke and fails after it, and pg_authid holds a SCRAM-SHA-256 verifier. Redis:
one ACL user has both passwords between set_secret and revoke, only the new one after, and the aclfile is saved.
Both: a second run within max_age changes nothing, force rotates again, check mode changes nothing, and no secret
reaches Ansible's output. The primary consumer is a `file` consumer (mounted-Secret layout) in a temporary directory.

The pause between set_secret and revoke is made with the module's test hook NL2API_ROTATION_FAULT=revoke:before
(the module SIGKILLs itself there); the next run resumes and revokes.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from support import ansible_cli
from support.ansible_cli import ModuleRun
from support.postgres_server import PostgresServer
from support.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[3]
MODULE = "nl2api.deploy.credential_rotation"


# ------------------------------------------------------------------------------------------------------ helpers


def run_module(args: dict[str, Any], *extra: str, fault: str | None = None) -> ModuleRun:
    """Run the module on localhost through `ansible` (JSON callback); fault sets NL2API_ROTATION_FAULT."""
    return ansible_cli.run_module(MODULE, args, *extra, env={"NL2API_ROTATION_FAULT": fault or None})


def read_volume(path: Path) -> dict[str, str]:
    """Key -> value of a mounted-Secret-like directory, read through the key symlinks as a pod would."""
    return {name: (path / name).read_text() for name in os.listdir(path) if not name.startswith("..")}


def write_volume(path: Path, values: dict[str, str]) -> None:
    """The layout the kubelet makes, for the initial credential (as if delivered before rotation existed)."""
    data = path / "..2026_01_01_00_00_00.000000001"
    data.mkdir(parents=True, mode=0o700)
    for key, value in values.items():
        (data / key).write_text(value)
        os.chmod(data / key, 0o600)
        os.symlink(f"..data/{key}", path / key)
    os.symlink(data.name, path / "..data")


def pg_login_ok(server: PostgresServer, user: str, password: str) -> bool:
    try:
        with psycopg.connect(server.dsn(user=user, password=password, sslmode="verify-full"), autocommit=True) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.OperationalError:
        return False


def redis_login_ok(server: RedisServer, user: str, password: str) -> bool:
    try:
        with server.client(user, password) as client:
            return bool(client.ping())
    except (redis.AuthenticationError, redis.ResponseError):
        return False


# ---------------------------------------------------------------------------------------------------- postgres


class FileConsumerCase:
    """What the cases share: the module's state directory, and a file consumer (a mounted Secret's volume) that
    receives the credential under KEYS (username key, password key)."""

    KEYS: tuple[str, str]
    volume: Path
    state_dir: Path

    def module_args(self, credential: str, engine: str, section: str, connection: dict[str, Any],
                    extra: dict[str, Any]) -> dict[str, Any]:
        user_key, password_key = self.KEYS
        return {
            "credential": credential,
            "engine": engine,
            "state_dir": str(self.state_dir),
            section: connection,
            "consumers": [{"type": "file", "path": str(self.volume),
                           "keys": {user_key: "username", password_key: "password"}}],
            **extra,
        }

    def delivered(self) -> tuple[str, str]:
        values = read_volume(self.volume)
        return values[self.KEYS[0]], values[self.KEYS[1]]


@dataclass
class PgCase(FileConsumerCase):
    KEYS = ("DATABASE_USER", "DATABASE_PASSWORD")
    server: PostgresServer
    group: str
    roles: list[str]
    volume: Path
    initial_password: str
    state_dir: Path

    def args(self, **extra: Any) -> dict[str, Any]:
        return self.module_args(f"pg-{self.group}", "postgres", "postgres", {
            "host": self.server.host,
            "port": self.server.port,
            "admin_user": self.server.superuser,
            "admin_password": self.server.password,
            "database": self.server.dbname,
            "sslmode": "verify-full",
            "ca_file": str(self.server.ca_file),
            "group_role": self.group,
            "login_roles": self.roles,
        }, extra)

    def authid(self, role: str) -> tuple[bool, str | None]:
        with self.server.connect() as conn:
            row = conn.execute("SELECT rolcanlogin, rolpassword FROM pg_authid WHERE rolname = %s", (role,)).fetchone()
        return row[0], row[1]


@pytest.fixture
def pg_case(postgres_server: PostgresServer, tmp_path: Path) -> Iterator[PgCase]:
    """Group role rot_<id> (NOLOGIN, may read a table) and login roles rot_<id>_a (in use, known password) and
    rot_<id>_b (not yet created: the module creates it), plus the file consumer holding _a's credential."""
    group = f"rot_{uuid.uuid4().hex[:8]}"
    roles = [f"{group}_a", f"{group}_b"]
    initial = secrets.token_urlsafe(18)
    with postgres_server.connect() as conn:
        conn.execute(f'CREATE ROLE "{group}" NOLOGIN')
        conn.execute(f'CREATE TABLE "{group}_data" (id int)')
        conn.execute(f'GRANT SELECT ON "{group}_data" TO "{group}"')
        conn.execute(f"CREATE ROLE \"{roles[0]}\" LOGIN PASSWORD '{initial}' IN ROLE \"{group}\"")
    volume = tmp_path / "db-secret"
    write_volume(volume, {"DATABASE_USER": roles[0], "DATABASE_PASSWORD": initial})
    yield PgCase(postgres_server, group, roles, volume, initial, tmp_path / "state")
    with postgres_server.connect() as conn:
        conn.execute(f'DROP TABLE IF EXISTS "{group}_data"')
        for role in roles + [group]:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_postgres_rotation_end_to_end(pg_case: PgCase):
    case = pg_case
    old_user, old_password = case.roles[0], case.initial_password

    # A run killed right before revoke: the new login works, and so does the old one.
    paused = run_module(case.args(), fault="revoke:before")
    assert paused.rc != 0
    new_user, new_password = case.delivered()
    assert new_user == case.roles[1] and new_password != old_password and len(new_password) == 40
    assert pg_login_ok(case.server, new_user, new_password)
    assert pg_login_ok(case.server, old_user, old_password)
    state = json.loads((case.state_dir / f"pg-{case.group}.json").read_text())
    assert state["step"] == "revoke"
    assert os.stat(case.state_dir / f"pg-{case.group}.json").st_mode & 0o777 == 0o600
    assert os.stat(case.state_dir).st_mode & 0o777 == 0o700

    # The next run resumes at revoke: the old login fails from now on.
    resumed = run_module(case.args())
    assert resumed.rc == 0, resumed.result
    result = resumed.result
    assert result["changed"] is True and result["rotated"] is True and result["resumed_from"] == "revoke"
    assert result["step"] == "idle" and result["credential"]["username"] == new_user
    assert result["statements"] == [f'ALTER ROLE "{old_user}" WITH NOLOGIN PASSWORD NULL']
    assert pg_login_ok(case.server, new_user, new_password)
    assert not pg_login_ok(case.server, old_user, old_password)
    canlogin, verifier = case.authid(new_user)
    assert canlogin and verifier.startswith("SCRAM-SHA-256$4096:")
    assert case.authid(old_user) == (False, None)
    # The new role reads what the group may read.
    with psycopg.connect(case.server.dsn(user=new_user, password=new_password, sslmode="verify-full")) as conn:
        assert conn.execute(f'SELECT count(*) FROM "{case.group}_data"').fetchone() == (0,)
    for run in (paused, resumed):
        assert new_password not in run.stdout + run.stderr
        assert case.server.password not in run.stdout + run.stderr
    assert "pending" not in json.loads((case.state_dir / f"pg-{case.group}.json").read_text())

    # Within max_age: nothing happens.
    again = run_module(case.args())
    assert again.rc == 0 and again.result["changed"] is False and again.result["rotated"] is False

    # Check mode with force: would rotate, changes nothing (statements rolled back).
    before_state = (case.state_dir / f"pg-{case.group}.json").read_text()
    checked = run_module(case.args(force=True), "--check")
    assert checked.rc == 0, checked.result
    assert checked.result["changed"] is True and "would rotate" in checked.result["msg"]
    assert any("PASSWORD '********'" in s for s in checked.result["statements"])
    assert (case.state_dir / f"pg-{case.group}.json").read_text() == before_state
    assert case.delivered() == (new_user, new_password)
    assert case.authid(old_user) == (False, None)
    assert pg_login_ok(case.server, new_user, new_password)

    # force rotates again, back to the first role, with a fresh password; the second role is revoked.
    forced = run_module(case.args(force=True))
    assert forced.rc == 0, forced.result
    third_user, third_password = case.delivered()
    assert forced.result["rotated"] is True and third_user == old_user == forced.result["credential"]["username"]
    assert third_password not in (old_password, new_password)
    assert pg_login_ok(case.server, third_user, third_password)
    assert not pg_login_ok(case.server, new_user, new_password)
    assert case.authid(third_user)[1].startswith("SCRAM-SHA-256$")
    assert third_password not in forced.stdout


def test_postgres_first_install_creates_the_pending_role(postgres_server: PostgresServer, tmp_path: Path):
    """No credential delivered yet: the first login role is created, the group role too."""
    group = f"rot_{uuid.uuid4().hex[:8]}"
    case = PgCase(postgres_server, group, [f"{group}_a", f"{group}_b"], tmp_path / "vol", "", tmp_path / "state")
    try:
        done = run_module(case.args())
        assert done.rc == 0, done.result
        user, password = case.delivered()
        assert user == case.roles[0] and pg_login_ok(postgres_server, user, password)
        assert done.result["statements"][0] == f'CREATE ROLE "{group}" NOLOGIN'
    finally:
        with postgres_server.connect() as conn:
            for role in case.roles + [group]:
                conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_postgres_refuses_a_group_role_that_can_log_in(postgres_server: PostgresServer, tmp_path: Path):
    group = f"rot_{uuid.uuid4().hex[:8]}"
    with postgres_server.connect() as conn:
        conn.execute(f"CREATE ROLE \"{group}\" LOGIN PASSWORD 'x-{uuid.uuid4().hex}'")
    case = PgCase(postgres_server, group, [f"{group}_a", f"{group}_b"], tmp_path / "vol", "", tmp_path / "state")
    try:
        done = run_module(case.args())
        assert done.rc != 0 and "postgres.group_role" in done.result["msg"] and "NOLOGIN" in done.result["msg"]
        with postgres_server.connect() as conn:
            assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE %s", (f"{group}\\_%",)).fetchone() \
                == (0,)
    finally:
        with postgres_server.connect() as conn:
            for role in case.roles + [group]:
                conn.execute(f'DROP ROLE IF EXISTS "{role}"')


# ------------------------------------------------------------------------------------------------------- redis


@dataclass
class RedisCase(FileConsumerCase):
    KEYS = ("REDIS_USERNAME", "REDIS_PASSWORD")
    server: RedisServer
    user: str
    volume: Path
    initial_password: str
    state_dir: Path

    def args(self, **extra: Any) -> dict[str, Any]:
        return self.module_args(f"redis-{self.user}", "redis_acl", "redis", {
            "login_host": self.server.host,
            "login_port": self.server.tls_port,
            "tls": True,
            "ca_file": str(self.server.ca_file),
            "login_user": self.server.admin_username,
            "login_password": self.server.admin_password,
            "acl_user": self.user,
        }, extra)

    def password_hashes(self) -> list[str]:
        with self.server.client() as admin:
            return sorted(admin.acl_getuser(self.user)["passwords"])


@pytest.fixture
def redis_case(redis_server: RedisServer, tmp_path: Path) -> Iterator[RedisCase]:
    user = f"app-{uuid.uuid4().hex[:8]}"
    initial = secrets.token_urlsafe(18)
    with redis_server.client() as admin:
        admin.execute_command("ACL", "SETUSER", user, "on", f">{initial}", "resetkeys", "~app:*", "-@all", "+ping",
                              "+get", "+set", "+hello")
    volume = tmp_path / "redis-secret"
    write_volume(volume, {"REDIS_USERNAME": user, "REDIS_PASSWORD": initial})
    yield RedisCase(redis_server, user, volume, initial, tmp_path / "state")
    with redis_server.client() as admin:
        admin.execute_command("ACL", "DELUSER", user)
        admin.execute_command("ACL", "SAVE")


def sha(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def test_redis_acl_rotation_end_to_end(redis_case: RedisCase):
    case = redis_case
    old = case.initial_password

    paused = run_module(case.args(), fault="revoke:before")
    assert paused.rc != 0
    user, new = case.delivered()
    assert user == case.user and new != old
    assert redis_login_ok(case.server, user, new) and redis_login_ok(case.server, user, old)
    assert case.password_hashes() == sorted([sha(old), sha(new)])

    resumed = run_module(case.args())
    assert resumed.rc == 0, resumed.result
    result = resumed.result
    assert result["resumed_from"] == "revoke" and result["step"] == "idle" and result["rotated"] is True
    assert result["statements"] == [f"ACL SETUSER {user} resetpass #********", "ACL SAVE"]
    assert redis_login_ok(case.server, user, new) and not redis_login_ok(case.server, user, old)
    assert case.password_hashes() == [sha(new)]
    # ACL SAVE wrote the aclfile: the new hash is there, the old one is gone; never a plaintext password.
    acl = case.server.aclfile.read_text()
    assert sha(new) in acl and sha(old) not in acl and new not in acl
    for run in (paused, resumed):
        assert new not in run.stdout + run.stderr and case.server.admin_password not in run.stdout + run.stderr

    again = run_module(case.args())
    assert again.rc == 0 and again.result["changed"] is False

    checked = run_module(case.args(force=True), "--check")
    assert checked.rc == 0, checked.result
    assert checked.result["changed"] is True
    assert case.password_hashes() == [sha(new)] and case.delivered() == (user, new)

    forced = run_module(case.args(force=True))
    assert forced.rc == 0, forced.result
    dummy, third = case.delivered()
    assert third not in (old, new)
    assert redis_login_ok(case.server, user, third) and not redis_login_ok(case.server, user, new)
    assert case.password_hashes() == [sha(third)]
    assert third not in forced.stdout


def test_redis_acl_user_must_exist(redis_server: RedisServer, tmp_path: Path):
    case = RedisCase(redis_server, f"ghost-{uuid.uuid4().hex[:8]}", tmp_path / "vol", "", tmp_path / "state")
    done = run_module(case.args())
    assert done.rc != 0 and "redis.acl_user" in done.result["msg"] and "does not exist" in done.result["msg"]
    with redis_server.client() as admin:
        assert admin.acl_getuser(case.user) is None
    assert not (tmp_path / "vol").exists()

"""A load generator that behaves like the nl2api pods during a credential rotation, and the rotation scenario the
load, fault and no-leak tests and benchmarks/rotation_under_load.py share.

LoadGenerator: worker threads that keep opening NEW connections the way the nl2api pods do: each time they read
the connection URL again from a `file` consumer directory (the layout of a mounted Secret volume, resolved through
the `..data` symlink as a pod's process sees one atomic version of the Secret) and connect with the URL as it is:
`postgres-url` with psycopg (libpq: TLS verify-full, the login role and password inside the URL) and `redis-url`
with redis-py's from_url (rediss://, the ACL user and password inside the URL). Every connection runs a query
(SELECT on a table only the group role may read) or a command (SET/GET), then closes. Every failed connection or
login counts as a failure (authentication failures are also counted apart): nothing is retried.

RotationScenario: a fresh group role with two alternating login roles and a Redis ACL user, their URLs delivered
in two file consumer directories (url_keys, with passwords full of characters that must be percent-encoded), a
state directory, and a throwaway inventory whose nl2api_rotation_credentials point the real
playbooks/rotate_secrets.yml at them (admin passwords in a vault-encrypted vault.yml, as in a real inventory), with
a revoke_delay that covers a reader that fetched the old URL just before the switch.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import psycopg
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from support.ansible_cli import Run, clean_ansible_environment, find_tool

ROOT = Path(__file__).resolve().parents[3]
PLAYBOOK = ROOT / "playbooks" / "rotate_secrets.yml"
DATA_LINK = "..data"
#: Steps of nl2api.deploy.credential_rotation, in order (plugins/module_utils/credential_rotation.py STEPS).
STEPS = ("create_pending", "set_secret", "test_secret", "promote", "update_consumers", "refresh_consumers", "revoke")

POSTGRES_URL_KEY = "postgres-url"
REDIS_URL_KEY = "redis-url"
#: Characters a URL must percent-encode, added to the generated passwords so that every rotation proves encoding.
URL_SPECIAL_SYMBOLS = ":@/#?%&+="
#: Seconds the old credential stays valid after the consumers changed: longer than a reader takes from reading the
#: URL to logging in with it (a few milliseconds here; a batch's run time in production).
REVOKE_DELAY = "1s"

PG_AUTH_MARKERS = ("password authentication failed", "is not permitted to log in", "does not exist")
REDIS_AUTH_MARKERS = ("WRONGPASS", "NOPERM", "invalid username-password", "user is disabled")


# ------------------------------------------------------------------------------------------------ the volume


def write_volume(path: Path, values: dict[str, str]) -> None:
    """The layout the kubelet makes for a Secret volume: `..data` -> timestamped dir, `<key>` -> `..data/<key>`."""
    data = path / "..2026_01_01_00_00_00.000000001"
    data.mkdir(parents=True, mode=0o700)
    for key, value in values.items():
        (data / key).write_text(value, encoding="utf-8")
        os.chmod(data / key, 0o600)
        os.symlink(f"{DATA_LINK}/{key}", path / key)
    os.symlink(data.name, path / DATA_LINK)


def read_volume(path: Path, keys: tuple[str, ...], attempts: int = 50) -> dict[str, str]:
    """One consistent version of the keys: `..data` is resolved once and every key read from that directory. A
    writer that swapped `..data` and removed the old directory between the two makes us read again."""
    return read_version(path, keys, attempts)[1]


def read_version(path: Path, keys: tuple[str, ...], attempts: int = 50) -> tuple[str, dict[str, str]]:
    """(the `..data` target, the keys' values) of one consistent version of the volume."""
    for _attempt in range(attempts):
        try:
            version = os.readlink(path / DATA_LINK)
            return version, {key: (path / version / key).read_text(encoding="utf-8") for key in keys}
        except FileNotFoundError:
            continue
    raise RuntimeError(f"{path}: no consistent version of {keys} after {attempts} reads")


# --------------------------------------------------------------------------------------------- the generator


@dataclass
class TargetStats:
    """Counters of one target; `versions` counts connections per user name and password fingerprint (never the
    password itself), so a test can see the credential change under load."""

    ok: int = 0
    auth_failed: int = 0
    other_failed: int = 0
    reread: int = 0
    errors: list[str] = field(default_factory=list)
    versions: Counter = field(default_factory=Counter)

    @property
    def failed(self) -> int:
        return self.auth_failed + self.other_failed


def fingerprint(username: str, password: str) -> str:
    """A public label for a credential: the user name and a short hash (for test reports, never the secret)."""
    return f"{username}#{hashlib.sha256(password.encode()).hexdigest()[:8]}"


def credential_of(url: str) -> tuple[str, str]:
    """(user name, password) decoded from a URL's user info."""
    parts = urlsplit(url)
    return unquote(parts.username or ""), unquote(parts.password or "")


def postgres_url_template(server: Any) -> str:
    """The postgres-url template of the scenario, as an inventory gives it: TLS verify-full against the test CA."""
    return (f"postgresql://{{username}}:{{password}}@{server.host}:{server.port}/{server.dbname}"
            f"?sslmode=verify-full&sslrootcert={server.ca_file}")


def redis_url_template(server: Any) -> str:
    """The redis-url template of the scenario: TLS, certificate and host name verified against the test CA."""
    return (f"rediss://{{username}}:{{password}}@{server.host}:{server.tls_port}/0"
            f"?ssl_cert_reqs=required&ssl_ca_certs={server.ca_file}")


def fill(template: str, username: str, password: str) -> str:
    """A URL template filled as url_keys does (percent-encoded), for the volumes written before any rotation."""
    return template.format(username=quote(username, safe=""), password=quote(password, safe=""))


def postgres_login(url: str, table: str | None = None) -> None:
    """Connect with the URL as the API pods do (libpq), run one query; raises psycopg.Error."""
    # passfile: test exactly the URL's password, never one from ~/.pgpass of this machine.
    with psycopg.connect(url, autocommit=True, connect_timeout=5, passfile=os.devnull) as conn:
        conn.execute(f'SELECT count(*) FROM "{table}"' if table else "SELECT 1").fetchone()


def redis_client_of(url: str) -> redis.Redis:
    """A client from the URL as the workers make it (redis-py from_url), without retries: a refusal is a failure."""
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, retry=Retry(NoBackoff(), retries=0))


class LoadGenerator:
    """Threads that open new PostgreSQL and Redis connections in a loop until stop().

    pg/redis_server are the harness servers; db_volume/redis_volume the file consumer directories; table a table
    the group role may read. Use as a context manager; `stats` holds the counters (read them after stop())."""

    def __init__(self, *, pg_server: Any = None, db_volume: Path | None = None, table: str | None = None,
                 redis_server: Any = None, redis_volume: Path | None = None, threads: int = 2,
                 pause: float = 0.0) -> None:
        self.pg_server, self.db_volume, self.table = pg_server, db_volume, table
        self.redis_server, self.redis_volume = redis_server, redis_volume
        self.threads_per_target = threads
        self.pause = pause
        self.stats: dict[str, TargetStats] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- one connection each, with the URL of one version of the volume
    def _postgres_once(self, url: str) -> str | None:
        try:
            postgres_login(url, self.table)
            return None
        except psycopg.Error as exc:
            return _kind(str(exc), PG_AUTH_MARKERS) + ": " + _first_line(exc)

    def _redis_once(self, url: str) -> str | None:
        try:
            with redis_client_of(url) as client:
                key = f"app:load:{threading.get_ident()}"
                client.set(key, "1", ex=60)
                client.get(key)
            return None
        except redis.RedisError as exc:
            return _kind(str(exc), REDIS_AUTH_MARKERS) + ": " + _first_line(exc)

    # -- the loop
    def _run(self, target: str, once, volume: Path, key: str) -> None:
        while not self._stop.is_set():
            try:
                url = read_volume(volume, (key,))[key]
                label = fingerprint(*credential_of(url))
                error = once(url)
            except RuntimeError as exc:  # no consistent version of the volume: count it, never silently pass
                label, error = "-", "other: " + str(exc)
            with self._lock:
                stats = self.stats[target]
                stats.versions[label] += 1
                if error is None:
                    stats.ok += 1
                elif error.startswith("auth"):
                    stats.auth_failed += 1
                else:
                    stats.other_failed += 1
                if error is not None and len(stats.errors) < 20:
                    stats.errors.append(f"{label}: {error}")
            if self.pause:
                time.sleep(self.pause)

    def start(self) -> "LoadGenerator":
        targets = []
        if self.pg_server is not None:
            targets.append(("postgres", self._postgres_once, self.db_volume, POSTGRES_URL_KEY))
        if self.redis_server is not None:
            targets.append(("redis", self._redis_once, self.redis_volume, REDIS_URL_KEY))
        for target, once, volume, key in targets:
            self.stats[target] = TargetStats()
            for index in range(self.threads_per_target):
                thread = threading.Thread(target=self._run, args=(target, once, volume, key),
                                          name=f"load-{target}-{index}", daemon=True)
                thread.start()
                self._threads.append(thread)
        return self

    def stop(self) -> dict[str, TargetStats]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        return self.stats

    def snapshot(self) -> dict[str, tuple[int, int]]:
        """(ok, failed) per target so far."""
        with self._lock:
            return {target: (stats.ok, stats.failed) for target, stats in self.stats.items()}

    def wait_for_connections(self, count: int = 5, timeout: float = 30.0) -> None:
        """Block until every target made `count` more connections (successful or not) than now."""
        start = {target: sum(pair) for target, pair in self.snapshot().items()}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.snapshot()
            if all(sum(now[target]) >= start[target] + count for target in start):
                return
            time.sleep(0.02)
        raise AssertionError(f"the load generator made no progress in {timeout}s: {self.snapshot()}")

    def report(self) -> str:
        return "; ".join(
            f"{target}: {s.ok} ok, {s.auth_failed} auth failed, {s.other_failed} other failed, "
            f"versions {dict(s.versions)}, errors {s.errors[:5]}" for target, s in self.stats.items())

    def __enter__(self) -> "LoadGenerator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _kind(message: str, auth_markers: tuple[str, ...]) -> str:
    lowered = message.lower()
    return "auth" if any(marker.lower() in lowered for marker in auth_markers) else "other"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


# ------------------------------------------------------------------------------------------------ probes


def pg_login_ok(server: Any, user: str, password: str, table: str | None = None) -> bool:
    """A fresh login through the scenario's URL (TLS verify-full) and a query; False on any PostgreSQL error."""
    try:
        postgres_login(fill(postgres_url_template(server), user, password), table)
        return True
    except psycopg.Error:
        return False


def redis_login_ok(server: Any, user: str, password: str) -> bool:
    """A fresh TLS connection through the scenario's URL as the ACL user and a PING; False on any Redis error."""
    try:
        with redis_client_of(fill(redis_url_template(server), user, password)) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


# ------------------------------------------------------------------------------------------------ scenario


@dataclass
class PlaybookRun(Run):
    seconds: float


class RotationScenario:
    """postgres-app (group rot_<id>, login roles rot_<id>_a in use and rot_<id>_b not yet created) and redis-app
    (ACL user app-<id>), delivered through file consumers, rotated by playbooks/rotate_secrets.yml."""

    def __init__(self, pg_server: Any, redis_server: Any, workdir: Path) -> None:
        self.pg, self.redis = pg_server, redis_server
        self.workdir = workdir
        ident = uuid.uuid4().hex[:8]
        self.group = f"rot_{ident}"
        self.roles = [f"{self.group}_a", f"{self.group}_b"]
        self.table = f"{self.group}_data"
        self.redis_user = f"app-{ident}"
        # Initial passwords with URL-special characters too: the volumes hold them percent-encoded from the start.
        self.initial_pg_password = secrets.token_urlsafe(18) + "@:/#?%"
        self.initial_redis_password = secrets.token_urlsafe(18) + "%#?:@/"
        self.db_volume = workdir / "secrets" / "db"
        self.redis_volume = workdir / "secrets" / "redis"
        self.state_dir = workdir / "state"
        self.inventory = workdir / "inventory"
        self.vault_password_file = workdir / "vault-password"
        self.vault_password = secrets.token_urlsafe(24)
        self.log_file = workdir / "ansible.log"

    # -- setup / teardown
    def create(self) -> "RotationScenario":
        with self.pg.connect() as conn:
            conn.execute(f'CREATE ROLE "{self.group}" NOLOGIN')
            conn.execute(f'CREATE TABLE "{self.table}" (id int)')
            conn.execute(f'GRANT SELECT ON "{self.table}" TO "{self.group}"')
            conn.execute(f"CREATE ROLE \"{self.roles[0]}\" LOGIN PASSWORD '{self.initial_pg_password}' "
                         f"IN ROLE \"{self.group}\"")
        with self.redis.client() as admin:
            admin.execute_command("ACL", "SETUSER", self.redis_user, "on", f">{self.initial_redis_password}",
                                  "resetkeys", "~app:*", "-@all", "+ping", "+get", "+set", "+hello", "+auth")
        write_volume(self.db_volume, {POSTGRES_URL_KEY: fill(postgres_url_template(self.pg), self.roles[0],
                                                             self.initial_pg_password)})
        write_volume(self.redis_volume, {
            "redis-username": self.redis_user, "redis-password": self.initial_redis_password,
            REDIS_URL_KEY: fill(redis_url_template(self.redis), self.redis_user, self.initial_redis_password)})
        self._write_inventory()
        return self

    def drop(self) -> None:
        with self.pg.connect() as conn:
            # Sessions of the load generator may linger for a moment after it stopped.
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ANY(%s)",
                         (self.roles,))
            conn.execute(f'DROP TABLE IF EXISTS "{self.table}"')
            for role in self.roles + [self.group]:
                conn.execute(f'DROP ROLE IF EXISTS "{role}"')
        with self.redis.client() as admin:
            admin.execute_command("ACL", "DELUSER", self.redis_user)
            admin.execute_command("ACL", "SAVE")

    def _write_inventory(self) -> None:
        group_vars = self.inventory / "group_vars" / "all"
        group_vars.mkdir(parents=True)
        hosts = {"all": {"children": {"nl2api_control": {"hosts": {"localhost": {
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}}}
        (self.inventory / "hosts.yml").write_text(json.dumps(hosts), encoding="utf-8")
        settings = {
            "nl2api_rotation_state_dir": str(self.state_dir),
            "nl2api_rotation_credentials": {
                "postgres-app": {
                    "engine": "postgres",
                    "max_age": "30d",
                    "revoke_delay": REVOKE_DELAY,
                    "password_symbols": URL_SPECIAL_SYMBOLS,
                    "postgres": {
                        "host": self.pg.host, "port": self.pg.port, "database": self.pg.dbname,
                        "admin_user": self.pg.superuser, "admin_password": "{{ vault_rotation_postgres_admin_password }}",
                        "sslmode": "verify-full", "ca_file": str(self.pg.ca_file),
                        "group_role": self.group, "login_roles": self.roles,
                    },
                    # The pods read the URL only: the alternating login role is its user name.
                    "consumers": [{"type": "file", "path": str(self.db_volume),
                                   "url_keys": {POSTGRES_URL_KEY: postgres_url_template(self.pg)}}],
                },
                "redis-app": {
                    "engine": "redis_acl",
                    "max_age": "30d",
                    "revoke_delay": REVOKE_DELAY,
                    "password_symbols": URL_SPECIAL_SYMBOLS,
                    "redis": {
                        "login_host": self.redis.host, "login_port": self.redis.tls_port, "tls": True,
                        "ca_file": str(self.redis.ca_file), "login_user": self.redis.admin_username,
                        "login_password": "{{ vault_rotation_redis_admin_password }}", "acl_user": self.redis_user,
                    },
                    # As the chart's Secret: raw keys for the in-cluster Redis, the URL for the pods.
                    "consumers": [{"type": "file", "path": str(self.redis_volume),
                                   "keys": {"redis-username": "username", "redis-password": "password"},
                                   "url_keys": {REDIS_URL_KEY: redis_url_template(self.redis)}}],
                },
            },
        }
        (group_vars / "rotation.yml").write_text(json.dumps(settings, indent=2), encoding="utf-8")
        vault = group_vars / "vault.yml"
        vault.write_text(json.dumps({"vault_rotation_postgres_admin_password": self.pg.password,
                                     "vault_rotation_redis_admin_password": self.redis.admin_password}),
                         encoding="utf-8")
        self.vault_password_file.write_text(self.vault_password + "\n", encoding="utf-8")
        os.chmod(self.vault_password_file, 0o600)
        done = subprocess.run([find_tool("ansible-vault"), "encrypt", "--vault-password-file", str(self.vault_password_file),
                               str(vault)], cwd=ROOT, env=self.environment(), capture_output=True, text=True,
                              timeout=120, check=False)
        if done.returncode != 0 or not vault.read_text(encoding="utf-8").startswith("$ANSIBLE_VAULT;"):
            raise RuntimeError(f"ansible-vault encrypt failed: {done.stderr}")

    # -- running the playbook
    def environment(self, fault: str | None = None) -> dict[str, str]:
        env = clean_ansible_environment(ANSIBLE_FORCE_COLOR="0", ANSIBLE_LOG_PATH=str(self.log_file))
        env.pop("NL2API_ROTATION_FAULT", None)
        if fault:
            env["NL2API_ROTATION_FAULT"] = fault
        return env

    def run_playbook(self, *extra: str, fault: str | None = None, timeout: float = 600) -> PlaybookRun:
        """ansible-playbook playbooks/rotate_secrets.yml -i <this inventory> --vault-password-file ... <extra>."""
        cmd = [find_tool("ansible-playbook"), str(PLAYBOOK), "-i", str(self.inventory), "--vault-password-file",
               str(self.vault_password_file), *extra]
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=ROOT, env=self.environment(fault), capture_output=True, text=True,
                              timeout=timeout, check=False)
        return PlaybookRun(done.returncode, done.stdout, done.stderr, time.perf_counter() - start)

    # -- reading what was delivered and recorded
    def delivered_pg(self) -> tuple[str, str]:
        """(login role, password) inside the delivered postgres-url."""
        return credential_of(read_volume(self.db_volume, (POSTGRES_URL_KEY,))[POSTGRES_URL_KEY])

    def delivered_redis(self) -> tuple[str, str]:
        """(ACL user, password) inside the delivered redis-url, checked against the raw keys of the same version."""
        values = read_volume(self.redis_volume, ("redis-username", "redis-password", REDIS_URL_KEY))
        from_url = credential_of(values[REDIS_URL_KEY])
        if from_url != (values["redis-username"], values["redis-password"]):
            raise AssertionError("redis-url and the raw redis-username/redis-password disagree")
        return from_url

    def state(self, credential: str) -> dict[str, Any] | None:
        path = self.state_dir / f"{credential}.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

    def pg_ok(self, user: str, password: str) -> bool:
        return pg_login_ok(self.pg, user, password, self.table)

    def redis_ok(self, user: str, password: str) -> bool:
        return redis_login_ok(self.redis, user, password)

    def load(self, threads: int = 2, pause: float = 0.0) -> LoadGenerator:
        return LoadGenerator(pg_server=self.pg, db_volume=self.db_volume, table=self.table, redis_server=self.redis,
                             redis_volume=self.redis_volume, threads=threads, pause=pause)

"""A private Redis 7 configured like production: ACLs with the default user off, a TLS port beside the plain one.

Users live in an aclfile rather than in redis.conf, because only then do ACL SAVE and ACL LOAD work, which the
credential-rotation tests need. Persistence is off (save "", appendonly no): the data set is thrown away and
background saves would only race with teardown.
"""

from __future__ import annotations

import secrets
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .errors import StartupError
from .ports import LOOPBACK, free_ports
from .process import ManagedProcess, child_environment, require_binary, serve_daemon, start_daemon
from .tls import TlsBundle
from .workdirs import temporary_workdir

PACKAGE = "redis-server"
ADMIN_USER = "admin"
STARTUP_TIMEOUT = 30.0


@dataclass(frozen=True)
class RedisServer:
    """Where the test Redis listens and how its admin logs in; the password stays out of repr."""

    host: str
    port: int
    tls_port: int
    admin_username: str
    admin_password: str = field(repr=False)
    ca_file: Path
    aclfile: Path
    config_file: Path
    log_file: Path

    def client(
        self,
        username: str | None = None,
        password: str | None = None,
        *,
        anonymous: bool = False,
        tls: bool = False,
        ca_file: Path | None = None,
        decode_responses: bool = True,
        **kwargs: Any,
    ) -> redis.Redis:
        """A redis-py client, logged in as the admin unless username/password are given or anonymous=True.

        tls=True dials the TLS port and verifies the certificate and host name against the test CA (or against
        `ca_file`, to prove that a foreign CA is rejected). Retries are off by default: redis-py 8 retries every
        ConnectionError (AuthenticationError included) with backoff, which turns each expected refusal into a
        4-second wait and could mask a flaky server; pass retry=... to get them back."""
        if not anonymous and username is None:
            username, password = self.admin_username, self.admin_password
        options: dict[str, Any] = {
            "host": self.host,
            "port": self.tls_port if tls else self.port,
            "username": None if anonymous else username,
            "password": None if anonymous else password,
            "decode_responses": decode_responses,
            "socket_timeout": 5,
            "socket_connect_timeout": 5,
            "retry": Retry(NoBackoff(), retries=0),
        }
        if tls:
            options.update(
                ssl=True,
                ssl_ca_certs=str(ca_file or self.ca_file),
                ssl_cert_reqs="required",
                ssl_check_hostname=True,
            )
        options.update(kwargs)
        return redis.Redis(**options)

    def url(self, *, username: str | None = None, password: str | None = None, tls: bool = False, db: int = 0) -> str:
        """A redis:// or rediss:// URL (admin by default), the form the nl2api service takes its settings in."""
        if username is None:
            username, password = self.admin_username, self.admin_password
        scheme, port = ("rediss", self.tls_port) if tls else ("redis", self.port)
        userinfo = quote(username, safe="") + (":" + quote(password, safe="") if password is not None else "")
        return f"{scheme}://{userinfo}@{self.host}:{port}/{db}"


@contextmanager
def run_redis(tls: TlsBundle, *, startup_timeout: float = STARTUP_TIMEOUT) -> Iterator[RedisServer]:
    """Start and (always) stop and delete a Redis server; yields its RedisServer."""
    binary = require_binary("redis-server", PACKAGE)
    password = secrets.token_urlsafe(24)
    with temporary_workdir("redis") as directory, serve_daemon(
        lambda: _start(binary, directory, password, tls, startup_timeout), shutdown_signal=signal.SIGTERM,
        stop_timeout=15,
    ) as server:
        yield server


def _start(
    binary: Path, workdir: Path, password: str, tls: TlsBundle, startup_timeout: float
) -> tuple[RedisServer, ManagedProcess]:
    """Write config and aclfile for fresh ports, start redis-server, and wait until the admin can PING."""
    port, tls_port = free_ports(2)
    server = RedisServer(
        host=LOOPBACK,
        port=port,
        tls_port=tls_port,
        admin_username=ADMIN_USER,
        admin_password=password,
        ca_file=tls.ca_cert,
        aclfile=workdir / "users.acl",
        config_file=workdir / "redis.conf",
        log_file=workdir / "redis.log",
    )
    _write_aclfile(server)
    _write_config(server, workdir, tls)
    process = start_daemon(
        [binary, server.config_file],
        log_path=server.log_file,
        ready=lambda: _admin_can_ping(server),
        what=f"Redis on port {port}",
        timeout=startup_timeout,
        env=child_environment(),
        cwd=workdir,
    )
    return server, process


def _write_aclfile(server: RedisServer) -> None:
    """The default user is off (no anonymous access); the admin may do everything. 0600: it holds a password."""
    server.aclfile.touch(mode=0o600)
    server.aclfile.write_text(
        "user default off resetchannels -@all\n"
        f"user {server.admin_username} on >{server.admin_password} ~* &* +@all\n",
        encoding="utf-8",
    )


def _write_config(server: RedisServer, workdir: Path, tls: TlsBundle) -> None:
    """redis.conf: loopback only, plain and TLS ports, aclfile users, no persistence, log to stdout."""
    if any(char in str(workdir) for char in " \"'"):
        raise StartupError(f"the Redis work directory {workdir} contains quotes or spaces redis.conf cannot hold")
    settings = [
        ("bind", server.host),
        ("protected-mode", "yes"),
        ("port", str(server.port)),
        ("tls-port", str(server.tls_port)),
        ("tls-cert-file", str(tls.server_cert)),
        ("tls-key-file", str(tls.server_key)),
        ("tls-ca-cert-file", str(tls.ca_cert)),
        ("tls-auth-clients", "no"),
        ("tls-protocols", '"TLSv1.2 TLSv1.3"'),
        ("aclfile", str(server.aclfile)),
        ("save", '""'),
        ("appendonly", "no"),
        ("dir", str(workdir)),
        ("daemonize", "no"),
        ("logfile", '""'),
        ("loglevel", "notice"),
    ]
    server.config_file.write_text(
        "# nl2api functional-test harness\n" + "".join(f"{key} {value}\n" for key, value in settings),
        encoding="utf-8",
    )


def _admin_can_ping(server: RedisServer) -> bool:
    """The readiness probe: an authenticated PING, which also proves the aclfile was loaded."""
    with server.client(socket_timeout=2, socket_connect_timeout=2) as client:
        return bool(client.ping())

"""A private PostgreSQL cluster configured like production: SCRAM passwords everywhere and TLS on the TCP port.

The cluster is created with initdb in a temporary directory and run by `postgres` directly (not pg_ctl), so the
harness holds the postmaster's pid and can always stop it. When the tests run as root, initdb and the
postmaster run as the `postgres` system account, because PostgreSQL refuses to run as root; otherwise they run
as the current user. Durability settings are off: the cluster is thrown away, and fsync only slows tests down.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from .errors import MissingDependencyError, StartupError
from .ports import LOOPBACK, free_port
from .process import ManagedProcess, child_environment, require_binary, serve_daemon, start_daemon
from .tls import TlsBundle, install_server_pair
from .workdirs import temporary_workdir

PACKAGE = "postgresql"
SERVICE_ACCOUNT = "postgres"
SUPERUSER = "postgres"
STARTUP_TIMEOUT = 60.0
#: SIGINT is PostgreSQL's "fast" shutdown, exactly what `pg_ctl stop -m fast` sends.
SHUTDOWN_SIGNAL = signal.SIGINT


@dataclass(frozen=True)
class PostgresServer:
    """Where the test cluster listens and how to log in; password is left out of repr so it stays out of logs."""

    host: str
    port: int
    superuser: str
    password: str = field(repr=False)
    dbname: str
    ca_file: Path
    socket_dir: Path
    data_dir: Path
    log_file: Path

    def dsn(
        self,
        *,
        user: str | None = None,
        password: str | None = None,
        dbname: str | None = None,
        sslmode: str = "disable",
        host: str | None = None,
        **extra: Any,
    ) -> str:
        """A libpq connection string, superuser by default. sslmode verify-ca/verify-full add the test CA as
        sslrootcert. Every parameter is explicit, so PG* variables or ~/.pgpass of the machine never leak in
        (pass password="" to connect without one)."""
        params: dict[str, Any] = {
            "host": host or self.host,
            "port": self.port,
            "user": user or self.superuser,
            "password": self.password if password is None else password,
            "dbname": dbname or self.dbname,
            "sslmode": sslmode,
            "connect_timeout": 5,
            "passfile": os.devnull,
        }
        if sslmode in ("verify-ca", "verify-full"):
            params["sslrootcert"] = str(self.ca_file)
        params.update(extra)
        return make_conninfo(**params)

    def connect(self, *, autocommit: bool = True, **dsn_params: Any) -> psycopg.Connection[Any]:
        """Open a psycopg connection with dsn(**dsn_params); autocommit by default, as admin statements
        (CREATE ROLE, CREATE DATABASE) are what tests mostly run."""
        return psycopg.connect(self.dsn(**dsn_params), autocommit=autocommit)


@dataclass(frozen=True)
class _Account:
    """The OS account that owns the cluster: `name` is passed to Popen(user=...) only when we must switch."""

    name: str | None
    uid: int
    gid: int


@contextmanager
def run_postgres(tls: TlsBundle, *, startup_timeout: float = STARTUP_TIMEOUT) -> Iterator[PostgresServer]:
    """Create, start and (always) stop and delete a PostgreSQL cluster; yields its PostgresServer."""
    bindir = find_bindir()
    account = _service_account()
    with temporary_workdir("pg") as directory:
        os.chown(directory, account.uid, account.gid)
        password = secrets.token_urlsafe(24)
        data_dir = _init_cluster(bindir, directory, account, password)
        cert, key = install_server_pair(tls, directory, uid=account.uid, gid=account.gid)
        _write_config(data_dir, directory, tls, cert, key)
        with serve_daemon(
            lambda: _start(bindir, directory, data_dir, account, password, tls, startup_timeout),
            shutdown_signal=SHUTDOWN_SIGNAL,
            stop_timeout=30,
        ) as server:
            yield server


def find_bindir() -> Path:
    """The directory with initdb and postgres: $NL2API_TEST_PG_BINDIR, else Debian's newest
    /usr/lib/postgresql/<major>/bin, else wherever initdb is on PATH."""
    override = os.environ.get("NL2API_TEST_PG_BINDIR")
    candidates = [Path(override)] if override else []
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    initdb = require_binary("initdb", PACKAGE, candidates)
    require_binary("postgres", PACKAGE, [initdb.parent])
    return initdb.parent


def _service_account() -> _Account:
    """`postgres` when running as root (the postmaster refuses root), the current user otherwise."""
    if os.geteuid() != 0:
        return _Account(name=None, uid=os.getuid(), gid=os.getgid())
    try:
        entry = pwd.getpwnam(SERVICE_ACCOUNT)
    except KeyError:
        raise MissingDependencyError(
            f"running as root, but the '{SERVICE_ACCOUNT}' system account that PostgreSQL must run under does "
            f"not exist; the Debian package '{PACKAGE}' creates it (apt-get install {PACKAGE})"
        ) from None
    return _Account(name=SERVICE_ACCOUNT, uid=entry.pw_uid, gid=entry.pw_gid)


def _run_as(account: _Account, argv: list[str], cwd: Path) -> None:
    """Run a PostgreSQL utility as the cluster owner; raise StartupError with its output when it fails."""
    result = subprocess.run(  # noqa: S603 - fixed argv
        argv,
        cwd=cwd,
        env=child_environment(),
        user=account.name,
        group=account.gid if account.name is not None else None,
        extra_groups=[] if account.name is not None else None,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StartupError(f"{' '.join(argv)} failed with status {result.returncode}:\n{result.stdout}{result.stderr}")


def _init_cluster(bindir: Path, workdir: Path, account: _Account, password: str) -> Path:
    """initdb with SCRAM for local and host connections; the superuser password comes from a 0600 pwfile
    that is deleted right after, so it never appears on a command line or stays on disk."""
    data_dir = workdir / "data"
    pwfile = workdir / "pwfile"
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(password + "\n")
    os.chown(pwfile, account.uid, account.gid)
    try:
        _run_as(
            account,
            [
                str(bindir / "initdb"),
                f"--pgdata={data_dir}",
                f"--username={SUPERUSER}",
                f"--pwfile={pwfile}",
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            cwd=workdir,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    return data_dir


def _write_config(data_dir: Path, workdir: Path, tls: TlsBundle, cert: Path, key: Path) -> None:
    """Append the harness settings to postgresql.conf (later lines win) and replace pg_hba.conf with rules that
    demand a SCRAM password on the socket and on 127.0.0.1, with or without TLS, and nothing else."""
    socket_dir = workdir / "sock"
    socket_dir.mkdir(mode=0o700)
    os.chown(socket_dir, *_owner(data_dir))
    settings = {
        "listen_addresses": LOOPBACK,
        "unix_socket_directories": str(socket_dir),
        "unix_socket_permissions": "0700",
        "password_encryption": "scram-sha-256",
        "ssl": "on",
        "ssl_cert_file": str(cert),
        "ssl_key_file": str(key),
        "ssl_ca_file": str(tls.ca_cert),
        "ssl_min_protocol_version": "TLSv1.2",
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "50",
        "shared_buffers": "32MB",
        "logging_collector": "off",
    }
    lines = ["", "# --- nl2api functional-test harness ---"]
    lines += [f"{name} = '{_escape(value)}'" for name, value in settings.items()]
    with open(data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write("\n".join(lines) + "\n")
    (data_dir / "pg_hba.conf").write_text(
        "# nl2api functional-test harness: a SCRAM password is required for every connection.\n"
        "# TYPE  DATABASE  USER  ADDRESS       METHOD\n"
        "local   all       all                 scram-sha-256\n"
        "host    all       all   127.0.0.1/32  scram-sha-256\n",
        encoding="utf-8",
    )


def _start(
    bindir: Path,
    workdir: Path,
    data_dir: Path,
    account: _Account,
    password: str,
    tls: TlsBundle,
    startup_timeout: float,
) -> tuple[PostgresServer, ManagedProcess]:
    """Start the postmaster on a fresh port (given on the command line, so a retry needs no config edit) and
    wait until the superuser can log in."""
    port = free_port()
    log_file = workdir / "postgres.log"
    server = PostgresServer(
        host=LOOPBACK,
        port=port,
        superuser=SUPERUSER,
        password=password,
        dbname="postgres",
        ca_file=tls.ca_cert,
        socket_dir=workdir / "sock",
        data_dir=data_dir,
        log_file=log_file,
    )
    process = start_daemon(
        [bindir / "postgres", "-D", data_dir, "-p", str(port)],
        log_path=log_file,
        ready=lambda: _can_log_in(server),
        what=f"PostgreSQL on port {port}",
        timeout=startup_timeout,
        shutdown_signal=SHUTDOWN_SIGNAL,
        env=child_environment(),
        cwd=workdir,
        user=account.name,
    )
    return server, process


def _can_log_in(server: PostgresServer) -> bool:
    """The readiness probe: a full SCRAM login and a query, not just an open port."""
    with psycopg.connect(server.dsn(connect_timeout=2)) as conn:
        return conn.execute("SELECT 1").fetchone() == (1,)


def _owner(path: Path) -> tuple[int, int]:
    """uid and gid owning `path`."""
    stat = path.stat()
    return stat.st_uid, stat.st_gid


def _escape(value: str) -> str:
    """Quote a value for postgresql.conf, where a single quote is doubled."""
    return re.sub("'", "''", value)

"""PostgreSQL 17 with pgvector in a container of the local image that scripts/build-postgres-image.sh makes.

The host's PostgreSQL (postgres_server.py) has no pgvector, and the migration runner must be tried against the
server version and the extension the deployment runs. The image is built once with debootstrap and then found
in Docker's image store by its tag, which carries a digest of the recipe. One container serves the session; each
test gets a database of its own, owned by a role of its own without superuser rights (as in production), with
the container's superuser at hand for what only an administrator may do.

The container runs as the chart runs the pod: uid 10001, read-only root filesystem, a tmpfs for the socket
directory (the chart's emptyDir), the data directory on a volume, all capabilities dropped. It shares the host's
network namespace and listens on a free loopback port, so host processes and other containers reach it alike.
The superuser's password reaches the entrypoint through POSTGRES_PASSWORD_FILE, as a mounted Secret would.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

from .docker_engine import DockerEngine, build_base_image
from .errors import StartupError
from .ports import LOOPBACK, free_port
from .process import run_with_port_retry
from .workdirs import temporary_workdir

REPO_ROOT = Path(__file__).resolve().parents[3]
IMAGE_SCRIPT = REPO_ROOT / "scripts" / "build-postgres-image.sh"
IMAGE_BUILD_TIMEOUT = 1200.0
#: The uid/gid of the image's postgres account, the chart's runAsUser/runAsGroup.
APP_UID = 10001
SUPERUSER = "nl2api_admin"
BOOTSTRAP_DATABASE = "nl2api_bootstrap"
DATA_VOLUME = "/var/lib/postgresql/data"
PGDATA = f"{DATA_VOLUME}/pgdata"
SOCKET_DIR = "/var/run/postgresql"
PASSWORD_FILE_IN_CONTAINER = "/run/secrets/nl2api/postgres-password"
STARTUP_TIMEOUT = 60.0
#: Durability off: the cluster is thrown away, and fsync only slows the tests down.
SERVER_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "50"}
#: As the chart's pod securityContext and volumes have it.
POD_LIKE = [
    "--read-only",
    "--tmpfs", f"{SOCKET_DIR}:rw,nosuid,nodev,noexec,size=1m",
    "--volume", DATA_VOLUME,
    "--cap-drop", "ALL",
    "--security-opt", "no-new-privileges",
    "--network", "host",
]


def postgres_url(*, user: str, password: str, port: int, dbname: str, host: str = LOOPBACK) -> str:
    """A postgresql:// URL with user, password and database percent-encoded, as the deployment writes them."""
    credentials = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return f"postgresql://{credentials}@{host}:{port}/{quote(dbname, safe='')}?connect_timeout=5"


@dataclass(frozen=True)
class Database:
    """A database of one test and its owner, a plain login role (no superuser, no CREATEROLE)."""

    name: str
    owner: str
    owner_password: str = field(repr=False)
    server: PgvectorServer = field(repr=False)

    @property
    def owner_url(self) -> str:
        """The owner's URL: what the migration Job gets as DATABASE_URL."""
        return postgres_url(user=self.owner, password=self.owner_password, port=self.server.port, dbname=self.name)

    @property
    def admin_url(self) -> str:
        """The superuser's URL on this database: what the migration Job gets as MIGRATIONS_ADMIN_URL."""
        return self.server.url(dbname=self.name)

    def connect(self, *, as_owner: bool = False) -> psycopg.Connection[Any]:
        """An autocommit connection to this database, as the superuser unless as_owner."""
        if as_owner:
            return self.server.connect(dbname=self.name, user=self.owner, password=self.owner_password)
        return self.server.connect(dbname=self.name)


@dataclass(frozen=True)
class PgvectorServer:
    """Where the container listens and how to log in; the password is left out of repr to stay out of logs."""

    image: str
    container: str
    host: str
    port: int
    superuser: str
    password: str = field(repr=False)
    image_seconds: float
    engine: DockerEngine = field(repr=False)

    def url(self, *, dbname: str = BOOTSTRAP_DATABASE, user: str | None = None, password: str | None = None) -> str:
        """A URL for the superuser (or `user`) on `dbname`."""
        return postgres_url(
            user=user or self.superuser,
            password=self.password if password is None else password,
            port=self.port,
            dbname=dbname,
            host=self.host,
        )

    def connect(
        self, *, dbname: str = BOOTSTRAP_DATABASE, user: str | None = None, password: str | None = None
    ) -> psycopg.Connection[Any]:
        """An autocommit connection; every parameter explicit, so no PG* variable or ~/.pgpass leaks in."""
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=user or self.superuser,
            password=self.password if password is None else password,
            dbname=dbname,
            sslmode="disable",
            connect_timeout=5,
            passfile=os.devnull,
            autocommit=True,
        )

    def create_database(self, label: str) -> Database:
        """A new database owned by a new login role, both named after `label` plus a random suffix."""
        suffix = secrets.token_hex(4)
        name, owner = f"{label}_{suffix}", f"{label}_owner_{suffix}"
        password = secrets.token_urlsafe(18)
        with self.connect() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                    sql.Identifier(owner), sql.Literal(password)
                )
            )
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner)))
        return Database(name=name, owner=owner, owner_password=password, server=self)

    def drop_database(self, database: Database) -> None:
        """Drop a database from create_database() and its owner, whatever sessions are still open on it."""
        with self.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database.name)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(database.owner)))

    @contextlib.contextmanager
    def temporary_database(self, label: str) -> Iterator[Database]:
        """create_database(label) for the block, dropped with its owner when the block ends."""
        database = self.create_database(label)
        try:
            yield database
        finally:
            self.drop_database(database)

    def docker_exec(self, *command: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run a command inside the server's container (as its user, 10001)."""
        return self.engine.cli.run("exec", self.container, *command, check=check)

    def logs(self) -> str:
        """Everything the container wrote (entrypoint, initdb and server log)."""
        result = self.engine.cli.run("logs", self.container, check=False)
        return result.stdout + result.stderr


def build_postgres_image(engine: DockerEngine) -> tuple[str, float]:
    """The image's tag (built now unless cached) and the seconds that took; one build at a time per machine."""
    started = time.monotonic()
    with _exclusive(Path(tempfile.gettempdir()) / f"nl2api-harness-postgres-image-{os.geteuid()}.lock"):
        tag = build_base_image(engine.cli, IMAGE_SCRIPT, timeout=IMAGE_BUILD_TIMEOUT)
    return tag, time.monotonic() - started


@contextlib.contextmanager
def run_pgvector(engine: DockerEngine, *, startup_timeout: float = STARTUP_TIMEOUT) -> Iterator[PgvectorServer]:
    """Build (or find) the image, start the session's container, wait until the superuser can log in; the
    container and its data volume are always removed afterwards."""
    image, image_seconds = build_postgres_image(engine)
    with temporary_workdir("pgvector") as directory:
        password = secrets.token_urlsafe(24)
        password_file = _write_password_file(directory, password)
        server = run_with_port_retry(
            lambda: _start(engine, image, image_seconds, password, password_file, startup_timeout)
        )
        try:
            yield server
        finally:
            engine.cli.run("rm", "--force", "--volumes", server.container, check=False)


def _write_password_file(workdir: Path, password: str) -> Path:
    """The superuser's password in a file only uid 10001 can read, mounted like a Secret's key."""
    path = workdir / "postgres-password"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(password)
    os.chown(path, APP_UID, APP_UID)
    return path


def _start(
    engine: DockerEngine, image: str, image_seconds: float, password: str, password_file: Path, timeout: float
) -> PgvectorServer:
    """Start the container on a fresh loopback port and wait for a full SCRAM login."""
    port = free_port()
    settings = {**SERVER_SETTINGS, "port": str(port), "listen_addresses": LOOPBACK}
    arguments = [item for name, value in settings.items() for item in ("-c", f"{name}={value}")]
    container = engine.start(
        image,
        *arguments,
        env={
            "POSTGRES_USER": SUPERUSER,
            "POSTGRES_PASSWORD_FILE": PASSWORD_FILE_IN_CONTAINER,
            "POSTGRES_DB": BOOTSTRAP_DATABASE,
        },
        docker_args=[*POD_LIKE, "--volume", f"{password_file}:{PASSWORD_FILE_IN_CONTAINER}:ro"],
    )
    server = PgvectorServer(
        image=image,
        container=container,
        host=LOOPBACK,
        port=port,
        superuser=SUPERUSER,
        password=password,
        image_seconds=image_seconds,
        engine=engine,
    )
    try:
        _wait_ready(server, timeout)
    except StartupError:
        engine.cli.run("rm", "--force", "--volumes", container, check=False)
        raise
    return server


def _wait_ready(server: PgvectorServer, timeout: float) -> None:
    """Wait for a full SCRAM login and a query; a container that exited fails at once, with its log."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        state = server.engine.cli.run("inspect", "--format", "{{.State.Running}}", server.container).stdout.strip()
        if state != "true":
            raise StartupError(f"the PostgreSQL container exited before it was ready; its log:\n{server.logs()}")
        try:
            with server.connect() as conn:
                if conn.execute("SELECT 1").fetchone() == (1,):
                    return
        except psycopg.OperationalError as exc:  # refused or still starting: the normal state for a while
            last_error = exc
        if time.monotonic() >= deadline:
            raise StartupError(
                f"PostgreSQL on port {server.port} was not ready after {timeout:.0f}s (last error: {last_error!r}); "
                f"its log:\n{server.logs()}"
            )
        time.sleep(0.2)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """An exclusive flock on `path` for the block: concurrent xdist workers would each debootstrap the image."""
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

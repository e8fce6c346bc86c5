"""The PostgreSQL fixture behaves like the production database: SCRAM passwords only, TLS with verify-full."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from support.postgres_server import PostgresServer
from support.tls import temporary_test_ca


@pytest.fixture
def app_role(postgres_server: PostgresServer) -> Iterator[tuple[str, str]]:
    """A login role created at runtime (as the deploy will), dropped afterwards."""
    name = f"app_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    with postgres_server.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name), sql.Literal(password)))
    try:
        yield name, password
    finally:
        with postgres_server.connect() as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_superuser_logs_in_over_plain_tcp(postgres_server: PostgresServer) -> None:
    with postgres_server.connect(sslmode="disable") as conn:
        row = conn.execute(
            "SELECT ssl, current_user FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) "
            "WHERE pid = pg_backend_pid()"
        ).fetchone()
    assert row == (False, postgres_server.superuser)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_verify_full_tls_against_the_test_ca(postgres_server: PostgresServer, host: str) -> None:
    with postgres_server.connect(sslmode="verify-full", host=host) as conn:
        row = conn.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
        assert conn.pgconn.ssl_in_use
    assert row is not None
    ssl, version = row
    assert ssl is True
    assert version in ("TLSv1.2", "TLSv1.3")


def test_verify_full_rejects_a_foreign_ca(postgres_server: PostgresServer) -> None:
    with temporary_test_ca() as foreign:
        dsn = postgres_server.dsn(sslmode="verify-full", sslrootcert=str(foreign.ca_cert))
        with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
            psycopg.connect(dsn).close()


def test_wrong_password_is_refused(postgres_server: PostgresServer) -> None:
    dsn = postgres_server.dsn(password=postgres_server.password + "x")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(dsn).close()


@pytest.mark.parametrize("via", ["tcp", "unix-socket"])
def test_a_password_is_required(postgres_server: PostgresServer, via: str) -> None:
    host = str(postgres_server.socket_dir) if via == "unix-socket" else postgres_server.host
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(postgres_server.dsn(password="", host=host)).close()


def test_unix_socket_accepts_the_password(postgres_server: PostgresServer) -> None:
    with postgres_server.connect(host=str(postgres_server.socket_dir)) as conn:
        assert conn.execute("SELECT inet_server_addr() IS NULL").fetchone() == (True,)


def test_every_hba_rule_demands_scram(postgres_server: PostgresServer) -> None:
    with postgres_server.connect() as conn:
        methods = conn.execute("SELECT DISTINCT auth_method FROM pg_hba_file_rules").fetchall()
        assert conn.execute("SHOW password_encryption").fetchone() == ("scram-sha-256",)
    assert methods == [("scram-sha-256",)]


def test_passwords_are_stored_as_scram_verifiers(postgres_server: PostgresServer, app_role: tuple[str, str]) -> None:
    name = app_role[0]
    with postgres_server.connect() as conn:
        rows = dict(
            conn.execute(
                "SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY(%s)",
                [[name, postgres_server.superuser]],
            ).fetchall()
        )
    assert set(rows) == {name, postgres_server.superuser}
    for role, verifier in rows.items():
        assert verifier.startswith("SCRAM-SHA-256$4096:"), role


def test_runtime_role_logs_in_with_verify_full(postgres_server: PostgresServer, app_role: tuple[str, str]) -> None:
    name, password = app_role
    with postgres_server.connect(user=name, password=password, sslmode="verify-full") as conn:
        assert conn.execute("SELECT current_user").fetchone() == (name,)


def test_postmaster_and_key_belong_to_a_non_root_account(postgres_server: PostgresServer) -> None:
    owner = postgres_server.data_dir.stat().st_uid
    postmaster_pid = int((postgres_server.data_dir / "postmaster.pid").read_text().split()[0])
    status = Path(f"/proc/{postmaster_pid}/status").read_text()
    real_uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
    key = postgres_server.data_dir.parent / "server.key"

    assert real_uid == owner
    assert owner != 0 or os.geteuid() != 0, "the postmaster must not run as root"
    assert key.stat().st_uid == owner
    assert key.stat().st_mode & 0o077 == 0

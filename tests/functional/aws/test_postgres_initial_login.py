"""nl2api.deploy.postgres `database`: the first login role gets postgres_app_initial_password when it is created,
so that the app Secret the app role seeds (app_credentials.postgres_password) can connect on the first deploy; a
later run never puts it back (the credential rotation owns the password afterwards)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from support.postgres_server import PostgresServer

from .conftest import ENTRY, run_playbook
from .test_postgres import _database_inventory

INITIAL = "Initial-login-password-42"


def run_database(inventory: Path, moto_server) -> object:
    return run_playbook(ENTRY, inventory, moto_server, "-e", "test_role=postgres", "-e", "test_entry=database")


def test_the_first_login_role_is_created_with_the_initial_password(
        postgres_server: PostgresServer, moto_server, tmp_path: Path) -> None:
    names = {"postgres_database_name": "nl2api_i", "postgres_owner_role": "nl2api_i_owner",
             "postgres_app_group_role": "nl2api_i_app", "postgres_app_login_roles": ["nl2api_i_app_a", "nl2api_i_app_b"]}
    first = run_database(_database_inventory(tmp_path / "first.yml", postgres_server, postgres_app_initial_password=INITIAL,
                                             **names), moto_server)
    assert first.rc == 0, str(first)
    assert INITIAL not in first.stdout
    with postgres_server.connect(dbname="nl2api_i", user="nl2api_i_app_a", password=INITIAL,
                                 sslmode="verify-full") as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("nl2api_i_app_a",)
    with pytest.raises(psycopg.OperationalError):
        postgres_server.connect(dbname="nl2api_i", user="nl2api_i_app_b", password=INITIAL, sslmode="verify-full")

    # The rotation has moved on (another password): a deploy with the vault's stale initial password keeps it.
    with postgres_server.connect() as conn:
        conn.execute("ALTER ROLE nl2api_i_app_a PASSWORD 'Rotated-password-43'")
    again = run_database(_database_inventory(tmp_path / "again.yml", postgres_server,
                                             postgres_app_initial_password=INITIAL, **names), moto_server)
    assert again.rc == 0 and again.changed == 0, str(again)
    with postgres_server.connect(dbname="nl2api_i", user="nl2api_i_app_a", password="Rotated-password-43",
                                 sslmode="verify-full") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)

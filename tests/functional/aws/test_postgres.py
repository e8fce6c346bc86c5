"""nl2api.deploy.postgres: the RDS instance of the shared provisioning run read back with boto3, and the `database`
entry point against a real PostgreSQL (SCRAM + TLS verify-full): database, owner, group and login roles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from support.postgres_server import PostgresServer

from .conftest import ENTRY, MASTER_PASSWORD, Provisioned, run_playbook, tags_of


def test_instance_properties(provisioned: Provisioned) -> None:
    rds = provisioned.moto.client("rds")
    db = rds.describe_db_instances(DBInstanceIdentifier="nl2api-dev")["DBInstances"][0]
    assert (db["Engine"], db["EngineVersion"], db["DBInstanceClass"]) == ("postgres", "16.4", "db.t4g.micro")
    assert db["StorageEncrypted"] is True and db["PubliclyAccessible"] is False
    assert db["MultiAZ"] is False and db["DeletionProtection"] is False  # dev
    assert db["BackupRetentionPeriod"] == 7
    assert db["PreferredBackupWindow"] == "03:00-04:00"
    assert db["PreferredMaintenanceWindow"] == "sun:05:00-sun:06:00"
    assert db["MasterUsername"] == "nl2api_admin"
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == "nl2api-dev-postgres"
    assert {s["SubnetIdentifier"] for s in db["DBSubnetGroup"]["Subnets"]} == set(
        provisioned.outputs["network"]["private_subnet_ids"])
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [
        provisioned.outputs["network"]["postgres_security_group_id"]]
    assert [g["DBParameterGroupName"] for g in db["DBParameterGroups"]] == ["nl2api-dev-postgres16"]
    tags = tags_of(db["TagList"])
    assert tags["Name"] == "nl2api-dev" and tags["nl2api.io/managed-by"] == "nl2api.deploy"
    params = rds.describe_db_parameters(DBParameterGroupName="nl2api-dev-postgres16")["Parameters"]
    assert {p["ParameterName"]: p["ParameterValue"] for p in params}["rds.force_ssl"] == "1"


def test_outputs_for_the_app_stage(provisioned: Provisioned) -> None:
    database = provisioned.outputs["app_external_database"]
    db = provisioned.moto.client("rds").describe_db_instances(DBInstanceIdentifier="nl2api-dev")["DBInstances"][0]
    assert database == {"host": db["Endpoint"]["Address"], "port": 5432, "name": "nl2api", "sslMode": "verify-full",
                        "cidrs": ["10.20.0.0/20", "10.20.16.0/20"]}
    assert MASTER_PASSWORD not in str(provisioned.outputs)


def _database_inventory(path: Path, server: PostgresServer, **extra: Any) -> Path:
    variables = {
        # Every inventory names its environment and platform; the role reads them (resource names) directly.
        "nl2api_environment": "dev",
        "nl2api_platform": "aws",
        "postgres_admin_host": server.host,
        "postgres_admin_port": server.port,
        "postgres_admin_user": server.superuser,
        "postgres_admin_password": server.password,
        "postgres_admin_ca_file": str(server.ca_file),
        "postgres_database_name": "nl2api_t",
        "postgres_owner_role": "nl2api_t_owner",
        "postgres_app_group_role": "nl2api_t_app",
        "postgres_app_login_roles": ["nl2api_t_app_a", "nl2api_t_app_b"],
        # The harness' PostgreSQL 15 has contrib (pg_trgm) but no pgvector; `vector` is created by the admin in the
        # migration tests, against PostgreSQL 17 with pgvector (tests/functional/migrations).
        "postgres_extensions": ["pg_trgm"],
        **extra,
    }
    inventory = {"all": {"children": {"nl2api_control": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": __import__("sys").executable}}}},
        "vars": variables}}
    path.write_text(yaml.safe_dump(inventory), encoding="utf-8")
    return path


def test_database_entry_point(postgres_server: PostgresServer, moto_server, tmp_path: Path) -> None:
    inventory = _database_inventory(tmp_path / "hosts.yml", postgres_server)
    first = run_playbook(ENTRY, inventory, moto_server, "-e", "test_role=postgres", "-e", "test_entry=database")
    assert first.rc == 0 and first.changed > 0, str(first)
    assert postgres_server.password not in first.stdout
    second = run_playbook(ENTRY, inventory, moto_server, "-e", "test_role=postgres", "-e", "test_entry=database")
    assert second.rc == 0 and second.changed == 0, str(second)

    with postgres_server.connect() as conn:
        rows = {r[0]: r[1:] for r in conn.execute(
            "SELECT rolname, rolcanlogin, rolsuper, rolinherit FROM pg_roles WHERE rolname LIKE 'nl2api_t%'")}
        assert rows["nl2api_t_owner"][0] is False
        assert rows["nl2api_t_app"][0] is False, "the group role is NOLOGIN"
        assert rows["nl2api_t_app_a"][0] is True and rows["nl2api_t_app_b"][0] is True
        assert not any(r[1] for r in rows.values()), "no superuser"
        owner = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'nl2api_t'").fetchone()
        assert owner == ("nl2api_t_owner",)
        members = {r[0] for r in conn.execute(
            "SELECT m.rolname FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid "
            "JOIN pg_roles m ON m.oid = a.member WHERE g.rolname = 'nl2api_t_app'")}
        assert members == {"nl2api_t_app_a", "nl2api_t_app_b"}
        owned = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datdba IN (SELECT oid FROM pg_roles WHERE rolname IN "
            "('nl2api_t_app', 'nl2api_t_app_a', 'nl2api_t_app_b'))").fetchone()
        assert owned == (0,), "the group and login roles own nothing"

    with postgres_server.connect(dbname="nl2api_t") as conn:
        extensions = {r[0] for r in conn.execute("SELECT extname FROM pg_extension")}
        assert "pg_trgm" in extensions, "the database entry point creates the schema's extensions as the admin"

    # A table the owner creates (as migrations do) is readable and writable by the group's members.
    with postgres_server.connect(dbname="nl2api_t") as conn:
        conn.execute("SET ROLE nl2api_t_owner")
        conn.execute("CREATE TABLE IF NOT EXISTS evaluations (id serial PRIMARY KEY, body text)")
        conn.execute("RESET ROLE")
        for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            assert conn.execute("SELECT has_table_privilege('nl2api_t_app_a', 'evaluations', %s)",
                                (privilege,)).fetchone() == (True,)
        assert conn.execute("SELECT has_table_privilege('nl2api_t_app_b', 'evaluations', 'TRUNCATE')"
                            ).fetchone() == (False,)
        tables_owned = conn.execute("SELECT count(*) FROM pg_tables WHERE tableowner LIKE 'nl2api_t_app%'").fetchone()
        assert tables_owned == (0,)


def test_database_entry_point_needs_tls(postgres_server: PostgresServer, moto_server, tmp_path: Path) -> None:
    inventory = _database_inventory(tmp_path / "hosts.yml", postgres_server, postgres_admin_ssl_mode="disable")
    run = run_playbook(ENTRY, inventory, moto_server, "-e", "test_role=postgres", "-e", "test_entry=database")
    assert run.rc != 0 and "postgres_admin_ssl_mode" in run.stdout, str(run)


@pytest.mark.parametrize("password", [MASTER_PASSWORD])
def test_master_password_never_printed(provisioned: Provisioned, password: str) -> None:
    assert password not in provisioned.first.stdout and password not in provisioned.second.stdout

"""The migration runner (docker/migrations/nl2api-migrate) against PostgreSQL 17 + pgvector, and the image's
entrypoint (docker/postgres/entrypoint.sh) as the chart runs it.

The runner is run for real: with the host's psql (PostgreSQL 15 client, /usr/bin/psql) against the container,
and once inside the image itself with its psql 17, as the migrations image does. Each test writes its own small
set of SQL files, shaped like the application's: an extension only a superuser may create (vector), a trusted
one with an operator class (pg_trgm), an index built CONCURRENTLY, and a file that fails.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from support.pgvector_server import (
    APP_UID, BOOTSTRAP_DATABASE, PGDATA, SUPERUSER, Database, PgvectorServer, postgres_url,
)
from support.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[3]
RUNNER = REPO_ROOT / "docker" / "migrations" / "nl2api-migrate"
#: The host's client: the runner must work with any psql >= 15, not only the image's.
HOST_PATH = "/usr/bin:/bin"
RUN_TIMEOUT = 60

VECTOR = """\
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE documents (id bigserial PRIMARY KEY, title text NOT NULL, embedding vector(3));
"""
TRIGRAM = """\
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX documents_title_trgm ON documents USING gin (title gin_trgm_ops);
"""
CONCURRENT_INDEX = """\
CREATE INDEX CONCURRENTLY documents_embedding ON documents USING hnsw (embedding vector_l2_ops);
"""
FAILING = """\
CREATE TABLE half_done (id int);
SELECT no_such_column FROM documents;
"""
THREE_FILES = {"001_vector.sql": VECTOR, "002_trigram.sql": TRIGRAM, "003_concurrent_index.sql": CONCURRENT_INDEX}


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    """An empty migrations directory that uid 10001 can read too (tmp_path itself is 0700 root)."""
    directory = tmp_path / "migrations"
    directory.mkdir()
    directory.chmod(0o755)
    return directory


@pytest.fixture(scope="module")
def untouched_database(pgvector_server: PgvectorServer) -> Iterator[Database]:
    """One database for the tests whose runs must fail before they change anything (they check that)."""
    with pgvector_server.temporary_database("untouched") as created:
        yield created


def write(directory: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
        (directory / name).chmod(0o644)


def migrate(
    migrations: Path,
    database_url: str | None,
    admin_url: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the runner with the host's psql and nothing from this machine's PG* environment."""
    env = {"PATH": HOST_PATH, "HOME": str(migrations.parent), "MIGRATIONS_DIR": str(migrations), **(extra_env or {})}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    if admin_url is not None:
        env["MIGRATIONS_ADMIN_URL"] = admin_url
    return subprocess.run(  # noqa: S603 - fixed script
        ["sh", str(RUNNER)], env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )


def records(database: Database) -> list[tuple[str, str]]:
    with database.connect() as conn:
        rows = conn.execute("SELECT name, sha256 FROM nl2api_deploy_migrations ORDER BY applied_at, name").fetchall()
    return list(rows)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def catalog_state(database: Database) -> dict[str, Any]:
    """Everything a migration run could change: relations (with their storage), indexes and their validity,
    extensions, and the migration records down to the transaction that wrote each row."""
    queries = {
        "relations": """
            SELECT c.oid::bigint, n.nspname, c.relname, c.relkind, c.relfilenode::bigint
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
             ORDER BY 1""",
        "indexes": "SELECT indexrelid::regclass::text, indisvalid, indisready FROM pg_index "
                   "WHERE indrelid = 'documents'::regclass ORDER BY 1",
        "extensions": "SELECT extname, extversion, extowner::regrole::text FROM pg_extension ORDER BY 1",
        "records": "SELECT name, sha256, applied_at::text, xmin::text FROM nl2api_deploy_migrations ORDER BY name",
    }
    with database.connect() as conn:
        return {key: conn.execute(query).fetchall() for key, query in queries.items()}


def relation_exists(database: Database, name: str) -> bool:
    with database.connect() as conn:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
    return bool(row and row[0])


def extensions(database: Database) -> set[str]:
    with database.connect() as conn:
        return {name for (name,) in conn.execute("SELECT extname FROM pg_extension").fetchall()}


def test_first_run_applies_in_order_and_second_run_changes_nothing(database: Database, migrations: Path) -> None:
    write(migrations, THREE_FILES)

    first = migrate(migrations, database.owner_url, database.admin_url)

    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        f"nl2api-migrate: extensions vector and pg_trgm are installed in database {database.name}",
        "applied 001_vector.sql",
        "applied 002_trigram.sql",
        "applied 003_concurrent_index.sql",
        "nl2api-migrate: 3 applied, 0 skipped",
    ]
    assert first.stderr == ""
    assert records(database) == [(name, sha256_of(migrations / name)) for name in sorted(THREE_FILES)]
    state = catalog_state(database)
    assert ("documents_embedding", True, True) in state["indexes"]
    assert ("documents_title_trgm", True, True) in state["indexes"]
    assert {name for name, _schema, _version in state["extensions"]} >= {"vector", "pg_trgm"}

    second = migrate(migrations, database.owner_url, database.admin_url)

    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines()[1:] == [
        "skipped 001_vector.sql",
        "skipped 002_trigram.sql",
        "skipped 003_concurrent_index.sql",
        "nl2api-migrate: 0 applied, 3 skipped",
    ]
    assert catalog_state(database) == state
    for secret in (database.owner_password, database.server.password):
        assert secret not in first.stdout + first.stderr + second.stdout + second.stderr


def test_owner_cannot_create_vector_until_the_admin_url_has(database: Database, migrations: Path) -> None:
    write(migrations, {"001_vector.sql": VECTOR})

    refused = migrate(migrations, database.owner_url)

    assert refused.returncode == 1
    assert 'permission denied to create extension "vector"' in refused.stderr
    assert "nl2api-migrate: stopped at the SQL error above" in refused.stderr
    assert "applied" not in refused.stdout
    assert records(database) == []
    assert "vector" not in extensions(database)

    with_admin = migrate(migrations, database.owner_url, database.admin_url)

    assert with_admin.returncode == 0, with_admin.stderr
    assert "applied 001_vector.sql" in with_admin.stdout.splitlines()
    assert {"vector", "pg_trgm"} <= extensions(database)

    # From now on the owner alone can run migrations that use the extension.
    write(migrations, {"002_trigram.sql": TRIGRAM})
    owner_only = migrate(migrations, database.owner_url)
    assert owner_only.returncode == 0, owner_only.stderr
    assert owner_only.stdout.splitlines() == [
        "skipped 001_vector.sql", "applied 002_trigram.sql", "nl2api-migrate: 1 applied, 1 skipped",
    ]


def test_a_failing_file_stops_the_run_and_earlier_files_stay_recorded(database: Database, migrations: Path) -> None:
    write(migrations, {
        "001_vector.sql": VECTOR,
        "002_trigram.sql": TRIGRAM,
        "003_failing.sql": FAILING,
        "004_after.sql": "CREATE TABLE after_failure (id int);\n",
    })

    failed = migrate(migrations, database.owner_url, database.admin_url)

    assert failed.returncode == 1
    assert failed.stdout.splitlines()[1:] == ["applied 001_vector.sql", "applied 002_trigram.sql"]
    assert "psql:003_failing.sql:2: ERROR:" in failed.stderr
    assert "no_such_column" in failed.stderr
    assert [name for name, _sha in records(database)] == ["001_vector.sql", "002_trigram.sql"]
    # Outside a transaction, the statements before the error stay; the file is not recorded, so it runs again.
    assert relation_exists(database, "half_done")
    assert not relation_exists(database, "after_failure")

    write(migrations, {"003_failing.sql": "CREATE TABLE IF NOT EXISTS half_done (id int);\n"})
    fixed = migrate(migrations, database.owner_url, database.admin_url)

    assert fixed.returncode == 0, fixed.stderr
    assert fixed.stdout.splitlines()[1:] == [
        "skipped 001_vector.sql",
        "skipped 002_trigram.sql",
        "applied 003_failing.sql",
        "applied 004_after.sql",
        "nl2api-migrate: 2 applied, 2 skipped",
    ]
    assert relation_exists(database, "after_failure")


def test_a_changed_applied_file_fails_the_run_naming_it(database: Database, migrations: Path) -> None:
    write(migrations, {"001_vector.sql": VECTOR, "002_trigram.sql": TRIGRAM})
    assert migrate(migrations, database.owner_url, database.admin_url).returncode == 0
    recorded = records(database)

    write(migrations, {
        "002_trigram.sql": TRIGRAM + "-- edited after it was applied\n",
        "003_new.sql": "CREATE TABLE new_table (id int);\n",
    })
    changed = migrate(migrations, database.owner_url, database.admin_url)

    assert changed.returncode == 1
    assert "applied migrations changed since they were applied: 002_trigram.sql" in changed.stderr
    assert sha256_of(migrations / "002_trigram.sql") in changed.stderr
    assert "001_vector.sql" not in changed.stderr
    # Checked before anything runs: the new file is neither applied nor recorded.
    assert "applied 003_new.sql" not in changed.stdout
    assert not relation_exists(database, "new_table")
    assert records(database) == recorded


def test_concurrent_runs_take_turns_and_apply_each_file_once(database: Database, migrations: Path) -> None:
    write(migrations, {
        "001_vector.sql": VECTOR,
        # No IF NOT EXISTS, and slow: applied twice or side by side, one of the runs would fail. The index built
        # CONCURRENTLY waits for every older snapshot, so a run waiting for the lock must not hold one.
        "002_slow.sql": "SELECT pg_sleep(2);\nCREATE TABLE slow_done (id int);\n",
        "003_concurrent_index.sql": CONCURRENT_INDEX,
    })
    env = {
        "PATH": HOST_PATH, "HOME": str(migrations.parent), "MIGRATIONS_DIR": str(migrations),
        "DATABASE_URL": database.owner_url, "MIGRATIONS_ADMIN_URL": database.admin_url,
    }
    runs = [
        subprocess.Popen(  # noqa: S603 - fixed script
            ["sh", str(RUNNER)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _run in range(2)
    ]
    outputs = [run.communicate(timeout=RUN_TIMEOUT) for run in runs]

    assert [run.returncode for run in runs] == [0, 0], outputs
    summaries = sorted(stdout.splitlines()[-1] for stdout, _stderr in outputs)
    assert summaries == ["nl2api-migrate: 0 applied, 3 skipped", "nl2api-migrate: 3 applied, 0 skipped"]
    waited = [stdout for stdout, _stderr in outputs if "another run holds the migration lock" in stdout]
    assert len(waited) == 1, outputs
    assert [name for name, _sha in records(database)] == sorted(path.name for path in migrations.iterdir())


def test_a_run_gives_up_when_the_lock_stays_taken(database: Database, migrations: Path) -> None:
    write(migrations, {"001_table.sql": "CREATE TABLE never_created (id int);\n"})
    with database.connect() as holder:
        holder.execute("SELECT pg_advisory_lock(hashtextextended('nl2api_deploy_migrations', 0))")
        env = {"MIGRATIONS_LOCK_TIMEOUT": "1"}
        result = migrate(migrations, database.owner_url, extra_env=env)

    assert result.returncode == 1
    assert "another run held the migration lock for more than 1 seconds" in result.stderr
    assert not relation_exists(database, "never_created")


@pytest.mark.parametrize(
    "case",
    ["wrong password", "closed port", "unknown host", "URL libpq quotes", "bad percent-encoding",
     "unencoded @ in password", "password in the query", "key=value string", "admin URL"],
)
def test_no_password_reaches_the_output(untouched_database: Database, migrations: Path, case: str) -> None:
    database = untouched_database
    write(migrations, {"001_vector.sql": VECTOR})
    secret = "Pw-" + secrets.token_hex(12)
    tail = "Tail-" + secrets.token_hex(8)
    port = database.server.port
    owner, name = database.owner, database.name
    admin_url = None
    variable = "DATABASE_URL"
    urls = {
        "wrong password": postgres_url(user=owner, password=secret, port=port, dbname=name),
        "closed port": postgres_url(user=owner, password=secret, port=free_port(), dbname=name),
        "unknown host": postgres_url(user=owner, password=secret, port=port, dbname=name, host="no-such-host.invalid"),
        "URL libpq quotes": f"postgresql://{owner}:{secret}@[::1:{port}/{name}",
        "bad percent-encoding": f"postgresql://{owner}:{secret}%zz@127.0.0.1:{port}/{name}",
        "unencoded @ in password": f"postgresql://{owner}:{secret}@{tail}@127.0.0.1:{port}/{name}",
        "password in the query": f"postgresql://{owner}@127.0.0.1:{port}/{name}?password={secret}&sslmode=bogus",
        "key=value string": f"host=127.0.0.1 port={port} user={owner} password={secret} dbname={name} sslmode=bogus",
    }
    if case == "admin URL":
        database_url = database.owner_url
        admin_url = database.server.url(dbname=name, password=secret)
        variable = "MIGRATIONS_ADMIN_URL"
    else:
        database_url = urls[case]

    result = migrate(migrations, database_url, admin_url)

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert secret not in output
    assert tail not in output
    assert database.owner_password not in output
    assert f"nl2api-migrate: could not connect with {variable}" in result.stderr
    assert records_table_absent(database)


def records_table_absent(database: Database) -> bool:
    return not relation_exists(database, "nl2api_deploy_migrations")


def test_configuration_errors_are_named(database: Database, migrations: Path) -> None:
    missing_url = migrate(migrations, None)
    assert missing_url.returncode == 2
    assert "nl2api-migrate: DATABASE_URL is not set" in missing_url.stderr

    no_files = migrate(migrations, database.owner_url)
    assert no_files.returncode == 2
    assert f"nl2api-migrate: no *.sql files in {migrations}" in no_files.stderr

    write(migrations, {"001 bad name.sql": "SELECT 1;\n"})
    bad_name = migrate(migrations, database.owner_url)
    assert bad_name.returncode == 2
    assert "migration file name '001 bad name.sql'" in bad_name.stderr
    assert records_table_absent(database)


def test_runner_works_inside_the_image_as_the_migrations_base(
    pgvector_server: PgvectorServer, database: Database, migrations: Path
) -> None:
    write(migrations, THREE_FILES)
    engine = pgvector_server.engine

    result = engine.run(
        pgvector_server.image,
        env={"DATABASE_URL": database.owner_url, "MIGRATIONS_ADMIN_URL": database.admin_url},
        docker_args=[
            "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--network", "host",
            "--volume", f"{RUNNER}:/usr/local/bin/nl2api-migrate:ro",
            "--volume", f"{migrations}:/migrations:ro",
            "--entrypoint", "/usr/local/bin/nl2api-migrate",
        ],
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [
        "applied 001_vector.sql", "applied 002_trigram.sql", "applied 003_concurrent_index.sql",
        "nl2api-migrate: 3 applied, 0 skipped",
    ]
    assert records(database) == [(name, sha256_of(migrations / name)) for name in sorted(THREE_FILES)]
    version = engine.run(pgvector_server.image, "psql", "--version", docker_args=["--network", "none"])
    assert version.stdout.startswith("psql (PostgreSQL) 17.")


def test_server_runs_as_10001_on_a_read_only_root(pgvector_server: PgvectorServer) -> None:
    engine = pgvector_server.engine
    inspected = json.loads(engine.cli.run("inspect", pgvector_server.container).stdout)[0]
    assert inspected["HostConfig"]["ReadonlyRootfs"] is True
    assert inspected["Config"]["User"] == f"{APP_UID}:{APP_UID}"  # the image's default, not a --user option

    assert pgvector_server.docker_exec("stat", "-c", "%u:%g %a", PGDATA).stdout.split() == [
        f"{APP_UID}:{APP_UID}", "700",
    ]
    # The entrypoint execs the server: pid 1 is postgres itself, as 10001, with the arguments it was given.
    status = pgvector_server.docker_exec("cat", "/proc/1/status").stdout
    assert f"Uid:\t{APP_UID}\t{APP_UID}" in status
    cmdline = pgvector_server.docker_exec("cat", "/proc/1/cmdline").stdout.split("\0")
    assert cmdline[0] == "postgres"
    assert f"port={pgvector_server.port}" in cmdline
    touch = pgvector_server.docker_exec("touch", "/usr/local/probe")
    assert touch.returncode != 0
    assert "Read-only file system" in touch.stderr

    with pgvector_server.connect() as conn:
        assert conn.execute("SHOW data_directory").fetchone() == (PGDATA,)
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (SUPERUSER,)).fetchone() == (True,)
        assert conn.execute("SELECT current_database()").fetchone() == (BOOTSTRAP_DATABASE,)
        assert conn.execute("SELECT pg_encoding_to_char(encoding), datctype FROM pg_database "
                            "WHERE datname = current_database()").fetchone() == ("UTF8", "C.UTF-8")


def test_server_demands_a_scram_password_everywhere(pgvector_server: PgvectorServer) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        pgvector_server.connect(password="not-" + pgvector_server.password).close()

    with pgvector_server.connect() as conn:
        rules = conn.execute("SELECT type, database, address, auth_method, error FROM pg_hba_file_rules").fetchall()
        stored = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (SUPERUSER,)).fetchone()
    assert rules, "pg_hba.conf has no rules"
    assert {auth_method for _kind, _databases, _users, auth_method, _options in rules} == {"scram-sha-256"}
    assert ("host", ["all"], "all", "scram-sha-256", None) in rules
    assert stored is not None and stored[0].startswith("SCRAM-SHA-256$")

    # The socket inside the container asks for the password too.
    local = pgvector_server.docker_exec(
        "psql", "-w", "-p", str(pgvector_server.port), "-U", SUPERUSER, "-d", BOOTSTRAP_DATABASE, "-c", "SELECT 1"
    )
    assert local.returncode != 0
    assert "no password supplied" in local.stderr
    assert pgvector_server.password not in pgvector_server.logs()


def test_entrypoint_refuses_to_initialise_without_a_password(pgvector_server: PgvectorServer) -> None:
    result = pgvector_server.engine.run(
        pgvector_server.image,
        docker_args=["--read-only", "--tmpfs", "/var/run/postgresql", "--volume", "/var/lib/postgresql/data",
                     "--network", "none"],
        check=False,
    )

    assert result.returncode == 1
    assert "nl2api-postgres: POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE is required" in result.stderr

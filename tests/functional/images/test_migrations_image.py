"""The migrations image applies the wheel's migrations to PostgreSQL 17 + pgvector as the chart's Job does (owner's
DATABASE_URL, admin's MIGRATIONS_ADMIN_URL for `vector`), and a second run changes nothing."""

from __future__ import annotations

from pathlib import Path

from support.docker_engine import DockerEngine
from support.pgvector_server import PgvectorServer

from . import containers
from .build import ImageSet

MIGRATIONS = "src/evalkit/common/storage/postgres/migrations"


def schema(database) -> list[tuple[str, str]]:  # noqa: ANN001 - support.pgvector_server.Database
    with database.connect() as conn:
        return conn.execute(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
        ).fetchall()


def test_migrations_apply_once_and_the_second_run_changes_nothing(
    docker_engine: DockerEngine, nl2api_images: ImageSet, pgvector_server: PgvectorServer, image_source: Path
) -> None:
    files = sorted(p.name for p in (image_source / MIGRATIONS).glob("*.sql"))
    with pgvector_server.temporary_database("migrations_image") as database:
        first = containers.migrate(docker_engine, nl2api_images, database)
        assert first.returncode == 0, first.stdout + first.stderr
        assert [line.split()[-1] for line in first.stdout.splitlines() if line.startswith("applied ")] == files
        tables = schema(database)
        assert ("test_cases", "BASE TABLE") in tables and ("scorecards", "BASE TABLE") in tables
        with database.connect() as conn:
            extensions = {row[0] for row in conn.execute("SELECT extname FROM pg_extension").fetchall()}
            recorded = conn.execute("SELECT count(*) FROM nl2api_deploy_migrations").fetchone()[0]
        assert "vector" in extensions
        assert recorded == len(files)

        second = containers.migrate(docker_engine, nl2api_images, database)
        assert second.returncode == 0, second.stdout + second.stderr
        assert [line.split()[-1] for line in second.stdout.splitlines() if line.startswith("skipped ")] == files
        assert not [line for line in second.stdout.splitlines() if line.startswith("applied ")]
        assert schema(database) == tables
        for output in (first, second):
            assert database.owner_password not in output.stdout + output.stderr
            assert pgvector_server.password not in output.stdout + output.stderr

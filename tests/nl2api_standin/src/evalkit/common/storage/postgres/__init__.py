"""PostgreSQL storage; the schema is in migrations/ (shipped inside the wheel, applied by the deployment)."""

from pathlib import Path

#: Where the *.sql migrations sit inside the installed package.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

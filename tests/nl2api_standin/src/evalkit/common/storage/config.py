"""Storage settings: pydantic-settings, prefix EVAL_, also read from a .env file in the working directory.

Only URLs are accepted for PostgreSQL; there are no host/port/user/password settings. TLS goes in the DSN's
query string (sslmode, sslrootcert, ...), which asyncpg reads itself.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_POSTGRES_URL = "postgresql://nl2api:nl2api@localhost:5432/nl2api"


class StorageConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EVAL_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    backend: Literal["postgres", "memory", "azure"] = "postgres"
    postgres_url: str = DEFAULT_POSTGRES_URL
    postgres_pool_min: int = Field(default=2, ge=1)
    postgres_pool_max: int = Field(default=10, ge=1)
    # Declared like the real settings, and like them never passed to the pool.
    postgres_pool_command_timeout: float = 60.0
    postgres_pool_statement_cache_size: int = 100

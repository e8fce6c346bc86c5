"""Service settings: pydantic-settings, prefix ENTITY_, .env read. A CLI flag overrides only when given, except
--log-level, whose default (info) always wins over ENTITY_LOG_LEVEL, as in the real service."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class EntityServiceConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENTITY_", env_file=".env", extra="ignore")

    server_name: str = "entity-resolution-service"
    server_version: str = "1.0.0"
    transport: str = "http"
    host: str = "0.0.0.0"  # noqa: S104 - the real default
    port: int = 8080
    require_client_id: bool = False  # declared, never used: this service has no authentication
    postgres_url: str = "postgresql://nl2api:nl2api@localhost:5432/nl2api"
    postgres_pool_min: int = 2
    postgres_pool_max: int = 10
    redis_enabled: bool = False
    redis_url: str = "redis://localhost:6379/0"
    redis_cache_ttl_seconds: int = 86400
    circuit_failure_threshold: int = 5
    circuit_recovery_seconds: float = 30.0
    timeout_seconds: float = 5.0
    retry_max_attempts: int = 3
    openfigi_enabled: bool = True  # honoured here, unlike in the MCP server
    openfigi_api_key: str | None = None
    log_level: str = "INFO"

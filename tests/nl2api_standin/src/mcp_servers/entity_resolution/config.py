"""MCP server settings: pydantic-settings, prefix ENTITY_MCP_, .env in the working directory.

The CLI passes transport, host, port, postgres_url, redis_url, redis_enabled and log_level explicitly, so the
ENTITY_MCP_TRANSPORT/_HOST/_PORT/_REDIS_ENABLED/_LOG_LEVEL variables never take effect when started with
`python -m src.mcp_servers.entity_resolution`. The telemetry and OpenFIGI-switch settings are declared and never
read, as in the real app.
"""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_POSTGRES_URL = "postgresql://nl2api:nl2api@localhost:5432/nl2api"
DEFAULT_REDIS_URL = "redis://localhost:6379/0"


class EntityServerConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENTITY_MCP_", env_file=".env", extra="ignore")

    server_name: str = "entity-resolution"
    server_version: str = "1.0.0"
    transport: Literal["stdio", "sse"] = "sse"
    host: str = "0.0.0.0"  # noqa: S104 - the real default
    port: int = 8080
    log_level: str = "INFO"
    require_client_id: bool = True

    postgres_url: str = DEFAULT_POSTGRES_URL
    postgres_pool_min: int = 2
    postgres_pool_max: int = 10

    redis_enabled: bool = True
    redis_url: str = DEFAULT_REDIS_URL
    redis_cache_ttl_seconds: int = 86400

    circuit_failure_threshold: int = 5
    circuit_recovery_seconds: float = 30.0
    timeout_seconds: float = 5.0
    retry_max_attempts: int = 3

    openfigi_api_key: str | None = None
    openfigi_enabled: bool = True  # declared, never read: OpenFIGI is always tried on a database miss

    telemetry_enabled: bool = False  # declared, never read
    telemetry_service_name: str = "entity-resolution-mcp"  # declared, never read
    telemetry_otlp_endpoint: str = "http://localhost:4317"  # declared, never read

"""Library settings, prefix NL2API_ (pydantic-settings). Only the LLM provider and its keys matter here: the
worker's LLM modes read them. Plain ANTHROPIC_API_KEY / OPENAI_API_KEY are not read, as in the real app."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class NL2APIConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NL2API_", env_file=".env", extra="ignore")

    llm_provider: Literal["claude", "openai", "azure_openai"] = "claude"
    llm_model: str = "claude-sonnet-4-20250514"
    anthropic_api_key: str | None = None
    openai_api_key: str | None = None
    postgres_url: str = "postgresql://nl2api:nl2api@localhost:5432/nl2api"
    redis_enabled: bool = False
    redis_url: str = "redis://localhost:6379/0"

    def get_llm_api_key(self) -> str | None:
        return self.anthropic_api_key if self.llm_provider == "claude" else self.openai_api_key

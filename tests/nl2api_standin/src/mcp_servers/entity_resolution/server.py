"""The entity-resolution MCP server object: database pool, (broken) cache, resolver and the MCP methods."""

from __future__ import annotations

import json
import logging
from typing import Any

from src.evalkit.common.entity_resolution import check_database
from src.evalkit.common.telemetry import get_tracer
from src.mcp_servers.entity_resolution.config import EntityServerConfig
from src.nl2api.resolution.resolver import ExternalEntityResolver

logger = logging.getLogger(__name__)
tracer = get_tracer(__name__)

PROTOCOL_VERSION = "2024-11-05"

TOOLS = [
    {
        "name": "resolve_entity",
        "description": "Resolve a company name or ticker to its instrument code",
        "inputSchema": {
            "type": "object",
            "properties": {"entity": {"type": "string"}, "entity_type": {"type": "string"}},
            "required": ["entity"],
        },
    },
    {
        "name": "resolve_entities_batch",
        "description": "Resolve up to 100 entities",
        "inputSchema": {
            "type": "object",
            "properties": {"entities": {"type": "array", "items": {"type": "string"}}},
            "required": ["entities"],
        },
    },
]


def _result(entity: str, resolved: Any) -> dict[str, Any]:
    if resolved is None:
        return {"found": False, "original": entity, "identifier": None, "confidence": 0.0,
                "entity_type": "unknown", "alternatives": [], "metadata": {}}
    return {"found": True, "original": resolved.original, "identifier": resolved.identifier,
            "confidence": resolved.confidence, "entity_type": resolved.entity_type,
            "alternatives": list(resolved.alternatives), "metadata": dict(resolved.metadata)}


class EntityResolutionMCPServer:
    def __init__(self, config: EntityServerConfig) -> None:
        self.config = config
        self.db_pool: Any = None
        self.redis_cache: Any = None
        self.resolver: ExternalEntityResolver | None = None
        self.initialized = False

    @property
    def server_info(self) -> dict[str, Any]:
        return {"name": self.config.server_name, "version": self.config.server_version,
                "protocolVersion": PROTOCOL_VERSION}

    async def initialize(self) -> None:
        """Create the pool once. A failure is only logged: the server runs on without a database and never
        tries again, so /ready stays 503 until the process is restarted."""
        if self.initialized:
            return
        with tracer.start_as_current_span("mcp.server.initialize") as span:
            try:
                import asyncpg

                self.db_pool = await asyncpg.create_pool(
                    self.config.postgres_url,
                    min_size=self.config.postgres_pool_min,
                    max_size=self.config.postgres_pool_max,
                )
                logger.info("Database pool initialized")
                span.set_attribute("database.connected", True)
            except Exception as exc:  # noqa: BLE001 - the real server swallows every pool error
                logger.warning("Failed to initialize database pool: %s", exc)
                span.set_attribute("database.connected", False)
            if self.config.redis_enabled:
                try:
                    from src.evalkit.common.cache import RedisCache

                    self.redis_cache = RedisCache(  # type: ignore[call-arg] - reproduces the real call
                        redis_url=self.config.redis_url,
                        default_ttl_seconds=self.config.redis_cache_ttl_seconds,
                        key_prefix="entity:",
                    )
                    await self.redis_cache.connect()
                except Exception as exc:  # noqa: BLE001 - as in the real server: logged, cache stays off
                    self.redis_cache = None
                    logger.warning("Failed to initialize Redis cache: %s", exc)
            self.resolver = ExternalEntityResolver(
                db_pool=self.db_pool,
                api_key=self.config.openfigi_api_key,
                timeout_seconds=self.config.timeout_seconds,
                circuit_failure_threshold=self.config.circuit_failure_threshold,
                circuit_recovery_seconds=self.config.circuit_recovery_seconds,
            )
            self.initialized = True
            logger.info("MCP Server '%s' initialized", self.config.server_name)

    async def shutdown(self) -> None:
        if self.db_pool is not None:
            await self.db_pool.close()
            self.db_pool = None
            logger.info("Database pool closed")
        self.initialized = False

    async def health(self) -> dict[str, Any]:
        database = await check_database(self.db_pool)
        circuit_open = self.resolver is not None and self.resolver.circuit_breaker.is_open
        return {"database": database, "circuit_breaker_open": circuit_open,
                "cache": {"enabled": self.redis_cache is not None}}

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        if self.resolver is None:
            raise RuntimeError("server not initialized")
        with tracer.start_as_current_span("mcp.call_tool") as span:
            span.set_attribute("tool.name", name)
            if name == "resolve_entity":
                entity = str(arguments.get("entity") or "")
                if not entity:
                    raise ValueError("entity is required")
                return _result(entity, await self.resolver.resolve_single(entity, arguments.get("entity_type")))
            if name == "resolve_entities_batch":
                entities = [str(e) for e in arguments.get("entities") or []]
                results = [_result(e, await self.resolver.resolve_single(e)) for e in entities]
                return {"results": results, "total_requested": len(entities),
                        "total_resolved": sum(1 for r in results if r["found"])}
            raise ValueError(f"unknown tool {name}")

    async def handle_message(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """One JSON-RPC 2.0 request; None for a notification (no id)."""
        with tracer.start_as_current_span("mcp.handle_message"):
            method = message.get("method")
            msg_id = message.get("id")
            params = message.get("params") or {}
            try:
                if method == "initialize":
                    result: Any = {**self.server_info, "capabilities": {"tools": {}, "resources": {}}}
                elif method == "ping":
                    result = {}
                elif method == "tools/list":
                    result = {"tools": TOOLS}
                elif method == "tools/call":
                    output = await self.call_tool(params.get("name", ""), params.get("arguments") or {})
                    result = {"content": [{"type": "text", "text": json.dumps(output)}]}
                elif method == "resources/list":
                    result = {"resources": [{"uri": "entity://health", "name": "health"}]}
                elif method == "resources/read":
                    result = {"contents": [{"uri": "entity://health", "text": json.dumps(await self.health())}]}
                elif method == "shutdown":
                    result = {}
                else:
                    if msg_id is None:
                        return None
                    return {"jsonrpc": "2.0", "id": msg_id, "error": {"code": -32601, "message": "Method not found"}}
            except ValueError as exc:
                return {"jsonrpc": "2.0", "id": msg_id, "error": {"code": -32602, "message": str(exc)}}
            if msg_id is None:
                return None
            return {"jsonrpc": "2.0", "id": msg_id, "result": result}

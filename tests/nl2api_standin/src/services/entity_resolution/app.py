"""FastAPI app of the standalone service. The pool is created in the lifespan and a failure is NOT caught:
uvicorn reports "Application startup failed" and the process exits non-zero. No X-Client-ID, no rate limit, no
/metrics, no OpenTelemetry. Found names are cached in Redis under entity:<normalised name> when Redis is on."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from src.evalkit.common.entity_resolution import (
    ResolvedEntity,
    check_database,
    normalize_entity,
    resolve_via_database,
    resolve_via_openfigi,
)
from src.evalkit.common.resilience import CircuitBreaker
from src.services.entity_resolution.config import EntityServiceConfig

logger = logging.getLogger(__name__)


class ResolveRequest(BaseModel):
    entity: str = Field(..., min_length=1, max_length=500)
    entity_type: str | None = Field(None, max_length=50)


class BatchResolveRequest(BaseModel):
    entities: list[str] = Field(..., min_length=1, max_length=100)


class Resolver:
    def __init__(self, config: EntityServiceConfig, pool: Any, redis_client: Any) -> None:
        self.config = config
        self.pool = pool
        self.redis = redis_client
        self.circuit = CircuitBreaker(config.circuit_failure_threshold, config.circuit_recovery_seconds, "openfigi")

    async def resolve(self, name: str) -> ResolvedEntity | None:
        key = f"entity:{normalize_entity(name)}"
        if self.redis is not None:
            try:
                cached = await self.redis.get(key)
                if cached:
                    return ResolvedEntity(**json.loads(cached))
            except Exception as exc:  # noqa: BLE001 - the cache is optional
                logger.warning("Redis read failed: %s", exc)
        found = await resolve_via_database(self.pool, name)
        if found is None and self.config.openfigi_enabled:
            try:
                found = await self.circuit.call(
                    lambda: resolve_via_openfigi(name, self.config.openfigi_api_key, self.config.timeout_seconds)
                )
            except Exception as exc:  # noqa: BLE001 - egress failure: unresolved
                logger.warning("OpenFIGI lookup of %r failed: %s", name, exc)
        if found is not None and self.redis is not None:
            try:
                value = {**found.__dict__, "alternatives": list(found.alternatives)}
                await self.redis.set(key, json.dumps(value), ex=self.config.redis_cache_ttl_seconds)
            except Exception as exc:  # noqa: BLE001
                logger.warning("Redis write failed: %s", exc)
        return found


def _answer(name: str, found: ResolvedEntity | None) -> dict[str, Any]:
    if found is None:
        return {"found": False, "original": name, "identifier": None, "entity_type": None, "confidence": None,
                "alternatives": [], "metadata": {}}
    return {"found": True, "original": found.original, "identifier": found.identifier,
            "entity_type": found.entity_type, "confidence": found.confidence,
            "alternatives": list(found.alternatives), "metadata": dict(found.metadata)}


def create_app(config: EntityServiceConfig) -> FastAPI:
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_application: FastAPI) -> AsyncIterator[None]:
        import asyncpg

        logger.info("Starting entity resolution service: %s", config.server_name)
        pool = await asyncpg.create_pool(
            config.postgres_url, min_size=config.postgres_pool_min, max_size=config.postgres_pool_max
        )
        redis_client = None
        if config.redis_enabled:
            try:
                import redis.asyncio as redis

                logger.info("Connecting to Redis")
                redis_client = redis.from_url(config.redis_url, decode_responses=True)
                await redis_client.ping()
            except Exception as exc:  # noqa: BLE001 - Redis is optional for this service
                logger.warning("Redis not available: %s", exc)
                redis_client = None
        state.update(pool=pool, redis=redis_client, resolver=Resolver(config, pool, redis_client))
        logger.info("Entity resolution service initialized")
        yield
        await pool.close()
        if redis_client is not None:
            await redis_client.aclose()

    app = FastAPI(title="Entity Resolution Service (stand-in)", version=config.server_version, lifespan=lifespan)

    @app.get("/health")
    async def health() -> JSONResponse:
        return JSONResponse({"status": "alive"})

    @app.get("/ready")
    async def ready() -> JSONResponse:
        database = await check_database(state.get("pool"))
        checks: dict[str, Any] = {"database": database}
        if state.get("redis") is not None:
            try:
                checks["redis"] = {"enabled": True, "connected": bool(await state["redis"].ping())}
            except Exception as exc:  # noqa: BLE001 - reported, never fatal
                checks["redis"] = {"enabled": True, "connected": False, "error": type(exc).__name__}
        else:
            checks["redis"] = {"enabled": False}
        ok = bool(database.get("connected"))
        return JSONResponse({"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503)

    @app.get("/")
    async def root() -> dict[str, Any]:
        return {"name": config.server_name, "version": config.server_version,
                "endpoints": {"health": "/health", "ready": "/ready", "resolve": "/api/resolve",
                              "batch": "/api/resolve/batch", "stats": "/api/stats"}}

    @app.post("/api/resolve")
    async def resolve(body: ResolveRequest) -> JSONResponse:
        try:
            return JSONResponse(_answer(body.entity, await state["resolver"].resolve(body.entity)))
        except Exception as exc:
            logger.exception("Error resolving entity: %s", exc)
            raise HTTPException(status_code=500, detail="An internal error occurred") from exc

    @app.post("/api/resolve/batch")
    async def resolve_batch(body: BatchResolveRequest) -> JSONResponse:
        results = [_answer(e, await state["resolver"].resolve(e)) for e in body.entities]
        return JSONResponse({"results": results, "total_requested": len(results),
                             "total_resolved": sum(1 for r in results if r["found"])})

    @app.get("/api/stats")
    async def stats() -> JSONResponse:
        return JSONResponse({"redis_enabled": state.get("redis") is not None,
                             "circuit_breaker": state["resolver"].circuit.stats})

    return app


async def run_http_server(config: EntityServiceConfig) -> None:
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(create_app(config), host=config.host, port=config.port, log_level=config.log_level.lower())
    )
    await server.serve()
    if not server.started:
        # uvicorn returns (rather than raising) after "Application startup failed"; exit like uvicorn.run() does.
        raise SystemExit(3)

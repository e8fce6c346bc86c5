"""HTTP/SSE transport: FastAPI served by uvicorn in one process.

Paths exempt from the X-Client-ID requirement and from the rate limit: /health, /ready, /, /docs,
/openapi.json. Every other path, including ones that do not exist such as /metrics, answers 401
{"error": "missing_client_id"} without the header (when ENTITY_MCP_REQUIRE_CLIENT_ID is true, the default), and
404 with it. The rate limit lives in this process: 100 requests per 60 s per client key, so N replicas allow N
times that. Bodies announced larger than 1 MiB get 413.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from src.mcp_servers.entity_resolution.config import EntityServerConfig
from src.mcp_servers.entity_resolution.server import EntityResolutionMCPServer

logger = logging.getLogger(__name__)

EXEMPT_PATHS = frozenset({"/health", "/ready", "/", "/docs", "/openapi.json"})
RATE_LIMIT_REQUESTS = 100
RATE_LIMIT_WINDOW_SECONDS = 60.0
MAX_BODY_BYTES = 1024 * 1024
SSE_PING_SECONDS = 30.0


class ResolveRequest(BaseModel):
    entity: str = Field(..., min_length=1, max_length=500)
    entity_type: str | None = Field(None, max_length=50)


class BatchResolveRequest(BaseModel):
    entities: list[str] = Field(..., min_length=1, max_length=100)


class ExtractRequest(BaseModel):
    query: str = Field(..., min_length=1, max_length=2000)


class InMemoryRateLimiter:
    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window = window_seconds
        self.hits: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        hits = self.hits[key]
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True


def _client_key(request: Request) -> str:
    client_id = (request.headers.get("X-Client-ID") or "").strip()
    if client_id:
        return f"client:{client_id}"
    forwarded = request.headers.get("X-Forwarded-For")
    if forwarded:
        return f"ip:{forwarded.split(',')[0].strip()}"
    return f"ip:{request.client.host if request.client else 'unknown'}"


def _candidate_entities(query: str) -> list[str]:
    """Runs of capitalised words, e.g. 'What is Apple Inc revenue' -> ['What', 'Apple Inc']."""
    found: list[str] = []
    current: list[str] = []
    for word in query.replace("?", " ").replace(",", " ").split():
        if word[:1].isupper():
            current.append(word)
        elif current:
            found.append(" ".join(current))
            current = []
    if current:
        found.append(" ".join(current))
    return found


def create_app(config: EntityServerConfig) -> FastAPI:
    holder: dict[str, EntityResolutionMCPServer] = {}

    @asynccontextmanager
    async def lifespan(_application: FastAPI) -> AsyncIterator[None]:
        server = EntityResolutionMCPServer(config)
        await server.initialize()
        holder["server"] = server
        yield
        logger.info("Shutting down MCP server")
        await server.shutdown()

    app = FastAPI(title="NL2API MCP Server (stand-in)", version=config.server_version, lifespan=lifespan)
    limiter = InMemoryRateLimiter(RATE_LIMIT_REQUESTS, RATE_LIMIT_WINDOW_SECONDS)

    def server() -> EntityResolutionMCPServer:
        if "server" not in holder:
            raise HTTPException(status_code=503, detail="server not initialized")
        return holder["server"]

    # Registered first, so it runs inside the client-id check below (Starlette wraps later ones around it).
    @app.middleware("http")
    async def security_middleware(request: Request, call_next: Any) -> Any:
        if request.url.path in EXEMPT_PATHS:
            return await call_next(request)
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return JSONResponse(status_code=413, content={"error": "request_too_large"})
        if not limiter.allow(_client_key(request)):
            return JSONResponse(
                status_code=429,
                content={"error": "rate_limit_exceeded", "message": "Too many requests"},
                headers={"Retry-After": str(int(RATE_LIMIT_WINDOW_SECONDS))},
            )
        return await call_next(request)

    @app.middleware("http")
    async def client_id_middleware(request: Request, call_next: Any) -> Any:
        if config.require_client_id and request.url.path not in EXEMPT_PATHS:
            if not (request.headers.get("X-Client-ID") or "").strip():
                return JSONResponse(
                    status_code=401,
                    content={"error": "missing_client_id", "message": "X-Client-ID header is required"},
                )
        return await call_next(request)

    @app.get("/health")
    async def health() -> JSONResponse:
        return JSONResponse({"status": "alive", "checks": {"process": "ok"}})

    @app.get("/ready")
    async def ready() -> JSONResponse:
        current = holder.get("server")
        if current is None or not current.initialized:
            return JSONResponse({"status": "not_ready", "checks": {"server": "not_initialized"}}, status_code=503)
        state = await current.health()
        checks = {
            "server": "ok",
            "database": "ok" if state["database"]["connected"] else "not_connected",
            "circuit_breaker": "open" if state["circuit_breaker_open"] else "closed",
            # The cache never initialises (see src/evalkit/common/cache.py), so Redis is never a readiness factor.
            "redis": "ok" if state["cache"]["enabled"] else "disabled",
        }
        ready_now = checks["database"] == "ok" and checks["circuit_breaker"] == "closed"
        return JSONResponse(
            {"status": "ready" if ready_now else "not_ready", "checks": checks}, status_code=200 if ready_now else 503
        )

    @app.get("/")
    async def root() -> dict[str, Any]:
        info = server().server_info
        return {**info, "protocol": "MCP",
                "endpoints": {"health": "/health", "ready": "/ready", "mcp": "/mcp", "sse": "/sse"}}

    @app.post("/mcp")
    async def mcp(request: Request) -> Response:
        try:
            message = await request.json()
        except ValueError:
            return JSONResponse(
                {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}}, status_code=400
            )
        if isinstance(message, list):
            answers = [a for a in [await server().handle_message(m) for m in message] if a is not None]
            return JSONResponse(answers) if answers else Response(status_code=204)
        answer = await server().handle_message(message)
        return Response(status_code=204) if answer is None else JSONResponse(answer)

    @app.get("/sse")
    async def sse(request: Request) -> StreamingResponse:
        async def events() -> AsyncIterator[str]:
            yield f"event: connected\ndata: {json.dumps(server().server_info)}\n\n"
            while not await request.is_disconnected():
                await asyncio.sleep(SSE_PING_SECONDS)
                yield "event: ping\ndata: {}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/api/resolve")
    async def resolve(body: ResolveRequest) -> JSONResponse:
        try:
            return JSONResponse(
                await server().call_tool("resolve_entity", {"entity": body.entity, "entity_type": body.entity_type})
            )
        except ValueError as exc:
            raise HTTPException(status_code=400, detail="Invalid request") from exc

    @app.post("/api/resolve/batch")
    async def resolve_batch(body: BatchResolveRequest) -> JSONResponse:
        return JSONResponse(await server().call_tool("resolve_entities_batch", {"entities": body.entities}))

    @app.post("/api/extract")
    async def extract(body: ExtractRequest) -> JSONResponse:
        candidates = _candidate_entities(body.query)
        batch = await server().call_tool("resolve_entities_batch", {"entities": candidates}) if candidates else {
            "results": []}
        resolved = {r["original"]: r["identifier"] for r in batch["results"] if r["found"]}
        return JSONResponse({"extracted_entities": candidates, "resolved": resolved,
                             "unresolved": [c for c in candidates if c not in resolved]})

    return app


async def run_sse_server(config: EntityServerConfig) -> None:
    import uvicorn

    logger.info("Starting SSE transport on %s:%d", config.host, config.port)
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), host=config.host, port=config.port, log_level=config.log_level.lower())
    )
    await server.serve()

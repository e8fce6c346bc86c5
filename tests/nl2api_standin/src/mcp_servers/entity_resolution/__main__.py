"""python -m src.mcp_servers.entity_resolution [--transport sse] [--host H] [--port P] [--postgres-url URL]
[--redis-url URL] [--redis/--no-redis] [--log-level L]

Typer CLI with the real options and defaults. Only the two URLs fall back to the environment
(ENTITY_MCP_POSTGRES_URL, ENTITY_MCP_REDIS_URL); host, port, transport, Redis switch and log level come from the
flags (or their defaults) whatever ENTITY_MCP_* says. Logs go to stderr. SIGTERM: uvicorn's graceful shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import sys

import typer

from src.mcp_servers.entity_resolution.config import DEFAULT_POSTGRES_URL, DEFAULT_REDIS_URL, EntityServerConfig

app = typer.Typer(name="entity-resolution-mcp", add_completion=False, help="Entity Resolution MCP Server (stand-in)")


@app.command()
def main(
    transport: str = typer.Option("sse", "--transport", "-t", help="stdio or sse"),
    host: str = typer.Option("0.0.0.0", "--host", "-h", help="address to bind"),  # noqa: S104
    port: int = typer.Option(8080, "--port", "-p", help="port to bind"),
    postgres_url: str = typer.Option(DEFAULT_POSTGRES_URL, "--postgres-url", envvar="ENTITY_MCP_POSTGRES_URL"),
    redis_url: str = typer.Option(DEFAULT_REDIS_URL, "--redis-url", envvar="ENTITY_MCP_REDIS_URL"),
    redis_enabled: bool = typer.Option(True, "--redis/--no-redis", help="enable the Redis cache"),
    log_level: str = typer.Option("INFO", "--log-level", "-l"),
) -> None:
    if transport not in ("stdio", "sse"):
        raise typer.BadParameter("transport must be 'stdio' or 'sse'", param_hint="--transport")
    logging.basicConfig(
        level=getattr(logging, log_level.upper()),
        format="%(asctime)s - %(name)s - %(levelname)s - %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger(__name__).info("Starting Entity Resolution MCP Server (transport=%s)", transport)
    config = EntityServerConfig(
        transport=transport,
        host=host,
        port=port,
        postgres_url=postgres_url,
        redis_url=redis_url,
        redis_enabled=redis_enabled,
        log_level=log_level,
    )
    if transport == "stdio":
        raise NotImplementedError("the stand-in implements the sse transport only")
    from src.mcp_servers.entity_resolution.transports.sse import run_sse_server

    asyncio.run(run_sse_server(config))


if __name__ == "__main__":
    app()

"""python -m src.services.entity_resolution --transport http [--host H] [--port P] [--postgres-url URL]
[--redis-url URL] [--no-redis] [--log-level debug|info|warning|error]

Settings come from ENTITY_* (see config.py); a flag overrides only when given. --transport mcp and stdio are
not implemented (NotImplementedError, exit 1). Logs go to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from src.services.entity_resolution.config import EntityServiceConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m src.services.entity_resolution")
    parser.add_argument("--transport", choices=["http", "mcp", "stdio"], default="http")
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--postgres-url", default=None)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--no-redis", action="store_true")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default="info")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> EntityServiceConfig:
    overrides: dict[str, object] = {"log_level": args.log_level.upper()}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    if args.postgres_url:
        overrides["postgres_url"] = args.postgres_url
    if args.redis_url:
        overrides["redis_url"] = args.redis_url
    if args.no_redis:
        overrides["redis_enabled"] = False
    return EntityServiceConfig(**overrides)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s - %(name)s - %(levelname)s - %(message)s",
        stream=sys.stdout,
    )
    logger = logging.getLogger(__name__)
    config = build_config(args)
    logger.info("Starting Entity Resolution Service (%s transport)", args.transport)
    try:
        if args.transport != "http":
            raise NotImplementedError(f"{args.transport} transport not yet implemented")
        from src.services.entity_resolution.app import run_http_server

        asyncio.run(run_http_server(config))
    except KeyboardInterrupt:
        logger.info("Shutting down...")
    except Exception as exc:
        logger.exception("Fatal error: %s", exc)
        sys.exit(1)


if __name__ == "__main__":
    main()

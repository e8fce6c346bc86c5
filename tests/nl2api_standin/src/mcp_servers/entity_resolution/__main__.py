"""Run the API: python -m src.mcp_servers.entity_resolution [--host HOST] [--port PORT]."""

from __future__ import annotations

import argparse
import sys

from src.common.config import DatabaseConfig, HttpConfig, RedisConfig
from src.common.lifecycle import setup_logging, stop_event_on_signals
from src.mcp_servers.entity_resolution.server import Api, serve


def main(argv: list[str] | None = None) -> int:
    defaults = HttpConfig.from_env()
    parser = argparse.ArgumentParser(prog="python -m src.mcp_servers.entity_resolution")
    parser.add_argument("--host", default=defaults.host, help="listen address (NL2API_HTTP_HOST)")
    parser.add_argument("--port", type=int, default=defaults.port, help="listen port (NL2API_HTTP_PORT)")
    args = parser.parse_args(argv)
    setup_logging()
    stop = stop_event_on_signals()
    serve(HttpConfig(args.host, args.port), Api(DatabaseConfig.from_env(), RedisConfig.from_env()), stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())

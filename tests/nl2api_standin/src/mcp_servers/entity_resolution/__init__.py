"""Entity-resolution MCP server of the stand-in (`python -m src.mcp_servers.entity_resolution`).

Importing the package imports the server, hence the resolver chain (CONTRACTS, httpx, pydantic-settings), as the
real package does: a smoke check that imports `...entity_resolution.__main__` fails on any missing piece.
"""

from src.mcp_servers.entity_resolution.config import EntityServerConfig
from src.mcp_servers.entity_resolution.server import EntityResolutionMCPServer

__all__ = ["EntityResolutionMCPServer", "EntityServerConfig"]

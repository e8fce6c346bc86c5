"""Entity resolution API (stand-in): `python -m src.mcp_servers.entity_resolution`."""

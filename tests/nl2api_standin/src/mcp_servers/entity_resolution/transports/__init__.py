"""Transports of the MCP server; the stand-in implements the HTTP/SSE one (stdio would need the `mcp` SDK)."""

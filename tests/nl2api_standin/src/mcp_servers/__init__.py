"""MCP servers; the stand-in has the entity-resolution one only."""

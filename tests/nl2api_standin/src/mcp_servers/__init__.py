"""MCP servers; only entity_resolution exists in the stand-in."""

"""nl2api library part of the stand-in: settings, entity resolver and evaluation pack.

Importing it pulls in what the real package pulls in on import: pydantic-settings (config), httpx (the resolver's
HTTP client) and the root-level CONTRACTS module (the evaluation pack). The MCP server and the worker import it,
so an image lacking any of the three fails at start.
"""

from src.nl2api.config import NL2APIConfig
from src.nl2api.evaluation import NL2APIPack
from src.nl2api.resolution import ExternalEntityResolver

__all__ = ["ExternalEntityResolver", "NL2APIConfig", "NL2APIPack"]

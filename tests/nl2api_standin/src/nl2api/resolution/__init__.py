"""Entity resolution for the library (used by the MCP server and the resolver-mode worker)."""

from src.nl2api.resolution.http_client import OpenFigiClient
from src.nl2api.resolution.resolver import ExternalEntityResolver

__all__ = ["ExternalEntityResolver", "OpenFigiClient"]

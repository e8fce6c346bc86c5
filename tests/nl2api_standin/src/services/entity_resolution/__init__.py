"""Standalone entity-resolution HTTP service (`python -m src.services.entity_resolution --transport http`).

It imports src.evalkit.common.* (so it needs the main wheel) but never CONTRACTS, like the real service.
"""

from src.services.entity_resolution.config import EntityServiceConfig

__all__ = ["EntityServiceConfig"]

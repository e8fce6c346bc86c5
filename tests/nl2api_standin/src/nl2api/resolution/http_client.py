"""OpenFIGI over httpx. httpx is imported at module level, as in the real library, and no extra of the real
pyproject declares it: it is present only when something else (mcp 1.x) drags it in."""

from __future__ import annotations

import logging

import httpx

from src.evalkit.common.entity_resolution import OPENFIGI_URL, ResolvedEntity

logger = logging.getLogger(__name__)


class OpenFigiClient:
    def __init__(self, api_key: str | None = None, timeout_seconds: float = 5.0) -> None:
        self.api_key = api_key
        self.timeout_seconds = timeout_seconds

    async def lookup(self, name: str) -> ResolvedEntity | None:
        headers = {"X-OPENFIGI-APIKEY": self.api_key} if self.api_key else {}
        async with httpx.AsyncClient(timeout=self.timeout_seconds) as client:
            response = await client.post(
                OPENFIGI_URL, json=[{"idType": "TICKER", "idValue": name.strip().upper()}], headers=headers
            )
            response.raise_for_status()
            answer = response.json()
        hits = answer[0].get("data") if answer and isinstance(answer[0], dict) else None
        if not hits or not hits[0].get("ticker"):
            return None
        return ResolvedEntity(original=name, identifier=hits[0]["ticker"], confidence=0.7, metadata={"source": "openfigi"})

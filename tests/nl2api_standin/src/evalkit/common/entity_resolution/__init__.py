"""Entity lookup shared by both entity-resolution processes and the worker's resolver mode.

First the `entities` table (exact match on the normalised name, display name or ticker, then a pg_trgm
similarity match, so a database without the pg_trgm extension fails here), then, on a miss, OpenFIGI over the
internet (https://api.openfigi.com/v3/mapping), as the real app does on every database miss.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

OPENFIGI_URL = "https://api.openfigi.com/v3/mapping"
#: Below this pg_trgm similarity a fuzzy match is not taken.
FUZZY_THRESHOLD = 0.45
_LEGAL_SUFFIXES = re.compile(r"\b(inc|incorporated|corp|corporation|co|plc|ltd|limited|llc|ag|sa|nv)\.?$")


@dataclass(frozen=True)
class ResolvedEntity:
    original: str
    identifier: str
    entity_type: str = "company"
    confidence: float = 1.0
    alternatives: tuple[str, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)


def normalize_entity(name: str) -> str:
    cleaned = re.sub(r"[^\w\s&.-]", " ", name.strip().lower())
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    return _LEGAL_SUFFIXES.sub("", cleaned).strip(" .")


async def resolve_via_database(pool: Any, name: str) -> ResolvedEntity | None:
    """Look `name` up in `entities`; asyncpg errors (no table, no pg_trgm) propagate to the caller."""
    key = normalize_entity(name)
    if not key:
        return None
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT primary_name, ticker, ric, entity_type FROM entities"
            " WHERE lower(primary_name) = $1 OR lower(display_name) = $1 OR lower(ticker) = $1"
            " OR lower(primary_name) = $2 ORDER BY ric IS NULL LIMIT 1",
            key,
            name.strip().lower(),
        )
        confidence = 1.0
        if row is None:
            row = await conn.fetchrow(
                "SELECT primary_name, ticker, ric, entity_type, similarity(lower(primary_name), $1) AS score"
                " FROM entities WHERE lower(primary_name) % $1 ORDER BY score DESC LIMIT 1",
                key,
            )
            if row is None or row["score"] < FUZZY_THRESHOLD:
                return None
            confidence = round(float(row["score"]), 3)
    identifier = row["ric"] or row["ticker"]
    if not identifier:
        return None
    metadata = {"source": "database", "name": row["primary_name"]}
    if row["ticker"]:
        metadata["ticker"] = row["ticker"]
    return ResolvedEntity(
        original=name, identifier=identifier, entity_type=row["entity_type"], confidence=confidence, metadata=metadata
    )


def _openfigi_request(name: str, api_key: str | None, timeout: float) -> ResolvedEntity | None:
    body = json.dumps([{"idType": "TICKER", "idValue": name.strip().upper()}]).encode()
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["X-OPENFIGI-APIKEY"] = api_key
    request = urllib.request.Request(OPENFIGI_URL, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - fixed https URL
        answer = json.loads(response.read().decode())
    hits = answer[0].get("data") if answer and isinstance(answer[0], dict) else None
    if not hits:
        return None
    ticker = hits[0].get("ticker")
    if not ticker:
        return None
    return ResolvedEntity(original=name, identifier=ticker, confidence=0.7, metadata={"source": "openfigi"})


async def resolve_via_openfigi(name: str, api_key: str | None = None, timeout: float = 5.0) -> ResolvedEntity | None:
    """Ask OpenFIGI (stdlib HTTP in a thread); network errors raise, so a circuit breaker can count them."""
    return await asyncio.to_thread(_openfigi_request, name, api_key, timeout)


async def check_database(pool: Any) -> dict[str, Any]:
    """SELECT 1 through the pool: {"connected": bool, ...}."""
    if pool is None:
        return {"connected": False, "error": "pool not initialized"}
    try:
        async with pool.acquire(timeout=3) as conn:
            await conn.fetchval("SELECT 1", timeout=3)
    except Exception as exc:  # noqa: BLE001 - any failure means "not connected"
        return {"connected": False, "error": type(exc).__name__}
    return {"connected": True}


__all__ = [
    "OPENFIGI_URL",
    "ResolvedEntity",
    "check_database",
    "normalize_entity",
    "resolve_via_database",
    "resolve_via_openfigi",
]

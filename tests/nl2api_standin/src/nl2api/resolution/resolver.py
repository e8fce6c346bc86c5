"""The resolver the MCP server and the worker use: the `entities` table first, OpenFIGI on every miss (there is
no switch to turn OpenFIGI off here), behind a circuit breaker."""

from __future__ import annotations

import logging
from typing import Any

from CONTRACTS import TestCase
from src.evalkit.common.entity_resolution import ResolvedEntity, resolve_via_database
from src.evalkit.common.resilience import CircuitBreaker, CircuitOpenError
from src.evalkit.common.telemetry import get_tracer
from src.nl2api.resolution.http_client import OpenFigiClient

logger = logging.getLogger(__name__)
tracer = get_tracer(__name__)


class ExternalEntityResolver:
    def __init__(
        self,
        db_pool: Any = None,
        api_key: str | None = None,
        timeout_seconds: float = 5.0,
        circuit_failure_threshold: int = 5,
        circuit_recovery_seconds: float = 30.0,
    ) -> None:
        self.db_pool = db_pool
        self.openfigi = OpenFigiClient(api_key=api_key, timeout_seconds=timeout_seconds)
        self.circuit_breaker = CircuitBreaker(circuit_failure_threshold, circuit_recovery_seconds, name="openfigi")

    @property
    def circuit_breaker_stats(self) -> dict[str, Any]:
        return self.circuit_breaker.stats

    async def resolve_single(self, name: str, entity_type: str | None = None) -> ResolvedEntity | None:
        with tracer.start_as_current_span("entity.resolve_single") as span:
            span.set_attribute("entity.name", name[:50])
            if self.db_pool is not None:
                try:
                    found = await resolve_via_database(self.db_pool, name)
                except Exception as exc:  # noqa: BLE001 - a broken lookup is logged and OpenFIGI is tried
                    logger.warning("Database lookup of %r failed: %s", name, exc)
                    found = None
                if found is not None:
                    return found
            try:
                return await self.circuit_breaker.call(lambda: self.openfigi.lookup(name))
            except CircuitOpenError:
                logger.warning("OpenFIGI circuit open; %r not resolved", name)
            except Exception as exc:  # noqa: BLE001 - egress failures only make the entity unresolved
                logger.warning("OpenFIGI lookup of %r failed: %s", name, exc)
            return None

    async def resolve_test_case(self, test_case: TestCase) -> ResolvedEntity | None:
        """The entity a test case asks about: expected_response.input_entity, else the whole query."""
        return await self.resolve_single(test_case.entity_name or test_case.nl_query)

"""Telemetry helpers (see setup.py for what is and is not honoured)."""

from src.evalkit.common.telemetry.setup import (
    OTEL_AVAILABLE,
    get_meter,
    get_tracer,
    init_telemetry,
    resource_attributes,
    shutdown_telemetry,
)

__all__ = ["OTEL_AVAILABLE", "get_meter", "get_tracer", "init_telemetry", "resource_attributes", "shutdown_telemetry"]

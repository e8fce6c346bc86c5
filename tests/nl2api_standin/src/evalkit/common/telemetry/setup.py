"""OpenTelemetry set-up with the real app's quirks.

- On whenever the OpenTelemetry SDK and the OTLP gRPC exporters import; otherwise every tracer and meter is a
  no-op. There is no switch of the app's own (OTEL_SDK_DISABLED=true still works, inside the SDK).
- Initialised lazily by the first get_tracer()/get_meter(), with service.name "nl2api", unless init_telemetry()
  ran first with another name (the batch CLI uses "<pack>-evaluation").
- Export is OTLP over gRPC only, to OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4317), with
  insecure=True passed explicitly; the SDK itself still uses TLS for an https:// endpoint. No header or
  certificate settings are passed, and OTEL_EXPORTER_OTLP_PROTOCOL / OTEL_*_EXPORTER have no effect.
- The resource always carries service.name, service.version=0.1.0 and deployment.environment=$NL2API_ENV
  (default development); those override OTEL_SERVICE_NAME and the same keys in OTEL_RESOURCE_ATTRIBUTES, whose
  other keys are kept.
- Metrics are pushed every 10 s with the SDK's default (cumulative) temporality.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

logger = logging.getLogger(__name__)

SERVICE_VERSION = "0.1.0"
DEFAULT_SERVICE_NAME = "nl2api"
DEFAULT_ENDPOINT = "http://localhost:4317"
METRIC_EXPORT_INTERVAL_MS = 10_000

try:
    from opentelemetry import metrics as otel_metrics
    from opentelemetry import trace as otel_trace
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    OTEL_AVAILABLE = True
except ImportError:  # the telemetry packages are optional, as in the real app
    OTEL_AVAILABLE = False


class _NoOpSpan:
    def set_attribute(self, key: str, value: Any) -> None:
        pass

    def record_exception(self, exception: BaseException) -> None:
        pass


class _NoOpTracer:
    @contextmanager
    def start_as_current_span(self, name: str, **_: Any) -> Iterator[_NoOpSpan]:
        yield _NoOpSpan()


class _NoOpInstrument:
    def add(self, amount: float, attributes: dict[str, Any] | None = None) -> None:
        pass

    def record(self, amount: float, attributes: dict[str, Any] | None = None) -> None:
        pass


class _NoOpMeter:
    def create_counter(self, name: str, **_: Any) -> _NoOpInstrument:
        return _NoOpInstrument()

    def create_up_down_counter(self, name: str, **_: Any) -> _NoOpInstrument:
        return _NoOpInstrument()

    def create_histogram(self, name: str, **_: Any) -> _NoOpInstrument:
        return _NoOpInstrument()


_lock = threading.Lock()
_state: dict[str, Any] = {"initialised": False, "tracer_provider": None, "meter_provider": None}


def init_telemetry(service_name: str = DEFAULT_SERVICE_NAME) -> bool:
    """Install the global tracer and meter providers once; True when OpenTelemetry is active."""
    with _lock:
        if _state["initialised"]:
            return _state["tracer_provider"] is not None
        _state["initialised"] = True
        if not OTEL_AVAILABLE:
            logger.info("OpenTelemetry packages not installed; telemetry is a no-op")
            return False
        endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", DEFAULT_ENDPOINT)
        resource = Resource.create(
            {
                "service.name": service_name,
                "service.version": SERVICE_VERSION,
                "deployment.environment": os.environ.get("NL2API_ENV", "development"),
            }
        )
        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True)))
        otel_trace.set_tracer_provider(tracer_provider)
        reader = PeriodicExportingMetricReader(
            OTLPMetricExporter(endpoint=endpoint, insecure=True),
            export_interval_millis=METRIC_EXPORT_INTERVAL_MS,
        )
        meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
        otel_metrics.set_meter_provider(meter_provider)
        _state["tracer_provider"] = tracer_provider
        _state["meter_provider"] = meter_provider
        logger.info("Telemetry exporting over OTLP/gRPC to %s as service %s", endpoint, service_name)
        return True


def get_tracer(name: str) -> Any:
    if not init_telemetry():
        return _NoOpTracer()
    return otel_trace.get_tracer(name)


def get_meter(name: str) -> Any:
    if not init_telemetry():
        return _NoOpMeter()
    return otel_metrics.get_meter(name)


def resource_attributes() -> dict[str, Any]:
    """The attributes the active providers export with ({} when telemetry is off); for tests."""
    provider = _state["tracer_provider"]
    return dict(provider.resource.attributes) if provider is not None else {}


def shutdown_telemetry() -> None:
    """Flush and stop the providers (blocks while the exporter retries an unreachable collector)."""
    for key in ("tracer_provider", "meter_provider"):
        provider = _state.get(key)
        if provider is not None:
            try:
                provider.shutdown()
            except Exception as exc:  # noqa: BLE001 - shutting down; nothing left to do with the error
                logger.debug("telemetry shutdown: %s", exc)
            _state[key] = None

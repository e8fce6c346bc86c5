"""HTTP API: /health (the process answers), /ready (PostgreSQL and Redis answer), /metrics (Prometheus text)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from src.common.config import DatabaseConfig, HttpConfig, RedisConfig, version

log = logging.getLogger(__name__)
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """Counters behind /metrics; the handler threads update them concurrently."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, int]] = Counter()
        self.checks: Counter[tuple[str, str]] = Counter()
        self.started = time.time()

    def count_request(self, path: str, code: int) -> None:
        with self._lock:
            self.requests[(path, code)] += 1

    def count_check(self, dependency: str, ok: bool) -> None:
        with self._lock:
            self.checks[(dependency, "ok" if ok else "error")] += 1

    def render(self, ready: bool | None) -> str:
        with self._lock:
            requests = sorted(self.requests.items())
            checks = sorted(self.checks.items())
        lines = [
            "# HELP nl2api_build_info Version of the running nl2api build.",
            "# TYPE nl2api_build_info gauge",
            f'nl2api_build_info{{version="{version()}"}} 1',
            "# HELP nl2api_process_start_time_seconds Start time of the process since the Unix epoch.",
            "# TYPE nl2api_process_start_time_seconds gauge",
            f"nl2api_process_start_time_seconds {self.started:.3f}",
            "# HELP nl2api_http_requests_total HTTP requests served, by path and status code.",
            "# TYPE nl2api_http_requests_total counter",
        ]
        lines += [f'nl2api_http_requests_total{{path="{p}",code="{c}"}} {n}' for (p, c), n in requests]
        lines += [
            "# HELP nl2api_dependency_checks_total Readiness checks of PostgreSQL and Redis, by result.",
            "# TYPE nl2api_dependency_checks_total counter",
        ]
        lines += [f'nl2api_dependency_checks_total{{dependency="{d}",result="{r}"}} {n}' for (d, r), n in checks]
        if ready is not None:
            lines += [
                "# HELP nl2api_ready Whether the last readiness check passed.",
                "# TYPE nl2api_ready gauge",
                f"nl2api_ready {int(ready)}",
            ]
        return "\n".join(lines) + "\n"


class Api:
    """State the request handlers share: configuration, metrics, and whether the server is draining."""

    def __init__(self, database: DatabaseConfig, cache: RedisConfig) -> None:
        self.database = database
        self.cache = cache
        self.metrics = Metrics()
        self.draining = threading.Event()
        self.last_ready: bool | None = None

    def _check(self, name: str, probe: Callable[[], object]) -> dict[str, str]:
        try:
            probe()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; the type is the useful part
            self.metrics.count_check(name, False)
            log.warning("readiness: %s unreachable: %s", name, exc)
            return {"status": "error", "error": type(exc).__name__}
        self.metrics.count_check(name, True)
        return {"status": "ok"}

    def _ping_postgres(self) -> None:
        with self.database.connect(timeout=3) as conn:
            conn.execute("SELECT 1").fetchone()

    def _ping_redis(self) -> None:
        client = self.cache.client(socket_timeout=3)
        try:
            if not client.ping():
                raise ConnectionError("PING did not answer PONG")
        finally:
            client.close()

    def readiness(self) -> tuple[bool, dict[str, object]]:
        if self.draining.is_set():
            return False, {"status": "draining"}
        checks = {"postgres": self._check("postgres", self._ping_postgres), "redis": self._check("redis", self._ping_redis)}
        ready = all(c["status"] == "ok" for c in checks.values())
        self.last_ready = ready
        return ready, {"status": "ok" if ready else "unavailable", "checks": checks}


def make_handler(api: Api) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "nl2api-standin"
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = self.path.split("?", 1)[0]
            if path == "/health":
                self._send_json(HTTPStatus.OK, {"status": "ok", "version": version()})
            elif path == "/ready":
                ready, body = api.readiness()
                self._send_json(HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE, body)
            elif path == "/metrics":
                self._send(HTTPStatus.OK, api.metrics.render(api.last_ready).encode(), PROMETHEUS_CONTENT_TYPE)
            else:
                self._send_json(HTTPStatus.NOT_FOUND, {"status": "not found"})

        def _send_json(self, status: HTTPStatus, body: dict[str, object]) -> None:
            self._send(status, json.dumps(body).encode(), "application/json")

        def _send(self, status: HTTPStatus, payload: bytes, content_type: str) -> None:
            path = self.path.split("?", 1)[0]
            api.metrics.count_request(path if path in ("/health", "/ready", "/metrics") else "other", int(status))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            if api.draining.is_set():
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
            log.debug("%s %s", self.address_string(), format % args)

    return Handler


class Server(ThreadingHTTPServer):
    # Join request threads on server_close(), so in-flight requests finish before the process exits.
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True


def serve(http: HttpConfig, api: Api, stop: threading.Event) -> None:
    """Serve until `stop` is set, then stop accepting, finish in-flight requests and return."""
    server = Server((http.host, http.port), make_handler(api))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="http")
    thread.start()
    log.info("nl2api %s API listening on %s:%d", version(), http.host, http.port)
    try:
        while not stop.wait(1.0):
            if not thread.is_alive():
                raise RuntimeError("HTTP server thread died")
    finally:
        api.draining.set()
        server.shutdown()
        thread.join()
        server.server_close()
        log.info("API stopped")

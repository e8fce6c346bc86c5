#!/usr/bin/env python
"""Benchmark: the provision stage with the three long creations concurrent, then one after the other.

Starts moto (server mode, AWS managed IAM policies loaded) behind a small delaying HTTP proxy (a stdlib thread) that
sleeps before forwarding CreateDBInstance, CreateReplicationGroup and CreateCluster (default 8, 6 and 10 seconds,
standing in for AWS's minutes), then runs playbooks/provision.yml against it twice on an empty account: once as
shipped (start async + poll 0, then wait) and once with -e nl2api_provision_concurrent=false. Prints both wall-clock
totals and the sum of the injected delays; asserts nothing.

    .venv/bin/python benchmarks/provision_parallel.py [--rds 8] [--cache 6] [--eks 10]
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "functional"))

from aws.conftest import moto_with_iam, run_playbook, seed_parameter_group, write_inventory  # noqa: E402
from support.moto_server import MotoServer  # noqa: E402
from support.ports import LOOPBACK, free_port  # noqa: E402

PROVISION = ROOT / "tests" / "functional" / "aws" / "playbooks" / "provision.yml"


class DelayingProxy(http.server.ThreadingHTTPServer):
    """Forwards every request to moto; sleeps first when the request is one of the slow creations."""

    daemon_threads = True

    def __init__(self, upstream: tuple[str, int], delays: dict[str, float]) -> None:
        super().__init__((LOOPBACK, free_port()), _Handler)
        self.upstream = upstream
        self.delays = delays
        self.injected: dict[str, float] = {}
        # operation -> (monotonic time the request arrived, time its answer was sent)
        self.windows: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: DelayingProxy

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's signature
        return

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        operation = self._operation(body)
        delay = self.server.delays.get(operation, 0.0)
        arrived = time.monotonic()
        if delay:
            with self.server.lock:
                self.server.injected[operation] = self.server.injected.get(operation, 0.0) + delay
            time.sleep(delay)
        connection = http.client.HTTPConnection(*self.server.upstream, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        connection.request(self.command, self.path, body=body or None, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        connection.close()
        if delay:
            with self.server.lock:
                self.server.windows[operation] = (arrived, time.monotonic())

    def _operation(self, body: bytes) -> str:
        """The API operation: Query APIs (RDS, ElastiCache) name it in the form body, REST-JSON EKS by path."""
        text = body.decode("utf-8", "replace")
        for operation in ("CreateDBInstance", "CreateReplicationGroup"):
            if f"Action={operation}&" in text + "&":
                return operation
        if self.command == "POST" and self.path.rstrip("/") == "/clusters":
            return "CreateCluster"
        return ""

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _forward


def creation_window(windows: dict[str, tuple[float, float]]) -> float:
    """Seconds from the first slow creation's request to the last one's answer: the long creations' share of the
    wall time, about the longest delay when they overlap and about the sum when they run one after the other."""
    if not windows:
        return 0.0
    return max(span[1] for span in windows.values()) - min(span[0] for span in windows.values())


def describe_windows(windows: dict[str, tuple[float, float]]) -> str:
    """Each creation's request-to-answer interval, in seconds from the first creation's request."""
    if not windows:
        return "no slow creation seen"
    origin = min(span[0] for span in windows.values())
    ordered = sorted(windows.items(), key=lambda item: item[1][0])
    return ", ".join(f"{name} {start - origin:4.1f}-{end - origin:4.1f} s" for name, (start, end) in ordered)


def provision_once(moto: MotoServer, proxy: DelayingProxy, workdir: Path, *extra: str) -> tuple[float, dict[str, float]]:
    """Empty account, then playbooks/provision.yml through the proxy; (seconds, injected delays)."""
    moto.reset()
    seed_parameter_group(moto)
    proxied = MotoServer(host=LOOPBACK, port=proxy.server_address[1], region=moto.region,
                         access_key_id=moto.access_key_id, secret_access_key=moto.secret_access_key,
                         log_file=moto.log_file)
    inventory = write_inventory(workdir / "hosts.yml", proxied, postgres_poll_interval=1, redis_poll_interval=1,
                                cluster_poll_interval=1)
    proxy.injected.clear()
    proxy.windows.clear()
    started = time.monotonic()
    run = run_playbook(PROVISION, inventory, proxied, "-e", f"provision_outputs_file={workdir / 'out.json'}", *extra)
    elapsed = time.monotonic() - started
    if run.rc != 0:
        raise SystemExit(f"provision failed:\n{run}")
    return elapsed, dict(proxy.injected)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rds", type=float, default=8.0, help="seconds added to CreateDBInstance")
    parser.add_argument("--cache", type=float, default=6.0, help="seconds added to CreateReplicationGroup")
    parser.add_argument("--eks", type=float, default=10.0, help="seconds added to CreateCluster")
    args = parser.parse_args()
    delays = {"CreateDBInstance": args.rds, "CreateReplicationGroup": args.cache, "CreateCluster": args.eks}

    stack, moto = moto_with_iam()
    with stack, tempfile.TemporaryDirectory(prefix="nl2api-provision-bench-") as tmp:
        proxy = DelayingProxy((moto.host, moto.port), delays)
        thread = threading.Thread(target=proxy.serve_forever, daemon=True)
        thread.start()
        try:
            concurrent, injected_c = provision_once(moto, proxy, Path(tmp))
            window_c, spans_c = creation_window(proxy.windows), describe_windows(proxy.windows)
            sequential, injected_s = provision_once(moto, proxy, Path(tmp), "-e", "nl2api_provision_concurrent=false")
            window_s, spans_s = creation_window(proxy.windows), describe_windows(proxy.windows)
        finally:
            proxy.shutdown()
    print(f"injected delays per run: {', '.join(f'{k} {v:.0f}s' for k, v in delays.items())} "
          f"(sum {sum(delays.values()):.0f}s; seen: concurrent {sum(injected_c.values()):.0f}s, "
          f"sequential {sum(injected_s.values()):.0f}s)")
    print(f"provision, concurrent start/wait: {concurrent:6.1f} s")
    print(f"provision, sequential:            {sequential:6.1f} s")
    print(f"saved by running concurrently:    {sequential - concurrent:6.1f} s")
    print(f"long creations, first request to last answer: concurrent {window_c:5.1f} s, sequential {window_s:5.1f} s "
          f"(longest injected {max(delays.values()):.0f} s, sum {sum(delays.values()):.0f} s)")
    print(f"  concurrent: {spans_c}")
    print(f"  sequential: {spans_s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

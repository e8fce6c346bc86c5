"""Hand-run check that the installed stand-in behaves like the real nl2api contract.

Not a test tier: run it by hand against a PostgreSQL (>= 15; with pgvector if available) and a Redis (>= 7) you
started, with the interpreter of a virtualenv that has the stand-in's wheel installed with its extras, plus httpx,
plus CONTRACTS.py on sys.path:

    python selfcheck.py --python /tmp/venv/bin/python --wheel dist/nl2api-0.1.0-py3-none-any.whl \
        --admin-url postgresql://admin@127.0.0.1:55432/postgres --redis-url redis://:pw@127.0.0.1:56379/0

The script itself needs psql on PATH (or --psql) and the redis package (the venv's interpreter has it). It
creates a throw-away database, applies the packaged migrations with psql (each file on its own, outside a
transaction), seeds a few rows and then starts the real entry points as subprocesses from an empty working
directory (so the installed wheel is used, not this source tree). OpenTelemetry is switched off in the children
(OTEL_SDK_DISABLED=true) so that exits are not delayed by an exporter retrying a missing collector.

Every check prints PASS or FAIL; the exit status is the number of failures (0 = all passed). Secrets are never
printed: where the stand-in reproduces the app's credential leaks, the check only says whether the log has it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import redis

APP_ENV_PREFIXES = ("EVAL_", "ENTITY_", "NL2API_", "OTEL_")


class Results:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.passed = 0

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        print(f"{'PASS' if ok else 'FAIL'}  {name}{f'  ({detail})' if detail else ''}", flush=True)
        if ok:
            self.passed += 1
        else:
            self.failures.append(name)
        return ok


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def with_path(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))


def with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit(":", 1)[0] if parts.port else parts.netloc
    return urlunsplit((parts.scheme, f"{netloc}:{port}", parts.path, parts.query, ""))


def contains_secret(text: str, secret: str) -> bool:
    """Whether `text` has `secret` as is or percent-encoded (as it sits in a URL)."""
    return secret in text or quote(secret, safe="") in text


def graceful(code: int | None, log: Path) -> bool:
    """uvicorn's graceful shutdown: lifespan shutdown completed; uvicorn >= 0.29 then re-raises the SIGTERM it
    captured, so the exit status is -15 (143 in a shell) rather than 0, for the real app as for the stand-in."""
    return code in (0, -signal.SIGTERM) and "Application shutdown complete" in log.read_text()


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def http(url: str, method: str = "GET", headers: dict[str, str] | None = None, body: object = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 - loopback only
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except OSError:
        return 0, None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


class Forwarder:
    """A loopback TCP forwarder started later than the process that connects through it: the database becomes
    reachable at a URL that was unreachable when the process started."""

    def __init__(self, listen_port: int, target_port: int) -> None:
        self.listen_port = listen_port
        self.target_port = target_port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", self.listen_port), self.loop
        ).result(5)


class Harness:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.results = Results()
        self.workdir = Path(tempfile.mkdtemp(prefix="nl2api-selfcheck-"))
        self.database = f"standin_selfcheck_{uuid.uuid4().hex[:8]}"
        self.db_url = with_path(args.admin_url, self.database)
        self.redis_url = args.redis_url
        self.redis = redis.Redis.from_url(args.redis_url, decode_responses=True)
        self.redis_password = unquote(urlsplit(args.redis_url).password or "")
        self.db_password = unquote(urlsplit(args.admin_url).password or "")
        self.processes: list[subprocess.Popen[bytes]] = []
        self.test_cases: dict[str, str] = {}

    # -- plumbing ----------------------------------------------------------------------------------------------
    def child_env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(APP_ENV_PREFIXES)}
        env["OTEL_SDK_DISABLED"] = "true"
        env.pop("PYTHONPATH", None)
        env.update(extra)
        return env

    def start(self, name: str, argv: list[str], **env: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.workdir / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(  # noqa: S603 - our interpreter and module
                [self.args.python, *argv], cwd=self.workdir, env=self.child_env(**env), stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process, log

    def run(self, name: str, argv: list[str], timeout: float = 120, **env: str) -> tuple[int, str]:
        process, log = self.start(name, argv, **env)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return process.returncode, log.read_text(errors="replace")

    @staticmethod
    def stop(process: subprocess.Popen[bytes], timeout: float = 15) -> int | None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return None

    def psql(self, url: str, sql: str | None = None, file: Path | None = None, single_transaction: bool = False):
        cmd = [self.args.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA", "-d", url]
        if single_transaction:
            cmd.append("-1")
        cmd += ["-c", sql] if sql is not None else ["-f", str(file)]
        return subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603

    def scalar(self, sql: str) -> str:
        done = self.psql(self.db_url, sql)
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip())
        return done.stdout.strip()

    def group_info(self, stream: str) -> dict[str, object]:
        try:
            groups = self.redis.xinfo_groups(stream)
        except redis.ResponseError:
            return {}
        return next((g for g in groups if g["name"] == "eval-workers"), {})

    def enqueue(self, batch_id: str, test_case_key: str) -> None:
        """What the producer writes (contract section 3): group first, then one entry per task."""
        stream = f"eval:tasks:{batch_id}"
        try:
            self.redis.xgroup_create(stream, "eval-workers", id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        task = {"task_id": str(uuid.uuid4()), "test_case_id": self.test_cases[test_case_key], "batch_id": batch_id}
        self.redis.xadd(stream, {**task, "payload": json.dumps(task), "attempt": "1",
                                 "enqueued_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())})

    def scorecards(self, batch_id: str) -> int:
        return int(self.scalar(f"SELECT count(*) FROM scorecards WHERE batch_id = '{batch_id}'"))

    def cleanup(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        self.psql(self.args.admin_url, f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        for key in self.redis.scan_iter("eval:*:selfcheck-*"):
            self.redis.delete(key)
        if not self.args.keep_logs:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            print(f"logs kept in {self.workdir}")

    # -- checks ------------------------------------------------------------------------------------------------
    def check_wheel(self) -> None:
        r = self.results
        names = zipfile.ZipFile(self.args.wheel).namelist()
        r.check("wheel: every entry under src/ or the dist-info",
                all(n.startswith(("src/", "nl2api-0.1.0.dist-info/")) for n in names), f"{len(names)} entries")
        r.check("wheel: CONTRACTS.py is not in it", not any("CONTRACTS" in n for n in names))
        sql = [n for n in names if n.startswith("src/evalkit/common/storage/postgres/migrations/") and n.endswith(".sql")]
        r.check("wheel: migrations are package data", len(sql) >= 4, ", ".join(Path(n).name for n in sql))
        metadata = next(n for n in names if n.endswith("/METADATA"))
        text = zipfile.ZipFile(self.args.wheel).read(metadata).decode()
        requires = [line for line in text.splitlines() if line.startswith("Requires-Dist:")]
        r.check("wheel: httpx is declared by no extra", not any("httpx" in line for line in requires))
        r.check("wheel: redis only in the mcp-server extra",
                [line for line in requires if line.split()[1].startswith("redis")] == [
                    "Requires-Dist: redis>=5.0.0; extra == 'mcp-server'"])

    def check_imports(self) -> None:
        r = self.results
        for module in ("src.mcp_servers.entity_resolution.__main__", "src.evalkit.distributed.__main__",
                       "src.evalkit.cli.__main__", "src.services.entity_resolution.__main__"):
            code, out = self.run("import", ["-c", f"import {module}"], timeout=60)
            r.check(f"import {module}", code == 0, out.strip().splitlines()[-1] if code else "")
        code, out = self.run("mcp-no-httpx", ["-c", "import sys; sys.modules['httpx'] = None;"
                                                    "import src.mcp_servers.entity_resolution.__main__"])
        r.check("import of the MCP server fails without httpx", code != 0 and "httpx" in out)
        code, out = self.run("origin", ["-c", "import CONTRACTS, src; print(CONTRACTS.__file__, src.__file__)"])
        r.check("CONTRACTS and src come from the venv, not this tree", code == 0 and str(Path(__file__).parent) not in out,
                out.strip())
        code, out = self.run(
            "otel",
            ["-c", "from src.evalkit.common.telemetry import init_telemetry, resource_attributes;"
                   "init_telemetry(); a = resource_attributes();"
                   "print(a.get('service.name'), a.get('deployment.environment'), a.get('k8s.pod.name'))"],
            OTEL_SDK_DISABLED="false", NL2API_ENV="staging", OTEL_SERVICE_NAME="ignored-name",
            OTEL_RESOURCE_ATTRIBUTES="k8s.pod.name=pod-1,deployment.environment=ignored",
        )
        r.check("telemetry resource: service.name=nl2api, NL2API_ENV wins, other keys kept",
                out.strip().splitlines()[-1:] == ["nl2api staging pod-1"], out.strip().splitlines()[-1:][0] if out else "")

    def migrate(self) -> None:
        r = self.results
        done = self.psql(self.args.admin_url, f'CREATE DATABASE "{self.database}"')
        if not r.check("create the throw-away database", done.returncode == 0, done.stderr.strip()):
            raise SystemExit(1)
        code, out = self.run("migrations-dir", ["-c", "from src.evalkit.common.storage.postgres import MIGRATIONS_DIR;"
                                                      "print(MIGRATIONS_DIR)"])
        migrations = sorted(Path(out.strip().splitlines()[-1]).glob("*.sql"))
        has_vector = self.scalar("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'") == "1"
        if not has_vector:
            print("NOTE  pgvector is not installed on this server: 001 is applied with its vector extension line "
                  "removed and its vector(1536) column as real[]; that file is NOT checked as shipped")
        for round_no in (1, 2):
            for path in migrations:
                target = path
                if not has_vector and "CREATE EXTENSION IF NOT EXISTS vector" in path.read_text():
                    target = self.workdir / f"degraded-{path.name}"
                    text = path.read_text().replace("CREATE EXTENSION IF NOT EXISTS vector;", "")
                    target.write_text(re.sub(r"vector\(\d+\)", "real[]", text))
                done = self.psql(self.db_url, file=target)
                r.check(f"migration run {round_no}: {path.name}", done.returncode == 0, done.stderr.strip()[:200])
        concurrently = next(p for p in migrations if "CONCURRENTLY" in p.read_text())
        done = self.psql(self.db_url, file=concurrently, single_transaction=True)
        r.check(f"{concurrently.name} fails inside one transaction (psql -1)",
                done.returncode != 0 and "cannot run inside a transaction block" in done.stderr)
        r.check("pg_trgm created by the migrations",
                self.scalar("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'") == "1")

    def seed(self) -> None:
        self.scalar(
            "INSERT INTO entities (primary_name, display_name, ticker, ric) VALUES"
            " ('Apple Inc', 'Apple', 'AAPL', 'AAPL.O'), ('Microsoft Corporation', 'Microsoft', 'MSFT', 'MSFT.O')"
        )
        rows = {
            "apple": ("selfcheck-e2e", {"input_entity": "Apple"}, "AAPL.O"),
            "msft": ("selfcheck-e2e", {"input_entity": "MSFT"}, "MSFT.O"),
            "slow": ("selfcheck-slow", {"input_entity": "Apple", "standin_delay_seconds": 4}, "AAPL.O"),
            "fail": ("selfcheck-fail", {"input_entity": "Apple", "standin_fail": True}, "AAPL.O"),
        }
        for key, (tag, expected, ticker) in rows.items():
            test_case_id = str(uuid.uuid4())
            calls = json.dumps([{"tool_name": "get_data", "arguments": {"tickers": [ticker]}}])
            self.scalar(
                "INSERT INTO test_cases (id, nl_query, expected_tool_calls, expected_response, tags) VALUES"
                f" ('{test_case_id}', 'revenue of {expected['input_entity']}', '{calls}'::jsonb,"
                f" '{json.dumps(expected)}'::jsonb, ARRAY['{tag}'])"
            )
            self.test_cases[key] = test_case_id

    def check_mcp_server(self) -> None:
        r = self.results
        module = ["-m", "src.mcp_servers.entity_resolution", "--transport", "sse", "--host", "127.0.0.1"]
        # 1. database unreachable at start, reachable a moment later: /ready stays 503 (the pool is never retried).
        late_port, port, ignored_port = free_port(), free_port(), free_port()
        late_url = with_port(self.db_url, late_port)
        server, log = self.start("mcp-db-late", [*module, "--port", str(port), "--postgres-url", late_url],
                                 ENTITY_MCP_PORT=str(ignored_port), ENTITY_MCP_REQUIRE_CLIENT_ID="false")
        base = f"http://127.0.0.1:{port}"
        r.check("mcp: listens on --port (ENTITY_MCP_PORT ignored)",
                wait_until(lambda: http(base + "/health")[0] == 200, 30) and not port_open(ignored_port))
        r.check("mcp: /ready 503 while the database is down", http(base + "/ready")[0] == 503)
        Forwarder(late_port, urlsplit(self.db_url).port or 5432).start()
        reachable = self.psql(late_url, "SELECT 1").returncode == 0
        time.sleep(3)
        status, body = http(base + "/ready")
        r.check("mcp: /ready still 503 after the database came up (never retried)",
                reachable and status == 503, f"db reachable={reachable}, body={body}")
        r.check("mcp: ENTITY_MCP_REQUIRE_CLIENT_ID=false lets /metrics through to a 404",
                http(base + "/metrics")[0] == 404)
        code = self.stop(server)
        r.check("mcp: SIGTERM -> uvicorn graceful shutdown", graceful(code, log), f"rc={code}")

        # 2. database up; the URL from ENTITY_MCP_POSTGRES_URL (its env fallback).
        port = free_port()
        server, log = self.start("mcp", [*module, "--port", str(port)], ENTITY_MCP_POSTGRES_URL=self.db_url,
                                 ENTITY_MCP_REDIS_URL=self.redis_url)
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: http(base + "/health")[0] == 200, 30)
        status, body = http(base + "/ready")
        r.check("mcp: /ready 200 with the database, redis reported disabled",
                status == 200 and isinstance(body, dict) and body["checks"].get("redis") == "disabled", str(body))
        r.check("mcp: the Redis cache fails with the real TypeError",
                "Failed to initialize Redis cache" in log.read_text() and "redis_url" in log.read_text())
        for path in ("/health", "/", "/docs", "/openapi.json"):
            r.check(f"mcp: {path} answers without X-Client-ID", http(base + path)[0] == 200)
        status, body = http(base + "/api/resolve", "POST", body={"entity": "Apple"})
        r.check("mcp: /api/resolve without X-Client-ID -> 401 missing_client_id",
                status == 401 and isinstance(body, dict) and body.get("error") == "missing_client_id")
        status, body = http(base + "/api/resolve", "POST", {"X-Client-ID": "selfcheck"}, {"entity": "Apple"})
        r.check("mcp: /api/resolve with X-Client-ID resolves from the entities table",
                status == 200 and isinstance(body, dict) and body.get("identifier") == "AAPL.O", str(body))
        status, body = http(base + "/api/resolve", "POST", {"X-Client-ID": "selfcheck"}, {"entity": "Microsoft Corporaton"})
        r.check("mcp: a near miss resolves through pg_trgm similarity",
                status == 200 and isinstance(body, dict) and body.get("identifier") == "MSFT.O", str(body))
        r.check("mcp: /metrics 401 without the header", http(base + "/metrics")[0] == 401)
        r.check("mcp: /metrics 404 with the header", http(base + "/metrics", headers={"X-Client-ID": "x"})[0] == 404)
        status, body = http(base + "/mcp", "POST", {"X-Client-ID": "selfcheck"},
                            {"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        r.check("mcp: JSON-RPC tools/list on /mcp", status == 200 and "tools" in body.get("result", {}))
        status, _body = http(base + "/mcp", "POST", {"X-Client-ID": "selfcheck"}, {"jsonrpc": "2.0", "method": "ping"})
        r.check("mcp: a JSON-RPC notification answers 204", status == 204)
        statuses = [http(base + "/metrics", headers={"X-Client-ID": "rate-limited"})[0] for _attempt in range(101)]
        r.check("mcp: the 101st request of a client within 60 s gets 429 (in-process limit)",
                statuses[:100] == [404] * 100 and statuses[100] == 429, f"last={statuses[-1]}")
        r.check("mcp: /health is not rate limited", http(base + "/health")[0] == 200)
        oversized = urllib.request.Request(base + "/api/resolve", data=b" " * (1024 * 1024 + 1), method="POST",
                                           headers={"X-Client-ID": "selfcheck", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(oversized, timeout=15) as response:  # noqa: S310 - loopback only
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        r.check("mcp: a body above 1 MiB gets 413", status == 413, f"status={status}")
        code = self.stop(server)
        r.check("mcp: SIGTERM -> uvicorn graceful shutdown, pool closed",
                graceful(code, log) and "Database pool closed" in log.read_text(), f"rc={code}")

    def check_entity_service(self) -> None:
        r = self.results
        module = ["-m", "src.services.entity_resolution", "--transport", "http", "--host", "127.0.0.1"]
        code, out = self.run("service-db-down", [*module, "--port", str(free_port()),
                                                 "--postgres-url", with_port(self.db_url, free_port())], timeout=60)
        r.check("service: exits non-zero when the database is down at start",
                code not in (0, None) and "startup failed" in out.lower(), f"rc={code}")
        port = free_port()
        server, log = self.start("service", module, ENTITY_PORT=str(port), ENTITY_POSTGRES_URL=self.db_url)
        base = f"http://127.0.0.1:{port}"
        r.check("service: ENTITY_PORT honoured, /health 200", wait_until(lambda: http(base + "/health")[0] == 200, 30))
        status, body = http(base + "/ready")
        r.check("service: /ready 200 (redis disabled by default)",
                status == 200 and body["checks"]["redis"] == {"enabled": False}, str(body))
        status, body = http(base + "/api/resolve", "POST", body={"entity": "MSFT"})
        r.check("service: /api/resolve needs no X-Client-ID", status == 200 and body.get("identifier") == "MSFT.O",
                str(body))
        r.check("service: no /metrics (404)", http(base + "/metrics")[0] == 404)
        code = self.stop(server)
        r.check("service: SIGTERM -> uvicorn graceful shutdown", graceful(code, log), f"rc={code}")
        code, out = self.run("service-no-contracts", ["-c", "import sys; sys.modules['CONTRACTS'] = None;"
                                                            "import src.services.entity_resolution.app"])
        r.check("service: imports without CONTRACTS", code == 0, out.strip()[-200:])

    def worker_env(self, batch_id: str, worker_id: str, **extra: str) -> dict[str, str]:
        return {"EVAL_BATCH_ID": batch_id, "EVAL_WORKER_ID": worker_id, "EVAL_REDIS_URL": self.redis_url,
                "EVAL_POSTGRES_URL": self.db_url, "EVAL_MODE": "simulated", **extra}

    def check_worker(self) -> None:
        r = self.results
        module = ["-m", "src.evalkit.distributed"]
        code, out = self.run("worker-no-batch", module, EVAL_REDIS_URL=self.redis_url)
        r.check("worker: no batch id -> exit 1, '--batch-id is required'", code == 1 and "--batch-id is required" in out)

        code, out = self.run("worker-no-redis", module, **self.worker_env(
            "selfcheck-x", "w", EVAL_REDIS_URL=with_port(self.redis_url, free_port())))
        r.check("worker: Redis unreachable -> exit 1", code == 1 and "Failed to connect to queue" in out)
        code, out = self.run("worker-no-db", module, **self.worker_env(
            "selfcheck-x", "w", EVAL_POSTGRES_URL=with_port(self.db_url, free_port())))
        r.check("worker: database unreachable -> exit 1", code == 1 and "Failed to create worker dependencies" in out)
        if self.db_password:
            r.check("worker: the DSN error carries the database password (leak reproduced)", contains_secret(out, self.db_password))

        code, out = self.run("worker-no-httpx", ["-c", "import runpy, sys; sys.modules['httpx'] = None;"
                                                       "runpy.run_module('src.evalkit.distributed', run_name='__main__')"],
                             **self.worker_env("selfcheck-x", "w"))
        r.check("worker: without httpx -> exit 1 at start (not at import)",
                code == 1 and "Failed to create worker dependencies" in out and "httpx" in out)

        # Processing, acks, idle SIGTERM.
        batch = f"selfcheck-{uuid.uuid4()}"
        stream = f"eval:tasks:{batch}"
        self.enqueue(batch, "apple")
        self.enqueue(batch, "msft")
        worker, log = self.start("worker-idle", module, **self.worker_env(batch, "worker-a"))
        r.check("worker: both tasks processed into scorecards",
                wait_until(lambda: self.scorecards(batch) == 2, 40), f"scorecards={self.scorecards(batch)}")
        info = self.group_info(stream)
        r.check("worker: acked (pending 0, lag 0) but never deleted (XLEN 2)",
                wait_until(lambda: self.group_info(stream).get("pending") == 0, 5)
                and info.get("lag") == 0 and self.redis.xlen(stream) == 2, str(info))
        text = log.read_text()
        if self.redis_password:
            r.check("worker: logs the Redis URL with its password at INFO (leak reproduced)",
                    contains_secret(text, self.redis_password))
        worker.send_signal(signal.SIGTERM)
        time.sleep(7)
        r.check("worker: idle + SIGTERM -> still running after 7 s",
                worker.poll() is None and "received shutdown signal" in log.read_text())
        self.enqueue(batch, "apple")
        code = None
        try:
            code = worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        entries = self.redis.xrange(stream)
        r.check("worker: the next message after SIGTERM is requeued (attempt 2) and the worker exits 0",
                code == 0 and entries[-1][1].get("attempt") == "2" and self.scorecards(batch) == 2,
                f"rc={code}, last attempt={entries[-1][1].get('attempt')}")

        # Busy SIGTERM: the running task finishes and is acked; the worker exits on the next message only.
        batch = f"selfcheck-{uuid.uuid4()}"
        stream = f"eval:tasks:{batch}"
        self.enqueue(batch, "slow")
        worker, log = self.start("worker-busy", module, **self.worker_env(batch, "worker-b"))
        delivered = wait_until(lambda: self.group_info(stream).get("pending") == 1, 30)
        worker.send_signal(signal.SIGTERM)
        finished = wait_until(lambda: self.scorecards(batch) == 1 and self.group_info(stream).get("pending") == 0, 15)
        r.check("worker: busy + SIGTERM -> the task completes and is acked", delivered and finished)
        time.sleep(6)
        r.check("worker: ... and the worker keeps waiting for a message", worker.poll() is None)
        self.enqueue(batch, "apple")
        try:
            code = worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            code = None
        r.check("worker: ... then requeues that message and exits 0",
                code == 0 and self.redis.xrange(stream)[-1][1].get("attempt") == "2", f"rc={code}")

        # Failures: three deliveries, then the DLQ; then the stream deleted under the blocked worker -> exit 1.
        batch = f"selfcheck-{uuid.uuid4()}"
        stream, dlq = f"eval:tasks:{batch}", f"eval:dlq:{batch}"
        self.enqueue(batch, "fail")
        worker, log = self.start("worker-fail", module, **self.worker_env(batch, "worker-c"))
        in_dlq = wait_until(lambda: self.redis.exists(dlq) and self.redis.xlen(dlq) == 1, 40)
        dead = self.redis.xrange(dlq)[0][1] if in_dlq else {}
        r.check("worker: a failing task is delivered 3 times, then lands in the DLQ",
                in_dlq and dead.get("attempt") == "3" and self.redis.xlen(stream) == 3
                and "marked to fail" in dead.get("error", ""), str({k: dead.get(k) for k in ("attempt", "error")}))
        time.sleep(1)
        self.redis.delete(stream, dlq)
        try:
            code = worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            code = None
        r.check("worker: stream deleted under a blocked read -> exit 1", code == 1, f"rc={code}")

        # A restarted worker re-creates the stream and blocks for ever.
        worker, _log = self.start("worker-restart", module, **self.worker_env(batch, "worker-c"))
        time.sleep(6)
        r.check("worker: restarted on a deleted batch -> re-creates the empty stream and waits",
                worker.poll() is None and self.redis.exists(stream) == 1 and self.redis.xlen(stream) == 0)
        worker.kill()
        worker.wait()
        self.redis.delete(stream)

    def check_producer(self) -> None:
        r = self.results
        cli = ["-m", "src.evalkit.cli", "batch", "run", "--pack", "nl2api", "--label", "selfcheck"]
        env = {"EVAL_POSTGRES_URL": self.db_url}
        code, out = self.run("producer-no-tag", [*cli, "--distributed", "--workers", "0", "--redis-url",
                                                 self.redis_url], **env)
        r.check("producer: refuses to run without --tag (exit 1)", code == 1 and "--tag is required" in out)
        code, out = self.run("producer-simulated", [*cli, "--tag", "selfcheck-e2e", "--mode", "simulated",
                                                    "--distributed", "--redis-url", self.redis_url], **env)
        r.check("producer: refuses --mode simulated (exit 1)", code == 1 and "Simulated mode is disabled" in out)

        started = time.monotonic()
        code, out = self.run("producer-e2e", [*cli, "--tag", "selfcheck-e2e", "--distributed", "--workers", "1",
                                              "--redis-url", self.redis_url], timeout=180, **env)
        seconds = time.monotonic() - started
        found = re.search(r"Created batch: ([0-9a-f-]{36})", out)
        batch = found.group(1) if found else ""
        r.check("producer: --workers 1 end to end (resolver mode) exits 0", code == 0 and bool(batch),
                f"rc={code}, {seconds:.1f}s")
        if batch:
            row = self.scalar(f"SELECT status || ',' || completed_count || ',' || failed_count FROM batch_jobs"
                              f" WHERE id = '{batch}'")
            r.check("producer: batch_jobs row completed with 2 passed", row == "completed,2,0", row)
            r.check("producer: both streams deleted at the end",
                    self.redis.exists(f"eval:tasks:{batch}", f"eval:dlq:{batch}") == 0)
        if self.redis_password:
            r.check("producer: prints the Redis URL with its password (leak reproduced)",
                    contains_secret(out, self.redis_password))

        # The deployment's flow: --workers 0, and an external worker given the printed batch id.
        producer, log = self.start("producer-external", [*cli, "--tag", "selfcheck-e2e", "--distributed",
                                                         "--workers", "0", "--redis-url", self.redis_url], **env)
        wait_until(lambda: "Created batch:" in log.read_text(), 30)
        found = re.search(r"Created batch: ([0-9a-f-]{36})", log.read_text())
        batch = found.group(1) if found else "missing"
        worker, _log = self.start("worker-external", ["-m", "src.evalkit.distributed"],
                                  **self.worker_env(batch, "pod-1", EVAL_MODE="resolver"))
        try:
            code = producer.wait(timeout=90)
        except subprocess.TimeoutExpired:
            code = None
        try:
            worker_code = worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker_code = None
        r.check("producer: --workers 0 + an external worker on the printed batch id -> producer exit 0",
                code == 0, f"rc={code}")
        r.check("producer: ... and the external worker exits 1 once the producer deletes the stream",
                worker_code == 1, f"rc={worker_code}")

    def check_partial_install(self) -> None:
        """An interpreter with the wheel + [postgres,telemetry] only (what the real root Dockerfile installs)."""
        r = self.results
        python, self.args.python = self.args.python, self.args.partial_python
        try:
            code, out = self.run("partial-import", ["-c", "import src.evalkit.distributed.__main__"])
            r.check("[postgres,telemetry] only: the worker module imports", code == 0, out.strip()[-200:])
            code, out = self.run("partial-worker", ["-m", "src.evalkit.distributed"], **self.worker_env("selfcheck-x", "w"))
            r.check("[postgres,telemetry] only: the worker exits 1, \"Redis backend requires 'redis' package\"",
                    code == 1 and "Redis backend requires 'redis' package" in out)
            code, out = self.run("partial-mcp", ["-c", "import src.mcp_servers.entity_resolution.__main__"])
            r.check("[postgres,telemetry] only: the MCP server does not import", code != 0,
                    out.strip().splitlines()[-1] if out.strip() else "")
        finally:
            self.args.python = python

    def run_all(self) -> int:
        try:
            if self.args.wheel:
                self.check_wheel()
            self.check_imports()
            if self.args.partial_python:
                self.check_partial_install()
            self.migrate()
            self.seed()
            self.check_mcp_server()
            self.check_entity_service()
            self.check_worker()
            self.check_producer()
        finally:
            self.cleanup()
        print(f"\n{self.results.passed} passed, {len(self.results.failures)} failed")
        for name in self.results.failures:
            print(f"  failed: {name}")
        return len(self.results.failures)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default=sys.executable, help="interpreter of the venv with the stand-in")
    parser.add_argument("--wheel", help="the built wheel, to check its contents")
    parser.add_argument("--admin-url", required=True, help="DSN of a role that may create databases")
    parser.add_argument("--redis-url", required=True, help="Redis URL (a password makes the leak checks run)")
    parser.add_argument("--partial-python", help="interpreter of a venv with the wheel + [postgres,telemetry] only")
    parser.add_argument("--psql", default=shutil.which("psql") or "psql")
    parser.add_argument("--keep-logs", action="store_true")
    return Harness(parser.parse_args()).run_all()


if __name__ == "__main__":
    sys.exit(main())

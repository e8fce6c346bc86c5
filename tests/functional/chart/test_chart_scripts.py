"""The shell/Python snippets the chart embeds, executed for real on this machine:
the in-cluster Redis start script (with a real redis-server), the worker's preStop drain hook and
heartbeat liveness and readiness probes, and the helm test pod's checks against a local HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def container_of(h, docs, kind, name):
    return h.one(docs, kind, name)["spec"]["template"]["spec"]["containers"][0]


def run_python_snippet(command: list[str], env: dict, timeout: float = 30) -> subprocess.CompletedProcess:
    assert command[:2] == ["python", "-c"], command
    return subprocess.run([sys.executable, "-c", command[2]], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout, check=False)


# ------------------------------------------------------------------ in-cluster Redis

@pytest.mark.parametrize("username", ["nl2api", "default"])
def test_redis_start_script_enforces_acl(chart, h, tmp_path, username):
    redis_server = shutil.which("redis-server")
    if not redis_server:
        pytest.fail("redis-server not found: apt-get install redis-server (make setup installs it)")
    import redis  # pylint: disable=import-outside-toplevel
    docs = chart.render("dev", {"secrets": {"values": {"REDIS_USERNAME": username, "REDIS_PASSWORD": "pw123"}}})
    c = container_of(h, docs, "StatefulSet", "rel-nl2api-redis")
    assert c["command"][:2] == ["sh", "-c"]
    port = free_port()
    conf_dir, data_dir = tmp_path / "conf", tmp_path / "data"
    conf_dir.mkdir()
    data_dir.mkdir()
    script = (c["command"][2]
              .replace("/etc/redis-conf", str(conf_dir))
              .replace("dir /data", f"dir {data_dir}")
              .replace("port 6379", f"port {port}")
              .replace("bind * -::*", "bind 127.0.0.1"))
    proc = subprocess.Popen(["sh", "-c", script], env={**os.environ, "REDIS_USERNAME": username,
                                                       "REDIS_PASSWORD": "pw123"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                client = redis.Redis(port=port, username=username, password="pw123", socket_timeout=2)
                assert client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"redis did not start:\n{proc.stdout.read() if proc.stdout else ''}")
                time.sleep(0.2)
        # Wrong password and no password are refused (no client-side retries: fail fast).
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        no_retry = Retry(NoBackoff(), 0)
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port, username=username, password="wrong", retry=no_retry).ping()
        with pytest.raises((redis.AuthenticationError, redis.ResponseError)):
            redis.Redis(port=port, retry=no_retry).ping()
        client.lpush("nl2api:evaluations", "job")
        assert client.llen("nl2api:evaluations") == 1
        # The configuration file is private to the redis user and holds no password in clear.
        conf = conf_dir / "redis.conf"
        assert oct(conf.stat().st_mode & 0o777) == "0o600"
        # The probes log in as their own PING-only user, whose password the start script made in the config dir.
        assert oct((conf_dir / "probe-password").stat().st_mode & 0o777) == "0o600"
        probes = {name: ["sh", "-c", c[name]["exec"]["command"][2]
                         .replace("/etc/redis-conf", str(conf_dir))
                         .replace("-h 127.0.0.1", f"-h 127.0.0.1 -p {port}")]
                  for name in ("readinessProbe", "livenessProbe")}

        def probe_rc(name: str) -> int:
            # The probe gets no credential through the environment: only the container's env is there.
            return subprocess.run(probes[name], env={**os.environ, "REDIS_USERNAME": username,
                                                     "REDIS_PASSWORD": "pw123"},
                                  check=False, timeout=10, capture_output=True).returncode

        assert probe_rc("readinessProbe") == 0 and probe_rc("livenessProbe") == 0
        probe_user = redis.Redis(port=port, username="nl2api-probe",
                                 password=(conf_dir / "probe-password").read_text(), retry=no_retry)
        with pytest.raises(redis.exceptions.NoPermissionError):
            probe_user.get("nl2api:evaluations")
        # A rotation as nl2api.deploy.credential_rotation does it (second password, then the old one revoked)
        # leaves both probes passing: the kubelet would not restart Redis.
        new_hash = hashlib.sha256(b"rotated-pw").hexdigest()
        client.execute_command("ACL", "SETUSER", username, "on", "#" + new_hash)
        client.execute_command("ACL", "SETUSER", username, "resetpass", "#" + new_hash)
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port, username=username, password="pw123", retry=no_retry).ping()
        assert probe_rc("readinessProbe") == 0 and probe_rc("livenessProbe") == 0
        # A wrong probe password fails them (the probes can fail).
        (conf_dir / "probe-password").write_text("nope")
        assert probe_rc("readinessProbe") != 0 and probe_rc("livenessProbe") != 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_redis_start_script_admin_user(chart, h, tmp_path):
    """REDIS_ADMIN_USERNAME/PASSWORD (redis.adminSecret, optional) add the admin user the rotation logs in as."""
    import redis  # pylint: disable=import-outside-toplevel
    docs = chart.render("local")
    c = container_of(h, docs, "StatefulSet", "rel-nl2api-redis")
    admin_ref = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in c["env"] if e["name"].startswith("REDIS_ADMIN_")}
    assert admin_ref["REDIS_ADMIN_PASSWORD"] == {"name": "rel-nl2api-redis-admin", "key": "REDIS_ADMIN_PASSWORD",
                                                 "optional": True}
    admin_secret = h.decode_secret(h.one(docs, "Secret", "rel-nl2api-redis-admin"))
    assert admin_secret["REDIS_ADMIN_USERNAME"] == "admin" and len(admin_secret["REDIS_ADMIN_PASSWORD"]) == 32
    port = free_port()
    conf_dir, data_dir = tmp_path / "conf", tmp_path / "data"
    conf_dir.mkdir()
    data_dir.mkdir()
    script = (c["command"][2].replace("/etc/redis-conf", str(conf_dir)).replace("dir /data", f"dir {data_dir}")
              .replace("port 6379", f"port {port}").replace("bind * -::*", "bind 127.0.0.1"))
    env = {**os.environ, "REDIS_USERNAME": "default", "REDIS_PASSWORD": "pw123",
           "REDIS_ADMIN_USERNAME": "admin", "REDIS_ADMIN_PASSWORD": "adm456"}
    # The admin user must not be the rotated one.
    same = subprocess.run(["sh", "-c", script], env={**env, "REDIS_ADMIN_USERNAME": "default"},
                          capture_output=True, text=True, timeout=10, check=False)
    assert same.returncode != 0 and "REDIS_ADMIN_USERNAME" in same.stderr
    proc = subprocess.Popen(["sh", "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                admin = redis.Redis(port=port, username="admin", password="adm456", socket_timeout=2)
                assert admin.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"redis did not start:\n{proc.stdout.read() if proc.stdout else ''}")
                time.sleep(0.2)
        assert admin.execute_command("ACL", "DRYRUN", "admin", "ACL", "SETUSER", "default", "on") in (b"OK", "OK")
        assert redis.Redis(port=port, username="default", password="pw123").ping()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# ------------------------------------------------------------------ worker hooks

def test_worker_prestop_waits_while_busy(chart, h, tmp_path):
    c = container_of(h, chart.render("dev"), "Deployment", "rel-nl2api-worker")
    hook = c["lifecycle"]["preStop"]["exec"]["command"]
    env = {"WORKER_DRAIN_FILE": str(tmp_path / "drain"), "WORKER_BUSY_FILE": str(tmp_path / "busy"),
           "WORKER_DRAIN_TIMEOUT_SECONDS": "30"}
    busy = tmp_path / "busy"
    busy.touch()
    threading.Timer(1.5, busy.unlink).start()  # the job finishes 1.5 s into the drain
    start = time.monotonic()
    result = run_python_snippet(hook, env)
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "drain").exists()
    assert 1.4 <= elapsed < 10
    # Bounded: a job that never finishes does not hold the hook past the timeout.
    busy.touch()
    start = time.monotonic()
    result = run_python_snippet(hook, {**env, "WORKER_DRAIN_TIMEOUT_SECONDS": "1"})
    assert result.returncode == 0 and time.monotonic() - start < 5
    # Idle worker: only the short settle delay.
    busy.unlink()
    start = time.monotonic()
    assert run_python_snippet(hook, env).returncode == 0
    assert time.monotonic() - start < 4


@pytest.mark.parametrize("probe_name", ["livenessProbe", "readinessProbe"])
def test_worker_probes_read_heartbeat(chart, h, tmp_path, probe_name):
    c = container_of(h, chart.render("prod"), "Deployment", "rel-nl2api-worker")
    probe = c[probe_name]["exec"]["command"]
    heartbeat = tmp_path / "heartbeat"
    env = {"NL2API_WORKER_HEARTBEAT_FILE": str(heartbeat), "NL2API_WORKER_HEARTBEAT_MAX_AGE": "30"}
    assert run_python_snippet(probe, env).returncode != 0  # no heartbeat yet
    heartbeat.touch()
    assert run_python_snippet(probe, env).returncode == 0
    old = time.time() - 120
    os.utime(heartbeat, (old, old))
    assert run_python_snippet(probe, env).returncode != 0  # stuck loop


# ------------------------------------------------------------------ helm test pod

class _Handler(http.server.BaseHTTPRequestHandler):
    statuses: dict[str, int] = {}

    def do_GET(self):  # noqa: N802 (http.server API)
        status = self.statuses.get(self.path, 404)
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"ok" if status == 200 else b"no")

    def log_message(self, *_args):
        pass


@pytest.fixture()
def api_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_helm_test_pod_checks_health_and_ready(chart, h, api_server):
    pod = h.one(chart.render("dev"), "Pod", "rel-nl2api-test")
    c = pod["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in c["env"]}
    env["API_URL"] = f"http://127.0.0.1:{api_server.server_address[1]}"
    env.update(CHECK_ATTEMPTS="2", CHECK_INTERVAL_SECONDS="0.1")
    _Handler.statuses = {"/health": 200, "/ready": 200}
    result = run_python_snippet(c["command"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "GET " + env["API_URL"] + "/health -> 200" in result.stdout
    assert "GET " + env["API_URL"] + "/ready -> 200" in result.stdout
    _Handler.statuses = {"/health": 200, "/ready": 503}
    result = run_python_snippet(c["command"], env)
    assert result.returncode == 1
    assert "/ready attempt 2 failed" in result.stdout


def test_chart_snippets_need_no_extra_tools(chart, h):
    """App-image snippets use python only (the images have no curl, wget or sleep guarantees)."""
    docs = chart.render("prod")
    for name, _meta, spec in h.pod_specs(docs):
        for c in spec["containers"]:
            if "otel-collector" in c["image"]:
                continue
            text = str(c.get("command", [])) + str(c.get("lifecycle", {})) + str(c.get("livenessProbe", {}))
            for tool in ("curl", "wget", "/bin/sleep"):
                assert tool not in text, f"{name}/{c['name']} uses {tool}"
    assert Path(h.CHART_DIR / "templates" / "tests" / "test-api.yaml").exists()

"""The shell/Python snippets the chart embeds, executed for real on this machine:
the in-cluster Redis start script (with a real redis-server), the worker's preStop hook (against a real
redis-server holding the batch's stream and consumer group), and the helm test pod's checks against a local HTTP
server."""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from support.ports import free_port


def container_of(h, docs, kind, name):
    return h.one(docs, kind, name)["spec"]["template"]["spec"]["containers"][0]


def run_python_snippet(command: list[str], env: dict, timeout: float = 30) -> subprocess.CompletedProcess:
    assert command[:2] == ["python", "-c"], command
    return subprocess.run([sys.executable, "-c", command[2]], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout, check=False)


# ------------------------------------------------------------------ in-cluster Redis

def local_start_script(container: dict, tmp_path: Path) -> tuple[str, int, Path]:
    """The chart's Redis start script rewritten for this machine: its config and data directories under tmp_path,
    a free port on 127.0.0.1. Returns (script, port, config directory)."""
    port = free_port()
    conf_dir, data_dir = tmp_path / "conf", tmp_path / "data"
    conf_dir.mkdir()
    data_dir.mkdir()
    script = (container["command"][2].replace("/etc/redis-conf", str(conf_dir)).replace("dir /data", f"dir {data_dir}")
              .replace("port 6379", f"port {port}").replace("bind * -::*", "bind 127.0.0.1"))
    return script, port, conf_dir


def wait_for_ping(proc: subprocess.Popen, client) -> None:  # noqa: ANN001 - a redis.Redis
    """Until `client` answers PING; an error with the script's output when it exits first or after 15 s."""
    import redis  # pylint: disable=import-outside-toplevel
    deadline = time.monotonic() + 15
    while True:
        try:
            assert client.ping()
            return
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"redis did not start:\n{proc.stdout.read() if proc.stdout else ''}") from None
            time.sleep(0.2)


@pytest.mark.parametrize("username", ["nl2api", "default"])
def test_redis_start_script_enforces_acl(chart, h, tmp_path, username):
    redis_server = shutil.which("redis-server")
    if not redis_server:
        pytest.fail("redis-server not found: apt-get install redis-server (make setup installs it)")
    import redis  # pylint: disable=import-outside-toplevel
    docs = chart.render("dev", {"secrets": {"values": {"redis-username": username, "redis-password": "pw123"}}})
    c = container_of(h, docs, "StatefulSet", "rel-nl2api-redis")
    assert c["command"][:2] == ["sh", "-c"]
    script, port, conf_dir = local_start_script(c, tmp_path)
    proc = subprocess.Popen(["sh", "-c", script], env={**os.environ, "REDIS_USERNAME": username,
                                                       "REDIS_PASSWORD": "pw123"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        client = redis.Redis(port=port, username=username, password="pw123", socket_timeout=2)
        wait_for_ping(proc, client)
        # Wrong password and no password are refused (no client-side retries: fail fast).
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        no_retry = Retry(NoBackoff(), 0)
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port, username=username, password="wrong", retry=no_retry).ping()
        with pytest.raises((redis.AuthenticationError, redis.ResponseError)):
            redis.Redis(port=port, retry=no_retry).ping()
        # What the application does with it: a batch's task stream and its consumer group.
        client.xgroup_create("eval:tasks:b1", "eval-workers", id="0", mkstream=True)
        client.xadd("eval:tasks:b1", {"task_id": "t1"})
        assert client.xreadgroup("eval-workers", "w1", {"eval:tasks:b1": ">"}, count=1)
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
            probe_user.xlen("eval:tasks:b1")
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
    script, port, _conf_dir = local_start_script(c, tmp_path)
    env = {**os.environ, "REDIS_USERNAME": "default", "REDIS_PASSWORD": "pw123",
           "REDIS_ADMIN_USERNAME": "admin", "REDIS_ADMIN_PASSWORD": "adm456"}
    # The admin user must not be the rotated one.
    same = subprocess.run(["sh", "-c", script], env={**env, "REDIS_ADMIN_USERNAME": "default"},
                          capture_output=True, text=True, timeout=10, check=False)
    assert same.returncode != 0 and "REDIS_ADMIN_USERNAME" in same.stderr
    proc = subprocess.Popen(["sh", "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        admin = redis.Redis(port=port, username="admin", password="adm456", socket_timeout=2)
        wait_for_ping(proc, admin)
        assert admin.execute_command("ACL", "DRYRUN", "admin", "ACL", "SETUSER", "default", "on") in (b"OK", "OK")
        assert redis.Redis(port=port, username="default", password="pw123").ping()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# ------------------------------------------------------------------ worker hooks

def start_redis(tmp_path: Path) -> tuple[subprocess.Popen, int]:
    redis_server = shutil.which("redis-server")
    if not redis_server:
        pytest.fail("redis-server not found: apt-get install redis-server (make setup installs it)")
    import redis  # pylint: disable=import-outside-toplevel
    port = free_port()
    proc = subprocess.Popen([redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while True:
        try:
            if redis.Redis(port=port, socket_timeout=1).ping():
                return proc, port
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError("redis-server did not start") from None
            time.sleep(0.1)


def prestop_hook(chart, h, max_task_seconds: int) -> list[str]:
    docs = chart.render_batch("dev", {"worker": {"shutdown": {"maxTaskSeconds": max_task_seconds},
                                                 "terminationGracePeriodSeconds": 60}})
    return container_of(h, docs, "Deployment", "batch-nl2api-worker")["lifecycle"]["preStop"]["exec"]["command"]


def run_hook(hook: list[str], worker_pid: int, env: dict) -> tuple[subprocess.Popen, float]:
    """Start the hook with its SIGTERM aimed at `worker_pid` (in the pod: nl2api-run, PID 1)."""
    assert "os.kill(1, signal.SIGTERM)" in hook[2]
    script = hook[2].replace("os.kill(1, signal.SIGTERM)", f"os.kill({worker_pid}, signal.SIGTERM)")
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, time.monotonic()


def test_worker_prestop_waits_for_the_task_in_flight(chart, h, tmp_path):
    import redis  # pylint: disable=import-outside-toplevel
    server, port = start_redis(tmp_path)
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        client = redis.Redis(port=port, decode_responses=True)
        stream = "eval:tasks:b1"
        client.xgroup_create(stream, "eval-workers", id="0", mkstream=True)
        client.xadd(stream, {"task_id": "t1"})
        client.xadd(stream, {"task_id": "t2"})
        # This pod's consumer holds t1; another pod's consumer holds t2 (which must not delay this pod).
        ((_stream, [(t1, _fields)]),) = client.xreadgroup("eval-workers", "worker-a", {stream: ">"}, count=1)
        client.xreadgroup("eval-workers", "worker-b", {stream: ">"}, count=1)
        env = {"EVAL_BATCH_ID": "b1", "EVAL_WORKER_ID": "worker-a", "EVAL_REDIS_URL": f"redis://127.0.0.1:{port}/0"}
        hook, started = run_hook(prestop_hook(chart, h, 30), stand_in.pid, env)
        # The worker is told to stop first.
        assert stand_in.wait(timeout=10) == -15
        time.sleep(1.5)
        assert hook.poll() is None, "the hook returned while this pod's task was still pending"
        client.xack(stream, "eval-workers", t1)
        assert hook.wait(timeout=10) == 0, hook.stderr.read() if hook.stderr else ""
        assert 1.5 <= time.monotonic() - started < 10
        # Bounded by worker.shutdown.maxTaskSeconds: a task that never finishes does not hold the pod.
        client.xadd(stream, {"task_id": "t3"})
        client.xreadgroup("eval-workers", "worker-a", {stream: ">"}, count=1)
        assert client.xpending_range(stream, "eval-workers", "-", "+", 1, consumername="worker-a")
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        hook, started = run_hook(prestop_hook(chart, h, 2), sleeper.pid, env)
        assert hook.wait(timeout=15) == 0 and 1.5 < time.monotonic() - started < 10
        sleeper.wait(timeout=10)
        # The producer deleted the stream (the batch is over): nothing to wait for.
        client.delete(stream)
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        hook, started = run_hook(prestop_hook(chart, h, 30), sleeper.pid, env)
        assert hook.wait(timeout=10) == 0 and time.monotonic() - started < 5
        sleeper.wait(timeout=10)
    finally:
        stand_in.kill()
        server.terminate()
        server.wait(timeout=10)


# ------------------------------------------------------------------ helm test pod

class _Handler(http.server.BaseHTTPRequestHandler):
    statuses: dict[str, int] = {}
    #: What a request without X-Client-ID gets on a non-exempt path (the server's answer: 401).
    post_status = 401

    def do_GET(self):  # noqa: N802 (http.server API)
        status = self.statuses.get(self.path, 404)
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"ok" if status == 200 else b"no")

    def do_POST(self):  # noqa: N802 (http.server API)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status = self.post_status if "X-Client-ID" not in self.headers else 200
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"{}")

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
    _Handler.post_status = 401
    result = run_python_snippet(c["command"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "GET " + env["API_URL"] + "/health -> 200" in result.stdout
    assert "GET " + env["API_URL"] + "/ready -> 200" in result.stdout
    assert "without X-Client-ID -> 401" in result.stdout
    _Handler.statuses = {"/health": 200, "/ready": 503}
    result = run_python_snippet(c["command"], env)
    assert result.returncode == 1
    assert "/ready attempt 2 failed" in result.stdout
    # A server that accepts a request without X-Client-ID fails the test too.
    _Handler.statuses = {"/health": 200, "/ready": 200}
    _Handler.post_status = 200
    result = run_python_snippet(c["command"], env)
    assert result.returncode == 1 and "without X-Client-ID was accepted" in result.stdout


def test_chart_snippets_need_no_extra_tools(chart, h):
    """App-image snippets use python only (the images have no curl, wget or sleep guarantees)."""
    docs = chart.render("prod") + chart.render_batch("prod")
    for name, _meta, spec in h.pod_specs(docs):
        for c in spec["containers"]:
            if "otel-collector" in c["image"]:
                continue
            text = str(c.get("command", [])) + str(c.get("lifecycle", {})) + str(c.get("livenessProbe", {}))
            for tool in ("curl", "wget", "/bin/sleep"):
                assert tool not in text, f"{name}/{c['name']} uses {tool}"
    assert Path(h.CHART_DIR / "templates" / "tests" / "test-api.yaml").exists()

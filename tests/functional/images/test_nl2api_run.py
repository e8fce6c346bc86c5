"""docker/nl2api_run.py (the images' PID 1 supervisor), on the host with real processes and real signals.

No Docker: the supervisor is started as a subprocess of the test (and once as PID 1 of a fresh PID namespace), the
child is a small Python or shell program whose behaviour the test controls.
"""

from __future__ import annotations

import http.server
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from types import ModuleType

import pytest

from support.process import process_table

from .build import DOCKER_DIR

SUPERVISOR = DOCKER_DIR / "nl2api_run.py"
SECRET = "s3cr3t-Pa55"  # noqa: S105 - a fake password the masking must hide


def load_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("nl2api_run", SUPERVISOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


nl2api_run = load_module()


def supervise(*command: str, **popen: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(SUPERVISOR), "--", *command],  # noqa: S603 - test argv
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)  # type: ignore[call-overload]


def python_child(source: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(source)]


def read_line_within(stream, seconds: float) -> bytes:  # noqa: ANN001 - a pipe
    """The first line on `stream`, failing the test if it takes longer than `seconds` (it would be buffered)."""
    result: list[bytes] = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(seconds)
    assert result, f"no complete line within {seconds}s: output is buffered, not line by line"
    return result[0]


# --- masking ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"Connecting to redis://worker:s3cr3t@redis:6379/0", b"Connecting to redis://worker:***@redis:6379/0"),
        (b"rediss://:tok%2Fen@cache:6380/0?ssl_cert_reqs=required", b"rediss://:***@cache:6380/0?ssl_cert_reqs=required"),
        (b"postgresql://app:p%40ss%3Aw0rd@db:5432/nl2api?sslmode=verify-full",
         b"postgresql://app:***@db:5432/nl2api?sslmode=verify-full"),
        # A raw (not percent-encoded) password with ':' and '/' is still masked whole.
        (b"postgres://u:a/b:c@h/db", b"postgres://u:***@h/db"),
        (b"two: redis://a:x@h1 and postgresql://b:y@h2/db", b"two: redis://a:***@h1 and postgresql://b:***@h2/db"),
        (b"host=db user=app password=hunter2 dbname=x", b"host=db user=app password=*** dbname=x"),
        (b"PASSWORD='with space' sslmode=require", b"PASSWORD=*** sslmode=require"),
        # No credentials: untouched.
        (b"GET http://127.0.0.1:8080/health 200", b"GET http://127.0.0.1:8080/health 200"),
        (b"redis://redis:6379/0 without auth", b"redis://redis:6379/0 without auth"),
    ],
)
def test_mask(line: bytes, expected: bytes) -> None:
    assert nl2api_run.mask(line) == expected


def test_an_overlong_line_is_cut_at_whitespace_so_a_url_is_never_split() -> None:
    masker = nl2api_run.LineMasker(limit=100)
    url = f"redis://user:{SECRET}@host:6379/0".encode()
    first = masker.feed(b"x" * 90 + b" " + url[:20])  # over the limit, no newline: cut before the URL
    assert first == b"x" * 90 + b" "
    rest = masker.feed(url[20:] + b" tail\n")
    assert rest == b"redis://user:***@host:6379/0 tail\n"
    assert masker.flush() == b""


# --- the supervisor as a process ----------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [0, 3, 42])
def test_exit_code_of_the_command_is_returned(code: int) -> None:
    process = supervise(sys.executable, "-c", f"raise SystemExit({code})")
    process.communicate(timeout=30)
    assert process.returncode == code


def test_a_command_killed_by_a_signal_gives_128_plus_the_signal() -> None:
    process = supervise("sh", "-c", "kill -KILL $$")
    process.communicate(timeout=30)
    assert process.returncode == 128 + signal.SIGKILL


def test_a_missing_command_gives_127_and_says_why() -> None:
    process = supervise("/nonexistent/nl2api-command")
    _out, err = process.communicate(timeout=30)
    assert process.returncode == 127
    assert b"cannot start /nonexistent/nl2api-command" in err


def test_usage_errors_exit_2() -> None:
    for args in ([], ["--"], ["--probe-http"], ["--probe-http", "health"]):
        result = subprocess.run([sys.executable, str(SUPERVISOR), *args],  # noqa: S603 - test argv
                                capture_output=True, timeout=30, check=False)
        assert result.returncode == 2, args
        assert b"usage: nl2api-run" in result.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signals_are_forwarded_and_the_childs_exit_code_returned(signum: signal.Signals) -> None:
    """The child handles the signal (as uvicorn does with SIGTERM), says so, and exits with a code of its own."""
    child = python_child(f"""
        import signal, sys, time
        def handler(signum, frame):
            print("child got", signum, flush=True)
            sys.exit(70 + signum)
        signal.signal({int(signum)}, handler)
        print("ready", flush=True)
        time.sleep(60)
    """)
    process = supervise(*child)
    assert read_line_within(process.stdout, 15) == b"ready\n"
    started = time.monotonic()
    process.send_signal(signum)
    out, _err = process.communicate(timeout=30)
    assert time.monotonic() - started < 10
    assert out == f"child got {int(signum)}\n".encode()
    assert process.returncode == 70 + signum


def test_sigterm_reaches_a_child_that_ignores_it_only_once_and_a_second_signal_too() -> None:
    """Like the real worker while idle: SIGTERM only sets a flag. The supervisor keeps supervising (it neither exits
    nor kills the child on its own); the orchestrator's SIGKILL after the grace period is what ends it."""
    child = python_child("""
        import signal, time
        count = 0
        def handler(signum, frame):
            global count
            count += 1
            print("term", count, flush=True)
        signal.signal(signal.SIGTERM, handler)
        print("ready", flush=True)
        while count < 2:
            time.sleep(0.05)
        raise SystemExit(0)
    """)
    process = supervise(*child)
    assert read_line_within(process.stdout, 15) == b"ready\n"
    process.send_signal(signal.SIGTERM)
    assert read_line_within(process.stdout, 10) == b"term 1\n"
    assert process.poll() is None, "the supervisor exited although its child is still running"
    process.send_signal(signal.SIGTERM)
    out, _err = process.communicate(timeout=30)
    assert out == b"term 2\n"
    assert process.returncode == 0


def test_credentials_are_masked_on_both_streams_which_stay_separate() -> None:
    child = python_child(f"""
        import logging, sys
        print("stdout redis://worker:{SECRET}@redis:6379/0")
        logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
        logging.info("Connecting to Redis at rediss://worker:{SECRET}@cache:6380/0")
        logging.error("connect failed: postgresql://app:{SECRET}@db:5432/nl2api password={SECRET}")
        sys.stdout.write("no newline at the end postgres://u:{SECRET}@h/db")
    """)
    process = supervise(*child)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0
    assert SECRET.encode() not in out + err
    assert out == (b"stdout redis://worker:***@redis:6379/0\n"
                   b"no newline at the end postgres://u:***@h/db")
    assert err == (b"INFO Connecting to Redis at rediss://worker:***@cache:6380/0\n"
                   b"ERROR connect failed: postgresql://app:***@db:5432/nl2api password=***\n")


def test_lines_are_passed_on_at_once_not_at_exit() -> None:
    """Each line reaches the supervisor's stdout while the child still runs (no block buffering on the pipe)."""
    child = python_child("""
        import sys, time
        print("first line", flush=False)  # the child relies on PYTHONUNBUFFERED, which the supervisor sets
        time.sleep(30)
    """)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    process = supervise(*child, env=env)
    try:
        assert read_line_within(process.stdout, 15) == b"first line\n"
        assert process.poll() is None
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_much_output_on_both_streams_neither_deadlocks_nor_loses_bytes() -> None:
    """16 MiB on stdout and 16 MiB on stderr, interleaved, with long lines: all of it arrives, in bounded time."""
    child = python_child("""
        import sys
        line = b"y" * 1023 + b"\\n"
        for _ in range(16 * 1024):
            sys.stdout.buffer.write(line)
            sys.stderr.buffer.write(line)
        sys.stdout.buffer.write(b"z" * 300000)  # one line far longer than the 64 KiB cut
        sys.stdout.flush()
    """)
    started = time.monotonic()
    process = supervise(*child)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0
    assert len(err) == 16 * 1024 * 1024 and err.count(b"\n") == 16 * 1024
    assert len(out) == 16 * 1024 * 1024 + 300000
    assert time.monotonic() - started < 90


def zombies_of(pid: int) -> list[int]:
    """Children of `pid` that have exited but were not reaped (state Z)."""
    return [child for child, fields in process_table() if fields[0] == "Z" and int(fields[1]) == pid]


ORPHANS = "for i in 1 2 3 4 5; do (sleep 0.2 &); done; echo spawned; sleep 3; echo done"


def test_orphaned_grandchildren_are_reaped_while_the_command_runs() -> None:
    """Five grandchildren are orphaned (their parent subshell exits) and end 0.2 s later. Outside a container the
    supervisor is their child subreaper, so they become its children; it must reap them, not leave zombies."""
    process = supervise("sh", "-c", ORPHANS)
    assert read_line_within(process.stdout, 15) == b"spawned\n"
    time.sleep(1.0)
    assert zombies_of(process.pid) == []
    adopted = [entry for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    assert adopted  # /proc readable: the zombie scan above looked at something
    out, _err = process.communicate(timeout=30)
    assert out == b"done\n" and process.returncode == 0


def test_as_pid_1_of_a_pid_namespace_it_reaps_and_forwards() -> None:
    """The container case: the supervisor is PID 1 (unshare --pid), orphans are re-parented to it by the kernel."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.fail("unshare (Debian package util-linux) is needed to run the supervisor as PID 1")
    if os.geteuid() != 0:
        pytest.fail("running the supervisor as PID 1 of a new PID namespace needs root (unshare --pid)")
    script = (ORPHANS.replace("sleep 3; echo done", "sleep 1; ") +
              "for p in /proc/[0-9]*; do s=$(cut -d' ' -f3 $p/stat 2>/dev/null); [ \"$s\" = Z ] && echo zombie; done; "
              "echo pid1=$(tr '\\0' ' ' < /proc/1/cmdline | cut -c1-200); "
              "trap 'echo term; exit 9' TERM; echo waiting; while :; do sleep 0.1; done")
    process = subprocess.Popen(  # noqa: S603 - test argv
        [unshare, "--pid", "--fork", "--mount-proc", sys.executable, str(SUPERVISOR), "--", "sh", "-c", script],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = [read_line_within(process.stdout, 20) for _line in range(3)]
    assert lines[0] == b"spawned\n"
    assert lines[1].startswith(b"pid1=") and b"nl2api_run.py" in lines[1], lines
    assert lines[2] == b"waiting\n", f"zombies were left under PID 1: {lines}"
    # unshare --fork forwards nothing; signal the supervisor (PID 1 inside) directly, as the kernel/kubelet would.
    supervisor_pid = int(Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()[0])
    os.kill(supervisor_pid, signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert out == b"term\n", err
    assert process.returncode == 9


# --- --probe-http -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("cmdline", "port"),
    [
        (["python3", "/usr/local/bin/nl2api-run", "--", "python", "-m", "m", "--port", "9000"], 9000),
        (["nl2api-run", "--", "python", "-m", "m", "-p", "9001", "--host", "0.0.0.0"], 9001),
        (["nl2api-run", "--", "python", "-m", "m", "--port=9002"], 9002),
        (["nl2api-run", "--", "python", "-m", "src.evalkit.distributed"], 8080),
    ],
)
def test_supervised_port(cmdline: list[str], port: int) -> None:
    assert nl2api_run.supervised_port(cmdline) == port


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200 if self.path == "/health" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_probe_http_asks_the_port_of_the_supervised_command(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cmdline = tmp_path / "cmdline"
        port = server.server_address[1]
        cmdline.write_bytes(b"\0".join([b"python3", b"nl2api-run", b"--", b"python", b"-m", b"m", b"--port",
                                        str(port).encode()]) + b"\0")
        assert nl2api_run.probe_http("/health", str(cmdline)) == 0
        assert nl2api_run.probe_http("/ready", str(cmdline)) == 1
        server.shutdown()
        server.server_close()
        assert nl2api_run.probe_http("/health", str(cmdline)) == 1
    finally:
        server.server_close()

#!/usr/bin/env python
"""nl2api-run: the supervisor every nl2api application container starts (PID 1).

    nl2api-run [--] COMMAND [ARGS...]
    nl2api-run --probe-http PATH

Supervising a command, it:

* starts COMMAND in a process group of its own and forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2
  to it, so `docker stop` and the kubelet reach the application and not only this process;
* copies every line the command writes to stdout and stderr to its own stdout and stderr with the credentials of
  URLs masked (``scheme://user:secret@`` becomes ``scheme://user:***@``, and ``password=secret`` becomes
  ``password=***``): the application logs its Redis URL with the password at INFO and puts DSNs in connection
  errors, and no setting of its own turns that off. Lines are written as soon as they are complete (a line that
  grows past 64 KiB without a newline is written in pieces cut at whitespace), and both streams are read by
  threads of their own, so a child writing a lot to one stream never blocks on the other;
* reaps every process that ends up as its child (it is PID 1 in a container, and registers as a child subreaper
  elsewhere), so zombies of the application's own subprocesses never pile up;
* exits with the command's exit code, or 128 + N when a signal N killed it (the shell's convention).

``--probe-http PATH`` is the image's HEALTHCHECK: GET http://127.0.0.1:<port>PATH, where the port is the
``--port``/``-p`` argument of the command PID 1 supervises (the servers take their port as a flag; their
environment variables for it are ignored), 8080 when it has none. Exit 0 on HTTP 200, else 1.

Only the standard library: the runtime images carry the application's virtualenv and nothing else.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import select
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import BinaryIO

FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
#: Longest stretch without a newline held back before it is written anyway (memory bound per stream).
MAX_PENDING_BYTES = 64 * 1024
READ_CHUNK = 65536
#: How long the output of processes that outlive the command (and hold its pipes) is still copied after it exits.
DRAIN_SECONDS = 2.0
PROBE_TIMEOUT_SECONDS = 4.0
DEFAULT_PORT = 8080
PR_SET_CHILD_SUBREAPER = 36
USAGE = "usage: nl2api-run [--] COMMAND [ARGS...] | nl2api-run --probe-http PATH"

# scheme://user:password@  -> scheme://user:***@ . The user part holds no ':', '/', '@' or whitespace; the password
# part runs to the '@' (percent-encoded passwords hold no '@'), so a password with '/' or ':' is masked whole.
# The scheme's length is bounded: an unbounded one makes every long word a quadratic backtrack.
URL_CREDENTIALS = re.compile(rb"(?<![A-Za-z0-9+.\-])(?P<prefix>[A-Za-z][A-Za-z0-9+.\-]{0,31}://[^:/@\s]*:)(?P<secret>[^@\s]+)@")
# password=secret (libpq keyword DSNs, repr()s of settings); quoted values are masked up to the closing quote.
KEYWORD_PASSWORD = re.compile(rb"(?P<prefix>\bpassword\s*=\s*)(?P<secret>'[^']*'|\"[^\"]*\"|[^\s,;&)'\"]+)",
                              re.IGNORECASE)


def mask(data: bytes) -> bytes:
    """`data` with the password of every URL and every password=... setting replaced by ***."""
    if b"://" in data:
        data = URL_CREDENTIALS.sub(rb"\g<prefix>***@", data)
    if b"password" in data.lower():
        data = KEYWORD_PASSWORD.sub(rb"\g<prefix>***", data)
    return data


class LineMasker:
    """Accumulates bytes of one stream and hands back masked, complete pieces to write."""

    def __init__(self, limit: int = MAX_PENDING_BYTES) -> None:
        self.limit = limit
        self.pending = b""

    def feed(self, data: bytes) -> bytes:
        """Masked complete lines of pending + data; an over-long unfinished line is cut at its last whitespace, so
        a URL (which holds no whitespace) is never split between two pieces."""
        self.pending += data
        cut = self.pending.rfind(b"\n") + 1
        if cut == 0 and len(self.pending) > self.limit:
            cut = max(self.pending.rfind(b" "), self.pending.rfind(b"\t")) + 1 or len(self.pending)
        out, self.pending = self.pending[:cut], self.pending[cut:]
        return mask(out)

    def flush(self) -> bytes:
        """What is left at end of stream, masked."""
        out, self.pending = self.pending, b""
        return mask(out)


def write_all(stream: BinaryIO, data: bytes) -> None:
    """Write and flush; a closed or broken destination drops the output instead of killing the supervisor."""
    if not data:
        return
    with contextlib.suppress(BrokenPipeError, OSError, ValueError):
        stream.write(data)
        stream.flush()


def copy_stream(fd: int, destination: BinaryIO, child_exited: threading.Event) -> None:
    """Copy fd to destination through a LineMasker until EOF, or until DRAIN_SECONDS of quiet after the command
    exited (a daemonised grandchild may keep the pipe open for ever)."""
    masker = LineMasker()
    try:
        while True:
            timeout = DRAIN_SECONDS if child_exited.is_set() else 0.5
            readable, _writable, _exceptional = select.select([fd], [], [], timeout)
            if not readable:
                if child_exited.is_set():
                    break
                continue
            try:
                chunk = os.read(fd, READ_CHUNK)
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                break
            if not chunk:
                break
            write_all(destination, masker.feed(chunk))
    finally:
        write_all(destination, masker.flush())
        with contextlib.suppress(OSError):
            os.close(fd)


def become_subreaper() -> None:
    """Outside a container (not PID 1), orphaned descendants are re-parented to us so we can reap them too."""
    if os.getpid() == 1 or not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def exit_code_of(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


class Supervisor:
    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)
        self.child_pid: int | None = None
        self.pending_signals: list[int] = []

    def forward(self, signum: int, _frame: object) -> None:
        if self.child_pid is None:
            self.pending_signals.append(signum)
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.child_pid, signum)

    def run(self) -> int:
        for signum in FORWARDED_SIGNALS:
            signal.signal(signum, self.forward)
        become_subreaper()
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")  # Python children write lines at once into our pipes
        # rich (the producer's console) wraps at COLUMNS, 80 on a pipe: a URL cut in two lines would escape the
        # masking, which works line by line. Wide enough that nothing is wrapped.
        env.setdefault("COLUMNS", "4096")
        try:
            # process_group=0: a Ctrl-C in a terminal reaches only us, and we forward it once.
            child = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,  # noqa: S603
                                     env=env, process_group=0)
        except OSError as exc:
            write_all(sys.stderr.buffer, mask(f"nl2api-run: cannot start {self.argv[0]}: {exc}\n".encode()))
            return 127 if isinstance(exc, FileNotFoundError) else 126
        self.child_pid = child.pid
        for signum in self.pending_signals:
            self.forward(signum, None)
        child_exited = threading.Event()
        copiers = [
            threading.Thread(target=copy_stream, args=(os.dup(pipe.fileno()), out, child_exited), daemon=True)
            for pipe, out in ((child.stdout, sys.stdout.buffer), (child.stderr, sys.stderr.buffer))
        ]
        for pipe in (child.stdout, child.stderr):
            pipe.close()  # type: ignore[union-attr] - the copiers hold duplicates
        for copier in copiers:
            copier.start()
        code = self.reap_until(child.pid)
        child.returncode = code  # Popen must not try to wait for a pid we already reaped
        child_exited.set()
        for copier in copiers:
            copier.join()
        self.reap_orphans()
        return code

    @staticmethod
    def reap_until(pid: int) -> int:
        """Reap every child (orphans included) until `pid` exits; its exit code."""
        while True:
            try:
                reaped, status = os.waitpid(-1, 0)
            except ChildProcessError:
                return 1
            if reaped == pid:
                return exit_code_of(status)

    @staticmethod
    def reap_orphans() -> None:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass


def supervised_port(cmdline: Sequence[str]) -> int:
    """The --port/-p value of the supervised command line (arguments after our own '--'), else DEFAULT_PORT."""
    args = list(cmdline)
    if "--" in args:
        args = args[args.index("--") + 1:]
    for index, arg in enumerate(args):
        if arg in ("--port", "-p") and index + 1 < len(args) and args[index + 1].isdigit():
            return int(args[index + 1])
        if arg.startswith("--port=") and arg[len("--port="):].isdigit():
            return int(arg[len("--port="):])
    return DEFAULT_PORT


def probe_http(path: str, cmdline_file: str = "/proc/1/cmdline") -> int:
    try:
        with open(cmdline_file, "rb") as handle:
            cmdline = [part.decode(errors="replace") for part in handle.read().split(b"\0") if part]
    except OSError:
        cmdline = []
    url = f"http://127.0.0.1:{supervised_port(cmdline)}{path}"
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_SECONDS) as response:  # noqa: S310 - loopback
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError, ValueError) as exc:
        write_all(sys.stderr.buffer, f"nl2api-run: {url}: {exc}\n".encode())
        return 1


def main(argv: Sequence[str]) -> int:
    args = list(argv)
    if args[:1] == ["--probe-http"]:
        if len(args) != 2 or not args[1].startswith("/"):
            print(USAGE, file=sys.stderr)
            return 2
        return probe_http(args[1])
    if args[:1] == ["--"]:
        args = args[1:]
    if not args or args[0].startswith("-"):
        print(USAGE, file=sys.stderr)
        return 2
    return Supervisor(args).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

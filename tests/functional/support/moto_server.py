"""moto in server mode: a local AWS endpoint for boto3 in the tests and for Ansible's amazon.aws modules.

Server mode (a separate process on a loopback port) rather than moto's in-process mock, because the code under
test includes Ansible modules that run in their own processes and only reach AWS over HTTP. Every client gets
explicit dummy credentials, so a developer's real AWS profile can never be used by accident.
"""

from __future__ import annotations

import importlib.util
import signal
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from .errors import MissingDependencyError
from .ports import LOOPBACK, free_port
from .process import ManagedProcess, child_environment, serve_daemon, start_daemon
from .workdirs import temporary_workdir

REGION = "us-east-1"
ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"  # noqa: S105 - moto accepts any credentials; these are not secrets
STARTUP_TIMEOUT = 60.0


@dataclass(frozen=True)
class MotoServer:
    """The moto endpoint and the dummy credentials that go with it."""

    host: str
    port: int
    region: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    log_file: Path

    @property
    def endpoint_url(self) -> str:
        """The URL every AWS client must be pointed at (boto3 endpoint_url, AWS_ENDPOINT_URL)."""
        return f"http://{self.host}:{self.port}"

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for `service` bound to moto; S3 uses path-style addressing, which works with an IP
        endpoint (virtual-host style would need <bucket>.127.0.0.1 to resolve)."""
        session = boto3.session.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=self.region,
        )
        kwargs.setdefault(
            "config", Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2, "mode": "standard"})
        )
        return session.client(service, endpoint_url=self.endpoint_url, **kwargs)

    def environment(self) -> dict[str, str]:
        """Variables that point boto3/botocore in a subprocess (ansible-playbook, a container) at moto."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def reset(self) -> None:
        """Drop every resource in every moto backend, so a test starts from an empty account."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - fixed http URL
            if response.status != 200:
                raise RuntimeError(f"moto reset answered HTTP {response.status}")


@contextmanager
def run_moto(*, startup_timeout: float = STARTUP_TIMEOUT) -> Iterator[MotoServer]:
    """Start and (always) stop a moto server with this interpreter; yields its MotoServer."""
    if importlib.util.find_spec("moto.server") is None or importlib.util.find_spec("flask") is None:
        raise MissingDependencyError(
            f"moto's server mode is not importable by {sys.executable}; install the Python test dependencies "
            "(pip install -r requirements/dev.txt -c requirements/constraints.txt, which has moto[server])"
        )
    with temporary_workdir("moto") as directory, serve_daemon(
        lambda: _start(directory, startup_timeout), shutdown_signal=signal.SIGTERM, stop_timeout=15
    ) as server:
        yield server


def _start(workdir: Path, startup_timeout: float) -> tuple[MotoServer, ManagedProcess]:
    """Run `python -m moto.server` on a fresh port and wait until its management API answers."""
    port = free_port()
    log_file = workdir / "moto.log"
    server = MotoServer(
        host=LOOPBACK,
        port=port,
        region=REGION,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        log_file=log_file,
    )
    process = start_daemon(
        [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)],
        log_path=log_file,
        ready=lambda: _answers(server),
        what=f"moto on port {port}",
        timeout=startup_timeout,
        env=child_environment(MOTO_PORT=str(port)),
        cwd=workdir,
    )
    return server, process


def _answers(server: MotoServer) -> bool:
    """The readiness probe: moto's own management endpoint returns its (cheap) configuration."""
    with urllib.request.urlopen(f"{server.endpoint_url}/moto-api/config", timeout=2) as response:  # noqa: S310
        status: int = response.status
        return 200 <= status < 300

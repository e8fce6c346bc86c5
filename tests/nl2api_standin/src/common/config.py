"""Settings from the environment, in the names the Helm chart sets, and the connections they describe."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from importlib import metadata

import psycopg
import redis

_TRUE = {"1", "true", "yes", "on"}


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    return default if raw is None or raw.strip() == "" else raw.strip().lower() in _TRUE


def _env_int(name: str, default: int) -> int:
    raw = _env(name)
    return int(raw) if raw else default


def _env_float(name: str, default: float) -> float:
    raw = _env(name)
    return float(raw) if raw else default


def version() -> str:
    """The installed distribution's version, so what /metrics reports is what the wheel was built as."""
    try:
        return metadata.version("nl2api")
    except metadata.PackageNotFoundError:
        return "0+unknown"


@dataclass(frozen=True)
class DatabaseConfig:
    host: str
    port: int
    name: str
    user: str
    password: str = field(repr=False)
    sslmode: str
    sslrootcert: str

    @classmethod
    def from_env(cls) -> DatabaseConfig:
        return cls(
            host=_env("DATABASE_HOST", "localhost"),
            port=_env_int("DATABASE_PORT", 5432),
            name=_env("DATABASE_NAME", "nl2api"),
            user=_env("DATABASE_USER", "nl2api"),
            password=os.environ.get("DATABASE_PASSWORD", ""),
            sslmode=_env("DATABASE_SSLMODE", "prefer"),
            sslrootcert=_env("DATABASE_SSLROOTCERT"),
        )

    def connect(self, timeout: int = 3) -> psycopg.Connection:
        params: dict[str, object] = {
            "host": self.host,
            "port": self.port,
            "dbname": self.name,
            "user": self.user,
            "password": self.password,
            "sslmode": self.sslmode,
            "connect_timeout": timeout,
            "application_name": "nl2api",
        }
        if self.sslrootcert:
            params["sslrootcert"] = self.sslrootcert
        return psycopg.connect(autocommit=True, **params)


@dataclass(frozen=True)
class RedisConfig:
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    db: int
    tls: bool
    tls_ca_file: str

    @classmethod
    def from_env(cls) -> RedisConfig:
        return cls(
            host=_env("REDIS_HOST", "localhost"),
            port=_env_int("REDIS_PORT", 6379),
            username=_env("REDIS_USERNAME"),
            password=os.environ.get("REDIS_PASSWORD", ""),
            db=_env_int("REDIS_DB", 0),
            tls=_env_bool("REDIS_TLS"),
            tls_ca_file=_env("REDIS_TLS_CA_FILE"),
        )

    def client(self, socket_timeout: float = 5.0) -> redis.Redis:
        kwargs: dict[str, object] = {
            "host": self.host,
            "port": self.port,
            "db": self.db,
            "username": self.username or None,
            "password": self.password or None,
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": 3,
            "decode_responses": True,
        }
        if self.tls:
            kwargs["ssl"] = True
            kwargs["ssl_cert_reqs"] = "required"
            if self.tls_ca_file:
                kwargs["ssl_ca_certs"] = self.tls_ca_file
        return redis.Redis(**kwargs)


@dataclass(frozen=True)
class HttpConfig:
    host: str
    port: int

    @classmethod
    def from_env(cls) -> HttpConfig:
        return cls(host=_env("NL2API_HTTP_HOST", "0.0.0.0"), port=_env_int("NL2API_HTTP_PORT", 8080))  # noqa: S104


@dataclass(frozen=True)
class WorkerConfig:
    queue: str
    processing: str
    worker_id: str
    heartbeat_file: str
    drain_file: str
    busy_file: str
    drain_seconds: float
    poll_seconds: float
    lease_seconds: float
    reap_seconds: float

    @classmethod
    def from_env(cls) -> WorkerConfig:
        return cls(
            # QUEUE_NAME / QUEUE_PROCESSING_NAME come from the Helm chart's ConfigMap.
            queue=_env("QUEUE_NAME", "nl2api:evaluations"),
            # One processing list shared by every worker (what the chart's KEDA trigger counts).
            processing=_env("QUEUE_PROCESSING_NAME", "nl2api:evaluations:processing"),
            worker_id=_env("NL2API_WORKER_ID") or socket.gethostname(),
            heartbeat_file=_env("NL2API_WORKER_HEARTBEAT_FILE", "/tmp/nl2api-worker.heartbeat"),  # noqa: S108
            # The chart's preStop drain contract: stop taking jobs once the drain file exists; keep the busy
            # file while a job runs, so the hook waits for it before the kubelet sends SIGTERM.
            drain_file=_env("WORKER_DRAIN_FILE"),
            busy_file=_env("WORKER_BUSY_FILE"),
            drain_seconds=_env_float("NL2API_WORKER_DRAIN_SECONDS", 25.0),
            poll_seconds=_env_float("NL2API_WORKER_POLL_SECONDS", 1.0),
            # TTL of a job's lease (refreshed every third of it while the job runs), and how often the reaper
            # looks for jobs whose lease is gone.
            lease_seconds=max(_env_float("NL2API_WORKER_LEASE_SECONDS", 30.0), 1.0),
            reap_seconds=max(_env_float("NL2API_WORKER_REAP_SECONDS", 5.0), 0.1),
        )

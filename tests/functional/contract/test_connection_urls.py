"""The connection URLs have two builders, the chart's (Go: nl2api.postgresUrl, nl2api.redisUrl) and the
collection's (module_utils/connection_urls.py, which the rotation fills with a new credential): for the same data
store values and credentials, both must give the same URL, byte for byte, or a rotation would change more than the
credential (and could drop the TLS verification)."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]

from ansible_collections.nl2api.deploy.plugins.module_utils.connection_urls import (
    EndpointError, app_secret_data, postgres_url_template, redis_url_template)
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.urls import build_url

CHART = ROOT / "deploy" / "helm" / "nl2api"
HELM = str(ROOT / ".venv" / "bin" / "helm")
#: Credentials with every character that must be percent-encoded in a URL's user info.
USER, PASSWORD = "app user:1", "p@ss/w:rd#?%&=+ é"

DATABASES = {
    "verify-full with the chart's CA": {"host": "db.internal", "port": 5433, "name": "evals", "sslMode": "verify-full",
                                        "caConfigMap": {"name": "db-ca", "key": "ca.crt"}},
    "verify-full with the system trust store": {"host": "db.internal", "port": 5432, "name": "nl2api",
                                                "sslMode": "verify-full", "sslRootCert": "system"},
    "require without a CA": {"host": "db.internal", "port": 5432, "name": "nl2api", "sslMode": "require"},
}
REDISES = {
    "TLS with a private CA": {"host": "cache.internal", "port": 6380, "tls": True, "databaseIndex": 2,
                              "caConfigMap": {"name": "redis-ca", "key": "ca.crt"}},
    "TLS with public CAs": {"host": "cache.internal", "port": 6379, "tls": True, "databaseIndex": 0},
    "plain": {"host": "cache.internal", "port": 6379, "tls": False, "databaseIndex": 1},
}


def chart_secret(database: dict[str, Any], redis: dict[str, Any]) -> dict[str, str]:
    """The chart-created Secret's URLs for these stores and the credentials above (the chart's Go builder)."""
    values = {"environment": "dev", "postgresql": {"enabled": False}, "redis": {"enabled": False},
              "externalDatabase": database, "externalRedis": redis,
              "secrets": {"create": True, "values": {"postgres-username": USER.replace(" ", "_"),
                                                     "postgres-password": PASSWORD.replace(" ", "_"),
                                                     "redis-username": USER.replace(" ", "_"),
                                                     "redis-password": PASSWORD.replace(" ", "_")}}}
    rendered = subprocess.run([HELM, "template", "rel", str(CHART), "--show-only", "templates/secret.yaml",
                               "-f", "-"], input=yaml.safe_dump(values), capture_output=True, text=True, check=True)
    data = yaml.safe_load(rendered.stdout)["data"]
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


@pytest.mark.parametrize("database_case", sorted(DATABASES))
@pytest.mark.parametrize("redis_case", sorted(REDISES))
def test_the_collection_builds_the_urls_the_chart_builds(database_case: str, redis_case: str) -> None:
    database, redis = DATABASES[database_case], REDISES[redis_case]
    # The chart's values schema refuses white space in credentials; everything else is kept.
    user, password = USER.replace(" ", "_"), PASSWORD.replace(" ", "_")
    secret = chart_secret(database, redis)
    assert secret["postgres-url"] == build_url(postgres_url_template(database), user, password)
    assert secret["redis-url"] == build_url(redis_url_template(redis), user, password)


@pytest.mark.parametrize("database_case", sorted(DATABASES))
def test_the_seeded_secret_holds_what_the_chart_secret_holds(database_case: str) -> None:
    """roles/app seeds secrets.existingSecret (app_credentials_secret) with the keys of the chart's own Secret."""
    database, redis = DATABASES[database_case], REDISES["TLS with a private CA"]
    user, password = USER.replace(" ", "_"), PASSWORD.replace(" ", "_")
    chart = chart_secret(database, redis)
    seeded = app_secret_data({"postgres_username": user, "postgres_password": password, "redis_username": user,
                              "redis_password": password}, database, redis)
    shared = ("postgres-url", "postgres-migrations-url", "redis-url", "postgres-username", "postgres-password",
              "redis-username", "redis-password")
    assert {key: seeded[key] for key in shared} == {key: chart[key] for key in shared}


def test_a_password_only_redis_url_has_an_empty_user_name() -> None:
    template = redis_url_template(REDISES["TLS with public CAs"], with_username=False)
    assert template == "rediss://:{password}@cache.internal:6379/0?ssl_cert_reqs=required"
    assert build_url(template, None, PASSWORD).startswith("rediss://:p%40ss%2Fw%3Ard%23%3F%25%26%3D%2B%20%C3%A9@")


def test_a_store_without_host_names_the_key() -> None:
    with pytest.raises(EndpointError, match=r"database\.host is required"):
        postgres_url_template({"port": 5432})
    with pytest.raises(EndpointError, match=r"redis\.host is required"):
        redis_url_template({"tls": True})

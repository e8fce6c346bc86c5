# -*- coding: utf-8 -*-
"""The app Secret roles/app seeds from app_credentials (module_utils/connection_urls.py): its keys, its URLs and
the problems that stop a deploy before anything changes."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

from urllib.parse import unquote, urlsplit

import pytest

from ansible_collections.nl2api.deploy.plugins.module_utils.connection_urls import (
    APP_CREDENTIAL_KEYS,
    app_secret_data,
    app_secret_problems,
    fill,
)

DATABASE = {"host": "db.internal", "port": 5432, "name": "nl2api", "sslMode": "verify-full",
            "caConfigMap": {"name": "nl2api-database-ca", "key": "ca.crt"}}
REDIS = {"host": "master.cache.internal", "port": 6379, "tls": True, "databaseIndex": 0}
BASE = {"postgres_username": "nl2api_app_a", "postgres_password": "app/p@ss:1", "redis_password": "tok#en?%"}


def test_the_minimal_credentials_give_every_url_the_pods_read() -> None:
    data = app_secret_data(BASE, DATABASE, REDIS)
    assert sorted(data) == ["postgres-migrations-url", "postgres-password", "postgres-url", "postgres-username",
                            "redis-password", "redis-url"]
    url = urlsplit(data["postgres-url"])
    assert (url.hostname, unquote(url.username), unquote(url.password)) == ("db.internal", "nl2api_app_a", "app/p@ss:1")
    assert url.query == "sslmode=verify-full&sslrootcert=/etc/nl2api/tls/database/ca.crt"
    # Without a schema owner the migrations run as the application's login.
    assert data["postgres-migrations-url"] == data["postgres-url"]
    # A password-only Redis (an ElastiCache AUTH token): empty user name, TLS verified.
    assert data["redis-url"] == "rediss://:tok%23en%3F%25@master.cache.internal:6379/0?ssl_cert_reqs=required"
    assert "redis-username" not in data


def test_the_optional_fields_add_their_keys() -> None:
    credentials = dict(BASE, postgres_migrations_username="nl2api_owner", postgres_migrations_password="owner",
                       postgres_admin_username="admin", postgres_admin_password="adm", redis_username="app",
                       openfigi_api_key="figi", anthropic_api_key="", openai_api_key=None)
    data = app_secret_data(credentials, DATABASE, dict(REDIS, tls=False))
    assert urlsplit(data["postgres-migrations-url"]).username == "nl2api_owner"
    assert urlsplit(data["postgres-admin-url"]).username == "admin"
    assert "postgres-admin-username" not in data  # the admin only goes into its URL
    assert data["redis-url"] == "redis://app:tok%23en%3F%25@master.cache.internal:6379/0"
    assert data["openfigi-api-key"] == "figi"
    # Empty or unset optional fields write nothing (a deploy never blanks a key).
    assert "anthropic-api-key" not in data and "openai-api-key" not in data


def test_every_field_has_one_key_or_goes_only_into_a_url() -> None:
    keys = [key for dummy, key in APP_CREDENTIAL_KEYS if key]
    assert len(keys) == len(set(keys))
    assert all(key.replace("-", "_") == field for field, key in APP_CREDENTIAL_KEYS if key)


@pytest.mark.parametrize("credentials, database, redis, expected", [
    ({}, DATABASE, REDIS, ["app_credentials.postgres_username is required",
                           "app_credentials.postgres_password is required",
                           "app_credentials.redis_password is required"]),
    (dict(BASE, postgres_pasword="x"), DATABASE, REDIS,
     ["app_credentials.postgres_pasword is not a credential field; the fields are postgres_username, "
      "postgres_password, postgres_migrations_username, postgres_migrations_password, postgres_admin_username, "
      "postgres_admin_password, redis_username, redis_password, anthropic_api_key, openai_api_key, "
      "openfigi_api_key"]),
    (dict(BASE, postgres_migrations_username="owner"), DATABASE, REDIS,
     ["app_credentials.postgres_migrations_username and app_credentials.postgres_migrations_password go together"]),
    (dict(BASE, redis_password=12345), DATABASE, REDIS, ["app_credentials.redis_password must be a string, got int"]),
    (BASE, {}, {"tls": True}, ["app_external_database: database.host is required to build its URL",
                               "app_external_redis: redis.host is required to build its URL"]),
    ("postgres_password=x", DATABASE, REDIS, None),
])
def test_problems_name_the_variable_and_never_a_value(credentials, database, redis, expected) -> None:
    problems = app_secret_problems(credentials, database, redis)
    if expected is None:
        assert len(problems) == 1 and problems[0].startswith("app_credentials must be a dictionary")
    else:
        assert problems == expected
    for value in ("app/p@ss:1", "tok#en?%"):
        assert all(value not in problem for problem in problems)


def test_building_refuses_what_the_problems_name() -> None:
    with pytest.raises(ValueError, match=r"app_credentials\.redis_password is required") as raised:
        app_secret_data(dict(BASE, redis_password=""), DATABASE, REDIS)
    assert "app/p@ss:1" not in str(raised.value)


def test_fill_percent_encodes_and_refuses_a_missing_value() -> None:
    assert fill("postgresql://{username}:{password}@h/db", "a b", "p@/") == "postgresql://a%20b:p%40%2F@h/db"
    with pytest.raises(ValueError, match=r"no username for \{username\}"):
        fill("redis://{username}:{password}@h:6379/0", None, "p")

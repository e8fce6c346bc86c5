# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection URLs nl2api reads, as URL templates with ``{username}`` and ``{password}`` placeholders.

The application takes every connection as one URL (``EVAL_POSTGRES_URL``, ``EVAL_REDIS_URL``, ...), TLS settings
included. The Helm chart builds the same URLs from the same data store values (templates/_helpers.tpl,
``nl2api.postgresUrl`` and ``nl2api.redisUrl``), for its own Secret and the ExternalSecret template; this is the
Ansible side's single definition (the credential rotation's ``url_keys``, through the filters in
plugins/filter/connection_urls.py), and tests/functional/contract holds the two equal.

A data store is described as the chart's values describe it: ``externalDatabase`` (host, port, name, sslMode,
sslRootCert, caConfigMap.name) and ``externalRedis`` (host, port, tls, databaseIndex, caConfigMap.name).

* :func:`postgres_url_template`, :func:`redis_url_template`: a store's URL with ``{username}``/``{password}``.
* :func:`fill`: a template filled with a credential, percent-encoded (the rotation's ``url_keys`` and the seed).
* :func:`app_secret_problems`, :func:`app_secret_data`: the app Secret that roles/app seeds from the inventory's
  ``app_credentials`` (staging: ``secrets.existingSecret``), with the keys the chart's own Secret and its
  ExternalSecret template hold. Field names are :data:`APP_CREDENTIAL_KEYS`, defined here once.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import string
from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import quote

#: Where the chart mounts the CA bundles named by caConfigMap.
DATABASE_CA_FILE = "/etc/nl2api/tls/database/ca.crt"
REDIS_CA_FILE = "/etc/nl2api/tls/redis/ca.crt"


class EndpointError(ValueError):
    """A data store description that cannot make a URL; the message names the key."""


def _required(endpoint: Mapping[str, Any], key: str, what: str) -> str:
    value = endpoint.get(key)
    if value in (None, ""):
        raise EndpointError("%s.%s is required to build its URL" % (what, key))
    return str(value)


def _ca_configured(endpoint: Mapping[str, Any]) -> bool:
    return bool((endpoint.get("caConfigMap") or {}).get("name"))


def postgres_url_template(endpoint: Mapping[str, Any]) -> str:
    """``postgresql://{username}:{password}@host:port/name?sslmode=...[&sslrootcert=...]`` of a database."""
    host = _required(endpoint, "host", "database")
    query = ["sslmode=%s" % (endpoint.get("sslMode") or "verify-full")]
    root_cert = DATABASE_CA_FILE if _ca_configured(endpoint) else endpoint.get("sslRootCert")
    if root_cert:
        query.append("sslrootcert=%s" % root_cert)
    return "postgresql://{username}:{password}@%s:%s/%s?%s" % (
        host, endpoint.get("port") or 5432, endpoint.get("name") or "nl2api", "&".join(query))


def redis_url_template(endpoint: Mapping[str, Any], with_username: bool = True) -> str:
    """``redis[s]://{username}:{password}@host:port/db[?ssl_cert_reqs=required[&ssl_ca_certs=...]]`` of a Redis;
    ``with_username=False`` leaves the user name empty (a password-only AUTH, such as an ElastiCache AUTH token)."""
    host = _required(endpoint, "host", "redis")
    tls = endpoint.get("tls", True) in (True, "true", "True")
    url = "%s://%s:{password}@%s:%s/%s" % ("rediss" if tls else "redis", "{username}" if with_username else "",
                                           host, endpoint.get("port") or 6379, endpoint.get("databaseIndex") or 0)
    if tls:
        query = ["ssl_cert_reqs=required"]
        if _ca_configured(endpoint):
            query.append("ssl_ca_certs=%s" % REDIS_CA_FILE)
        url += "?" + "&".join(query)
    return url


def encode(value: str) -> str:
    """``value`` percent-encoded for the user info of a URL (every reserved character, UTF-8 for non-ASCII); the
    chart's ``urlquery | replace "+" "%20"`` gives the same bytes."""
    return quote(value, safe="")


def placeholders(template: str) -> Tuple[str, ...]:
    """The placeholder names of ``template`` in order; ValueError for a malformed one (a lone ``{`` or ``}``)."""
    names = []
    for dummy_literal, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if spec or conversion:
            raise ValueError("{%s} takes no format spec or conversion" % name)
        names.append(name)
    return tuple(names)


def fill(template: str, username: Optional[str], password: Optional[str]) -> str:
    """``template`` with ``{username}`` and ``{password}`` replaced by their percent-encoded values; ValueError when
    the template asks for a value the credential does not have (a password-only server and ``{username}``)."""
    values = {"username": username, "password": password}
    missing = [name for name in placeholders(template) if values.get(name) is None]
    if missing:
        raise ValueError("the credential has no %s for {%s}" % (missing[0], missing[0]))
    return template.format(**dict((name, encode(value)) for name, value in values.items() if value is not None))


#: ``app_credentials`` fields -> the key of the app Secret that holds them raw (the chart's key names). Fields whose
#: key is None only go into a URL.
APP_CREDENTIAL_KEYS = (
    ("postgres_username", "postgres-username"),
    ("postgres_password", "postgres-password"),
    ("postgres_migrations_username", "postgres-migrations-username"),
    ("postgres_migrations_password", "postgres-migrations-password"),
    ("postgres_admin_username", None),
    ("postgres_admin_password", None),
    ("redis_username", "redis-username"),
    ("redis_password", "redis-password"),
    ("anthropic_api_key", "anthropic-api-key"),
    ("openai_api_key", "openai-api-key"),
    ("openfigi_api_key", "openfigi-api-key"),
)
#: Without these the pods cannot connect; a password-only Redis (an ElastiCache AUTH token) has no redis_username.
APP_CREDENTIALS_REQUIRED = ("postgres_username", "postgres_password", "redis_password")
#: Optional pairs: both or neither (the schema owner that runs the migrations; the admin that may create extensions).
APP_CREDENTIAL_PAIRS = (("postgres_migrations_username", "postgres_migrations_password"),
                        ("postgres_admin_username", "postgres_admin_password"))


def app_secret_problems(credentials: Any, database: Any, redis: Any,
                        names: Tuple[str, str, str] = ("app_credentials", "app_external_database",
                                                       "app_external_redis")) -> List[str]:
    """Why :func:`app_secret_data` cannot build the app Secret ([] when it can). Each problem names the variable as
    the inventory writes it (``names``); no message holds a value."""
    where, database_name, redis_name = names
    if not isinstance(credentials, Mapping):
        return ["%s must be a dictionary of credential fields (%s), got %s"
                % (where, ", ".join(field for field, dummy in APP_CREDENTIAL_KEYS), type(credentials).__name__)]
    known = [field for field, dummy in APP_CREDENTIAL_KEYS]
    problems = ["%s.%s is not a credential field; the fields are %s" % (where, field, ", ".join(known))
                for field in sorted(credentials, key=str) if field not in known]
    for field in known:
        value = credentials.get(field)
        if value not in (None, "") and not isinstance(value, str):
            problems.append("%s.%s must be a string, got %s" % (where, field, type(value).__name__))
    set_fields = set(field for field in known if credentials.get(field) not in (None, ""))
    problems.extend("%s.%s is required" % (where, field) for field in APP_CREDENTIALS_REQUIRED
                    if field not in set_fields)
    for pair in APP_CREDENTIAL_PAIRS:
        if len(set_fields.intersection(pair)) == 1:
            problems.append("%s.%s and %s.%s go together" % (where, pair[0], where, pair[1]))
    for endpoint, name, builder in ((database, database_name, postgres_url_template),
                                    (redis, redis_name, redis_url_template)):
        try:
            builder(endpoint if isinstance(endpoint, Mapping) else {})
        except EndpointError as exc:
            problems.append("%s: %s" % (name, exc))
    return problems


def app_secret_data(credentials: Mapping[str, Any], database: Mapping[str, Any],
                    redis: Mapping[str, Any]) -> Dict[str, str]:
    """The app Secret's keys (raw credentials, API keys and the URLs postgres-url, postgres-migrations-url,
    postgres-admin-url, redis-url) from ``credentials``; ValueError listing :func:`app_secret_problems`."""
    problems = app_secret_problems(credentials, database, redis)
    if problems:
        raise ValueError("; ".join(problems))
    given = dict((field, credentials[field]) for field, dummy in APP_CREDENTIAL_KEYS
                 if credentials.get(field) not in (None, ""))
    data = dict((key, given[field]) for field, key in APP_CREDENTIAL_KEYS if key and field in given)
    postgres = postgres_url_template(database)
    data["postgres-url"] = fill(postgres, given["postgres_username"], given["postgres_password"])
    owner = "postgres_migrations" if "postgres_migrations_username" in given else "postgres"
    data["postgres-migrations-url"] = fill(postgres, given[owner + "_username"], given[owner + "_password"])
    if "postgres_admin_username" in given:
        data["postgres-admin-url"] = fill(postgres, given["postgres_admin_username"], given["postgres_admin_password"])
    redis_user = given.get("redis_username")
    data["redis-url"] = fill(redis_url_template(redis, with_username=bool(redis_user)), redis_user,
                             given["redis_password"])
    return dict(sorted(data.items()))

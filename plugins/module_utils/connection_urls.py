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
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

from typing import Any, Mapping

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

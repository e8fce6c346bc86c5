# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared Redis connection options for the collection's modules (documented in ``doc_fragments/redis.py``).

    from ansible_collections.nl2api.deploy.plugins.module_utils.redis_connection import (
        redis_argument_spec, redis_client, require_redis)

    module = AnsibleModule(argument_spec=dict(redis_argument_spec(), ...), ...)
    require_redis(module)
    client = redis_client(module.params, defaults={"host": ..., "port": ..., "tls": ...})

The redis-py import is guarded, so this file imports (and :func:`redis_client_kwargs` works) without redis-py;
:func:`require_redis` fails the module with Ansible's standard "missing required library" message.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import traceback
from typing import Any, Dict, Mapping, Optional, Tuple

from ansible_collections.nl2api.deploy.plugins.module_utils._common import require_lib

try:
    import redis  # pylint: disable=unused-import

    HAS_REDIS = True
    REDIS_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised by ansible-test's import sanity test
    redis = None
    HAS_REDIS = False
    REDIS_IMPORT_ERROR = traceback.format_exc()

DEFAULT_HOST = "localhost"
DEFAULT_PORT = 6379
DEFAULT_CONNECT_TIMEOUT = 5.0


def redis_argument_spec() -> Dict[str, Dict[str, Any]]:
    """Argument spec of the shared connection options. Options without a default are ``None`` when not set, so a
    module can fall back on what it knows of the server (see ``defaults`` of :func:`redis_client_kwargs`)."""
    return dict(
        login_host=dict(type="str", aliases=["redis_host"]),
        login_port=dict(type="int", aliases=["redis_port"]),
        login_user=dict(type="str", aliases=["redis_user"]),
        login_password=dict(type="str", no_log=True, aliases=["redis_password"]),
        login_db=dict(type="int"),
        tls=dict(type="bool"),
        validate_certs=dict(type="bool", default=True, aliases=["tls_verify"]),
        ca_file=dict(type="path", aliases=["ca_certs"]),
        client_cert_file=dict(type="path"),
        client_key_file=dict(type="path"),
        connect_timeout=dict(type="float", default=DEFAULT_CONNECT_TIMEOUT),
    )


#: For AnsibleModule(required_together=...).
REDIS_REQUIRED_TOGETHER = [("client_cert_file", "client_key_file")]


def split_address(address: str) -> Tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6 literals) to ``(host, port)``; ValueError when malformed."""
    text = (address or "").strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError("an IPv6 address must be written [address]:port")
        port_text = rest[1:]
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise ValueError("must be host:port")
        if ":" in host:
            raise ValueError("an IPv6 address must be written [address]:port")
    if not host:
        raise ValueError("the host is empty")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError("the port must be a number between 1 and 65535")
    return host, int(port_text)


def redis_client_kwargs(params: Mapping[str, Any], defaults: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Keyword arguments for ``redis.Redis`` from the shared options.

    ``defaults`` may give ``host``, ``port``, ``db`` and ``tls`` to use where the options are not set (the module's
    own knowledge of the server); otherwise localhost:6379, db 0, no TLS. Raises ValueError for inconsistent TLS
    settings. Only arguments that redis-py has had since 4.x are used."""
    defaults = defaults or {}

    def pick(option: str, key: str, fallback: Any) -> Any:
        value = params.get(option)
        if value is None:
            value = defaults.get(key)
        return fallback if value is None else value

    tls = bool(pick("tls", "tls", False))
    kwargs: Dict[str, Any] = {
        "host": pick("login_host", "host", DEFAULT_HOST),
        "port": int(pick("login_port", "port", DEFAULT_PORT)),
        "db": int(pick("login_db", "db", 0)),
        "username": params.get("login_user") or None,
        "password": params.get("login_password") or None,
        "socket_timeout": float(params.get("connect_timeout") or DEFAULT_CONNECT_TIMEOUT),
        "socket_connect_timeout": float(params.get("connect_timeout") or DEFAULT_CONNECT_TIMEOUT),
        "decode_responses": True,
    }
    if kwargs["username"] and not kwargs["password"]:
        raise ValueError("login_user is set but login_password is not")
    tls_files = [name for name in ("ca_file", "client_cert_file", "client_key_file") if params.get(name)]
    if not tls:
        if tls_files:
            raise ValueError("%s only applies with tls=true" % ", ".join(tls_files))
        return kwargs
    verify = params.get("validate_certs")
    verify = True if verify is None else bool(verify)
    kwargs.update(
        ssl=True,
        ssl_cert_reqs="required" if verify else "none",
        ssl_check_hostname=verify,
    )
    if params.get("ca_file"):
        kwargs["ssl_ca_certs"] = params["ca_file"]
    if params.get("client_cert_file"):
        kwargs["ssl_certfile"] = params["client_cert_file"]
        kwargs["ssl_keyfile"] = params.get("client_key_file")
    return kwargs


def describe_endpoint(kwargs: Mapping[str, Any]) -> str:
    """``redis[s]://user@host:port/db`` for messages: never the password."""
    scheme = "rediss" if kwargs.get("ssl") else "redis"
    user = "%s@" % kwargs["username"] if kwargs.get("username") else ""
    host = kwargs.get("host", DEFAULT_HOST)
    if ":" in str(host):
        host = "[%s]" % host
    return "%s://%s%s:%s/%s" % (scheme, user, host, kwargs.get("port", DEFAULT_PORT), kwargs.get("db", 0))


def redis_client(params: Mapping[str, Any], defaults: Optional[Mapping[str, Any]] = None) -> Any:
    """A ``redis.Redis`` client for the shared options (no connection is made until the first command).

    One immediate retry on connection errors instead of redis-py's default backoff: a task against a wrong host,
    password or CA fails within a second or two rather than several. Raises ValueError for inconsistent options."""
    require_lib(HAS_REDIS, "redis")
    kwargs = redis_client_kwargs(params, defaults)
    try:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        kwargs["retry"] = Retry(NoBackoff(), 1)
    except ImportError:  # pragma: no cover - redis-py before 4.1 has no retry policy to configure
        pass
    return redis.Redis(**kwargs)


def require_redis(module: Any) -> None:
    """Fail ``module`` the Ansible way (require_lib's message, the import's traceback) when redis-py cannot be
    imported."""
    try:
        require_lib(HAS_REDIS, "redis")
    except ImportError as exc:
        module.fail_json(msg=str(exc), exception=REDIS_IMPORT_ERROR)

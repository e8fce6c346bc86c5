# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the depth of the Redis lists the worker autoscaler counts.

One round trip: ``LLEN`` of every list in a pipeline without MULTI, so a least-privilege ACL user such as
``user scaler on >... ~nl2api:* +llen +ping +hello +auth`` is enough (add ``+select`` for a database other than 0).
Errors become :class:`QueueReadError` with a message naming the option to fix; passwords never appear in them.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Sequence

from ansible_collections.nl2api.deploy.plugins.module_utils.redis_connection import (
    HAS_REDIS,
    describe_endpoint,
    redis_client,
    redis_client_kwargs,
)

if HAS_REDIS:
    from redis import exceptions as redis_exceptions
else:  # pragma: no cover - the module fails earlier through require_redis()
    redis_exceptions = None


class QueueReadError(Exception):
    """Reading the queue failed; the message says why and which option to change."""


@dataclass(frozen=True)
class QueueDepth:
    """Length of each list (a missing key is an empty list) and their sum."""

    lists: Dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.lists.values())

    def to_dict(self) -> Dict[str, Any]:
        return {"lists": dict(self.lists), "total": self.total}


def _classify(exc: Exception, endpoint: str, key: Optional[str] = None) -> QueueReadError:
    """A QueueReadError for a redis-py exception, naming the option that most likely needs a change."""
    text = str(exc)
    if redis_exceptions is not None:
        if isinstance(exc, redis_exceptions.AuthenticationError) or "WRONGPASS" in text:
            return QueueReadError("Redis at %s rejected the credentials (%s): check login_user and login_password"
                                  % (endpoint, text))
        if isinstance(exc, getattr(redis_exceptions, "NoPermissionError", ())) or text.startswith("NOPERM") \
                or "no permissions" in text.lower():
            return QueueReadError("the Redis user at %s may not read %s (%s): its ACL needs +llen and a key pattern "
                                  "covering the list, e.g. ~nl2api:*" % (endpoint, repr(key) if key else "the lists", text))
        if isinstance(exc, redis_exceptions.ResponseError) and text.startswith("WRONGTYPE"):
            return QueueReadError("key %r at %s is not a list (%s): fix queue.lists / queue.processing_lists"
                                  % (key, endpoint, text))
        if isinstance(exc, (redis_exceptions.ConnectionError, redis_exceptions.TimeoutError)):
            if "certificate" in text.lower() or "ssl" in text.lower() or "tls" in text.lower():
                return QueueReadError("TLS with Redis at %s failed (%s): check ca_file, validate_certs and tls"
                                      % (endpoint, text))
            return QueueReadError("cannot reach Redis at %s (%s): check login_host, login_port and tls"
                                  % (endpoint, text))
    return QueueReadError("reading the queue at %s failed: %s" % (endpoint, text))


def read_list_lengths(client: Any, names: Sequence[str], endpoint: str = "redis") -> QueueDepth:
    """``LLEN`` of every list in ``names``, pipelined (no MULTI) in one round trip."""
    if not names:
        return QueueDepth({})
    try:
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.llen(name)
        results = pipe.execute(raise_on_error=False)
    except Exception as exc:  # pylint: disable=broad-except
        raise _classify(exc, endpoint) from exc
    lengths: Dict[str, int] = {}
    for name, result in zip(names, results):
        if isinstance(result, Exception):
            raise _classify(result, endpoint, name) from result
        lengths[name] = int(result)
    return QueueDepth(lengths)


def read_queue_depth(
    params: Mapping[str, Any], names: Sequence[str], defaults: Optional[Mapping[str, Any]] = None
) -> QueueDepth:
    """Connect with the shared Redis options (see ``redis_connection``) and read the lists' lengths.

    Raises QueueReadError (also for inconsistent connection options)."""
    if not HAS_REDIS:
        raise QueueReadError("the redis Python library (redis-py) is required to read the queue depth")
    try:
        endpoint = describe_endpoint(redis_client_kwargs(params, defaults))
    except ValueError as exc:
        raise QueueReadError("Redis connection options: %s" % exc) from exc
    try:
        client = redis_client(params, defaults)
    except Exception as exc:  # pylint: disable=broad-except
        raise _classify(exc, endpoint) from exc
    try:
        return read_list_lengths(client, names, endpoint)
    finally:
        try:
            client.close()
        except Exception:  # pylint: disable=broad-except
            pass

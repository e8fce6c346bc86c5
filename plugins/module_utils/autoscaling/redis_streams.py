# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read what the worker autoscaler sees on a batch's task stream: the consumer group's ``lag`` and ``pending``.

One ``XINFO GROUPS <stream>`` gives both (Redis >= 7; Redis 6 has no ``lag`` field). Like KEDA's ``redis-streams``
scaler, a missing stream counts as empty, and a stream whose group does not exist yet counts all its entries
(``XLEN``) as lag. So a least-privilege ACL user such as

    user scaler on >... resetkeys ~eval:tasks:* resetchannels -@all +xinfo|groups +xlen +ping +hello +auth

is enough (add ``+select`` for a database other than 0). KEDA's own scaler user needs ``+info`` as well (it checks
the server version before reading the lag) and ``+xpending`` for the pending trigger.
Errors become :class:`QueueReadError` with a message naming the option to fix; passwords never appear in them.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

from ansible_collections.nl2api.deploy.plugins.module_utils._common import require_lib
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

#: The ACL the module's read needs, and the one KEDA's scaler needs (documented in the module and the RUNBOOK).
MODULE_ACL = ("~eval:tasks:*", "+xinfo|groups", "+xlen", "+ping", "+hello", "+auth")
KEDA_SCALER_ACL = ("~eval:tasks:*", "+info", "+xinfo|groups", "+xlen", "+xpending", "+ping", "+hello", "+auth")


class QueueReadError(Exception):
    """Reading the stream failed; the message says why and which option to change."""


@dataclass(frozen=True)
class StreamDepth:
    """The group's view of one stream. ``lag`` is ``None`` when Redis cannot determine it (entries deleted or
    trimmed before delivery); KEDA then reads a negative number, that is no backlog."""

    stream: str
    group: str
    lag: Optional[int]
    pending: int
    stream_exists: bool = True
    group_exists: bool = True

    @property
    def total(self) -> int:
        """Tasks not yet acked: waiting plus running."""
        return (self.lag or 0) + self.pending

    def to_dict(self) -> Dict[str, Any]:
        return {"stream": self.stream, "consumer_group": self.group, "lag": self.lag, "pending": self.pending,
                "total": self.total, "stream_exists": self.stream_exists, "group_exists": self.group_exists}


def _classify(exc: Exception, endpoint: str, stream: Optional[str] = None) -> QueueReadError:
    """A QueueReadError for a redis-py exception, naming the option that most likely needs a change."""
    text = str(exc)
    if redis_exceptions is not None:
        if isinstance(exc, redis_exceptions.AuthenticationError) or "WRONGPASS" in text:
            return QueueReadError("Redis at %s rejected the credentials (%s): check login_user and login_password"
                                  % (endpoint, text))
        if isinstance(exc, getattr(redis_exceptions, "NoPermissionError", ())) or text.startswith("NOPERM") \
                or "no permissions" in text.lower():
            return QueueReadError("the Redis user at %s may not read %s (%s): its ACL needs %s"
                                  % (endpoint, repr(stream) if stream else "the stream", text, " ".join(MODULE_ACL)))
        if isinstance(exc, redis_exceptions.ResponseError) and text.startswith("WRONGTYPE"):
            return QueueReadError("key %r at %s is not a stream (%s): check batch_id" % (stream, endpoint, text))
        if isinstance(exc, (redis_exceptions.ConnectionError, redis_exceptions.TimeoutError)):
            if "certificate" in text.lower() or "ssl" in text.lower() or "tls" in text.lower():
                return QueueReadError("TLS with Redis at %s failed (%s): check ca_file, validate_certs and tls"
                                      % (endpoint, text))
            return QueueReadError("cannot reach Redis at %s (%s): check login_host, login_port and tls"
                                  % (endpoint, text))
    return QueueReadError("reading the stream at %s failed: %s" % (endpoint, text))


def _field(group: Mapping[Any, Any], name: str) -> Any:
    """A field of one XINFO GROUPS entry, whether the client decoded the reply or not."""
    for key in (name, name.encode()):
        if key in group:
            return group[key]
    raise KeyError(name)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_group_depth(client: Any, stream: str, group: str, endpoint: str = "redis") -> StreamDepth:
    """The lag and pending count of ``group`` on ``stream`` (what KEDA's lag and pending triggers read)."""
    try:
        groups = client.xinfo_groups(stream)
    except Exception as exc:  # pylint: disable=broad-except
        if "no such key" in str(exc).lower():
            return StreamDepth(stream, group, lag=0, pending=0, stream_exists=False, group_exists=False)
        raise _classify(exc, endpoint, stream) from exc
    for entry in groups:
        if _text(_field(entry, "name")) != group:
            continue
        try:
            lag = _field(entry, "lag")
        except KeyError:
            raise QueueReadError("Redis at %s reports no consumer-group lag: it is older than 7.0, and KEDA's "
                                 "lagCount (the only redis-streams mode that scales from zero) needs Redis 7 or "
                                 "later" % endpoint) from None
        return StreamDepth(stream, group, lag=None if lag is None else int(lag), pending=int(_field(entry, "pending")))
    # The producer creates the group before it adds a task, so this is a stream nobody consumes yet.
    try:
        length = int(client.xlen(stream))
    except Exception as exc:  # pylint: disable=broad-except
        raise _classify(exc, endpoint, stream) from exc
    return StreamDepth(stream, group, lag=length, pending=0, group_exists=False)


def read_queue_depth(
    params: Mapping[str, Any], stream: str, group: str, defaults: Optional[Mapping[str, Any]] = None
) -> StreamDepth:
    """Connect with the shared Redis options (see ``redis_connection``) and read the group's depth on ``stream``.

    Raises QueueReadError (also for inconsistent connection options)."""
    require_lib(HAS_REDIS, "redis", QueueReadError, reason="read_queue_depth")
    try:
        endpoint = describe_endpoint(redis_client_kwargs(params, defaults))
    except ValueError as exc:
        raise QueueReadError("Redis connection options: %s" % exc) from exc
    try:
        client = redis_client(params, defaults)
    except Exception as exc:  # pylint: disable=broad-except
        raise _classify(exc, endpoint) from exc
    try:
        return read_group_depth(client, stream, group, endpoint)
    finally:
        try:
            client.close()
        except Exception:  # pylint: disable=broad-except
            pass

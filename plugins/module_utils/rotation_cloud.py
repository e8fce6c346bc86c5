# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cloud backends and consumers of nl2api.deploy.credential_rotation (see credential_rotation.py for the engine).

Backends (:func:`build_backend`):

* ``elasticache``: the AUTH token of an ElastiCache replication group. set_secret is ``ModifyReplicationGroup``
  with ``AuthTokenUpdateStrategy=ROTATE`` (the old and the new token are both accepted), revoke is the same call
  with ``SET`` (only the new one is left); both wait until the group is ``available`` again.
* ``azure_redis``: the two access keys of an Azure Cache for Redis. The keys alternate: the pending slot is the one
  not in use, Azure generates its new value (``regenerateKey`` then ``listKeys``), revoke regenerates the previous
  slot so its old value stops working.

Consumers (:func:`build_consumer`):

* ``aws_secretsmanager``: a JSON SecretString; the listed keys are merged into it (other keys are kept), written
  only when a value differs; the secret is created when absent and ``create: true``.
* ``azure_keyvault``: one Key Vault secret per key, written only when its value differs.

Every remote call goes through one seam (a boto3 client given to the constructor, ``_RestClient.request`` for the
Azure REST APIs, ``redis_factory`` for the test connections), so the unit tests exercise the real request building.
AWS clients are made by the collection's shared ``module_utils/aws_client.py`` (the AWS modules' client creation),
from this module's option names (``aws_access_key_id`` ...). No message, statement or exception text carries a
secret: they are masked as ``********``.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import json
import os
import re
import time
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional

from ansible.module_utils.urls import ConnectionError as UrlsConnectionError, open_url

from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlsplit

from ansible_collections.nl2api.deploy.plugins.module_utils.aws_client import (
    HAS_BOTO3,
    MASK,
    aws_client as shared_aws_client,
    error_code,
    mask,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.credential_rotation import (
    Backend,
    Consumer,
    Credential,
    RotationError,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.redis_connection import (
    describe_endpoint,
    redis_client,
    redis_client_kwargs,
)

#: ElastiCache AUTH tokens: 16 to 128 printable ASCII characters, none of ``/``, ``"``, ``@`` or space.
ELASTICACHE_TOKEN_MIN = 16
ELASTICACHE_TOKEN_MAX = 128
ELASTICACHE_FORBIDDEN = frozenset('/"@ ')
ELASTICACHE_WAIT_TIMEOUT = 1800.0
ELASTICACHE_POLL_INTERVAL = 15.0

AZURE_ARM_ENDPOINT = "https://management.azure.com"
AZURE_REDIS_API_VERSION = "2024-11-01"
AZURE_REDIS_TLS_PORT = 6380
AZURE_TOKEN_ENV = "AZURE_ACCESS_TOKEN"
KEYVAULT_TOKEN_ENV = "AZURE_KEYVAULT_ACCESS_TOKEN"
KEYVAULT_API_VERSION = "7.4"
KEYVAULT_NAME_RE = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
HTTP_TIMEOUT = 30.0

SLOTS = ("primary", "secondary")
CREDENTIAL_FIELDS = ("username", "password")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


# --------------------------------------------------------------------------------------------------------------------
# Helpers


def mask_secrets(text: Any, secrets: Iterable[Optional[str]]) -> str:
    """``text`` with every occurrence of each (non-empty) secret replaced by ``********``."""
    return mask(str(text), [secret for secret in secrets if secret])


def _make_credential(username: Optional[str], password: str, slot: Optional[str] = None) -> Credential:
    if slot is None:
        return Credential(username, password)
    return Credential(username, password, slot=slot)


def _require_boto3() -> None:
    if not HAS_BOTO3:
        from ansible.module_utils.basic import missing_required_lib

        raise RotationError(missing_required_lib("boto3"))


def _option_error(prefix: str, option: str, message: str) -> RotationError:
    return RotationError("%s.%s %s" % (prefix, option, message))


#: This module's AWS option names (``elasticache``, ``consumers[]`` of type aws_secretsmanager) -> the shared
#: connection options of module_utils/aws_client.py.
AWS_OPTION_NAMES = (
    ("region", "region"),
    ("endpoint_url", "endpoint_url"),
    ("profile", "profile"),
    ("aws_access_key_id", "access_key"),
    ("aws_secret_access_key", "secret_key"),
    ("session_token", "session_token"),
)


class _RaisingModule(object):
    """The part of an AnsibleModule the shared ``aws_client`` uses: ``fail_json`` raises RotationError instead (the
    engine saves its state and reports the error)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def fail_json(self, msg: str, **kwargs: Any) -> None:
        raise RotationError("%s: %s" % (self.prefix, msg))


def aws_params(params: Mapping[str, Any]) -> Dict[str, Any]:
    """The shared connection options from this module's names; unset options stay None (boto3 resolves them)."""
    shared = dict((name, params.get(option) or None) for option, name in AWS_OPTION_NAMES)
    # elasticache.validate_certs is the test connection's (Redis TLS), not the AWS API's: boto3 always verifies.
    shared["validate_certs"] = True
    return shared


def aws_client(service: str, params: Mapping[str, Any], prefix: str) -> Any:
    """A boto3 client from the AWS options (region, endpoint_url, aws_access_key_id, aws_secret_access_key,
    session_token, profile), made by the shared module_utils/aws_client.py; ``prefix`` names the option block in
    error messages."""
    _require_boto3()
    access_key = params.get("aws_access_key_id")
    secret_key = params.get("aws_secret_access_key")
    if bool(access_key) != bool(secret_key):
        raise _option_error(prefix, "aws_access_key_id", "and aws_secret_access_key must be set together")
    if params.get("profile") and access_key:
        raise _option_error(prefix, "profile", "and aws_access_key_id are mutually exclusive")
    if params.get("session_token") and not access_key:
        raise _option_error(prefix, "session_token", "needs aws_access_key_id and aws_secret_access_key")
    return shared_aws_client(_RaisingModule(prefix), service, aws_params(params))


def _aws_error(exc: Exception, action: str, secrets: Iterable[Optional[str]]) -> RotationError:
    """A RotationError for a boto3/botocore failure, secrets masked."""
    return RotationError(mask_secrets("%s failed: %s" % (action, exc), secrets))


def _check_https(url: str, option: str) -> str:
    """Bearer tokens only travel over https (plain http is allowed for loopback test endpoints only)."""
    parts = urlsplit(url or "")
    if parts.scheme == "https" and parts.hostname:
        return url.rstrip("/")
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return url.rstrip("/")
    raise RotationError("%s must be an https:// URL (got %r)" % (option, url))


def _resolve_token(value: Optional[str], env_name: str, option: str) -> str:
    token = value or os.environ.get(env_name)
    if not token:
        raise RotationError("%s is required (or set the %s environment variable)" % (option, env_name))
    return token


def _redis_test(
    factory: Callable[..., Any], connection: Mapping[str, Any], credential: Credential, what: str
) -> None:
    """Open a new connection with ``credential`` and PING; RotationError (secret masked) when that fails."""
    password = credential.password
    try:
        client = factory(connection, password)
    except (ValueError, ImportError) as exc:
        raise RotationError(mask_secrets("%s: %s" % (what, exc), [password])) from None
    try:
        endpoint = describe_endpoint(redis_client_kwargs(_redis_params(connection, None)))
    except ValueError:
        endpoint = "%s:%s" % (connection.get("host"), connection.get("port"))
    try:
        if not client.ping():
            raise RotationError("%s: PING to %s did not answer PONG" % (what, endpoint))
    except RotationError:
        raise
    except Exception as exc:  # pylint: disable=broad-except
        raise RotationError(
            mask_secrets("%s: the new secret does not work on %s: %s: %s" % (what, endpoint, type(exc).__name__, exc),
                         [password])
        ) from None
    finally:
        close = getattr(client, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # pylint: disable=broad-except
                pass


def _redis_params(connection: Mapping[str, Any], password: Optional[str]) -> Dict[str, Any]:
    """Shared redis_connection options for a test connection (host, port, tls, ca_file, validate_certs)."""
    return {
        "login_host": connection.get("host"),
        "login_port": connection.get("port"),
        "login_password": password,
        "tls": connection.get("tls"),
        "ca_file": connection.get("ca_file") if connection.get("tls") else None,
        "validate_certs": connection.get("validate_certs", True),
        "connect_timeout": connection.get("connect_timeout") or 5.0,
    }


def default_redis_factory(connection: Mapping[str, Any], password: str) -> Any:
    """A redis-py client for a test connection with a password and no username (the ``default`` user)."""
    return redis_client(_redis_params(connection, password))


class _RestClient(object):
    """JSON over HTTPS with a bearer token (urllib; the only place the Azure backends touch the network)."""

    def __init__(self, token: str, timeout: float = HTTP_TIMEOUT, secrets: Callable[[], List[str]] = list) -> None:
        self._token = token
        self._timeout = timeout
        self._secrets = secrets

    def request(self, method: str, url: str, body: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """Send one request; returns the decoded JSON object ({} for an empty body). A 404 raises
        :class:`NotFound`; any other error status a RotationError with Azure's error code and message."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Authorization": "Bearer %s" % self._token, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        secrets = [self._token] + list(self._secrets())
        target = "%s %s" % (method, url.split("?", 1)[0])
        try:
            # No redirects: the bearer token must not follow one to another host. https: see _check_https.
            response = open_url(url, data=data, headers=headers, method=method, timeout=self._timeout,
                                follow_redirects="none", use_netrc=False)
            try:
                payload = response.read()
            finally:
                response.close()
        except HTTPError as exc:
            detail = _azure_error_detail(exc)
            if exc.code == 404:
                raise NotFound(mask_secrets("%s: HTTP 404%s" % (target, detail), secrets)) from None
            raise RotationError(mask_secrets("%s: HTTP %s%s" % (target, exc.code, detail), secrets)) from None
        except (URLError, UrlsConnectionError, OSError) as exc:
            raise RotationError(mask_secrets("%s: %s" % (target, getattr(exc, "reason", exc)), secrets)) from None
        if not payload:
            return {}
        try:
            decoded = json.loads(payload.decode("utf-8"))
        except ValueError:
            raise RotationError("%s: the answer is not JSON" % target) from None
        if not isinstance(decoded, dict):
            raise RotationError("%s: the answer is not a JSON object" % target)
        return decoded


class NotFound(RotationError):
    """HTTP 404 from an Azure REST API."""


def _azure_error_detail(exc: Any) -> str:
    """``: <code>: <message>`` from an Azure error body ({"error": {"code", "message"}}), or ""."""
    try:
        body = json.loads(exc.read().decode("utf-8"))
        error = body.get("error") or {}
        parts = [str(error[k]) for k in ("code", "message") if error.get(k)]
        return ": %s" % ": ".join(parts) if parts else ""
    except Exception:  # pylint: disable=broad-except
        return ""


# --------------------------------------------------------------------------------------------------------------------
# Backends


def elasticache_alphabet_problems(alphabet: str, length: int) -> List[str]:
    """Why a password generator with ``alphabet`` and ``length`` cannot make ElastiCache AUTH tokens ([] when it can)."""
    problems = []
    if not ELASTICACHE_TOKEN_MIN <= int(length) <= ELASTICACHE_TOKEN_MAX:
        problems.append(
            "password_length must be between %d and %d for ElastiCache AUTH tokens (got %d)"
            % (ELASTICACHE_TOKEN_MIN, ELASTICACHE_TOKEN_MAX, int(length))
        )
    bad = sorted({c for c in alphabet if c in ELASTICACHE_FORBIDDEN or not 0x21 <= ord(c) <= 0x7E})
    if bad:
        problems.append(
            "password_alphabet/password_symbols contain characters ElastiCache AUTH tokens do not allow: %s"
            " (only printable ASCII without '/', '\"', '@' and space)" % ", ".join(repr(c) for c in bad)
        )
    return problems


def elasticache_token_ok(token: str) -> bool:
    """Whether ``token`` is a valid ElastiCache AUTH token."""
    return ELASTICACHE_TOKEN_MIN <= len(token) <= ELASTICACHE_TOKEN_MAX and not elasticache_alphabet_problems(
        token, len(token)
    )


class ElastiCacheBackend(Backend):
    """The AUTH token of an ElastiCache (Redis OSS/Valkey) replication group: ROTATE, test, SET."""

    name = "elasticache"
    server_generated = False

    def __init__(
        self,
        params: Mapping[str, Any],
        client: Any = None,
        redis_factory: Callable[..., Any] = default_redis_factory,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.params = dict(params)
        self.group_id = self.params.get("replication_group_id")
        if not self.group_id:
            raise RotationError("elasticache.replication_group_id is required")
        if not self.params.get("host"):
            raise RotationError("elasticache.host is required (the endpoint test_secret connects to)")
        self.wait_timeout = float(self.params.get("wait_timeout") or ELASTICACHE_WAIT_TIMEOUT)
        self.poll_interval = float(self.params.get("poll_interval") or ELASTICACHE_POLL_INTERVAL)
        self.connection = {
            "host": self.params["host"],
            "port": self.params.get("port") or 6379,
            "tls": True if self.params.get("tls") is None else self.params.get("tls"),
            "ca_file": self.params.get("ca_file"),
            "validate_certs": self.params.get("validate_certs", True),
            "connect_timeout": self.params.get("connect_timeout"),
        }
        self._client = client
        self.redis_factory = redis_factory
        self._sleep = sleep
        self._clock = clock
        self._secrets: List[str] = []

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws_client("elasticache", self.params, "elasticache")
        return self._client

    def allowed_alphabet(self, alphabet: str, length: int) -> None:
        problems = elasticache_alphabet_problems(alphabet, length)
        if problems:
            raise RotationError("; ".join(problems))

    def pending_identity(self, current_public: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
        # One token slot pair managed by ElastiCache itself: no user name, nothing alternates on our side.
        return {"username": None}

    def describe_group(self) -> Dict[str, Any]:
        try:
            answer = self.client.describe_replication_groups(ReplicationGroupId=self.group_id)
        except Exception as exc:  # pylint: disable=broad-except
            if error_code(exc) == "ReplicationGroupNotFoundFault":
                raise RotationError(
                    "elasticache.replication_group_id: replication group %s does not exist" % self.group_id
                ) from None
            raise _aws_error(exc, "DescribeReplicationGroups %s" % self.group_id, self._secrets) from None
        groups = answer.get("ReplicationGroups") or []
        if not groups:
            raise RotationError("elasticache.replication_group_id: replication group %s does not exist" % self.group_id)
        return groups[0]

    def wait_available(self) -> Dict[str, Any]:
        """Poll until the group's Status is ``available``; RotationError after ``wait_timeout`` seconds or when the
        group is failing or going away."""
        deadline = self._clock() + self.wait_timeout
        while True:
            group = self.describe_group()
            status = group.get("Status")
            if status == "available":
                return group
            if status in ("create-failed", "deleting", "deleted"):
                raise RotationError("replication group %s is %s" % (self.group_id, status))
            if self._clock() >= deadline:
                raise RotationError(
                    "replication group %s still %s after %d seconds (elasticache.wait_timeout)"
                    % (self.group_id, status, self.wait_timeout)
                )
            self._sleep(self.poll_interval)

    def _statement(self, strategy: str) -> str:
        return "elasticache ModifyReplicationGroup ReplicationGroupId=%s AuthToken=%s AuthTokenUpdateStrategy=%s " \
            "ApplyImmediately=true" % (self.group_id, MASK, strategy)

    def _modify(self, token: str, strategy: str, check_mode: bool) -> List[str]:
        if not elasticache_token_ok(token):
            raise RotationError(
                "the %s AUTH token does not follow ElastiCache's rules (16 to 128 printable ASCII characters, "
                "no '/', '\"', '@' or space)" % ("new" if strategy == "ROTATE" else "current")
            )
        self._secrets.append(token)
        group = self.describe_group()
        if group.get("TransitEncryptionEnabled") is False:
            raise RotationError(
                "replication group %s has in-transit encryption off: ElastiCache accepts AUTH tokens only with "
                "TLS" % self.group_id
            )
        statement = self._statement(strategy)
        if check_mode:
            return [statement]
        if group.get("Status") != "available":
            self.wait_available()
        try:
            self.client.modify_replication_group(
                ReplicationGroupId=self.group_id,
                AuthToken=token,
                AuthTokenUpdateStrategy=strategy,
                ApplyImmediately=True,
            )
        except Exception as exc:  # pylint: disable=broad-except
            raise _aws_error(exc, "ModifyReplicationGroup %s (%s)" % (self.group_id, strategy), self._secrets) \
                from None
        self.wait_available()
        return [statement]

    def set_secret(self, pending: Credential, check_mode: bool) -> List[str]:
        return self._modify(pending.password, "ROTATE", check_mode)

    def test_secret(self, pending: Credential) -> None:
        _redis_test(self.redis_factory, self.connection, pending, "elasticache test_secret")

    def revoke(
        self, previous_public: Optional[Mapping[str, Any]], current: Credential, check_mode: bool
    ) -> List[str]:
        return self._modify(current.password, "SET", check_mode)

    def close(self) -> None:
        self._secrets = []


class AzureRedisBackend(Backend):
    """The access keys of an Azure Cache for Redis: the key not in use is regenerated by Azure, tested, delivered;
    then the previous key is regenerated so that its old value stops working."""

    name = "azure_redis"
    server_generated = True

    def __init__(
        self,
        params: Mapping[str, Any],
        rest: Any = None,
        redis_factory: Callable[..., Any] = default_redis_factory,
    ) -> None:
        self.params = dict(params)
        for option in ("subscription_id", "resource_group", "name"):
            if not self.params.get(option):
                raise RotationError("azure_redis.%s is required" % option)
        self.api_version = self.params.get("api_version") or AZURE_REDIS_API_VERSION
        arm = _check_https(self.params.get("arm_endpoint") or AZURE_ARM_ENDPOINT, "azure_redis.arm_endpoint")
        self.resource_url = "%s/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Cache/redis/%s" % (
            arm,
            quote(self.params["subscription_id"], safe=""),
            quote(self.params["resource_group"], safe=""),
            quote(self.params["name"], safe=""),
        )
        self._secrets: List[str] = []
        if rest is None:
            token = _resolve_token(self.params.get("token"), AZURE_TOKEN_ENV, "azure_redis.token")
            rest = _RestClient(token, secrets=lambda: self._secrets)
        self.rest = rest
        self.redis_factory = redis_factory
        self.connection = {
            "host": self.params.get("host") or "%s.redis.cache.windows.net" % self.params["name"],
            "port": self.params.get("port") or AZURE_REDIS_TLS_PORT,
            "tls": True if self.params.get("tls") is None else self.params.get("tls"),
            "ca_file": self.params.get("ca_file"),
            "validate_certs": self.params.get("validate_certs", True),
            "connect_timeout": self.params.get("connect_timeout"),
        }
        #: Requests made (or, in check mode, that would be made) by create_server_secret, for the result.
        self.statements: List[str] = []

    def _url(self, action: str = "") -> str:
        return "%s%s?api-version=%s" % (self.resource_url, "/" + action if action else "", self.api_version)

    def allowed_alphabet(self, alphabet: str, length: int) -> None:
        return None  # Azure generates the keys: password_* options do not apply.

    def pending_identity(self, current_public: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
        current = (current_public or {}).get("slot")
        if current is not None and current not in SLOTS:
            raise RotationError("azure_redis: unknown key slot %r in the state (primary or secondary)" % current)
        return {"slot": "primary" if current == "secondary" else "secondary"}

    def list_keys(self) -> Dict[str, str]:
        answer = self.rest.request("POST", self._url("listKeys"))
        keys = {slot: answer.get("%sKey" % slot) for slot in SLOTS}
        for slot, value in keys.items():
            if not value:
                raise RotationError("azure_redis: listKeys returned no %sKey" % slot)
            self._secrets.append(value)
        return keys

    def _regenerate(self, slot: str, check_mode: bool) -> str:
        key_type = slot.capitalize()
        statement = "POST %s {\"keyType\": \"%s\"}" % (self._url("regenerateKey"), key_type)
        if check_mode:
            self.rest.request("GET", self._url())
        else:
            self.rest.request("POST", self._url("regenerateKey"), {"keyType": key_type})
        self.statements.append(statement)
        return statement

    def create_server_secret(self, pending_identity: Mapping[str, Any], check_mode: bool) -> Credential:
        slot = (pending_identity or {}).get("slot")
        if slot not in SLOTS:
            raise RotationError("azure_redis: the pending identity has no key slot (primary or secondary)")
        self._regenerate(slot, check_mode)
        if check_mode:
            return _make_credential(None, MASK, slot)
        keys = self.list_keys()
        self.statements.append("POST %s" % self._url("listKeys"))
        return _make_credential(None, keys[slot], slot)

    def set_secret(self, pending: Credential, check_mode: bool) -> List[str]:
        """Nothing to send: the secret was made by :meth:`create_server_secret`; returns its requests."""
        return list(self.statements)

    def test_secret(self, pending: Credential) -> None:
        _redis_test(self.redis_factory, self.connection, pending, "azure_redis test_secret")

    def revoke(
        self, previous_public: Optional[Mapping[str, Any]], current: Credential, check_mode: bool
    ) -> List[str]:
        slot = (previous_public or {}).get("slot")
        if check_mode:
            if slot not in SLOTS:
                slot = "primary"
            return [self._regenerate(slot, True)]
        keys = self.list_keys()
        if slot not in SLOTS:
            # First rotation without a recorded slot: the previous slot is the one not holding the current key.
            matching = [s for s in SLOTS if keys[s] == current.password]
            if len(matching) != 1:
                raise RotationError("azure_redis: the current key is in neither slot; refusing to regenerate a key")
            slot = "secondary" if matching[0] == "primary" else "primary"
        if keys[slot] == current.password:
            raise RotationError(
                "azure_redis: the %s key is the current one; refusing to regenerate it (state out of date?)" % slot
            )
        return [self._regenerate(slot, False)]

    def close(self) -> None:
        self._secrets = []


def build_backend(engine: str, params: Optional[Mapping[str, Any]]) -> Backend:
    """The backend for ``engine`` (``elasticache`` | ``azure_redis``) from the module option of the same name."""
    if engine == "elasticache":
        if not params:
            raise RotationError("elasticache is required when engine=elasticache")
        _require_boto3()
        return ElastiCacheBackend(params)
    if engine == "azure_redis":
        if not params:
            raise RotationError("azure_redis is required when engine=azure_redis")
        return AzureRedisBackend(params)
    raise RotationError("engine %r is not a cloud engine (elasticache, azure_redis)" % engine)


# --------------------------------------------------------------------------------------------------------------------
# Consumers


def validate_keys(keys: Any, where: str) -> Dict[str, str]:
    """``keys`` (output key -> credential field): a non-empty mapping whose values are username/password."""
    if not isinstance(keys, Mapping) or not keys:
        raise RotationError("%s.keys must map at least one output key to username or password" % where)
    for out_key, field in keys.items():
        if field not in CREDENTIAL_FIELDS:
            raise RotationError(
                "%s.keys.%s must be username or password (got %r)" % (where, out_key, field)
            )
    return dict(keys)


def mapped_values(keys: Mapping[str, str], credential: Credential, where: str) -> Dict[str, str]:
    """The output key -> value pairs ``credential`` gives for ``keys``."""
    values = {}
    for out_key, field in keys.items():
        value = getattr(credential, field)
        if value is None:
            raise RotationError(
                "%s.keys.%s asks for the %s, which this engine's credential does not have" % (where, out_key, field)
            )
        values[out_key] = value
    return values


def read_back(keys: Mapping[str, str], data: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """{username, password} from delivered ``data`` through ``keys``; None when no listed key is there."""
    found: Dict[str, Any] = {}
    for out_key, field in keys.items():
        if out_key in data and data[out_key] is not None:
            found[field] = data[out_key]
    if not found:
        return None
    return {"username": found.get("username"), "password": found.get("password")}


class AwsSecretsManagerConsumer(Consumer):
    """A JSON SecretString in AWS Secrets Manager; the listed keys are merged into it."""

    def __init__(self, spec: Mapping[str, Any], client: Any = None) -> None:
        self.spec = dict(spec)
        self.where = "consumers[aws_secretsmanager]"
        self.secret_id = self.spec.get("secret_id")
        if not self.secret_id:
            raise RotationError("%s.secret_id is required" % self.where)
        self.keys = validate_keys(self.spec.get("keys"), self.where)
        self.create = bool(self.spec.get("create"))
        self._client = client
        self._secrets: List[str] = []

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws_client("secretsmanager", self.spec, self.where)
        return self._client

    def describe(self) -> str:
        return "aws_secretsmanager:%s" % self.secret_id

    def _load(self) -> Optional[Dict[str, Any]]:
        try:
            answer = self.client.get_secret_value(SecretId=self.secret_id)
        except Exception as exc:  # pylint: disable=broad-except
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise _aws_error(exc, "GetSecretValue %s" % self.secret_id, self._secrets) from None
        text = answer.get("SecretString")
        if text is None:
            raise RotationError("%s: secret %s holds binary data, not a JSON SecretString" % (self.where, self.secret_id))
        try:
            data = json.loads(text)
        except ValueError:
            raise RotationError("%s: the SecretString of %s is not JSON" % (self.where, self.secret_id)) from None
        if not isinstance(data, dict):
            raise RotationError("%s: the SecretString of %s is not a JSON object" % (self.where, self.secret_id))
        self._secrets.extend(str(v) for v in data.values() if isinstance(v, str))
        return data

    def read_current(self) -> Optional[Dict[str, Any]]:
        data = self._load()
        return None if data is None else read_back(self.keys, data)

    def write(self, credential: Credential, check_mode: bool) -> bool:
        values = mapped_values(self.keys, credential, self.where)
        self._secrets.extend(values.values())
        data = self._load()
        if data is None:
            if not self.create:
                raise RotationError(
                    "%s: secret %s does not exist (set create: true to create it)" % (self.where, self.secret_id)
                )
            if check_mode:
                return True
            try:
                self.client.create_secret(Name=self.secret_id, SecretString=json.dumps(values))
            except Exception as exc:  # pylint: disable=broad-except
                raise _aws_error(exc, "CreateSecret %s" % self.secret_id, self._secrets) from None
            return True
        merged = dict(data)
        merged.update(values)
        if merged == data:
            return False
        if check_mode:
            return True
        try:
            self.client.put_secret_value(SecretId=self.secret_id, SecretString=json.dumps(merged))
        except Exception as exc:  # pylint: disable=broad-except
            raise _aws_error(exc, "PutSecretValue %s" % self.secret_id, self._secrets) from None
        return True


class AzureKeyVaultConsumer(Consumer):
    """One Azure Key Vault secret per listed key (secret name = output key)."""

    def __init__(self, spec: Mapping[str, Any], rest: Any = None) -> None:
        self.spec = dict(spec)
        self.where = "consumers[azure_keyvault]"
        self.vault_url = _check_https(self.spec.get("vault_url") or "", "%s.vault_url" % self.where)
        self.keys = validate_keys(self.spec.get("keys"), self.where)
        for name in self.keys:
            if not KEYVAULT_NAME_RE.match(name):
                raise RotationError(
                    "%s.keys: %r is not a Key Vault secret name (1 to 127 of 0-9, a-z, A-Z and '-')" % (self.where, name)
                )
        self.api_version = self.spec.get("api_version") or KEYVAULT_API_VERSION
        self._secrets: List[str] = []
        if rest is None:
            token = _resolve_token(self.spec.get("token"), KEYVAULT_TOKEN_ENV, "%s.token" % self.where)
            rest = _RestClient(token, secrets=lambda: self._secrets)
        self.rest = rest

    def describe(self) -> str:
        return "azure_keyvault:%s" % self.vault_url

    def _url(self, name: str) -> str:
        return "%s/secrets/%s?api-version=%s" % (self.vault_url, name, self.api_version)

    def _get(self, name: str) -> Optional[str]:
        try:
            answer = self.rest.request("GET", self._url(name))
        except NotFound:
            return None
        value = answer.get("value")
        if isinstance(value, str):
            self._secrets.append(value)
        return value

    def read_current(self) -> Optional[Dict[str, Any]]:
        data = {}
        for name in self.keys:
            value = self._get(name)
            if value is not None:
                data[name] = value
        return read_back(self.keys, data)

    def write(self, credential: Credential, check_mode: bool) -> bool:
        values = mapped_values(self.keys, credential, self.where)
        self._secrets.extend(values.values())
        changed = False
        for name, value in values.items():
            if self._get(name) == value:
                continue
            changed = True
            if not check_mode:
                self.rest.request("PUT", self._url(name), {"value": value})
        return changed


def build_consumer(spec: Mapping[str, Any]) -> Consumer:
    """The consumer for ``spec['type']`` (``aws_secretsmanager`` | ``azure_keyvault``)."""
    kind = (spec or {}).get("type")
    if kind == "aws_secretsmanager":
        _require_boto3()
        return AwsSecretsManagerConsumer(spec)
    if kind == "azure_keyvault":
        return AzureKeyVaultConsumer(spec)
    raise RotationError("consumers[].type %r is not a cloud consumer (aws_secretsmanager, azure_keyvault)" % kind)

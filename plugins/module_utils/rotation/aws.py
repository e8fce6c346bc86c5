# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS backend and consumer of nl2api.deploy.credential_rotation (the engine is ``engine.py``).

* Backend ``elasticache``: the AUTH token of an ElastiCache replication group. set_secret is
  ``ModifyReplicationGroup`` with ``AuthTokenUpdateStrategy=ROTATE`` (the old and the new token are both accepted),
  revoke is the same call with ``SET`` (only the new one is left); both wait until the group is ``available`` again.
* Consumer ``aws_secretsmanager``: a JSON SecretString; the outputs (``keys`` and ``url_keys``, see
  ``consumers.py``) are merged into it (other keys are kept), written only when a value differs; the secret is
  created when absent and ``create: true``.

Every remote call goes through one seam (a boto3 client given to the constructor, ``redis_factory`` for the test
connection), so the unit tests exercise the real request building. AWS clients are made by the collection's shared
``module_utils/aws_client.py`` (the AWS modules' client creation) from the blocks' connection options, which are
that file's (``access_key``, ``secret_key`` ... with amazon.aws's aliases), rules included. No message, statement
or exception text carries a secret: they are masked as ``********``.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import json
import time
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional

from ansible_collections.nl2api.deploy.plugins.module_utils._common import MASK, mask, require_lib
from ansible_collections.nl2api.deploy.plugins.module_utils.aws_client import (
    HAS_BOTO3,
    AwsClientError,
    aws_client as shared_aws_client,
    aws_suboptions,
    error_code,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.consumers import (
    delivered_values,
    read_back,
    validate_delivery,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.engine import (
    Backend,
    Consumer,
    Credential,
    RotationError,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.options import redis_test_connection
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.redis import (
    check_password_login,
    default_password_client,
)

#: ElastiCache AUTH tokens: 16 to 128 printable ASCII characters, none of ``/``, ``"``, ``@`` or space.
ELASTICACHE_TOKEN_MIN = 16
ELASTICACHE_TOKEN_MAX = 128
ELASTICACHE_FORBIDDEN = frozenset('/"@ ')
ELASTICACHE_WAIT_TIMEOUT = 1800.0
ELASTICACHE_POLL_INTERVAL = 15.0


def _require_boto3() -> None:
    require_lib(HAS_BOTO3, "boto3", RotationError)


def aws_client(service: str, params: Mapping[str, Any], prefix: str) -> Any:
    """A boto3 client from the block's AWS connection options (module_utils/aws_client.py's, checked together by
    the argument spec), made by the shared aws_client; ``prefix`` names the block in error messages. Only those
    options are passed: the block's ``validate_certs`` is the Redis test connection's."""
    try:
        return shared_aws_client(dict((name, params.get(name)) for name in aws_suboptions()), service)
    except AwsClientError as exc:
        raise RotationError("%s: %s" % (prefix, exc)) from None


def _call(client: Any, operation: str, action: str, secrets: Iterable[Optional[str]], missing: str = "",
          **kwargs: Any) -> Optional[Dict[str, Any]]:
    """``client.<operation>(**kwargs)``. A failure is a RotationError naming ``action`` (secrets masked), except
    the AWS error code ``missing`` ("the resource does not exist"), which returns None."""
    try:
        return getattr(client, operation)(**kwargs)
    except Exception as exc:  # pylint: disable=broad-except
        if missing and error_code(exc) == missing:
            return None
        raise RotationError(mask("%s failed: %s" % (action, exc), secrets)) from None


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
        redis_factory: Callable[..., Any] = default_password_client,
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
        self.connection = redis_test_connection(self.params, self.params["host"], 6379)
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
        answer = _call(self.client, "describe_replication_groups", "DescribeReplicationGroups %s" % self.group_id,
                       self._secrets, missing="ReplicationGroupNotFoundFault", ReplicationGroupId=self.group_id)
        groups = (answer or {}).get("ReplicationGroups") or []
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
        _call(self.client, "modify_replication_group", "ModifyReplicationGroup %s (%s)" % (self.group_id, strategy),
              self._secrets, ReplicationGroupId=self.group_id, AuthToken=token, AuthTokenUpdateStrategy=strategy,
              ApplyImmediately=True)
        self.wait_available()
        return [statement]

    def set_secret(self, pending: Credential, check_mode: bool) -> List[str]:
        return self._modify(pending.password, "ROTATE", check_mode)

    def test_secret(self, pending: Credential) -> None:
        check_password_login(self.redis_factory, self.connection, pending, "elasticache test_secret")

    def revoke(
        self, previous_public: Optional[Mapping[str, Any]], current: Credential, check_mode: bool
    ) -> List[str]:
        return self._modify(current.password, "SET", check_mode)

    def close(self) -> None:
        self._secrets = []


class AwsSecretsManagerConsumer(Consumer):
    """A JSON SecretString in AWS Secrets Manager; the outputs are merged into it."""

    def __init__(self, spec: Mapping[str, Any], client: Any = None,
                 where: str = "consumers[aws_secretsmanager]") -> None:
        self.spec = dict(spec)
        self.where = where
        self.secret_id = self.spec.get("secret_id")
        if not self.secret_id:
            raise RotationError("%s.secret_id is required" % self.where)
        self.keys, self.url_keys = validate_delivery(self.spec, self.where)
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
        answer = _call(self.client, "get_secret_value", "GetSecretValue %s" % self.secret_id, self._secrets,
                       missing="ResourceNotFoundException", SecretId=self.secret_id)
        if answer is None:
            return None
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
        return None if data is None else read_back(self.keys, self.url_keys, data)

    def write(self, credential: Credential, check_mode: bool) -> bool:
        values = delivered_values(self.keys, self.url_keys, credential, self.where)
        self._secrets.extend(values.values())
        data = self._load()
        if data is None:
            if not self.create:
                raise RotationError(
                    "%s: secret %s does not exist (set create: true to create it)" % (self.where, self.secret_id)
                )
            if check_mode:
                return True
            _call(self.client, "create_secret", "CreateSecret %s" % self.secret_id, self._secrets,
                  Name=self.secret_id, SecretString=json.dumps(values))
            return True
        merged = dict(data)
        merged.update(values)
        if merged == data:
            return False
        if check_mode:
            return True
        _call(self.client, "put_secret_value", "PutSecretValue %s" % self.secret_id, self._secrets,
              SecretId=self.secret_id, SecretString=json.dumps(merged))
        return True


def build_backend(params: Optional[Mapping[str, Any]]) -> ElastiCacheBackend:
    """The backend for engine=elasticache from the module's ``elasticache`` option."""
    if not params:
        raise RotationError("elasticache is required when engine=elasticache")
    _require_boto3()
    return ElastiCacheBackend(params)


def build_consumer(spec: Mapping[str, Any], where: str = "consumers[aws_secretsmanager]") -> AwsSecretsManagerConsumer:
    """The ``aws_secretsmanager`` consumer; ``where`` names the entry in messages (``consumers[0]``)."""
    _require_boto3()
    return AwsSecretsManagerConsumer(spec, where=where)

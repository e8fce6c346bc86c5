# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redis ACL backend of the credential rotation: one ACL user, two valid passwords while a rotation is in flight.

* set_secret: ``ACL SETUSER <user> on #<sha256 of the new password>`` adds the new password next to the old one;
  the hashed form means the plaintext never travels to the server nor shows in MONITOR or SLOWLOG.
* test_secret: a new connection authenticates as the user with the new password and PINGs.
* revoke: ``ACL SETUSER <user> resetpass #<sha256 of the new password>`` leaves only the new password, atomically.
* persist (``auto``): ``ACL SAVE`` when the server has an aclfile (``CONFIG GET aclfile``), else nothing;
  ``aclfile`` always runs ACL SAVE, ``config_rewrite`` runs CONFIG REWRITE (users kept in redis.conf), ``none`` skips.

Check mode sends no ACL SETUSER: it checks the user exists (``ACL GETUSER``) and that the admin may run the commands
(``ACL DRYRUN``, Redis 7). The admin connection uses the shared options of ``redis_connection.py``.

:func:`check_password_login` tests the new password of a password-only server (ElastiCache, Azure Cache for Redis)
for the cloud backends.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import hashlib
from typing import Any, Callable, Dict, List, Mapping, Optional

from ansible_collections.nl2api.deploy.plugins.module_utils._common import MASK, mask, require_lib
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.engine import (
    Backend,
    Credential,
    RotationError,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.redis_connection import (
    HAS_REDIS,
    describe_endpoint,
    redis_client,
    redis_client_kwargs,
)

PERSIST_CHOICES = ("auto", "aclfile", "config_rewrite", "none")


def password_hash(password: str) -> str:
    """The hex sha256 Redis takes after ``#`` in ACL SETUSER."""
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


def _field(info: Any, name: str) -> Any:
    """A field of an ACL GETUSER reply (a dict in redis-py >= 4, a flat list in raw replies)."""
    if isinstance(info, dict):
        return info.get(name)
    if isinstance(info, (list, tuple)):
        items = list(info)
        for index in range(0, len(items) - 1, 2):
            if items[index] == name:
                return items[index + 1]
    return None


class RedisAclBackend(Backend):
    """One ACL user whose password is rotated; see the module docstring."""

    name = "redis_acl"
    server_generated = False

    def __init__(self, params: Mapping[str, Any], client_factory: Optional[Callable[..., Any]] = None) -> None:
        if not params:
            raise RotationError("redis is required when engine=redis_acl")
        self.params = dict(params)
        self.acl_user = self.params.get("acl_user")
        if not self.acl_user:
            raise RotationError("redis.acl_user is required: the ACL user whose password is rotated")
        if any(char.isspace() for char in self.acl_user):
            raise RotationError("redis.acl_user must not contain spaces, got %r" % self.acl_user)
        self.persist = self.params.get("persist") or "auto"
        if self.persist not in PERSIST_CHOICES:
            raise RotationError("redis.persist must be one of %s" % ", ".join(PERSIST_CHOICES))
        connection = dict((k, v) for k, v in self.params.items() if k not in ("acl_user", "persist"))
        try:
            self.kwargs = redis_client_kwargs(connection)
        except ValueError as exc:
            raise RotationError("redis: %s" % exc)
        if self.kwargs.get("username") == self.acl_user:
            raise RotationError("redis.login_user must be an admin user, not the rotated acl_user %s" % self.acl_user)
        self.connection = connection
        self._factory = client_factory or redis_client
        self._admin = None  # type: Any
        self._secrets = [self.params.get("login_password")]  # type: List[Optional[str]]

    # -- helpers
    def _clean(self, exc: Any) -> str:
        return mask(("%s" % exc).strip(), self._secrets)

    def admin(self) -> Any:
        if self._admin is None:
            try:
                self._admin = self._factory(self.connection)
            except (ValueError, ImportError) as exc:
                raise RotationError("redis: %s" % exc)
        return self._admin

    def _call(self, what: str, *args: Any) -> Any:
        try:
            return self.admin().execute_command(*args)
        except Exception as exc:  # pylint: disable=broad-except
            endpoint = describe_endpoint(self.kwargs)
            raise RotationError("redis: %s on %s failed: %s" % (what, endpoint, self._clean(exc)))

    def _require_user(self) -> Any:
        info = self._call("ACL GETUSER %s" % self.acl_user, "ACL", "GETUSER", self.acl_user)
        if not info:
            raise RotationError("redis.acl_user %s does not exist on %s: create it with its permissions first (the "
                                "rotation only changes its passwords)" % (self.acl_user,
                                                                          describe_endpoint(self.kwargs)))
        return info

    def _dryrun(self, *command: str) -> None:
        """ACL DRYRUN as the admin user (Redis 7+): proves the admin may run ``command``; skipped on older servers."""
        try:
            whoami = self.admin().execute_command("ACL", "WHOAMI")
            answer = self.admin().execute_command("ACL", "DRYRUN", whoami, *command)
        except Exception as exc:  # pylint: disable=broad-except
            text = self._clean(exc)
            if "unknown subcommand" in text.lower() or "unknown command" in text.lower():
                return
            raise RotationError("redis: ACL DRYRUN %s failed: %s" % (" ".join(command[:2]), text))
        if answer not in ("OK", b"OK", True):
            what = " ".join(command[:2])
            raise RotationError("redis: the admin user may not run %s: %s" % (what, self._clean(answer)))

    def _persist(self, check_mode: bool) -> List[str]:
        mode = self.persist
        if mode == "none":
            return []
        if mode == "auto":
            config = self._call("CONFIG GET aclfile", "CONFIG", "GET", "aclfile")
            value = config.get("aclfile") if isinstance(config, dict) else _field(config, "aclfile")
            if not value:
                return []
            mode = "aclfile"
        if mode == "aclfile":
            if check_mode:
                self._dryrun("ACL", "SAVE")
            else:
                self._call("ACL SAVE", "ACL", "SAVE")
            return ["ACL SAVE"]
        if check_mode:
            self._dryrun("CONFIG", "REWRITE")
        else:
            self._call("CONFIG REWRITE", "CONFIG", "REWRITE")
        return ["CONFIG REWRITE"]

    # -- Backend
    def allowed_alphabet(self, alphabet: str, length: int) -> None:
        return None  # sent hashed: any character works

    def pending_identity(self, current_public: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
        return {"username": self.acl_user}

    def set_secret(self, pending: Credential, check_mode: bool) -> List[str]:
        self._secrets.append(pending.password)
        self._require_user()
        statement = "ACL SETUSER %s on #%s" % (self.acl_user, MASK)
        if check_mode:
            self._dryrun("ACL", "SETUSER", self.acl_user, "on")
        else:
            self._call(statement, "ACL", "SETUSER", self.acl_user, "on", "#" + password_hash(pending.password or ""))
        return [statement] + self._persist(check_mode)

    def test_secret(self, pending: Credential) -> None:
        self._secrets.append(pending.password)
        params = dict(self.connection, login_user=self.acl_user, login_password=pending.password)
        try:
            client = self._factory(params)
        except (ValueError, ImportError) as exc:
            raise RotationError("redis: %s" % exc)
        try:
            try:
                client.ping()
            except Exception as exc:  # pylint: disable=broad-except
                text = self._clean(exc)
                if "NOPERM" not in text:  # authenticated, but PING is not among the user's commands: fine
                    raise RotationError("redis: login as %s with the new password failed: %s" % (self.acl_user, text))
        finally:
            try:
                client.close()
            except Exception:  # pylint: disable=broad-except
                pass

    def revoke(self, previous_public: Optional[Mapping[str, Any]], current: Credential, check_mode: bool) -> List[str]:
        self._secrets.append(current.password)
        self._require_user()
        statement = "ACL SETUSER %s resetpass #%s" % (self.acl_user, MASK)
        if check_mode:
            self._dryrun("ACL", "SETUSER", self.acl_user, "on")
        else:
            self._call(statement, "ACL", "SETUSER", self.acl_user, "resetpass",
                       "#" + password_hash(current.password or ""))
        return [statement] + self._persist(check_mode)

    def close(self) -> None:
        if self._admin is not None:
            try:
                self._admin.close()
            except Exception:  # pylint: disable=broad-except
                pass
            self._admin = None


# ------------------------------------------------------------------------------ password-only servers (cloud caches)
# ElastiCache AUTH tokens and Azure Cache access keys are one password for the ``default`` user: their backends
# (aws.py, azure.py) test a new one with a fresh connection and a PING, through these.


def check_password_login(
    factory: Callable[..., Any], connection: Mapping[str, Any], credential: Credential, what: str
) -> None:
    """Open a new connection with ``credential`` and PING; RotationError (secret masked) when that fails."""
    password = credential.password
    try:
        client = factory(connection, password)
    except (ValueError, ImportError) as exc:
        raise RotationError(mask("%s: %s" % (what, exc), [password])) from None
    try:
        endpoint = describe_endpoint(redis_client_kwargs(password_login_params(connection, None)))
    except ValueError:
        endpoint = "%s:%s" % (connection.get("host"), connection.get("port"))
    try:
        if not client.ping():
            raise RotationError("%s: PING to %s did not answer PONG" % (what, endpoint))
    except RotationError:
        raise
    except Exception as exc:  # pylint: disable=broad-except
        raise RotationError(
            mask("%s: the new secret does not work on %s: %s: %s" % (what, endpoint, type(exc).__name__, exc),
                 [password])
        ) from None
    finally:
        close = getattr(client, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # pylint: disable=broad-except
                pass


def password_login_params(connection: Mapping[str, Any], password: Optional[str]) -> Dict[str, Any]:
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


def default_password_client(connection: Mapping[str, Any], password: str) -> Any:
    """A redis-py client for a test connection with a password and no username (the ``default`` user)."""
    return redis_client(password_login_params(connection, password))


def build_backend(params: Optional[Mapping[str, Any]]) -> RedisAclBackend:
    """The backend for engine=redis_acl from the module's ``redis`` option."""
    require_lib(HAS_REDIS, "redis (redis-py)", RotationError, reason="engine=redis_acl")
    return RedisAclBackend(params or {})

# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL backend of the credential rotation: two login roles that alternate, both members of one group role.

The group role (NOLOGIN) holds the privileges; the application logs in as one of the two login roles. A rotation
sets a new password on the login role that is not in use, tests it, hands it to the consumers, then revokes the other
one (``NOLOGIN PASSWORD NULL``: running sessions keep going, new logins fail). Objects should be owned by a separate
owner role, never by the login roles, so that alternating does not change ownership.

The password is sent as a SCRAM-SHA-256 verifier computed here (RFC 5802 / RFC 7677), so the plaintext never reaches
the server, its statement log or pg_stat_statements. Check mode runs the same statements in a transaction that is
rolled back, which proves the privileges. Statements are returned with the verifier masked.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import base64
import hashlib
import hmac
import os
import traceback
from typing import Any, Dict, List, Mapping, Optional

from ansible_collections.nl2api.deploy.plugins.module_utils._common import MASK, mask, require_lib
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.engine import (
    Backend,
    Credential,
    RotationError,
)

try:
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    HAS_PSYCOPG = True
    PSYCOPG_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised by ansible-test's import sanity test
    psycopg = None
    sql = None
    make_conninfo = None
    HAS_PSYCOPG = False
    PSYCOPG_IMPORT_ERROR = traceback.format_exc()

SCRAM_ITERATIONS = 4096
SCRAM_SALT_BYTES = 16
DEFAULT_PORT = 5432
DEFAULT_DATABASE = "postgres"
DEFAULT_SSLMODE = "verify-full"
DEFAULT_CONNECT_TIMEOUT = 10
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
APPLICATION_NAME = "nl2api-credential-rotation"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def scram_sha256_verifier(password: str, salt: Optional[bytes] = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores in pg_authid.rolpassword:
    ``SCRAM-SHA-256$<iterations>:<b64 salt>$<b64 StoredKey>:<b64 ServerKey>``.

    PostgreSQL applies SASLprep to the password first; it is the identity for printable ASCII, which is why the
    backend only allows ASCII alphabets."""
    if salt is None:
        salt = os.urandom(SCRAM_SALT_BYTES)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return "SCRAM-SHA-256$%d:%s$%s:%s" % (iterations, _b64(salt), _b64(stored_key), _b64(server_key))


def _require_psycopg() -> None:
    require_lib(HAS_PSYCOPG, "psycopg (version 3, pip install 'psycopg[binary]')", RotationError,
                reason="engine=postgres")


def _option_error(option: str, message: str) -> RotationError:
    return RotationError("postgres.%s: %s" % (option, message))


def validate_params(params: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """Checked copy of the ``postgres`` option; RotationError naming the sub-option."""
    if not params:
        raise RotationError("postgres is required when engine=postgres")
    out = dict(params)
    group = out.get("group_role")
    if not group:
        raise _option_error("group_role", "is required")
    logins = out.get("login_roles")
    if not isinstance(logins, (list, tuple)) or len(logins) != 2 or not all(logins):
        raise _option_error("login_roles", "must list exactly 2 role names, e.g. [nl2api_app_a, nl2api_app_b]")
    logins = ["%s" % role for role in logins]
    if logins[0] == logins[1]:
        raise _option_error("login_roles", "the two login roles must differ (both are %s)" % logins[0])
    if group in logins:
        raise _option_error("login_roles", "must not include the group role %s" % group)
    owner = out.get("owner_role")
    if owner and owner in logins:
        raise _option_error("owner_role", "%s is one of login_roles: objects owned by a login role change hands "
                                          "with every rotation; use a separate NOLOGIN owner role" % owner)
    if owner and owner == group:
        raise _option_error("owner_role", "%s is the group_role: the group role must own nothing, use a separate "
                                          "owner role" % owner)
    for name in [group] + logins + ([owner] if owner else []):
        if len(name.encode("utf-8")) > 63:
            raise RotationError("postgres: role name %r is longer than 63 bytes" % name)
    sslmode = out.get("sslmode") or DEFAULT_SSLMODE
    if sslmode not in SSLMODES:
        raise _option_error("sslmode", "must be one of %s" % ", ".join(SSLMODES))
    out.update(login_roles=logins, sslmode=sslmode, port=int(out.get("port") or DEFAULT_PORT),
               database=out.get("database") or DEFAULT_DATABASE,
               connect_timeout=int(out.get("connect_timeout") or DEFAULT_CONNECT_TIMEOUT))
    return out


class PostgresBackend(Backend):
    """Alternating login roles in one group role; see the module docstring."""

    name = "postgres"
    server_generated = False

    def __init__(self, params: Mapping[str, Any], connect: Any = None) -> None:
        self.params = validate_params(params)
        self.group_role = self.params["group_role"]
        self.login_roles = list(self.params["login_roles"])
        self.owner_role = self.params.get("owner_role") or None
        self._connect = connect
        self._admin = None  # type: Any
        self._secrets = [self.params.get("admin_password")]  # type: List[Optional[str]]

    # -- connections
    def _conninfo(self, user: Optional[str], password: Optional[str], isolated: bool) -> str:
        params = dict(
            dbname=self.params["database"],
            sslmode=self.params["sslmode"],
            connect_timeout=self.params["connect_timeout"],
            application_name=APPLICATION_NAME,
        )
        if self.params.get("host"):
            params["host"] = self.params["host"]
        if self.params.get("port"):
            params["port"] = self.params["port"]
        if user:
            params["user"] = user
        if password:
            params["password"] = password
        if self.params.get("ca_file"):
            params["sslrootcert"] = self.params["ca_file"]
        if isolated:
            params["passfile"] = os.devnull  # test exactly this password, never one from ~/.pgpass
        return make_conninfo(**params)

    def _open(self, user: Optional[str], password: Optional[str], isolated: bool, what: str) -> Any:
        _require_psycopg()
        try:
            if self._connect is not None:
                return self._connect(self._conninfo(user, password, isolated))
            return psycopg.connect(self._conninfo(user, password, isolated), autocommit=False)
        except psycopg.Error as exc:
            raise RotationError("postgres: %s could not connect to %s:%s/%s as %s: %s"
                                % (what, self.params.get("host") or "(local socket)", self.params["port"],
                                   self.params["database"], user or "(default user)", self._clean(exc)))

    def admin(self) -> Any:
        if self._admin is None:
            self._admin = self._open(self.params.get("admin_user"), self.params.get("admin_password"), False,
                                     "the admin connection (postgres.admin_user)")
        return self._admin

    def _clean(self, exc: Any) -> str:
        return mask(("%s" % exc).strip().replace("\n", " "), self._secrets)

    # -- queries
    def _role(self, cur: Any, name: str) -> Optional[Dict[str, Any]]:
        cur.execute("SELECT oid, rolcanlogin, rolsuper, rolinherit FROM pg_catalog.pg_roles WHERE rolname = %s",
                    (name,))
        row = cur.fetchone()
        if row is None:
            return None
        return dict(oid=row[0], canlogin=row[1], superuser=row[2], inherit=row[3])

    def _is_member(self, cur: Any, member: str, group: str) -> bool:
        cur.execute(
            "SELECT 1 FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid "
            "JOIN pg_catalog.pg_roles r ON r.oid = m.member WHERE g.rolname = %s AND r.rolname = %s",
            (group, member))
        return cur.fetchone() is not None

    def _owned_objects(self, cur: Any, role: str) -> int:
        cur.execute(
            "SELECT (SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_roles r ON r.oid = c.relowner "
            "WHERE r.rolname = %s) + (SELECT count(*) FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r "
            "ON r.oid = n.nspowner WHERE r.rolname = %s)", (role, role))
        return int(cur.fetchone()[0])

    def _run(self, cur: Any, statement: Any, shown: str, statements: List[str]) -> None:
        try:
            cur.execute(statement)
        except psycopg.Error as exc:
            raise RotationError("postgres: %s failed: %s" % (shown, self._clean(exc)))
        statements.append(shown)

    def _finish(self, conn: Any, check_mode: bool) -> None:
        if check_mode:
            conn.rollback()
        else:
            conn.commit()

    def _sanity(self, cur: Any) -> None:
        group = self._role(cur, self.group_role)
        if group is not None and group["canlogin"]:
            raise _option_error("group_role", "%s can log in; the group role must be NOLOGIN (it holds the "
                                              "privileges, the login roles log in)" % self.group_role)
        if self.owner_role and self._role(cur, self.owner_role) is None:
            raise _option_error("owner_role", "role %s does not exist" % self.owner_role)
        for role in [self.group_role] + self.login_roles:
            owned = self._owned_objects(cur, role)
            if owned:
                raise RotationError("postgres: role %s owns %d tables/sequences/schemas in database %s; the group and "
                                    "login roles must own nothing (REASSIGN OWNED BY %s TO <owner_role>)"
                                    % (role, owned, self.params["database"], role))

    # -- Backend
    def allowed_alphabet(self, alphabet: str, length: int) -> None:
        bad = [char for char in alphabet if not (" " < char <= "~")]
        if bad:
            raise RotationError("password_alphabet/password_symbols: engine=postgres takes printable ASCII only "
                                "(the SCRAM verifier is computed without SASLprep); remove %r" % "".join(bad))

    def pending_identity(self, current_public: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
        current = (current_public or {}).get("username")
        if current == self.login_roles[0]:
            return {"username": self.login_roles[1]}
        return {"username": self.login_roles[0]}

    def set_secret(self, pending: Credential, check_mode: bool) -> List[str]:
        role = pending.username
        if role not in self.login_roles:
            raise RotationError("postgres: the pending role %s is not one of login_roles (%s); the state file is "
                                "out of date" % (role, ", ".join(self.login_roles)))
        verifier = scram_sha256_verifier(pending.password or "")
        self._secrets.extend([pending.password, verifier])
        conn = self.admin()
        statements = []  # type: List[str]
        try:
            with conn.cursor() as cur:
                self._sanity(cur)
                ident = sql.Identifier(role)
                group_ident = sql.Identifier(self.group_role)
                if self._role(cur, self.group_role) is None:
                    self._run(cur, sql.SQL("CREATE ROLE {} NOLOGIN").format(group_ident),
                              'CREATE ROLE "%s" NOLOGIN' % self.group_role, statements)
                found = self._role(cur, role)
                if found is not None and found["superuser"]:
                    raise _option_error("login_roles", "%s is a superuser; a rotated application role must not be"
                                        % role)
                verb = "ALTER" if found is not None else "CREATE"
                self._run(cur, sql.SQL(verb + " ROLE {} WITH LOGIN INHERIT PASSWORD {}").format(
                    ident, sql.Literal(verifier)),
                    "%s ROLE \"%s\" WITH LOGIN INHERIT PASSWORD '%s'" % (verb, role, MASK), statements)
                if not self._is_member(cur, role, self.group_role):
                    self._run(cur, sql.SQL("GRANT {} TO {}").format(group_ident, ident),
                              'GRANT "%s" TO "%s"' % (self.group_role, role), statements)
            self._finish(conn, check_mode)
        except BaseException:
            conn.rollback()
            raise
        return statements

    def test_secret(self, pending: Credential) -> None:
        self._secrets.append(pending.password)
        conn = self._open(pending.username, pending.password, True, "the new password of %s" % pending.username)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
                if cur.fetchone() != (1,):
                    raise RotationError("postgres: SELECT 1 as %s returned no row" % pending.username)
                cur.execute("SELECT pg_catalog.pg_has_role(current_user, %s, 'USAGE')", (self.group_role,))
                row = cur.fetchone()
                if not row or not row[0]:
                    raise RotationError("postgres: %s logged in but does not have the privileges of %s (not an "
                                        "INHERIT member)" % (pending.username, self.group_role))
        except psycopg.Error as exc:
            raise RotationError("postgres: test as %s failed: %s" % (pending.username, self._clean(exc)))
        finally:
            conn.close()

    def revoke(self, previous_public: Optional[Mapping[str, Any]], current: Credential, check_mode: bool) -> List[str]:
        previous = (previous_public or {}).get("username")
        if previous == current.username:
            raise RotationError("postgres: the previous role %s is the current one; refusing to revoke it" % previous)
        conn = self.admin()
        statements = []  # type: List[str]
        try:
            with conn.cursor() as cur:
                if previous is None or previous not in self.login_roles:
                    # First rotation (nothing known before): revoke the other login role, if it exists.
                    previous = [r for r in self.login_roles if r != current.username][0]
                    if self._role(cur, previous) is None:
                        self._finish(conn, check_mode)
                        return statements
                elif self._role(cur, previous) is None:
                    self._finish(conn, check_mode)
                    return statements
                self._run(cur, sql.SQL("ALTER ROLE {} WITH NOLOGIN PASSWORD NULL").format(sql.Identifier(previous)),
                          'ALTER ROLE "%s" WITH NOLOGIN PASSWORD NULL' % previous, statements)
            self._finish(conn, check_mode)
        except BaseException:
            conn.rollback()
            raise
        return statements

    def close(self) -> None:
        if self._admin is not None:
            try:
                self._admin.close()
            finally:
                self._admin = None


def build_backend(params: Optional[Mapping[str, Any]]) -> PostgresBackend:
    """The backend for engine=postgres from the module's ``postgres`` option."""
    _require_psycopg()
    return PostgresBackend(params)

# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The client-side SCRAM-SHA-256 verifier of the PostgreSQL rotation backend, checked against the RFC 7677 example
exchange (a real login against PostgreSQL is in tests/functional/rotation), and the backend's option checks."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import base64
import hashlib
import hmac
import re

import pytest

from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.engine import RotationError
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.postgres import (
    PostgresBackend,
    scram_sha256_verifier,
    validate_params,
)

# RFC 7677 section 3: user "user", password "pencil".
RFC_SALT = "W22ZaJ0SNY7soEsUEjb6gQ=="
RFC_CLIENT_FIRST_BARE = "n=user,r=rOprNGfwEbeRWgbNEkqO"
RFC_SERVER_FIRST = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
RFC_CLIENT_FINAL_NO_PROOF = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
RFC_PROOF = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
RFC_SERVER_SIGNATURE = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

VERIFIER = re.compile(r"^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$")


def split(verifier):
    match = VERIFIER.match(verifier)
    assert match, verifier
    iterations, salt, stored, server = match.groups()
    return int(iterations), base64.b64decode(salt), base64.b64decode(stored), base64.b64decode(server)


def test_rfc7677_vector():
    """What a server holding our verifier would do with the RFC's exchange: accept the client's proof and send the
    RFC's server signature."""
    iterations, salt, stored_key, server_key = split(scram_sha256_verifier("pencil", base64.b64decode(RFC_SALT)))
    assert iterations == 4096 and base64.b64encode(salt).decode() == RFC_SALT
    auth_message = ",".join([RFC_CLIENT_FIRST_BARE, RFC_SERVER_FIRST, RFC_CLIENT_FINAL_NO_PROOF]).encode()
    client_signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
    client_key = bytes(a ^ b for a, b in zip(base64.b64decode(RFC_PROOF), client_signature))
    assert hashlib.sha256(client_key).digest() == stored_key
    server_signature = hmac.new(server_key, auth_message, hashlib.sha256).digest()
    assert base64.b64encode(server_signature).decode() == RFC_SERVER_SIGNATURE


def test_wrong_password_does_not_match_the_vector():
    dummy, dummy_salt, stored_key, dummy_server = split(scram_sha256_verifier("pencil2", base64.b64decode(RFC_SALT)))
    auth_message = ",".join([RFC_CLIENT_FIRST_BARE, RFC_SERVER_FIRST, RFC_CLIENT_FINAL_NO_PROOF]).encode()
    client_signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
    client_key = bytes(a ^ b for a, b in zip(base64.b64decode(RFC_PROOF), client_signature))
    assert hashlib.sha256(client_key).digest() != stored_key


def test_fresh_salt_of_16_bytes_and_no_plaintext():
    first, second = scram_sha256_verifier("s3cret-password"), scram_sha256_verifier("s3cret-password")
    assert first != second
    for verifier in (first, second):
        iterations, salt, stored, server = split(verifier)
        assert iterations == 4096 and len(salt) == 16 and len(stored) == len(server) == 32
        assert "s3cret" not in verifier


PARAMS = dict(host="127.0.0.1", port=5432, admin_user="postgres", admin_password="admin-pw", database="app",
              sslmode="verify-full", ca_file=None, connect_timeout=10, group_role="app",
              login_roles=["app_a", "app_b"], owner_role=None)


@pytest.mark.parametrize("change,option", [
    (dict(login_roles=["app_a"]), "postgres.login_roles"),
    (dict(login_roles=["app_a", "app_a"]), "postgres.login_roles"),
    (dict(login_roles=["app", "app_b"]), "postgres.login_roles"),
    (dict(owner_role="app_b"), "postgres.owner_role"),
    (dict(owner_role="app"), "postgres.owner_role"),
    (dict(group_role=""), "postgres.group_role"),
    (dict(sslmode="sometimes"), "postgres.sslmode"),
])
def test_option_checks_name_the_option(change, option):
    with pytest.raises(RotationError) as raised:
        validate_params(dict(PARAMS, **change))
    assert str(raised.value).startswith(option)


def test_pending_identity_alternates():
    backend = PostgresBackend(PARAMS)
    assert backend.pending_identity(None) == {"username": "app_a"}
    assert backend.pending_identity({"username": "someone_else"}) == {"username": "app_a"}
    assert backend.pending_identity({"username": "app_a"}) == {"username": "app_b"}
    assert backend.pending_identity({"username": "app_b"}) == {"username": "app_a"}


def test_alphabet_must_be_printable_ascii():
    backend = PostgresBackend(PARAMS)
    backend.allowed_alphabet("abcXYZ019-_.~!", 40)
    with pytest.raises(RotationError, match="password_alphabet"):
        backend.allowed_alphabet("abcé", 40)

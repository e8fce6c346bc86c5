# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rotation/urls.py: URL templates of url_keys are validated with messages naming the key, and filled with the
percent-encoded credential so that every character survives the round trip through a URL parser."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

from urllib.parse import unquote, urlsplit

import pytest

from ansible_collections.nl2api.deploy.plugins.module_utils.connection_urls import encode
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.engine import RotationError
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.urls import (
    build_url,
    credential_of_url,
    validate_template,
)

WHERE = "consumers[0].url_keys.redis-url"
POSTGRES = "postgresql://{username}:{password}@db.internal:5432/nl2api?sslmode=verify-full&sslrootcert=/ca.crt"
REDIS = "rediss://{username}:{password}@nl2api-redis:6379/0?ssl_cert_reqs=required&ssl_ca_certs=/ca.crt"
HARD_PASSWORDS = [
    "p:a@s/s#w?o%rd",
    "%41%%25",
    "with space+plus&amp=eq;semi",
    "mot-de-passe-\u00e9\u00e8\u00ea-\u5bc6\u7801-\U0001f511",
    "[::1]:6379",
    "\\back'quote\"",
]


@pytest.mark.parametrize("password", HARD_PASSWORDS)
@pytest.mark.parametrize("template", [POSTGRES, REDIS])
def test_every_character_survives_the_url(template, password):
    url = build_url(template, "nl2api_app_b", password)
    parts = urlsplit(url)
    assert unquote(parts.password) == password
    assert parts.username == "nl2api_app_b"
    assert parts.hostname in ("db.internal", "nl2api-redis")
    assert parts.port in (5432, 6379)
    # The password never leaks into the path or the query, whatever it holds.
    assert parts.query.startswith(("sslmode=", "ssl_cert_reqs=")) and parts.path in ("/nl2api", "/0")
    assert credential_of_url(url) == {"username": "nl2api_app_b", "password": password}


def test_user_names_are_encoded_too():
    url = build_url(REDIS, "team@nl2api:worker", "pw")
    assert url.startswith("rediss://team%40nl2api%3Aworker:pw@nl2api-redis:6379/0?")
    assert credential_of_url(url)["username"] == "team@nl2api:worker"


def test_encode_is_quote_with_nothing_safe():
    assert encode("a:b@c/d#e?f%g h") == "a%3Ab%40c%2Fd%23e%3Ff%25g%20h"
    assert encode("\u00e9") == "%C3%A9"


def test_password_only_template():
    url = build_url("rediss://:{password}@master.cache.amazonaws.com:6379/0", None, "t:o#k?e%n")
    assert url == "rediss://:t%3Ao%23k%3Fe%25n@master.cache.amazonaws.com:6379/0"
    assert credential_of_url(url) == {"username": None, "password": "t:o#k?e%n"}


def test_a_template_asking_for_a_missing_username_fails_without_the_password():
    with pytest.raises(RotationError, match=r"no username for \{username\}") as caught:
        build_url(REDIS, None, "secret-password")
    assert "secret-password" not in str(caught.value)


def test_literal_braces_stay_literal():
    template = "postgresql://{username}:{password}@db:5432/nl2api?options={{x}}"
    assert validate_template(template, WHERE) == template
    assert build_url(template, "u", "p").endswith("?options={x}")


@pytest.mark.parametrize("template, message", [
    ("postgresql://{user}:{password}@db:5432/nl2api", r"unknown placeholder \{user\}"),
    ("postgresql://{username}:{password}@{host}:5432/{db}", r"unknown placeholders \{db\}, \{host\}"),
    ("postgresql://{username}@db:5432/nl2api", r"has no \{password\}"),
    ("db.internal:5432/nl2api?u={username}&p={password}", "must start with a scheme"),
    ("//{username}:{password}@db:5432", "must start with a scheme"),
    ("postgresql://db:5432/nl2api?password={password}", r"must put \{password\} in the user info"),
    ("postgresql://u:{password}@db/{username}", r"must put \{password\} and \{username\} in the user info"),
    ("postgresql://{username}:{password}@", "user info of the URL, before the host"),
    ("postgresql://{username}:{password!r}@db", "takes no format spec or conversion"),
    ("postgresql://{username}:{password}@db:5432/{", "not a valid template"),
    ("", "must be a URL template string"),
    (42, "must be a URL template string"),
])
def test_bad_templates_name_the_url_key(template, message):
    with pytest.raises(RotationError, match=message) as caught:
        validate_template(template, WHERE)
    assert str(caught.value).startswith(WHERE)


def test_credential_of_a_url_without_user_info():
    assert credential_of_url("redis://nl2api-redis:6379/0") == {"username": None, "password": None}

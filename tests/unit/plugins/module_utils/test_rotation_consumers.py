# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rotation/consumers.py: the outputs every consumer type delivers (keys and url_keys), their validation, reading the
credential in use back, and the file consumer writing URL keys the way the pods read them."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import os

import pytest

from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.consumers import (
    FileConsumer,
    build_consumers,
    delivered_values,
    read_back,
    validate_delivery,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.engine import Credential, RotationError

REDIS_URL = "redis://{username}:{password}@nl2api-redis:6379/0"
PASSWORD = "p@ss:w/rd#1?%"
ENCODED = "p%40ss%3Aw%2Frd%231%3F%25"


def test_raw_keys_and_url_keys_are_delivered_together():
    values = delivered_values({"redis-username": "username", "redis-password": "password"},
                              {"redis-url": REDIS_URL}, Credential("nl2api", PASSWORD), "consumers[0]")
    assert values == {"redis-username": "nl2api", "redis-password": PASSWORD,
                      "redis-url": "redis://nl2api:%s@nl2api-redis:6379/0" % ENCODED}


def test_a_missing_username_names_the_url_key():
    with pytest.raises(RotationError, match=r"consumers\[2\]\.url_keys\.redis-url: the credential has no username"):
        delivered_values({}, {"redis-url": REDIS_URL}, Credential(None, PASSWORD), "consumers[2]")


@pytest.mark.parametrize("spec, message", [
    ({}, r"consumers\[1\] needs keys .* or url_keys"),
    ({"keys": {}, "url_keys": {}}, r"consumers\[1\] needs keys"),
    ({"keys": ["username"]}, r"consumers\[1\]\.keys must map"),
    ({"url_keys": "redis://{password}@h"}, r"consumers\[1\]\.url_keys must map"),
    ({"url_keys": {"redis-url": "redis://{username}@h"}}, r"consumers\[1\]\.url_keys\.redis-url has no \{password\}"),
    ({"keys": {"k": "password"}, "url_keys": {"k": REDIS_URL}}, r"k in both keys and url_keys"),
])
def test_delivery_errors_name_the_option(spec, message):
    with pytest.raises(RotationError, match=message):
        validate_delivery(spec, "consumers[1]")


def test_read_back_prefers_raw_keys_then_the_first_url():
    keys, url_keys = {"redis-password": "password"}, {"redis-url": REDIS_URL}
    url = "redis://nl2api:%s@nl2api-redis:6379/0" % ENCODED
    assert read_back(keys, url_keys, {"redis-password": "raw", "redis-url": url}) == {
        "username": "nl2api", "password": "raw"}
    assert read_back(keys, url_keys, {"redis-url": url}) == {"username": "nl2api", "password": PASSWORD}
    assert read_back(keys, url_keys, {}) is None


def test_file_consumer_writes_url_keys_in_one_atomic_version(tmp_path):
    path = tmp_path / "vol"
    consumer = build_consumers([{"type": "file", "path": str(path), "keys": {"redis-password": "password"},
                                 "url_keys": {"redis-url": REDIS_URL}}])[0]
    assert consumer.write(Credential("nl2api", PASSWORD), check_mode=False) is True
    version = os.readlink(str(path / "..data"))
    assert (path / version / "redis-url").read_text() == "redis://nl2api:%s@nl2api-redis:6379/0" % ENCODED
    assert (path / "redis-url").read_text() == (path / version / "redis-url").read_text()
    assert os.stat(str(path / version / "redis-url")).st_mode & 0o777 == 0o600
    assert consumer.write(Credential("nl2api", PASSWORD), check_mode=False) is False
    assert consumer.write(Credential("nl2api", "second-password"), check_mode=False) is True
    assert (path / "redis-url").read_text() == "redis://nl2api:second-password@nl2api-redis:6379/0"
    assert consumer.read_current() == {"username": "nl2api", "password": "second-password"}


def test_file_consumer_with_url_keys_only_reads_the_credential_from_the_url(tmp_path):
    consumer = FileConsumer(str(tmp_path / "vol"), None, url_keys={"postgres-url": (
        "postgresql://{username}:{password}@db:5432/nl2api?sslmode=verify-full")})
    assert consumer.read_current() is None
    consumer.write(Credential("nl2api_app_b", PASSWORD), check_mode=False)
    assert consumer.read_current() == {"username": "nl2api_app_b", "password": PASSWORD}


def test_file_consumer_rejects_a_url_key_that_is_not_a_file_name(tmp_path):
    with pytest.raises(RotationError, match=r"output key '\.\./url' is not a valid file name"):
        FileConsumer(str(tmp_path), None, url_keys={"../url": REDIS_URL})

# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rotation/options.py and the rotation_problems filter: the module's checks, run without the module, name every
problem of every selected credential with its inventory path and never show a secret."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

from ansible_collections.nl2api.deploy.plugins.filter.rotation import rotation_problems
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.options import problems_of

REDIS_URL = "redis://{username}:{password}@nl2api-redis:6379/0"


def redis_app(**extra):
    settings = {"engine": "redis_acl", "redis": {"login_user": "admin", "login_password": "admin-Secret-1",
                                                 "acl_user": "nl2api"},
                "consumers": [{"type": "file", "path": "/run/nl2api", "url_keys": {"redis-url": REDIS_URL}}]}
    settings.update(extra)
    return settings


def test_a_valid_credential_has_no_problem():
    assert rotation_problems({"redis-app": redis_app()}, ["redis-app"], "/var/lib/rotation") == []


def test_every_selected_credential_is_checked_and_named():
    settings = {
        "redis-app": redis_app(consumers=[{"type": "file", "path": "/run/x", "url_keys": {"redis-url": "redis://h"}}]),
        "postgres-app": {"engine": "postgres", "postgres": {"admin_password": "pg-Secret-2", "login_roles": ["a"]},
                         "consumers": [{"type": "file", "path": "/run/y", "keys": {"p": "password"}}]},
        "typo-app": redis_app(maxage="30d"),
        "not-selected": "not even a dict",
    }
    problems = rotation_problems(settings, ["redis-app", "postgres-app", "typo-app"], "/var/lib/rotation")
    assert problems[0].startswith("nl2api_rotation_credentials.redis-app.consumers[0].url_keys.redis-url has no "
                                  "{password}")
    assert problems[1].startswith("nl2api_rotation_credentials.postgres-app: missing required arguments: "
                                  "group_role")
    assert problems[2].startswith("nl2api_rotation_credentials.typo-app: unknown setting maxage")
    assert len(problems) == 3
    assert not any("Secret-" in problem for problem in problems)


def test_problems_are_those_the_module_reports():
    arguments = dict(redis_app(max_age="soon", password_length=8), credential="redis-app", state_dir="/tmp/s")
    problems = problems_of(arguments)
    assert len(problems) == 2
    assert any(problem.startswith("max_age") for problem in problems)
    assert any(problem.startswith("password_length must be at least 16") for problem in problems)
    assert problems_of(dict(arguments, engine="memcached"))[0].startswith("value of engine must be one of")

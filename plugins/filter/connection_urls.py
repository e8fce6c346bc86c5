# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.nl2api.deploy.plugins.module_utils.connection_urls import (
    EndpointError,
    app_secret_data,
    app_secret_problems,
    postgres_url_template,
    redis_url_template,
)


def _postgres(endpoint):
    try:
        return postgres_url_template(dict(endpoint or {}))
    except EndpointError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def _redis(endpoint, with_username=True):
    try:
        return redis_url_template(dict(endpoint or {}), with_username=bool(with_username))
    except EndpointError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def _app_secret_problems(credentials, database=None, redis=None):
    return app_secret_problems(credentials, database or {}, redis or {})


def _app_secret_data(credentials, database=None, redis=None):
    try:
        return app_secret_data(credentials, database or {}, redis or {})
    except ValueError as exc:
        # The message names fields, never values.
        raise AnsibleFilterError(str(exc)) from None


class FilterModule(object):
    def filters(self):
        return {
            "postgres_url_template": _postgres,
            "redis_url_template": _redis,
            "app_secret_problems": _app_secret_problems,
            "app_secret_data": _app_secret_data,
        }

# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection URLs built from a rotated credential: the ``url_keys`` of every consumer type.

The nl2api pods read connection URLs (``postgres-url``, ``redis-url``), not a user name and a password, so a
consumer writes, besides its raw ``keys``, keys whose value is a URL template filled with the new credential::

    url_keys:
      redis-url: "rediss://{username}:{password}@redis.internal:6379/0?ssl_cert_reqs=required&ssl_ca_certs=/ca.crt"

* The only placeholders are ``{username}`` and ``{password}``; ``{password}`` is required. Both are
  percent-encoded (``urllib.parse.quote(value, safe="")``), so ``:``, ``@``, ``/``, ``#``, ``?``, ``%`` or
  non-ASCII characters in a password cannot change where the URL's user info ends; redis-py, libpq and asyncpg
  decode them.
* A template must have a scheme (``postgresql://``, ``rediss://``) and put ``{password}`` (and ``{username}`` when
  used) in the user info of the URL: validated by rendering sample values and parsing the result back.

:func:`validate_template` checks a template, :func:`build_url` fills one (pure, no I/O), :func:`credential_of_url`
reads the user name and password back out of a delivered URL (the primary consumer's credential in use).
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import re
from typing import Any, Dict, Optional
from urllib.parse import unquote, urlsplit

from ansible_collections.nl2api.deploy.plugins.module_utils.connection_urls import fill, placeholders
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.engine import CREDENTIAL_FIELDS, RotationError

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
#: Sample values rendered into a template to check where the placeholders land (no URL-special characters).
_SAMPLE = {"username": "nl2apiSampleUser", "password": "nl2apiSamplePassword"}


def validate_template(template: Any, where: str) -> str:
    """``template`` when it is a usable URL template; RotationError naming ``where`` (e.g.
    ``consumers[0].url_keys.redis-url``) otherwise. The message never contains the template's values, which are not
    secret anyway, beyond the placeholder names."""
    if not isinstance(template, str) or not template:
        raise RotationError("%s must be a URL template string such as "
                            "postgresql://{username}:{password}@host:5432/db" % where)
    try:
        names = placeholders(template)
    except ValueError as exc:
        raise RotationError("%s is not a valid template (%s); write a literal brace as {{ or }}" % (where, exc))
    unknown = sorted(set(name for name in names if name not in CREDENTIAL_FIELDS))
    if unknown:
        raise RotationError("%s: unknown placeholder%s %s; only {username} and {password} are filled in"
                            % (where, "s" if len(unknown) > 1 else "", ", ".join("{%s}" % n for n in unknown)))
    if "password" not in names:
        raise RotationError("%s has no {password}: a URL key must carry the rotated password, e.g. "
                            "rediss://{username}:{password}@host:6379/0" % where)
    if not _SCHEME.match(template):
        raise RotationError("%s must start with a scheme such as postgresql:// or rediss://" % where)
    sample = urlsplit(template.format(**_SAMPLE))
    try:
        in_user_info = sample.password == _SAMPLE["password"] and (
            "username" not in names or sample.username == _SAMPLE["username"])
    except ValueError:  # pragma: no cover - urlsplit raises for a malformed port only on access
        in_user_info = False
    if not in_user_info or not sample.hostname:
        raise RotationError("%s must put {password}%s in the user info of the URL, before the host: "
                            "scheme://{username}:{password}@host:port/..." % (
                                where, " and {username}" if "username" in names else ""))
    return template


def build_url(template: str, username: Optional[str], password: Optional[str]) -> str:
    """``template`` with ``{username}`` and ``{password}`` replaced by their percent-encoded values (the collection's
    one filler, connection_urls.fill). RotationError when the template asks for a value the credential does not
    have (a password-only server and ``{username}``)."""
    try:
        return fill(template, username, password)
    except ValueError as exc:
        raise RotationError(str(exc)) from None


def credential_of_url(url: str) -> Dict[str, Optional[str]]:
    """``{"username", "password"}`` decoded from the user info of ``url`` (None for a part that is absent)."""
    parts = urlsplit(url)
    return {
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password is not None else None,
    }

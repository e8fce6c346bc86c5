# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Azure REST client of the rotation: JSON over HTTPS with a bearer token (Azure Resource Manager for Azure Cache
for Redis, the data plane of Key Vault), and the checks every Azure endpoint and token go through.

The only place azure.py touches the network, so the unit tests replace :class:`RestClient` and exercise the real
request building. Error texts carry Azure's error code and message, never the token or a secret (masked).
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import json
import os
from typing import Any, Callable, Dict, List, Mapping, Optional
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from ansible.module_utils.urls import ConnectionError as UrlsConnectionError, open_url

from ansible_collections.nl2api.deploy.plugins.module_utils._common import mask
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.engine import RotationError

HTTP_TIMEOUT = 30.0
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def check_https(url: str, option: str) -> str:
    """Bearer tokens only travel over https (plain http is allowed for loopback test endpoints only)."""
    parts = urlsplit(url or "")
    if parts.scheme == "https" and parts.hostname:
        return url.rstrip("/")
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return url.rstrip("/")
    raise RotationError("%s must be an https:// URL (got %r)" % (option, url))


def resolve_token(value: Optional[str], env_name: str, option: str) -> str:
    token = value or os.environ.get(env_name)
    if not token:
        raise RotationError("%s is required (or set the %s environment variable)" % (option, env_name))
    return token


class RestClient(object):
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
            # No redirects: the bearer token must not follow one to another host. https: see check_https.
            response = open_url(url, data=data, headers=headers, method=method, timeout=self._timeout,
                                follow_redirects="none", use_netrc=False)
            try:
                payload = response.read()
            finally:
                response.close()
        except HTTPError as exc:
            detail = azure_error_detail(exc)
            if exc.code == 404:
                raise NotFound(mask("%s: HTTP 404%s" % (target, detail), secrets)) from None
            raise RotationError(mask("%s: HTTP %s%s" % (target, exc.code, detail), secrets)) from None
        except (URLError, UrlsConnectionError, OSError) as exc:
            raise RotationError(mask("%s: %s" % (target, getattr(exc, "reason", exc)), secrets)) from None
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


def azure_error_detail(exc: Any) -> str:
    """``: <code>: <message>`` from an Azure error body ({"error": {"code", "message"}}), or ""."""
    try:
        body = json.loads(exc.read().decode("utf-8"))
        error = body.get("error") or {}
        parts = [str(error[k]) for k in ("code", "message") if error.get(k)]
        return ": %s" % ": ".join(parts) if parts else ""
    except Exception:  # pylint: disable=broad-except
        return ""

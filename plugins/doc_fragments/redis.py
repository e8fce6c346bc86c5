# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name


class ModuleDocFragment(object):  # pylint: disable=too-few-public-methods
    """Redis connection options shared by the collection's modules (argument spec in module_utils/redis_connection.py)."""

    DOCUMENTATION = r"""
options:
  login_host:
    description:
      - Host name or IP address of the Redis server to connect to, from where the module runs.
      - When not set, the module uses the server it already knows of (see the module's own options), else C(localhost).
    type: str
    aliases: [redis_host]
  login_port:
    description:
      - TCP port of the Redis server (the TLS port when O(tls=true)).
      - When not set, the module uses the port it already knows of, else C(6379).
    type: int
    aliases: [redis_port]
  login_user:
    description:
      - ACL user to authenticate as (Redis 6 or later). Leave unset for password-only C(AUTH) as the C(default) user.
      - A least-privilege user is enough for reading queue depth, for example
        C(ACL SETUSER scaler on >secret ~eval:tasks:* +info +xinfo|groups +xlen +xpending +ping +hello +auth).
    type: str
    aliases: [redis_user]
  login_password:
    description:
      - Password of O(login_user), or of the C(default) user. Never logged or returned.
    type: str
    aliases: [redis_password]
  login_db:
    description:
      - Database number to C(SELECT) after connecting.
      - When not set, the module uses the database it already knows of, else C(0).
    type: int
  tls:
    description:
      - Connect with TLS.
      - When not set, the module uses the TLS setting it already knows of, else V(false).
    type: bool
  validate_certs:
    description:
      - With TLS, verify the server certificate and that it matches O(login_host).
      - Only set to V(false) against a test server; without verification anyone on the path can read the password.
    type: bool
    default: true
    aliases: [tls_verify]
  ca_file:
    description:
      - PEM file of the certificate authorities to verify the server certificate with, instead of the system store.
      - Only with O(tls=true).
    type: path
    aliases: [ca_certs]
  client_cert_file:
    description:
      - PEM client certificate for mutual TLS. Requires O(client_key_file).
    type: path
  client_key_file:
    description:
      - PEM private key of O(client_cert_file).
    type: path
  connect_timeout:
    description:
      - Seconds to wait for the connection and for each reply.
    type: float
    default: 5.0
requirements:
  - redis (redis-py) >= 4.1, on the host that runs the module, for the options that connect to Redis
"""

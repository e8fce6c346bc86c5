# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name


class ModuleDocFragment(object):  # pylint: disable=too-few-public-methods
    """What the collection's AWS modules share: the connection options (argument spec and rules in
    module_utils/aws_client.py), full check and diff mode, the action group, the tag options and the ``actions``
    return value."""

    DOCUMENTATION = r"""
options:
  region:
    description:
      - The AWS region, for example C(eu-west-1).
      - When not set, E(AWS_REGION), then E(AWS_DEFAULT_REGION), then the profile's region are used.
    type: str
    aliases: [aws_region, ec2_region]
  endpoint_url:
    description:
      - URL of the service endpoint to use instead of AWS's, for example a moto server in tests.
      - When not set, boto3's own E(AWS_ENDPOINT_URL) (and E(AWS_ENDPOINT_URL_<SERVICE>)) apply.
    type: str
    aliases: [aws_endpoint_url, ec2_url]
  profile:
    description:
      - Named profile of the AWS shared configuration and credentials files.
      - Mutually exclusive with O(access_key) and O(session_token).
    type: str
    aliases: [aws_profile]
  access_key:
    description:
      - AWS access key ID. When not set, boto3 finds credentials itself (E(AWS_ACCESS_KEY_ID), profile, instance or
        web identity role).
      - Requires O(secret_key).
    type: str
    aliases: [aws_access_key_id, aws_access_key]
  secret_key:
    description:
      - AWS secret access key of O(access_key). Never logged or returned.
    type: str
    aliases: [aws_secret_access_key, aws_secret_key]
  session_token:
    description:
      - AWS session token for temporary credentials, with O(access_key) and O(secret_key). Never logged or returned.
    type: str
    aliases: [aws_session_token, security_token]
  validate_certs:
    description:
      - Verify the TLS certificate of the endpoint. Only set to V(false) against a local test endpoint.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  action_group:
    description: Use C(group/nl2api.deploy.aws) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - nl2api.deploy.aws
  platform:
    platforms: posix
requirements:
  - boto3 and botocore (on the host that runs the module)
notes:
  - Use C(group/nl2api.deploy.aws) in C(module_defaults) to set these options once for the collection's AWS modules.
  - Throttled calls are retried by botocore (standard retry mode, 5 attempts).
"""

    # Modules that manage tags (nl2api.deploy.aws_client.tags; argument spec aws_client.aws_tags_spec()).
    TAGS = r"""
options:
  tags:
    description:
      - Tags of the resource. When not set, tags are not managed.
    type: dict
  purge_tags:
    description:
      - Remove tags not in O(tags), except AWS's own C(aws:*) tags. Only when O(tags) is set.
    type: bool
    default: true
"""

    # The modules' RETURN extends this with their own sample (and description, when theirs says more).
    RETURN = r"""
actions:
  description: The mutating AWS calls made (or, in check mode, that would be made), in order.
  returned: always
  type: list
  elements: str
"""

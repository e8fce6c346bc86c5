# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: redact_secrets
short_description: Replace the values of Secrets in rendered Kubernetes manifests
version_added: 0.1.0
description:
  - Takes a multi-document YAML stream (the output of C(helm template)) and returns it with every value under
    C(data) and C(stringData) of each C(Secret) replaced by a fixed marker; keys are kept.
  - Rendered manifests are written to disk and read by the deploy gate. Redacted, they hold no credential, and
    the same chart values render the same bytes, so writing them again reports no change.
options:
  _input:
    description: Multi-document YAML.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Write the rendered release without Secret values
  ansible.builtin.copy:
    content: "{{ rendered.stdout | nl2api.deploy.redact_secrets }}"
    dest: /tmp/release.yaml
    mode: "0600"
"""

RETURN = r"""
_value:
  description: The same stream as YAML documents separated by C(---), Secret values redacted.
  type: str
"""

import base64

from ansible.errors import AnsibleFilterError

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None

MARKER = "REDACTED"
MARKER_BASE64 = base64.b64encode(MARKER.encode("ascii")).decode("ascii")


def redact_document(document):
    """Return `document` with Secret data/stringData values replaced; other objects unchanged."""
    if not isinstance(document, dict) or document.get("kind") != "Secret":
        return document
    redacted = dict(document)
    for field, marker in (("data", MARKER_BASE64), ("stringData", MARKER)):
        if isinstance(document.get(field), dict):
            redacted[field] = dict((key, marker) for key in document[field])
    return redacted


def redact_secrets(stream):
    if yaml is None:
        raise AnsibleFilterError("redact_secrets needs PyYAML")
    try:
        documents = [doc for doc in yaml.safe_load_all(stream) if doc is not None]
    except yaml.YAMLError as exc:
        raise AnsibleFilterError("redact_secrets: the input is not YAML: %s" % exc)
    return "---\n".join(
        yaml.safe_dump(redact_document(doc), default_flow_style=False, sort_keys=True) for doc in documents
    )


class FilterModule(object):
    def filters(self):
        return {"redact_secrets": redact_secrets}

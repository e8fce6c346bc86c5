# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image references: what a pinned image is, per environment. Defined here once, for the deploy gate (every image
of the rendered manifests, deploy_gate/policy.py) and for roles/app's inventory check (app_image_registry,
app_image_tag, app_image_digest, through the filter nl2api.deploy.image_reference_problems).

* local, dev: any valid tag.
* staging: a tag or a digest, never ``latest`` (in any case).
* prod: a digest, a semantic version (``1.4.2``, ``v2.0.0-rc.1``) or a commit-SHA tag (7 to 40 hex digits,
  optionally ``-<version>``, as the images role pushes them). Anything else (``main``, ``master``, ``dev``,
  ``release``, ``stable``, ...) is a branch-like tag that moves, so the cluster could run an image nobody reviewed.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import re
from typing import List, Optional

#: The registry grammar of the distribution reference (host[:port][/path]).
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REGISTRY = re.compile(r"^%s(?:\.%s)*(?::[0-9]{1,5})?(?:/%s)*$" % (_DOMAIN_COMPONENT, _DOMAIN_COMPONENT, _PATH_COMPONENT))
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
SEMVER = re.compile(r"^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-[0-9A-Za-z.-]+)?$")
COMMIT = re.compile(r"^[0-9a-f]{7,40}(?:-[0-9A-Za-z._-]+)?$")
#: Environments where an image must be pinned, and where it must be immutable.
PINNED_ENVIRONMENTS = ("staging", "prod")
IMMUTABLE_ENVIRONMENTS = ("prod",)


def tag_problem(tag: Optional[str], digest: Optional[str], environment: str) -> Optional[str]:
    """Why an image with this tag and digest may not run in ``environment`` (None when it may). Only the policy
    (pinned, immutable); the syntax is :func:`reference_problems`'s."""
    if digest or environment not in PINNED_ENVIRONMENTS:
        return None
    if not tag:
        return "has no tag: pin a version tag or a digest in %s" % environment
    if tag.lower() == "latest":
        return "uses the latest tag: pin a version tag or a digest in %s" % environment
    if environment in IMMUTABLE_ENVIRONMENTS and not (SEMVER.match(tag) or COMMIT.match(tag)):
        return ("uses the branch-like tag %s, which moves: %s takes a digest, a semantic version (1.4.2) or a "
                "commit-SHA tag (7 to 40 hex digits, optionally -<version>)" % (tag, environment))
    return None


def reference_problems(registry: str, tag: str, digest: str, environment: str,
                       names: tuple = ("app_image_registry", "app_image_tag", "app_image_digest")) -> List[str]:
    """Every problem of the release's image settings, each naming the variable (``names``) as the inventory writes
    it; [] when they are usable."""
    registry_name, tag_name, digest_name = names
    problems = []
    if registry and not REGISTRY.match(registry):
        problems.append("%s=%s is not a registry host (host[:port][/path], e.g. "
                        "123456789012.dkr.ecr.eu-west-1.amazonaws.com)" % (registry_name, registry))
    if not registry and environment in PINNED_ENVIRONMENTS:
        problems.append("%s is required in %s: the registry the images role pushed to" % (registry_name, environment))
    if tag and not TAG.match(tag):
        problems.append("%s=%s is not a valid tag (letters, digits, _ . -, at most 128, not starting with . or -)"
                        % (tag_name, tag))
    if digest and not DIGEST.match(digest):
        problems.append("%s=%s is not a sha256 digest (sha256:<64 hex digits>)" % (digest_name, digest))
    policy = tag_problem(tag, digest, environment)
    if policy and not problems:
        problems.append("%s: the image %s (or set %s)" % (tag_name, policy, digest_name))
    return problems

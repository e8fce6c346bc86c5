# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: unknown_variables
author:
  - nl2api-deploy maintainers (@nl2api)
version_added: 0.1.0
short_description: The variables an inventory or -e sets under the collection's prefixes that no role declares
description:
  - Checks the names in O(_terms), the host's variables before any task ran (C(hostvars[inventory_hostname].keys()),
    which holds the inventory's and the extra vars, not role defaults, play vars or facts), against every option
    that the C(meta/argument_specs.yml) of the roles in O(roles_dir) declare.
  - Only names under C(nl2api_) or C(<role>_), for each role of O(roles_dir) with an argument spec, are checked.
  - A name another of these variables refers to in a template (an inventory's own helper) is known too, and so is
    every name or shell pattern in O(allowed).
  - Returns one message per unknown variable, naming it and the closest declared name ("did you mean ...?"); an
    empty list when every variable is known. Values are never shown.
options:
  _terms:
    description: The names of the variables to check.
    type: list
    elements: str
    required: true
  roles_dir:
    description: The collection's roles directory; each C(<role>/meta/argument_specs.yml) in it is read.
    type: path
    required: true
  allowed:
    description: Names or shell patterns (C(app_site_*)) of the user's own variables (C(nl2api_extra_variables)).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Check every variable the inventory and -e set is declared
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join('\n') }}"
  vars:
    problems: >-
      {{ query('nl2api.deploy.unknown_variables', hostvars[inventory_hostname].keys() | list,
               roles_dir=role_path | dirname,
               allowed=nl2api_extra_variables | default([])) }}
"""

RETURN = r"""
_raw:
  description: One message per unknown variable, sorted by name.
  type: list
  elements: str
"""

import glob
import os

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.collections import is_sequence
from ansible.plugins.lookup import LookupBase

from ansible_collections.nl2api.deploy.plugins.module_utils.unknown_variables import (
    declared_names,
    prefixes_of,
    referenced_names,
    unknown_variable_problems,
)


def _names(terms):
    for term in terms:
        if isinstance(term, str):
            yield term
        elif is_sequence(term):
            yield from _names(term)
        else:
            raise AnsibleLookupError("unknown_variables: the terms must be variable names, got %s" % type(term).__name__)


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        roles_dir = self.get_option("roles_dir")
        paths = sorted(glob.glob(os.path.join(roles_dir, "*", "meta", "argument_specs.yml")))
        if not paths:
            raise AnsibleLookupError("unknown_variables: no role in %s has a meta/argument_specs.yml" % roles_dir)
        specs = []
        for path in paths:
            try:
                specs.append(self._loader.load_from_file(path))
            except Exception as exc:  # pylint: disable=broad-exception-caught
                raise AnsibleLookupError("unknown_variables: cannot read %s: %s" % (path, exc)) from exc
        roles = [os.path.basename(os.path.dirname(os.path.dirname(os.path.abspath(path)))) for path in paths]
        names = sorted(set(_names(terms)))
        # The raw values, untemplated: templating them would need every variable they use (vault_* included).
        variables = variables or {}
        values = dict((name, variables.get(name)) for name in names)
        return unknown_variable_problems(names, declared_names(specs), prefixes_of(roles),
                                         allowed=self.get_option("allowed") or [], referenced=referenced_names(values))

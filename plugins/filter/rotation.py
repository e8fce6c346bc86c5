# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""rotation_problems: the checks of nl2api.deploy.credential_rotation (module_utils/rotation/options.py) run on the
controller for every selected credential of an inventory, for roles/rotation/tasks/validate.yml. The same functions
as the module's, in-process: no module is started per credential. Documentation: rotation_problems.yml next to this
file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence

from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.options import ARGUMENT_SPEC, problems_of

#: The settings of a credential in nl2api_rotation_credentials: tasks/rotate.yml passes each to the module under
#: the same name (any other would be dropped silently, so it is a problem).
MODULE_SETTINGS = ("engine", "max_age", "revoke_delay", "password_length", "password_alphabet", "password_symbols",
                   "postgres", "redis", "elasticache", "azure_redis", "consumers", "rollouts", "keda_refresh")


def plain(value):
    """``value`` as plain dicts and lists, every template in it rendered. ansible-core hands a filter lazy containers
    whose deep copy (ArgumentSpecValidator deep-copies its parameters) also copies the templating engine, and a
    filter plugin named in a value then fails to load in the copy ("'dict' object is not callable")."""
    if isinstance(value, Mapping):
        return dict((key, plain(item)) for key, item in value.items())
    if is_sequence(value):
        return [plain(item) for item in value]
    return value


def module_arguments(name, settings, state_dir):
    """The module arguments tasks/rotate.yml gives for one credential's settings."""
    settings = plain(settings)
    arguments = dict((key, settings[key]) for key in MODULE_SETTINGS if settings.get(key) is not None)
    arguments.update(credential=name, state_dir=state_dir)
    return arguments


def rotation_problems(settings, selection, state_dir, variable="nl2api_rotation_credentials"):
    """Every problem of the selected credentials, each prefixed with ``<variable>.<credential>.``."""
    if not isinstance(settings, dict):
        raise AnsibleFilterError("rotation_problems: the settings must be a dict of credentials")
    if isinstance(selection, str) or not is_sequence(selection):
        raise AnsibleFilterError("rotation_problems: the selection must be a list of credential names")
    problems = []
    for name in selection:
        spec = settings.get(name)
        prefix = "%s.%s" % (variable, name)
        if not isinstance(spec, dict):
            problems.append("%s must be a dict of settings" % prefix)
            continue
        unknown = sorted("%s" % key for key in spec if key not in MODULE_SETTINGS)
        if unknown:
            problems.append("%s: unknown setting%s %s (known: %s)" % (
                prefix, "s" if len(unknown) > 1 else "", ", ".join(unknown), ", ".join(MODULE_SETTINGS)))
            continue
        for problem in problems_of(module_arguments(name, spec, state_dir)):
            # "consumers[0].url_keys.x ..." continues the variable's path; "missing required arguments ..." does not.
            joined = problem.split(" ", 1)[0].split(".", 1)[0].split("[", 1)[0].rstrip(":") in ARGUMENT_SPEC
            problems.append("%s%s%s" % (prefix, "." if joined else ": ", problem))
    return problems


class FilterModule(object):
    def filters(self):
        return {"rotation_problems": rotation_problems}

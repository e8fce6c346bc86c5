# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The variables an inventory or ``-e`` sets under the collection's prefixes that nothing reads: a typo such as
``app_namepsace`` is otherwise ignored silently, and prod deploys into the default namespace.

A variable is known when one of these says so, and nothing else does:

* a role's ``meta/argument_specs.yml`` declares it, in any entry point (:func:`declared_names`); the inventory-wide
  and playbook variables are declared by roles/preflight's ``shared_variables`` entry point;
* another variable the inventory or ``-e`` sets refers to it in a template: the inventory's own helpers, such as
  local's ``nl2api_postgres_image`` (:func:`referenced_names`);
* the user's allow-list, ``nl2api_extra_variables`` (names or shell patterns such as ``app_site_*``).

The prefixes are ``nl2api_`` and ``<role>_`` for every role (:func:`prefixes_of`).

* :func:`unknown_variable_problems`: one message per unknown variable, naming it and the closest declared name.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import difflib
import fnmatch
import re
from collections.abc import Mapping
from typing import Any, Iterable, List, Mapping as MappingType, Set, Tuple

#: The collection's own prefix, beside one per role.
COLLECTION_PREFIX = "nl2api_"

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def declared_names(specs: Iterable[Any]) -> Set[str]:
    """Every option of every entry point of the given ``meta/argument_specs.yml`` contents."""
    names: Set[str] = set()
    for spec in specs:
        entry_points = spec.get("argument_specs") if isinstance(spec, Mapping) else None
        for entry_point in (entry_points or {}).values():
            names.update((entry_point or {}).get("options") or {})
    return names


def prefixes_of(roles: Iterable[str]) -> Tuple[str, ...]:
    """``nl2api_`` and ``<role>_`` for each role name, longest first."""
    return tuple(sorted({COLLECTION_PREFIX} | {"%s_" % role for role in roles}, key=len, reverse=True))


def _strings(value: Any) -> Iterable[str]:
    if "Encrypted" in type(value).__name__:
        return  # a vaulted value: reading it would need the vault password, and it holds no template
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def referenced_names(values: MappingType[str, Any]) -> Set[str]:
    """The names the templates in ``values`` (variable name to its raw, untemplated value) refer to, each
    variable's own name excluded: a variable that refers only to itself is not read by anything."""
    names: Set[str] = set()
    for name, value in values.items():
        for text in _strings(value):
            if "{{" in text or "{%" in text:
                names.update(token for token in _IDENTIFIER.findall(text) if token != name)
    return names


def _allowed(name: str, allowed: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in allowed)


def unknown_variable_problems(names: Iterable[str], declared: Iterable[str], prefixes: Iterable[str],
                              allowed: Iterable[str] = (), referenced: Iterable[str] = ()) -> List[str]:
    """One message per name of ``names`` under one of ``prefixes`` that is neither declared, referenced nor
    allowed, sorted, each with the closest declared name when there is one."""
    declared = sorted(set(declared))
    known = set(declared) | set(referenced)
    allowed = list(allowed)
    prefixes = tuple(prefixes)
    problems = []
    for name in sorted(set(names)):
        if not name.startswith(prefixes) or name in known or _allowed(name, allowed):
            continue
        close = difflib.get_close_matches(name, declared, n=1, cutoff=0.6)
        hint = "did you mean %s?" % close[0] if close else "no role declares a variable of a similar name"
        problems.append("%s: no role of nl2api.deploy declares it (%s)" % (name, hint))
    return problems

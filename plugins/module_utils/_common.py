# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small helpers every module_utils package of the collection needs, written once.

* :func:`mask`: a text with every secret replaced by ``********`` (longest first, so a secret that contains
  another is masked whole).
* :func:`fsync_dir`: make a rename or a new entry of a directory durable.
* :func:`require_lib`: raise the standard "missing required library" message when an optional import failed.
* :func:`fail_on_problems`: fail a module with every problem found, not only the first.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import os
from typing import Any, Iterable, Optional, Sequence, Type

MASK = "********"


def mask(text: Any, secrets: Iterable[Optional[str]]) -> str:
    """``text`` as a string with every non-empty secret replaced by ``********``."""
    out = "%s" % (text,)
    for secret in sorted({value for value in secrets if value}, key=len, reverse=True):
        out = out.replace(secret, MASK)
    return out


def fsync_dir(path: str) -> None:
    """fsync the directory ``path``, so that a file created or renamed in it survives a crash. Platforms without
    directory file descriptors are skipped: there the rename is as durable as it gets."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that refuse fsync on a directory
        pass
    finally:
        os.close(fd)


def require_lib(available: bool, library: str, error: Type[Exception] = ImportError,
                reason: Optional[str] = None) -> None:
    """Raise ``error`` with Ansible's standard message (what to install, for which interpreter) when ``available``
    is false. ``error`` is the caller's exception type, so the caller's own handling (state saving, masking) runs."""
    if available:
        return
    from ansible.module_utils.basic import missing_required_lib

    raise error(missing_required_lib(library, reason=reason))


def fail_on_problems(module: Any, problems: Sequence[str], **extra: Any) -> None:
    """``module.fail_json`` with every problem (joined by ``; `` in msg, listed in ``problems``); nothing when there
    are none. Collect first, then call this once, so that one run names every fix."""
    if problems:
        module.fail_json(msg="; ".join(problems), problems=list(problems), **extra)

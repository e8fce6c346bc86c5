# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: clear_of
short_description: Whether a daily window (UTC) can be used beside a weekly one
version_added: 0.2.0
description:
  - True when the daily window C(hh24:mi-hh24:mi) and the weekly window C(ddd:hh24:mi-ddd:hh24:mi) are both well
    formed, each lasts at least O(min_minutes), and the daily window overlaps the weekly one on no day of the week
    (windows that cross midnight or the end of the week included).
  - The rule is module_utils/maintenance_windows.py's, which the elasticache_replication_group module applies too.
options:
  _input:
    description: The daily window, for example a backup or snapshot window.
    type: str
    required: true
  weekly:
    description: The weekly maintenance window.
    type: str
    required: true
  min_minutes:
    description: The shortest length each window may have.
    type: int
    default: 30
"""

EXAMPLES = r"""
- name: Check the backup and maintenance windows
  ansible.builtin.assert:
    that: postgres_preferred_backup_window is nl2api.deploy.clear_of(postgres_preferred_maintenance_window, 30)
"""

RETURN = r"""
_value:
  description: Whether the windows can be used together.
  type: bool
"""

from ansible_collections.nl2api.deploy.plugins.module_utils.maintenance_windows import window_conflict


def clear_of(daily, weekly, min_minutes=30):
    return window_conflict(str(daily), str(weekly), int(min_minutes)) is None


class TestModule(object):
    def tests(self):
        return {"clear_of": clear_of}

# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.nl2api.deploy.plugins.module_utils.node_pools import chart_placement, eks_node_group


def _eks_node_group(pool):
    try:
        return eks_node_group(str(pool))
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


def _chart_placement(provider):
    try:
        return chart_placement(str(provider))
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule(object):
    def filters(self):
        return {"eks_node_group": _eks_node_group, "node_pool_placement": _chart_placement}

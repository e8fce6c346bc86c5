# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node pools the cluster role creates, and where the chart's pods go on them: defined here once.

* ``api``: on-demand nodes. The API and the entity-resolution service select them, so that a spot reclaim never
  takes the API down, and they are not tainted (the cluster's own add-ons may run there too).
* ``workers``: spot nodes, labelled and tainted ``nl2api.io/pool=workers:NoSchedule`` so that only the evaluation
  workers (and a batch's producer, which takes the workers' placement) land there, and they select them.

:func:`eks_node_group` gives a pool's labels and taints as the EKS API takes them (the cluster role), and
:func:`chart_placement` the chart values that place the pods (the cluster role's outputs, which site.yml passes to
the app role). On AKS, a spot pool also carries the taint Azure adds by itself
(``kubernetes.azure.com/scalesetpriority=spot:NoSchedule``), which the workers then tolerate too.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

from typing import Any, Dict, List, Tuple

POOL_LABEL = "nl2api.io/pool"
#: pool -> (capacity, its taints as (key, value, Kubernetes effect)).
POOLS = {
    "api": ("on-demand", ()),
    "workers": ("spot", ((POOL_LABEL, "workers", "NoSchedule"),)),
}
#: Taints a provider puts on spot nodes by itself.
PROVIDER_SPOT_TAINTS = {
    "aws": (),
    "azure": (("kubernetes.azure.com/scalesetpriority", "spot", "NoSchedule"),),
}
#: Kubernetes taint effects -> the EKS API's spelling.
EKS_EFFECTS = {"NoSchedule": "NO_SCHEDULE", "PreferNoSchedule": "PREFER_NO_SCHEDULE", "NoExecute": "NO_EXECUTE"}
#: The chart components placed on each pool (values keys).
COMPONENTS = {"api": ("api", "entityService"), "workers": ("worker",)}


def _pool(name: str) -> Tuple[str, Tuple[Tuple[str, str, str], ...]]:
    if name not in POOLS:
        raise ValueError("unknown node pool %r; the pools are %s" % (name, ", ".join(sorted(POOLS))))
    return POOLS[name]


def taints(name: str, provider: str) -> List[Tuple[str, str, str]]:
    """Every taint the nodes of pool ``name`` carry on ``provider``: the collection's and the provider's own."""
    if provider not in PROVIDER_SPOT_TAINTS:
        raise ValueError("unknown provider %r; the providers are %s" % (provider, ", ".join(sorted(PROVIDER_SPOT_TAINTS))))
    capacity, own = _pool(name)
    return list(own) + (list(PROVIDER_SPOT_TAINTS[provider]) if capacity == "spot" else [])


def eks_node_group(name: str) -> Dict[str, Any]:
    """``{"capacity_type", "labels", "taints"}`` of pool ``name`` as the EKS node group API takes them (only the
    collection's taints: EKS adds none)."""
    capacity, own = _pool(name)
    return {
        "capacity_type": "SPOT" if capacity == "spot" else "ON_DEMAND",
        "labels": {POOL_LABEL: name},
        "taints": [{"key": key, "value": value, "effect": EKS_EFFECTS[effect]} for key, value, effect in own],
    }


def chart_placement(provider: str) -> Dict[str, Any]:
    """The chart values that put every component on its pool: a nodeSelector on the pool's label, and a toleration
    of each taint its nodes carry on ``provider``."""
    values = {}  # type: Dict[str, Any]
    for pool, components in sorted(COMPONENTS.items()):
        tolerations = [{"key": key, "operator": "Equal", "value": value, "effect": effect}
                       for key, value, effect in taints(pool, provider)]
        for component in components:
            values[component] = {"nodeSelector": {POOL_LABEL: pool}, "tolerations": tolerations}
    return values

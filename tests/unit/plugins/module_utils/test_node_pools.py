# -*- coding: utf-8 -*-
"""module_utils/node_pools.py: the node groups' settings and the pods' placement from one definition."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import pytest

from ansible_collections.nl2api.deploy.plugins.module_utils.node_pools import chart_placement, eks_node_group, taints


def test_the_eks_node_groups() -> None:
    assert eks_node_group("api") == {"capacity_type": "ON_DEMAND", "labels": {"nl2api.io/pool": "api"}, "taints": []}
    assert eks_node_group("workers") == {"capacity_type": "SPOT", "labels": {"nl2api.io/pool": "workers"},
                                         "taints": [{"key": "nl2api.io/pool", "value": "workers",
                                                     "effect": "NO_SCHEDULE"}]}


def test_the_workers_tolerate_every_taint_of_their_nodes_and_select_them() -> None:
    for provider in ("aws", "azure"):
        worker = chart_placement(provider)["worker"]
        assert worker["nodeSelector"] == {"nl2api.io/pool": "workers"}
        tolerated = [(t["key"], t["value"], t["effect"]) for t in worker["tolerations"]]
        assert tolerated == taints("workers", provider)
    assert ("kubernetes.azure.com/scalesetpriority", "spot", "NoSchedule") in taints("workers", "azure")
    assert taints("workers", "aws") == [("nl2api.io/pool", "workers", "NoSchedule")]


def test_the_api_components_select_the_on_demand_pool_and_tolerate_nothing() -> None:
    placement = chart_placement("aws")
    for component in ("api", "entityService"):
        assert placement[component] == {"nodeSelector": {"nl2api.io/pool": "api"}, "tolerations": []}


@pytest.mark.parametrize("call, message", [
    (lambda: eks_node_group("gpu"), "unknown node pool 'gpu'; the pools are api, workers"),
    (lambda: chart_placement("gcp"), "unknown provider 'gcp'; the providers are aws, azure"),
])
def test_unknown_names_are_refused(call, message) -> None:
    with pytest.raises(ValueError) as raised:
        call()
    assert str(raised.value) == message

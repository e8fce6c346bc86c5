# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""autoscaling.chart_values: Helm's merge of values files (mergeMaps, then CoalesceValues over the chart's defaults)
and the worker settings read from the result. tests/functional/autoscaling/test_autoscaling_chart.py compares the
merge with what `helm template` renders."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import pytest
import yaml

from ansible_collections.nl2api.deploy.plugins.module_utils.autoscaling.chart_values import (
    ChartValuesError,
    coalesce,
    load_values,
    merge_maps,
    merged_values,
    worker_settings,
)

CHART = {"worker": {"terminationGracePeriodSeconds": 300, "shutdown": {"maxTaskSeconds": 240},
                    "podDisruptionBudget": {"enabled": True, "minAvailable": 1, "maxUnavailable": ""},
                    "extraEnv": [{"name": "A", "value": "1"}], "batchId": ""}}


def test_files_merge_in_order_maps_recursively_and_lists_replaced():
    first = {"worker": {"terminationGracePeriodSeconds": 100, "extraEnv": [{"name": "B", "value": "2"}]}}
    second = {"worker": {"terminationGracePeriodSeconds": 200}}
    merged = merged_values(CHART, [first, second])
    assert merged["worker"]["terminationGracePeriodSeconds"] == 200
    assert merged["worker"]["extraEnv"] == [{"name": "B", "value": "2"}]  # replaced, not appended
    assert merged["worker"]["shutdown"] == {"maxTaskSeconds": 240}  # untouched defaults stay


def test_overrides_come_last():
    merged = merged_values(CHART, [{"worker": {"batchId": "a"}}], {"worker": {"batchId": "b"}})
    assert merged["worker"]["batchId"] == "b"


def test_a_null_deletes_the_chart_default_even_from_an_earlier_file():
    merged = merged_values(CHART, [{"worker": {"podDisruptionBudget": {"minAvailable": None}}},
                                   {"worker": {"podDisruptionBudget": {"maxUnavailable": 1}}}])
    assert merged["worker"]["podDisruptionBudget"] == {"enabled": True, "maxUnavailable": 1}
    # A later file may set the key again.
    again = merged_values(CHART, [{"worker": {"podDisruptionBudget": {"minAvailable": None}}},
                                  {"worker": {"podDisruptionBudget": {"minAvailable": 2}}}])
    assert again["worker"]["podDisruptionBudget"]["minAvailable"] == 2


def test_a_scalar_over_a_map_and_a_map_over_a_scalar_both_win():
    assert coalesce({"a": 1}, {"a": {"b": 2}}) == {"a": 1}
    assert coalesce({"a": {"b": 2}}, {"a": 1}) == {"a": {"b": 2}}
    assert merge_maps({"a": {"b": 1}}, {"a": 3}) == {"a": 3}


def test_inputs_are_not_modified():
    chart = {"worker": {"podDisruptionBudget": {"minAvailable": 1}}}
    user = {"worker": {"podDisruptionBudget": {"maxUnavailable": 1}}}
    merged = merged_values(chart, [user])
    merged["worker"]["podDisruptionBudget"]["x"] = 1
    assert chart == {"worker": {"podDisruptionBudget": {"minAvailable": 1}}}
    assert user == {"worker": {"podDisruptionBudget": {"maxUnavailable": 1}}}


def test_worker_settings():
    settings = worker_settings(merged_values(CHART, [], {"worker": {"batchId": "6f1c"}}))
    assert settings == {"worker_pdb": {"enabled": True, "max_unavailable": None, "min_available": 1},
                        "worker_termination_grace_period_seconds": 300, "max_task_seconds": 240,
                        "batch_id": "6f1c"}
    assert "batch_id" not in worker_settings(CHART)  # empty: the platform release
    assert worker_settings({}) == {}
    disabled = worker_settings({"worker": {"podDisruptionBudget": {"enabled": False}}})
    assert disabled["worker_pdb"]["enabled"] is False


def test_load_values_reads_the_chart_and_the_files(tmp_path):
    (tmp_path / "values.yaml").write_text(yaml.safe_dump(CHART))
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "site.yaml").write_text("worker:\n  terminationGracePeriodSeconds: 120\n")
    merged = load_values(str(tmp_path), [str(tmp_path / "empty.yaml"), str(tmp_path / "site.yaml")],
                         {"worker": {"batchId": "x"}})
    assert merged["worker"]["terminationGracePeriodSeconds"] == 120 and merged["worker"]["batchId"] == "x"
    with pytest.raises(ChartValuesError, match="chart_ref: cannot read"):
        load_values(str(tmp_path / "nowhere"))
    (tmp_path / "broken.yaml").write_text("worker: [\n")
    with pytest.raises(ChartValuesError, match="values_files: cannot read .*broken.yaml"):
        load_values(str(tmp_path), [str(tmp_path / "broken.yaml")])

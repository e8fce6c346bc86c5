# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The chart's values as Helm computes them, and the worker settings the autoscaling checks depend on.

Helm's order: the chart's ``values.yaml``, then every ``-f`` file in order, then the values passed last (what
kubernetes.core.helm writes from ``release_values`` into one more ``-f`` file after ``values_files``).

* The user-supplied files merge with each other like ``mergeMaps`` of ``helm.sh/helm/v3/pkg/cli/values``: a map
  merges into a map, anything else replaces (lists included), ``null`` is kept.
* The result is coalesced over the chart's defaults like ``chartutil.CoalesceValues``: the user's value wins, a map
  merges into a map, and a ``null`` deletes the default.

So the module checks scale-in safety against the worker PDB and grace period the chart will render, whichever file
sets them: the environment's, a site file from ``app_values_files``, or the overrides.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import copy
import os
import traceback
from typing import Any, Dict, Mapping, Optional, Sequence

from ansible_collections.nl2api.deploy.plugins.module_utils._common import require_lib

try:
    import yaml

    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - ansible-core depends on PyYAML
    yaml = None
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()


class ChartValuesError(Exception):
    """A values file cannot be read; the message names the file and the option."""


def merge_maps(base: Mapping[str, Any], override: Mapping[str, Any]) -> Dict[str, Any]:
    """Helm's ``mergeMaps``: ``override`` over ``base``, maps recursively, everything else replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_maps(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def coalesce(user: Mapping[str, Any], defaults: Mapping[str, Any]) -> Dict[str, Any]:
    """Helm's ``CoalesceValues``: the chart's ``defaults`` under the ``user`` values; a user ``null`` deletes."""
    out: Dict[str, Any] = {}
    for key, value in user.items():
        if value is None and key in defaults:
            continue
        out[key] = copy.deepcopy(value)
    for key, default in defaults.items():
        if key in user and user[key] is None:
            continue
        if key not in user:
            out[key] = copy.deepcopy(default)
        elif isinstance(default, Mapping) and isinstance(user[key], Mapping):
            out[key] = coalesce(user[key], default)
    return out


def merged_values(chart_defaults: Mapping[str, Any], values_files: Sequence[Mapping[str, Any]] = (),
                  overrides: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """The values Helm renders the chart with (all inputs already parsed)."""
    user: Dict[str, Any] = {}
    for document in list(values_files) + [overrides or {}]:
        user = merge_maps(user, document)
    return coalesce(user, chart_defaults)


def _load(path: str, option: str) -> Dict[str, Any]:
    require_lib(HAS_YAML, "PyYAML", ChartValuesError, reason=option)
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as exc:
        raise ChartValuesError("%s: cannot read %s: %s" % (option, path, exc)) from exc
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ChartValuesError("%s: %s is not a YAML mapping" % (option, path))
    return document


def load_values(chart_ref: str, values_files: Sequence[str] = (),
                release_values: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Read ``<chart_ref>/values.yaml`` and every file of ``values_files``, and merge them with ``release_values``."""
    defaults = _load(os.path.join(chart_ref, "values.yaml"), "chart_ref")
    files = [_load(path, "values_files") for path in values_files]
    return merged_values(defaults, files, release_values)


def _dig(values: Mapping[str, Any], *path: str) -> Any:
    node: Any = values
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def worker_settings(values: Mapping[str, Any]) -> Dict[str, Any]:
    """The module options the chart's values decide, in the module's terms; keys the values lack are left out.

    * ``worker_pdb`` from ``worker.podDisruptionBudget`` (``enabled``, ``maxUnavailable``, ``minAvailable``);
    * ``worker_termination_grace_period_seconds`` from ``worker.terminationGracePeriodSeconds``;
    * ``max_task_seconds`` from ``worker.shutdown.maxTaskSeconds`` (how long the preStop hook waits for the task);
    * ``batch_id`` from ``worker.batchId`` (set per batch; empty in the release without workers)."""
    settings: Dict[str, Any] = {}
    pdb = _dig(values, "worker", "podDisruptionBudget")
    if isinstance(pdb, Mapping):
        settings["worker_pdb"] = {
            "enabled": pdb.get("enabled", True) is not False,
            "max_unavailable": None if pdb.get("maxUnavailable") in (None, "") else pdb.get("maxUnavailable"),
            "min_available": None if pdb.get("minAvailable") in (None, "") else pdb.get("minAvailable"),
        }
    grace = _dig(values, "worker", "terminationGracePeriodSeconds")
    if grace is not None:
        settings["worker_termination_grace_period_seconds"] = int(grace)
    max_task = _dig(values, "worker", "shutdown", "maxTaskSeconds")
    if max_task is not None:
        settings["max_task_seconds"] = int(max_task)
    batch_id = _dig(values, "worker", "batchId")
    if batch_id:
        settings["batch_id"] = str(batch_id)
    return settings

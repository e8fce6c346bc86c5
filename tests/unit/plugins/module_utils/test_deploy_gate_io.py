# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deploy gate edges: reading manifests and CRDs, options, input findings, output format."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import io
import json
import os

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from ansible_collections.nl2api.deploy.plugins.module_utils.deploy_gate import gate
from ansible_collections.nl2api.deploy.tests.unit.plugins.module_utils.test_deploy_gate_fixtures import (
    CRD_DIR,
    config_map,
    good_set,
)


def run(manifests, environment="prod"):
    return gate.check_manifests(manifests, gate.GateOptions(environment), gate.load_crds(CRD_DIR))


# ----------------------------------------------------------------------------------------------------------------
# Reading manifests


def test_parse_skips_empty_documents_and_flattens_lists():
    text = "# Source: chart/templates/a.yaml\n---\n---\n" + yaml.safe_dump(
        {"apiVersion": "v1", "kind": "List", "items": [config_map(), {"apiVersion": "v1", "kind": "List", "items": [config_map()]}]})
    assert gate.parse_manifests(text) == [config_map(), config_map()]


def test_parse_makes_yaml_look_like_json():
    (document,) = gate.parse_manifests("kind: ConfigMap\ndata:\n  1: one\n  day: 2024-01-31\n")
    assert document["data"] == {"1": "one", "day": "2024-01-31"}


def test_parse_reports_invalid_yaml_with_its_source():
    with pytest.raises(gate.GateError, match="rendered.yaml: invalid YAML"):
        gate.parse_manifests("a: [1, 2\n", "rendered.yaml")


def test_load_reads_files_directories_and_stdin(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "a.yaml").write_text(yaml.safe_dump_all(good_set()[:2]))
    (tmp_path / "sub" / "b.yml").write_text(yaml.safe_dump(good_set()[2]))
    (tmp_path / "sub" / "c.json").write_text(json.dumps(good_set()[3]))
    (tmp_path / "sub" / "notes.txt").write_text("not a manifest")
    (tmp_path / ".hidden" / "d.yaml").write_text(yaml.safe_dump(good_set()[4]))
    loaded = gate.load_manifests([str(tmp_path), "-", str(tmp_path / "a.yaml")], stdin=io.StringIO(yaml.safe_dump(good_set()[5])))
    assert loaded == good_set()[:4] + [good_set()[5]] + good_set()[:2]


def test_load_refuses_a_missing_path(tmp_path):
    with pytest.raises(gate.GateError, match="no such file or directory"):
        gate.load_manifests([str(tmp_path / "missing.yaml")])


# ----------------------------------------------------------------------------------------------------------------
# CRDs


def test_load_crds_reads_the_vendored_directory_once():
    first = gate.load_crds(CRD_DIR)
    assert len(first) == 8 and gate.load_crds(CRD_DIR) is first


def test_load_crds_refuses_a_missing_directory(tmp_path):
    with pytest.raises(gate.GateError, match="CRD directory not found"):
        gate.load_crds(str(tmp_path / "nope"))


def test_find_crd_dir_prefers_the_collection_next_to_the_code():
    assert gate.find_crd_dir({}) == CRD_DIR


def test_find_crd_dir_searches_collections_paths(tmp_path, monkeypatch):
    installed = tmp_path / "collections" / "ansible_collections" / "nl2api" / "deploy" / "deploy" / "crds"
    installed.mkdir(parents=True)
    monkeypatch.setattr(gate, "default_crd_dir", lambda: str(tmp_path / "payload.zip" / "deploy" / "crds"))
    assert gate.find_crd_dir({"ANSIBLE_COLLECTIONS_PATH": "/nonexistent:%s" % (tmp_path / "collections")}, cwd="/") == str(installed)
    assert gate.find_crd_dir({}, cwd=str(tmp_path)) == str(installed)
    (tmp_path / "playbooks" / "deep").mkdir(parents=True)
    assert gate.find_crd_dir({}, cwd=str(tmp_path / "playbooks" / "deep")) == str(installed)
    assert gate.find_crd_dir({"ANSIBLE_COLLECTIONS_PATH": str(tmp_path / "collections" / "ansible_collections")}, cwd="/") == str(installed)


# ----------------------------------------------------------------------------------------------------------------
# Options


def test_versions_are_normalized():
    options = gate.validate_options(gate.GateOptions("dev", ("v1.35.2", "1.31", "1.35")))
    assert options.kubernetes_versions == ("1.35", "1.31")


@pytest.mark.parametrize("options,message", [
    (gate.GateOptions("production"), "unknown environment"),
    (gate.GateOptions("prod", ("1.99",)), "no schemas for Kubernetes 1.99"),
    (gate.GateOptions("prod", ("latest",)), "invalid Kubernetes version"),
    (gate.GateOptions("prod", ()), "at least one Kubernetes version"),
])
def test_bad_options_are_refused(options, message):
    with pytest.raises(gate.GateError, match=message):
        gate.check_manifests(good_set(), options)


def test_supported_versions_cover_the_project_range():
    supported = gate.supported_kubernetes_versions()
    assert "1.31" in supported and "1.35" in supported


# ----------------------------------------------------------------------------------------------------------------
# Input findings


def test_documents_that_are_not_objects_are_failures():
    findings = run(["just a string", {"kind": "ConfigMap", "metadata": {"name": "x"}}, {"apiVersion": "v1", "kind": "ConfigMap"}])
    assert [(f.check, f.object_ref, f.field) for f in findings] == [
        ("input", "?/?", ""),
        ("input", "ConfigMap/x", "apiVersion"),
        ("input", "ConfigMap/?", "metadata.name"),
    ]


def test_duplicate_objects_are_failures():
    findings = run(good_set() + [config_map()])
    assert [(f.check, f.object_ref, f.field) for f in findings] == [("input", "ConfigMap/nl2api/nl2api-config", "metadata.name")]
    assert findings[0].reason == "duplicate object: document 2 and 15 (input)"


def test_same_name_in_another_namespace_or_kind_is_not_a_duplicate():
    other_namespace = config_map()
    other_namespace["metadata"]["namespace"] = "other"
    other_kind = dict(config_map(), kind="Secret", type="Opaque", data={})
    assert run(good_set() + [other_namespace, other_kind]) == []


def _paths(node, prefix=()):
    yield prefix
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from _paths(child, prefix + (key,))


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                           max_leaves=6)


@settings(max_examples=150, deadline=None, database=None)
@given(data=st.data())
def test_the_gate_reports_instead_of_crashing_on_any_corruption(data):
    manifests = good_set()
    obj = data.draw(st.sampled_from(manifests))
    path = data.draw(st.sampled_from(list(_paths(obj))[1:]))
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = data.draw(JSON_VALUES)
    findings = run(manifests)
    assert all(isinstance(f, gate.Finding) and f.check in gate.CHECKS for f in findings)


# ----------------------------------------------------------------------------------------------------------------
# Output


def test_finding_format_and_dict():
    finding = gate.Finding("error", "Deployment", "nl2api", "nl2api-api", "spec.replicass", "unknown field", "k8s-schema")
    assert finding.format() == "FAIL Deployment/nl2api/nl2api-api spec.replicass: unknown field"
    assert finding.to_dict() == {"severity": "error", "kind": "Deployment", "namespace": "nl2api", "name": "nl2api-api",
                                 "field": "spec.replicass", "reason": "unknown field", "check": "k8s-schema"}
    cluster_scoped = gate.Finding("warning", "ClusterSecretStore", "", "aws", "spec", "odd", "crd-schema")
    assert cluster_scoped.format() == "WARN ClusterSecretStore/aws spec: odd"


def test_summary_line():
    options = gate.validate_options(gate.GateOptions("prod"))
    error = gate.Finding("error", "Deployment", "nl2api", "a", "f", "r", "k8s-schema")
    warning = gate.Finding("warning", "Deployment", "nl2api", "a", "f", "r", "pdb")
    assert gate.format_summary(31, [], options) == "gate: 31 objects, 0 failures (env=prod, kubernetes 1.31,1.35)"
    assert gate.format_summary(31, [error, warning], options) == "gate: 31 objects, 1 failures, 1 warnings (env=prod, kubernetes 1.31,1.35)"
    assert not gate.gate_passed([error, warning]) and gate.gate_passed([warning])


def test_every_check_name_is_documented_in_the_module():
    module_source = os.path.join(os.path.dirname(CRD_DIR), "..", "plugins", "modules", "deploy_gate.py")
    with open(module_source, encoding="utf-8") as handle:
        text = handle.read()
    for check in gate.CHECKS:
        assert "V(%s)" % check in text

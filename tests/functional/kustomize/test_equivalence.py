"""The Kustomize tree and the Helm chart must describe the same system, object for object, field for field.

Each overlay is rendered with the real `kubectl kustomize`; the chart with the real `helm template` and the same
environment values. The two object sets are compared semantically (parsed, keyed by apiVersion, kind, namespace
and name); any missing, extra or different object fails with the fields that differ.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SPEC = importlib.util.spec_from_file_location("kustomize_from_chart", ROOT / "scripts" / "kustomize_from_chart.py")
assert SPEC is not None and SPEC.loader is not None
generator = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(generator)

# Kinds without a namespace: Kustomize must leave them alone and the chart must not give them one.
CLUSTER_SCOPED = {
    "Namespace", "ClusterRole", "ClusterRoleBinding", "ClusterSecretStore", "CustomResourceDefinition",
    "PriorityClass", "StorageClass", "IngressClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
}

Key = tuple[str, str, str, str]


def keyed(objects: list[dict[str, Any]]) -> dict[Key, dict[str, Any]]:
    result = {}
    for obj in objects:
        meta = obj["metadata"]
        key = (obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"])
        assert key not in result, f"duplicate object {key}"
        result[key] = obj
    return result


def kustomize(overlay: Path) -> list[dict[str, Any]]:
    out = subprocess.run(["kubectl", "kustomize", str(overlay)], check=True, capture_output=True, text=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def chart(env: str) -> list[dict[str, Any]]:
    objects = generator.render_environment(env)
    for obj in objects:
        if obj["kind"] not in CLUSTER_SCOPED:
            obj["metadata"]["namespace"] = generator.NAMESPACES[env]
    return objects


def differences(expected: dict[Key, dict[str, Any]], actual: dict[Key, dict[str, Any]]) -> list[str]:
    """Human-readable differences: objects on one side only, and the JSON paths that differ."""
    found = [f"only in the chart: {key}" for key in sorted(set(expected) - set(actual))]
    found += [f"only in kustomize: {key}" for key in sorted(set(actual) - set(expected))]
    for key in sorted(set(expected) & set(actual)):
        for op in generator.json_patch(expected[key], actual[key]):
            found.append(f"{key} {op['op']} {op['path']}")
    return found


@pytest.mark.parametrize("env", generator.ENVIRONMENTS)
def test_overlay_renders_the_same_objects_as_the_chart(env: str) -> None:
    expected = keyed(chart(env))
    actual = keyed(kustomize(generator.KUSTOMIZE / "overlays" / env))
    assert expected, "the chart rendered nothing"
    assert differences(expected, actual) == []


def test_comparison_catches_drift(tmp_path: Path) -> None:
    """A hand edit of the generated tree (here: one replica count and one label) must be reported."""
    shutil.copytree(generator.KUSTOMIZE, tmp_path / "k8s")
    overlay = tmp_path / "k8s" / "overlays" / "prod"
    objects = kustomize(overlay)
    deployment = next(obj for obj in objects if obj["kind"] == "Deployment")
    deployment["metadata"]["labels"]["drift"] = "yes"
    drifted = keyed(objects)
    found = differences(keyed(chart("prod")), drifted)
    assert any("/metadata/labels/drift" in line for line in found), found


def test_prod_overlay_carries_hpa_and_pdb_files() -> None:
    """As in the plan: the prod overlay adds the autoscaler and the disruption budgets itself."""
    prod = generator.KUSTOMIZE / "overlays" / "prod"
    kustomization = yaml.safe_load((prod / "kustomization.yaml").read_text(encoding="utf-8"))
    assert {"hpa.yaml", "pdb.yaml"} <= set(kustomization["resources"])


def test_tree_is_what_the_chart_generates() -> None:
    """Byte-level check on top of the semantic one: the committed tree is the generator's current output."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "kustomize_from_chart.py"), "--check"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_json_patch_roundtrip_examples() -> None:
    old = {"a": 1, "b": [1, 2], "c": {"d": "x"}, "e/f": 1}
    new = {"a": 2, "b": [1, 2, 3], "c": {}, "g": True, "e/f": 1}
    ops = generator.json_patch(old, new)
    assert {"op": "replace", "path": "/a", "value": 2} in ops
    assert {"op": "replace", "path": "/b", "value": [1, 2, 3]} in ops
    assert {"op": "remove", "path": "/c/d"} in ops
    assert {"op": "add", "path": "/g", "value": True} in ops
    assert generator.json_patch(old, old) == []


@pytest.mark.parametrize("env", generator.ENVIRONMENTS)
def test_migrations_are_a_plain_job_of_every_overlay(env: str) -> None:
    """Kustomize has no hooks: the chart's migrations hook is a plain Job of the tree, the helm test Pod is not
    there, and no object keeps a helm.sh/hook annotation (which only Helm would act on)."""
    objects = kustomize(generator.KUSTOMIZE / "overlays" / env)
    jobs = [obj for obj in objects if obj["kind"] == "Job"
            and obj["metadata"]["labels"].get("app.kubernetes.io/component") == "migrations"]
    assert [job["metadata"]["name"] for job in jobs] == ["nl2api-migrations"]
    assert jobs[0]["spec"]["template"]["spec"]["containers"][0]["command"] == ["nl2api-migrate"]
    assert not [obj for obj in objects if obj["kind"] == "Pod"]
    hooked = [f"{obj['kind']}/{obj['metadata']['name']}" for obj in objects
              if any(key.startswith("helm.sh/hook") for key in (obj["metadata"].get("annotations") or {}))]
    assert hooked == []
    # A new image tag changes the Job's immutable pod template: Argo CD deletes the old hook Job first, Flux
    # recreates it. Staging (its Secret exists before the release) migrates before the sync; dev (in-cluster
    # database) and prod (the Secret comes with the release's ExternalSecret) migrate with it, as Helm does.
    annotations = jobs[0]["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/hook"] == ("PreSync" if env == "staging" else "Sync")
    assert annotations["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
    assert annotations["kustomize.toolkit.fluxcd.io/force"] == "enabled"


def test_plain_object_drops_the_test_hook_and_unhooks_the_others() -> None:
    test_pod = {"kind": "Pod", "metadata": {"name": "t", "annotations": {
        "helm.sh/hook": "test", "helm.sh/hook-delete-policy": "before-hook-creation"}}}
    assert generator.plain_object(test_pod) is None
    job = {"kind": "Job", "metadata": {"name": "m", "annotations": {
        "helm.sh/hook": "post-install,pre-upgrade", "helm.sh/hook-weight": "0", "keep": "me"}}}
    assert generator.plain_object(job) == {"kind": "Job", "metadata": {"name": "m", "annotations": {
        "keep": "me", "argocd.argoproj.io/hook": "Sync", **generator.GITOPS_HOOK_ANNOTATIONS}}}
    before = {"kind": "Job", "metadata": {"name": "m", "annotations": {"helm.sh/hook": "pre-install,pre-upgrade"}}}
    assert generator.plain_object(before) == {"kind": "Job", "metadata": {"name": "m", "annotations": {
        "argocd.argoproj.io/hook": "PreSync", **generator.GITOPS_HOOK_ANNOTATIONS}}}
    plain = {"kind": "Deployment", "metadata": {"name": "d"}}
    assert generator.plain_object(plain) is plain

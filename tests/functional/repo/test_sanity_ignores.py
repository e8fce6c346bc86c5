"""ansible-test's yamllint cannot read Helm templates; each one needs its ignore line, and nothing else may hide."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
IGNORE = ROOT / "tests" / "sanity" / "ignore-2.21.txt"


def entries() -> list[tuple[str, str]]:
    lines = [line.split("#", 1)[0].split() for line in IGNORE.read_text(encoding="utf-8").splitlines()]
    return [(parts[0], parts[1]) for parts in lines if parts]


def test_every_helm_template_is_skipped_by_yamllint_only() -> None:
    templates = {str(p.relative_to(ROOT)) for p in (ROOT / "deploy" / "helm").glob("*/templates/**/*.yaml")}
    skipped = {path for path, test in entries() if test == "yamllint!skip"}
    assert templates == skipped


def test_no_other_sanity_test_is_ignored() -> None:
    """Only two cases are accepted, anything else must be fixed, not ignored: Go templates (not YAML), and the
    generated Kustomize manifests, which are multi-document streams like every Kubernetes manifest."""
    for path, test in entries():
        if path.startswith("deploy/k8s/"):
            assert test == "yamllint:multiple-yaml-documents", (path, test)
        else:
            assert path.startswith("deploy/helm/") and test == "yamllint!skip", (path, test)

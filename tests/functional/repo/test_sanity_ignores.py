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
    """Only the Go-template case is accepted; anything else must be fixed, not ignored."""
    assert {test for _, test in entries()} == {"yamllint!skip"}

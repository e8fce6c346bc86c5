"""deploy/crds must stay byte-identical to the pinned CRDs in ../shared/crds (when that directory exists)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
VENDORED = REPO_ROOT / "deploy" / "crds"
SHARED = REPO_ROOT.parent / "shared" / "crds"


def test_crds_are_vendored() -> None:
    names = sorted(p.name for p in VENDORED.glob("*.yaml"))
    assert any(n.startswith("keda-") for n in names)
    assert any(n.startswith("eso-") for n in names)
    assert any(n.startswith("prometheus-operator-") for n in names)


@pytest.mark.skipif(not SHARED.is_dir(), reason="%s does not exist: nothing to compare the vendored CRDs with" % SHARED)
def test_vendored_crds_are_byte_identical_to_shared() -> None:
    shared = sorted(p.name for p in SHARED.glob("*.yaml"))
    vendored = sorted(p.name for p in VENDORED.glob("*.yaml"))
    assert vendored == shared, "deploy/crds and %s list different files" % SHARED
    different = [name for name in shared if (SHARED / name).read_bytes() != (VENDORED / name).read_bytes()]
    assert not different, "copy these again from %s: %s" % (SHARED, ", ".join(different))

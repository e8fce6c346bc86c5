"""`helm lint --strict` for the chart defaults and every environment values file."""

from __future__ import annotations

import time

import pytest


def test_lint_defaults(chart):
    out = chart.lint()
    assert "0 chart(s) failed" in out


def test_lint_environment(chart, environment):
    out = chart.lint(environment)
    assert "0 chart(s) failed" in out
    assert "[ERROR]" not in out and "[WARNING]" not in out


def test_chart_metadata(h):
    import yaml

    meta = yaml.safe_load((h.CHART_DIR / "Chart.yaml").read_text())
    assert meta["apiVersion"] == "v2"
    assert meta["type"] == "application"
    assert meta["kubeVersion"] == ">=1.31.0-0"
    assert meta["version"] == "0.1.0"
    assert meta["appVersion"] == "1.0.0"
    assert meta["description"] and meta["maintainers"]


@pytest.mark.parametrize("k8s", ["1.30.0", "1.29.5"])
def test_kube_version_floor(chart, k8s):
    """The chart refuses clusters older than 1.31 (native preStop sleep, PDB eviction policy)."""
    try:
        chart.template_text("dev", extra_args=["--kube-version", k8s])
    except AssertionError as exc:  # HelmError
        assert "kubeVersion" in str(exc) and "incompatible" in str(exc), str(exc)
    else:
        pytest.fail(f"rendered for Kubernetes {k8s}")


#: An upper bound, far above the ~0.1 s a render takes, that still catches a template gone quadratic.
MAX_RENDER_SECONDS = 5.0


def test_render_time_per_environment(chart, h, capsys):
    """Each environment renders within MAX_RENDER_SECONDS (the times are printed too)."""
    lines = []
    slow = []
    for env in h.ENVIRONMENTS:
        chart.template_text(env)  # warm-up (file cache)
        start = time.perf_counter()
        chart.template_text(env)
        elapsed = time.perf_counter() - start
        lines.append(f"render time {env:8s} {elapsed * 1000:7.1f} ms")
        if elapsed > MAX_RENDER_SECONDS:
            slow.append(env)
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert not slow, f"rendering took more than {MAX_RENDER_SECONDS} s: {slow}"

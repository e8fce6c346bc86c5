#!/usr/bin/env python
"""Benchmark: render and gate every environment, with `helm template` alone beside it for comparison.

Prints figures only; it asserts nothing about time. Each measurement is the median of --repeat runs.

    .venv/bin/python benchmarks/render_and_gate.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "deploy" / "helm" / "nl2api"
ENVIRONMENTS = ROOT / "deploy" / "helm" / "environments"


def timed(command: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    return time.perf_counter() - start, result


def median_run(command: list[str], repeat: int) -> tuple[float, subprocess.CompletedProcess[str]]:
    runs = [timed(same) for same in itertools.repeat(command, repeat)]
    return statistics.median(run[0] for run in runs), runs[-1][1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'environment':<12} {'objects':>7} {'helm template':>14} {'render + gate':>14} {'gate share':>10}  result")
    failures = 0
    total_template = total_gate = 0.0
    for values in sorted(ENVIRONMENTS.glob("*.yaml")):
        env = values.stem
        template_s, rendered = median_run(["helm", "template", "nl2api", str(CHART), "-f", str(values)], args.repeat)
        objects = sum(1 for doc in rendered.stdout.split("\n---") if "kind:" in doc)
        gate_s, gated = median_run(
            [sys.executable, str(ROOT / "bin" / "nl2api-gate"), "--env", env,
             "--helm-chart", str(CHART), "--values", str(values)], args.repeat)
        summary = (gated.stdout.strip().splitlines() or ["(no output)"])[-1]
        failures += gated.returncode != 0
        total_template += template_s
        total_gate += gate_s
        share = (gate_s - template_s) / gate_s if gate_s else 0.0
        print(f"{env:<12} {objects:>7} {template_s:>13.2f}s {gate_s:>13.2f}s {share:>9.0%}  {summary}")
    print(f"{'all':<12} {'':>7} {total_template:>13.2f}s {total_gate:>13.2f}s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

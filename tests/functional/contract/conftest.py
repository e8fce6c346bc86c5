"""The contract tests render the chart with the chart tier's helpers (tests/functional/chart/conftest.py): the same
helm binary, values handling and render cache. That file is loaded once under a name of its own, so that the two
directories' conftest modules never shadow each other."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_NAME = "nl2api_chart_rendering"
if _NAME not in sys.modules:
    _SPEC = importlib.util.spec_from_file_location(_NAME, Path(__file__).resolve().parents[1] / "chart" / "conftest.py")
    assert _SPEC is not None and _SPEC.loader is not None
    sys.modules[_NAME] = importlib.util.module_from_spec(_SPEC)
    _SPEC.loader.exec_module(sys.modules[_NAME])
rendering = sys.modules[_NAME]

# The session fixtures `chart` (helm with a render cache) and `h` (object helpers), re-exported.
chart = rendering.chart
h = rendering.h

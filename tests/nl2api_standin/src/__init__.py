"""nl2api stand-in. As in the real project the one import package is `src`, and importing it loads `src.evalkit`."""

__version__ = "0.1.0"

from src import evalkit  # noqa: E402,F401  (the real package does the same on import)

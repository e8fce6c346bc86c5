"""nl2api stand-in: the top-level package is `src`, as in the real project."""

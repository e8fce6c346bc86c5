"""Root-level contracts module of the stand-in (outside the `src` package, hence not in the wheel).

The real nl2api keeps a CONTRACTS.py at the repository root that dozens of `src/` modules import with
`from CONTRACTS import ...`; the wheel holds `src` only. This file plays that part: the storage layer, the
evaluation pack, the queue and the MCP server's resolver import from it, so the MCP server, the worker and the
batch CLI stop with "No module named 'CONTRACTS'" unless an image puts it on sys.path. The entity-resolution
HTTP service does not import it, as in the real project.
"""

from src.evalkit.contracts import BatchJob, Scorecard, TestCase, WorkerTask, new_uuid, utc_now

#: Marks the copy that was found, so a test can tell this file from a stray module of the same name.
CONTRACTS_ORIGIN = "nl2api-standin"

__all__ = ["CONTRACTS_ORIGIN", "BatchJob", "Scorecard", "TestCase", "WorkerTask", "new_uuid", "utc_now"]

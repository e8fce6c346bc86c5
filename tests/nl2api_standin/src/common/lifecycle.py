"""Process lifecycle: logging to stderr, and SIGTERM/SIGINT turned into an Event the main loop watches.

The container runs Python as PID 1 (exec-form ENTRYPOINT, no init). The kernel drops signals that PID 1 has no
handler for, so without these handlers `docker stop` / a pod deletion would wait out the grace period and end
in SIGKILL.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from types import FrameType

log = logging.getLogger(__name__)


def setup_logging() -> None:
    logging.basicConfig(
        level=(os.environ.get("LOG_LEVEL") or os.environ.get("NL2API_LOG_LEVEL") or "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def stop_event_on_signals(*signums: signal.Signals) -> threading.Event:
    """Return an Event set by the first of `signums` (default SIGTERM and SIGINT); later ones are logged."""
    stop = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            log.info("%s received again; already shutting down", name)
        else:
            log.info("%s received; shutting down", name)
            stop.set()

    for signum in signums or (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handler)
    return stop

"""Local worker subprocesses the producer starts (unless --workers 0)."""

from __future__ import annotations

import logging
import subprocess
import sys
import time

logger = logging.getLogger(__name__)


class LocalWorkerManager:
    def __init__(self, worker_count: int, redis_url: str, eval_mode: str, max_retries: int = 3,
                 verbose: bool = False) -> None:
        self.worker_count = worker_count
        self.redis_url = redis_url
        self.eval_mode = eval_mode
        self.max_retries = max_retries
        self.verbose = verbose
        self.processes: list[subprocess.Popen[bytes]] = []

    def command(self, worker_id: str, batch_id: str) -> list[str]:
        cmd = [sys.executable, "-m", "src.evalkit.distributed", "--worker-id", worker_id, "--batch-id", batch_id,
               "--redis-url", self.redis_url, "--mode", self.eval_mode, "--max-retries", str(self.max_retries)]
        return cmd + (["--verbose"] if self.verbose else [])

    def start(self, batch_id: str) -> None:
        for index in range(self.worker_count):
            # As in the real manager: output goes to a pipe nobody reads (unless --verbose).
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                self.command(f"worker-{index}", batch_id),
                stdout=None if self.verbose else subprocess.PIPE,
                stderr=None if self.verbose else subprocess.STDOUT,
            )
            self.processes.append(process)
            logger.info("Started worker-%d (PID %d)", index, process.pid)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds (idle workers ignore SIGTERM, so it usually comes to that
        unless they already exited because the stream was deleted)."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(p.poll() is None for p in self.processes):
            time.sleep(0.5)
        for process in self.processes:
            if process.poll() is None:
                logger.warning("Force killing worker PID %d", process.pid)
                process.kill()
            process.wait(timeout=5)
        self.processes = []

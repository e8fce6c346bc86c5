"""Evaluation worker: python -m src.evaluation.worker (the Helm chart's worker command).

A reliable Redis-list consumer: no job is lost to a crash, a SIGTERM or a Redis outage.

Protocol (producers LPUSH JSON onto the pending list QUEUE_NAME, default nl2api:evaluations):

* BLMOVE pending -> this worker's processing list `<QUEUE_PROCESSING_NAME>:<worker id>` (default
  nl2api:evaluations:processing:<host name>), atomically, so a job always sits in exactly one list;
* on completion, one MULTI writes the result and LREMs the job from the processing list;
* on SIGTERM the current job may run for `drain_seconds` more; past that it is moved back to the pending list
  (LREM + RPUSH in one MULTI) and the worker exits 0;
* the chart's preStop drain contract: once WORKER_DRAIN_FILE exists no new job is taken; WORKER_BUSY_FILE
  exists while a job runs;
* on start, the worker moves its own leftovers (a previous life killed with SIGKILL) back to the pending list,
  and also those of workers whose liveness key has expired (pods that are gone for good).

Delivery is at-least-once: a worker that stalls longer than the liveness TTL can see its job requeued.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import redis

from src.common.config import RedisConfig, WorkerConfig, version
from src.common.lifecycle import setup_logging, stop_event_on_signals

log = logging.getLogger("src.evaluation.worker")

ALIVE = "nl2api:workers"
ALIVE_TTL_SECONDS = 30
HEARTBEAT_SECONDS = 5.0
CHUNK_SECONDS = 0.2


class Worker:
    def __init__(self, config: WorkerConfig, cache: RedisConfig, stop: threading.Event) -> None:
        self.config = config
        self.stop = stop
        # The socket timeout must outlast BLMOVE's own blocking timeout.
        self.redis = cache.client(socket_timeout=config.poll_seconds + 5)
        self.pending = config.queue
        self.processing = f"{config.processing_prefix}:{config.worker_id}"
        self.results = f"{config.queue}:results"
        self.failed = f"{config.queue}:failed"
        self.heartbeat_path = Path(config.heartbeat_file)
        self.stop_noticed_at: float | None = None
        self.completed = 0

    # -- liveness --------------------------------------------------------------------------------------------
    def touch(self) -> None:
        """Tell the container health check that the loop is turning."""
        try:
            self.heartbeat_path.touch()
        except OSError as exc:
            log.warning("cannot touch heartbeat file %s: %s", self.heartbeat_path, exc)

    def draining(self) -> bool:
        return bool(self.config.drain_file) and os.path.exists(self.config.drain_file)

    def _busy(self, busy: bool) -> None:
        if not self.config.busy_file:
            return
        with contextlib.suppress(OSError):
            if busy:
                Path(self.config.busy_file).touch()
            else:
                os.unlink(self.config.busy_file)

    def _announce_alive(self) -> None:
        while True:
            try:
                self.redis.set(f"{ALIVE}:{self.config.worker_id}", version(), ex=ALIVE_TTL_SECONDS)
            except redis.RedisError as exc:
                log.warning("liveness key not refreshed: %s", exc)
            if self.stop.wait(HEARTBEAT_SECONDS):
                return

    # -- recovery ----------------------------------------------------------------------------------------------
    def _drain_list_to_pending(self, key: str) -> int:
        moved = 0
        while self.redis.lmove(key, self.pending, "RIGHT", "RIGHT") is not None:
            moved += 1
        return moved

    def recover(self) -> None:
        """Requeue this worker's leftovers, then those of workers that are no longer alive."""
        own = self._drain_list_to_pending(self.processing)
        if own:
            log.info("requeued %d job(s) left in %s by a previous run", own, self.processing)
        prefix = f"{self.config.processing_prefix}:"
        for key in self.redis.scan_iter(match=f"{prefix}*", count=100):
            owner = key[len(prefix) :]
            if owner == self.config.worker_id or self.redis.exists(f"{ALIVE}:{owner}"):
                continue
            moved = self._drain_list_to_pending(key)
            if moved:
                log.info("requeued %d job(s) of dead worker %s", moved, owner)

    # -- jobs ----------------------------------------------------------------------------------------------------
    def _drain_deadline_passed(self) -> bool:
        if not self.stop.is_set():
            return False
        if self.stop_noticed_at is None:
            self.stop_noticed_at = time.monotonic()
            log.info("finishing the current job (at most %.0fs more)", self.config.drain_seconds)
        return time.monotonic() - self.stop_noticed_at >= self.config.drain_seconds

    def _requeue(self, raw: str) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.lrem(self.processing, 1, raw)
        pipe.rpush(self.pending, raw)
        pipe.execute()

    def _fail(self, raw: str, reason: str) -> None:
        log.error("job rejected (%s): %.200s", reason, raw)
        pipe = self.redis.pipeline(transaction=True)
        pipe.rpush(self.failed, raw)
        pipe.lrem(self.processing, 1, raw)
        pipe.execute()

    def _complete(self, raw: str, job_id: str, result: dict[str, Any]) -> None:
        """Write the result and drop the job from the processing list in one transaction, retrying through
        Redis outages; if the process dies before that, the job stays in the processing list and is requeued."""
        delay = 0.5
        while True:
            try:
                pipe = self.redis.pipeline(transaction=True)
                pipe.hset(self.results, job_id, json.dumps(result))
                pipe.lrem(self.processing, 1, raw)
                pipe.execute()
                return
            except redis.RedisError as exc:
                if self._drain_deadline_passed():
                    log.error("result of job %s not stored (%s); it stays in %s", job_id, exc, self.processing)
                    raise
                log.warning("storing the result of job %s failed (%s); retrying", job_id, exc)
                self.touch()
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def process(self, raw: str) -> None:
        try:
            job = json.loads(raw)
            if not isinstance(job, dict):
                raise TypeError("a job must be a JSON object")
            seconds = float(job.get("sleep", 0))
        except (ValueError, TypeError) as exc:
            self._fail(raw, str(exc))
            return
        job_id = str(job.get("id") or hashlib.sha256(raw.encode()).hexdigest()[:16])
        log.info("job %s started (sleep %.1fs)", job_id, seconds)
        started = time.time()
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if self._drain_deadline_passed():
                self._requeue(raw)
                log.info("job %s returned to %s: drain time is over", job_id, self.pending)
                return
            self.touch()
            time.sleep(min(CHUNK_SECONDS, left))
        result = {
            "id": job_id,
            "status": "done",
            "worker": self.config.worker_id,
            "started": started,
            "finished": time.time(),
            "slept": seconds,
        }
        self._complete(raw, job_id, result)
        self.completed += 1
        log.info("job %s done", job_id)

    # -- main loop -----------------------------------------------------------------------------------------------
    def _wait_for_redis(self) -> bool:
        delay = 0.5
        while not self.stop.is_set():
            self.touch()
            try:
                self.recover()
                return True
            except redis.RedisError as exc:
                log.warning("Redis unavailable (%s); retrying in %.1fs", exc, delay)
                self.stop.wait(delay)
                delay = min(delay * 2, 5.0)
        return False

    def run(self) -> int:
        log.info("nl2api %s evaluation worker %s starting", version(), self.config.worker_id)
        self.touch()
        heartbeat = threading.Thread(target=self._announce_alive, name="liveness", daemon=True)
        heartbeat.start()
        if self._wait_for_redis():
            log.info("consuming %s into %s", self.pending, self.processing)
        while not self.stop.is_set():
            self.touch()
            if self.draining():
                self.stop.wait(self.config.poll_seconds)  # drained: take nothing more, wait for SIGTERM
                continue
            try:
                raw = self.redis.blmove(self.pending, self.processing, self.config.poll_seconds, "RIGHT", "LEFT")
            except redis.RedisError as exc:
                log.warning("BLMOVE failed (%s); retrying", exc)
                self.stop.wait(1.0)
                continue
            if raw is not None:
                self._busy(True)
                try:
                    self.process(raw)
                finally:
                    self._busy(False)
        try:
            self.redis.delete(f"{ALIVE}:{self.config.worker_id}")
        except redis.RedisError:
            pass
        heartbeat.join(timeout=HEARTBEAT_SECONDS + 1)
        self.redis.close()
        log.info("worker stopped after %d job(s)", self.completed)
        return 0


def main() -> int:
    setup_logging()
    stop = stop_event_on_signals()
    return Worker(WorkerConfig.from_env(), RedisConfig.from_env(), stop).run()


if __name__ == "__main__":
    sys.exit(main())

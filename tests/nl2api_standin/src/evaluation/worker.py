"""Evaluation worker: python -m src.evaluation.worker (the Helm chart's worker command).

A reliable Redis-list consumer (the "reliable queue" pattern): no job is lost to a crash, a SIGTERM or a Redis
outage, and every job a worker holds sits in ONE shared processing list, so that a queue-length autoscaler (the
chart's KEDA redis triggers `pending_0 + processing_1`) counts jobs in flight as well as waiting ones.

Protocol (producers LPUSH JSON onto the pending list QUEUE_NAME, default nl2api:evaluations):

* BLMOVE pending -> the shared processing list QUEUE_PROCESSING_NAME (default nl2api:evaluations:processing),
  atomically, so a job always sits in exactly one list;
* then a lease: the string key `<QUEUE_NAME>:lease:<sha256 of the job's payload>`, holding the worker id, with a
  TTL of NL2API_WORKER_LEASE_SECONDS (30), refreshed by the job loop every third of that while the job runs;
* on completion, one script writes the result and removes the job and its lease;
* every worker runs a reaper (every NL2API_WORKER_REAP_SECONDS, 5): a job in the processing list without a lease
  (its worker died: SIGKILL, OOM kill, node loss, or stalled past the TTL) is moved back to the pending list by a
  script that re-checks the lease, removes the job from the processing list and pushes it back in one step. The
  reaper acts only on a job it has seen without a lease for longer than a lease refresh interval, so a job taken
  a moment ago, whose lease is being written, is left alone;
* on start, a worker requeues at once the jobs whose lease names its own id (its previous life in the same pod,
  killed before the lease expired);
* on SIGTERM the current job may run for `drain_seconds` more; past that it is moved back to the pending list and
  the worker exits 0. If Redis cannot be reached for that, the job stays in the processing list, its lease
  expires and a reaper returns it;
* the chart's preStop drain contract: once WORKER_DRAIN_FILE exists no new job is taken; WORKER_BUSY_FILE
  exists while a job runs.

Delivery is at-least-once: a worker that stalls longer than the lease TTL can see its job requeued and run again.
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

CHUNK_SECONDS = 0.2

# KEYS: processing list, pending list, lease key. ARGV: payload, mode, worker id.
# mode "unleased": only if the lease is gone (the reaper); "mine": only if the lease names this worker (start-up);
# "mine-or-unleased": the job this worker is giving up (drain).
# Returns 1 when the job moved from the processing list to the pending list.
REQUEUE_SCRIPT = """
local lease = redis.call('GET', KEYS[3])
local mode, owner = ARGV[2], ARGV[3]
if mode == 'unleased' and lease then return 0 end
if mode == 'mine' and lease ~= owner then return 0 end
if mode == 'mine-or-unleased' and lease and lease ~= owner then return 0 end
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3])
return 1
"""

# KEYS: processing list, results hash, lease key. ARGV: payload, job id, result JSON, worker id.
# The result is always stored. The job and its lease are removed unless another worker holds the lease (the job
# was requeued while this worker stalled and is someone else's now). Returns 1 when they were removed.
COMPLETE_SCRIPT = """
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
local lease = redis.call('GET', KEYS[3])
if lease and lease ~= ARGV[4] then return 0 end
redis.call('LREM', KEYS[1], 1, ARGV[1])
redis.call('DEL', KEYS[3])
return 1
"""


def payload_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class Worker:
    def __init__(self, config: WorkerConfig, cache: RedisConfig, stop: threading.Event) -> None:
        self.config = config
        self.stop = stop
        # The socket timeout must outlast BLMOVE's own blocking timeout.
        self.redis = cache.client(socket_timeout=config.poll_seconds + 5)
        self.pending = config.queue
        self.processing = config.processing
        self.lease_prefix = f"{config.queue}:lease:"
        self.results = f"{config.queue}:results"
        self.failed = f"{config.queue}:failed"
        self.heartbeat_path = Path(config.heartbeat_file)
        self.lease_ms = max(1, int(config.lease_seconds * 1000))
        self.lease_refresh_seconds = config.lease_seconds / 3
        # A job is requeued by the reaper once it has been seen without a lease for longer than this: a lease
        # being written right after BLMOVE, or one re-created by its worker's next refresh, is not mistaken.
        self.reap_grace_seconds = self.lease_refresh_seconds + 1.0
        self.requeue_script = self.redis.register_script(REQUEUE_SCRIPT)
        self.complete_script = self.redis.register_script(COMPLETE_SCRIPT)
        self.unleased_since: dict[str, float] = {}  # payload digest -> when the reaper first saw it without lease
        self.stop_noticed_at: float | None = None
        self.completed = 0

    def lease_key(self, raw: str) -> str:
        return self.lease_prefix + payload_digest(raw)

    # -- liveness --------------------------------------------------------------------------------------------
    def touch(self) -> None:
        """Tell the container health check (and the chart's probes) that the loop is turning."""
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

    # -- recovery ----------------------------------------------------------------------------------------------
    def _requeue_if(self, raw: str, mode: str) -> bool:
        keys = [self.processing, self.pending, self.lease_key(raw)]
        return bool(self.requeue_script(keys=keys, args=[raw, mode, self.config.worker_id]))

    def recover_own(self) -> int:
        """Requeue the jobs whose lease names this worker: a previous run in this pod, killed with SIGKILL."""
        moved = 0
        for raw in self.redis.lrange(self.processing, 0, -1):
            if self._requeue_if(raw, "mine"):
                moved += 1
        if moved:
            log.info("requeued %d job(s) left in %s by a previous run of this worker", moved, self.processing)
        return moved

    def reap(self) -> int:
        """Return to the pending list the jobs of the processing list whose lease has been gone for a while."""
        items = self.redis.lrange(self.processing, 0, -1)
        leased: list[bool] = []
        if items:
            pipe = self.redis.pipeline(transaction=False)
            for raw in items:
                pipe.exists(self.lease_key(raw))
            leased = [bool(n) for n in pipe.execute()]
        now = time.monotonic()
        unleased = {payload_digest(raw): raw for raw, has_lease in zip(items, leased) if not has_lease}
        self.unleased_since = {d: t for d, t in self.unleased_since.items() if d in unleased}
        moved = 0
        for digest, raw in unleased.items():
            first_seen = self.unleased_since.setdefault(digest, now)
            if now - first_seen < self.reap_grace_seconds:
                continue
            if self._requeue_if(raw, "unleased"):
                moved += 1
                log.warning("requeued job %s: its lease expired (its worker is gone)", digest[:16])
            self.unleased_since.pop(digest, None)
        return moved

    def _housekeeping(self) -> None:
        """Background thread: the reaper, every reap_seconds until the worker stops."""
        while not self.stop.wait(self.config.reap_seconds):
            try:
                self.reap()
            except redis.RedisError as exc:
                log.warning("reaper pass failed: %s", exc)

    # -- jobs ----------------------------------------------------------------------------------------------------
    def _drain_deadline_passed(self) -> bool:
        if not self.stop.is_set():
            return False
        if self.stop_noticed_at is None:
            self.stop_noticed_at = time.monotonic()
            log.info("finishing the current job (at most %.0fs more)", self.config.drain_seconds)
        return time.monotonic() - self.stop_noticed_at >= self.config.drain_seconds

    def _renew_lease(self, raw: str) -> bool:
        try:
            self.redis.set(self.lease_key(raw), self.config.worker_id, px=self.lease_ms)
            return True
        except redis.RedisError as exc:
            log.warning("lease not renewed: %s", exc)
            return False

    def _requeue(self, raw: str, job_id: str) -> None:
        try:
            if self._requeue_if(raw, "mine-or-unleased"):
                log.info("job %s returned to %s: drain time is over", job_id, self.pending)
            else:
                log.info("job %s was requeued by a reaper meanwhile", job_id)
        except redis.RedisError as exc:
            log.error("job %s not requeued (%s); it stays in %s and a reaper returns it once its lease expires",
                      job_id, exc, self.processing)

    def _fail(self, raw: str, reason: str) -> None:
        log.error("job rejected (%s): %.200s", reason, raw)
        pipe = self.redis.pipeline(transaction=True)
        pipe.rpush(self.failed, raw)
        pipe.lrem(self.processing, 1, raw)
        pipe.delete(self.lease_key(raw))
        pipe.execute()

    def _complete(self, raw: str, job_id: str, result: dict[str, Any]) -> None:
        """Store the result and drop the job and its lease in one script, retrying through Redis outages; if the
        process dies before that, the job stays in the processing list and is requeued when its lease expires."""
        delay = 0.5
        keys = [self.processing, self.results, self.lease_key(raw)]
        while True:
            try:
                if not self.complete_script(keys=keys, args=[raw, job_id, json.dumps(result), self.config.worker_id]):
                    log.warning("job %s was requeued and taken by another worker meanwhile", job_id)
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
        renewed = self._renew_lease(raw)  # first thing: the reaper leaves a leased job alone
        lease_due = time.monotonic() + (self.lease_refresh_seconds if renewed else 1.0)
        try:
            job = json.loads(raw)
            if not isinstance(job, dict):
                raise TypeError("a job must be a JSON object")
            seconds = float(job.get("sleep", 0))
        except (ValueError, TypeError) as exc:
            self._fail(raw, str(exc))
            return
        job_id = str(job.get("id") or payload_digest(raw)[:16])
        log.info("job %s started (sleep %.1fs)", job_id, seconds)
        started = time.time()
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if self._drain_deadline_passed():
                self._requeue(raw, job_id)
                return
            self.touch()
            if time.monotonic() >= lease_due:
                lease_due = time.monotonic() + (self.lease_refresh_seconds if self._renew_lease(raw) else 1.0)
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
                self.recover_own()
                return True
            except redis.RedisError as exc:
                log.warning("Redis unavailable (%s); retrying in %.1fs", exc, delay)
                self.stop.wait(delay)
                delay = min(delay * 2, 5.0)
        return False

    def run(self) -> int:
        log.info("nl2api %s evaluation worker %s starting", version(), self.config.worker_id)
        self.touch()
        housekeeping = threading.Thread(target=self._housekeeping, name="reaper", daemon=True)
        housekeeping.start()
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
        housekeeping.join(timeout=self.config.reap_seconds + 5)
        self.redis.close()
        log.info("worker stopped after %d job(s)", self.completed)
        return 0


def main() -> int:
    setup_logging()
    stop = stop_event_on_signals()
    return Worker(WorkerConfig.from_env(), RedisConfig.from_env(), stop).run()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Benchmark: rotate postgres-app and redis-app with playbooks/rotate_secrets.yml while applications keep connecting.

Starts PostgreSQL (SCRAM, TLS) and Redis (ACLs, TLS) as the functional-test fixtures do, a group role with two
alternating login roles and an ACL user, their URLs (postgres-url, redis-url: url_keys) in `file` consumer
directories (the mounted-Secret layout), and a load generator whose threads open new connections, as the pods do,
with whatever URL the consumer holds.
Each credential is then rotated with its own playbook run, and the load runs on until every thread has connected
with the new credential.

    .venv/bin/python benchmarks/rotation_under_load.py [--threads 2] [--settle 0] [--repeat 1]

--settle S splits each rotation before revoke (the module's test hook kills the run after refresh_consumers) and
resumes it S seconds later: the pause a Deployment rollout gives in a cluster, which the `file` consumer lacks.
With the default 0 the rotation is one run; the scenario's revoke_delay (loadgen.REVOKE_DELAY) keeps the old
credential valid for a thread that read the old URL just before the consumer was updated.

Prints the rotation wall time per credential (the ansible-playbook run from start to end, Ansible's start-up and
the inventory validation included; with --settle, both runs without the pause), connections made, failed
connections and failed logins (nothing is retried: every failure counts). Exits 1 when any connection failed, 0
otherwise; it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "functional"))

from rotation.loadgen import RotationScenario  # noqa: E402
from support.postgres_server import run_postgres  # noqa: E402
from support.redis_server import run_redis  # noqa: E402
from support.tls import temporary_test_ca  # noqa: E402

CREDENTIALS = {"postgres-app": "postgres", "redis-app": "redis"}


def rotate(scenario: RotationScenario, credential: str, settle: float) -> tuple[float, int]:
    """Rotate one credential (forced); (wall seconds, exit code of the last run)."""
    args = ("-e", f"rotation_credentials={credential}", "-e", "rotation_force=true")
    start = time.perf_counter()
    if settle > 0:
        first = scenario.run_playbook(*args, fault="refresh_consumers:after")
        if first.rc == 0:
            return time.perf_counter() - start, 1  # the hook did not fire: not the measurement asked for
        time.sleep(settle)
        last = scenario.run_playbook("-e", f"rotation_credentials={credential}")
    else:
        last = scenario.run_playbook(*args)
    seconds = time.perf_counter() - start - max(settle, 0.0)
    if last.rc != 0:
        print(last.output[-3000:], file=sys.stderr)
    return seconds, last.rc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--threads", type=int, default=2, help="load threads per server")
    parser.add_argument("--settle", type=float, default=0.0, help="seconds between refresh_consumers and revoke")
    parser.add_argument("--repeat", type=int, default=1, help="rotations of each credential")
    args = parser.parse_args()

    failures = 0
    with temporary_test_ca() as ca, run_postgres(ca) as pg, run_redis(ca) as rd, \
            tempfile.TemporaryDirectory(prefix="nl2api-rotation-bench-") as workdir:
        scenario = RotationScenario(pg, rd, Path(workdir)).create()
        try:
            print(f"{'credential':<14} {'run':>3} {'wall time':>10} {'rc':>3}")
            with scenario.load(threads=args.threads) as load:
                load.wait_for_connections(20)
                for run in range(1, args.repeat + 1):
                    for credential in CREDENTIALS:
                        seconds, rc = rotate(scenario, credential, args.settle)
                        failures += rc != 0
                        print(f"{credential:<14} {run:>3} {seconds:>9.2f}s {rc:>3}")
                        # Every thread must get to use the new credential before the next rotation.
                        load.wait_for_connections(20 * args.threads)
            print()
            print(f"{'server':<14} {'connections':>11} {'failed':>7} {'auth failed':>11}")
            for target, stats in load.stats.items():
                print(f"{target:<14} {stats.ok + stats.failed:>11} {stats.failed:>7} {stats.auth_failed:>11}")
                for error in stats.errors[:5]:
                    print(f"    {error}")
                failures += stats.failed
        finally:
            scenario.drop()
    print()
    print("failed connections: %d (must be 0)" % sum(s.failed for s in load.stats.values()))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

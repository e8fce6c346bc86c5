"""Kill the rotation at every point and resume it: for each step, right before and right after it, the module
SIGKILLs itself (NL2API_ROTATION_FAULT=<step>:<before|after>) in a run of playbooks/rotate_secrets.yml that rotates
postgres-app and redis-app, then the same command is run again without the hook.

Every time: the rerun converges (state idle, nothing pending), the consumer holds a credential that works, and
the rotation completed (the old credential revoked, the new one in use); at no point, neither while killed nor after,
does the credential the consumer holds stop working (no lockout), and no credential is lost (what the state
records as in use is what the consumer holds). A load generator runs throughout and must see no failure.

When the rerun does update_consumers and revoke in one go, a load thread may have read the old URL just before the
consumer was updated; the scenario's revoke_delay keeps the old credential valid long enough for it to log in, so
every failed login counts as a failure and none is expected.
"""

from __future__ import annotations

import hashlib

import pytest

from .loadgen import STEPS, RotationScenario

FAULTS = [f"{step}:{when}" for step in STEPS for when in ("before", "after")]


def _consumers_work(scenario: RotationScenario) -> None:
    assert scenario.pg_ok(*scenario.delivered_pg()), "the PostgreSQL credential the consumer holds is refused"
    assert scenario.redis_ok(*scenario.delivered_redis()), "the Redis credential the consumer holds is refused"


def _redis_password_hashes(scenario: RotationScenario, old_password: str) -> dict[str, object]:
    """What the server holds for the ACL user: which of its password hashes are the old and the delivered one."""
    with scenario.redis.client() as admin:
        hashes = admin.acl_getuser(scenario.redis_user)["passwords"]
    return {"hashes": len(hashes), "old": hashlib.sha256(old_password.encode()).hexdigest() in hashes,
            "delivered": hashlib.sha256(scenario.delivered_redis()[1].encode()).hexdigest() in hashes}


@pytest.mark.parametrize("fault", FAULTS)
def test_killed_rotation_resumes_without_lockout(scenario: RotationScenario, fault: str):
    step, when = fault.split(":")
    old_pg = (scenario.roles[0], scenario.initial_pg_password)
    old_redis = (scenario.redis_user, scenario.initial_redis_password)

    # A light load (one thread per server, ~20 connections a second each) is enough to catch a lockout and leaves
    # the CPU to the playbook runs.
    with scenario.load(threads=1, pause=0.05) as load:
        load.wait_for_connections(5)
        killed = scenario.run_playbook(fault=fault)
        assert killed.rc != 0, killed.output[-3000:]
        for credential in ("postgres-app", "redis-app"):
            state = scenario.state(credential)
            # The state names the step to resume: the killed one (before), or the next one (after).
            expected = step if when == "before" else (STEPS[STEPS.index(step) + 1] if step != STEPS[-1] else "idle")
            assert state is not None and state["step"] == expected, (credential, state and state.get("step"))
            if state["step"] not in ("idle", STEPS[0]):
                # The only copy of an in-flight secret is in the state file: it must be there to resume.
                assert state.get("pending", {}).get("password"), (credential, "pending secret lost")
        _consumers_work(scenario)
        load.wait_for_connections(5)

        resumed = scenario.run_playbook()
        assert resumed.rc == 0, resumed.output[-3000:]
        _consumers_work(scenario)
        load.wait_for_connections(5)

    for credential, delivered in (("postgres-app", scenario.delivered_pg()), ("redis-app", scenario.delivered_redis())):
        state = scenario.state(credential)
        assert state["step"] == "idle" and "pending" not in state, (credential, state)
        # No lost credential: the state's user in use is the one the consumer holds.
        assert state["current"]["username"] == delivered[0], (credential, state["current"], delivered[0])
    # The rotation went through: new credentials in use, the old ones revoked.
    assert scenario.delivered_pg()[0] == scenario.roles[1] and scenario.delivered_pg() != old_pg
    assert scenario.delivered_redis()[1] != old_redis[1]
    assert not scenario.pg_ok(*old_pg), resumed.output[-3000:]
    assert not scenario.redis_ok(*old_redis), (_redis_password_hashes(scenario, old_redis[1]), resumed.output[-3000:])
    stats = load.stats
    assert stats["postgres"].failed == 0 and stats["redis"].failed == 0, load.report()

"""A full rotation of postgres-app (alternating login roles) and redis-app (one ACL user, two passwords) through
playbooks/rotate_secrets.yml, while a load generator keeps opening new connections, as the pods do, with the
postgres-url and redis-url the file consumers hold at that moment (the login role and password inside the URL,
percent-encoded: the generated passwords hold ':', '@', '/', '#', '?' and '%').

The rotation is driven one step at a time: each run is killed by the module's test hook right after a step
(NL2API_ROTATION_FAULT=<step>:after), the next run resumes with the next step. Between steps the test probes the
old and the new credential and lets the load run on, so it sees that the old credential keeps working until
revoke and stops working with it, that the new one works from set_secret on, and that not one connection fails.
"""

from __future__ import annotations

import pytest

from .loadgen import (
    POSTGRES_URL_KEY,
    REDIS_URL_KEY,
    STEPS,
    LoadGenerator,
    RotationScenario,
    fill,
    fingerprint,
    postgres_url_template,
    redis_url_template,
    write_volume,
)


def _expected_next(step: str) -> str:
    index = STEPS.index(step)
    return STEPS[index + 1] if index + 1 < len(STEPS) else "idle"


def _pending(scenario: RotationScenario, credential: str) -> tuple[str, str] | None:
    state = scenario.state(credential) or {}
    pending = state.get("pending") or {}
    if pending.get("password"):
        return pending["username"], pending["password"]
    return None


def test_full_rotation_under_load_fails_no_connection(scenario: RotationScenario):
    old_pg = (scenario.roles[0], scenario.initial_pg_password)
    old_redis = (scenario.redis_user, scenario.initial_redis_password)
    new_pg = new_redis = None

    with scenario.load(threads=2, pause=0.005) as load:
        load.wait_for_connections(20)
        for step in STEPS:
            run = scenario.run_playbook(fault=f"{step}:after")
            # The module killed itself after the step: the task, and so the play, failed.
            assert run.rc != 0, run.output[-3000:]
            for credential in ("postgres-app", "redis-app"):
                state = scenario.state(credential)
                assert state is not None and state["step"] == _expected_next(step), (credential, step, state)

            new_pg = _pending(scenario, "postgres-app") or new_pg
            new_redis = _pending(scenario, "redis-app") or new_redis
            assert new_pg is not None and new_redis is not None, step
            assert new_pg[0] == scenario.roles[1] and new_pg[1] != old_pg[1]
            assert new_redis[0] == scenario.redis_user and new_redis[1] != old_redis[1]

            # The old credential works until revoke, and only until then.
            revoked = step == "revoke"
            assert scenario.pg_ok(*old_pg) is not revoked, f"old PostgreSQL login after {step}"
            assert scenario.redis_ok(*old_redis) is not revoked, f"old Redis password after {step}"
            # The new one works as soon as it is set.
            if STEPS.index(step) >= STEPS.index("set_secret"):
                assert scenario.pg_ok(*new_pg), f"new PostgreSQL login after {step}"
                assert scenario.redis_ok(*new_redis), f"new Redis password after {step}"
            # The consumer holds the old credential until update_consumers, the new one from then on, and what it
            # holds always works.
            delivered = STEPS.index(step) >= STEPS.index("update_consumers")
            assert scenario.delivered_pg() == (new_pg if delivered else old_pg), step
            assert scenario.delivered_redis() == (new_redis if delivered else old_redis), step
            assert scenario.pg_ok(*scenario.delivered_pg()) and scenario.redis_ok(*scenario.delivered_redis())

            load.wait_for_connections(20)

        # Converged: idle, nothing pending, and a further run has nothing to do (rotated less than max_age ago).
        final = scenario.run_playbook()
        assert final.rc == 0, final.output[-3000:]
        assert "not due" in final.stdout
        for credential in ("postgres-app", "redis-app"):
            state = scenario.state(credential)
            assert state["step"] == "idle" and "pending" not in state
        load.wait_for_connections(20)

    stats = load.stats
    report = load.report()
    # Every connection and login counts: not one failed.
    assert stats["postgres"].failed == 0 and stats["redis"].failed == 0, report
    # The load really ran on both credentials, before and after the switch.
    assert stats["postgres"].versions[fingerprint(*old_pg)] > 0 and stats["postgres"].versions[fingerprint(*new_pg)] > 0
    assert stats["redis"].versions[fingerprint(*old_redis)] > 0 and stats["redis"].versions[fingerprint(*new_redis)] > 0
    assert stats["postgres"].ok > 100 and stats["redis"].ok > 100, report


@pytest.mark.parametrize("target", ["postgres", "redis"])
def test_load_generator_counts_a_revoked_credential(scenario: RotationScenario, target: str):
    """The measuring instrument can fail: a volume holding a URL with a wrong password yields authentication
    failures only."""
    volume = scenario.workdir / "stale"
    if target == "postgres":
        url = fill(postgres_url_template(scenario.pg), scenario.roles[0], "not-" + scenario.initial_pg_password)
        write_volume(volume, {POSTGRES_URL_KEY: url})
        load = LoadGenerator(pg_server=scenario.pg, db_volume=volume, table=scenario.table, threads=1)
    else:
        url = fill(redis_url_template(scenario.redis), scenario.redis_user, "not-" + scenario.initial_redis_password)
        write_volume(volume, {REDIS_URL_KEY: url})
        load = LoadGenerator(redis_server=scenario.redis, redis_volume=volume, threads=1)
    with load:
        load.wait_for_connections(5)
    stats = load.stats[target]
    assert stats.ok == 0 and stats.auth_failed >= 5 and stats.other_failed == 0, load.report()

"""No secret in what an operator or a log collector sees: playbooks/rotate_secrets.yml run with -vvv against the
real servers, with the admin passwords in a vault-encrypted vault.yml, through a rotation killed before revoke and
resumed, a check-mode run, and a forced second rotation. Neither stdout, stderr nor Ansible's log file
(ANSIBLE_LOG_PATH) may contain an admin password, the vault password, or any application credential: the initial
ones, the pending ones (read from the state file while in flight) and the new ones (read from the file consumers).
"""

from __future__ import annotations

from urllib.parse import quote

from .loadgen import PlaybookRun, RotationScenario


def _secrets_in(text: str, secrets: dict[str, str]) -> list[str]:
    """The names of the secrets found in text, as they are or URL-encoded."""
    return [name for name, value in secrets.items() if value in text or quote(value, safe="") in text]


def test_rotate_secrets_playbook_with_vvv_prints_no_secret(scenario: RotationScenario):
    secrets = {
        "PostgreSQL admin password": scenario.pg.password,
        "Redis admin password": scenario.redis.admin_password,
        "vault password": scenario.vault_password,
        "initial PostgreSQL password": scenario.initial_pg_password,
        "initial Redis password": scenario.initial_redis_password,
    }
    runs: list[tuple[str, PlaybookRun]] = []

    killed = scenario.run_playbook("-vvv", fault="revoke:before")
    runs.append(("killed before revoke", killed))
    assert killed.rc != 0
    for credential, label in (("postgres-app", "PostgreSQL"), ("redis-app", "Redis")):
        pending = scenario.state(credential)["pending"]
        assert pending["password"], credential
        secrets[f"pending {label} password"] = pending["password"]

    resumed = scenario.run_playbook("-vvv")
    runs.append(("resumed", resumed))
    assert resumed.rc == 0, resumed.output[-3000:]
    assert scenario.delivered_pg()[1] == secrets["pending PostgreSQL password"]
    assert scenario.delivered_redis()[1] == secrets["pending Redis password"]

    checked = scenario.run_playbook("-vvv", "--check", "--diff", "-e", "rotation_force=true")
    runs.append(("check mode", checked))
    assert checked.rc == 0, checked.output[-3000:]
    assert "would rotate" in checked.stdout

    forced = scenario.run_playbook("-vvv", "--diff", "-e", "rotation_force=true")
    runs.append(("forced", forced))
    assert forced.rc == 0, forced.output[-3000:]
    secrets["second PostgreSQL password"] = scenario.delivered_pg()[1]
    secrets["second Redis password"] = scenario.delivered_redis()[1]
    assert secrets["second PostgreSQL password"] != secrets["pending PostgreSQL password"]

    # The runs were verbose and did their work (so there was something to leak).
    for name, run in runs:
        assert "<localhost>" in run.output or "ESTABLISH LOCAL CONNECTION" in run.output, name
        assert "postgres-app:" in run.stdout and "redis-app:" in run.stdout, name

    leaks = {name: _secrets_in(run.output, secrets) for name, run in runs}
    leaks["ansible log file"] = _secrets_in(scenario.log_file.read_text(encoding="utf-8"), secrets)
    assert scenario.log_file.stat().st_size > 0
    assert not any(leaks.values()), {name: found for name, found in leaks.items() if found}

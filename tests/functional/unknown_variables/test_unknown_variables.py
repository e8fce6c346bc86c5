"""A misspelled variable stops site.yml's preflight before anything changes (issue 14, "unknown variables").

Each test runs the real `ansible-playbook site.yml --tags render` on a copy of a shipped inventory (the
BadInventory copies of tests/functional/inventories) with one typo: in the inventory's group_vars or given with -e.
The run must fail naming the variable as written and the closest declared one, with changed=0, before the render
directory exists. The allow-list (nl2api_extra_variables) lets a user's own variables through. The shipped
inventories themselves pass: tests/functional/inventories renders each of them.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from inventories.test_site_render import ROOT, BadInventory, broken_copy, recap, run_site


def autoscaling_typo() -> BadInventory:
    """prod's worker autoscaling, under a misspelled name: without the check, the intent is dropped silently."""
    path = ROOT / "inventories" / "prod" / "group_vars" / "all" / "autoscaling.yml"
    intent = yaml.safe_load(path.read_text(encoding="utf-8"))["app_worker_autoscaling"]
    return BadInventory("autoscaling", "prod", {"app_worker_autoscalling": intent}, remove=("app_worker_autoscaling",))


# (case, extra vars, the variable as written, the suggestion)
TYPOS = [
    (BadInventory("namespace", "prod", {"app_namepsace": "nl2api-prod"}), (), "app_namepsace", "app_namespace"),
    (autoscaling_typo(), (), "app_worker_autoscalling", "app_worker_autoscaling"),
    (BadInventory("az-count", "prod", {"network_az_cuont": 3}), (), "network_az_cuont", "network_az_count"),
    (BadInventory("extra-var", "dev"), ("-e", "app_image_tga=1.2.3"), "app_image_tga", "app_image_tag"),
]


def assert_refused_before_any_change(inventory: Path, render_dir: Path, *extra: str) -> str:
    result = run_site(inventory, *extra)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-4000:]
    assert "Check every variable the inventory and -e set is one a role declares" in result.stdout
    assert not render_dir.exists(), "the render directory was created before the typo was refused"
    assert recap(result.stdout)["changed"] == 0
    return output


@pytest.mark.parametrize(("case", "extra", "name", "suggestion"), TYPOS, ids=[typo[0].name for typo in TYPOS])
def test_a_typo_stops_preflight_naming_the_variable_and_the_suggestion(
        case: BadInventory, extra: tuple[str, ...], name: str, suggestion: str, tmp_path: Path) -> None:
    inventory, render_dir = broken_copy(case, tmp_path)
    output = assert_refused_before_any_change(inventory, render_dir, *extra)
    assert f"- {name}: no role of nl2api.deploy declares it (did you mean {suggestion}?)" in output, output[-3000:]


def test_every_unknown_variable_is_named_in_one_message_and_the_allow_list_lets_the_users_own_through(
        tmp_path: Path) -> None:
    case = BadInventory("several", "dev", {"redis_multiaz": True, "app_site_owner": "team-a", "nl2api_team": "a",
                                           "nl2api_extra_variables": ["app_site_*", "nl2api_team"]})
    inventory, render_dir = broken_copy(case, tmp_path)
    output = assert_refused_before_any_change(inventory, render_dir, "-e", "cluster_addons_keda_enabld=true")
    message = re.search(r"msg: \|-\n((?:\s+.*\n)+)", output)
    assert message, output[-3000:]
    lines = [line.strip() for line in message.group(1).splitlines() if line.strip().startswith("- ")]
    named = [line[2:].split(":")[0] for line in lines]
    assert "cluster_addons_keda_enabld" in named and "redis_multiaz" in named, lines
    assert "app_site_owner" not in output and "nl2api_team:" not in output, "the allow-listed variables were refused"


def test_the_allow_list_lets_a_shipped_inventory_with_the_users_own_variables_render(tmp_path: Path) -> None:
    case = BadInventory("allowed", "prod", {"app_site_owner": "team-a", "nl2api_team_channel": "#nl2api",
                                            "nl2api_extra_variables": ["app_site_*", "nl2api_team_channel"]})
    inventory, render_dir = broken_copy(case, tmp_path)
    result = run_site(inventory, "-e", "app_site_region=eu")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert (render_dir / "nl2api.yaml").is_file()


@pytest.mark.parametrize(("playbook", "extra", "name", "suggestion"), [
    ("rollback.yml", ("-e", "app_rollback_revison=3"), "app_rollback_revison", "app_rollback_revision"),
    ("rotate_secrets.yml", ("--tags", "validate", "-e", "rotation_forse=true"), "rotation_forse", "rotation_force"),
    ("run_batch.yml", ("-e", "batch_lable=baseline"), "batch_lable", "batch_label"),
], ids=["rollback", "rotate_secrets", "run_batch"])
def test_the_other_playbooks_refuse_a_typo_first(playbook: str, extra: tuple[str, ...], name: str, suggestion: str) -> None:
    """No cluster is needed: the check is the first task, so the run stops before any connection."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    result = subprocess.run(
        ["ansible-playbook", str(ROOT / "playbooks" / playbook), "-i", str(ROOT / "inventories" / "dev"), *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert f"- {name}: no role of nl2api.deploy declares it (did you mean {suggestion}?)" in output, output[-3000:]
    assert recap(result.stdout) == {**recap(result.stdout), "changed": 0, "failed": 1}

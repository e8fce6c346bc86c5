"""Fixtures for the AWS provisioning tests: ansible-playbook against moto in server mode.

moto gaps the tests work around (each where it is used, with the reason):

* IAM: AWS managed policies (arn:aws:iam::aws:policy/...) exist in moto only when the server starts with
  MOTO_IAM_LOAD_MANAGED_POLICIES=true, so this directory runs its own moto servers with it.
* RDS parameter groups: moto answers DescribeDBParameterGroups for a missing name with an empty list instead of
  DBParameterGroupNotFound, and lists no engine-default parameters, so amazon.aws.rds_instance_param_group can
  neither create a group nor find rds.force_ssl. `seed_parameter_group` puts the group in the state AWS holds it
  before the first run (the engine default rds.force_ssl=0); the role then changes it to 1.
* RDS gp3 storage: moto returns no StorageThroughput/Iops for gp3, which amazon.aws.rds_instance reads on update, so
  the test inventory uses gp2 (the shipped inventories use gp3).
* EKS node groups: moto's DescribeNodegroup has no updateConfig and its ListTagsForResource knows clusters only,
  both of which community.aws.eks_nodegroup reads on an existing node group; the idempotence rerun therefore sets
  cluster_nodegroups_enabled=false (node groups are checked after the first run).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.moto_server import MotoServer, run_moto

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
PROVISION = HERE / "playbooks" / "provision.yml"
ENTRY = HERE / "playbooks" / "entry.yml"
TEARDOWN = ROOT / "playbooks" / "teardown.yml"

# Values of the test inventory that must never appear in any output.
MASTER_PASSWORD = "Test-Master-Passw0rd-42"  # noqa: S105 - a throwaway test value
AUTH_TOKEN = "Test-Redis-Auth-Token-0042"  # noqa: S105 - a throwaway test value

RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


@dataclass
class Run:
    """One ansible-playbook run: its exit code, output and PLAY RECAP counts for localhost."""

    rc: int
    stdout: str
    stderr: str
    ok: int
    changed: int
    failed: int

    def __str__(self) -> str:
        return f"rc={self.rc} changed={self.changed} failed={self.failed}\n{self.stdout[-6000:]}\n{self.stderr[-3000:]}"


def moto_with_iam() -> Any:
    """run_moto with AWS managed IAM policies loaded (the server reads the variable at start)."""
    previous = os.environ.get("MOTO_IAM_LOAD_MANAGED_POLICIES")
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    try:
        stack = ExitStack()
        server = stack.enter_context(run_moto())
    finally:
        if previous is None:
            os.environ.pop("MOTO_IAM_LOAD_MANAGED_POLICIES", None)
        else:
            os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = previous
    return stack, server


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """This directory's moto (overrides the shared one): AWS managed IAM policies loaded."""
    stack, server = moto_with_iam()
    with stack:
        yield server


@pytest.fixture(scope="session")
def provision_moto() -> Iterator[MotoServer]:
    """A moto of its own for the shared provisioning run, so the `aws` fixture's resets never touch it."""
    stack, server = moto_with_iam()
    with stack:
        yield server


def write_inventory(path: Path, moto: MotoServer, **overrides: Any) -> Path:
    """A dev-shaped inventory pointed at moto."""
    variables: dict[str, Any] = {
        "nl2api_environment": "dev",
        "nl2api_platform": "aws",
        "nl2api_aws_region": moto.region,
        "nl2api_aws_endpoint_url": moto.endpoint_url,
        "nl2api_kubeconfig": str(path.parent / "kubeconfig"),
        "network_az_count": 2,
        "network_nat_mode": "single",
        "postgres_master_password": MASTER_PASSWORD,
        "postgres_storage_type": "gp2",  # moto: gp3 lacks StorageThroughput (see module docstring)
        "redis_auth_token": AUTH_TOKEN,
        "postgres_poll_interval": 1,
        "redis_poll_interval": 1,
        "cluster_poll_interval": 1,
    }
    variables.update(overrides)
    inventory = {
        "all": {
            "children": {
                "nl2api_control": {
                    "hosts": {
                        "localhost": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": sys.executable,
                        }
                    }
                }
            },
            "vars": variables,
        }
    }
    path.write_text(yaml.safe_dump(inventory, sort_keys=False), encoding="utf-8")
    return path


def run_playbook(playbook: Path, inventory: Path, moto: MotoServer, *extra: str, timeout: int = 900) -> Run:
    """ansible-playbook from the repository root (its ansible.cfg) with moto's dummy credentials."""
    env = dict(os.environ)
    env.update(moto.environment())
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_PIPELINING="1",
        ANSIBLE_DEPRECATION_WARNINGS="0",
    )
    binary = str(Path(sys.executable).parent / "ansible-playbook")
    done = subprocess.run(
        [binary, "-i", str(inventory), str(playbook), *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )
    counts = {m.group(1): m.groups()[1:] for m in RECAP.finditer(done.stdout)}
    ok, changed, _unreachable, failed = (int(x) for x in counts.get("localhost", ("0", "0", "0", "0")))
    run = Run(done.returncode, done.stdout, done.stderr, ok, changed, failed)
    for secret in (MASTER_PASSWORD, AUTH_TOKEN):
        assert secret not in done.stdout and secret not in done.stderr, "a secret was printed"
    return run


def seed_parameter_group(moto: MotoServer, name: str = "nl2api-dev-postgres16") -> None:
    """The DB parameter group as AWS would hold it before the role changes it (see the module docstring)."""
    rds = moto.client("rds")
    rds.create_db_parameter_group(DBParameterGroupName=name, DBParameterGroupFamily="postgres16",
                                  Description="seeded: moto cannot create it through the module")
    rds.modify_db_parameter_group(DBParameterGroupName=name, Parameters=[{
        "ParameterName": "rds.force_ssl", "ParameterValue": "0", "ApplyMethod": "pending-reboot",
        "DataType": "boolean", "IsModifiable": True, "Source": "engine-default", "AllowedValues": "0,1"}])


@dataclass
class Provisioned:
    """The shared dev-shaped provisioning run, its idempotence rerun and what it published."""

    moto: MotoServer
    first: Run
    second: Run
    outputs: dict[str, Any]
    inventory: Path


@pytest.fixture(scope="session")
def provisioned(provision_moto: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Provisioned:
    """playbooks/provision.yml once on an empty account, then again (changed=0 expected)."""
    provision_moto.reset()
    seed_parameter_group(provision_moto)
    workdir = tmp_path_factory.mktemp("provision")
    inventory = write_inventory(workdir / "hosts.yml", provision_moto)
    outputs_file = workdir / "outputs.json"
    first = run_playbook(PROVISION, inventory, provision_moto, "-e", f"provision_outputs_file={outputs_file}")
    assert first.rc == 0, str(first)
    outputs = json.loads(outputs_file.read_text(encoding="utf-8"))
    # moto: node groups cannot be re-read by community.aws.eks_nodegroup (see the module docstring).
    second = run_playbook(PROVISION, inventory, provision_moto, "-e", f"provision_outputs_file={outputs_file}",
                          "-e", "cluster_nodegroups_enabled=false")
    return Provisioned(provision_moto, first, second, outputs, inventory)


def tags_of(tag_list: list[dict[str, str]] | None) -> dict[str, str]:
    """AWS [{Key, Value}] (or {key: value}) tags as a dict."""
    if isinstance(tag_list, dict):
        return tag_list
    return {t.get("Key", t.get("key")): t.get("Value", t.get("value")) for t in tag_list or []}

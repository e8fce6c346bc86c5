"""No secret of the inventory leaks from site.yml's render path (issue 14, "secrets never leak").

One real `ansible-playbook site.yml --tags render -vvv` on a copy of the dev inventory whose app_values carry
marked secrets (the chart-created Secret's extra key and its PostgreSQL password), with TMPDIR and Ansible's own
temporary directories pointed at an empty test directory. The markers, plain or base64-encoded as a Secret holds
them, must appear nowhere in the output, nowhere under TMPDIR once the run is over (kubernetes.core.helm_template
leaves its values file there unless the app role works around it), and in the 0700 render directory only redacted.
"""

from __future__ import annotations

import base64
import os
import stat
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from inventories.test_site_render import PINNED_TAG, ROOT, BadInventory, broken_copy

MARKERS = ("MARKED-SECRET-123", "MARKED-SECRET-PG-456")
SECRET_VALUES = {"secrets": {"extra": {"openai-api-key": MARKERS[0]}, "values": {"postgres-password": MARKERS[1]}}}
REDACTED = "UkVEQUNURUQ="


class Render(NamedTuple):
    result: subprocess.CompletedProcess[str]
    temp: Path
    render_dir: Path


def forms(marker: str) -> set[str]:
    """The marker as written, and base64-encoded at each of the three alignments a longer value can give it."""
    encoded = {marker}
    for pad in range(3):
        text = base64.b64encode(b"x" * pad + marker.encode()).decode()
        # Drop the characters the padding and the end of the value influence.
        encoded.add(text[(pad * 4 + 2) // 3 + 1:-4])
    return encoded


def leaks(text: str) -> list[str]:
    return sorted(form for marker in MARKERS for form in forms(marker) if form in text)


@pytest.fixture(scope="module")
def verbose_render(tmp_path_factory: pytest.TempPathFactory) -> Render:
    tmp_path = tmp_path_factory.mktemp("leaks")
    # The inventory's own app_values, with the marked secrets merged in.
    source = yaml.safe_load((ROOT / "inventories" / "dev" / "group_vars" / "all" / "app.yml").read_text(encoding="utf-8"))
    values = source.get("app_values") or {}
    values.setdefault("secrets", {}).update(
        {key: {**values.get("secrets", {}).get(key, {}), **marked} for key, marked in SECRET_VALUES["secrets"].items()})
    inventory, render_dir = broken_copy(BadInventory("marked-secrets", "dev", {"app_values": values}), tmp_path)
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               NL2API_IMAGE_TAG=PINNED_TAG, TMPDIR=str(temp),
               ANSIBLE_LOCAL_TEMP=str(temp / "ansible-local"), ANSIBLE_REMOTE_TEMP=str(temp / "ansible-remote"))
    result = subprocess.run(
        ["ansible-playbook", str(ROOT / "site.yml"), "-i", str(inventory), "--tags", "render", "-vvv"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    return Render(result, temp, render_dir)


def files_under(directory: Path) -> list[Path]:
    return sorted(path for path in directory.rglob("*") if path.is_file())


def test_the_marked_render_succeeds(verbose_render: Render) -> None:
    result = verbose_render.result
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert (verbose_render.render_dir / "nl2api.yaml").is_file()


def test_no_secret_in_the_output_at_vvv(verbose_render: Render) -> None:
    output = verbose_render.result.stdout + verbose_render.result.stderr
    found = leaks(output)
    lines = [line for line in output.splitlines() if leaks(line)]
    assert found == [], "\n".join(lines[:20])


def test_no_secret_left_under_tmpdir(verbose_render: Render) -> None:
    leaked = [str(path) for path in files_under(verbose_render.temp) if leaks(path.read_text(encoding="utf-8", errors="replace"))]
    assert leaked == [], "files under TMPDIR hold a marked secret"


def test_the_render_directory_holds_the_secrets_only_redacted(
        verbose_render: Render) -> None:
    result, render_dir = verbose_render.result, verbose_render.render_dir
    assert result.returncode == 0, result.stdout[-4000:]
    assert stat.S_IMODE(render_dir.stat().st_mode) == 0o700
    assert [path.name for path in files_under(render_dir)] == ["nl2api.yaml"], "the values file must be removed"
    text = (render_dir / "nl2api.yaml").read_text(encoding="utf-8")
    assert leaks(text) == []
    secrets = [doc for doc in yaml.safe_load_all(text) if doc and doc["kind"] == "Secret"]
    extra = [secret["data"]["openai-api-key"] for secret in secrets if "openai-api-key" in secret.get("data", {})]
    assert extra == [REDACTED], "the marked key must be rendered, redacted"

"""requirements.yml must list every collection the code uses, at versions the installed ones satisfy.

Users install collections from Galaxy with requirements.yml; this repository gets them from the pinned `ansible`
package. Both must agree, or a Galaxy user's run breaks on a module that is missing or too old.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from ansible.galaxy.dependency_resolution.versioning import meets_requirements

ROOT = Path(__file__).resolve().parents[3]
OWN_COLLECTION = "nl2api.deploy"
IMPLICIT = {"ansible.builtin", "ansible.legacy", OWN_COLLECTION}
# Where code that references collections lives; tests, caches and vendored files are not shipped code.
SCANNED = ("site.yml", "playbooks", "roles", "plugins", "molecule", "inventories", "meta")
FQCN = re.compile(r"(?<![\w./-])([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\.[a-z][a-z0-9_]*(?![\w./-])")


def installed_collections() -> dict[str, str]:
    """Return {name: version} of every collection ansible-galaxy sees, first path wins as in Ansible."""
    out = subprocess.run(
        ["ansible-galaxy", "collection", "list", "--format", "json"],
        check=True, capture_output=True, text=True, cwd=ROOT,
    ).stdout
    found: dict[str, str] = {}
    for collections in json.loads(out).values():
        for name, info in collections.items():
            found.setdefault(name, info["version"])
    return found


def referenced_collections(paths: list[Path], known: set[str]) -> dict[str, set[str]]:
    """Return {collection: {files}} for each known collection named by an FQCN in the files."""
    refs: dict[str, set[str]] = {}
    for path in paths:
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in FQCN.finditer(text):
            collection = f"{match.group(1)}.{match.group(2)}"
            if collection in known and collection not in IMPLICIT:
                refs.setdefault(collection, set()).add(str(path.relative_to(ROOT)))
    return refs


def code_files(root: Path) -> list[Path]:
    files: list[Path] = []
    for entry in SCANNED:
        base = root / entry
        candidates = [base] if base.is_file() else base.rglob("*") if base.is_dir() else []
        files.extend(p for p in candidates if p.is_file() and p.suffix in {".yml", ".yaml", ".py", ".j2"})
    return files


def listed_requirements(path: Path) -> dict[str, str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {entry["name"]: str(entry.get("version", "*")) for entry in data["collections"]}


def problems(referenced: dict[str, set[str]], listed: dict[str, str], installed: dict[str, str]) -> list[str]:
    """Everything wrong between what the code uses, what requirements.yml lists and what is installed."""
    found = []
    for collection, files in sorted(referenced.items()):
        if collection not in listed:
            found.append(f"{collection} is used in {sorted(files)[0]} but not listed in requirements.yml")
    for collection, spec in sorted(listed.items()):
        version = installed.get(collection)
        if version is None:
            found.append(f"{collection} is listed in requirements.yml but not installed")
        elif not meets_requirements(version, spec):
            found.append(f"{collection} {version} is installed but requirements.yml asks for {spec}")
    return found


@pytest.fixture(scope="module")
def installed() -> dict[str, str]:
    return installed_collections()


def test_requirements_yml_matches_code_and_installed_versions(installed: dict[str, str]) -> None:
    referenced = referenced_collections(code_files(ROOT), set(installed))
    listed = listed_requirements(ROOT / "requirements.yml")
    assert problems(referenced, listed, installed) == []


def test_galaxy_yml_declares_the_same_collections_as_requirements_yml() -> None:
    """A collection installed from Galaxy pulls its dependencies from galaxy.yml, a checkout from requirements.yml."""
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))
    declared = {name: str(spec) for name, spec in (galaxy.get("dependencies") or {}).items()}
    assert declared == listed_requirements(ROOT / "requirements.yml")


def test_checker_reports_unlisted_and_unsatisfied_collections(tmp_path: Path, installed: dict[str, str]) -> None:
    task = tmp_path / "tasks.yml"
    task.write_text("- name: Create a user\n  community.mysql.mysql_user:\n    name: app\n", encoding="utf-8")
    refs: dict[str, set[str]] = {}
    for path in [task]:
        for match in FQCN.finditer(path.read_text(encoding="utf-8")):
            refs.setdefault(f"{match.group(1)}.{match.group(2)}", set()).add(path.name)
    listed = {"kubernetes.core": ">=99.0.0", "no.such_collection": "*"}
    found = problems(refs, listed, installed)
    assert "community.mysql is used in tasks.yml but not listed in requirements.yml" in found
    assert any(line.startswith("kubernetes.core ") and ">=99.0.0" in line for line in found)
    assert "no.such_collection is listed in requirements.yml but not installed" in found


def test_fqcn_pattern_ignores_label_keys_and_finds_module_keys() -> None:
    text = "labels:\n  app.kubernetes.io/name: x\n- kubernetes.core.helm:\n    name: y\n"
    names = {f"{m.group(1)}.{m.group(2)}" for m in FQCN.finditer(text)}
    assert names == {"kubernetes.core"}

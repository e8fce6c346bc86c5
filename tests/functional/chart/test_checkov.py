"""checkov on the rendered chart, with the repository's .checkov.yaml: no failed check, and no skip but those the
configuration names (each with its reason there).

Every environment, a batch release of each and a few toggle combinations are rendered (`helm template --no-hooks`
plus the migrations hook Job through `--show-only`, as .checkov.yaml explains) into one directory, one file per
case, and one checkov run scans it with `--config-file .checkov.yaml`, as users run it. checkov's start-up
dominates (~3 s); to keep the scan itself short, an object identical to one
an earlier case already rendered is written once (identical objects get identical results).

The run must report zero failed checks and no skipped check: checkov does not list the checks skipped through
the configuration's `skip-check`, but it does list those suppressed inline (`checkov.io/skip*` annotations), so a
skip can only come from .checkov.yaml, whose list is pinned here. That each configured skip is still needed is
checked on the renders directly.

A negative control rides along in the same run: the dev render with the API's resource limits removed must fail
CKV_K8S_11 and CKV_K8S_13 on the API Deployment and nothing else, which shows that the scan sees the renders and can
fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
CONFIG = REPO_ROOT / ".checkov.yaml"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: The skips .checkov.yaml may hold. Adding one means editing this test too, i.e. a reviewed decision.
EXPECTED_SKIPS = {"CKV_K8S_8", "CKV_K8S_9", "CKV_K8S_15", "CKV_K8S_35", "CKV_K8S_43"}
RELEASE = "rel"
BATCH_RELEASE = "batch"
BATCH = {"batch": {"enabled": True, "platformRelease": "rel-nl2api", "producer": {"label": "L", "tags": ["smoke"]}},
         "worker": {"batchId": "0b7e3c1e-1111-4222-8333-444455556666"}}

_INGRESS_TLS = {"ingress": {
    "enabled": True, "className": "nginx",
    "hosts": [{"host": "nl2api.local.example.invalid", "paths": [{"path": "/", "pathType": "Prefix"}]}],
    "tls": [{"secretName": "nl2api-local-tls", "hosts": ["nl2api.local.example.invalid"]}]}}

#: case name -> (environment, extra values, release); a batch release gets BATCH merged under its values.
CASES: dict[str, tuple[str, dict | None, str]] = {
    "env-local": ("local", None, RELEASE),
    "env-dev": ("dev", None, RELEASE),
    "env-staging": ("staging", None, RELEASE),
    "env-prod": ("prod", None, RELEASE),
    "batch-local": ("local", None, BATCH_RELEASE),
    "batch-dev": ("dev", None, BATCH_RELEASE),
    "batch-staging": ("staging", None, BATCH_RELEASE),
    "batch-prod": ("prod", None, BATCH_RELEASE),
    "local-ingress-tls": ("local", _INGRESS_TLS, RELEASE),
    "dev-entity-service": ("dev", {"entityService": {"enabled": True}}, RELEASE),
    # prod's KEDA ScaledObject replaced by an HPA on External metrics.
    "batch-prod-worker-hpa": ("prod", {"worker": {"autoscaling": {"engine": "hpa"}}}, BATCH_RELEASE),
    # KEDA against the in-cluster Redis, scale to zero.
    "batch-dev-worker-keda": ("dev", {"worker": {"autoscaling": {
        "enabled": True, "engine": "keda", "minReplicas": 0, "maxReplicas": 4}}}, BATCH_RELEASE),
    "dev-external-stores": ("dev", {
        "postgresql": {"enabled": False}, "redis": {"enabled": False},
        "externalDatabase": {"host": "db.example.invalid", "sslMode": "verify-full",
                             "caConfigMap": {"name": "nl2api-database-ca"}},
        "externalRedis": {"host": "cache.example.invalid", "port": 6380, "tls": True}}, RELEASE),
}

NAMESPACE = "nl2api"
WORKER = f"Deployment.{NAMESPACE}.batch-nl2api-worker"
MIGRATIONS = f"Job.{NAMESPACE}.rel-nl2api-migrations"
API = f"Deployment.{NAMESPACE}.rel-nl2api-api"
CONTROL = "control-api-without-limits"
CONTROL_CASE = ("dev", {"api": {"resources": {"limits": None}}}, RELEASE)
CONTROL_FAILURES = {("CKV_K8S_11", API), ("CKV_K8S_13", API)}
#: The hook the scan renders on its own: --no-hooks leaves it out, and it is a workload (the helm test Pod is not).
MIGRATIONS_TEMPLATE = "templates/migrations/job.yaml"
POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}


def merge_values(base: dict, override: dict) -> dict:
    """Helm-like merge: maps merge recursively, everything else is replaced."""
    result = dict(base)
    for key, value in override.items():
        result[key] = merge_values(result[key], value) if isinstance(value, dict) and isinstance(
            result.get(key), dict) else value
    return result


def find_checkov() -> str:
    candidates = [os.environ.get("CHECKOV"), str(REPO_ROOT / ".tools" / "checkov-venv" / "bin" / "checkov"),
                  str(REPO_ROOT / ".venv" / "bin" / "checkov"), shutil.which("checkov")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("checkov not found (make setup installs it into .tools/checkov-venv; or set CHECKOV)")


def config_skips() -> list[str]:
    return list(yaml.safe_load(CONFIG.read_text()).get("skip-check") or [])


def resource_id(doc: dict) -> str:
    """checkov's name for a Kubernetes object."""
    return f"{doc['kind']}.{doc['metadata'].get('namespace', 'default')}.{doc['metadata']['name']}"


def case_of(check: dict) -> str:
    return Path(check["file_path"]).stem


def describe(checks: list[dict]) -> str:
    return "\n".join(f"  {c['check_id']} {c['check_name']!r}: {c['resource']} in {case_of(c)}" for c in checks)


@dataclass
class Renders:
    directory: Path  # what checkov scans: each distinct object once, in the file of the first case rendering it
    cases: dict[str, list[dict]]  # case -> every object it renders


@pytest.fixture(scope="module")
def renders(chart, tmp_path_factory) -> Renders:
    result = Renders(tmp_path_factory.mktemp("checkov-renders"), {})
    seen: set[str] = set()
    for name, (env, values, release) in [*CASES.items(), (CONTROL, CONTROL_CASE)]:
        if release == BATCH_RELEASE:
            values = merge_values(BATCH, values or {})
        text = chart.template_text(env, values, ["--no-hooks"], release=release)
        if release == RELEASE:
            text += "\n---\n" + chart.template_text(env, values, ["--show-only", MIGRATIONS_TEMPLATE], release=release)
        docs = [d for d in yaml.load_all(text, Loader=_LOADER) if d]
        result.cases[name] = docs
        new = []
        for doc in docs:
            key = json.dumps(doc, sort_keys=True)
            if key not in seen:
                seen.add(key)
                new.append(doc)
        (result.directory / f"{name}.yaml").write_text(yaml.safe_dump_all(new, sort_keys=False))
    return result


@pytest.fixture(scope="module")
def report(renders, tmp_path_factory) -> dict:
    # A clean working directory and HOME: checkov also reads .checkov.yaml from the scanned directory, the
    # working directory and HOME, so only what is passed explicitly applies.
    home = tmp_path_factory.mktemp("checkov-home")
    cmd = [find_checkov(), "--config-file", str(CONFIG), "-d", str(renders.directory), "-o", "json"]
    proc = subprocess.run(cmd, cwd=home, env={**os.environ, "HOME": str(home), "LOG_LEVEL": "WARNING"},
                          capture_output=True, text=True, timeout=300, check=False)
    # Exit code 1 just means failed checks (the negative control); anything else is checkov itself failing.
    assert proc.returncode in (0, 1), f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr}"
    data = json.loads(proc.stdout)
    reports = [r for r in (data if isinstance(data, list) else [data]) if r.get("check_type") == "kubernetes"]
    assert len(reports) == 1, f"no kubernetes report in checkov's output:\n{proc.stdout[:2000]}\n{proc.stderr}"
    return reports[0]


def test_configuration_skips_only_the_expected_checks_each_with_a_reason():
    config = yaml.safe_load(CONFIG.read_text())
    assert config["framework"] == ["kubernetes"]
    assert config["skip-download"] is True and config["compact"] is True
    skips = config_skips()
    assert len(skips) == len(set(skips)) and set(skips) == EXPECTED_SKIPS, skips
    # Every entry is preceded by a comment (its reason).
    lines = CONFIG.read_text().splitlines()
    for check in skips:
        index = next(i for i, line in enumerate(lines) if re.fullmatch(rf"\s*-\s*{check}\s*", line))
        assert lines[index - 1].strip().startswith("#"), f"{check} in .checkov.yaml has no comment giving its reason"


def test_no_failed_check_and_no_other_skip(report, renders):
    assert report["summary"]["parsing_errors"] == 0, report["summary"]
    results = report["results"]
    failed = [c for c in results["failed_checks"] if case_of(c) != CONTROL]
    assert not failed, f"checkov failed checks on the rendered chart:\n{describe(failed)}"
    # Skips come from .checkov.yaml only (checkov does not list those); inline suppressions would be listed.
    skipped = results["skipped_checks"]
    assert not skipped, f"checks skipped outside .checkov.yaml:\n{describe(skipped)}"
    # Every pod-bearing object written was scanned (a render checkov could not read would pass vacuously).
    scanned = {(case_of(c), c["resource"]) for c in results["passed_checks"] + results["failed_checks"]}
    written = {(path.stem, resource_id(d)) for path in renders.directory.glob("*.yaml")
               for d in yaml.load_all(path.read_text(), Loader=_LOADER) if d and d["kind"] in POD_KINDS}
    assert written and written <= scanned, sorted(written - scanned)
    # Each batch case's worker Deployment and each platform case's migrations Job was scanned, in its own file or
    # as an identical object in an earlier one.
    for case, (_env, _values, release) in CASES.items():
        wanted = WORKER if release == BATCH_RELEASE else MIGRATIONS
        assert any(resource_id(d) == wanted for d in renders.cases[case]), (case, wanted)


def test_negative_control_fails(report):
    """The same scan catches a worker without readiness probe: the test can fail."""
    failed = {(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"] if case_of(c) == CONTROL}
    assert failed == CONTROL_FAILURES


def _containers(docs: list[dict]) -> Iterator[tuple[str, dict]]:
    """(kind, container) of every container."""
    for doc in docs:
        if doc["kind"] not in POD_KINDS:
            continue
        spec = doc["spec"] if doc["kind"] == "Pod" else doc["spec"]["template"]["spec"]
        for c in (spec.get("initContainers") or []) + spec["containers"]:
            yield doc["kind"], c


#: checkov does not require probes of these (run-to-completion kinds).
PROBE_EXEMPT_KINDS = {"Job", "CronJob", "Pod"}

#: What makes each skipped check fail (as checkov 3.3 tests it), to tell that the skip is still needed.
SKIP_TRIGGERS: dict[str, Callable[[str, dict], bool]] = {
    "CKV_K8S_8": lambda kind, c: kind not in PROBE_EXEMPT_KINDS and not c.get("livenessProbe"),
    "CKV_K8S_9": lambda kind, c: kind not in PROBE_EXEMPT_KINDS and not c.get("readinessProbe"),
    "CKV_K8S_43": lambda _kind, c: "@" not in c["image"],
    "CKV_K8S_15": lambda _kind, c: c.get("imagePullPolicy") != "Always",
    "CKV_K8S_35": lambda _kind, c: any("secretKeyRef" in (e.get("valueFrom") or {}) for e in c.get("env") or [])
    or any("secretRef" in e for e in c.get("envFrom") or []),
}


def test_every_skip_is_still_needed(renders):
    """A skip whose check would pass everywhere (e.g. every image pinned by digest) must leave .checkov.yaml."""
    assert set(SKIP_TRIGGERS) == EXPECTED_SKIPS
    containers = [kc for case in CASES for kc in _containers(renders.cases[case])]
    for check in config_skips():
        assert any(SKIP_TRIGGERS[check](kind, c) for kind, c in containers), \
            f"{check} is skipped but no container fails it"


def test_probe_skips_cover_only_the_worker(renders):
    """CKV_K8S_8/9 are skipped for the worker alone: every other long-running container has both probes."""
    missing = {(doc["kind"], doc["metadata"]["name"], c["name"])
               for case in CASES for doc in renders.cases[case] if doc["kind"] not in PROBE_EXEMPT_KINDS | {"Pod"}
               for _kind, c in _containers([doc])
               if not (c.get("livenessProbe") and c.get("readinessProbe"))}
    assert missing == {("Deployment", "batch-nl2api-worker", "worker")}


@pytest.mark.parametrize("env", ["local", "dev", "staging", "prod"])
def test_no_hooks_leaves_out_only_the_helm_test_pod_and_the_migrations(chart, h, env):
    """.checkov.yaml's input is rendered with --no-hooks, plus the migrations hook Job on its own: together they
    must drop nothing but the helm test Pod."""
    def idents(docs) -> set[tuple[str, str]]:
        return {(d["kind"], d["metadata"]["name"]) for d in docs if d}

    with_hooks = idents(chart.render(env))
    without = idents(yaml.load_all(chart.template_text(env, None, ["--no-hooks"]), Loader=_LOADER))
    assert without <= with_hooks
    assert with_hooks - without == {("Pod", f"{h.RELEASE}-nl2api-test"), ("Job", f"{h.RELEASE}-nl2api-migrations")}
    shown = idents(yaml.load_all(chart.template_text(env, None, ["--show-only", MIGRATIONS_TEMPLATE]), Loader=_LOADER))
    assert shown == {("Job", f"{h.RELEASE}-nl2api-migrations")}

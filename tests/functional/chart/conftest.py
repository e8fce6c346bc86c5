"""Shared helpers for the Helm chart tests (deploy/helm/nl2api).

Every test renders the real chart with the real helm binary (`helm template`, `helm lint`);
nothing talks to a cluster. Helpers are exposed as fixtures so that no import path
configuration is needed.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

import jsonschema
import pytest
import yaml

from ansible_collections.nl2api.deploy.plugins.module_utils.autoscaling.chart_values import merge_maps
from support.ansible_cli import find_helm
from support.kube_api import strict_schema

REPO_ROOT = Path(__file__).resolve().parents[3]
CHART_DIR = REPO_ROOT / "deploy" / "helm" / "nl2api"
ENV_DIR = REPO_ROOT / "deploy" / "helm" / "environments"
ENVIRONMENTS = ("local", "dev", "staging", "prod")
RELEASE = "rel"
NAMESPACE = "nl2api"
KUBERNETES_VERSIONS = ("1.31", "1.35")

# A batch release (playbooks/run_batch.yml): the producer Job and, with worker.batchId, the batch's workers. It uses
# the platform release's Secret, ConfigMap and data stores, here those of release RELEASE (full name rel-nl2api).
BATCH_ID = "0b7e3c1e-1111-4222-8333-444455556666"
BATCH_VALUES = {"batch": {"enabled": True, "platformRelease": f"{RELEASE}-nl2api",
                          "producer": {"label": "L", "tags": ["smoke"]}},
                "worker": {"batchId": BATCH_ID}}
BATCH_RELEASE = "batch"

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
RECOMMENDED_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
)


# libyaml when available: the CRD files are large.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class HelmError(AssertionError):
    """helm exited non-zero; `stderr` holds its message."""

    def __init__(self, cmd: list[str], stderr: str):
        super().__init__(f"{' '.join(cmd)} failed:\n{stderr}")
        self.stderr = stderr


def find_crd_dir() -> Path | None:
    candidates = [
        os.environ.get("NL2API_CRDS_DIR"),
        str(REPO_ROOT / "deploy" / "crds"),  # vendored upstream CRDs (also used by the deploy gate)
        str(REPO_ROOT.parent / "shared" / "crds"),
        "/work/shared/crds",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir() and any(Path(candidate).glob("*.yaml")):
            return Path(candidate)
    return None


def env_file(env: str) -> Path:
    return ENV_DIR / f"{env}.yaml"


def load_env_values(env: str) -> dict:
    return yaml.safe_load(env_file(env).read_text()) or {}


def deep_merge(base: dict, override: dict) -> dict:
    """Helm's merge of values files (maps merge recursively, everything else is replaced), as the collection
    computes it (chart_values.merge_maps), on a copy: the result shares nothing with either input."""
    return merge_maps(copy.deepcopy(base), override)


class Chart:
    """Runs helm against the chart, caching renders by their inputs."""

    def __init__(self, helm: str):
        self.helm = helm
        self._cache: dict[str, list[dict]] = {}
        self._tmp = Path(tempfile.mkdtemp(prefix="nl2api-chart-tests-"))
        self._counter = 0

    def _values_args(self, env: str | None, values: dict | None) -> list[str]:
        args: list[str] = []
        if env:
            args += ["-f", str(env_file(env))]
        if values:
            self._counter += 1
            path = self._tmp / f"values-{self._counter}.yaml"
            path.write_text(yaml.safe_dump(values, sort_keys=False))
            args += ["-f", str(path)]
        return args

    def run(self, args: list[str]) -> str:
        cmd = [self.helm, *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise HelmError(cmd, proc.stderr + proc.stdout)
        return proc.stdout

    def template_text(self, env: str | None = None, values: dict | None = None,
                      extra_args: Iterable[str] = (), chart_dir: Path = CHART_DIR, release: str = RELEASE) -> str:
        return self.run(["template", release, str(chart_dir), "--namespace", NAMESPACE,
                         *self._values_args(env, values), *extra_args])

    def render(self, env: str | None = None, values: dict | None = None, release: str = RELEASE) -> list[dict]:
        key = json.dumps([env, values, release], sort_keys=True)
        if key not in self._cache:
            text = self.template_text(env, values, release=release)
            self._cache[key] = [doc for doc in yaml.load_all(text, Loader=_YAML_LOADER) if doc]
        return copy.deepcopy(self._cache[key])

    def render_batch(self, env: str | None = None, values: dict | None = None) -> list[dict]:
        """A batch release (release BATCH_RELEASE) of the platform release RELEASE, `values` merged over it."""
        return self.render(env, deep_merge(BATCH_VALUES, values or {}), release=BATCH_RELEASE)

    def render_error(self, env: str | None = None, values: dict | None = None, release: str = RELEASE) -> str:
        try:
            self.template_text(env, values, release=release)
        except HelmError as exc:
            return exc.stderr
        raise AssertionError(f"helm template unexpectedly succeeded (env={env}, values={values})")

    def lint(self, env: str | None = None, values: dict | None = None) -> str:
        return self.run(["lint", "--strict", str(CHART_DIR), "--namespace", NAMESPACE,
                         *self._values_args(env, values)])

    def notes(self, env: str | None = None, values: dict | None = None) -> str:
        """Render NOTES.txt (helm template skips it) through a throw-away copy of the chart."""
        copy_dir = self._tmp / "notes-chart"
        if not copy_dir.exists():
            shutil.copytree(CHART_DIR, copy_dir)
            shutil.copy(CHART_DIR / "templates" / "NOTES.txt", copy_dir / "rendered-notes.txt")
            (copy_dir / "templates" / "zz-rendered-notes.yaml").write_text(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rendered-notes\ndata:\n"
                "  NOTES.txt: |\n    {{- tpl (.Files.Get \"rendered-notes.txt\") . | nindent 4 }}\n"
            )
        text = self.template_text(env, values, ["--show-only", "templates/zz-rendered-notes.yaml"],
                                  chart_dir=copy_dir)
        return yaml.safe_load(text)["data"]["NOTES.txt"]


@pytest.fixture(scope="session")
def chart() -> Iterator[Chart]:
    instance = Chart(find_helm())
    yield instance
    shutil.rmtree(instance._tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------
# Object helpers
# --------------------------------------------------------------------------------------

def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d.get("kind") == kind]


def one(docs: list[dict], kind: str, name: str | None = None) -> dict:
    matches = [d for d in by_kind(docs, kind) if name is None or d["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected exactly one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def component(docs: list[dict], kind: str, comp: str) -> list[dict]:
    return [d for d in by_kind(docs, kind)
            if d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == comp]


def pod_specs(docs: list[dict]) -> list[tuple[str, dict, dict]]:
    """(object name, pod metadata, pod spec) for every pod template and bare Pod."""
    out = []
    for d in docs:
        if d.get("kind") in WORKLOAD_KINDS:
            tpl = d["spec"]["template"]
            out.append((f"{d['kind']}/{d['metadata']['name']}", tpl.get("metadata", {}), tpl["spec"]))
        elif d.get("kind") == "Pod":
            out.append((f"Pod/{d['metadata']['name']}", d["metadata"], d["spec"]))
    return out


def decode_secret(secret: dict) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


ALLOWED_VOLUME_TYPES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                        "persistentVolumeClaim", "projected", "secret"}


def restricted_violations(name: str, spec: dict) -> list[str]:
    """Pod Security Standard "restricted" (plus our read-only root filesystem rule)."""
    problems = []
    psc = spec.get("securityContext") or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            problems.append(f"{name}: {field}")
    for vol in spec.get("volumes") or []:
        kinds = set(vol) - {"name"}
        if not kinds <= ALLOWED_VOLUME_TYPES:
            problems.append(f"{name}: volume {vol['name']} of type {kinds - ALLOWED_VOLUME_TYPES}")
    for key in ("runAsUser", "runAsGroup", "fsGroup"):
        if not isinstance(psc.get(key), int) or psc[key] <= 0:
            problems.append(f"{name}: pod securityContext.{key} must be a fixed non-root id")
    containers = (spec.get("initContainers") or []) + spec["containers"] + (spec.get("ephemeralContainers") or [])
    for c in containers:
        sc = c.get("securityContext") or {}
        cname = f"{name}/{c['name']}"
        run_as_non_root = sc.get("runAsNonRoot", psc.get("runAsNonRoot"))
        if run_as_non_root is not True:
            problems.append(f"{cname}: runAsNonRoot is not true")
        if sc.get("runAsUser", psc.get("runAsUser")) == 0:
            problems.append(f"{cname}: runAsUser 0")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{cname}: allowPrivilegeEscalation is not false")
        if sc.get("privileged"):
            problems.append(f"{cname}: privileged")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            problems.append(f"{cname}: capabilities.drop lacks ALL")
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            problems.append(f"{cname}: capabilities.add {caps['add']}")
        seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{cname}: seccompProfile {seccomp}")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{cname}: readOnlyRootFilesystem is not true")
        for port in c.get("ports") or []:
            if port.get("hostPort"):
                problems.append(f"{cname}: hostPort")
    return problems


# --------------------------------------------------------------------------------------
# Schema validation: kubernetes-validate (built-in kinds) and CRD schemas (custom resources)
# --------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def crd_validators() -> dict[tuple[str, str], jsonschema.Draft7Validator]:
    """(apiVersion, kind) -> validator, for every *served* version of every CRD file."""
    crd_dir = find_crd_dir()
    validators: dict[tuple[str, str], jsonschema.Draft7Validator] = {}
    if crd_dir is None:
        return validators
    for path in sorted(crd_dir.glob("*.yaml")):
        for crd in yaml.load_all(path.read_text(), Loader=_YAML_LOADER):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group = crd["spec"]["group"]
            kind = crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if not version.get("served"):
                    continue
                schema = strict_schema(version["schema"]["openAPIV3Schema"])
                validators[(f"{group}/{version['name']}", kind)] = jsonschema.Draft7Validator(schema)
    return validators


@functools.lru_cache(maxsize=None)
def _patch_kubernetes_validate_cache() -> None:
    """kubernetes-validate re-reads its (large) schema files on every call; memoise them."""
    import kubernetes_validate.utils as kv_utils

    original = kv_utils.schema_contents
    kv_utils.schema_contents = functools.lru_cache(maxsize=None)(original)


def validate_docs(docs: list[dict], k8s_version: str) -> list[str]:
    """Return a list of validation errors (empty = all objects valid)."""
    import kubernetes_validate

    _patch_kubernetes_validate_cache()
    errors = []
    for doc in docs:
        ident = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        key = (doc.get("apiVersion"), doc.get("kind"))
        crd = crd_validators().get(key)
        if crd is not None:
            for err in crd.iter_errors(doc):
                errors.append(f"{ident} ({key[0]}): {'.'.join(map(str, err.path))}: {err.message}")
            continue
        try:
            kubernetes_validate.validate(doc, k8s_version, strict=True)
        except kubernetes_validate.ValidationError as err:
            errors.append(f"{ident} (k8s {k8s_version}): {'.'.join(map(str, err.path))}: {err.message}")
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(f"{ident}: no schema for {key[0]} {key[1]} (neither built-in nor a known CRD)")
    return errors


@pytest.fixture(scope="session")
def crds_available() -> None:
    if not crd_validators():
        # The CRDs are vendored in deploy/crds: their absence is a broken checkout, never a reason to skip.
        pytest.fail("CRD files (KEDA, External Secrets, Prometheus Operator) not found in deploy/crds or NL2API_CRDS_DIR")


# Re-exported for the test modules through a fixture (no import path games needed).
class Helpers:
    by_kind = staticmethod(by_kind)
    one = staticmethod(one)
    component = staticmethod(component)
    pod_specs = staticmethod(pod_specs)
    decode_secret = staticmethod(decode_secret)
    restricted_violations = staticmethod(restricted_violations)
    validate_docs = staticmethod(validate_docs)
    deep_merge = staticmethod(deep_merge)
    load_env_values = staticmethod(load_env_values)
    RELEASE = RELEASE
    BATCH_ID = BATCH_ID
    BATCH_VALUES = BATCH_VALUES
    BATCH_RELEASE = BATCH_RELEASE
    NAMESPACE = NAMESPACE
    ENVIRONMENTS = ENVIRONMENTS
    KUBERNETES_VERSIONS = KUBERNETES_VERSIONS
    RECOMMENDED_LABELS = RECOMMENDED_LABELS
    CHART_DIR = CHART_DIR


@pytest.fixture(scope="session")
def h() -> type[Helpers]:
    return Helpers


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "environment" in metafunc.fixturenames:
        metafunc.parametrize("environment", ENVIRONMENTS)
    if "k8s_version" in metafunc.fixturenames:
        metafunc.parametrize("k8s_version", KUBERNETES_VERSIONS)

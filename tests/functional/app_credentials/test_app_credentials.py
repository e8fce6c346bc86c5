"""roles/app seeds the app Secret (app_credentials_secret, the chart's secrets.existingSecret) from app_credentials.

The real role tasks (validate_credentials.yml, credentials.yml) run with the real kubernetes.core modules against an
in-process Kubernetes API that stores Secrets as the API server does (stringData folded into base64 data, strategic
merge patches). What must hold:
- the first deploy creates the Secret with every key the chart reads; a second run changes nothing;
- a key the Secret lacks is added, and a key it has is never rewritten (the rotation owns the values);
- a missing credential stops the run with the variable's name before any write;
- no credential appears in the output, at -vvv and in --diff.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from support.ansible_cli import Run, clean_ansible_environment, find_tool
from support.kube_api import not_found, serve_kube_api, status, write_kubeconfig

ROOT = Path(__file__).resolve().parents[3]
NAMESPACE, SECRET = "nl2api-staging", "nl2api-credentials"
CREDENTIALS = {
    "postgres_username": "nl2api_app_a", "postgres_password": "Seed-app-pass/word:1",
    "postgres_migrations_username": "nl2api_owner", "postgres_migrations_password": "Seed-owner-pass@2",
    "redis_password": "Seed-auth-token-3456789", "openfigi_api_key": "Seed-figi-key-7",
}
DATABASE = {"host": "db.internal", "port": 5432, "name": "nl2api", "sslMode": "verify-full",
            "caConfigMap": {"name": "nl2api-database-ca", "key": "ca.crt"}}
REDIS = {"host": "master.cache.internal", "port": 6379, "tls": True, "databaseIndex": 0}
DISCOVERY = {
    "/version": {"major": "1", "minor": "35", "gitVersion": "v1.35.0"},
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
    "/api/v1": {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": [
        {"name": "secrets", "singularName": "secret", "namespaced": True, "kind": "Secret",
         "verbs": ["create", "delete", "get", "list", "patch", "update"]}]},
}
SECRET_PATH = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/secrets(?:/(?P<name>[^/]+))?$")


class SecretStore:
    """Secrets kept as the API server keeps them; every write is recorded as (method, name)."""

    def __init__(self) -> None:
        self.secrets: dict[str, dict[str, Any]] = {}
        self.writes: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def data(self, name: str = SECRET) -> dict[str, str]:
        return {key: base64.b64decode(value).decode() for key, value in self.secrets[name]["data"].items()}

    def put(self, name: str, data: dict[str, str]) -> None:
        self.secrets[name] = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                              "metadata": {"name": name, "namespace": NAMESPACE, "resourceVersion": "1"},
                              "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}

    def answer(self, method: str, raw_path: str, content_type: str, body: bytes) -> tuple[int, Any]:
        path = urlparse(raw_path).path
        if path in DISCOVERY:
            return 200, DISCOVERY[path]
        match = SECRET_PATH.match(path)
        if not match or match.group("ns") != NAMESPACE:
            return status(404, "NotFound", "the server could not find the requested resource")
        name = match.group("name")
        with self.lock:
            if method == "GET" and name is None:
                return 200, {"kind": "SecretList", "apiVersion": "v1", "metadata": {},
                             "items": list(self.secrets.values())}
            if method == "GET":
                return (200, self.secrets[name]) if name in self.secrets else not_found("secrets", name)
            obj = json.loads(body or b"{}")
            if method == "POST":
                name = obj["metadata"]["name"]
                self.put(name, obj.get("stringData") or {})
            elif method == "PATCH" and name in self.secrets and "merge-patch" in content_type:
                merged = dict(self.data(name), **(obj.get("stringData") or {}))
                self.put(name, merged)
            else:
                return status(405, "MethodNotAllowed", f"{method} {content_type}")
            self.writes.append((method, name))
            return (201 if method == "POST" else 200), self.secrets[name]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[SecretStore, Path]]:
    store = SecretStore()
    with serve_kube_api(store.answer, name="app-credentials-kube") as url:
        yield store, write_kubeconfig(tmp_path / "kubeconfig", url)


def run_role(kubeconfig: Path, tmp_path: Path, *extra: str, credentials: dict[str, str] | None = None) -> Run:
    playbook = tmp_path / "seed.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Seed the app Secret", "hosts": "localhost", "gather_facts": False,
        "tasks": [{"name": step, "ansible.builtin.include_role": {"name": "nl2api.deploy.app", "tasks_from": entry}}
                  for step, entry in (("Validate", "validate_credentials"), ("Seed", "credentials"))]}]))
    variables = {"nl2api_environment": "staging", "app_namespace": NAMESPACE, "app_credentials_secret": SECRET,
                 "app_kubeconfig": str(kubeconfig), "app_external_database": DATABASE,
                 "app_external_redis": REDIS, "app_credentials": CREDENTIALS if credentials is None else credentials}
    done = subprocess.run([find_tool("ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook),
                           "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", json.dumps(variables), *extra],
                          cwd=ROOT, env=clean_ansible_environment(), capture_output=True, text=True, timeout=300,
                          check=False)
    return Run(done.returncode, done.stdout, done.stderr)


def changed(result: Run) -> int:
    return result.recap()["changed"]


def assert_no_credential_in(result: Run) -> None:
    output = result.output
    for value in CREDENTIALS.values():
        if value.startswith("Seed-"):
            assert value not in output
            assert base64.b64encode(value.encode()).decode() not in output


def test_the_first_deploy_creates_the_secret_the_chart_reads_and_the_second_changes_nothing(
        cluster: tuple[SecretStore, Path], tmp_path: Path) -> None:
    store, kubeconfig = cluster
    first = run_role(kubeconfig, tmp_path, "-vvv", "--diff")
    assert first.rc == 0, first.stdout[-4000:]
    assert changed(first) == 1 and store.writes == [("POST", SECRET)]
    assert_no_credential_in(first)
    data = store.data()
    assert sorted(data) == ["openfigi-api-key", "postgres-migrations-password", "postgres-migrations-url",
                            "postgres-migrations-username", "postgres-password", "postgres-url", "postgres-username",
                            "redis-password", "redis-url"]
    assert data["postgres-url"] == ("postgresql://nl2api_app_a:Seed-app-pass%2Fword%3A1@db.internal:5432/nl2api"
                                    "?sslmode=verify-full&sslrootcert=/etc/nl2api/tls/database/ca.crt")
    assert data["postgres-migrations-url"].startswith("postgresql://nl2api_owner:Seed-owner-pass%402@")
    assert data["redis-url"] == "rediss://:Seed-auth-token-3456789@master.cache.internal:6379/0?ssl_cert_reqs=required"
    assert "seeded openfigi-api-key, postgres-migrations-password" in first.stdout

    second = run_role(kubeconfig, tmp_path, "--diff")
    assert second.rc == 0, second.stdout[-4000:]
    assert changed(second) == 0 and store.writes == [("POST", SECRET)]
    assert "has every key; its values are kept" in second.stdout


def test_a_rotated_secret_keeps_its_values_and_gets_only_the_keys_it_lacks(
        cluster: tuple[SecretStore, Path], tmp_path: Path) -> None:
    store, kubeconfig = cluster
    rotated = {"postgres-url": "postgresql://nl2api_app_b:rotated@db.internal:5432/nl2api?sslmode=verify-full",
               "postgres-migrations-url": "postgresql://nl2api_owner:o@db.internal:5432/nl2api?sslmode=verify-full",
               "postgres-username": "nl2api_app_b", "postgres-password": "rotated",
               "postgres-migrations-username": "nl2api_owner", "postgres-migrations-password": "o",
               "redis-password": "rotated-token", "redis-url": "rediss://:rotated-token@master.cache.internal:6379/0"}
    store.put(SECRET, rotated)
    result = run_role(kubeconfig, tmp_path)
    assert result.rc == 0, result.stdout[-4000:]
    assert changed(result) == 1 and store.writes == [("PATCH", SECRET)]
    assert store.data() == dict(rotated, **{"openfigi-api-key": "Seed-figi-key-7"})
    assert "seeded openfigi-api-key from app_credentials" in result.stdout


def test_a_missing_credential_is_named_before_anything_is_written(
        cluster: tuple[SecretStore, Path], tmp_path: Path) -> None:
    store, kubeconfig = cluster
    credentials = {key: value for key, value in CREDENTIALS.items() if key != "postgres_password"}
    credentials["postgres_pasword"] = "Seed-typo-9"
    result = run_role(kubeconfig, tmp_path, credentials=credentials)
    assert result.rc != 0
    assert "app_credentials.postgres_password is required" in result.stdout
    assert "app_credentials.postgres_pasword is not a credential field" in result.stdout
    assert store.writes == [] and "Seed-typo-9" not in result.stdout + result.stderr

"""A minimal Kubernetes API server holding one namespace's Helm release Secrets, for read-only helm commands.

It answers what `helm history` and `helm get values|manifest --revision N` ask with helm's default storage driver:
GET /version, the Secret list filtered by label selector (name=<release>,owner=helm), and single Secrets. Secrets are
encoded as helm 3 stores them (release JSON, gzip, base64, then base64 again as Secret data). Anything else, writes
included, is 404/405, so `helm rollback` cannot pass here: the real rollback runs in molecule/kind.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from support.kube_api import not_found, refuse_write, selector_matches, serve_kube_api, status, write_kubeconfig

NAMESPACE = "nl2api"


def manifest(tag: str) -> str:
    return (
        "---\n# Source: nl2api/templates/api/service.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: nl2api-api\n"
        "spec:\n  ports:\n    - port: 8080\n"
        "---\n# Source: nl2api/templates/api/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
        "  name: nl2api-api\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n"
        "          image: nl2api:%s\n" % tag
    )


def release_secret(name: str, number: int, status: str, description: str, tag: str, app_version: str = "1.0.0") -> dict:
    """A helm.sh/release.v1 Secret as helm's Secret driver writes it."""
    release = {
        "name": name, "namespace": NAMESPACE, "version": number,
        "info": {"first_deployed": "2025-05-01T10:00:00Z", "last_deployed": "2025-05-%02dT10:00:00Z" % number,
                 "deleted": "", "description": description, "status": status},
        "chart": {"metadata": {"name": "nl2api", "version": "0.1.0", "appVersion": app_version, "apiVersion": "v2"},
                  "templates": [], "values": {}, "files": []},
        "config": {"image": {"tag": tag}, "config": {"logLevel": "INFO"}},
        "manifest": manifest(tag),
    }
    stored = base64.b64encode(gzip.compress(json.dumps(release).encode())).decode()
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": "sh.helm.release.v1.%s.v%d" % (name, number), "namespace": NAMESPACE,
                     "labels": {"name": name, "owner": "helm", "status": status, "version": str(number)}},
        "data": {"release": base64.b64encode(stored.encode()).decode()},
    }


@dataclass
class KubeApi:
    url: str = ""
    secrets: list[dict] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def kubeconfig(self, directory: Path, context: str = "fake") -> Path:
        return write_kubeconfig(directory / "kubeconfig", self.url, context=context)

    def answer(self, method: str, raw_path: str, _content_type: str, _body: bytes) -> tuple[int, dict]:
        """helm's reads of its release Secrets; anything else is 404, and every write 405."""
        self.requests.append("%s %s" % (method, raw_path))
        if method != "GET":
            return refuse_write(method)
        url = urlparse(raw_path)
        prefix = "/api/v1/namespaces/%s/secrets" % NAMESPACE
        if url.path == "/version":
            return 200, {"major": "1", "minor": "35", "gitVersion": "v1.35.0"}
        if url.path == prefix:
            selector = parse_qs(url.query).get("labelSelector", [""])[0]
            items = [s for s in self.secrets if selector_matches(s["metadata"]["labels"], selector)]
            return 200, {"kind": "SecretList", "apiVersion": "v1", "metadata": {}, "items": items}
        if url.path.startswith(prefix + "/"):
            name = url.path.rsplit("/", 1)[1]
            found = [s for s in self.secrets if s["metadata"]["name"] == name]
            return (200, found[0]) if found else not_found("secrets", name)
        return status(404, "NotFound", "the server could not find the requested resource")


@contextmanager
def kube_api(port: int, secrets: list[dict]) -> Iterator[KubeApi]:
    api = KubeApi(secrets=secrets)
    with serve_kube_api(api.answer, name="fake-kube-api", port=port) as api.url:
        yield api

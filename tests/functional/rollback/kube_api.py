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
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

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
    url: str
    secrets: list[dict] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def kubeconfig(self, directory: Path, context: str = "fake") -> Path:
        path = directory / "kubeconfig"
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": context,
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "contexts": [{"name": context, "context": {"cluster": "fake", "user": "fake"}}],
            "users": [{"name": "fake", "user": {"token": "not-a-real-token"}}],
        }))
        path.chmod(0o600)
        return path


def _matches(labels: dict, selector: str) -> bool:
    for term in filter(None, selector.split(",")):
        key, value = term.partition("=")[::2]
        if labels.get(key) != value:
            return False
    return True


@contextmanager
def kube_api(port: int, secrets: list[dict]) -> Iterator[KubeApi]:
    api = KubeApi(url="http://127.0.0.1:%d" % port, secrets=secrets)

    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            url = urlparse(self.path)
            api.requests.append("GET " + self.path)
            prefix = "/api/v1/namespaces/%s/secrets" % NAMESPACE
            if url.path == "/version":
                self._send(200, {"major": "1", "minor": "35", "gitVersion": "v1.35.0"})
            elif url.path == prefix:
                selector = parse_qs(url.query).get("labelSelector", [""])[0]
                items = [s for s in api.secrets if _matches(s["metadata"]["labels"], selector)]
                self._send(200, {"kind": "SecretList", "apiVersion": "v1", "metadata": {}, "items": items})
            elif url.path.startswith(prefix + "/"):
                name = url.path.rsplit("/", 1)[1]
                found = [s for s in api.secrets if s["metadata"]["name"] == name]
                if found:
                    self._send(200, found[0])
                else:
                    self._send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                                     "message": 'secrets "%s" not found' % name, "code": 404})
            else:
                self._send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                                 "code": 404})

        def _refuse(self) -> None:
            api.requests.append("%s %s" % (self.command, self.path))
            self._send(405, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "MethodNotAllowed",
                             "code": 405})

        do_POST = do_PUT = do_PATCH = do_DELETE = _refuse  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's signature)
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, name="fake-kube-api", daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

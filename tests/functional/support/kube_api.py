"""What the in-process Kubernetes API stand-ins share: a threaded HTTP server on 127.0.0.1 that hands each request to
the stand-in's answer function, Status bodies, label selectors, a kubeconfig that points at the stand-in, and the
strictness the API server applies to structural CRD schemas.

The stand-ins themselves (batch/kube_standin.py, rollback/kube_api.py, rotation_k8s' FakeKube) only decide what a
request gets; how it is read, answered and logged is written here once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .ports import LOOPBACK

#: (method, path with its query, Content-Type, the raw body) -> (HTTP status, JSON object or plain text).
Answer = Callable[[str, str, str, bytes], "tuple[int, Any]"]


def status(code: int, reason: str, message: str = "") -> tuple[int, dict[str, Any]]:
    """An API server's Status reply: (code, body)."""
    return code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
                  "reason": reason, "code": code}


def not_found(kind: str, name: str) -> tuple[int, dict[str, Any]]:
    """404 for one named object, worded as the API server words it."""
    return status(404, "NotFound", '%s "%s" not found' % (kind, name))


def refuse_write(method: str) -> tuple[int, dict[str, Any]]:
    """405 for a read-only stand-in."""
    return status(405, "MethodNotAllowed", "the stand-in does not allow %s" % method)


def selector_matches(labels: dict[str, str], selector: str) -> bool:
    """Whether labels satisfy an equality-based label selector (`a=b,c=d`; empty matches everything)."""
    return all(labels.get(key) == value for key, _equals, value in
               (term.partition("=") for term in filter(None, selector.split(","))))


def write_kubeconfig(path: Path, server: str, *, context: str = "fake", current: str | None = None) -> Path:
    """A 0600 kubeconfig whose context `context` reaches `server` with a dummy token. With `current`, the current
    context is another one of that name, on a port where nothing listens: a client must select `context` itself."""
    clusters = [{"name": "fake", "cluster": {"server": server}}]
    contexts = [{"name": context, "context": {"cluster": "fake", "user": "fake"}}]
    if current is not None:
        clusters.append({"name": "nowhere", "cluster": {"server": "http://127.0.0.1:9"}})
        contexts.append({"name": current, "context": {"cluster": "nowhere", "user": "fake"}})
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": current or context,
        "clusters": clusters, "contexts": contexts,
        "users": [{"name": "fake", "user": {"token": "not-a-real-token"}}],
    }), encoding="utf-8")
    path.chmod(0o600)
    return path


def strict_schema(node: Any, *, int_or_string: bool = False) -> Any:
    """An openAPIV3Schema that rejects unknown fields, as the API server does for structural CRD schemas. With
    int_or_string, a node marked x-kubernetes-int-or-string accepts exactly an integer or a string, as the API server
    checks it (jsonschema alone ignores the marker)."""
    if isinstance(node, dict):
        node = {key: strict_schema(value, int_or_string=int_or_string) for key, value in node.items()}
        if int_or_string and node.pop("x-kubernetes-int-or-string", False):
            node.pop("type", None)
            node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        if ("properties" in node and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")):
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [strict_schema(value, int_or_string=int_or_string) for value in node]
    return node


@contextmanager
def serve_kube_api(answer: Answer, *, name: str, port: int = 0) -> Iterator[str]:
    """Serve `answer` on 127.0.0.1:`port` (0: any free port) in a thread; yields the server's URL.

    Every method reaches `answer`, with the body it sent. A str answer is sent as text/plain (a pod log), anything
    else as JSON."""

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            code, reply = answer(self.command, self.path, self.headers.get("Content-Type") or "", raw)
            text = isinstance(reply, str)
            data = (reply if text else json.dumps(reply)).encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain" if text else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve  # noqa: N815 (http.server's names)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's signature)
            pass

    server = ThreadingHTTPServer((LOOPBACK, port), Handler)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield "http://%s:%d" % (LOOPBACK, server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

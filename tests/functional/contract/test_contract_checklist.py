"""The deployment checklist of the application's contract (../shared/NL2API-CONTRACT.md, section 8), row by row,
against what the chart renders with the real helm binary, for every environment, as a platform release (with the
optional entity service on) and as a batch release (the producer Job and the batch's KEDA-scaled workers).

Each row is a function returning the problems it finds (an empty list: the row is met). The row tests run it on
every render; `test_each_row_can_fail` runs it on a deliberately broken render (a values override, or an edit of
the rendered object where no value can break it) and requires it to report the break, so no row passes vacuously.

`test_every_env_var_is_read_by_its_container` collects every environment variable name of every container of every
rendered object (env, and the keys of envFrom ConfigMaps), the Kustomize overlays included, and fails on a name that
the container's program does not read: ENV_ALLOW_LIST, defined once below, says per component which names are read
and where the contract (or this project's design, for its own programs) says so.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
KUSTOMIZE_OVERLAYS = REPO_ROOT / "deploy" / "k8s" / "overlays"
ENVIRONMENTS = ("local", "dev", "staging", "prod")
PLATFORM = "rel-nl2api"
BATCH_ID = "0b7e3c1e-1111-4222-8333-444455556666"

Doc = dict[str, Any]
Row = Callable[[list[Doc], str], list[str]]

# ------------------------------------------------------------------------------------------------------------------
# What each container may read: component label -> {variable: where the contract says the program reads it}.
# The application's components first (contract sections 2-7), then the programs this project adds around them.
# ------------------------------------------------------------------------------------------------------------------

_TELEMETRY = {
    "NL2API_ENV": "6: deployment.environment",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "6: env honoured",
    "OTEL_SDK_DISABLED": "6: honoured by the SDK",
    "OTEL_RESOURCE_ATTRIBUTES": "6: keys merged",
}
_STORAGE = {
    "EVAL_BACKEND": "4.2: StorageConfig",
    "EVAL_POSTGRES_URL": "4.2, 7: StorageConfig",
    "EVAL_POSTGRES_POOL_MIN": "4.2: passed to the pool",
    "EVAL_POSTGRES_POOL_MAX": "4.2: passed to the pool",
}
_LLM = {
    "NL2API_LLM_PROVIDER": "7: non-secret LLM settings",
    "NL2API_LLM_MODEL": "7: non-secret LLM settings",
    "NL2API_ROUTING_MODEL": "7: non-secret LLM settings",
    "NL2API_AZURE_OPENAI_ENDPOINT": "7: non-secret LLM settings",
    "NL2API_ANTHROPIC_API_KEY": "7: worker/CLI LLM modes",
    "NL2API_OPENAI_API_KEY": "7: worker/CLI LLM modes",
}
ENV_ALLOW_LIST: dict[str, dict[str, str]] = {
    # 2.1 MCP entity-resolution server. Not ENTITY_MCP_PORT/_HOST/_TRANSPORT/_REDIS_ENABLED/_LOG_LEVEL (ignored when
    # started from the CLI), nor ENTITY_MCP_OPENFIGI_ENABLED / ENTITY_MCP_TELEMETRY_* (declared, never read).
    "api": {
        **_TELEMETRY,
        "ENTITY_MCP_POSTGRES_URL": "2.1, 7: CLI envvar",
        "ENTITY_MCP_REDIS_URL": "2.1, 7: CLI envvar",
        "ENTITY_MCP_REQUIRE_CLIENT_ID": "2.1: the X-Client-ID requirement",
        "ENTITY_MCP_POSTGRES_POOL_MIN": "2.1: pool size",
        "ENTITY_MCP_POSTGRES_POOL_MAX": "2.1: pool size",
        "ENTITY_MCP_CIRCUIT_FAILURE_THRESHOLD": "2.1: resolver resilience",
        "ENTITY_MCP_CIRCUIT_RECOVERY_SECONDS": "2.1: resolver resilience",
        "ENTITY_MCP_TIMEOUT_SECONDS": "2.1: resolver resilience",
        "ENTITY_MCP_RETRY_MAX_ATTEMPTS": "2.1: resolver resilience",
        "ENTITY_MCP_OPENFIGI_API_KEY": "2.1, 7: X-OPENFIGI-APIKEY",
        "ENTITY_MCP_SERVER_NAME": "2.1: MCP identity",
        "ENTITY_MCP_SERVER_VERSION": "2.1: MCP identity",
    },
    # 2.2 entity-resolution HTTP service. No OpenTelemetry in its code ("telemetry" row): NL2API_ENV and OTEL_* are
    # not read, so they are not allowed here; ENTITY_TRANSPORT / _EXTERNAL_API_* / _SERVER_* affect no CLI run.
    "entity-service": {
        "ENTITY_HOST": "2.2: env", "ENTITY_PORT": "2.2: env",
        "ENTITY_POSTGRES_URL": "2.2, 7: env",
        "ENTITY_POSTGRES_POOL_MIN": "2.2: env", "ENTITY_POSTGRES_POOL_MAX": "2.2: env",
        "ENTITY_REDIS_ENABLED": "2.2: env", "ENTITY_REDIS_URL": "2.2, 7: env",
        "ENTITY_REDIS_CACHE_TTL_SECONDS": "2.2: env",
        "ENTITY_CIRCUIT_FAILURE_THRESHOLD": "2.2: env", "ENTITY_CIRCUIT_RECOVERY_SECONDS": "2.2: env",
        "ENTITY_TIMEOUT_SECONDS": "2.2: env", "ENTITY_RETRY_MAX_ATTEMPTS": "2.2: env",
        "ENTITY_OPENFIGI_ENABLED": "2.2: env (honoured here)", "ENTITY_OPENFIGI_API_KEY": "2.2, 7: env",
        "ENTITY_LOG_LEVEL": "2.2: env",
    },
    # 2.3 evaluation worker.
    "worker": {
        **_TELEMETRY, **_STORAGE, **_LLM,
        "EVAL_WORKER_ID": "2.3: --worker-id default", "EVAL_BATCH_ID": "2.3: --batch-id default (required)",
        "EVAL_REDIS_URL": "2.3, 5, 7: --redis-url default", "EVAL_MODE": "2.3: --mode default",
        "EVAL_MAX_RETRIES": "2.3: --max-retries default", "EVAL_AGENT_NAME": "2.3: tool_only agent",
        "USE_ENTITY_FILTER": "2.3: response generators",
    },
    # 2.4 batch producer (the CLI): storage and LLM settings. It reads Redis only from --redis-url; EVAL_REDIS_URL is
    # there for the kubelet, which expands $(EVAL_REDIS_URL) in the arguments, so no URL lands in the pod spec.
    "producer": {
        **_TELEMETRY, **_STORAGE, **_LLM,
        "EVAL_REDIS_URL": "2.4: expanded by the kubelet into --redis-url (the producer has no Redis variable)",
    },
    # The migration runner of this project (docker/migrations/nl2api-migrate; the contract's 4.1 and 8.4 say why
    # the application's own script is not used): DATABASE_URL as the application's script reads it.
    "migrations": {
        "DATABASE_URL": "4.1, 7: owner DSN", "MIGRATIONS_ADMIN_URL": "design: admin DSN for CREATE EXTENSION",
        "MIGRATIONS_DIR": "design: the SQL files' directory",
        "MIGRATIONS_LOCK_TIMEOUT": "nl2api-migrate: the advisory lock's wait",
        "PGCONNECT_TIMEOUT": "nl2api-migrate: psql (libpq) connect timeout",
    },
    # The data-store images (docker/postgres/entrypoint.sh honours the official image's variables; the chart's
    # Redis start script reads its ACL users) and the OpenTelemetry collector (its config's ${env:MY_POD_IP}; Go's
    # runtime reads GOMEMLIMIT).
    "postgresql": {"POSTGRES_USER": "image entrypoint", "POSTGRES_PASSWORD": "image entrypoint",
                   "POSTGRES_PASSWORD_FILE": "image entrypoint", "POSTGRES_DB": "image entrypoint",
                   "PGDATA": "image entrypoint"},
    "redis": {"REDIS_USERNAME": "start script: the app's ACL user", "REDIS_PASSWORD": "start script",
              "REDIS_ADMIN_USERNAME": "start script: the rotation's admin user", "REDIS_ADMIN_PASSWORD": "start script"},
    "otel-collector": {"MY_POD_IP": "collector config ${env:MY_POD_IP}", "GOMEMLIMIT": "Go runtime memory limit"},
    # The helm test pod's own script (templates/tests/test-api.yaml).
    "test": {"API_URL": "test script", "CHECK_PATHS": "test script", "CHECK_ATTEMPTS": "test script",
             "CHECK_INTERVAL_SECONDS": "test script", "REQUIRE_CLIENT_ID": "test script: api.requireClientId"},
}

#: Environment variables that carry a URL, the Secret key they must come from, and the components that read them.
URL_VARIABLES = {
    "EVAL_POSTGRES_URL": "postgres-url", "EVAL_REDIS_URL": "redis-url", "ENTITY_MCP_POSTGRES_URL": "postgres-url",
    "ENTITY_MCP_REDIS_URL": "redis-url", "ENTITY_POSTGRES_URL": "postgres-url", "ENTITY_REDIS_URL": "redis-url",
    "DATABASE_URL": "postgres-migrations-url", "MIGRATIONS_ADMIN_URL": "postgres-admin-url",
}
#: Every application container's URL variables (what each component must be given).
REQUIRED_URLS = {
    "api": {"ENTITY_MCP_POSTGRES_URL"}, "entity-service": {"ENTITY_POSTGRES_URL"},
    "worker": {"EVAL_POSTGRES_URL", "EVAL_REDIS_URL"}, "producer": {"EVAL_POSTGRES_URL", "EVAL_REDIS_URL"},
    "migrations": {"DATABASE_URL"},
}
APP_COMPONENTS = set(REQUIRED_URLS)
#: Components that call api.openfigi.com or the LLM providers (contract 7, egress table).
EXTERNAL_API_CALLERS = {"api", "entity-service", "worker"}
IMAGES = {"api": "nl2api-api", "entity-service": "nl2api-entity-service", "worker": "nl2api-worker",
          "producer": "nl2api-worker", "migrations": "nl2api-migrations"}
MODULES = {"api": "src.mcp_servers.entity_resolution", "entity-service": "src.services.entity_resolution",
           "worker": "src.evalkit.distributed", "producer": "src.evalkit.cli"}


# ------------------------------------------------------------------------------------------------------------------
# Renders
# ------------------------------------------------------------------------------------------------------------------

def platform_values() -> dict:
    return {"entityService": {"enabled": True}}


def batch_values() -> dict:
    return {"batch": {"enabled": True, "platformRelease": PLATFORM, "producer": {"label": "L", "tags": ["smoke"]}},
            "worker": {"batchId": BATCH_ID, "autoscaling": {"enabled": True, "engine": "keda"}}}


def render(chart, h, env: str, kind: str, override: dict | None = None) -> list[Doc]:
    """kind: platform (the entity service on) or batch (KEDA on); `override` merged last."""
    if kind == "platform":
        return chart.render(env, h.deep_merge(platform_values(), override or {}))
    return chart.render(env, h.deep_merge(batch_values(), override or {}), release=h.BATCH_RELEASE)


def component_of(doc: Doc) -> str:
    return doc["metadata"].get("labels", {}).get("app.kubernetes.io/component", "")


def pods(docs: list[Doc]) -> list[tuple[Doc, dict, dict]]:
    """(object, pod metadata, pod spec) of every workload and bare Pod."""
    out = []
    for doc in docs:
        if doc.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            out.append((doc, doc["spec"]["template"]["metadata"], doc["spec"]["template"]["spec"]))
        elif doc.get("kind") == "Pod":
            out.append((doc, doc["metadata"], doc["spec"]))
    return out


def containers(docs: list[Doc]) -> list[tuple[Doc, dict]]:
    return [(doc, c) for doc, _meta, spec in pods(docs)
            for c in (spec.get("initContainers") or []) + spec["containers"]]


def app_containers(docs: list[Doc], component: str | None = None) -> list[tuple[Doc, dict]]:
    return [(doc, c) for doc, c in containers(docs)
            if component_of(doc) in APP_COMPONENTS and (component is None or component_of(doc) == component)]


def ident(doc: Doc, c: dict | None = None) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}" + (f"/{c['name']}" if c else "")


def env_map(c: dict) -> dict[str, dict]:
    return {e["name"]: e for e in c.get("env") or []}


def env_names(c: dict, docs: list[Doc]) -> dict[str, str]:
    """Every variable a container gets: its env, and the keys of the ConfigMaps and Secrets it takes whole."""
    names = {e["name"]: "env" for e in c.get("env") or []}
    config_maps = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "ConfigMap"}
    secrets = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "Secret"}
    for source in c.get("envFrom") or []:
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            for key in (config_maps.get(name) or {}).get("data") or {}:
                names[source.get("prefix", "") + key] = f"envFrom ConfigMap {name}"
        if "secretRef" in source:
            name = source["secretRef"]["name"]
            secret = secrets.get(name)
            # A Secret the render does not hold (existing, external): its keys are unknown, which is a problem too.
            keys = list((secret or {}).get("data") or {}) if secret else [f"<every key of Secret {name}>"]
            for key in keys:
                names[source.get("prefix", "") + key] = f"envFrom Secret {name}"
    return names


def app_secret(docs: list[Doc]) -> Doc | None:
    """The application Secret the chart renders (secrets.create), if any."""
    found = [d for d in docs if d["kind"] == "Secret" and component_of(d) == "secret"]
    assert len(found) <= 1, [ident(d) for d in found]
    return found[0] if found else None


def app_config(docs: list[Doc]) -> dict[str, str] | None:
    found = [d for d in docs if d["kind"] == "ConfigMap" and component_of(d) == "config"]
    assert len(found) <= 1, [ident(d) for d in found]
    return found[0]["data"] if found else None


def platform_config(docs: list[Doc], chart, h, env: str) -> dict[str, str]:
    """The ConfigMap the application pods read (the platform release's, also for a batch release)."""
    config = app_config(docs)
    if config is None:
        config = app_config(render(chart, h, env, "platform"))
    assert config is not None, "no platform ConfigMap"
    return config


def collector_policies(docs: list[Doc]) -> list[Doc]:
    return [d for d in docs if d["kind"] == "NetworkPolicy" and
            d["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/component") == "otel-collector"]


# ------------------------------------------------------------------------------------------------------------------
# Helm evaluating an ESO template (both are Go text/template with sprig): the URLs the operator will write.
# ------------------------------------------------------------------------------------------------------------------

def evaluate_eso_templates(chart, templates: dict[str, str], data: dict[str, str]) -> dict[str, str]:
    root = Path(tempfile.mkdtemp(prefix="nl2api-eso-template-"))
    try:
        (root / "templates").mkdir()
        (root / "Chart.yaml").write_text("apiVersion: v2\nname: eso-template\nversion: 0.1.0\n")
        (root / "values.yaml").write_text(yaml.safe_dump({"templates": templates, "data": data}))
        # tpl needs .Template in its context; the ESO template sees the fetched keys as `.`.
        (root / "templates" / "out.yaml").write_text(
            "{{- $ctx := merge (dict \"Template\" (dict \"BasePath\" \"x\" \"Name\" \"x\")) .Values.data }}\n"
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: out}\ndata:\n"
            "{{- range $key, $template := .Values.templates }}\n"
            "  {{ $key }}: {{ tpl $template $ctx | quote }}\n"
            "{{- end }}\n")
        return yaml.safe_load(chart.run(["template", "x", str(root)]))["data"]
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ------------------------------------------------------------------------------------------------------------------
# The rows. Each returns its problems for one render.
# ------------------------------------------------------------------------------------------------------------------

def row_1_images(docs: list[Doc], _env: str) -> list[str]:
    """8.1: each component runs the image built for it (its extras, CONTRACTS.py; images tier), under nl2api-run."""
    problems = []
    for doc, c in app_containers(docs):
        repository = c["image"].rsplit("/", 1)[-1].split("@")[0].split(":")[0]
        if repository != IMAGES[component_of(doc)]:
            problems.append(f"{ident(doc, c)}: image {c['image']}, expected {IMAGES[component_of(doc)]}")
    return problems


def _module_args(c: dict) -> tuple[str | None, list[str]]:
    """(module, its arguments) of `nl2api-run -- python -m <module> <args>`."""
    argv = list(c.get("command") or []) + list(c.get("args") or [])
    if argv[:4] != ["nl2api-run", "--", "python", "-m"] or len(argv) < 5:
        return None, argv
    return argv[4], argv[5:]


def _flag(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == flag]


def row_2_commands(docs: list[Doc], _env: str) -> list[str]:
    """8.2: the commands, the port as a flag, EVAL_BATCH_ID and a per-pod EVAL_WORKER_ID, the producer's --workers 0."""
    problems = []
    seen = set()
    for doc, c in app_containers(docs):
        component = component_of(doc)
        seen.add(component)
        if component == "migrations":
            if c.get("command") != ["nl2api-migrate"]:
                problems.append(f"{ident(doc, c)}: command {c.get('command')}, expected nl2api-migrate")
            continue
        module, args = _module_args(c)
        if module != MODULES[component]:
            problems.append(f"{ident(doc, c)}: runs {module} ({c.get('command')}), expected {MODULES[component]}")
            continue
        env = env_map(c)
        if component in ("api", "entity-service"):
            ports = [p["containerPort"] for p in c.get("ports") or [] if p.get("name") == "http"]
            transport = "sse" if component == "api" else "http"
            if _flag(args, "--transport") != [transport] or _flag(args, "--host") != ["0.0.0.0"]:
                problems.append(f"{ident(doc, c)}: --transport {transport} --host 0.0.0.0 missing in {args}")
            if len(ports) != 1 or _flag(args, "--port") != [str(ports[0])]:
                problems.append(f"{ident(doc, c)}: --port {_flag(args, '--port')} is not the http port {ports}")
            ignored = {"ENTITY_MCP_PORT", "ENTITY_MCP_HOST", "ENTITY_MCP_TRANSPORT"} & set(env)
            if ignored:
                problems.append(f"{ident(doc, c)}: sets {sorted(ignored)}, which the server ignores")
        elif component == "worker":
            if env.get("EVAL_BATCH_ID", {}).get("value") != BATCH_ID:
                problems.append(f"{ident(doc, c)}: EVAL_BATCH_ID is {env.get('EVAL_BATCH_ID')}, expected {BATCH_ID}")
            worker_id = env.get("EVAL_WORKER_ID", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
            if worker_id != "metadata.name":
                problems.append(f"{ident(doc, c)}: EVAL_WORKER_ID is not the pod name: {env.get('EVAL_WORKER_ID')}")
            if args:
                problems.append(f"{ident(doc, c)}: arguments {args} (the settings are its environment)")
        elif component == "producer":
            expected_head = ["batch", "run", "--pack", "nl2api", "--label", "L"]
            if args[:6] != expected_head or _flag(args, "--tag") != ["smoke"] or "--distributed" not in args:
                problems.append(f"{ident(doc, c)}: arguments {args}")
            if _flag(args, "--workers") != ["0"]:
                problems.append(f"{ident(doc, c)}: --workers {_flag(args, '--workers')}: it would start local workers")
            redis = _flag(args, "--redis-url")
            if redis != ["$(EVAL_REDIS_URL)"] or "secretKeyRef" not in env.get("EVAL_REDIS_URL", {}).get("valueFrom", {}):
                problems.append(f"{ident(doc, c)}: --redis-url {redis} is not the Secret's URL")
    expected = {"api", "migrations"} if is_platform_render(docs) else {"worker", "producer"}
    if expected - seen:
        problems.append(f"components missing from the render: {sorted(expected - seen)}")
    return problems


def is_platform_render(docs: list[Doc]) -> bool:
    """The platform release renders the migrations and the ConfigMap; a batch release neither."""
    return any(component_of(d) == "migrations" or d["kind"] == "ConfigMap" for d in docs)


#: Variable names that carry a connection's parts instead of a URL; no application component reads them (4.2, 5).
CONNECTION_PART = ("_HOST", "_PORT", "_USER", "_USERNAME", "_PASSWORD", "_DB", "_DATABASE", "_SSLMODE", "_TLS")


def row_3_urls(docs: list[Doc], _env: str) -> list[str]:
    """8.3: URLs, not host/user/password; each from its Secret key; never the raw credentials."""
    problems = []
    for doc, c in app_containers(docs):
        component = component_of(doc)
        names = env_names(c, docs)
        env = env_map(c)
        parts = [n for n in names if n.startswith(("DATABASE_", "POSTGRES_", "REDIS_", "PG")) and n.endswith(
            CONNECTION_PART)]
        if parts:
            problems.append(f"{ident(doc, c)}: connection parts {sorted(parts)} instead of URLs")
        missing = REQUIRED_URLS[component] - set(env)
        if missing:
            problems.append(f"{ident(doc, c)}: no {sorted(missing)}")
        for name, entry in env.items():
            ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
            if name in URL_VARIABLES:
                if not ref or ref["key"] != URL_VARIABLES[name]:
                    problems.append(f"{ident(doc, c)}: {name} is not secretKeyRef {URL_VARIABLES[name]}: {entry}")
            elif ref and not ref["key"].endswith("-api-key"):
                problems.append(f"{ident(doc, c)}: {name} reads Secret key {ref['key']}, which is not a URL")
    return problems


def _url_problems(name: str, url: str, managed: bool, kind: str) -> list[str]:
    parts = urlsplit(url)
    problems = []
    if kind == "postgres":
        query = parse_qs(parts.query)
        if parts.scheme != "postgresql":
            problems.append(f"{name}: scheme {parts.scheme}")
        if managed and (query.get("sslmode") != ["verify-full"] or len(query.get("sslrootcert", [])) != 1):
            problems.append(f"{name}: a managed database needs sslmode=verify-full&sslrootcert=...: {parts.query}")
    else:
        query = parse_qs(parts.query)
        if managed and (parts.scheme != "rediss" or query.get("ssl_cert_reqs") != ["required"]):
            problems.append(f"{name}: a managed Redis needs rediss://...?ssl_cert_reqs=required: "
                            f"{parts.scheme}://...?{parts.query}")
        if not managed and parts.scheme != "redis":
            problems.append(f"{name}: scheme {parts.scheme}")
    return problems


def row_3_tls_in_urls(docs: list[Doc], env: str) -> list[str]:
    """8.3: TLS in the URL for managed stores (the chart-built URLs: chart-created Secret or ESO template)."""
    problems = []
    secret = app_secret(docs)
    external = [d for d in docs if d["kind"] == "ExternalSecret"]
    if secret:
        urls = {k: base64.b64decode(v).decode() for k, v in secret["data"].items() if k.endswith("-url")}
    elif external:
        urls = dict(external[0]["spec"]["target"]["template"]["data"])
    else:
        return []  # an existing Secret: its URLs are the role's (tests/functional/rotation*); the CA mount below
    managed_db = not any(d["kind"] == "StatefulSet" and component_of(d) == "postgresql" for d in docs)
    managed_redis = not any(d["kind"] == "StatefulSet" and component_of(d) == "redis" for d in docs)
    for key, url in urls.items():
        kind = "redis" if key.startswith("redis") else "postgres"
        problems += _url_problems(key, url, managed_redis if kind == "redis" else managed_db, kind)
    for required in ("postgres-url", "postgres-migrations-url", "redis-url"):
        if required not in urls:
            problems.append(f"the Secret has no {required}")
    return problems


def row_3_ca_bundle_mounted(docs: list[Doc], _env: str) -> list[str]:
    """8.3: the sslrootcert of a managed database's URL is a file in every pod that connects with it."""
    problems = []
    database_ca = any(v.get("name") == "database-ca" for _d, _m, spec in pods(docs) for v in spec.get("volumes") or [])
    if not database_ca:
        return []
    for doc, c in app_containers(docs):
        mounts = {m["mountPath"] for m in c.get("volumeMounts") or []}
        if "/etc/nl2api/tls/database" not in mounts:
            problems.append(f"{ident(doc, c)}: the database CA bundle is not mounted at /etc/nl2api/tls/database")
    return problems


def row_4_postgresql(docs: list[Doc], env: str, helm: bool = True) -> list[str]:
    """8.4: PostgreSQL with pgvector; the migrations as a Job before the rollout (a Helm hook; in the Kustomize tree
    a plain Job, since Kustomize has no hooks), with an admin URL."""
    problems = []
    for doc, c in containers(docs):
        if component_of(doc) == "postgresql" and "pgvector" not in c["image"] and "-pgvector" not in c["image"]:
            problems.append(f"{ident(doc, c)}: image {c['image']} has no pgvector")
    if not is_platform_render(docs):
        if any(component_of(d) == "migrations" for d in docs):
            problems.append("a batch release renders the migrations")
        return problems
    jobs = [d for d in docs if d["kind"] == "Job" and component_of(d) == "migrations"]
    if len(jobs) != 1:
        return problems + [f"{len(jobs)} migration Jobs"]
    job = jobs[0]
    annotations = job["metadata"].get("annotations") or {}
    hooks = set((annotations.get("helm.sh/hook") or "").split(","))
    if not helm:
        if any(key.startswith("helm.sh/hook") for key in annotations):
            problems.append(f"{ident(job)}: helm.sh/hook annotations, which only Helm acts on")
    elif "pre-upgrade" not in hooks or not hooks & {"pre-install", "post-install"} or hooks - {
            "pre-install", "post-install", "pre-upgrade"}:
        problems.append(f"{ident(job)}: hooks {sorted(hooks)}: it must run before every upgrade's rollout")
    in_cluster = any(component_of(d) == "postgresql" for d in docs)
    existing_secret = not any(d["kind"] in ("Secret", "ExternalSecret") and component_of(d) == "secret" for d in docs)
    if helm and existing_secret and not in_cluster and "pre-install" not in hooks:
        problems.append(f"{ident(job)}: the database and the Secret exist before the install: run before it")
    if helm and "before-hook-creation" not in (annotations.get("helm.sh/hook-delete-policy") or ""):
        problems.append(f"{ident(job)}: a failed Job is never replaced (no before-hook-creation)")
    spec = job["spec"]["template"]["spec"]
    if spec.get("restartPolicy") != "Never" or int(job["spec"].get("backoffLimit", 6)) > 3:
        problems.append(f"{ident(job)}: restartPolicy {spec.get('restartPolicy')}, backoffLimit "
                        f"{job['spec'].get('backoffLimit')}")
    env = env_map(spec["containers"][0])
    admin = (env.get("MIGRATIONS_ADMIN_URL", {}).get("valueFrom") or {}).get("secretKeyRef") or {}
    if admin.get("key") != "postgres-admin-url":
        problems.append(f"{ident(job)}: no MIGRATIONS_ADMIN_URL: vector needs a privileged role")
    if in_cluster:
        secret = app_secret(docs)
        if secret and "postgres-admin-url" not in secret["data"]:
            problems.append("the in-cluster database's Secret has no postgres-admin-url")
    return problems


def _probe_path(c: dict, probe: str) -> str | None:
    return ((c.get(probe) or {}).get("httpGet") or {}).get("path")


def row_5_probes(docs: list[Doc], _env: str) -> list[str]:
    """8.5: liveness /health, readiness /ready (both exempt from X-Client-ID); the worker has no probe."""
    problems = []
    for doc, c in app_containers(docs):
        component = component_of(doc)
        if component in ("api", "entity-service"):
            live, ready = _probe_path(c, "livenessProbe"), _probe_path(c, "readinessProbe")
            if (live, ready) != ("/health", "/ready"):
                problems.append(f"{ident(doc, c)}: liveness {live}, readiness {ready}")
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                port = ((c.get(probe) or {}).get("httpGet") or {}).get("port")
                if c.get(probe) and port not in ("http", *[p["containerPort"] for p in c.get("ports") or []]):
                    problems.append(f"{ident(doc, c)}: {probe} on port {port}, not the server's")
            # The MCP server never retries its pool: only a restart does, which a failing startup probe on /ready
            # triggers (the entity service exits by itself).
            if component == "api" and _probe_path(c, "startupProbe") != "/ready":
                problems.append(f"{ident(doc, c)}: startup probe {_probe_path(c, 'startupProbe')}, expected /ready")
        elif component == "worker":
            present = {"livenessProbe", "readinessProbe", "startupProbe"} & set(c)
            if present:
                problems.append(f"{ident(doc, c)}: {sorted(present)}: the worker serves nothing and writes no file")
    for doc, c in containers(docs):
        if component_of(doc) == "test":
            paths = env_map(c).get("CHECK_PATHS", {}).get("value", "")
            if set(paths.split(",")) != {"/health", "/ready"}:
                problems.append(f"{ident(doc, c)}: checks {paths}")
    return problems


def row_6_client_id(docs: list[Doc], _env: str) -> list[str]:
    """8.6: the server requires X-Client-ID; the helm test checks that a request without it is refused."""
    problems = []
    for doc, c in app_containers(docs, "api"):
        value = env_map(c).get("ENTITY_MCP_REQUIRE_CLIENT_ID", {}).get("value")
        if value != "true":
            problems.append(f"{ident(doc, c)}: ENTITY_MCP_REQUIRE_CLIENT_ID={value}")
    for doc, c in containers(docs):
        if component_of(doc) == "test" and "without X-Client-ID" not in str(c.get("command")):
            problems.append(f"{ident(doc, c)}: does not check the X-Client-ID requirement")
    return problems


def row_7_queue_autoscaling(docs: list[Doc], _env: str) -> list[str]:
    """8.7: KEDA redis-streams on eval:tasks:<batch>, group eval-workers, lagCount; per batch only; the preStop
    hook stops the worker and waits for its task in flight."""
    problems = []
    scaled = [d for d in docs if d["kind"] == "ScaledObject"]
    workers = [d for d in docs if d["kind"] == "Deployment" and component_of(d) == "worker"]
    if is_platform_render(docs):
        return [f"the platform release renders {ident(d)}" for d in scaled + workers]
    if len(scaled) != 1 or len(workers) != 1:
        return [f"{len(scaled)} ScaledObjects for {len(workers)} worker Deployments"]
    so, worker = scaled[0], workers[0]
    if so["spec"]["scaleTargetRef"]["name"] != worker["metadata"]["name"]:
        problems.append(f"{ident(so)} scales {so['spec']['scaleTargetRef']['name']}")
    triggers = so["spec"].get("triggers") or []
    for trigger in triggers:
        meta = trigger.get("metadata") or {}
        if trigger.get("type") != "redis-streams":
            problems.append(f"{ident(so)}: trigger type {trigger.get('type')}")
        if meta.get("stream") != f"eval:tasks:{BATCH_ID}" or meta.get("consumerGroup") != "eval-workers":
            problems.append(f"{ident(so)}: stream {meta.get('stream')}, group {meta.get('consumerGroup')}")
    if not any("lagCount" in (t.get("metadata") or {}) for t in triggers):
        problems.append(f"{ident(so)}: no lagCount trigger (the only mode that scales from zero)")
    c = worker["spec"]["template"]["spec"]["containers"][0]
    hook = str(((c.get("lifecycle") or {}).get("preStop") or {}).get("exec", {}).get("command"))
    if "signal.SIGTERM" not in hook or "xpending" not in hook:
        problems.append(f"{ident(worker)}: the preStop hook does not stop the worker and wait for its pending task")
    return problems


def row_8_observability(docs: list[Doc], env: str, config: dict[str, str]) -> list[str]:
    """8.8: OTLP gRPC 4317; the collector's prometheus exporter (8889, evalkit) scraped, never the app; NL2API_ENV."""
    problems = []
    if config.get("NL2API_ENV") != env:
        problems.append(f"NL2API_ENV={config.get('NL2API_ENV')} in environment {env}")
    endpoint = config.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if endpoint is None:
        if config.get("OTEL_SDK_DISABLED") != "true":
            problems.append("neither OTEL_EXPORTER_OTLP_ENDPOINT nor OTEL_SDK_DISABLED=true")
    else:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or parts.port != 4317:
            problems.append(f"OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}: the application exports OTLP gRPC (4317)")
    ineffective = {"OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_INSECURE"}
    for doc, c in app_containers(docs):
        if ineffective & set(env_names(c, docs)):
            problems.append(f"{ident(doc, c)}: sets {sorted(ineffective & set(env_names(c, docs)))} (no effect)")
    for doc, meta, _spec in pods(docs):
        if component_of(doc) != "otel-collector" and any(k.startswith("prometheus.io/") for k in
                                                         meta.get("annotations") or {}):
            problems.append(f"{ident(doc)}: prometheus.io annotations on a pod that serves no /metrics")
    for sm in (d for d in docs if d["kind"] == "ServiceMonitor"):
        if sm["spec"]["selector"]["matchLabels"].get("app.kubernetes.io/component") != "otel-collector":
            problems.append(f"{ident(sm)} selects {sm['spec']['selector']}, not the collector")
    collector_configs = [d for d in docs if d["kind"] == "ConfigMap" and component_of(d) == "otel-collector"]
    for cm in collector_configs:
        cfg = yaml.safe_load(cm["data"]["config.yaml"])
        grpc = (((cfg.get("receivers") or {}).get("otlp") or {}).get("protocols") or {}).get("grpc") or {}
        if not str(grpc.get("endpoint", "")).endswith(":4317"):
            problems.append(f"{ident(cm)}: no OTLP gRPC receiver on 4317")
        prometheus = (cfg.get("exporters") or {}).get("prometheus") or {}
        if not str(prometheus.get("endpoint", "")).endswith(":8889") or prometheus.get("namespace") != "evalkit":
            problems.append(f"{ident(cm)}: prometheus exporter {prometheus}, expected :8889, namespace evalkit")
        if "prometheus" not in cfg["service"]["pipelines"].get("metrics", {}).get("exporters", []):
            problems.append(f"{ident(cm)}: the metrics pipeline does not feed the prometheus exporter")
    # The receiver is plain gRPC inside the cluster (the application's exporter is insecure): only the
    # application's pods may send to it.
    for policy in collector_policies(docs):
        for rule in policy["spec"].get("ingress") or []:
            if 4317 not in {p["port"] for p in rule.get("ports") or []}:
                continue
            for peer in rule.get("from") or []:
                expressions = (peer.get("podSelector") or {}).get("matchExpressions") or []
                components = {v for e in expressions if e["key"] == "app.kubernetes.io/component" for v in e["values"]}
                if set(peer) != {"podSelector"} or not components or not components <= APP_COMPONENTS:
                    problems.append(f"{ident(policy)}: OTLP admitted from {peer}")
    return problems


def _selects(policy: Doc, labels: dict[str, str]) -> bool:
    selector = policy["spec"]["podSelector"]
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        if expression["operator"] != "In" or labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def egress_ports(docs: list[Doc], labels: dict[str, str]) -> set[int]:
    """TCP ports the policies of the render let a pod with `labels` reach (a rule without ports: every port, 0)."""
    ports: set[int] = set()
    for policy in (d for d in docs if d["kind"] == "NetworkPolicy"):
        if "Egress" not in policy["spec"].get("policyTypes", []) or not _selects(policy, labels):
            continue
        for rule in policy["spec"].get("egress") or []:
            if not rule.get("ports"):
                ports.add(0)
            ports |= {p["port"] for p in rule.get("ports") or [] if p.get("protocol", "TCP") == "TCP"}
    return ports


def row_9_egress(docs: list[Doc], _env: str) -> list[str]:
    """8.9: 443 only from the pods that call external APIs; every app pod reaches DNS, its stores and OTLP only."""
    problems = []
    if not any(d["kind"] == "NetworkPolicy" for d in docs):
        return ["no NetworkPolicy"]
    for doc, meta, _spec in pods(docs):
        component = component_of(doc)
        if component not in APP_COMPONENTS:
            continue
        ports = egress_ports(docs, meta["labels"])
        if 0 in ports:
            problems.append(f"{ident(doc)}: an egress rule without ports")
        if (443 in ports) != (component in EXTERNAL_API_CALLERS):
            problems.append(f"{ident(doc)}: egress to 443 is {'open' if 443 in ports else 'closed'}")
    return problems


def row_10_logs(docs: list[Doc], _env: str) -> list[str]:
    """8.10: every application process runs under nl2api-run, which masks URL credentials in what it logs."""
    problems = []
    for doc, c in app_containers(docs):
        if component_of(doc) != "migrations" and (c.get("command") or [])[:2] != ["nl2api-run", "--"]:
            problems.append(f"{ident(doc, c)}: command {c.get('command')} is not under nl2api-run")
        for value in [str(e.get("value", "")) for e in c.get("env") or []] + list(c.get("args") or []):
            if "://" in value and "@" in value:
                problems.append(f"{ident(doc, c)}: a URL with credentials in the pod spec")
    return problems


ROWS: dict[str, Row] = {
    "1-images": row_1_images,
    "2-commands": row_2_commands,
    "3-urls": row_3_urls,
    "3-tls-in-urls": row_3_tls_in_urls,
    "3-ca-bundle": row_3_ca_bundle_mounted,
    "4-postgresql": row_4_postgresql,
    "5-probes": row_5_probes,
    "6-client-id": row_6_client_id,
    "7-queue-autoscaling": row_7_queue_autoscaling,
    "9-egress": row_9_egress,
    "10-logs": row_10_logs,
}


# ------------------------------------------------------------------------------------------------------------------
# Row tests: every environment, platform and batch release.
# ------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["platform", "batch"])
@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("row", list(ROWS))
def test_checklist_row(chart, h, row, env, kind):
    assert ROWS[row](render(chart, h, env, kind), env) == []


@pytest.mark.parametrize("kind", ["platform", "batch"])
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_checklist_row_8_observability(chart, h, env, kind):
    docs = render(chart, h, env, kind)
    assert row_8_observability(docs, env, platform_config(docs, chart, h, env)) == []


@pytest.fixture(scope="module")
def overlays() -> dict[str, list[Doc]]:
    return kustomize_overlays()


@pytest.mark.parametrize("row", [*ROWS, "8-observability"])
def test_checklist_row_on_the_kustomize_tree(overlays, row):
    """The same rows on every overlay of deploy/k8s (the platform release as GitOps users apply it)."""
    assert set(overlays) == {"dev", "staging", "prod"}
    for env, docs in overlays.items():
        if row == "8-observability":
            config = app_config(docs)
            assert config is not None, f"overlay {env} has no ConfigMap"
            assert row_8_observability(docs, env, config) == [], env
        elif row == "4-postgresql":
            assert row_4_postgresql(docs, env, helm=False) == [], env
        else:
            assert ROWS[row](docs, env) == [], env


def test_every_row_is_tested():
    """Rows 1-10 of section 8 each have a check (row 8 takes the platform ConfigMap, hence its own test)."""
    assert {name.split("-")[0] for name in ROWS} | {"8"} == {str(n) for n in range(1, 11)}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_secret_urls_parse_and_percent_encode(chart, h, env):
    """8.3: passwords (and user names) with URL-special characters survive the URLs the chart builds, both in the
    chart-created Secret and in the ExternalSecret's template (evaluated by helm, which has ESO's functions)."""
    # The schema refuses whitespace in secrets.values; a vault's password (ESO) may hold anything.
    user, password = ("eval@ops", "p@ss:w/rd?#%+&=x~") if env == "dev" else ("ev al@ops", "p@ss:w/rd?#% +&=x~")
    stores = {"postgresql": {"enabled": False}, "redis": {"enabled": False},
              "externalDatabase": {"host": "db.example.com"}, "externalRedis": {"host": "cache.example.com"}}
    if env == "dev":
        docs = chart.render("dev", h.deep_merge(stores, {"secrets": {"values": {
            "postgres-username": user, "postgres-password": password,
            "redis-username": user, "redis-password": password}}}))
        urls = {k: v for k, v in h.decode_secret(h.one(docs, "Secret", PLATFORM)).items() if k.endswith("-url")}
    else:
        docs = chart.render("prod")
        templates = h.one(docs, "ExternalSecret", PLATFORM)["spec"]["target"]["template"]["data"]
        fetched = {"postgres-username": user, "postgres-password": password, "redis-username": user,
                   "redis-password": password, "postgres-migrations-username": user,
                   "postgres-migrations-password": password}
        urls = evaluate_eso_templates(chart, templates, fetched)
    assert set(urls) >= {"postgres-url", "postgres-migrations-url", "redis-url"}
    for key, url in urls.items():
        parts = urlsplit(url)
        # asyncpg and redis-py split the URL like urllib and unquote (not unquote_plus) the user and password.
        assert unquote(parts.password or "") == password, f"{key}: the password does not survive the URL"
        if key != "redis-url" or env == "dev":
            assert unquote(parts.username or "") == user, f"{key}: the user name does not survive the URL"
        assert parts.hostname in ("db.example.com", "cache.example.com", "nl2api-prod.postgres.example.invalid",
                                  "nl2api-prod.redis.example.invalid"), key
        assert password not in url, f"{key}: the password is not encoded"


def test_url_checks_can_fail():
    """The URL checks reject what they exist to reject."""
    assert _url_problems("k", "postgresql://u:p@db:5432/x?sslmode=require", True, "postgres")
    assert _url_problems("k", "redis://u:p@cache:6379/0", True, "redis")
    assert not _url_problems("k", "rediss://u:p@cache:6379/0?ssl_cert_reqs=required", True, "redis")
    raw = "pa/ss?w"
    assert unquote(urlsplit(f"postgresql://u:{raw}@db/x").password or "") != raw


# ------------------------------------------------------------------------------------------------------------------
# Each row can fail: a broken render per row.
# ------------------------------------------------------------------------------------------------------------------

def _first(docs: list[Doc], kind: str, component: str) -> Doc:
    return next(d for d in docs if d["kind"] == kind and component_of(d) == component)


def _container(doc: Doc) -> dict:
    return doc["spec"]["template"]["spec"]["containers"][0]


def _drop_workers_zero(docs: list[Doc]) -> None:
    args = _container(_first(docs, "Job", "producer"))["args"]
    index = args.index("--workers")
    args[index + 1] = "4"


def _list_trigger(docs: list[Doc]) -> None:
    for trigger in next(d for d in docs if d["kind"] == "ScaledObject")["spec"]["triggers"]:
        trigger["type"] = "redis"
        trigger["metadata"].pop("stream", None)


def _worker_probe(docs: list[Doc]) -> None:
    _container(_first(docs, "Deployment", "worker"))["livenessProbe"] = {"exec": {"command": ["cat", "/tmp/beat"]}}


def _migrations_after_upgrade(docs: list[Doc]) -> None:
    _first(docs, "Job", "migrations")["metadata"]["annotations"]["helm.sh/hook"] = "post-install,post-upgrade"


def _scrape_the_api(docs: list[Doc]) -> None:
    _first(docs, "Deployment", "api")["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scrape"] = "true"


def _otlp_from_anywhere(docs: list[Doc]) -> None:
    policy = collector_policies(docs)[0]
    policy["spec"]["ingress"][0]["from"].append({"namespaceSelector": {}})


#: row -> (environment, release kind, values override, edit of the render or None)
BROKEN: dict[str, tuple[str, str, dict, Callable[[list[Doc]], None] | None]] = {
    "1-images": ("dev", "platform", {"api": {"image": {"repository": "nl2api-worker"}}}, None),
    "2-commands": ("dev", "batch", {"worker": {"command": ["nl2api-run", "--", "python", "-m",
                                                           "src.evaluation.worker"]}}, None),
    "2-producer-workers": ("dev", "batch", {}, _drop_workers_zero),
    "2-worker-id": ("dev", "batch", {"worker": {"extraEnv": [{"name": "EVAL_WORKER_ID", "value": "worker-0"}]}},
                    None),
    "3-urls": ("dev", "batch", {"worker": {"extraEnv": [{"name": "DATABASE_HOST", "value": "db"}]}}, None),
    "3-tls-in-urls": ("prod", "platform", {"externalDatabase": {"sslMode": "require"}}, None),
    "3-ca-bundle": ("prod", "batch", {"worker": {"extraVolumes": [{"name": "database-ca", "emptyDir": {}}]},
                                      "externalDatabase": {"caConfigMap": {"name": ""}, "sslRootCert": "system"}},
                    None),
    "4-postgresql": ("dev", "platform", {"postgresql": {"image": {"repository": "library/postgres",
                                                                  "tag": "16.4"}}}, None),
    "4-migrations-hook": ("staging", "platform", {}, _migrations_after_upgrade),
    "5-probes": ("dev", "platform", {"api": {"readinessProbe": {"httpGet": {"path": "/healthz"}}}}, None),
    "5-worker-probe": ("dev", "batch", {}, _worker_probe),
    "6-client-id": ("dev", "platform", {"api": {"requireClientId": False}}, None),
    "7-queue-autoscaling": ("prod", "batch", {}, _list_trigger),
    "8-observability": ("dev", "platform", {"otel": {"endpoint": "http://collector.obs:4318"},
                                            "otelCollector": {"prometheusExporter": {"namespace": "nl2api"}}}, None),
    "8-scrape-app": ("dev", "platform", {}, _scrape_the_api),
    "8-otlp-from-anywhere": ("dev", "platform", {}, _otlp_from_anywhere),
    "9-egress": ("dev", "batch", {"networkPolicy": {"egress": {"extra": [{"ports": [{"port": 443}]}]}}}, None),
    "10-logs": ("dev", "platform", {"api": {"command": ["python", "-m", "src.mcp_servers.entity_resolution"]}},
                None),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_each_row_can_fail(chart, h, case):
    env, kind, override, edit = BROKEN[case]
    docs = render(chart, h, env, kind, override)
    if edit is not None:
        edit(docs)
    number = case.split("-")[0]
    row = case if case in ROWS or number == "8" else next(r for r in ROWS if r.split("-")[0] == number)
    if number == "8":
        problems = row_8_observability(docs, env, platform_config(docs, chart, h, env))
    else:
        problems = ROWS[row](docs, env)
    assert problems, f"row {row} did not notice the break {case}"


def test_every_row_has_a_broken_case():
    assert {case.split("-")[0] for case in BROKEN} == {str(n) for n in range(1, 11)}


# ------------------------------------------------------------------------------------------------------------------
# Data stores reachable from a batch: the platform's policies admit the batch release's pods.
# ------------------------------------------------------------------------------------------------------------------

def _ingress_admits(policy: Doc, labels: dict[str, str], port: int) -> bool:
    for rule in policy["spec"].get("ingress") or []:
        if port not in {p["port"] for p in rule.get("ports") or []}:
            continue
        for peer in rule.get("from") or []:
            selector = peer.get("podSelector")
            if selector is None or "namespaceSelector" in peer:
                continue
            if all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items()) and all(
                    labels.get(e["key"]) in e["values"] for e in selector.get("matchExpressions") or []):
                return True
    return False


@pytest.mark.parametrize("env", ["local", "dev"])
def test_batch_pods_reach_the_platform_data_stores(chart, h, env):
    platform = render(chart, h, env, "platform")
    batch = render(chart, h, env, "batch")
    store_policies = [d for d in platform if d["kind"] == "NetworkPolicy"
                      and d["metadata"]["name"] in (f"{PLATFORM}-postgresql", f"{PLATFORM}-redis")]
    assert len(store_policies) == 2
    for doc, meta, _spec in pods(batch):
        for policy in store_policies:
            port = 5432 if policy["metadata"]["name"].endswith("postgresql") else 6379
            assert _ingress_admits(policy, meta["labels"], port), f"{ident(doc)} cannot reach {ident(policy)}"
    # And a pod of another platform is not admitted.
    stranger = dict(pods(batch)[0][1]["labels"], **{"nl2api.io/platform": "other-nl2api"})
    assert not any(_ingress_admits(p, stranger, 6379) for p in store_policies)


def test_secret_keys_the_pods_read_exist(chart, h):
    """Every non-optional secretKeyRef of the chart-created Secret and the ExternalSecret names a key they write
    (ESO Merge: the fetched keys plus the template's), so no pod waits on a missing key. staging's existing Secret
    is the role's (its keys: tests/functional/rotation*)."""
    checked = set()
    for env in ENVIRONMENTS:
        for kind in ("platform", "batch"):
            docs = render(chart, h, env, kind)
            platform = render(chart, h, env, "platform")
            provided: set[str] | None = None
            for d in platform:
                if d["kind"] == "Secret" and d["metadata"]["name"] == PLATFORM:
                    provided = set(d["data"])
                if d["kind"] == "ExternalSecret":
                    provided = {e["secretKey"] for e in d["spec"].get("data") or []} | set(
                        d["spec"]["target"]["template"]["data"])
            if provided is None:
                continue
            checked.add(env)
            for doc, c in containers(docs):
                for entry in c.get("env") or []:
                    ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
                    if ref and ref["name"] == PLATFORM and not ref.get("optional"):
                        assert ref["key"] in provided, f"{env} {kind}: {ident(doc, c)} reads {ref['key']}"
            for auth in (d for d in docs if d["kind"] == "TriggerAuthentication"):
                for ref in auth["spec"].get("secretTargetRef") or []:
                    if ref["name"] == PLATFORM:
                        assert ref["key"] in provided, f"{env} {kind}: {ident(auth)} reads {ref['key']}"
    assert checked == {"local", "dev", "prod"}


# ------------------------------------------------------------------------------------------------------------------
# No environment variable the program does not read.
# ------------------------------------------------------------------------------------------------------------------

def unread_variables(docs: list[Doc]) -> list[str]:
    problems = []
    for doc, c in containers(docs):
        allowed = ENV_ALLOW_LIST.get(component_of(doc))
        if allowed is None:
            problems.append(f"{ident(doc, c)}: component {component_of(doc)!r} has no allow-list")
            continue
        for name, source in env_names(c, docs).items():
            if name not in allowed:
                problems.append(f"{ident(doc, c)}: {name} ({source}) is not read by {component_of(doc)}")
    return problems


def kustomize_overlays() -> dict[str, list[Doc]]:
    out = {}
    for overlay in sorted(p for p in KUSTOMIZE_OVERLAYS.iterdir() if p.is_dir()):
        text = subprocess.run(["kubectl", "kustomize", str(overlay)], check=True, capture_output=True,
                              text=True).stdout
        out[overlay.name] = [d for d in yaml.safe_load_all(text) if d]
    return out


@pytest.fixture(scope="module")
def every_render(chart, h, overlays) -> dict[str, list[Doc]]:
    renders: dict[str, list[Doc]] = {}
    for env in ENVIRONMENTS:
        renders[f"{env} platform"] = chart.render(env)
        renders[f"{env} platform+entity-service"] = render(chart, h, env, "platform")
        renders[f"{env} batch"] = chart.render_batch(env)
        renders[f"{env} batch+keda"] = render(chart, h, env, "batch")
    for name, docs in overlays.items():
        renders[f"kustomize {name}"] = docs
    return renders


def test_every_env_var_is_read_by_its_container(every_render):
    assert len(every_render) >= 4 * 4 + 3
    problems = [f"{name}: {p}" for name, docs in every_render.items() for p in unread_variables(docs)]
    assert problems == []
    # Not vacuous: every component's containers were seen.
    seen = {component_of(doc) for docs in every_render.values() for doc, _c in containers(docs)}
    assert seen == set(ENV_ALLOW_LIST), seen ^ set(ENV_ALLOW_LIST)


@pytest.mark.parametrize("override", [
    {"config": {"extraEnv": {"DATABASE_HOST": "db"}}},
    {"api": {"extraEnv": [{"name": "ENTITY_MCP_PORT", "value": "9000"}]}},
    {"api": {"extraEnv": [{"name": "OTEL_SERVICE_NAME", "value": "nl2api-api"}]}},
], ids=["configmap-key", "ignored-by-the-cli", "not-honoured"])
def test_unread_variables_are_reported(chart, h, override):
    assert unread_variables(chart.render("dev", override))


def test_allow_list_names_its_sources():
    for component, names in ENV_ALLOW_LIST.items():
        for name, source in names.items():
            assert name.isupper() and source, (component, name)
    # Names the contract says are ignored or never read are not allowed anywhere.
    never = {"ENTITY_MCP_PORT", "ENTITY_MCP_HOST", "ENTITY_MCP_TRANSPORT", "ENTITY_MCP_REDIS_ENABLED",
             "ENTITY_MCP_LOG_LEVEL", "ENTITY_MCP_OPENFIGI_ENABLED", "ENTITY_MCP_TELEMETRY_ENABLED", "OTEL_SERVICE_NAME",
             "OTEL_EXPORTER_OTLP_PROTOCOL", "ANTHROPIC_API_KEY", "DATABASE_HOST", "REDIS_HOST"}
    assert not never & {n for names in ENV_ALLOW_LIST.values() for n in names}

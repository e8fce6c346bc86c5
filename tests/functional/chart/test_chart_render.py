"""Properties of the rendered manifests, per environment and per toggle.

Two kinds of release are rendered: the platform release `rel` (API, data stores, Secret, ConfigMap, collector,
migrations) and a batch release `batch` of it (the producer Job and the batch's workers, h.BATCH_VALUES).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

API = "rel-nl2api-api"
ENTITY_SERVICE = "rel-nl2api-entity-service"
MIGRATIONS = "rel-nl2api-migrations"
COLLECTOR = "rel-nl2api-otel-collector"
WORKER = "batch-nl2api-worker"
PRODUCER = "batch-nl2api-producer"
WORKER_AUTH = "batch-nl2api-worker-redis"


def deployments(h, docs):
    return {d["metadata"]["name"]: d for d in h.by_kind(docs, "Deployment")}


def container(deploy: dict, name: str) -> dict:
    return next(c for c in deploy["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def env_of(c: dict) -> dict[str, dict]:
    return {e["name"]: e for e in c.get("env", [])}


def secret_ref(c: dict, name: str) -> dict:
    return env_of(c)[name]["valueFrom"]["secretKeyRef"]


def both_releases(chart, env: str, values: dict | None = None) -> list[dict]:
    return chart.render(env, values) + chart.render_batch(env, values)


# ---------------------------------------------------------------- every environment

def test_every_object_is_labelled_and_named(chart, h, environment):
    for doc in both_releases(chart, environment):
        meta = doc["metadata"]
        assert len(meta["name"]) <= 63, meta["name"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", meta["name"]), meta["name"]
        for label in h.RECOMMENDED_LABELS:
            assert label in meta.get("labels", {}), f"{doc['kind']}/{meta['name']} lacks {label}"
        # Batch pods carry their platform's name: the platform's data-store policies admit them by it.
        assert meta["labels"]["nl2api.io/platform"] == "rel-nl2api", f"{doc['kind']}/{meta['name']}"
        if doc["kind"] not in ("ClusterRole", "ClusterRoleBinding"):
            assert meta["namespace"] == h.NAMESPACE


def test_api_zero_downtime(chart, h, environment):
    docs = chart.render(environment)
    api = deployments(h, docs)[API]
    rolling = api["spec"]["strategy"]
    assert rolling["type"] == "RollingUpdate"
    assert rolling["rollingUpdate"]["maxUnavailable"] == 0
    pod = api["spec"]["template"]["spec"]
    c = container(api, "api")
    sleep = c["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert sleep >= 1
    assert pod["terminationGracePeriodSeconds"] > sleep
    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    # The server never retries a pool it failed to create: a failing startup probe on /ready restarts it.
    assert c["startupProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert c["command"] == ["nl2api-run", "--", "python", "-m", "src.mcp_servers.entity_resolution"]
    assert c["args"][:7] == ["--transport", "sse", "--host", "0.0.0.0", "--port", "8080", "--no-redis"]
    svc = h.one(docs, "Service", API)
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"][0]["name"] == "http" and svc["spec"]["ports"][0]["port"] == 8080


def test_worker_graceful_shutdown(chart, h, environment):
    docs = chart.render_batch(environment)
    values = h.load_env_values(environment)
    worker = deployments(h, docs)[WORKER]
    pod = worker["spec"]["template"]["spec"]
    expected = values.get("worker", {}).get("terminationGracePeriodSeconds", 300)
    assert pod["terminationGracePeriodSeconds"] == expected
    max_task = values.get("worker", {}).get("shutdown", {}).get("maxTaskSeconds", 240)
    c = container(worker, "worker")
    hook = c["lifecycle"]["preStop"]["exec"]["command"]
    assert hook[:2] == ["python", "-c"]
    # The hook waits at most maxTaskSeconds for the task in flight, inside the grace period.
    assert f"time.monotonic() + {max_task}\n" in hook[2]
    assert pod["terminationGracePeriodSeconds"] >= max_task + 10
    assert c["resources"]["requests"] and c["resources"]["limits"]
    # No Service and no port for the worker: it serves nothing.
    assert "ports" not in c
    assert not [s for s in h.by_kind(docs, "Service") if s["metadata"]["name"] == WORKER]


def test_worker_autoscaler_is_exclusive(chart, h, environment):
    docs = chart.render_batch(environment)
    autoscaling = h.load_env_values(environment).get("worker", {}).get("autoscaling", {})
    scaled = h.by_kind(docs, "ScaledObject")
    worker_hpas = [d for d in h.by_kind(docs, "HorizontalPodAutoscaler")
                   if d["spec"]["scaleTargetRef"]["name"] == WORKER]
    assert len(scaled) + len(worker_hpas) == (1 if autoscaling.get("enabled") else 0)
    worker = deployments(h, docs)[WORKER]
    assert ("replicas" in worker["spec"]) is (not autoscaling.get("enabled"))


def test_platform_release_has_no_worker_objects(chart, h, environment):
    """Workers exist per batch only: the platform release renders no worker, autoscaler or worker budget."""
    docs = chart.render(environment)
    worker_objects = [f"{d['kind']}/{d['metadata']['name']}" for d in docs
                      if d["metadata"]["labels"].get("app.kubernetes.io/component") in ("worker", "producer")]
    assert worker_objects == []
    assert not h.by_kind(docs, "ScaledObject") and not h.by_kind(docs, "TriggerAuthentication")


def test_api_replicas_omitted_with_hpa(chart, h, environment):
    docs = chart.render(environment)
    api = deployments(h, docs)[API]
    hpas = [d for d in h.by_kind(docs, "HorizontalPodAutoscaler") if d["spec"]["scaleTargetRef"]["name"] == API]
    if hpas:
        assert "replicas" not in api["spec"]
    else:
        assert api["spec"]["replicas"] >= 1


def test_all_pods_restricted(chart, h, environment):
    specs = h.pod_specs(both_releases(chart, environment))
    assert {name.split("/")[0] for name, _meta, _spec in specs} >= {"Deployment", "Job", "Pod"}
    problems = [p for name, _meta, spec in specs for p in h.restricted_violations(name, spec)]
    assert problems == []
    for name, _meta, spec in specs:
        mounts = {m["mountPath"] for c in spec["containers"] for m in c.get("volumeMounts", [])}
        assert "/tmp" in mounts, f"{name}: no writable /tmp"


@pytest.mark.parametrize("batch", [False, True], ids=["platform", "batch"])
def test_network_policy_default_deny(chart, h, environment, batch):
    docs = chart.render_batch(environment) if batch else chart.render(environment)
    release, fullname = (h.BATCH_RELEASE, "batch-nl2api") if batch else (h.RELEASE, "rel-nl2api")
    deny = h.one(docs, "NetworkPolicy", f"{fullname}-default-deny")
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]
    assert deny["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "nl2api", "app.kubernetes.io/instance": release}
    egress = h.one(docs, "NetworkPolicy", f"{fullname}-app-egress")
    dns = egress["spec"]["egress"][0]
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}


def test_checksum_annotations_present(chart, h, environment):
    for docs, name in ((chart.render(environment), API), (chart.render_batch(environment), WORKER)):
        ann = deployments(h, docs)[name]["spec"]["template"]["metadata"]["annotations"]
        assert re.fullmatch(r"[0-9a-f]{64}", ann["checksum/config"])
        assert re.fullmatch(r"[0-9a-f]{64}", ann["checksum/secret"])


def test_topology_spread(chart, h, environment):
    docs = chart.render(environment)
    api = deployments(h, docs)[API]
    tsc = {c["topologyKey"]: c for c in api["spec"]["template"]["spec"]["topologySpreadConstraints"]}
    assert set(tsc) == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    expected = "DoNotSchedule" if environment == "prod" else "ScheduleAnyway"
    assert tsc["topology.kubernetes.io/zone"]["whenUnsatisfiable"] == expected


def test_images_pinned(chart, h, environment):
    for name, _meta, spec in h.pod_specs(both_releases(chart, environment)):
        for c in spec["containers"]:
            assert not c["image"].endswith(":latest"), f"{name}: {c['image']}"
            assert ":" in c["image"].rsplit("/", 1)[-1] or "@sha256:" in c["image"], c["image"]


def test_metrics_never_both(chart, h, environment):
    """The collector is scraped through a ServiceMonitor or through prometheus.io annotations, never both; the
    application pods never (they serve no /metrics)."""
    docs = chart.render(environment)
    has_sm = bool(h.by_kind(docs, "ServiceMonitor"))
    collector = deployments(h, docs).get(COLLECTOR)
    if collector is not None:
        assert has_sm != ("prometheus.io/scrape" in collector["spec"]["template"]["metadata"]["annotations"])
    else:
        assert not has_sm
    for name, meta, _spec in h.pod_specs(both_releases(chart, environment)):
        if "otel-collector" not in name:
            assert not any(k.startswith("prometheus.io/") for k in meta.get("annotations") or {}), name


def test_otel_environment(chart, h, environment):
    docs = chart.render(environment)
    config = h.one(docs, "ConfigMap", "rel-nl2api-config")["data"]
    assert config["NL2API_ENV"] == environment
    if COLLECTOR in deployments(h, docs):
        assert config["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://rel-nl2api-otel-collector:4317"
        assert "OTEL_SDK_DISABLED" not in config
    else:
        assert config["OTEL_SDK_DISABLED"] == "true" and "OTEL_EXPORTER_OTLP_ENDPOINT" not in config
    for c in (container(deployments(h, docs)[API], "api"),
              container(deployments(h, chart.render_batch(environment))[WORKER], "worker")):
        env = {e["name"]: e.get("value") for e in c["env"]}
        # The application sets service.name and deployment.environment itself and ignores these.
        assert "OTEL_SERVICE_NAME" not in env and "OTEL_EXPORTER_OTLP_PROTOCOL" not in env
        assert "deployment.environment" not in env["OTEL_RESOURCE_ATTRIBUTES"]
        assert {"configMapRef": {"name": "rel-nl2api-config"}} in c["envFrom"]


# ---------------------------------------------------------------- per environment

@pytest.mark.parametrize("env", ["local", "dev"])
def test_local_and_dev(chart, h, env):
    docs = chart.render(env)
    secret = h.decode_secret(h.one(docs, "Secret", "rel-nl2api"))
    assert set(secret) >= {"postgres-url", "postgres-migrations-url", "postgres-admin-url", "redis-url",
                           "postgres-username", "postgres-password", "redis-username", "redis-password"}
    pg = h.one(docs, "StatefulSet", "rel-nl2api-postgresql")
    redis = h.one(docs, "StatefulSet", "rel-nl2api-redis")
    for sts in (pg, redis):
        # A high uid outside the images' /etc/passwd (their own user is 999; checkov CKV_K8S_40).
        assert {k: v for k, v in sts["spec"]["template"]["spec"]["securityContext"].items()
                if k in ("runAsUser", "runAsGroup", "fsGroup")} == {"runAsUser": 10001, "runAsGroup": 10001,
                                                                    "fsGroup": 10001}
    pg_c = pg["spec"]["template"]["spec"]["containers"][0]
    # The first migration creates the vector extension: the image must ship pgvector.
    assert re.fullmatch(r"docker\.io/pgvector/pgvector:\d+\.\d+\.\d+-pg1[6-9]", pg_c["image"])
    assert "pg_isready" in " ".join(pg_c["readinessProbe"]["exec"]["command"])
    assert {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"} in pg_c["env"]
    mounts = {m["mountPath"] for m in pg_c["volumeMounts"]}
    assert {"/var/lib/postgresql/data", "/var/run/postgresql", "/tmp"} <= mounts
    assert re.fullmatch(r"docker\.io/library/redis:7\.\d+\.\d+", redis["spec"]["template"]["spec"]["containers"][0]["image"])
    assert h.one(docs, "Service", "rel-nl2api-postgresql-headless")["spec"]["clusterIP"] == "None"
    assert h.one(docs, "Service", "rel-nl2api-postgresql")["spec"]["type"] == "ClusterIP"
    assert deployments(h, docs)[API]["spec"]["replicas"] == 1
    assert deployments(h, chart.render_batch(env))[WORKER]["spec"]["replicas"] == 1
    # The URLs point at the in-cluster stores, which serve no TLS.
    postgres = urlsplit(secret["postgres-url"])
    assert (postgres.scheme, postgres.hostname, postgres.port, postgres.path) == (
        "postgresql", "rel-nl2api-postgresql", 5432, "/nl2api")
    assert parse_qs(postgres.query) == {"sslmode": ["disable"]}
    redis_url = urlsplit(secret["redis-url"])
    assert (redis_url.scheme, redis_url.hostname, redis_url.port, redis_url.path, redis_url.query) == (
        "redis", "rel-nl2api-redis", 6379, "/0", "")
    if env == "dev":
        assert "persistentVolumeClaim" not in str(pg["spec"]["template"]["spec"]["volumes"])
        assert pg["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "5Gi"
    else:
        assert "volumeClaimTemplates" not in pg["spec"]


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_shared_environments(chart, h, env):
    docs = chart.render(env)
    assert not h.by_kind(docs, "Secret"), "no Secret may be rendered in staging/prod"
    assert not h.by_kind(docs, "StatefulSet"), "no in-cluster data stores in staging/prod"
    assert h.one(docs, "HorizontalPodAutoscaler", API)
    assert h.by_kind(docs, "ServiceMonitor")
    ingress = h.one(docs, "Ingress", API)
    assert ingress["spec"]["tls"][0]["secretName"]
    assert h.one(chart.render_batch(env), "ScaledObject", WORKER)


def test_prod(chart, h):
    docs = chart.render("prod")
    hpa = h.one(docs, "HorizontalPodAutoscaler", API)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["minReplicas"] >= 3
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    pdbs = {d["metadata"]["name"]: d for d in h.by_kind(docs, "PodDisruptionBudget")}
    assert pdbs[API]["spec"]["minAvailable"] == 2
    batch = chart.render_batch("prod")
    assert h.one(batch, "PodDisruptionBudget", WORKER)["spec"]["minAvailable"] == 1
    es = h.one(docs, "ExternalSecret", "rel-nl2api")
    assert es["apiVersion"] == "external-secrets.io/v1"
    assert {d["secretKey"] for d in es["spec"]["data"]} == {
        "postgres-username", "postgres-password", "postgres-migrations-username", "postgres-migrations-password",
        "redis-password", "openfigi-api-key", "anthropic-api-key"}
    assert es["spec"]["target"]["name"] == "rel-nl2api"
    template = es["spec"]["target"]["template"]
    assert template["mergePolicy"] == "Merge"
    assert set(template["data"]) == {"postgres-url", "postgres-migrations-url", "redis-url"}
    store = h.one(docs, "SecretStore", "rel-nl2api")
    assert store["spec"]["provider"]["aws"]["auth"]["jwt"]["serviceAccountRef"]["name"] == "rel-nl2api-secrets"
    sa = h.one(docs, "ServiceAccount", "rel-nl2api-secrets")
    assert "eks.amazonaws.com/role-arn" in sa["metadata"]["annotations"]
    so = h.one(batch, "ScaledObject", WORKER)
    assert so["spec"]["minReplicaCount"] == 2
    assert so["spec"]["scaleTargetRef"]["name"] == WORKER
    for trigger in so["spec"]["triggers"]:
        assert trigger["type"] == "redis-streams"
        assert trigger["metadata"]["enableTLS"] == "true"
        assert trigger["metadata"]["address"] == "nl2api-prod.redis.example.invalid:6379"
        assert trigger["authenticationRef"]["name"] == WORKER_AUTH
    auth = h.one(batch, "TriggerAuthentication", WORKER_AUTH)
    assert {r["name"] for r in auth["spec"]["secretTargetRef"]} == {"rel-nl2api"}
    collector = h.one(docs, "Deployment", COLLECTOR)
    image = collector["spec"]["template"]["spec"]["containers"][0]["image"]
    assert re.fullmatch(r"docker\.io/otel/opentelemetry-collector-contrib:\d+\.\d+\.\d+", image)
    assert collector["spec"]["replicas"] == 2
    svc = h.one(docs, "Service", COLLECTOR)
    # OTLP over gRPC only (the application has no HTTP exporter), the prometheus exporter and the own metrics.
    assert {p["port"] for p in svc["spec"]["ports"]} == {4317, 8889, 8888}
    api = deployments(h, docs)[API]
    assert "replicas" not in api["spec"]
    assert "prometheus.io/scrape" not in api["spec"]["template"]["metadata"]["annotations"]
    assert h.by_kind(docs, "NetworkPolicy")


def test_notes_warn_about_unsafe_values(chart):
    notes = chart.notes("dev", {
        "image": {"tag": "latest"}, "networkPolicy": {"enabled": False},
        "ingress": {"enabled": True, "tls": []}})
    assert 'uses the tag "latest"' in notes
    assert "networkPolicy.enabled=false" in notes
    assert "no TLS section" in notes
    notes = chart.notes("prod", {"secrets": {"create": True, "allowCreateOutsideDev": True,
                                             "externalSecret": {"enabled": False,
                                                                "secretStore": {"create": False}}},
                                 "api": {"autoscaling": {"enabled": False}, "replicaCount": 1,
                                         "podDisruptionBudget": {"enabled": False}}})
    assert "secrets.create=true in environment prod" in notes
    assert "single API replica without HPA in prod" in notes
    clean = chart.notes("prod")
    assert "WARNINGS" not in clean
    assert "helm test rel" in clean


# ---------------------------------------------------------------- toggles

def test_worker_engine_hpa(chart, h):
    docs = chart.render_batch("dev", {"worker": {"autoscaling": {
        "enabled": True, "engine": "hpa", "minReplicas": 2, "maxReplicas": 8,
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 120}}}}})
    assert not h.by_kind(docs, "ScaledObject") and not h.by_kind(docs, "TriggerAuthentication")
    hpa = h.one(docs, "HorizontalPodAutoscaler", WORKER)
    assert hpa["spec"]["scaleTargetRef"]["name"] == WORKER
    assert hpa["spec"]["metrics"] and {m["type"] for m in hpa["spec"]["metrics"]} == {"External"}
    assert hpa["spec"]["behavior"] == {"scaleDown": {"stabilizationWindowSeconds": 120}}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 8)
    assert "replicas" not in deployments(h, docs)[WORKER]["spec"]


def test_worker_keda_in_cluster_redis(chart, h):
    keda = {"worker": {"autoscaling": {
        "enabled": True, "engine": "keda", "minReplicas": 0, "maxReplicas": 4,
        "behavior": {"scaleUp": {"stabilizationWindowSeconds": 0}}}}}
    so = h.one(chart.render_batch("dev", keda), "ScaledObject", WORKER)
    assert so["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"] == {
        "scaleUp": {"stabilizationWindowSeconds": 0}}
    assert so["spec"]["minReplicaCount"] == 0
    assert so["spec"]["triggers"]
    for trigger in so["spec"]["triggers"]:
        assert trigger["type"] == "redis-streams"
        assert trigger["metricType"] == "AverageValue"
        # The KEDA operator runs in another namespace: the platform's Redis, fully qualified.
        assert trigger["metadata"]["address"] == "rel-nl2api-redis.nl2api.svc.cluster.local:6379"
        assert trigger["metadata"]["enableTLS"] == "false"
        assert trigger["metadata"]["stream"] == f"eval:tasks:{h.BATCH_ID}"
    # The KEDA operator may reach the in-cluster Redis (the platform release's policy).
    np = h.one(chart.render("dev", keda), "NetworkPolicy", "rel-nl2api-redis")
    peers = np["spec"]["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}} in peers
    np = h.one(chart.render("dev"), "NetworkPolicy", "rel-nl2api-redis")
    assert all("namespaceSelector" not in peer for peer in np["spec"]["ingress"][0]["from"])


def test_keda_password_only_auth(chart, h):
    auth_values = {"secretName": "redis-auth", "usernameKey": "", "passwordKey": "token"}
    docs = chart.render_batch("dev", {"worker": {
        "autoscaling": {"enabled": True, "minReplicas": 1, "redis": {"auth": auth_values}},
        "podDisruptionBudget": {"enabled": False}}})
    auth = h.one(docs, "TriggerAuthentication", WORKER_AUTH)
    assert auth["spec"]["secretTargetRef"] == [{"parameter": "password", "name": "redis-auth", "key": "token"}]


def test_api_autoscaling_toggle(chart, h):
    off = chart.render("dev", {"api": {"replicaCount": 3}})
    assert deployments(h, off)[API]["spec"]["replicas"] == 3
    assert not h.by_kind(off, "HorizontalPodAutoscaler")
    on = chart.render("dev", {"api": {"autoscaling": {"enabled": True, "targetMemoryUtilizationPercentage": 80}}})
    assert "replicas" not in deployments(h, on)[API]["spec"]
    hpa = h.one(on, "HorizontalPodAutoscaler", API)
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu", "memory"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)


def test_entity_service_toggle(chart, h):
    assert ENTITY_SERVICE not in deployments(h, chart.render("dev"))
    docs = chart.render("dev", {"entityService": {"enabled": True, "replicaCount": 2, "containerPort": 8085}})
    c = container(deployments(h, docs)[ENTITY_SERVICE], "entity-service")
    assert c["command"] == ["nl2api-run", "--", "python", "-m", "src.services.entity_resolution"]
    assert c["args"] == ["--transport", "http", "--host", "0.0.0.0", "--port", "8085"]
    assert c["ports"] == [{"name": "http", "containerPort": 8085, "protocol": "TCP"}]
    assert secret_ref(c, "ENTITY_POSTGRES_URL") == {"name": "rel-nl2api", "key": "postgres-url"}
    assert secret_ref(c, "ENTITY_REDIS_URL") == {"name": "rel-nl2api", "key": "redis-url"}
    assert env_of(c)["ENTITY_REDIS_ENABLED"]["value"] == "true"
    assert c["livenessProbe"]["httpGet"]["path"] == "/health" and c["readinessProbe"]["httpGet"]["path"] == "/ready"
    svc = h.one(docs, "Service", ENTITY_SERVICE)
    assert svc["spec"]["selector"]["app.kubernetes.io/component"] == "entity-service"
    assert h.one(docs, "NetworkPolicy", ENTITY_SERVICE)
    no_cache = chart.render("dev", {"entityService": {"enabled": True, "redisCache": False}})
    c = container(deployments(h, no_cache)[ENTITY_SERVICE], "entity-service")
    assert env_of(c)["ENTITY_REDIS_ENABLED"]["value"] == "false" and "ENTITY_REDIS_URL" not in env_of(c)


def test_api_redis_cache_toggle(chart, h):
    """The server's cache cannot start upstream: off by default, and ENTITY_MCP_REDIS_URL only when on."""
    c = container(deployments(h, chart.render("dev"))[API], "api")
    assert "--no-redis" in c["args"] and "ENTITY_MCP_REDIS_URL" not in env_of(c)
    c = container(deployments(h, chart.render("dev", {"api": {"redisCache": True}}))[API], "api")
    assert "--redis" in c["args"] and "--no-redis" not in c["args"]
    assert secret_ref(c, "ENTITY_MCP_REDIS_URL") == {"name": "rel-nl2api", "key": "redis-url"}


def test_ingress(chart, h):
    assert not h.by_kind(chart.render("local"), "Ingress")
    docs = chart.render("local", {"ingress": {
        "enabled": True, "className": "nginx",
        "hosts": [{"host": "api.example.com", "paths": [
            {"path": "/", "pathType": "Prefix"}, {"path": "/v1", "pathType": "Exact"}]}],
        "tls": [{"secretName": "api-tls", "hosts": ["api.example.com"]}]}})
    ing = h.one(docs, "Ingress", API)
    assert ing["spec"]["ingressClassName"] == "nginx"
    assert ing["spec"]["tls"] == [{"secretName": "api-tls", "hosts": ["api.example.com"]}]
    paths = ing["spec"]["rules"][0]["http"]["paths"]
    assert [p["path"] for p in paths] == ["/", "/v1"]
    assert paths[0]["backend"]["service"] == {"name": API, "port": {"name": "http"}}


def test_service_monitor_toggle(chart, h):
    docs = chart.render("dev", {"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}}})
    assert [sm["metadata"]["name"] for sm in h.by_kind(docs, "ServiceMonitor")] == [COLLECTOR]
    sm = h.one(docs, "ServiceMonitor", COLLECTOR)
    assert sm["metadata"]["labels"]["release"] == "prom"
    assert sm["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "otel-collector"
    assert [(e["port"], e["path"]) for e in sm["spec"]["endpoints"]] == [
        ("prom-metrics", "/metrics"), ("metrics", "/metrics")]
    ports = {p["name"]: p["port"] for p in h.one(docs, "Service", COLLECTOR)["spec"]["ports"]}
    assert ports["prom-metrics"] == 8889 and ports["metrics"] == 8888
    for name in (API, COLLECTOR):
        ann = deployments(h, docs)[name]["spec"]["template"]["metadata"].get("annotations", {})
        assert "prometheus.io/scrape" not in ann
    # Without a ServiceMonitor: annotations on the collector pods, on the exporter's port.
    ann = deployments(h, chart.render("dev"))[COLLECTOR]["spec"]["template"]["metadata"]["annotations"]
    assert (ann["prometheus.io/scrape"], ann["prometheus.io/port"], ann["prometheus.io/path"]) == (
        "true", "8889", "/metrics")
    docs = chart.render("dev", {"metrics": {"enabled": False}})
    assert not h.by_kind(docs, "ServiceMonitor")
    for name in (API, COLLECTOR):
        assert "prometheus.io/scrape" not in deployments(h, docs)[name]["spec"]["template"]["metadata"]["annotations"]
    assert "prom-metrics" not in {p["name"] for p in h.one(docs, "Service", COLLECTOR)["spec"]["ports"]}


def test_otel_collector_config(chart, h):
    docs = chart.render("dev", {"otelCollector": {
        "exporters": {"otlphttp/vendor": {"endpoint": "https://otlp.example.com"}, "debug": {}},
        "pipelines": {"traces": ["otlphttp/vendor"], "metrics": ["otlphttp/vendor", "debug"], "logs": []},
        "config": {"processors": {"batch": {"timeout": "5s"}}}}})
    cfg = yaml.safe_load(h.one(docs, "ConfigMap", "rel-nl2api-otel-collector")["data"]["config.yaml"])
    # The application exports OTLP over gRPC only.
    assert set(cfg["receivers"]["otlp"]["protocols"]) == {"grpc"}
    assert cfg["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].endswith(":4317")
    assert set(cfg["service"]["pipelines"]) == {"traces", "metrics"}
    assert cfg["service"]["pipelines"]["metrics"]["exporters"] == ["otlphttp/vendor", "debug", "prometheus"]
    prometheus = cfg["exporters"]["prometheus"]
    assert prometheus["endpoint"].endswith(":8889") and prometheus["namespace"] == "evalkit"
    assert cfg["processors"]["batch"] == {"timeout": "5s"}
    docs = chart.render("dev", {"otelCollector": {"enabled": False}, "otel": {"endpoint": "http://collector.obs:4317"}})
    assert not [d for d in h.by_kind(docs, "Deployment") if "otel" in d["metadata"]["name"]]
    assert h.one(docs, "ConfigMap", "rel-nl2api-config")["data"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://collector.obs:4317"
    docs = chart.render("dev", {"otelCollector": {"enabled": False}})
    assert h.one(docs, "ConfigMap", "rel-nl2api-config")["data"]["OTEL_SDK_DISABLED"] == "true"


def test_external_stores(chart, h):
    docs = chart.render("dev", {
        "postgresql": {"enabled": False}, "redis": {"enabled": False},
        "secrets": {"values": {"postgres-password": "pw", "redis-password": "rpw"}},
        "externalDatabase": {"host": "db.example.com", "port": 6432, "sslMode": "require"},
        "externalRedis": {"host": "cache.example.com", "port": 6380, "tls": True, "databaseIndex": 2},
        "networkPolicy": {"egress": {"database": {"cidrs": ["10.1.0.0/16"]}}}})
    assert not h.by_kind(docs, "StatefulSet")
    secret = h.decode_secret(h.one(docs, "Secret", "rel-nl2api"))
    assert secret["postgres-url"] == "postgresql://nl2api:pw@db.example.com:6432/nl2api?sslmode=require"
    assert secret["redis-url"] == "rediss://nl2api:rpw@cache.example.com:6380/2?ssl_cert_reqs=required"
    # No admin URL for a managed database: its extensions are created by the database task.
    assert "postgres-admin-url" not in secret
    egress = h.one(docs, "NetworkPolicy", "rel-nl2api-app-egress")["spec"]["egress"]
    db_rule = next(r for r in egress if r.get("ports") == [{"protocol": "TCP", "port": 6432}])
    assert db_rule["to"] == [{"ipBlock": {"cidr": "10.1.0.0/16"}}]
    redis_rule = next(r for r in egress if r.get("ports") == [{"protocol": "TCP", "port": 6380}])
    assert "to" not in redis_rule  # no CIDRs configured: any destination on the Redis port


@pytest.mark.parametrize("provider", ["aws", "azure"])
def test_external_secret_created_store(chart, h, provider):
    store_values = {"create": True, "provider": provider,
                    "aws": {"region": "eu-central-1"},
                    "azure": {"vaultUrl": "https://nl2api-kv.vault.azure.net",
                              "tenantId": "00000000-0000-0000-0000-000000000000"},
                    "serviceAccount": {"create": True, "annotations": {"azure.workload.identity/client-id": "x"}}}
    docs = chart.render("staging", {"secrets": {"existingSecret": "", "externalSecret": {
        "enabled": True, "dataFrom": [{"extract": {"key": "nl2api/staging"}}], "secretStore": store_values}}})
    store = h.one(docs, "SecretStore", "rel-nl2api")
    if provider == "aws":
        assert store["spec"]["provider"]["aws"]["region"] == "eu-central-1"
        assert store["spec"]["provider"]["aws"]["service"] == "SecretsManager"
    else:
        azure = store["spec"]["provider"]["azurekv"]
        assert azure["authType"] == "WorkloadIdentity"
        assert azure["vaultUrl"] == "https://nl2api-kv.vault.azure.net"
        assert azure["serviceAccountRef"] == {"name": "rel-nl2api-secrets"}
    es = h.one(docs, "ExternalSecret", "rel-nl2api")
    assert es["spec"]["dataFrom"] == [{"extract": {"key": "nl2api/staging"}}]
    assert es["spec"]["secretStoreRef"] == {"kind": "SecretStore", "name": "rel-nl2api"}


def test_external_secret_existing_cluster_store(chart, h):
    docs = chart.render("staging", {"secrets": {"existingSecret": "", "externalSecret": {
        "enabled": True, "targetName": "nl2api-app",
        "secretStoreRef": {"kind": "ClusterSecretStore", "name": "vault"},
        "data": [{"secretKey": "postgres-password", "remoteRef": {"key": "db", "property": "password"}}]}}})
    assert not h.by_kind(docs, "SecretStore")
    es = h.one(docs, "ExternalSecret", "rel-nl2api")
    assert es["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "vault"}
    assert es["spec"]["target"]["name"] == "nl2api-app"
    api = container(deployments(h, docs)[API], "api")
    assert secret_ref(api, "ENTITY_MCP_POSTGRES_URL") == {"name": "nl2api-app", "key": "postgres-url"}
    migrations = h.one(docs, "Job", MIGRATIONS)["spec"]["template"]["spec"]["containers"][0]
    assert secret_ref(migrations, "DATABASE_URL") == {"name": "nl2api-app", "key": "postgres-migrations-url"}


def test_existing_secret(chart, h):
    docs = chart.render("staging")
    assert not h.by_kind(docs, "Secret") and not h.by_kind(docs, "ExternalSecret")
    api = container(deployments(h, docs)[API], "api")
    assert secret_ref(api, "ENTITY_MCP_POSTGRES_URL") == {"name": "nl2api-credentials", "key": "postgres-url"}
    # Only the keys each container reads, never the whole Secret (it holds the raw credentials too).
    assert all("secretRef" not in source for source in api["envFrom"])
    worker = container(deployments(h, chart.render_batch("staging"))[WORKER], "worker")
    assert secret_ref(worker, "EVAL_REDIS_URL") == {"name": "nl2api-credentials", "key": "redis-url"}


def test_service_account(chart, h):
    values = {"serviceAccount": {
        "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::000000000000:role/app"},
        "azureWorkloadIdentity": True}}
    docs = chart.render("dev", values)
    sa = h.one(docs, "ServiceAccount", "rel-nl2api")
    assert sa["automountServiceAccountToken"] is False
    for pod in (deployments(h, docs)[API]["spec"]["template"],
                deployments(h, chart.render_batch("dev", values))[WORKER]["spec"]["template"]):
        # The batch's pods run under the platform's account.
        assert pod["spec"]["serviceAccountName"] == "rel-nl2api"
        assert pod["spec"]["automountServiceAccountToken"] is False
        assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert not h.by_kind(chart.render_batch("dev", values), "ServiceAccount")
    docs = chart.render("dev", {"serviceAccount": {"create": False, "name": "shared"}})
    assert not h.by_kind(docs, "ServiceAccount")
    assert deployments(h, docs)[API]["spec"]["template"]["spec"]["serviceAccountName"] == "shared"


def test_image_digest_and_overrides(chart, h):
    digest = "sha256:" + "a" * 64
    values = {"image": {"registry": "registry.example.com/nl2api", "tag": "1.2.3-abc1234"},
              "worker": {"image": {"digest": digest}}, "imagePullSecrets": [{"name": "regcred"}]}
    docs = chart.render("dev", values)
    batch = chart.render_batch("dev", values)
    api = deployments(h, docs)[API]
    assert container(api, "api")["image"] == "registry.example.com/nl2api/nl2api-api:1.2.3-abc1234"
    migrations = h.one(docs, "Job", MIGRATIONS)["spec"]["template"]["spec"]
    assert migrations["containers"][0]["image"] == "registry.example.com/nl2api/nl2api-migrations:1.2.3-abc1234"
    assert container(deployments(h, batch)[WORKER], "worker")["image"] == f"registry.example.com/nl2api/nl2api-worker@{digest}"
    # The producer is the worker image's CLI.
    producer = h.one(batch, "Job", PRODUCER)["spec"]["template"]["spec"]["containers"][0]
    assert producer["image"] == f"registry.example.com/nl2api/nl2api-worker@{digest}"
    assert api["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    assert migrations["imagePullSecrets"] == [{"name": "regcred"}]
    assert api["metadata"]["labels"]["app.kubernetes.io/version"] == "1.2.3-abc1234"
    # Per-component values win over the shared defaults; the tag defaults to the appVersion.
    docs = chart.render("local", {"api": {"image": {"registry": "other.example.com", "repository": "x/api",
                                                    "pullPolicy": "Always"}}})
    api = container(deployments(h, docs)[API], "api")
    assert (api["image"], api["imagePullPolicy"]) == ("other.example.com/x/api:1.0.0", "Always")
    assert container(deployments(h, chart.render_batch("local"))[WORKER], "worker")["image"] == "nl2api-worker:1.0.0"


def test_helm_test_pod(chart, h):
    docs = chart.render("dev")
    pod = h.one(docs, "Pod", "rel-nl2api-test")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    c = pod["spec"]["containers"][0]
    assert c["image"] == container(deployments(h, docs)[API], "api")["image"]
    assert c["command"][0] == "python"
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["API_URL"] == "http://rel-nl2api-api:8080"
    assert env["CHECK_PATHS"] == "/health,/ready"
    np = h.one(docs, "NetworkPolicy", "rel-nl2api-test")
    assert np["spec"]["egress"][1]["ports"] == [{"protocol": "TCP", "port": 8080}]


def test_database_and_redis_ca_bundles(chart, h):
    values = {"externalRedis": {"caConfigMap": {"name": "redis-ca", "key": "bundle.pem"}}}
    docs = chart.render("prod", values)
    urls = h.one(docs, "ExternalSecret", "rel-nl2api")["spec"]["target"]["template"]["data"]
    for key in ("postgres-url", "postgres-migrations-url"):
        assert parse_qs(urlsplit(urls[key]).query) == {
            "sslmode": ["verify-full"], "sslrootcert": ["/etc/nl2api/tls/database/ca.crt"]}, key
    assert parse_qs(urlsplit(urls["redis-url"]).query) == {
        "ssl_cert_reqs": ["required"], "ssl_ca_certs": ["/etc/nl2api/tls/redis/ca.crt"]}
    batch = chart.render_batch("prod", values)
    pods = [(deployments(h, docs)[API]["spec"]["template"]["spec"], "api"),
            (deployments(h, batch)[WORKER]["spec"]["template"]["spec"], "worker"),
            (h.one(batch, "Job", PRODUCER)["spec"]["template"]["spec"], "producer"),
            (h.one(docs, "Job", MIGRATIONS)["spec"]["template"]["spec"], "migrations")]
    for spec, cname in pods:
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["database-ca"]["configMap"] == {
            "name": "nl2api-database-ca", "items": [{"key": "ca.crt", "path": "ca.crt"}]}, cname
        assert volumes["redis-ca"]["configMap"]["items"] == [{"key": "bundle.pem", "path": "ca.crt"}], cname
        mounts = {m["mountPath"]: m for m in next(c for c in spec["containers"] if c["name"] == cname)["volumeMounts"]}
        assert mounts["/etc/nl2api/tls/database"]["readOnly"] is True, cname
        assert mounts["/etc/nl2api/tls/redis"]["readOnly"] is True, cname
    docs = chart.render("prod", {"externalDatabase": {"caConfigMap": {"name": ""}, "sslRootCert": "system"}})
    urls = h.one(docs, "ExternalSecret", "rel-nl2api")["spec"]["target"]["template"]["data"]
    assert parse_qs(urlsplit(urls["postgres-url"]).query)["sslrootcert"] == ["system"]
    assert "ssl_ca_certs" not in urls["redis-url"]  # public CA: the system trust store
    assert "database-ca" not in str(deployments(h, docs)[API]["spec"]["template"]["spec"]["volumes"])
    # In-cluster stores: no TLS parameters at all.
    secret = h.decode_secret(h.one(chart.render("dev"), "Secret", "rel-nl2api"))
    assert "sslrootcert" not in secret["postgres-url"] and "ssl_ca_certs" not in secret["redis-url"]
    notes = chart.notes("prod", {"externalDatabase": {"caConfigMap": {"name": ""}}})
    assert "libpq looks for ~/.postgresql/root.crt" in notes


def test_worker_has_no_probes(chart, h):
    """The worker serves nothing and writes no file: any liveness check could kill a healthy idle worker."""
    for env in h.ENVIRONMENTS:
        c = container(deployments(h, chart.render_batch(env))[WORKER], "worker")
        assert not {"livenessProbe", "readinessProbe", "startupProbe"} & set(c), env
    error = chart.render_error("dev", h.deep_merge(h.BATCH_VALUES, {"worker": {"terminationGracePeriodSeconds": 200}}),
                               release=h.BATCH_RELEASE)
    assert "worker.terminationGracePeriodSeconds=200 must be at least worker.shutdown.maxTaskSeconds=240 + 10" in error


def test_network_policy_disabled(chart, h):
    assert not h.by_kind(chart.render("dev", {"networkPolicy": {"enabled": False}}), "NetworkPolicy")
    assert not h.by_kind(chart.render_batch("dev", {"networkPolicy": {"enabled": False}}), "NetworkPolicy")


def test_api_ingress_sources(chart, h):
    docs = chart.render("dev", {"networkPolicy": {"ingressController": {
        "namespaces": ["ingress-nginx", "traefik"], "cidrs": ["10.0.0.0/24"]}}})
    rules = h.one(docs, "NetworkPolicy", API)["spec"]["ingress"]
    peers = rules[0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}}} in peers
    assert {"ipBlock": {"cidr": "10.0.0.0/24"}} in peers
    assert rules[1]["from"] == [{"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "nl2api", "app.kubernetes.io/instance": h.RELEASE}}}]
    # Prometheus does not scrape the API (it serves no /metrics): only the collector admits it.
    assert len(rules) == 2
    collector = h.one(docs, "NetworkPolicy", COLLECTOR)["spec"]["ingress"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}} in collector[1]["from"]
    assert {p["port"] for p in collector[1]["ports"]} == {8888, 8889}

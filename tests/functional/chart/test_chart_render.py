"""Properties of the rendered manifests, per environment and per toggle."""

from __future__ import annotations

import re

import pytest

API = "rel-nl2api-api"
WORKER = "rel-nl2api-worker"


def deployments(h, docs):
    return {d["metadata"]["name"]: d for d in h.by_kind(docs, "Deployment")}


def container(deploy: dict, name: str) -> dict:
    return next(c for c in deploy["spec"]["template"]["spec"]["containers"] if c["name"] == name)


# ---------------------------------------------------------------- every environment

def test_every_object_is_labelled_and_named(chart, h, environment):
    docs = chart.render(environment)
    for doc in docs:
        meta = doc["metadata"]
        assert len(meta["name"]) <= 63, meta["name"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", meta["name"]), meta["name"]
        for label in h.RECOMMENDED_LABELS:
            assert label in meta.get("labels", {}), f"{doc['kind']}/{meta['name']} lacks {label}"
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
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert c["command"] == ["python", "-m", "src.mcp_servers.entity_resolution"]
    svc = h.one(docs, "Service", API)
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"][0]["name"] == "http" and svc["spec"]["ports"][0]["port"] == 8080


def test_worker_graceful_shutdown(chart, h, environment):
    docs = chart.render(environment)
    values = h.load_env_values(environment)
    worker = deployments(h, docs)[WORKER]
    pod = worker["spec"]["template"]["spec"]
    expected = values.get("worker", {}).get("terminationGracePeriodSeconds", 300)
    assert pod["terminationGracePeriodSeconds"] == expected
    c = container(worker, "worker")
    assert c["lifecycle"]["preStop"]["exec"]["command"][0] == "python"
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert int(env["WORKER_DRAIN_TIMEOUT_SECONDS"]) < pod["terminationGracePeriodSeconds"]
    assert c["resources"]["requests"] and c["resources"]["limits"]
    # No Service for the worker.
    assert not [s for s in h.by_kind(docs, "Service") if s["metadata"]["name"] == WORKER]


def test_worker_autoscaler_is_exclusive(chart, h, environment):
    docs = chart.render(environment)
    values = h.load_env_values(environment)
    autoscaling = values.get("worker", {}).get("autoscaling", {})
    scaled = h.by_kind(docs, "ScaledObject")
    worker_hpas = [d for d in h.by_kind(docs, "HorizontalPodAutoscaler")
                   if d["spec"]["scaleTargetRef"]["name"] == WORKER]
    assert len(scaled) + len(worker_hpas) == (1 if autoscaling.get("enabled") else 0)
    worker = deployments(h, docs)[WORKER]
    assert ("replicas" in worker["spec"]) is (not autoscaling.get("enabled"))


def test_api_replicas_omitted_with_hpa(chart, h, environment):
    docs = chart.render(environment)
    api = deployments(h, docs)[API]
    hpas = [d for d in h.by_kind(docs, "HorizontalPodAutoscaler") if d["spec"]["scaleTargetRef"]["name"] == API]
    if hpas:
        assert "replicas" not in api["spec"]
    else:
        assert api["spec"]["replicas"] >= 1


def test_all_pods_restricted(chart, h, environment):
    docs = chart.render(environment)
    specs = h.pod_specs(docs)
    assert specs
    problems = [p for name, _meta, spec in specs for p in h.restricted_violations(name, spec)]
    assert problems == []
    for name, _meta, spec in specs:
        mounts = {m["mountPath"] for c in spec["containers"] for m in c.get("volumeMounts", [])}
        assert "/tmp" in mounts, f"{name}: no writable /tmp"


def test_network_policy_default_deny(chart, h, environment):
    docs = chart.render(environment)
    deny = h.one(docs, "NetworkPolicy", "rel-nl2api-default-deny")
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]
    assert deny["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "nl2api", "app.kubernetes.io/instance": h.RELEASE}
    egress = h.one(docs, "NetworkPolicy", "rel-nl2api-app-egress")
    dns = egress["spec"]["egress"][0]
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}


def test_checksum_annotations_present(chart, h, environment):
    docs = chart.render(environment)
    for name in (API, WORKER):
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
    docs = chart.render(environment)
    for name, _meta, spec in h.pod_specs(docs):
        for c in spec["containers"]:
            assert not c["image"].endswith(":latest"), f"{name}: {c['image']}"
            assert ":" in c["image"].rsplit("/", 1)[-1] or "@sha256:" in c["image"], c["image"]


def test_metrics_never_both(chart, h, environment):
    docs = chart.render(environment)
    has_sm = bool(h.by_kind(docs, "ServiceMonitor"))
    ann = deployments(h, docs)[API]["spec"]["template"]["metadata"]["annotations"]
    assert has_sm != ("prometheus.io/scrape" in ann)


def test_otel_environment(chart, h, environment):
    docs = chart.render(environment)
    c = container(deployments(h, docs)[API], "api")
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["OTEL_SERVICE_NAME"] == "nl2api-api"
    assert f"deployment.environment={environment}" in env["OTEL_RESOURCE_ATTRIBUTES"]
    config = h.one(docs, "ConfigMap", "rel-nl2api-config")["data"]
    collector = h.by_kind(docs, "Deployment")
    if any(d["metadata"]["name"] == "rel-nl2api-otel-collector" for d in collector):
        assert config["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://rel-nl2api-otel-collector:4317"
        assert config["OTEL_SDK_DISABLED"] == "false"


# ---------------------------------------------------------------- per environment

@pytest.mark.parametrize("env", ["local", "dev"])
def test_local_and_dev(chart, h, env):
    docs = chart.render(env)
    secret = h.one(docs, "Secret", "rel-nl2api")
    assert set(h.decode_secret(secret)) >= {"DATABASE_USER", "DATABASE_PASSWORD", "REDIS_USERNAME", "REDIS_PASSWORD"}
    pg = h.one(docs, "StatefulSet", "rel-nl2api-postgresql")
    redis = h.one(docs, "StatefulSet", "rel-nl2api-redis")
    for sts in (pg, redis):
        # A high uid outside the images' /etc/passwd (their own user is 999; checkov CKV_K8S_40).
        assert {k: v for k, v in sts["spec"]["template"]["spec"]["securityContext"].items()
                if k in ("runAsUser", "runAsGroup", "fsGroup")} == {"runAsUser": 10001, "runAsGroup": 10001,
                                                                    "fsGroup": 10001}
    pg_c = pg["spec"]["template"]["spec"]["containers"][0]
    assert re.fullmatch(r"docker\.io/library/postgres:16\.\d+", pg_c["image"])
    assert "pg_isready" in " ".join(pg_c["readinessProbe"]["exec"]["command"])
    assert {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"} in pg_c["env"]
    mounts = {m["mountPath"] for m in pg_c["volumeMounts"]}
    assert {"/var/lib/postgresql/data", "/var/run/postgresql", "/tmp"} <= mounts
    assert re.fullmatch(r"docker\.io/library/redis:7\.\d+\.\d+", redis["spec"]["template"]["spec"]["containers"][0]["image"])
    assert h.one(docs, "Service", "rel-nl2api-postgresql-headless")["spec"]["clusterIP"] == "None"
    assert h.one(docs, "Service", "rel-nl2api-postgresql")["spec"]["type"] == "ClusterIP"
    assert deployments(h, docs)[API]["spec"]["replicas"] == 1
    assert deployments(h, docs)[WORKER]["spec"]["replicas"] == 1
    config = h.one(docs, "ConfigMap", "rel-nl2api-config")["data"]
    assert config["DATABASE_HOST"] == "rel-nl2api-postgresql"
    assert config["DATABASE_SSLMODE"] == "disable"
    assert config["REDIS_HOST"] == "rel-nl2api-redis" and config["REDIS_TLS"] == "false"
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
    config = h.one(docs, "ConfigMap", "rel-nl2api-config")["data"]
    assert config["DATABASE_SSLMODE"] == "verify-full"
    assert config["REDIS_TLS"] == "true"
    assert h.one(docs, "HorizontalPodAutoscaler", API)
    assert h.by_kind(docs, "ServiceMonitor")
    ingress = h.one(docs, "Ingress", API)
    assert ingress["spec"]["tls"][0]["secretName"]
    assert h.one(docs, "ScaledObject", WORKER)


def test_prod(chart, h):
    docs = chart.render("prod")
    hpa = h.one(docs, "HorizontalPodAutoscaler", API)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["minReplicas"] >= 3
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    pdbs = {d["metadata"]["name"]: d for d in h.by_kind(docs, "PodDisruptionBudget")}
    assert pdbs[API]["spec"]["minAvailable"] == 2
    assert pdbs[WORKER]["spec"]["minAvailable"] == 1
    es = h.one(docs, "ExternalSecret", "rel-nl2api")
    assert es["apiVersion"] == "external-secrets.io/v1"
    assert {d["secretKey"] for d in es["spec"]["data"]} == {
        "DATABASE_USER", "DATABASE_PASSWORD", "REDIS_USERNAME", "REDIS_PASSWORD"}
    assert es["spec"]["target"]["name"] == "rel-nl2api"
    store = h.one(docs, "SecretStore", "rel-nl2api")
    assert store["spec"]["provider"]["aws"]["auth"]["jwt"]["serviceAccountRef"]["name"] == "rel-nl2api-secrets"
    sa = h.one(docs, "ServiceAccount", "rel-nl2api-secrets")
    assert "eks.amazonaws.com/role-arn" in sa["metadata"]["annotations"]
    so = h.one(docs, "ScaledObject", WORKER)
    assert so["spec"]["minReplicaCount"] == 2
    assert so["spec"]["advanced"]["scalingModifiers"] == {
        "formula": "pending_0 + processing_1", "target": "5", "activationTarget": "0", "metricType": "AverageValue"}
    assert [t["name"] for t in so["spec"]["triggers"]] == ["pending_0", "processing_1"]
    for trigger in so["spec"]["triggers"]:
        assert trigger["type"] == "redis"
        assert "metricType" not in trigger  # the composite metric carries the type
        assert trigger["metadata"]["enableTLS"] == "true"
        assert trigger["metadata"]["address"] == "nl2api-prod.redis.example.invalid:6380"
        assert trigger["authenticationRef"]["name"] == "rel-nl2api-worker-redis"
    auth = h.one(docs, "TriggerAuthentication", "rel-nl2api-worker-redis")
    assert {(r["parameter"], r["name"], r["key"]) for r in auth["spec"]["secretTargetRef"]} == {
        ("username", "rel-nl2api", "REDIS_USERNAME"), ("password", "rel-nl2api", "REDIS_PASSWORD")}
    collector = h.one(docs, "Deployment", "rel-nl2api-otel-collector")
    image = collector["spec"]["template"]["spec"]["containers"][0]["image"]
    assert re.fullmatch(r"docker\.io/otel/opentelemetry-collector-contrib:\d+\.\d+\.\d+", image)
    assert collector["spec"]["replicas"] == 2
    svc = h.one(docs, "Service", "rel-nl2api-otel-collector")
    assert {p["port"] for p in svc["spec"]["ports"]} >= {4317, 4318}
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
    docs = chart.render("dev", {"worker": {"autoscaling": {
        "enabled": True, "engine": "hpa", "minReplicas": 2, "maxReplicas": 8,
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 120}},
        "external": {"metricName": "redis_list_length", "averageValue": "10",
                     "selector": {"matchLabels": {"queue": "evaluations"}}}}}})
    assert not h.by_kind(docs, "ScaledObject") and not h.by_kind(docs, "TriggerAuthentication")
    hpa = h.one(docs, "HorizontalPodAutoscaler", WORKER)
    metric = hpa["spec"]["metrics"][0]
    assert metric["type"] == "External"
    assert metric["external"]["metric"]["name"] == "redis_list_length"
    assert metric["external"]["metric"]["selector"] == {"matchLabels": {"queue": "evaluations"}}
    assert metric["external"]["target"] == {"type": "AverageValue", "averageValue": "10"}
    assert hpa["spec"]["behavior"] == {"scaleDown": {"stabilizationWindowSeconds": 120}}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 8)
    assert "replicas" not in deployments(h, docs)[WORKER]["spec"]


def test_worker_keda_without_formula_in_cluster_redis(chart, h):
    docs = chart.render("dev", {"worker": {"autoscaling": {
        "enabled": True, "engine": "keda", "minReplicas": 0, "maxReplicas": 4,
        "behavior": {"scaleUp": {"stabilizationWindowSeconds": 0}}}}})
    so = h.one(docs, "ScaledObject", WORKER)
    assert "scalingModifiers" not in so["spec"]["advanced"]
    assert so["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"] == {
        "scaleUp": {"stabilizationWindowSeconds": 0}}
    assert so["spec"]["minReplicaCount"] == 0
    for trigger in so["spec"]["triggers"]:
        assert trigger["metricType"] == "AverageValue"
        # The KEDA operator runs in another namespace: fully qualified service name.
        assert trigger["metadata"]["address"] == "rel-nl2api-redis.nl2api.svc.cluster.local:6379"
        assert trigger["metadata"]["enableTLS"] == "false"
    assert [t["metadata"]["listName"] for t in so["spec"]["triggers"]] == [
        "nl2api:evaluations", "nl2api:evaluations:processing"]
    # The KEDA operator may reach the in-cluster Redis.
    np = h.one(docs, "NetworkPolicy", "rel-nl2api-redis")
    peers = np["spec"]["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}} in peers


def test_keda_password_only_auth(chart, h):
    auth_values = {"secretName": "redis-auth", "usernameKey": "", "passwordKey": "token"}
    docs = chart.render("dev", {"worker": {
        "autoscaling": {"enabled": True, "minReplicas": 1, "redis": {"auth": auth_values}},
        "podDisruptionBudget": {"enabled": False}}})
    auth = h.one(docs, "TriggerAuthentication", "rel-nl2api-worker-redis")
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
    sm = h.one(docs, "ServiceMonitor", API)
    assert sm["metadata"]["labels"]["release"] == "prom"
    assert sm["spec"]["endpoints"][0]["port"] == "http"
    assert sm["spec"]["endpoints"][0]["path"] == "/metrics"
    for name in (API, "rel-nl2api-otel-collector"):
        ann = deployments(h, docs)[name]["spec"]["template"]["metadata"].get("annotations", {})
        assert "prometheus.io/scrape" not in ann
    docs = chart.render("dev", {"metrics": {"enabled": False}})
    assert not h.by_kind(docs, "ServiceMonitor")
    assert "prometheus.io/scrape" not in deployments(h, docs)[API]["spec"]["template"]["metadata"]["annotations"]


def test_otel_collector_config(chart, h):
    import yaml

    docs = chart.render("dev", {"otelCollector": {
        "exporters": {"otlphttp/vendor": {"endpoint": "https://otlp.example.com"}, "debug": {}},
        "pipelines": {"traces": ["otlphttp/vendor"], "metrics": ["otlphttp/vendor", "debug"], "logs": []},
        "config": {"processors": {"batch": {"timeout": "5s"}}}}})
    cfg = yaml.safe_load(h.one(docs, "ConfigMap", "rel-nl2api-otel-collector")["data"]["config.yaml"])
    assert set(cfg["receivers"]["otlp"]["protocols"]) == {"grpc", "http"}
    assert cfg["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].endswith(":4317")
    assert cfg["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    assert set(cfg["service"]["pipelines"]) == {"traces", "metrics"}
    assert cfg["service"]["pipelines"]["metrics"]["exporters"] == ["otlphttp/vendor", "debug"]
    assert cfg["processors"]["batch"] == {"timeout": "5s"}
    docs = chart.render("dev", {"otelCollector": {"enabled": False}, "otel": {"endpoint": "http://collector.obs:4317"}})
    assert not [d for d in h.by_kind(docs, "Deployment") if "otel" in d["metadata"]["name"]]
    assert h.one(docs, "ConfigMap", "rel-nl2api-config")["data"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://collector.obs:4317"
    docs = chart.render("dev", {"otelCollector": {"enabled": False}})
    assert h.one(docs, "ConfigMap", "rel-nl2api-config")["data"]["OTEL_SDK_DISABLED"] == "true"


def test_external_stores(chart, h):
    docs = chart.render("dev", {
        "postgresql": {"enabled": False}, "redis": {"enabled": False},
        "externalDatabase": {"host": "db.example.com", "port": 6432, "sslMode": "require"},
        "externalRedis": {"host": "cache.example.com", "port": 6380, "tls": True, "databaseIndex": 2},
        "networkPolicy": {"egress": {"database": {"cidrs": ["10.1.0.0/16"]}}}})
    assert not h.by_kind(docs, "StatefulSet")
    config = h.one(docs, "ConfigMap", "rel-nl2api-config")["data"]
    assert (config["DATABASE_HOST"], config["DATABASE_PORT"], config["DATABASE_SSLMODE"]) == (
        "db.example.com", "6432", "require")
    assert (config["REDIS_HOST"], config["REDIS_PORT"], config["REDIS_TLS"], config["REDIS_DB"]) == (
        "cache.example.com", "6380", "true", "2")
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
        "data": [{"secretKey": "DATABASE_PASSWORD", "remoteRef": {"key": "db", "property": "password"}}]}}})
    assert not h.by_kind(docs, "SecretStore")
    es = h.one(docs, "ExternalSecret", "rel-nl2api")
    assert es["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "vault"}
    assert es["spec"]["target"]["name"] == "nl2api-app"
    api = deployments(h, docs)[API]
    refs = container(api, "api")["envFrom"]
    assert {"secretRef": {"name": "nl2api-app"}} in refs


def test_existing_secret(chart, h):
    docs = chart.render("staging")
    assert not h.by_kind(docs, "Secret") and not h.by_kind(docs, "ExternalSecret")
    api = deployments(h, docs)[API]
    assert {"secretRef": {"name": "nl2api-credentials"}} in container(api, "api")["envFrom"]


def test_service_account(chart, h):
    docs = chart.render("dev", {"serviceAccount": {
        "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::000000000000:role/app"},
        "azureWorkloadIdentity": True}})
    sa = h.one(docs, "ServiceAccount", "rel-nl2api")
    assert sa["automountServiceAccountToken"] is False
    for name in (API, WORKER):
        pod = deployments(h, docs)[name]["spec"]["template"]
        assert pod["spec"]["serviceAccountName"] == "rel-nl2api"
        assert pod["spec"]["automountServiceAccountToken"] is False
        assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    docs = chart.render("dev", {"serviceAccount": {"create": False, "name": "shared"}})
    assert not h.by_kind(docs, "ServiceAccount")
    assert deployments(h, docs)[API]["spec"]["template"]["spec"]["serviceAccountName"] == "shared"


def test_image_digest_and_overrides(chart, h):
    digest = "sha256:" + "a" * 64
    docs = chart.render("dev", {"image": {"registry": "registry.example.com/nl2api", "tag": "1.2.3-abc1234"},
                                "worker": {"image": {"digest": digest}},
                                "imagePullSecrets": [{"name": "regcred"}]})
    api = deployments(h, docs)[API]
    worker = deployments(h, docs)[WORKER]
    assert container(api, "api")["image"] == "registry.example.com/nl2api/nl2api-api:1.2.3-abc1234"
    assert container(worker, "worker")["image"] == f"registry.example.com/nl2api/nl2api-worker@{digest}"
    assert api["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    assert api["metadata"]["labels"]["app.kubernetes.io/version"] == "1.2.3-abc1234"
    # Per-component values win over the shared defaults; the tag defaults to the appVersion.
    docs = chart.render("local", {"api": {"image": {"registry": "other.example.com", "repository": "x/api",
                                                    "pullPolicy": "Always"}}})
    api = container(deployments(h, docs)[API], "api")
    assert (api["image"], api["imagePullPolicy"]) == ("other.example.com/x/api:1.0.0", "Always")
    assert container(deployments(h, docs)[WORKER], "worker")["image"] == "nl2api-worker:1.0.0"


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
    docs = chart.render("prod", {"externalRedis": {"caConfigMap": {"name": "redis-ca", "key": "bundle.pem"}}})
    config = h.one(docs, "ConfigMap", "rel-nl2api-config")["data"]
    assert config["DATABASE_SSLROOTCERT"] == "/etc/nl2api/tls/database/ca.crt"
    assert config["REDIS_TLS_CA_FILE"] == "/etc/nl2api/tls/redis/ca.crt"
    for name, cname in ((API, "api"), (WORKER, "worker")):
        deploy = deployments(h, docs)[name]
        volumes = {v["name"]: v for v in deploy["spec"]["template"]["spec"]["volumes"]}
        assert volumes["database-ca"]["configMap"] == {
            "name": "nl2api-database-ca", "items": [{"key": "ca.crt", "path": "ca.crt"}]}
        assert volumes["redis-ca"]["configMap"]["items"] == [{"key": "bundle.pem", "path": "ca.crt"}]
        mounts = {m["mountPath"]: m for m in container(deploy, cname)["volumeMounts"]}
        assert mounts["/etc/nl2api/tls/database"]["readOnly"] is True
    docs = chart.render("prod", {"externalDatabase": {"caConfigMap": {"name": ""}, "sslRootCert": "system"}})
    assert h.one(docs, "ConfigMap", "rel-nl2api-config")["data"]["DATABASE_SSLROOTCERT"] == "system"
    assert "database-ca" not in str(deployments(h, docs)[API]["spec"]["template"]["spec"]["volumes"])
    # In-cluster stores: no TLS settings at all.
    config = h.one(chart.render("dev"), "ConfigMap", "rel-nl2api-config")["data"]
    assert "DATABASE_SSLROOTCERT" not in config and "REDIS_TLS_CA_FILE" not in config
    notes = chart.notes("prod", {"externalDatabase": {"caConfigMap": {"name": ""}}})
    assert "libpq looks for ~/.postgresql/root.crt" in notes


def test_worker_probes_and_drain_budget(chart, h):
    docs = chart.render("prod")
    c = container(deployments(h, docs)[WORKER], "worker")
    assert "NL2API_WORKER_HEARTBEAT_FILE" in " ".join(c["livenessProbe"]["exec"]["command"])
    # Readiness: the same heartbeat check (rollouts and the PDB wait for a worker whose loop turns).
    assert c["readinessProbe"]["exec"] == c["livenessProbe"]["exec"]
    ready, live = c["readinessProbe"], c["livenessProbe"]
    # A stalled loop leaves the ready set before liveness restarts it.
    assert ready["periodSeconds"] * ready["failureThreshold"] < live["periodSeconds"] * live["failureThreshold"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["NL2API_WORKER_DRAIN_SECONDS"] == "25"  # 300 - 270 - 5
    docs = chart.render("dev", {"worker": {"livenessProbe": None, "readinessProbe": None, "drain": {"enabled": False},
                                           "terminationGracePeriodSeconds": 120}})
    c = container(deployments(h, docs)[WORKER], "worker")
    assert "livenessProbe" not in c and "readinessProbe" not in c and "lifecycle" not in c
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["NL2API_WORKER_DRAIN_SECONDS"] == "115"
    assert "WORKER_DRAIN_FILE" not in env


def test_network_policy_disabled(chart, h):
    docs = chart.render("dev", {"networkPolicy": {"enabled": False}})
    assert not h.by_kind(docs, "NetworkPolicy")


def test_api_ingress_sources(chart, h):
    docs = chart.render("dev", {"networkPolicy": {"ingressController": {
        "namespaces": ["ingress-nginx", "traefik"], "cidrs": ["10.0.0.0/24"]}}})
    rules = h.one(docs, "NetworkPolicy", API)["spec"]["ingress"]
    peers = rules[0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}}} in peers
    assert {"ipBlock": {"cidr": "10.0.0.0/24"}} in peers
    assert rules[1]["from"] == [{"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "nl2api", "app.kubernetes.io/instance": h.RELEASE}}}]
    assert rules[2]["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]

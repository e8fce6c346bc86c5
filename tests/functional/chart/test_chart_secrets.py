"""Chart-managed Secret and the checksum annotations that roll the pods.

Password persistence across upgrades relies on `lookup` of the existing Secret, which
`helm template` cannot exercise (no cluster: lookup returns nothing). These tests pin what can be
checked offline: explicit values are carried verbatim, empty passwords are generated, and the
template keeps the documented precedence (explicit value > existing Secret > generated).
"""

from __future__ import annotations

import re

API = "rel-nl2api-api"
WORKER = "batch-nl2api-worker"
#: The raw credentials the chart-created Secret carries for the in-cluster data stores.
RAW_KEYS = ("postgres-username", "postgres-password", "redis-username", "redis-password")
URL_KEYS = ("postgres-url", "postgres-migrations-url", "postgres-admin-url", "redis-url")


def pod_annotations(h, docs, name):
    return h.one(docs, "Deployment", name)["spec"]["template"]["metadata"]["annotations"]


def annotations_of(chart, h, env, values=None):
    """checksum annotations of the API (platform release) and of the worker (batch release)."""
    return {API: pod_annotations(h, chart.render(env, values), API),
            WORKER: pod_annotations(h, chart.render_batch(env, values), WORKER)}


def test_explicit_values_are_carried(chart, h):
    docs = chart.render("dev", {"secrets": {
        "values": {"postgres-username": "app", "postgres-password": "s3cr3t-db", "redis-username": "worker",
                   "redis-password": "s3cr3t-redis"},
        "extra": {"openai-api-key": "sk-test", "feature-flag": True}}})
    secret = h.one(docs, "Secret", "rel-nl2api")
    assert secret["type"] == "Opaque"
    data = h.decode_secret(secret)
    assert {k: v for k, v in data.items() if k not in URL_KEYS} == {
        "postgres-username": "app", "postgres-password": "s3cr3t-db", "redis-username": "worker",
        "redis-password": "s3cr3t-redis", "openai-api-key": "sk-test", "feature-flag": "true"}
    # The URLs are built from the same credentials (in-cluster: one login for the app, migrations and admin).
    for key in ("postgres-url", "postgres-migrations-url", "postgres-admin-url"):
        assert data[key] == "postgresql://app:s3cr3t-db@rel-nl2api-postgresql:5432/nl2api?sslmode=disable", key
    assert data["redis-url"] == "redis://worker:s3cr3t-redis@rel-nl2api-redis:6379/0"
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    api = h.one(docs, "Deployment", API)["spec"]["template"]["spec"]["containers"][0]
    worker = h.one(chart.render_batch("dev"), "Deployment", WORKER)["spec"]["template"]["spec"]["containers"][0]
    for c in (api, worker):
        # Single keys through secretKeyRef, never the whole Secret (the raw credentials are not the pods' business).
        assert c["envFrom"] == [{"configMapRef": {"name": "rel-nl2api-config"}}]
        refs = {e["valueFrom"]["secretKeyRef"]["key"] for e in c["env"] if "secretKeyRef" in e.get("valueFrom", {})}
        assert refs and not refs & set(RAW_KEYS), refs


def test_empty_passwords_are_generated(chart, h):
    data = h.decode_secret(h.one(chart.render("dev"), "Secret", "rel-nl2api"))
    assert data["postgres-username"] == "nl2api" and data["redis-username"] == "nl2api"
    for key in ("postgres-password", "redis-password"):
        assert re.fullmatch(r"[A-Za-z0-9]{32}", data[key]), key
    assert data["postgres-password"] != data["redis-password"]
    # The generated passwords are those in the URLs.
    assert f":{data['postgres-password']}@" in data["postgres-url"]
    assert f":{data['redis-password']}@" in data["redis-url"]


def test_keep_annotation_optional(chart, h):
    secret = h.one(chart.render("dev", {"secrets": {"keepOnUninstall": False}}), "Secret", "rel-nl2api")
    assert "annotations" not in secret["metadata"]


def test_lookup_precedence_is_documented_in_template(h):
    """Upgrade safety: the template looks the Secret up and reuses its data before generating."""
    text = (h.CHART_DIR / "templates" / "secret.yaml").read_text()
    assert 'lookup "v1" "Secret" .Release.Namespace $name' in text
    explicit, existing, generated = (text.index("{{- if $value }}"), text.index("hasKey $existingData $key"),
                                     text.index("randAlphaNum 32"))
    assert explicit < existing < generated


def test_data_stores_use_the_secret(chart, h):
    docs = chart.render("dev")
    pg = h.one(docs, "StatefulSet", "rel-nl2api-postgresql")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in pg["env"]}
    assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "rel-nl2api", "key": "postgres-password"}
    assert env["POSTGRES_USER"]["valueFrom"]["secretKeyRef"] == {"name": "rel-nl2api", "key": "postgres-username"}
    redis = h.one(docs, "StatefulSet", "rel-nl2api-redis")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in redis["env"]}
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "rel-nl2api", "key": "redis-password"}
    assert env["REDIS_USERNAME"]["valueFrom"]["secretKeyRef"] == {"name": "rel-nl2api", "key": "redis-username"}
    script = redis["command"][-1]
    assert 'user $REDIS_USERNAME on >$REDIS_PASSWORD' in script
    assert "$REDIS_PASSWORD" not in " ".join(redis["command"][:-1])


def test_checksum_config_changes_with_config(chart, h):
    base = annotations_of(chart, h, "dev")
    for changed in (annotations_of(chart, h, "dev", {"environment": "local"}),
                    annotations_of(chart, h, "dev", {"otel": {"endpoint": "http://collector.obs:4317"}}),
                    annotations_of(chart, h, "dev", {"config": {"extraEnv": {"NL2API_LLM_MODEL": "m"}}})):
        for name in (API, WORKER):
            assert base[name]["checksum/config"] != changed[name]["checksum/config"], name
            assert base[name]["checksum/secret"] == changed[name]["checksum/secret"], name


def test_checksum_secret_changes_with_secret_inputs(chart, h):
    base = annotations_of(chart, h, "staging")
    rotated = annotations_of(chart, h, "staging", {"secrets": {"revision": "2025-01-31T12:00:00Z"}})
    renamed = annotations_of(chart, h, "staging", {"secrets": {"existingSecret": "nl2api-credentials-v2"}})
    for other in (rotated, renamed):
        for name in (API, WORKER):
            assert base[name]["checksum/secret"] != other[name]["checksum/secret"], name
            assert base[name]["checksum/config"] == other[name]["checksum/config"], name


def test_checksums_stable_for_unrelated_changes(chart, h):
    base = chart.render("dev")
    scaled = chart.render("dev", {"api": {"replicaCount": 4}})
    assert pod_annotations(h, base, API)["checksum/config"] == pod_annotations(h, scaled, API)["checksum/config"]
    assert pod_annotations(h, base, API)["checksum/secret"] == pod_annotations(h, scaled, API)["checksum/secret"]
    # Generated passwords differ between two `helm template` runs, but the checksum hashes the
    # inputs, so it does not roll the pods on every upgrade.
    again = chart.render("dev", {"api": {"replicaCount": 2}, "worker": {"replicaCount": 1}})
    assert pod_annotations(h, base, API)["checksum/secret"] == pod_annotations(h, again, API)["checksum/secret"]
    batch = chart.render_batch("dev")
    batch_again = chart.render_batch("dev", {"worker": {"replicaCount": 3}})
    assert pod_annotations(h, batch, WORKER)["checksum/secret"] == pod_annotations(h, batch_again, WORKER)["checksum/secret"]

"""Chart-managed Secret and the checksum annotations that roll the pods.

Password persistence across upgrades relies on `lookup` of the existing Secret, which
`helm template` cannot exercise (no cluster: lookup returns nothing). These tests pin what can be
checked offline: explicit values are carried verbatim, empty passwords are generated, and the
template keeps the documented precedence (explicit value > existing Secret > generated).
"""

from __future__ import annotations

import re

API = "rel-nl2api-api"
WORKER = "rel-nl2api-worker"


def pod_annotations(h, docs, name):
    return h.one(docs, "Deployment", name)["spec"]["template"]["metadata"]["annotations"]


def test_explicit_values_are_carried(chart, h):
    docs = chart.render("dev", {"secrets": {
        "values": {"DATABASE_USER": "app", "DATABASE_PASSWORD": "s3cr3t-db", "REDIS_USERNAME": "worker",
                   "REDIS_PASSWORD": "s3cr3t-redis"},
        "extra": {"OPENAI_API_KEY": "sk-test", "FEATURE_FLAG": True}}})
    secret = h.one(docs, "Secret", "rel-nl2api")
    assert secret["type"] == "Opaque"
    assert h.decode_secret(secret) == {
        "DATABASE_USER": "app", "DATABASE_PASSWORD": "s3cr3t-db", "REDIS_USERNAME": "worker",
        "REDIS_PASSWORD": "s3cr3t-redis", "OPENAI_API_KEY": "sk-test", "FEATURE_FLAG": "true"}
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    for name in (API, WORKER):
        refs = h.one(docs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]["envFrom"]
        assert {"secretRef": {"name": "rel-nl2api"}} in refs
        assert {"configMapRef": {"name": "rel-nl2api-config"}} in refs


def test_empty_passwords_are_generated(chart, h):
    data = h.decode_secret(h.one(chart.render("dev"), "Secret", "rel-nl2api"))
    assert data["DATABASE_USER"] == "nl2api" and data["REDIS_USERNAME"] == "default"
    for key in ("DATABASE_PASSWORD", "REDIS_PASSWORD"):
        assert re.fullmatch(r"[A-Za-z0-9]{32}", data[key]), key
    assert data["DATABASE_PASSWORD"] != data["REDIS_PASSWORD"]


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
    assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "rel-nl2api", "key": "DATABASE_PASSWORD"}
    assert env["POSTGRES_USER"]["valueFrom"]["secretKeyRef"] == {"name": "rel-nl2api", "key": "DATABASE_USER"}
    redis = h.one(docs, "StatefulSet", "rel-nl2api-redis")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in redis["env"]}
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "rel-nl2api", "key": "REDIS_PASSWORD"}
    script = redis["command"][-1]
    assert 'user $REDIS_USERNAME on >$REDIS_PASSWORD' in script
    assert "$REDIS_PASSWORD" not in " ".join(redis["command"][:-1])


def test_checksum_config_changes_with_config(chart, h):
    base = chart.render("dev")
    changed = chart.render("dev", {"config": {"logLevel": "WARNING"}})
    for name in (API, WORKER):
        assert pod_annotations(h, base, name)["checksum/config"] != pod_annotations(h, changed, name)["checksum/config"]
        assert pod_annotations(h, base, name)["checksum/secret"] == pod_annotations(h, changed, name)["checksum/secret"]
    extra = chart.render("dev", {"config": {"extraEnv": {"FEATURE_X": "on"}}})
    assert pod_annotations(h, base, API)["checksum/config"] != pod_annotations(h, extra, API)["checksum/config"]


def test_checksum_secret_changes_with_secret_inputs(chart, h):
    base = chart.render("staging")
    rotated = chart.render("staging", {"secrets": {"revision": "2025-01-31T12:00:00Z"}})
    renamed = chart.render("staging", {"secrets": {"existingSecret": "nl2api-credentials-v2"}})
    for other in (rotated, renamed):
        for name in (API, WORKER):
            assert pod_annotations(h, base, name)["checksum/secret"] != pod_annotations(h, other, name)["checksum/secret"]
            assert pod_annotations(h, base, name)["checksum/config"] == pod_annotations(h, other, name)["checksum/config"]


def test_checksums_stable_for_unrelated_changes(chart, h):
    base = chart.render("dev")
    scaled = chart.render("dev", {"api": {"replicaCount": 4}})
    assert pod_annotations(h, base, API)["checksum/config"] == pod_annotations(h, scaled, API)["checksum/config"]
    assert pod_annotations(h, base, API)["checksum/secret"] == pod_annotations(h, scaled, API)["checksum/secret"]
    # Generated passwords differ between two `helm template` runs, but the checksum hashes the
    # inputs, so it does not roll the pods on every upgrade.
    again = chart.render("dev", {"api": {"replicaCount": 2}, "worker": {"replicaCount": 1}})
    assert pod_annotations(h, base, WORKER)["checksum/secret"] == pod_annotations(h, again, WORKER)["checksum/secret"]

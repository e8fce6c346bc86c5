"""Bad values are refused by values.schema.json (single values) or by a template `fail`
(cross-field rules), with a message naming the offending value."""

from __future__ import annotations

import pytest

NO_EXTERNAL_SECRET = {"externalSecret": {"enabled": False, "secretStore": {"create": False}}}
BATCH_ID = "0b7e3c1e-1111-4222-8333-444455556666"
PRODUCER = {"label": "L", "tags": ["smoke"]}

CASES = [
    # id, environment file, overrides, expected fragments of the error message
    ("typo-top-level-key", "dev", {"replicaCount": 2},
     ["Additional property replicaCount is not allowed"]),
    ("typo-nested-key", "dev", {"api": {"replicaCout": 2}},
     ["api: Additional property replicaCout is not allowed"]),
    ("typo-deep-key", "prod", {"api": {"autoscaling": {"behaviour": {}}}},
     ["api.autoscaling: Additional property behaviour is not allowed"]),
    ("wrong-type", "dev", {"api": {"replicaCount": "two"}},
     ["api.replicaCount: Invalid type. Expected: integer, given: string"]),
    ("wrong-type-bool", "dev", {"ingress": {"enabled": "yes"}},
     ["ingress.enabled: Invalid type. Expected: boolean, given: string"]),
    ("negative-replicas", "dev", {"worker": {"replicaCount": -1}},
     ["worker.replicaCount: Must be greater than or equal to 0"]),
    ("unknown-environment", "dev", {"environment": "production"},
     ["environment: environment must be one of the following", '"prod"']),
    ("engine-both", "prod", {"worker": {"autoscaling": {"engine": "both"}}},
     ["worker.autoscaling.engine: worker.autoscaling.engine must be one of the following", '"keda", "hpa"']),
    ("worker-mode-unknown", "dev", {"worker": {"mode": "fast"}},
     ["worker.mode: worker.mode must be one of the following", '"simulated"', '"orchestrator"']),
    ("batch-id-not-a-uuid", "dev", {"worker": {"batchId": "batch-1"}, "batch": {"enabled": True, "producer": PRODUCER}},
     ["worker.batchId: Does not match pattern"]),
    ("api-min-gt-max", "dev", {"api": {"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 3}}},
     ["api.autoscaling.minReplicas=5 is greater than api.autoscaling.maxReplicas=3"]),
    ("worker-min-gt-max", "prod", {"worker": {"autoscaling": {"minReplicas": 40, "maxReplicas": 30}}},
     ["worker.autoscaling.minReplicas=40 is greater than worker.autoscaling.maxReplicas=30"]),
    ("pdb-min-available-ge-replicas", "dev", {"api": {"podDisruptionBudget": {"enabled": True, "minAvailable": 1}}},
     ["api.podDisruptionBudget.minAvailable=1 would block every voluntary eviction", "api.replicaCount=1"]),
    ("pdb-min-available-ge-hpa-min", "prod", {"api": {"podDisruptionBudget": {"minAvailable": 3}}},
     ["api.podDisruptionBudget.minAvailable=3 would block every voluntary eviction",
      "api.autoscaling.minReplicas=3"]),
    ("pdb-min-available-ge-keda-min", "prod", {"worker": {"podDisruptionBudget": {"minAvailable": 2}}},
     ["worker.podDisruptionBudget.minAvailable=2", "worker.autoscaling.minReplicas=2"]),
    ("pdb-max-unavailable-zero", "dev", {"worker": {"podDisruptionBudget": {"enabled": True, "maxUnavailable": 0}}},
     ["worker.podDisruptionBudget.maxUnavailable=0 would block every voluntary eviction"]),
    ("pdb-min-available-100-percent", "prod", {"api": {"podDisruptionBudget": {"minAvailable": "100%"}}},
     ["api.podDisruptionBudget.minAvailable=100% would block every voluntary eviction"]),
    ("in-cluster-postgres-in-prod", "prod", {"postgresql": {"enabled": True}},
     ["postgresql.enabled=true is refused for environment=prod"]),
    ("in-cluster-redis-in-staging", "staging", {"redis": {"enabled": True}},
     ["redis.enabled=true is refused for environment=staging"]),
    ("secrets-create-in-prod", "prod", {"secrets": {"create": True, **NO_EXTERNAL_SECRET}},
     ["secrets.create=true is refused for environment=prod", "secrets.allowCreateOutsideDev"]),
    ("latest-tag-in-prod", "prod", {"image": {"tag": "latest"}},
     ['image.tag/api.image.tag="latest" is refused for environment=prod']),
    ("latest-worker-tag-in-staging", "staging", {"worker": {"image": {"tag": "latest"}}},
     ['image.tag/worker.image.tag="latest" is refused for environment=staging']),
    ("latest-migrations-tag-in-prod", "prod", {"migrations": {"image": {"tag": "latest"}}},
     ['image.tag/migrations.image.tag="latest" is refused for environment=prod']),
    ("latest-collector-tag-in-prod", "prod", {"otelCollector": {"image": {"tag": "latest"}}},
     ['otelCollector.image.tag="latest" is refused for environment=prod']),
    ("ingress-tls-without-secret-name", "dev", {"ingress": {"tls": [{"hosts": ["a.example.com"]}]}},
     ["ingress.tls.0: secretName is required"]),
    ("bad-cpu-quantity", "dev", {"api": {"resources": {"limits": {"cpu": "lots"}}}},
     ["api.resources.limits.cpu"]),
    ("bad-scrape-interval", "prod", {"metrics": {"serviceMonitor": {"interval": "30 seconds"}}},
     ["metrics.serviceMonitor.interval: Does not match pattern"]),
    ("bad-refresh-interval", "prod", {"secrets": {"externalSecret": {"refreshInterval": "hourly"}}},
     ["secrets.externalSecret.refreshInterval: Does not match pattern"]),
    ("bad-digest", "prod", {"api": {"image": {"digest": "sha256:1234"}}},
     ["api.image.digest: Does not match pattern"]),
    ("bad-pull-policy", "dev", {"image": {"pullPolicy": "Sometimes"}},
     ["image.pullPolicy: image.pullPolicy must be one of the following"]),
    ("empty-app-repository", "dev", {"worker": {"image": {"repository": ""}}},
     ["worker.image.repository: String length must be greater than or equal to 1"]),
    ("bad-cidr", "prod", {"networkPolicy": {"egress": {"database": {"cidrs": ["10.0.0.0"]}}}},
     ["networkPolicy.egress.database.cidrs.0: Does not match pattern"]),
    ("bad-sslmode", "prod", {"externalDatabase": {"sslMode": "on"}},
     ["externalDatabase.sslMode: externalDatabase.sslMode must be one of the following"]),
    ("weak-sslmode-in-prod", "prod", {"externalDatabase": {"sslMode": "prefer"}},
     ["externalDatabase.sslMode=prefer is refused for environment=prod"]),
    ("non-root-uid-zero", "dev", {"api": {"podSecurityContext": {"runAsUser": 0}}},
     ["api.podSecurityContext.runAsUser: Must be greater than or equal to 1"]),
    ("contradictory-secret-sources", "dev", {"secrets": {"existingSecret": "mine"}},
     ["contradictory secret sources: secrets.create=true, secrets.existingSecret=mine"]),
    ("no-secret-source", "staging", {"secrets": {"existingSecret": ""}},
     ["no secret source"]),
    ("external-secret-without-data", "prod", {"secrets": {"externalSecret": {"data": []}}},
     ["secrets.externalSecret.enabled=true needs secrets.externalSecret.data or secrets.externalSecret.dataFrom"]),
    ("secret-store-without-region", "prod",
     {"secrets": {"externalSecret": {"secretStore": {"aws": {"region": ""}}}}},
     ["secrets.externalSecret.secretStore.aws.region is required"]),
    # Workers run per batch, in a release of their own (playbooks/run_batch.yml).
    ("batch-id-outside-a-batch-release", "dev", {"worker": {"batchId": BATCH_ID}},
     [f"worker.batchId={BATCH_ID} needs batch.enabled=true"]),
    ("batch-without-label", "dev", {"batch": {"enabled": True, "producer": {"tags": ["smoke"]}}},
     ["batch.producer.label is empty"]),
    ("batch-without-tag", "dev", {"batch": {"enabled": True, "producer": {"label": "L"}}},
     ["batch.producer.tags is empty: the producer selects test cases by tag and refuses to run without one"]),
    ("batch-is-its-own-platform", "dev", {"batch": {"enabled": True, "platformRelease": "rel-nl2api",
                                                    "producer": PRODUCER}},
     ["batch.platformRelease=rel-nl2api is this release itself"]),
    ("scale-to-zero-with-hpa", "dev",
     {"worker": {"autoscaling": {"enabled": True, "engine": "hpa", "minReplicas": 0}}},
     ["worker.autoscaling.minReplicas=0 (scale to zero) requires worker.autoscaling.engine=keda"]),
    ("api-pool-min-gt-max", "dev", {"api": {"postgresPool": {"min": 5, "max": 2}}},
     ["api.postgresPool.min=5 is greater than api.postgresPool.max=2"]),
    ("worker-pool-min-gt-max", "dev", {"worker": {"postgresPool": {"min": 5, "max": 2}}},
     ["worker.postgresPool.min=5 is greater than worker.postgresPool.max=2"]),
    ("grace-not-above-prestop", "dev", {"api": {"terminationGracePeriodSeconds": 10, "preStopSleepSeconds": 10}},
     ["api.terminationGracePeriodSeconds=10 must be greater than api.preStopSleepSeconds=10"]),
    ("worker-grace-below-task-time", "dev", {"worker": {"terminationGracePeriodSeconds": 200}},
     ["worker.terminationGracePeriodSeconds=200 must be at least worker.shutdown.maxTaskSeconds=240 + 10"]),
    ("external-db-without-host", "dev", {"postgresql": {"enabled": False}},
     ["externalDatabase.host is required when postgresql.enabled=false"]),
    ("undefined-collector-exporter", "dev", {"otelCollector": {"pipelines": {"traces": ["otlp/missing"]}}},
     ['otelCollector.pipelines.traces uses exporter "otlp/missing"']),
    ("service-monitor-without-metrics", "dev", {"metrics": {"enabled": False, "serviceMonitor": {"enabled": True}}},
     ["metrics.serviceMonitor.enabled=true contradicts metrics.enabled=false"]),
    ("surge-and-unavailable-zero", "dev", {"api": {"strategy": {"maxSurge": 0, "maxUnavailable": 0}}},
     ["api.strategy.maxSurge and api.strategy.maxUnavailable cannot both be 0"]),
]


@pytest.mark.parametrize("env,overrides,fragments", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_values_are_rejected(chart, env, overrides, fragments):
    error = chart.render_error(env, overrides)
    for fragment in fragments:
        assert fragment in error, f"{fragment!r} not in:\n{error}"


@pytest.mark.parametrize("env,overrides", [c[1:3] for c in CASES[:8]], ids=[c[0] for c in CASES[:8]])
def test_lint_rejects_schema_violations(chart, env, overrides):
    """`helm lint --strict` fails on the same typos and type errors."""
    with pytest.raises(AssertionError, match="chart\\(s\\) failed|values don't meet"):
        chart.lint(env, overrides)


def test_override_allows_secrets_create_outside_dev(chart, h):
    docs = chart.render("prod", {"secrets": {"create": True, "allowCreateOutsideDev": True, **NO_EXTERNAL_SECRET}})
    assert h.one(docs, "Secret", "rel-nl2api")

{{/*
Cross-field validation. values.schema.json checks types, enums, patterns and unknown keys;
the rules here need several values at once. Every message names the offending value.
Included once from configmap.yaml (always rendered).
*/}}
{{- define "nl2api.validate" -}}
{{- $v := .Values -}}
{{- $env := $v.environment -}}
{{- $shared := has $env (list "staging" "prod") -}}

{{/* ---------------- data stores ---------------- */}}
{{- if and $shared $v.postgresql.enabled -}}
{{- fail (printf "postgresql.enabled=true is refused for environment=%s: in-cluster PostgreSQL is for local/dev only; set postgresql.enabled=false and configure externalDatabase" $env) -}}
{{- end -}}
{{- if and $shared $v.redis.enabled -}}
{{- fail (printf "redis.enabled=true is refused for environment=%s: in-cluster Redis is for local/dev only; set redis.enabled=false and configure externalRedis" $env) -}}
{{- end -}}
{{- if and (not $v.postgresql.enabled) (not $v.externalDatabase.host) -}}
{{- fail "externalDatabase.host is required when postgresql.enabled=false" -}}
{{- end -}}
{{- if and (not $v.redis.enabled) (not $v.externalRedis.host) -}}
{{- fail "externalRedis.host is required when redis.enabled=false" -}}
{{- end -}}
{{- if and $shared (not $v.postgresql.enabled) (has $v.externalDatabase.sslMode (list "disable" "allow" "prefer")) -}}
{{- fail (printf "externalDatabase.sslMode=%s is refused for environment=%s: use require, verify-ca or verify-full" $v.externalDatabase.sslMode $env) -}}
{{- end -}}

{{/* ---------------- secrets ---------------- */}}
{{- $sources := list -}}
{{- if $v.secrets.create }}{{ $sources = append $sources "secrets.create=true" }}{{ end -}}
{{- if $v.secrets.existingSecret }}{{ $sources = append $sources (printf "secrets.existingSecret=%s" $v.secrets.existingSecret) }}{{ end -}}
{{- if $v.secrets.externalSecret.enabled }}{{ $sources = append $sources "secrets.externalSecret.enabled=true" }}{{ end -}}
{{- if gt (len $sources) 1 -}}
{{- fail (printf "contradictory secret sources: %s; choose exactly one of secrets.create, secrets.existingSecret, secrets.externalSecret.enabled" (join ", " $sources)) -}}
{{- end -}}
{{- if eq (len $sources) 0 -}}
{{- fail "no secret source: set one of secrets.create=true (local/dev), secrets.existingSecret=<name> or secrets.externalSecret.enabled=true" -}}
{{- end -}}
{{- if and $shared $v.secrets.create (not $v.secrets.allowCreateOutsideDev) -}}
{{- fail (printf "secrets.create=true is refused for environment=%s: use secrets.existingSecret or secrets.externalSecret (or set secrets.allowCreateOutsideDev=true to override)" $env) -}}
{{- end -}}
{{- $es := $v.secrets.externalSecret -}}
{{- if $es.enabled -}}
{{- if and (not $es.data) (not $es.dataFrom) -}}
{{- fail "secrets.externalSecret.enabled=true needs secrets.externalSecret.data or secrets.externalSecret.dataFrom" -}}
{{- end -}}
{{- if and (not $es.secretStoreRef.name) (not $es.secretStore.create) -}}
{{- fail "secrets.externalSecret.secretStoreRef.name is empty and secrets.externalSecret.secretStore.create=false: reference an existing (Cluster)SecretStore or let the chart create one" -}}
{{- end -}}
{{- if and $es.secretStoreRef.name $es.secretStore.create (eq $es.secretStoreRef.kind "SecretStore") (ne $es.secretStoreRef.name (include "nl2api.fullname" .)) -}}
{{- fail (printf "secrets.externalSecret.secretStoreRef.name=%s contradicts secrets.externalSecret.secretStore.create=true (the chart's store is named %s): leave the name empty or set create=false" $es.secretStoreRef.name (include "nl2api.fullname" .)) -}}
{{- end -}}
{{- end -}}
{{- if $es.secretStore.create -}}
{{- if not $es.enabled -}}
{{- fail "secrets.externalSecret.secretStore.create=true requires secrets.externalSecret.enabled=true" -}}
{{- end -}}
{{- if and (eq $es.secretStore.provider "aws") (not $es.secretStore.aws.region) -}}
{{- fail "secrets.externalSecret.secretStore.aws.region is required for provider aws" -}}
{{- end -}}
{{- if and (eq $es.secretStore.provider "azure") (not $es.secretStore.azure.vaultUrl) -}}
{{- fail "secrets.externalSecret.secretStore.azure.vaultUrl is required for provider azure" -}}
{{- end -}}
{{- if and (not $es.secretStore.serviceAccount.create) (not $es.secretStore.serviceAccount.name) -}}
{{- fail "secrets.externalSecret.secretStore.serviceAccount.name is required when secrets.externalSecret.secretStore.serviceAccount.create=false" -}}
{{- end -}}
{{- end -}}

{{/* ---------------- images ---------------- */}}
{{- if $shared -}}
{{- $images := dict "image.tag/api.image.tag" (include "nl2api.appImage" (list . "api") | fromYaml) "image.tag/worker.image.tag" (include "nl2api.appImage" (list . "worker") | fromYaml) "image.tag/migrations.image.tag" (include "nl2api.appImage" (list . "migrations") | fromYaml) "image.tag/entityService.image.tag" (include "nl2api.appImage" (list . "entityService") | fromYaml) -}}
{{- if $v.otelCollector.enabled }}{{ $_ := set $images "otelCollector.image.tag" $v.otelCollector.image }}{{ end -}}
{{- range $path, $img := $images -}}
{{- if and (not $img.digest) (or (eq (toString $img.tag) "latest") (eq (toString $img.tag) "")) -}}
{{- fail (printf "%s=%q is refused for environment=%s: pin a version tag (or set a digest)" $path (toString $img.tag) $env) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* ---------------- HTTP workloads (api, entityService) ---------------- */}}
{{- range $component, $key := include "nl2api.httpComponents" . | fromYaml -}}
{{- $api := index $v $key -}}
{{- if le (int $api.terminationGracePeriodSeconds) (int $api.preStopSleepSeconds) -}}
{{- fail (printf "%s.terminationGracePeriodSeconds=%v must be greater than %s.preStopSleepSeconds=%v (the preStop delay counts against the grace period)" $key $api.terminationGracePeriodSeconds $key $api.preStopSleepSeconds) -}}
{{- end -}}
{{- if and (eq (toString $api.strategy.maxSurge) "0") (eq (toString $api.strategy.maxUnavailable) "0") -}}
{{- fail (printf "%s.strategy.maxSurge and %s.strategy.maxUnavailable cannot both be 0" $key $key) -}}
{{- end -}}
{{- if gt (int $api.postgresPool.min) (int $api.postgresPool.max) -}}
{{- fail (printf "%s.postgresPool.min=%v is greater than %s.postgresPool.max=%v" $key $api.postgresPool.min $key $api.postgresPool.max) -}}
{{- end -}}
{{- $apiReplicas := int $api.replicaCount -}}
{{- $apiReplicasPath := printf "%s.replicaCount" $key -}}
{{- if $api.autoscaling.enabled -}}
{{- if gt (int $api.autoscaling.minReplicas) (int $api.autoscaling.maxReplicas) -}}
{{- fail (printf "%s.autoscaling.minReplicas=%v is greater than %s.autoscaling.maxReplicas=%v" $key $api.autoscaling.minReplicas $key $api.autoscaling.maxReplicas) -}}
{{- end -}}
{{- if and (eq (int $api.autoscaling.targetCPUUtilizationPercentage) 0) (eq (int $api.autoscaling.targetMemoryUtilizationPercentage) 0) -}}
{{- fail (printf "%s.autoscaling: set targetCPUUtilizationPercentage and/or targetMemoryUtilizationPercentage" $key) -}}
{{- end -}}
{{- $apiReplicas = int $api.autoscaling.minReplicas -}}
{{- $apiReplicasPath = printf "%s.autoscaling.minReplicas" $key -}}
{{- end -}}
{{- include "nl2api.validatePDB" (dict "path" (printf "%s.podDisruptionBudget" $key) "pdb" $api.podDisruptionBudget "replicas" $apiReplicas "replicasPath" $apiReplicasPath) -}}
{{- end -}}

{{/* ---------------- batch and worker ---------------- */}}
{{- $w := $v.worker -}}
{{- $wa := $w.autoscaling -}}
{{- $b := $v.batch -}}
{{- if and $w.batchId (not $b.enabled) -}}
{{- fail (printf "worker.batchId=%s needs batch.enabled=true: workers run in a batch release (playbooks/run_batch.yml), never in the platform release" $w.batchId) -}}
{{- end -}}
{{- if $b.enabled -}}
{{- if not $b.producer.label -}}
{{- fail "batch.producer.label is empty: the producer needs a label for the batch" -}}
{{- end -}}
{{- if not $b.producer.tags -}}
{{- fail "batch.producer.tags is empty: the producer selects test cases by tag and refuses to run without one" -}}
{{- end -}}
{{- if eq $b.platformRelease (include "nl2api.fullname" .) -}}
{{- fail (printf "batch.platformRelease=%s is this release itself: install the batch under a release name of its own" $b.platformRelease) -}}
{{- end -}}
{{- end -}}
{{- if and (eq (toString $w.strategy.maxSurge) "0") (eq (toString $w.strategy.maxUnavailable) "0") -}}
{{- fail "worker.strategy.maxSurge and worker.strategy.maxUnavailable cannot both be 0" -}}
{{- end -}}
{{- if lt (int $w.terminationGracePeriodSeconds) (add (int $w.shutdown.maxTaskSeconds) 10) -}}
{{- fail (printf "worker.terminationGracePeriodSeconds=%v must be at least worker.shutdown.maxTaskSeconds=%v + 10: a task still running at the end of the grace period is killed and, since nothing reclaims it, never finished" $w.terminationGracePeriodSeconds $w.shutdown.maxTaskSeconds) -}}
{{- end -}}
{{- if gt (int $w.postgresPool.min) (int $w.postgresPool.max) -}}
{{- fail (printf "worker.postgresPool.min=%v is greater than worker.postgresPool.max=%v" $w.postgresPool.min $w.postgresPool.max) -}}
{{- end -}}
{{- $workerReplicas := int $w.replicaCount -}}
{{- $workerReplicasPath := "worker.replicaCount" -}}
{{- if $wa.enabled -}}
{{- if not (has $wa.engine (list "keda" "hpa")) -}}
{{- fail (printf "worker.autoscaling.engine=%s: must be keda or hpa (never both)" $wa.engine) -}}
{{- end -}}
{{- if gt (int $wa.minReplicas) (int $wa.maxReplicas) -}}
{{- fail (printf "worker.autoscaling.minReplicas=%v is greater than worker.autoscaling.maxReplicas=%v" $wa.minReplicas $wa.maxReplicas) -}}
{{- end -}}
{{- if and (eq $wa.engine "hpa") (lt (int $wa.minReplicas) 1) -}}
{{- fail "worker.autoscaling.minReplicas=0 (scale to zero) requires worker.autoscaling.engine=keda; an HPA needs minReplicas >= 1" -}}
{{- end -}}
{{- if and (eq $wa.engine "keda") (not (include "nl2api.worker.redisAddress" .)) -}}
{{- fail "worker.autoscaling.redis.address is empty and cannot be derived from the Redis settings" -}}
{{- end -}}
{{- $workerReplicas = int $wa.minReplicas -}}
{{- $workerReplicasPath = "worker.autoscaling.minReplicas" -}}
{{- end -}}
{{- include "nl2api.validatePDB" (dict "path" "worker.podDisruptionBudget" "pdb" $w.podDisruptionBudget "replicas" $workerReplicas "replicasPath" $workerReplicasPath) -}}

{{/* ---------------- ingress ---------------- */}}
{{- if $v.ingress.enabled -}}
{{- if not $v.ingress.hosts -}}
{{- fail "ingress.enabled=true needs at least one entry in ingress.hosts" -}}
{{- end -}}
{{- end -}}

{{/* ---------------- observability ---------------- */}}
{{- if and $v.metrics.serviceMonitor.enabled (not $v.metrics.enabled) -}}
{{- fail "metrics.serviceMonitor.enabled=true contradicts metrics.enabled=false" -}}
{{- end -}}
{{- if $v.otelCollector.enabled -}}
{{- range $pipeline, $exporters := $v.otelCollector.pipelines -}}
{{- range $exporters -}}
{{- if not (hasKey $v.otelCollector.exporters .) -}}
{{- fail (printf "otelCollector.pipelines.%s uses exporter %q, which is not defined in otelCollector.exporters" $pipeline .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- include "nl2api.validatePDB" (dict "path" "otelCollector.podDisruptionBudget" "pdb" $v.otelCollector.podDisruptionBudget "replicas" (int $v.otelCollector.replicaCount) "replicasPath" "otelCollector.replicaCount") -}}
{{- end -}}
{{- end -}}

{{/*
=====================================================================================
Names
=====================================================================================
*/}}

{{/* Chart name, overridable with nameOverride. */}}
{{- define "nl2api.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Fully qualified app name (max 63 chars, DNS-1123). If the release name contains the chart
name it is used as is.
*/}}
{{- define "nl2api.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of a component's objects: include "nl2api.componentName" (list $ "api") */}}
{{- define "nl2api.componentName" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "nl2api.fullname" $root) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* helm.sh/chart label value. */}}
{{- define "nl2api.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
=====================================================================================
Labels
=====================================================================================
*/}}

{{/* Selector labels of the whole release (no component). */}}
{{- define "nl2api.releaseSelectorLabels" -}}
app.kubernetes.io/name: {{ include "nl2api.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Selector labels of a component: include "nl2api.selectorLabels" (list $ "api") */}}
{{- define "nl2api.selectorLabels" -}}
{{- $root := index . 0 -}}
{{ include "nl2api.releaseSelectorLabels" $root }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* Selector labels of a component of the platform release (a batch release's Redis is its platform's). */}}
{{- define "nl2api.platformSelectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "nl2api.name" $root }}
app.kubernetes.io/instance: {{ include "nl2api.platformName" $root }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* All recommended labels of a component: include "nl2api.labels" (list $ "api") */}}
{{- define "nl2api.labels" -}}
{{- $root := index . 0 -}}
helm.sh/chart: {{ include "nl2api.chart" $root }}
{{ include "nl2api.selectorLabels" . }}
app.kubernetes.io/version: {{ include "nl2api.versionLabel" $root | quote }}
app.kubernetes.io/part-of: nl2api
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
nl2api.io/platform: {{ include "nl2api.platformName" $root }}
{{- with $root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* app.kubernetes.io/version: the app image tag (or AppVersion), label-safe. */}}
{{- define "nl2api.versionLabel" -}}
{{- $tag := (include "nl2api.appImage" (list . "api") | fromYaml).tag -}}
{{- regexReplaceAll "[^A-Za-z0-9_.-]" $tag "_" | trunc 63 | trimSuffix "-" | trimSuffix "_" | trimSuffix "." -}}
{{- end -}}

{{/*
=====================================================================================
Images
=====================================================================================
*/}}

{{/*
Render an image reference from a dict with registry/repository/tag/digest.
include "nl2api.imageRef" (dict "image" $img "default" "1.0.0")
The digest wins over the tag.
*/}}
{{- define "nl2api.imageRef" -}}
{{- $img := .image -}}
{{- $repo := $img.repository -}}
{{- if $img.registry -}}
{{- $repo = printf "%s/%s" (trimSuffix "/" $img.registry) $img.repository -}}
{{- end -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (toString (default .default $img.tag)) -}}
{{- end -}}
{{- end -}}

{{/*
Effective image of an app component (api | worker): its own registry/tag/pullPolicy, else the shared
`image` defaults; the tag defaults to .Chart.AppVersion. Returns YAML of a dict: registry,
repository, tag, digest, pullPolicy.
*/}}
{{- define "nl2api.appImage" -}}
{{- $root := index . 0 -}}
{{- $c := index $root.Values (index . 1) -}}
{{- $g := $root.Values.image -}}
{{- $o := $c.image -}}
registry: {{ default $g.registry $o.registry | quote }}
repository: {{ $o.repository | quote }}
tag: {{ default (default $root.Chart.AppVersion (toString $g.tag)) (toString $o.tag) | quote }}
digest: {{ $o.digest | quote }}
pullPolicy: {{ default $g.pullPolicy $o.pullPolicy | quote }}
{{- end -}}

{{/* Image reference of an app component: include "nl2api.appImageRef" (list $ "api") */}}
{{- define "nl2api.appImageRef" -}}
{{- $img := include "nl2api.appImage" . | fromYaml -}}
{{- include "nl2api.imageRef" (dict "image" $img "default" (index . 0).Chart.AppVersion) -}}
{{- end -}}

{{/*
=====================================================================================
Data stores, secrets, endpoints
=====================================================================================
*/}}

{{- define "nl2api.namespace" -}}
{{- .Release.Namespace -}}
{{- end -}}

{{/* Fully qualified DNS name of a chart Service: include "nl2api.serviceFQDN" (list $ "redis") */}}
{{- define "nl2api.serviceFQDN" -}}
{{- $root := index . 0 -}}
{{- printf "%s.%s.svc.%s" (include "nl2api.componentName" .) $root.Release.Namespace $root.Values.clusterDomain -}}
{{- end -}}

{{/*
Full name of the platform release: this release, or for a batch release (batch.enabled) the release whose data
stores, Secret, ConfigMap and collector the batch uses.
*/}}
{{- define "nl2api.platformName" -}}
{{- if .Values.batch.enabled -}}
{{- .Values.batch.platformRelease | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- include "nl2api.fullname" . -}}
{{- end -}}
{{- end -}}

{{/* Name of a platform component's objects (redis, postgresql, otel-collector, config): list $ "redis" */}}
{{- define "nl2api.platformComponentName" -}}
{{- printf "%s-%s" (include "nl2api.platformName" (index . 0)) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "nl2api.database.host" -}}
{{- if .Values.postgresql.enabled -}}
{{- include "nl2api.platformComponentName" (list . "postgresql") -}}
{{- else -}}
{{- .Values.externalDatabase.host -}}
{{- end -}}
{{- end -}}

{{- define "nl2api.database.port" -}}
{{- if .Values.postgresql.enabled -}}5432{{- else -}}{{ .Values.externalDatabase.port }}{{- end -}}
{{- end -}}

{{- define "nl2api.database.name" -}}
{{- if .Values.postgresql.enabled -}}{{ .Values.postgresql.database }}{{- else -}}{{ .Values.externalDatabase.name }}{{- end -}}
{{- end -}}

{{/* The in-cluster PostgreSQL serves no TLS: sslmode disable in-cluster. */}}
{{- define "nl2api.database.sslMode" -}}
{{- if .Values.postgresql.enabled -}}disable{{- else -}}{{ .Values.externalDatabase.sslMode }}{{- end -}}
{{- end -}}

{{/* sslrootcert URL parameter ("" = none): the mounted CA bundle, else externalDatabase.sslRootCert. */}}
{{- define "nl2api.database.sslRootCert" -}}
{{- if not .Values.postgresql.enabled -}}
{{- if .Values.externalDatabase.caConfigMap.name -}}/etc/nl2api/tls/database/ca.crt{{- else -}}{{ .Values.externalDatabase.sslRootCert }}{{- end -}}
{{- end -}}
{{- end -}}

{{/*
A PostgreSQL URL (asyncpg DSN) of this release's database. The user and password come already percent-encoded
(urlquery of a value, or an ESO template expression that encodes at sync time):
include "nl2api.postgresUrl" (dict "root" $ "user" $u "password" $p)
*/}}
{{- define "nl2api.postgresUrl" -}}
{{- $root := .root -}}
{{- $query := list (printf "sslmode=%s" (include "nl2api.database.sslMode" $root)) -}}
{{- with include "nl2api.database.sslRootCert" $root -}}
{{- $query = append $query (printf "sslrootcert=%s" .) -}}
{{- end -}}
{{- printf "postgresql://%s:%s@%s:%s/%s?%s" .user .password (include "nl2api.database.host" $root) (include "nl2api.database.port" $root) (include "nl2api.database.name" $root) (join "&" $query) -}}
{{- end -}}

{{/* A Redis URL of this release's Redis (redis-py), user and password percent-encoded as above. */}}
{{- define "nl2api.redisUrl" -}}
{{- $root := .root -}}
{{- $tls := eq (include "nl2api.redis.tls" $root) "true" -}}
{{- $url := printf "%s://%s:%s@%s:%s/%s" (ternary "rediss" "redis" $tls) .user .password (include "nl2api.redis.host" $root) (include "nl2api.redis.port" $root) (include "nl2api.redis.db" $root) -}}
{{- if $tls -}}
{{- $query := list "ssl_cert_reqs=required" -}}
{{- if and (not $root.Values.redis.enabled) $root.Values.externalRedis.caConfigMap.name -}}
{{- $query = append $query "ssl_ca_certs=/etc/nl2api/tls/redis/ca.crt" -}}
{{- end -}}
{{- $url = printf "%s?%s" $url (join "&" $query) -}}
{{- end -}}
{{- $url -}}
{{- end -}}

{{- define "nl2api.redis.host" -}}
{{- if .Values.redis.enabled -}}
{{- include "nl2api.platformComponentName" (list . "redis") -}}
{{- else -}}
{{- .Values.externalRedis.host -}}
{{- end -}}
{{- end -}}

{{- define "nl2api.redis.port" -}}
{{- if .Values.redis.enabled -}}6379{{- else -}}{{ .Values.externalRedis.port }}{{- end -}}
{{- end -}}

{{- define "nl2api.redis.tls" -}}
{{- if .Values.redis.enabled -}}false{{- else -}}{{ .Values.externalRedis.tls }}{{- end -}}
{{- end -}}

{{/*
Secret with REDIS_ADMIN_USERNAME/REDIS_ADMIN_PASSWORD of the in-cluster Redis's admin user: redis.adminSecret,
else <fullname>-redis-admin (created by the chart when secrets.create is true; optional in the pod otherwise).
*/}}
{{- define "nl2api.redis.adminSecretName" -}}
{{- default (include "nl2api.componentName" (list . "redis-admin")) .Values.redis.adminSecret -}}
{{- end -}}

{{- define "nl2api.redis.db" -}}
{{- if .Values.redis.enabled -}}0{{- else -}}{{ .Values.externalRedis.databaseIndex }}{{- end -}}
{{- end -}}

{{/*
Redis address for the KEDA scaler (the operator runs in another namespace, so the in-cluster
service name is fully qualified).
*/}}
{{- define "nl2api.worker.redisAddress" -}}
{{- $r := .Values.worker.autoscaling.redis -}}
{{- if $r.address -}}
{{- $r.address -}}
{{- else if .Values.redis.enabled -}}
{{- printf "%s.%s.svc.%s:6379" (include "nl2api.platformComponentName" (list . "redis")) .Release.Namespace .Values.clusterDomain -}}
{{- else -}}
{{- printf "%s:%v" .Values.externalRedis.host .Values.externalRedis.port -}}
{{- end -}}
{{- end -}}

{{- define "nl2api.worker.redisTLS" -}}
{{- $r := .Values.worker.autoscaling.redis -}}
{{- if or $r.enableTLS (and (not $r.address) (eq (include "nl2api.redis.tls" .) "true")) -}}true{{- else -}}false{{- end -}}
{{- end -}}

{{/* Name of the Secret the app reads (whichever source is configured; a batch uses its platform's). */}}
{{- define "nl2api.secretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{- .Values.secrets.existingSecret -}}
{{- else if and .Values.secrets.externalSecret.enabled .Values.secrets.externalSecret.targetName -}}
{{- .Values.secrets.externalSecret.targetName -}}
{{- else -}}
{{- include "nl2api.platformName" . -}}
{{- end -}}
{{- end -}}

{{- define "nl2api.configMapName" -}}
{{- include "nl2api.platformComponentName" (list . "config") -}}
{{- end -}}

{{/*
An env entry read from the app Secret: include "nl2api.secretEnv" (list $ "EVAL_REDIS_URL" "redis-url")
A fourth element true makes it optional (the key may be absent, e.g. an API key).
*/}}
{{- define "nl2api.secretEnv" -}}
{{- $root := index . 0 -}}
- name: {{ index . 1 }}
  valueFrom:
    secretKeyRef:
      name: {{ include "nl2api.secretName" $root }}
      key: {{ index . 2 }}
      {{- if gt (len .) 3 }}
      optional: {{ index . 3 }}
      {{- end }}
{{- end -}}

{{- define "nl2api.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "nl2api.platformName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "nl2api.secretStore.serviceAccountName" -}}
{{- $sa := .Values.secrets.externalSecret.secretStore.serviceAccount -}}
{{- if $sa.create -}}
{{- default (include "nl2api.componentName" (list . "secrets")) $sa.name -}}
{{- else -}}
{{- $sa.name -}}
{{- end -}}
{{- end -}}

{{/* OTLP/gRPC endpoint of the app pods ("" = SDK disabled). */}}
{{- define "nl2api.otel.endpoint" -}}
{{- if .Values.otel.endpoint -}}
{{- .Values.otel.endpoint -}}
{{- else if .Values.otelCollector.enabled -}}
{{- printf "http://%s:4317" (include "nl2api.platformComponentName" (list . "otel-collector")) -}}
{{- end -}}
{{- end -}}

{{/*
=====================================================================================
Pod building blocks
=====================================================================================
*/}}

{{/* Restricted pod securityContext from a component's podSecurityContext values. */}}
{{- define "nl2api.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .runAsUser }}
runAsGroup: {{ .runAsGroup }}
fsGroup: {{ .fsGroup }}
{{- with .fsGroupChangePolicy }}
fsGroupChangePolicy: {{ . }}
{{- end }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Restricted container securityContext (fixed: it is not meant to be weakened). */}}
{{- define "nl2api.containerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
Topology spread constraints of a component: include "nl2api.topologySpread" (list $ "api")
*/}}
{{- define "nl2api.topologySpread" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- $c := index $root.Values $component -}}
{{- if $c.topologySpreadConstraints -}}
{{ toYaml $c.topologySpreadConstraints }}
{{- else if $c.topologySpread.enabled -}}
{{- range $key, $topologyKey := dict "zone" "topology.kubernetes.io/zone" "hostname" "kubernetes.io/hostname" }}
{{- $t := index $c.topologySpread $key }}
- topologyKey: {{ $topologyKey }}
  maxSkew: {{ $t.maxSkew }}
  whenUnsatisfiable: {{ $t.whenUnsatisfiable }}
  {{- if and $t.minDomains (eq $t.whenUnsatisfiable "DoNotSchedule") }}
  minDomains: {{ $t.minDomains }}
  {{- end }}
  labelSelector:
    matchLabels:
      {{- include "nl2api.selectorLabels" (list $root $component) | nindent 6 }}
  matchLabelKeys:
    - pod-template-hash
{{- end }}
{{- end -}}
{{- end -}}

{{/*
CA bundle volumes of the app pods (managed PostgreSQL / Redis with a private CA).
*/}}
{{- define "nl2api.caVolumes" -}}
{{- if and (not .Values.postgresql.enabled) .Values.externalDatabase.caConfigMap.name }}
- name: database-ca
  configMap:
    name: {{ .Values.externalDatabase.caConfigMap.name }}
    items:
      - key: {{ .Values.externalDatabase.caConfigMap.key }}
        path: ca.crt
{{- end }}
{{- if and (not .Values.redis.enabled) .Values.externalRedis.caConfigMap.name }}
- name: redis-ca
  configMap:
    name: {{ .Values.externalRedis.caConfigMap.name }}
    items:
      - key: {{ .Values.externalRedis.caConfigMap.key }}
        path: ca.crt
{{- end }}
{{- end -}}

{{- define "nl2api.caVolumeMounts" -}}
{{- if and (not .Values.postgresql.enabled) .Values.externalDatabase.caConfigMap.name }}
- name: database-ca
  mountPath: /etc/nl2api/tls/database
  readOnly: true
{{- end }}
{{- if and (not .Values.redis.enabled) .Values.externalRedis.caConfigMap.name }}
- name: redis-ca
  mountPath: /etc/nl2api/tls/redis
  readOnly: true
{{- end }}
{{- end -}}

{{/* NetworkPolicy egress rule allowing cluster DNS (UDP and TCP 53). */}}
{{- define "nl2api.networkPolicy.dnsRule" -}}
{{- $dns := .Values.networkPolicy.dns -}}
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ $dns.namespace }}
      {{- with $dns.podLabels }}
      podSelector:
        matchLabels:
          {{- toYaml . | nindent 10 }}
      {{- end }}
    {{- range $dns.cidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
{{- end -}}

{{/*
OTEL_RESOURCE_ATTRIBUTES of an application container; the application merges these keys with its own
(service.name, service.version and deployment.environment are its own and win). A worker also names its pod
through its EVAL_WORKER_ID: include "nl2api.otelResourceAttributesEnv" (list $ "worker")
*/}}
{{- define "nl2api.otelResourceAttributesEnv" -}}
{{- $root := index . 0 -}}
{{- $attrs := list "service.namespace=nl2api" (printf "k8s.namespace.name=%s" $root.Release.Namespace) -}}
{{- if has (index . 1) (list "api" "entity-service" "worker") -}}
{{- $attrs = append $attrs (printf "k8s.deployment.name=%s" (include "nl2api.componentName" .)) -}}
{{- else -}}
{{- $attrs = append $attrs (printf "k8s.job.name=%s" (include "nl2api.componentName" .)) -}}
{{- end -}}
{{- if eq (index . 1) "worker" -}}
{{- $attrs = append $attrs "k8s.pod.name=$(EVAL_WORKER_ID)" -}}
{{- end -}}
{{- range $k, $v := $root.Values.otel.resourceAttributes -}}
{{- $attrs = append $attrs (printf "%s=%v" $k $v) -}}
{{- end -}}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attrs | quote }}
{{- end -}}

{{/*
Pod annotations shared by the API and worker: checksums of the configuration and the secret
source, so that a change rolls the pods.
*/}}
{{- define "nl2api.checksumAnnotations" -}}
checksum/config: {{ dict "environment" .Values.environment "otel" .Values.otel "endpoint" (include "nl2api.otel.endpoint" .) "extraEnv" .Values.config.extraEnv | toJson | sha256sum }}
checksum/secret: {{ include "nl2api.secretChecksumInput" . | sha256sum }}
{{- end -}}

{{/*
Input of checksum/secret. The chart-created Secret may contain generated passwords (random on
every `helm template`, stable on upgrade via lookup), so its *inputs* are hashed rather than the
rendered object; `secrets.revision` lets the rotation procedure roll the pods for secrets managed
outside the chart.
*/}}
{{- define "nl2api.secretChecksumInput" -}}
{{- $s := .Values.secrets -}}
{{- dict "name" (include "nl2api.secretName" .) "create" $s.create "values" $s.values "extra" $s.extra "existing" $s.existingSecret "external" $s.externalSecret "revision" $s.revision "database" .Values.externalDatabase "redis" .Values.externalRedis | toJson -}}
{{- end -}}

{{/*
Validate a PodDisruptionBudget configuration.
include "nl2api.validatePDB" (dict "path" "api.podDisruptionBudget" "pdb" $pdb "replicas" N)
Fails if the budget would block every voluntary eviction.
*/}}
{{- define "nl2api.validatePDB" -}}
{{- $pdb := .pdb -}}
{{- $path := .path -}}
{{- if $pdb.enabled -}}
{{- $maxU := toString $pdb.maxUnavailable -}}
{{- $minA := toString $pdb.minAvailable -}}
{{- if ne $maxU "" -}}
{{- if or (eq $maxU "0") (eq $maxU "0%") -}}
{{- fail (printf "%s.maxUnavailable=%s would block every voluntary eviction (node drains, cluster upgrades): use at least 1" $path $maxU) -}}
{{- end -}}
{{- else if eq $minA "" -}}
{{- fail (printf "%s: set minAvailable or maxUnavailable (or enabled=false)" $path) -}}
{{- else if eq $minA "100%" -}}
{{- fail (printf "%s.minAvailable=100%% would block every voluntary eviction: use a lower value or maxUnavailable" $path) -}}
{{- else if not (hasSuffix "%" $minA) -}}
{{- if ge (int $minA) (int .replicas) -}}
{{- fail (printf "%s.minAvailable=%s would block every voluntary eviction: it must be lower than %s=%d (use maxUnavailable, raise the replicas, or set %s.enabled=false)" $path $minA .replicasPath (int .replicas) $path) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* PodDisruptionBudget spec body. */}}
{{- define "nl2api.pdbSpec" -}}
{{- if ne (toString .maxUnavailable) "" }}
maxUnavailable: {{ .maxUnavailable }}
{{- else }}
minAvailable: {{ .minAvailable }}
{{- end }}
unhealthyPodEvictionPolicy: AlwaysAllow
{{- end -}}

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

{{/* All recommended labels of a component: include "nl2api.labels" (list $ "api") */}}
{{- define "nl2api.labels" -}}
{{- $root := index . 0 -}}
helm.sh/chart: {{ include "nl2api.chart" $root }}
{{ include "nl2api.selectorLabels" . }}
app.kubernetes.io/version: {{ include "nl2api.versionLabel" $root | quote }}
app.kubernetes.io/part-of: nl2api
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
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

{{- define "nl2api.database.host" -}}
{{- if .Values.postgresql.enabled -}}
{{- include "nl2api.componentName" (list . "postgresql") -}}
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

{{/* The official postgres image serves no TLS: sslmode disable in-cluster. */}}
{{- define "nl2api.database.sslMode" -}}
{{- if .Values.postgresql.enabled -}}disable{{- else -}}{{ .Values.externalDatabase.sslMode }}{{- end -}}
{{- end -}}

{{- define "nl2api.redis.host" -}}
{{- if .Values.redis.enabled -}}
{{- include "nl2api.componentName" (list . "redis") -}}
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
{{- printf "%s:6379" (include "nl2api.serviceFQDN" (list . "redis")) -}}
{{- else -}}
{{- printf "%s:%v" .Values.externalRedis.host .Values.externalRedis.port -}}
{{- end -}}
{{- end -}}

{{- define "nl2api.worker.redisTLS" -}}
{{- $r := .Values.worker.autoscaling.redis -}}
{{- if or $r.enableTLS (and (not $r.address) (eq (include "nl2api.redis.tls" .) "true")) -}}true{{- else -}}false{{- end -}}
{{- end -}}

{{/* Comma-separated names of the Redis lists counted by the worker autoscaler. */}}
{{- define "nl2api.worker.listNames" -}}
{{- $names := list -}}
{{- range .Values.worker.autoscaling.lists }}{{ $names = append $names .name }}{{ end -}}
{{- join "," $names -}}
{{- end -}}

{{/* Name of the Secret the app reads (whichever source is configured). */}}
{{- define "nl2api.secretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{- .Values.secrets.existingSecret -}}
{{- else if and .Values.secrets.externalSecret.enabled .Values.secrets.externalSecret.targetName -}}
{{- .Values.secrets.externalSecret.targetName -}}
{{- else -}}
{{- include "nl2api.fullname" . -}}
{{- end -}}
{{- end -}}

{{- define "nl2api.configMapName" -}}
{{- include "nl2api.componentName" (list . "config") -}}
{{- end -}}

{{- define "nl2api.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "nl2api.fullname" .) .Values.serviceAccount.name -}}
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

{{/* OTLP endpoint of the app pods ("" = SDK disabled). */}}
{{- define "nl2api.otel.endpoint" -}}
{{- if .Values.otel.endpoint -}}
{{- .Values.otel.endpoint -}}
{{- else if .Values.otelCollector.enabled -}}
{{- $port := ternary 4317 4318 (eq .Values.otel.protocol "grpc") -}}
{{- printf "http://%s:%v" (include "nl2api.componentName" (list . "otel-collector")) $port -}}
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
Environment variables common to the API and worker containers (OTEL and pod identity).
include "nl2api.appEnv" (list $ "api")
*/}}
{{- define "nl2api.appEnv" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
- name: APP_COMPONENT
  value: {{ $component | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ printf "%s-%s" $root.Values.otel.serviceNamePrefix $component | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "%s,k8s.namespace.name=$(POD_NAMESPACE),k8s.pod.name=$(POD_NAME),k8s.node.name=$(NODE_NAME)" (include "nl2api.otel.resourceAttributes" $root) | quote }}
{{- end -}}

{{- define "nl2api.otel.resourceAttributes" -}}
{{- $attrs := list (printf "deployment.environment=%s" .Values.environment) (printf "deployment.environment.name=%s" .Values.environment) "service.namespace=nl2api" (printf "service.version=%s" (include "nl2api.versionLabel" .)) -}}
{{- range $k, $v := .Values.otel.resourceAttributes -}}
{{- $attrs = append $attrs (printf "%s=%v" $k $v) -}}
{{- end -}}
{{- join "," $attrs -}}
{{- end -}}

{{/*
Pod annotations shared by the API and worker: checksums of the configuration and the secret
source, so that a change rolls the pods.
*/}}
{{- define "nl2api.checksumAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
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
{{- dict "name" (include "nl2api.secretName" .) "create" $s.create "values" $s.values "extra" $s.extra "existing" $s.existingSecret "external" $s.externalSecret "revision" $s.revision | toJson -}}
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

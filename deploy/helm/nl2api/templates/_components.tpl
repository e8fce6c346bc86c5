{{/*
=====================================================================================
What each application component runs and reads. The names are the application's own (its contract:
commands, flags and environment variables); nothing here sets a variable the application does not read.
=====================================================================================
*/}}

{{/* The enabled HTTP workloads, component name -> values key (none in a batch release). */}}
{{- define "nl2api.httpComponents" -}}
{{- if not .Values.batch.enabled -}}
{{- if .Values.api.enabled }}
api: api
{{- end }}
{{- if .Values.entityService.enabled }}
entity-service: entityService
{{- end }}
{{- end -}}
{{- end -}}

{{/*
Arguments of an HTTP workload: its port is a flag (the API ignores ENTITY_MCP_PORT, the CLI's value wins).
include "nl2api.httpComponentArgs" (list $ "api")
*/}}
{{- define "nl2api.httpComponentArgs" -}}
{{- $root := index . 0 -}}
{{- if eq (index . 1) "api" -}}
{{- $c := $root.Values.api -}}
{{- toYaml (concat (list "--transport" "sse" "--host" "0.0.0.0" "--port" (toString $c.containerPort) (ternary "--redis" "--no-redis" $c.redisCache)) $c.extraArgs) -}}
{{- else -}}
{{- $c := $root.Values.entityService -}}
{{- toYaml (concat (list "--transport" "http" "--host" "0.0.0.0" "--port" (toString $c.containerPort)) $c.extraArgs) -}}
{{- end -}}
{{- end -}}

{{/* Environment of an HTTP workload: its URLs from the Secret and its own settings. */}}
{{- define "nl2api.httpComponentEnv" -}}
{{- $root := index . 0 -}}
{{- if eq (index . 1) "api" -}}
{{- $c := $root.Values.api -}}
{{- include "nl2api.secretEnv" (list $root "ENTITY_MCP_POSTGRES_URL" "postgres-url") }}
{{- if $c.redisCache }}
{{ include "nl2api.secretEnv" (list $root "ENTITY_MCP_REDIS_URL" "redis-url") }}
{{- end }}
{{ include "nl2api.secretEnv" (list $root "ENTITY_MCP_OPENFIGI_API_KEY" "openfigi-api-key" true) }}
- name: ENTITY_MCP_REQUIRE_CLIENT_ID
  value: {{ $c.requireClientId | quote }}
- name: ENTITY_MCP_POSTGRES_POOL_MIN
  value: {{ $c.postgresPool.min | quote }}
- name: ENTITY_MCP_POSTGRES_POOL_MAX
  value: {{ $c.postgresPool.max | quote }}
{{- else -}}
{{- $c := $root.Values.entityService -}}
{{- include "nl2api.secretEnv" (list $root "ENTITY_POSTGRES_URL" "postgres-url") }}
- name: ENTITY_REDIS_ENABLED
  value: {{ $c.redisCache | quote }}
{{- if $c.redisCache }}
{{ include "nl2api.secretEnv" (list $root "ENTITY_REDIS_URL" "redis-url") }}
{{- end }}
- name: ENTITY_OPENFIGI_ENABLED
  value: {{ $c.openfigi | quote }}
{{ include "nl2api.secretEnv" (list $root "ENTITY_OPENFIGI_API_KEY" "openfigi-api-key" true) }}
- name: ENTITY_POSTGRES_POOL_MIN
  value: {{ $c.postgresPool.min | quote }}
- name: ENTITY_POSTGRES_POOL_MAX
  value: {{ $c.postgresPool.max | quote }}
{{- end -}}
{{- end -}}

{{/*
Environment of the evaluation worker and of the producer (the same storage and LLM settings); the worker adds
its batch and consumer name, the producer takes the Redis URL as a flag only.
*/}}
{{- define "nl2api.evalEnv" -}}
{{- $root := . -}}
{{- $w := .Values.worker -}}
- name: EVAL_BACKEND
  value: postgres
{{ include "nl2api.secretEnv" (list $root "EVAL_POSTGRES_URL" "postgres-url") }}
{{ include "nl2api.secretEnv" (list $root "EVAL_REDIS_URL" "redis-url") }}
- name: EVAL_POSTGRES_POOL_MIN
  value: {{ $w.postgresPool.min | quote }}
- name: EVAL_POSTGRES_POOL_MAX
  value: {{ $w.postgresPool.max | quote }}
- name: NL2API_LLM_PROVIDER
  value: {{ $w.llmProvider | quote }}
{{ include "nl2api.secretEnv" (list $root "NL2API_ANTHROPIC_API_KEY" "anthropic-api-key" true) }}
{{ include "nl2api.secretEnv" (list $root "NL2API_OPENAI_API_KEY" "openai-api-key" true) }}
{{- end -}}

{{/* OpenTelemetry collector configuration: generated base, then otelCollector.config deep-merged. */}}
{{- define "nl2api.otelCollector.config" -}}
{{- $c := .Values.otelCollector -}}
{{- $exportersConfig := deepCopy $c.exporters -}}
{{- $pipelineExporters := deepCopy $c.pipelines -}}
{{- if .Values.metrics.enabled -}}
{{- /* The application's metrics under the names its dashboards query (evalkit_*), as its own collector does. */ -}}
{{- $_ := set $exportersConfig "prometheus" (dict "endpoint" (printf "${env:MY_POD_IP}:%v" $c.prometheusExporter.port) "namespace" $c.prometheusExporter.namespace "resource_to_telemetry_conversion" (dict "enabled" true)) -}}
{{- $_ := set $pipelineExporters "metrics" (append (default list $pipelineExporters.metrics) "prometheus" | uniq) -}}
{{- end -}}
{{- $pipelines := dict -}}
{{- range $signal, $exporters := $pipelineExporters -}}
{{- if $exporters -}}
{{- $_ := set $pipelines $signal (dict "receivers" (list "otlp") "processors" (list "memory_limiter" "batch") "exporters" $exporters) -}}
{{- end -}}
{{- end -}}
{{- $base := dict
  "extensions" (dict "health_check" (dict "endpoint" "${env:MY_POD_IP}:13133"))
  "receivers" (dict "otlp" (dict "protocols" (dict
      "grpc" (dict "endpoint" "${env:MY_POD_IP}:4317"))))
  "processors" (dict
      "memory_limiter" (dict "check_interval" "1s" "limit_percentage" 80 "spike_limit_percentage" 25)
      "batch" (dict))
  "exporters" $exportersConfig
  "service" (dict
      "extensions" (list "health_check")
      "telemetry" (dict "metrics" (dict "readers" (list (dict "pull" (dict "exporter" (dict "prometheus" (dict "host" "${env:MY_POD_IP}" "port" 8888)))))))
      "pipelines" $pipelines)
-}}
{{- toYaml (mustMergeOverwrite $base (deepCopy $c.config)) -}}
{{- end -}}

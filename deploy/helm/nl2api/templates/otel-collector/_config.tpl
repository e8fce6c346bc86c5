{{/* OpenTelemetry collector configuration: generated base, then otelCollector.config deep-merged. */}}
{{- define "nl2api.otelCollector.config" -}}
{{- $c := .Values.otelCollector -}}
{{- $pipelines := dict -}}
{{- range $signal, $exporters := $c.pipelines -}}
{{- if $exporters -}}
{{- $_ := set $pipelines $signal (dict "receivers" (list "otlp") "processors" (list "memory_limiter" "batch") "exporters" $exporters) -}}
{{- end -}}
{{- end -}}
{{- $base := dict
  "extensions" (dict "health_check" (dict "endpoint" "${env:MY_POD_IP}:13133"))
  "receivers" (dict "otlp" (dict "protocols" (dict
      "grpc" (dict "endpoint" "${env:MY_POD_IP}:4317")
      "http" (dict "endpoint" "${env:MY_POD_IP}:4318"))))
  "processors" (dict
      "memory_limiter" (dict "check_interval" "1s" "limit_percentage" 80 "spike_limit_percentage" 25)
      "batch" (dict))
  "exporters" (deepCopy $c.exporters)
  "service" (dict
      "extensions" (list "health_check")
      "telemetry" (dict "metrics" (dict "readers" (list (dict "pull" (dict "exporter" (dict "prometheus" (dict "host" "${env:MY_POD_IP}" "port" 8888)))))))
      "pipelines" $pipelines)
-}}
{{- toYaml (mustMergeOverwrite $base (deepCopy $c.config)) -}}
{{- end -}}

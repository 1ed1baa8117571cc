{{/* Names, labels and the checks every template relies on. */}}

{{- define "dinero-bridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dinero-bridge.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "dinero-bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dinero-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "dinero-bridge.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "dinero-bridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "dinero-bridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dinero-bridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "dinero-bridge.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "dinero-bridge.secretName" -}}
{{- default (include "dinero-bridge.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* True (non-empty) when the pods read an admin token and an encryption key from the Secret. */}}
{{- define "dinero-bridge.hasKeys" -}}
{{- if or .Values.secrets.existingSecret (and .Values.secrets.adminToken .Values.secrets.encryptionKey) }}true{{ end }}
{{- end }}

{{- define "dinero-bridge.production" -}}
{{- if eq .Values.store.kind "postgres" }}true{{ end }}
{{- end }}

{{/* Combinations that cannot work are refused here, with what to do instead. */}}
{{- define "dinero-bridge.checks" -}}
{{- if eq .Values.store.kind "sqlite" }}
{{- if or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled }}
{{- fail "store.kind=sqlite keeps its data on one volume for one pod: replicaCount must be 1 and autoscaling off. For several replicas set store.kind=postgres (and secrets.storeUrl)." }}
{{- end }}
{{- else }}
{{- if not (or .Values.secrets.existingSecret .Values.secrets.storeUrl) }}
{{- fail "store.kind=postgres needs secrets.storeUrl (postgres://...) or secrets.existingSecret with a store-url key." }}
{{- end }}
{{- if not (include "dinero-bridge.hasKeys" .) }}
{{- fail "store.kind=postgres needs secrets.adminToken and secrets.encryptionKey (or secrets.existingSecret): every replica must read what the others encrypted." }}
{{- end }}
{{- end }}
{{- if and (or .Values.secrets.adminToken .Values.secrets.encryptionKey) (not (and .Values.secrets.adminToken .Values.secrets.encryptionKey)) }}
{{- fail "set both secrets.adminToken and secrets.encryptionKey, or neither (the embedded default then generates its own onto its volume)." }}
{{- end }}
{{- if le (int .Values.terminationGracePeriodSeconds) (int .Values.shutdownGraceSeconds) }}
{{- fail "terminationGracePeriodSeconds must be above shutdownGraceSeconds, or Kubernetes kills the pod while its lanes still finish their step." }}
{{- end }}
{{- if and .Values.kafka.enabled (not .Values.kafka.bootstrapServers) }}
{{- fail "kafka.enabled needs kafka.bootstrapServers." }}
{{- end }}
{{- end }}

{{/* One TOML value: strings quoted, whole numbers as integers (YAML gives Helm floats), lists. */}}
{{- define "dinero-bridge.tomlValue" -}}
{{- if kindIs "string" . }}{{ . | quote }}
{{- else if kindIs "bool" . }}{{ . }}
{{- else if kindIs "float64" . }}{{ if eq . (floor .) }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- else if or (kindIs "int" .) (kindIs "int64" .) }}{{ . }}
{{- else if kindIs "slice" . }}[{{ range $i, $v := . }}{{ if $i }}, {{ end }}{{ include "dinero-bridge.tomlValue" $v }}{{ end }}]
{{- else }}{{ fail (printf "config: %v cannot be written as a TOML value" .) }}
{{- end }}
{{- end }}

{{/* The settings file: what the chart sets, with .Values.config merged over it. */}}
{{- define "dinero-bridge.configToml" -}}
{{- $production := include "dinero-bridge.production" . -}}
{{- $settings := dict
  "http" (dict "listen" "0.0.0.0:8080")
  "metrics" (dict "listen" "0.0.0.0:9464")
  "store" (dict "migrate_on_start" (not $production))
  "pipeline" (dict "shutdown_grace_secs" (int .Values.shutdownGraceSeconds))
  "log" (dict "format" "json")
-}}
{{- if not $production }}
{{- $_ := set $settings.store "url" "sqlite:///var/lib/dinero-bridge/dinero-bridge.db" }}
{{- end }}
{{- if include "dinero-bridge.hasKeys" . }}
{{- $_ := set $settings "security" (dict "admin_tokens_file" "/etc/dinero-bridge/secrets/admin-token" "encryption_key_file" "/etc/dinero-bridge/secrets/encryption-key") }}
{{- end }}
{{- if .Values.kafka.enabled }}
{{- $kafka := dict "enabled" true "bootstrap_servers" .Values.kafka.bootstrapServers "security_protocol" .Values.kafka.securityProtocol }}
{{- with .Values.kafka.saslMechanism }}{{ $_ := set $kafka "sasl_mechanism" . }}{{ end }}
{{- with .Values.kafka.saslUsername }}{{ $_ := set $kafka "sasl_username" . }}{{ end }}
{{- $_ := set $settings "kafka" $kafka }}
{{- end }}
{{- with .Values.dinero.clientId }}{{ $_ := set $settings "dinero" (dict "client_id" .) }}{{ end }}
{{- with .Values.traces.otlpEndpoint }}{{ $_ := set $settings "traces" (dict "otlp_endpoint" .) }}{{ end }}
{{- $settings = mustMergeOverwrite $settings (deepCopy .Values.config) }}
{{- range $section, $keys := $settings }}
{{- if not (kindIs "map" $keys) }}{{ fail (printf "config.%s must be a section (a map of keys)" $section) }}{{ end }}
[{{ $section }}]
{{- range $key, $value := $keys }}
{{- if not (kindIs "map" $value) }}
{{ $key }} = {{ include "dinero-bridge.tomlValue" $value }}
{{- end }}
{{- end }}
{{- range $key, $table := $keys }}
{{- if kindIs "map" $table }}
[{{ $section }}.{{ $key }}]
{{- range $name, $value := $table }}
{{ $name | quote }} = {{ include "dinero-bridge.tomlValue" $value }}
{{- end }}
{{- end }}
{{- end }}
{{ end }}
{{- end }}

{{/* What the service's pods and the migration Job share: image, settings, secrets, security. */}}

{{- define "dinero-bridge.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "dinero-bridge.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "dinero-bridge.env" -}}
{{- $secret := include "dinero-bridge.secretName" . -}}
{{- /* A Secret the chart makes has exactly the keys referenced; an existing one may lack the optional ones. */ -}}
{{- $optional := not (empty .Values.secrets.existingSecret) -}}
{{- if or .Values.secrets.existingSecret .Values.secrets.storeUrl }}
- name: DINERO_BRIDGE__STORE__URL
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: store-url, optional: {{ and $optional (not (include "dinero-bridge.production" .)) }}}
{{- end }}
{{- if or .Values.secrets.existingSecret .Values.secrets.dineroClientSecret }}
- name: DINERO_BRIDGE__DINERO__CLIENT_SECRET
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: dinero-client-secret, optional: {{ $optional }}}
{{- end }}
{{- if or .Values.secrets.existingSecret .Values.secrets.kafkaSaslPassword }}
- name: DINERO_BRIDGE__KAFKA__SASL_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: kafka-sasl-password, optional: {{ $optional }}}
{{- end }}
{{- if or .Values.secrets.existingSecret .Values.secrets.notificationSecret }}
- name: DINERO_BRIDGE__NOTIFICATIONS__SECRET
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: notification-secret, optional: {{ $optional }}}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "dinero-bridge.volumeMounts" -}}
- name: config
  mountPath: /etc/dinero-bridge/config
  readOnly: true
{{- if include "dinero-bridge.hasKeys" . }}
- name: secrets
  mountPath: /etc/dinero-bridge/secrets
  readOnly: true
{{- end }}
- name: tmp
  mountPath: /tmp
{{- end }}

{{- define "dinero-bridge.volumes" -}}
- name: config
  configMap:
    name: {{ include "dinero-bridge.fullname" . }}
{{- if include "dinero-bridge.hasKeys" . }}
- name: secrets
  secret:
    secretName: {{ include "dinero-bridge.secretName" . }}
    defaultMode: 0440
    items:
      - {key: admin-token, path: admin-token}
      - {key: encryption-key, path: encryption-key}
{{- end }}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end }}

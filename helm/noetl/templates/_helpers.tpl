{{/* Chart name, overridable. */}}
{{- define "noetl.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-scoped prefix for every object; a release already called "noetl…" is not repeated. */}}
{{- define "noetl.fullname" -}}
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

{{/* Common labels. Call with (dict "ctx" $ "component" "silo"). */}}
{{- define "noetl.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: noetl
{{ include "noetl.selectorLabels" . }}
{{- end -}}

{{/* Immutable selector labels. Call with (dict "ctx" $ "component" "silo"). */}}
{{- define "noetl.selectorLabels" -}}
app.kubernetes.io/name: {{ include "noetl.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Image reference. Call with (dict "ctx" $ "image" .Values.silo.image). */}}
{{- define "noetl.image" -}}
{{- $tag := default .ctx.Chart.AppVersion .ctx.Values.image.tag -}}
{{- if .ctx.Values.image.registry -}}
{{- printf "%s/%s:%s" (trimSuffix "/" .ctx.Values.image.registry) .image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The gateway's in-cluster URL: NOETL_SERVER_URL for silos and workers, and the KEDA metrics host. */}}
{{- define "noetl.gatewayUrl" -}}
{{- printf "http://%s-gateway.%s.svc.cluster.local:8082" (include "noetl.fullname" .) .Release.Namespace -}}
{{- end -}}

{{- define "noetl.natsUrl" -}}
{{- if .Values.nats.deploy -}}
{{- printf "nats://%s-nats.%s.svc.cluster.local:4222" (include "noetl.fullname" .) .Release.Namespace -}}
{{- else -}}
{{- .Values.nats.url -}}
{{- end -}}
{{- end -}}

{{/* The internal API token Secret: a fixed, well-known name unless the operator brings their own. */}}
{{- define "noetl.internalTokenSecret" -}}
{{- default "noetl-internal-api-token" .Values.internalApiToken.existingSecret -}}
{{- end -}}

{{- define "noetl.internalTokenKey" -}}
{{- if .Values.internalApiToken.existingSecret -}}{{ .Values.internalApiToken.existingSecretKey }}{{- else -}}token{{- end -}}
{{- end -}}

{{- define "noetl.serverDsnSecret" -}}
{{- default (printf "%s-db-server" (include "noetl.fullname" .)) .Values.database.server.existingSecret -}}
{{- end -}}

{{- define "noetl.serverDsnKey" -}}
{{- if .Values.database.server.existingSecret -}}{{ .Values.database.server.existingSecretKey }}{{- else -}}dsn{{- end -}}
{{- end -}}

{{- define "noetl.discoveryDsnSecret" -}}
{{- default (printf "%s-db-discovery" (include "noetl.fullname" .)) .Values.database.discovery.existingSecret -}}
{{- end -}}

{{- define "noetl.discoveryDsnKey" -}}
{{- if .Values.database.discovery.existingSecret -}}{{ .Values.database.discovery.existingSecretKey }}{{- else -}}dsn{{- end -}}
{{- end -}}

{{/*
Restarts pods when a chart-managed Secret changes (rotated DSN or token). Secrets supplied through existingSecret
are not seen here: roll the Deployments yourself after rotating them.
*/}}
{{- define "noetl.secretsChecksum" -}}
{{- include (print .Template.BasePath "/secrets.yaml") . | sha256sum -}}
{{- end -}}

{{/* The writable /tmp every pod gets because the root filesystem is read-only. */}}
{{- define "noetl.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpVolume.sizeLimit }}
{{- end -}}

{{- define "noetl.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Downward-API env: Orleans Kubernetes hosting needs all three on silos; workers use the pod name as WORKER_ID. */}}
{{- define "noetl.podEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
{{- end -}}

{{/* Scheduling knobs shared by every workload. Call with the component's values. */}}
{{- define "noetl.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

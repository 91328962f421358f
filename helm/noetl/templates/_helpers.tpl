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

{{/* The silos' credential encryption key: chart-managed <fullname>-encryption-key/key unless existingSecret. */}}
{{- define "noetl.encryptionKeySecret" -}}
{{- default (printf "%s-encryption-key" (include "noetl.fullname" .)) .Values.encryptionKey.existingSecret -}}
{{- end -}}

{{- define "noetl.encryptionKeyKey" -}}
{{- if .Values.encryptionKey.existingSecret -}}{{ .Values.encryptionKey.existingSecretKey }}{{- else -}}key{{- end -}}
{{- end -}}

{{/* Where the silo reads it (NOETL_ENCRYPTION_KEY_FILE): a read-only secret volume, never an env var. */}}
{{- define "noetl.encryptionKeyFile" -}}/var/run/secrets/noetl/encryption-key{{- end -}}

{{/*
Public-API tokens: one Secret with the plaintext tokens ("operator", "<pool>-pool") and the digest document
("principals.json"); the key names are the same in a Secret supplied through auth.existingSecret.
*/}}
{{- define "noetl.apiTokensSecret" -}}
{{- default (printf "%s-api-tokens" (include "noetl.fullname" .)) .Values.auth.existingSecret -}}
{{- end -}}

{{- define "noetl.poolTokenKey" -}}{{ printf "%s-pool" . }}{{- end -}}

{{/* NOETL_API_TOKENS_FILE on the gateway: the principals document (SHA-256 digests only). */}}
{{- define "noetl.apiTokensFile" -}}/var/run/secrets/noetl/api-tokens.json{{- end -}}

{{/* Log format and OTLP export, the same on silos, gateway and workers. */}}
{{- define "noetl.observabilityEnv" -}}
- name: NOETL_LOG_FORMAT
  value: {{ .Values.observability.logFormat | quote }}
{{- with .Values.observability.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- with .Values.observability.otlpProtocol }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* Prometheus scrape annotations for a pod serving /metrics. Call with (dict "ctx" $ "port" 8081). */}}
{{- define "noetl.scrapeAnnotations" -}}
{{- if .ctx.Values.observability.metrics.scrapeAnnotations -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end -}}
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

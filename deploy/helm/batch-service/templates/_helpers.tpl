{{/*
Names, labels and the pieces the Deployment and the replay Job share.
*/}}

{{- define "batch-service.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name, at most 63 characters (DNS label). The release name alone when it
already contains the chart name.
*/}}
{{- define "batch-service.fullname" -}}
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

{{- define "batch-service.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The standard labels, on every resource. */}}
{{- define "batch-service.labels" -}}
helm.sh/chart: {{ include "batch-service.chart" . }}
{{ include "batch-service.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: batch-service
{{- end }}

{{/* Selector labels: stable across upgrades (a Deployment's selector is immutable). */}}
{{- define "batch-service.selectorLabels" -}}
app.kubernetes.io/name: {{ include "batch-service.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "batch-service.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}

{{- define "batch-service.secretName" -}}
{{- default (include "batch-service.fullname" .) .Values.existingSecret }}
{{- end }}

{{/*
The invariant the chart refuses to break: one partition goes to one consumer of a group, so
instances beyond the partition count would sit idle (and, /readyz needing an assignment,
never become ready).
*/}}
{{- define "batch-service.validate" -}}
{{- if gt (int .Values.replicas) (int .Values.kafka.partitions) }}
{{- fail (printf "replicas (%d) must not exceed kafka.partitions (%d): a consumer group gives each partition to one instance, the extra instances would sit idle" (int .Values.replicas) (int .Values.kafka.partitions)) }}
{{- end }}
{{- if lt (int .Values.replicas) 0 }}
{{- fail "replicas must be 0 or more" }}
{{- end }}
{{- end }}

{{/* Settings: the ConfigMap (every key of .Values.config, prefixed) and the secret keys. */}}
{{- define "batch-service.envFrom" -}}
- configMapRef:
    name: {{ include "batch-service.fullname" . }}
{{- end }}

{{- define "batch-service.secretEnv" -}}
{{- $secret := include "batch-service.secretName" . -}}
- name: BATCH_SERVICE_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: kafka-sasl-password
      optional: true
- name: BATCH_SERVICE_MONGODB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: mongodb-password
      optional: true
- name: BATCH_SERVICE_API_JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: api-jwt-secret
      optional: true
{{- end }}

{{/* Rolls the pods when the settings or the secret change. */}}
{{- define "batch-service.checksums" -}}
checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if not .Values.existingSecret }}
checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- end }}

{{- define "batch-service.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "batch-service.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
{{- end }}

{{/* The root filesystem is read-only: /tmp is the one writable place. */}}
{{- define "batch-service.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}

{{- define "batch-service.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

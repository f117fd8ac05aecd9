{{/* Names and labels shared by the templates. */}}
{{- define "tern.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tern.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tern.labels" -}}
{{ include "tern.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "tern.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tern.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The pipeline file's text: as given with --set-file, or the `pipeline` object as YAML. */}}
{{- define "tern.pipeline" -}}
{{- if kindIs "string" .Values.pipeline -}}
{{- .Values.pipeline -}}
{{- else -}}
{{- toYaml .Values.pipeline -}}
{{- end -}}
{{- end -}}

{{- define "tern.configMapName" -}}
{{- default (printf "%s-pipeline" (include "tern.fullname" .)) .Values.existingConfigMap -}}
{{- end -}}

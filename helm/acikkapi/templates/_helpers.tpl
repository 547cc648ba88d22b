{{- define "acikkapi.name" -}}acikkapi{{- end -}}

{{- define "acikkapi.fullname" -}}
{{- if contains "acikkapi" .Release.Name -}}{{ .Release.Name | trunc 50 | trimSuffix "-" }}{{- else -}}{{ printf "%s-acikkapi" .Release.Name | trunc 50 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "acikkapi.labels" -}}
app.kubernetes.io/name: acikkapi
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "acikkapi.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "acikkapi.secretName" -}}
{{- if .Values.secrets.create -}}{{ include "acikkapi.fullname" . }}{{- else -}}{{ .Values.secrets.existingSecret }}{{- end -}}
{{- end -}}

{{/* The workloads to run: name → settings; one "all" when allInOne. */}}
{{- define "acikkapi.workloads" -}}
{{- $out := dict -}}
{{- if .Values.allInOne.enabled -}}
{{- $_ := set $out "all" (dict "replicas" .Values.allInOne.replicas "resources" .Values.allInOne.resources "autoscaling" (dict "enabled" false)) -}}
{{- else -}}
{{- range $name, $s := .Values.services -}}
{{- if $s.enabled -}}{{- $_ := set $out $name $s -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* The environment every pod gets: the config file and the secrets. */}}
{{- define "acikkapi.env" -}}
- name: ACIKKAPI_CONFIG
  value: /etc/acikkapi/acikkapi.toml
{{- range $var, $key := dict "ACIKKAPI__STORE__URL" "store-url" "ACIKKAPI__BUS__URL" "bus-url" "ACIKKAPI__CACHE__URL" "cache-url" "ACIKKAPI__AUTH__KEYS" "auth-keys" "ACIKKAPI__PRIVACY__KEYS" "privacy-keys" "ACIKKAPI__PRIVACY__HASH_KEY" "privacy-hash-key" "ACIKKAPI__INTAKE__TRACKING_KEY" "tracking-key" "ACIKKAPI__NOTIFICATION__HTTP_PASSWORD" "sms-password" "ACIKKAPI__NOTIFICATION__CALLBACK_TOKEN" "sms-callback-token" }}
- name: {{ $var }}
  valueFrom:
    secretKeyRef:
      name: {{ include "acikkapi.secretName" $ }}
      key: {{ $key }}
{{- end }}
{{- end -}}

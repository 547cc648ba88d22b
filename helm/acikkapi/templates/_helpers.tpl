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

{{/* A pod's PostgreSQL pool: its service's share of postgres.connectionBudget
     divided among the service's pods at the HPA's maximum (the all-in-one
     Deployment: the budget among its replicas); at least 1.
     Arguments: dict "root" $ "name" <workload> "s" <its settings>. */}}
{{- define "acikkapi.pool" -}}
{{- $budget := int .root.Values.postgres.connectionBudget -}}
{{- if eq .name "all" -}}
{{- max 1 (div $budget (int .s.replicas)) -}}
{{- else -}}
{{- $pods := int .s.replicas -}}
{{- if .s.autoscaling.enabled -}}{{- $pods = int .s.autoscaling.maxReplicas -}}{{- end -}}
{{- max 1 (div (mul $budget (int (.s.dbSharePercent | default 0))) (mul 100 $pods)) -}}
{{- end -}}
{{- end -}}

{{/* Fails the rendering when every workload at its most pods would open
     more PostgreSQL connections than postgres.connectionBudget. */}}
{{- define "acikkapi.checkPoolBudget" -}}
{{- $root := . -}}
{{- $total := 0 -}}
{{- range $name, $s := (include "acikkapi.workloads" $root | fromYaml) -}}
{{- $pods := int $s.replicas -}}
{{- if $s.autoscaling.enabled -}}{{- $pods = int $s.autoscaling.maxReplicas -}}{{- end -}}
{{- $total = add $total (mul $pods (int (include "acikkapi.pool" (dict "root" $root "name" $name "s" $s)))) -}}
{{- end -}}
{{- if gt $total (int $root.Values.postgres.connectionBudget) -}}
{{- fail (printf "every pod at its maximum would open %d PostgreSQL connections, more than postgres.connectionBudget (%d): raise the budget (and the server's max_connections) or lower the maxReplicas" $total (int $root.Values.postgres.connectionBudget)) -}}
{{- end -}}
{{- end -}}

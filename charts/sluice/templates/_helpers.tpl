{{/* The labels every object carries; the selector keeps to the two that never change. */}}
{{- define "sluice.labels" -}}
app.kubernetes.io/name: sluice
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{- define "sluice.selector" -}}
app.kubernetes.io/name: sluice
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sluice.fullname" -}}
{{- if eq .Release.Name "sluice" }}sluice{{ else }}{{ printf "%s-sluice" .Release.Name | trunc 63 | trimSuffix "-" }}{{ end }}
{{- end }}

{{/*
One document of a file under files/ (copied from deploy/ by `npm run crds`), by kind and name,
as YAML: the chart reads the RBAC rules and the egress policy from what deploy/ ships.
Usage: include "sluice.fromDeploy" (list $ "files/rbac.yaml" "ClusterRole" "sluice-controller")
*/}}
{{- define "sluice.fromDeploy" -}}
{{- $ctx := index . 0 -}}
{{- $kind := index . 2 -}}
{{- $name := index . 3 -}}
{{- range $doc := splitList "\n---\n" ($ctx.Files.Get (index . 1)) -}}
{{- $o := fromYaml $doc -}}
{{- if and (eq (toString (get $o "kind")) $kind) (eq (toString (dig "metadata" "name" "" $o)) $name) -}}
{{- toYaml $o -}}
{{- end -}}
{{- end -}}
{{- end }}

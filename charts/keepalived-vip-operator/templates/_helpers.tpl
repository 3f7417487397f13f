{{/*
Object names are fixed (one installation per cluster): the operator's own
objects (leader Lease, agent DaemonSet, ClusterRoles) have cluster-wide
names, and config/ (kustomize) uses the same ones.
*/}}
{{- define "kvo.operatorName" -}}keepalived-vip-operator{{- end -}}
{{- define "kvo.agentName" -}}keepalived-vip-agent{{- end -}}
{{/* Namespace of the published plan and the heartbeat Leases (ADR 0010). */}}
{{- define "kvo.planNamespace" -}}keepalived-vip-nodes{{- end -}}

{{- define "kvo.chart" -}}
{{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/* Labels every object of the release carries. */}}
{{- define "kvo.labels" -}}
helm.sh/chart: {{ include "kvo.chart" . }}
app.kubernetes.io/name: keepalived-vip
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: keepalived-vip-operator
{{- end -}}

{{/* Selector labels of the operator pods. */}}
{{- define "kvo.operatorSelectorLabels" -}}
app.kubernetes.io/name: keepalived-vip
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{/* repository:tag or repository@digest of the operator image. */}}
{{- define "kvo.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* Image of the agent DaemonSet: agent.image, else the operator's image. */}}
{{- define "kvo.agentImage" -}}
{{- if or .Values.agent.image.repository .Values.agent.image.tag -}}
{{ .Values.agent.image.repository | default .Values.image.repository }}:{{ .Values.agent.image.tag | default .Values.image.tag | default .Chart.AppVersion }}
{{- else -}}
{{ include "kvo.image" . }}
{{- end -}}
{{- end -}}

{{/*
Arguments of the operator container: flags of `keepalived-vip operator`
(src/operator/options.ts). The agent settings become --agent-* flags, since
the operator builds the agent DaemonSet.
*/}}
{{- define "kvo.operatorArgs" -}}
{{- if and (not .Values.operator.leaderElection) (gt (int .Values.replicaCount) 1) -}}
{{- fail "operator.leaderElection=false needs replicaCount=1: replicas would all act at once" -}}
{{- end -}}
- operator
- {{ printf "--leader-elect=%t" .Values.operator.leaderElection | quote }}
- {{ printf "--metrics-bind-address=:%d" (int .Values.metrics.port) | quote }}
- {{ printf "--workers=%d" (int .Values.operator.workers) | quote }}
- {{ printf "--claim-grace-period=%s" .Values.operator.claimGracePeriod | quote }}
- {{ printf "--load-balancer-default-class=%t" .Values.loadBalancer.defaultClass | quote }}
- {{ printf "--plan-namespace=%s" (include "kvo.planNamespace" .) | quote }}
- {{ printf "--min-advert-interval=%s" .Values.operator.minAdvertInterval | quote }}
- {{ printf "--agent-image=%s" (include "kvo.agentImage" .) | quote }}
- {{ printf "--agent-service-account=%s" (include "kvo.agentName" .) | quote }}
- {{ printf "--agent-metrics-port=%d" (int .Values.agent.metricsPort) | quote }}
- {{ printf "--agent-log-level=%s" .Values.agent.logLevel | quote }}
- {{ printf "--agent-priority-class=%s" .Values.agent.priorityClassName | quote }}
- {{ printf "--agent-resources=%s" (.Values.agent.resources | toJson) | quote }}
- {{ printf "--agent-tolerations=%s" (.Values.agent.tolerations | toJson) | quote }}
- {{ printf "--agent-pod-annotations=%s" (.Values.agent.podAnnotations | toJson) | quote }}
- {{ printf "--agent-affinity=%s" (.Values.agent.affinity | toJson) | quote }}
{{- with .Values.agent.podLabels }}
- {{ printf "--agent-pod-labels=%s" (include "kvo.keyValues" .) | quote }}
{{- end }}
{{- with .Values.agent.nodeSelector }}
- {{ printf "--agent-node-selector=%s" (include "kvo.keyValues" .) | quote }}
{{- end }}
{{- range .Values.agent.extraArgs }}
- {{ printf "--agent-extra-args=%s" . | quote }}
{{- end }}
{{- range .Values.operator.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end -}}

{{/* A map as k=v,k2=v2, sorted by key. */}}
{{- define "kvo.keyValues" -}}
{{- $pairs := list -}}
{{- range $k := keys . | sortAlpha -}}
{{- $pairs = append $pairs (printf "%s=%s" $k (index $ $k)) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}

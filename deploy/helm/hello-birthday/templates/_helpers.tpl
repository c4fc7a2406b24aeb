{{/*
Names and labels, as `helm create` writes them.
*/}}
{{- define "hello-birthday.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hello-birthday.fullname" -}}
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

{{- define "hello-birthday.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hello-birthday.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "hello-birthday.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "hello-birthday.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hello-birthday
{{- end }}

{{- define "hello-birthday.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hello-birthday.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
deploy/service-contract.json (this chart's service-contract.json is a symlink to it; `helm package` stores its
contents): the port, the probe and metrics paths, the public path and the shutdown bound the binary is built with.
*/}}
{{- define "hello-birthday.contract" -}}
{{- .Files.Get "service-contract.json" | required "service-contract.json is missing from the chart (a symlink to deploy/service-contract.json)" }}
{{- end }}

{{/*
A duration in seconds as the service's flags spell it (humantime): "10s", or "250ms" for a fraction.
*/}}
{{- define "hello-birthday.duration" -}}
{{- $seconds := float64 . }}
{{- if eq $seconds (floor $seconds) }}{{ printf "%ds" (int64 $seconds) }}{{ else }}{{ printf "%dms" (int64 (round (mulf $seconds 1000) 0)) }}{{ end }}
{{- end }}

{{/*
IDLE_TIMEOUT in seconds: the value set, or the balancer's idle timeout + 15 s (as the ECS module derives it from
the ALB's).
*/}}
{{- define "hello-birthday.idleTimeoutSeconds" -}}
{{- if kindIs "invalid" .Values.serve.idleTimeoutSeconds }}{{ add (int64 .Values.balancer.idleTimeoutSeconds) 15 }}{{ else }}{{ .Values.serve.idleTimeoutSeconds }}{{ end }}
{{- end }}

{{/*
After SIGTERM the service exits within drain delay + shutdown grace + its fixed shutdown bound (SHUTDOWN_OVERHEAD
in src/lifecycle.rs, shutdown_overhead_seconds in the contract): the kubelet must not SIGKILL it before. The same
arithmetic as the ECS stopTimeout check in deploy/terraform/modules/service.
*/}}
{{- define "hello-birthday.shutdownBoundSeconds" -}}
{{- $contract := include "hello-birthday.contract" . | fromJson }}
{{- ceil (addf .Values.serve.drainDelaySeconds .Values.serve.shutdownGraceSeconds $contract.shutdown_overhead_seconds) | int64 }}
{{- end }}

{{- define "hello-birthday.terminationGracePeriodSeconds" -}}
{{- $bound := include "hello-birthday.shutdownBoundSeconds" . | int64 }}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}{{ $bound }}{{ else }}{{ .Values.terminationGracePeriodSeconds }}{{ end }}
{{- end }}

{{/*
The environment of the container: every `serve` flag's twin. Names only the chart sets; extraEnv may not repeat
them.
*/}}
{{- define "hello-birthday.env" -}}
{{- $contract := include "hello-birthday.contract" . | fromJson }}
{{- $serve := .Values.serve }}
{{- $listen := ternary (printf "[%s]" $serve.listenAddress) $serve.listenAddress (contains ":" $serve.listenAddress) }}
- name: LISTEN_ADDR
  value: {{ printf "%s:%d" $listen (int64 $contract.container_port) | quote }}
{{- if eq .Values.store.type "postgres" }}
{{- $pg := .Values.store.postgres }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $pg.existingSecret }}
      key: {{ $pg.urlKey }}
{{- if $pg.passwordKey }}
- name: DATABASE_PASSWORD_FILE
  value: /var/run/secrets/hello-birthday/postgres/password
{{- end }}
- name: DATABASE_POOL_SIZE
  value: {{ $pg.poolSize | quote }}
{{- else if eq .Values.store.type "dynamodb" }}
- name: DATABASE_URL
  value: {{ printf "dynamodb://%s" .Values.store.dynamodb.table | quote }}
- name: AWS_REGION
  value: {{ .Values.store.dynamodb.region | quote }}
{{- else }}
- name: DATABASE_URL
  value: sqlite:///data/hello-birthday.db
{{- end }}
- name: LOG_FORMAT
  value: {{ $serve.logFormat | quote }}
- name: LOG_LEVEL
  value: {{ $serve.logLevel | quote }}
- name: REQUEST_TIMEOUT
  value: {{ include "hello-birthday.duration" $serve.requestTimeoutSeconds | quote }}
- name: IDLE_TIMEOUT
  value: {{ include "hello-birthday.duration" (include "hello-birthday.idleTimeoutSeconds" .) | quote }}
- name: HEADER_READ_TIMEOUT
  value: {{ include "hello-birthday.duration" $serve.headerReadTimeoutSeconds | quote }}
- name: SEND_TIMEOUT
  value: {{ include "hello-birthday.duration" $serve.sendTimeoutSeconds | quote }}
- name: MAX_CONNECTIONS
  value: {{ $serve.maxConnections | quote }}
- name: MAX_IN_FLIGHT
  value: {{ $serve.maxInFlight | quote }}
- name: QUEUE_TIMEOUT
  value: {{ include "hello-birthday.duration" $serve.queueTimeoutSeconds | quote }}
- name: DRAIN_DELAY
  value: {{ include "hello-birthday.duration" $serve.drainDelaySeconds | quote }}
- name: SHUTDOWN_GRACE
  value: {{ include "hello-birthday.duration" $serve.shutdownGraceSeconds | quote }}
- name: BODY_LIMIT
  value: {{ $serve.bodyLimitBytes | quote }}
{{- end }}

{{/*
Combinations values.schema.json cannot express (it checks one value at a time): each refused with a sentence that
says what to change. Rendered by the Deployment, so `helm install` and `helm template` stop before any object.
*/}}
{{- define "hello-birthday.validate" -}}
{{- $store := .Values.store.type }}
{{- if eq $store "sqlite" }}
{{- if gt (int .Values.replicaCount) 1 }}
{{- fail (printf "store.type=sqlite keeps every user in one file on one volume, so it runs exactly one replica: set replicaCount to 1 (it is %d), or use store.type=postgres to run several" (int .Values.replicaCount)) }}
{{- end }}
{{- if .Values.autoscaling.enabled }}
{{- fail "store.type=sqlite runs exactly one replica: set autoscaling.enabled=false, or use store.type=postgres to scale" }}
{{- end }}
{{- end }}
{{- if and (eq $store "postgres") (not .Values.store.postgres.existingSecret) }}
{{- fail "store.type=postgres needs store.postgres.existingSecret: the Secret holding DATABASE_URL (key store.postgres.urlKey) and the password (key store.postgres.passwordKey)" }}
{{- end }}
{{- if eq $store "dynamodb" }}
{{- if not .Values.store.dynamodb.table }}
{{- fail "store.type=dynamodb needs store.dynamodb.table: the table Terraform created (deploy/terraform/modules/data)" }}
{{- end }}
{{- if not .Values.store.dynamodb.region }}
{{- fail "store.type=dynamodb needs store.dynamodb.region: the table's AWS region" }}
{{- end }}
{{- end }}
{{- if and .Values.networkPolicy.enabled (ne $store "sqlite") (empty .Values.networkPolicy.store.to) }}
{{- fail (printf "networkPolicy.enabled allows egress only to DNS and the store: set networkPolicy.store.to to where the %s store is (e.g. [{ipBlock: {cidr: 10.0.64.0/20}}]), or disable networkPolicy" $store) }}
{{- end }}
{{- if .Values.autoscaling.enabled }}
{{- if gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas) }}
{{- fail (printf "autoscaling.minReplicas (%d) is above autoscaling.maxReplicas (%d)" (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- end }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled (ne $store "sqlite") }}
{{- $fewest := ternary .Values.autoscaling.minReplicas .Values.replicaCount .Values.autoscaling.enabled | int }}
{{- if le $fewest (int .Values.podDisruptionBudget.maxUnavailable) }}
{{- fail (printf "podDisruptionBudget.maxUnavailable (%d) lets a node drain evict every replica (at least %d run): lower it or run more replicas" (int .Values.podDisruptionBudget.maxUnavailable) $fewest) }}
{{- end }}
{{- end }}
{{- $idle := include "hello-birthday.idleTimeoutSeconds" . | float64 }}
{{- if le $idle (float64 .Values.balancer.idleTimeoutSeconds) }}
{{- fail (printf "serve.idleTimeoutSeconds (%v) must be longer than balancer.idleTimeoutSeconds (%v): otherwise the balancer reuses a keep-alive connection the pod is closing, and its client gets a 502" $idle .Values.balancer.idleTimeoutSeconds) }}
{{- end }}
{{- $bound := include "hello-birthday.shutdownBoundSeconds" . | int64 }}
{{- $grace := include "hello-birthday.terminationGracePeriodSeconds" . | int64 }}
{{- if lt $grace $bound }}
{{- fail (printf "terminationGracePeriodSeconds (%d) is shorter than the service's way out, serve.drainDelaySeconds + serve.shutdownGraceSeconds + %v s of shutdown overhead = %d s: the kubelet would SIGKILL requests in flight. Raise it, or leave it null to derive it" $grace (include "hello-birthday.contract" . | fromJson).shutdown_overhead_seconds $bound) }}
{{- end }}
{{- $managed := list }}
{{- range include "hello-birthday.env" . | fromYamlArray }}{{ $managed = append $managed .name }}{{ end }}
{{- range .Values.extraEnv }}
{{- if has .name $managed }}
{{- fail (printf "extraEnv sets %s, which the chart sets from its values: use the value for it instead (see values.yaml)" .name) }}
{{- end }}
{{- end }}
{{- if and .Values.ingress.enabled .Values.httpRoute.enabled }}
{{- fail "ingress.enabled and httpRoute.enabled both expose the service: pick one" }}
{{- end }}
{{- end }}

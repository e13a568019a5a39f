{{/* Names, labels, images and the wiring of Secrets shared by the templates. */}}

{{- define "convene.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "convene.fullname" -}}
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

{{- define "convene.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every resource. Call with (dict "root" $ "component" "gateway"). */}}
{{- define "convene.labels" -}}
helm.sh/chart: {{ include "convene.chart" .root }}
{{ include "convene.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: convene
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "convene.selectorLabels" -}}
app.kubernetes.io/name: {{ include "convene.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Images: repository:tag, the tag defaulting to the chart's appVersion. */}}
{{- define "convene.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "convene.operatorImage" -}}
{{- printf "%s:%s" .Values.operator.image.repository (default .Chart.AppVersion .Values.operator.image.tag) }}
{{- end }}

{{- define "convene.operatorServiceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (printf "%s-operator" (include "convene.fullname" .)) .Values.operator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Secrets. <fullname>-secrets: JWT keys and the TURN secret. <fullname>-sfu: what SFU pods
read through envFrom (keys are variable names). <fullname>-database: in-chart database URLs. */}}
{{- define "convene.secretsName" -}}
{{- printf "%s-secrets" (include "convene.fullname" .) }}
{{- end }}

{{- define "convene.sfuSecretName" -}}
{{- printf "%s-sfu" (include "convene.fullname" .) }}
{{- end }}

{{- define "convene.databaseSecretName" -}}
{{- printf "%s-database" (include "convene.fullname" .) }}
{{- end }}

{{- define "convene.postgresqlHost" -}}
{{- printf "%s-postgresql" (include "convene.fullname" .) }}
{{- end }}

{{- define "convene.redisHost" -}}
{{- printf "%s-redis" (include "convene.fullname" .) }}
{{- end }}

{{/* An env entry taking CONVENE_DATABASE_URL from the in-chart or the external Secret. */}}
{{- define "convene.databaseUrlEnv" -}}
- name: CONVENE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      {{- if .Values.postgresql.enabled }}
      name: {{ include "convene.databaseSecretName" . }}
      key: database-url
      {{- else }}
      name: {{ .Values.external.existingSecret }}
      key: {{ .Values.external.databaseUrlKey }}
      {{- end }}
{{- end }}

{{- define "convene.redisUrlEnv" -}}
- name: CONVENE_REDIS_URL
  valueFrom:
    secretKeyRef:
      {{- if .Values.redis.enabled }}
      name: {{ include "convene.sfuSecretName" . }}
      key: CONVENE_REDIS_URL
      {{- else }}
      name: {{ .Values.external.existingSecret }}
      key: {{ .Values.external.redisUrlKey }}
      {{- end }}
{{- end }}

{{/* A Secret's existing value for `key` (so generated values survive `helm upgrade`), else
the given value, else a generated one. Call with (dict "root" $ "name" … "key" … "given" …
"generate" …). Returns the base64-encoded value for a Secret's `data`. */}}
{{- define "convene.secretValue" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace .name }}
{{- if .given }}
{{- .given | b64enc }}
{{- else if and $existing (hasKey $existing.data .key) }}
{{- index $existing.data .key }}
{{- else }}
{{- .generate | b64enc }}
{{- end }}
{{- end }}

{{/* The URL users open. */}}
{{- define "convene.publicUrl" -}}
{{- if .Values.publicUrl }}
{{- .Values.publicUrl }}
{{- else if .Values.ingress.enabled }}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.host }}
{{- else }}
{{- print "http://localhost:8080" }}
{{- end }}
{{- end }}

{{- define "convene.turnRealm" -}}
{{- default .Values.turn.host .Values.turn.realm }}
{{- end }}

{{/* The TURN port browsers use for turns: (TLS): 443 through a LoadBalancer, 5349 on a node. */}}
{{- define "convene.turnTlsPort" -}}
{{- if eq .Values.turn.exposure "LoadBalancer" }}443{{ else }}5349{{ end }}
{{- end }}

{{- define "convene.stunUrls" -}}
{{- printf "stun:%s:3478" .Values.turn.host }}
{{- end }}

{{- define "convene.turnUrls" -}}
{{- $urls := list (printf "turn:%s:3478?transport=udp" .Values.turn.host) (printf "turn:%s:3478?transport=tcp" .Values.turn.host) }}
{{- if .Values.turn.tls.enabled }}
{{- $urls = append $urls (printf "turns:%s:%s?transport=tcp" .Values.turn.host (include "convene.turnTlsPort" .)) }}
{{- end }}
{{- join "," $urls }}
{{- end }}

{{/* Hardened container securityContext (non-root, read-only root fs, no capabilities). */}}
{{- define "convene.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "convene.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Checks of combinations the schema cannot express well, with messages that say what to do. */}}
{{- define "convene.validate" -}}
{{- if and .Values.sfuPool.enabled (eq .Values.sfuPool.exposure.mode "Turn") }}
{{- if not .Values.turn.enabled }}
{{- fail "sfuPool.exposure.mode=Turn relays meeting media through the chart's coturn: set turn.enabled=true" }}
{{- end }}
{{- if not .Values.turn.allowedPeerIPs }}
{{- fail "sfuPool.exposure.mode=Turn: coturn must be allowed to relay to the SFU pods; set turn.allowedPeerIPs to the pod CIDR as a range (e.g. [\"10.244.0.0-10.244.255.255\"])" }}
{{- end }}
{{- if .Values.sfuPool.exposure.tcpPort }}
{{- fail "sfuPool.exposure.tcpPort is for HostNetwork exposure only" }}
{{- end }}
{{- end }}
{{- if and .Values.redis.enabled .Values.networkPolicy.enabled .Values.sfuPool.enabled (eq .Values.sfuPool.exposure.mode "HostNetwork") (not .Values.networkPolicy.nodeCidr) }}
{{- fail "redis.enabled with sfuPool.exposure.mode=HostNetwork: SFU pods reach the in-chart Redis from their node's address, which no podSelector matches; set networkPolicy.nodeCidr to the nodes' range (e.g. 10.0.0.0/16) so only the nodes reach Redis, or 0.0.0.0/0 to admit any address and rely on Redis's password alone" }}
{{- end }}
{{- if and (not .Values.postgresql.enabled) (not .Values.external.existingSecret) }}
{{- fail "external.existingSecret must name the Secret holding the database URL (or set postgresql.enabled=true for a quickstart)" }}
{{- end }}
{{- if gt (int .Values.sfuPool.minReplicas) (int .Values.sfuPool.maxReplicas) }}
{{- fail "sfuPool.minReplicas must not exceed sfuPool.maxReplicas" }}
{{- end }}
{{- if gt (int .Values.turn.relayPorts.min) (int .Values.turn.relayPorts.max) }}
{{- fail "turn.relayPorts.min must not exceed turn.relayPorts.max" }}
{{- end }}
{{- if and .Values.gateway.autoscaling.enabled (gt (int .Values.gateway.autoscaling.minReplicas) (int .Values.gateway.autoscaling.maxReplicas)) }}
{{- fail "gateway.autoscaling.minReplicas must not exceed gateway.autoscaling.maxReplicas" }}
{{- end }}
{{- end }}

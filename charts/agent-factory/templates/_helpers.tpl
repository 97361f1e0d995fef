{{/*
Helpers shared by every template. Templates iterate over .Values.workloads and call these
with a context dict: (dict "root" $ "name" $name "w" $workload).
*/}}

{{/*
Whether this release renders workload .name's objects: `render` lists it, or `render` is
empty (the whole chart). Only what is rendered is selected; every cross-workload
computation (NetworkPolicy callers and callees, the one-ingress check) still reads all
enabled workloads, so a release of one workload renders its objects exactly as the whole
chart does. Takes a dict with "root" and "name".
*/}}
{{- define "agent-factory.renders" -}}
{{- $render := .root.Values.render | default list -}}
{{- if or (not $render) (has .name $render) -}}true{{- end -}}
{{- end -}}

{{/*
The workload whose release renders the objects the workloads share (the AnalysisTemplates
every Rollout reads): the first enabled workload, in name order, that ships through Argo
Rollouts. Empty when none does.
*/}}
{{- define "agent-factory.sharedOwner" -}}
{{- $owner := "" -}}
{{- range $name, $w := .Values.workloads -}}
{{- if and $w.enabled (not $owner) (ne (include "agent-factory.strategy" (dict "w" $w)) "rolling") -}}
{{- $owner = $name -}}
{{- end -}}
{{- end -}}
{{- $owner -}}
{{- end -}}

{{/* The chart label: name-version. */}}
{{- define "agent-factory.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select one workload's pods (Deployment, Service, PDB, policies). */}}
{{- define "agent-factory.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/* Standard labels of every object of one workload. */}}
{{- define "agent-factory.labels" -}}
{{ include "agent-factory.selectorLabels" . }}
app.kubernetes.io/part-of: agent-factory
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ include "agent-factory.chart" .root }}
{{- end -}}

{{/* metadata of one workload's object: name, release namespace, labels. */}}
{{- define "agent-factory.metadata" -}}
name: {{ .objectName | default .name }}
namespace: {{ .root.Release.Namespace }}
labels:
  {{- include "agent-factory.labels" . | nindent 2 }}
{{- end -}}

{{/* <registry>/<repository>:<tag>@<digest>: the digest pins it, the tag tells people. */}}
{{- define "agent-factory.image" -}}
{{- $g := .root.Values.global -}}
{{- printf "%s/%s:%s@%s" $g.imageRegistry .w.image.repository .w.image.tag .w.image.digest -}}
{{- end -}}

{{/* Kafka is configured for a workload only when the cluster has it and the workload uses it. */}}
{{- define "agent-factory.usesKafka" -}}
{{- if and .w.uses.kafka .root.Values.global.dataStores.kafka.enabled -}}true{{- end -}}
{{- end -}}

{{/* SHOUTY_SNAKE env var name of an LLM provider secret: anthropic-api-key -> ANTHROPIC_API_KEY. */}}
{{- define "agent-factory.envName" -}}
{{- . | upper | replace "-" "_" | replace "." "_" -}}
{{- end -}}

{{/*
How a workload ships a new version: rolling (a Deployment's RollingUpdate), blueGreen or
canary (an Argo Rollouts Rollout). Takes a dict with "w".
*/}}
{{- define "agent-factory.strategy" -}}
{{- (.w.delivery | default dict).strategy | default "rolling" -}}
{{- end -}}

{{/* What the workload's HPA, ScaledObject and VPA point at: its Deployment or its Rollout. */}}
{{- define "agent-factory.scaleTarget" -}}
{{- if eq (include "agent-factory.strategy" .) "rolling" -}}
apiVersion: apps/v1
kind: Deployment
{{- else -}}
apiVersion: argoproj.io/v1alpha1
kind: Rollout
{{- end }}
name: {{ .name }}
{{- end -}}

{{/* An Argo Rollouts argument placeholder, rendered literally: {{args.<name>}}. */}}
{{- define "agent-factory.arg" -}}
{{- printf "{{args.%s}}" . -}}
{{- end -}}

{{/* Replicas the workload never goes below (what the PDB is checked against). */}}
{{- define "agent-factory.minReplicas" -}}
{{- .w.autoscaling.minReplicas | int -}}
{{- end -}}

{{/*
The ConfigMap's data: the environment a workload runs in and the endpoints of what it uses.
Rendered in the ConfigMap and hashed into the pod template, so a change rolls the pods.
*/}}
{{- define "agent-factory.configData" -}}
{{- $g := .root.Values.global -}}
{{- $ds := $g.dataStores -}}
{{- $data := dict
  "ENVIRONMENT" $g.environment
  "REGION" $g.region
  "AWS_REGION" $g.region
  "AWS_STS_REGIONAL_ENDPOINTS" "regional"
  "SERVICE_NAME" .name
  "LOG_LEVEL" .w.logLevel
  "HTTP_PORT" "8080"
  "METRICS_PORT" "9090"
  "OTEL_SERVICE_NAME" .name
  "OTEL_RESOURCE_ATTRIBUTES" (printf "deployment.environment=%s,cloud.region=%s,service.namespace=agent-factory" $g.environment $g.region)
-}}
{{- if $g.otlpEndpoint -}}
{{- $_ := set $data "OTEL_EXPORTER_OTLP_ENDPOINT" $g.otlpEndpoint -}}
{{- $_ := set $data "OTEL_TRACES_EXPORTER" "otlp" -}}
{{- else -}}
{{- $_ := set $data "OTEL_TRACES_EXPORTER" "none" -}}
{{- end -}}
{{- range .w.calls -}}
{{- $_ := set $data (printf "%s_URL" (include "agent-factory.envName" .)) (printf "http://%s" .) -}}
{{- end -}}
{{- if .w.uses.postgres -}}
{{- $_ := set $data "DATABASE_HOST" $ds.postgres.host -}}
{{- $_ := set $data "DATABASE_PORT" (toString $ds.postgres.port) -}}
{{- $_ := set $data "DATABASE_NAME" $ds.postgres.database -}}
{{- $_ := set $data "DATABASE_USER" $ds.postgres.user -}}
{{- /* Writes: the primary's writer when the local database is a replica, else the same. */ -}}
{{- $writer := $ds.postgres.writer | default (dict "host" $ds.postgres.host "region" $g.region "port" $ds.postgres.port) -}}
{{- $_ := set $data "DATABASE_WRITER_HOST" $writer.host -}}
{{- $_ := set $data "DATABASE_WRITER_PORT" (toString $writer.port) -}}
{{- $_ := set $data "DATABASE_WRITER_REGION" $writer.region -}}
{{- $_ := set $data "DATABASE_AUTH" "iam" -}}
{{- $_ := set $data "DATABASE_SSLMODE" "require" -}}
{{- end -}}
{{- if .w.uses.cache -}}
{{- $_ := set $data "CACHE_HOST" $ds.cache.host -}}
{{- $_ := set $data "CACHE_PORT" (toString $ds.cache.port) -}}
{{- $_ := set $data "CACHE_TLS" "true" -}}
{{- $_ := set $data "CACHE_CLUSTER_MODE" "true" -}}
{{- end -}}
{{- if include "agent-factory.usesKafka" . -}}
{{- $_ := set $data "KAFKA_BOOTSTRAP_SERVERS" $ds.kafka.bootstrapBrokers -}}
{{- $_ := set $data "KAFKA_TOPIC" $ds.kafka.topic -}}
{{- $_ := set $data "KAFKA_CONSUMER_GROUP" $ds.kafka.consumerGroup -}}
{{- $_ := set $data "KAFKA_SECURITY_PROTOCOL" "SASL_SSL" -}}
{{- $_ := set $data "KAFKA_SASL_MECHANISM" "AWS_MSK_IAM" -}}
{{- end -}}
{{- if .w.uses.artifacts -}}
{{- $_ := set $data "ARTIFACTS_BUCKET" $ds.artifactsBucket -}}
{{- end -}}
{{- range $key, $value := .w.env -}}
{{- $_ := set $data $key (toString $value) -}}
{{- end -}}
{{- toYaml $data -}}
{{- end -}}

{{/*
Checks the schema cannot express; each fails the render with the workload's name.
*/}}
{{- define "agent-factory.validate" -}}
{{- $min := include "agent-factory.minReplicas" . | int -}}
{{- if gt $min (int .w.autoscaling.maxReplicas) -}}
{{- fail (printf "workloads.%s.autoscaling.minReplicas (%d) is above maxReplicas (%d)" .name $min (int .w.autoscaling.maxReplicas)) -}}
{{- end -}}
{{- if ne (toString .w.resources.limits.memory) (toString .w.resources.requests.memory) -}}
{{- fail (printf "workloads.%s.resources: the memory limit (%v) must equal the memory request (%v); memory is not overcommitted" .name .w.resources.limits.memory .w.resources.requests.memory) -}}
{{- end -}}
{{- if and .w.uses.llm (not .root.Values.global.llmEgressCidrs) -}}
{{- fail (printf "workloads.%s uses an LLM but global.llmEgressCidrs is empty: it could not reach the provider" .name) -}}
{{- end -}}
{{- range .w.calls -}}
{{- $callee := index $.root.Values.workloads . -}}
{{- if not $callee -}}
{{- fail (printf "workloads.%s.calls names %s, which is not a workload of this chart" $.name .) -}}
{{- end -}}
{{- end -}}
{{- if .w.ingress.enabled -}}
{{- range $other, $ow := .root.Values.workloads -}}
{{- if and $ow.enabled $ow.ingress.enabled (ne $other $.name) -}}
{{- fail (printf "workloads.%s and workloads.%s both set ingress.enabled: one workload serves global.apiHosts" $.name $other) -}}
{{- end -}}
{{- end -}}
{{- if not .root.Values.global.apiHosts -}}
{{- fail (printf "workloads.%s.ingress.enabled needs global.apiHosts" .name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The HPA behaviour (also the ScaledObject's HPA's). */}}
{{- define "agent-factory.behavior" -}}
{{- toYaml .Values.scalingBehavior -}}
{{- end -}}

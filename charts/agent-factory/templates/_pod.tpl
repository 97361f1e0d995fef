{{/*
The pod template of one workload, shared by its Deployment and its Rollout: the pack and
the admission checks judge both the same way. Spread is computed per ReplicaSet revision:
the Deployment controller labels pods pod-template-hash, Argo Rollouts
rollouts-pod-template-hash.
*/}}
{{- define "agent-factory.podTemplate" -}}
{{- $root := .root -}}
{{- $ctx := . -}}
{{- $name := .name -}}
{{- $w := .w -}}
{{- $spread := merge (dict) ($w.topologySpread | default dict) $root.Values.topologySpread -}}
{{- $hash := ternary "pod-template-hash" "rollouts-pod-template-hash" (eq (include "agent-factory.strategy" .) "rolling") -}}
metadata:
  labels:
    {{- include "agent-factory.labels" $ctx | nindent 4 }}
  annotations:
    checksum/config: {{ include "agent-factory.configData" $ctx | sha256sum }}
spec:
  serviceAccountName: {{ $w.serviceAccountName }}
  # IRSA injects its own projected web-identity token; the Kubernetes API token is
  # not needed by any workload.
  automountServiceAccountToken: false
  enableServiceLinks: false
  terminationGracePeriodSeconds: {{ $w.terminationGracePeriodSeconds }}
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    fsGroup: 65532
    seccompProfile:
      type: RuntimeDefault
  {{- with $w.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $w.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  topologySpreadConstraints:
    - maxSkew: 1
      topologyKey: topology.kubernetes.io/zone
      whenUnsatisfiable: {{ $spread.zone }}
      labelSelector:
        matchLabels:
          {{- include "agent-factory.selectorLabels" $ctx | nindent 10 }}
      matchLabelKeys: [{{ $hash }}]
    - maxSkew: 1
      topologyKey: kubernetes.io/hostname
      whenUnsatisfiable: {{ $spread.hostname }}
      labelSelector:
        matchLabels:
          {{- include "agent-factory.selectorLabels" $ctx | nindent 10 }}
      matchLabelKeys: [{{ $hash }}]
  containers:
    - name: {{ $name }}
      image: {{ include "agent-factory.image" $ctx }}
      imagePullPolicy: IfNotPresent
      ports:
        - name: http
          containerPort: 8080
          protocol: TCP
        - name: metrics
          containerPort: 9090
          protocol: TCP
      envFrom:
        - configMapRef:
            name: {{ $name }}
      {{- if or $w.uses.cache (and $w.uses.llm $root.Values.global.llmProviderSecrets) }}
      env:
        {{- if $w.uses.cache }}
        - name: CACHE_AUTH_TOKEN
          valueFrom:
            secretKeyRef:
              name: {{ $name }}-cache
              key: CACHE_AUTH_TOKEN
        {{- end }}
        {{- if $w.uses.llm }}
        {{- range $root.Values.global.llmProviderSecrets }}
        - name: {{ include "agent-factory.envName" .name }}
          valueFrom:
            secretKeyRef:
              name: {{ $name }}-llm
              key: {{ include "agent-factory.envName" .name }}
        {{- end }}
        {{- end }}
      {{- end }}
      resources:
        requests:
          cpu: {{ $w.resources.requests.cpu | quote }}
          memory: {{ $w.resources.requests.memory | quote }}
        limits:
          cpu: {{ $w.resources.limits.cpu | quote }}
          memory: {{ $w.resources.limits.memory | quote }}
      startupProbe:
        httpGet:
          path: /livez
          port: http
        periodSeconds: 5
        timeoutSeconds: 2
        failureThreshold: {{ $w.startupFailureThreshold }}
      livenessProbe:
        httpGet:
          path: /livez
          port: http
        periodSeconds: 10
        timeoutSeconds: 2
        failureThreshold: 3
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        periodSeconds: 5
        timeoutSeconds: 2
        failureThreshold: 3
      {{- if $w.preStopSleepSeconds }}
      lifecycle:
        # Stay up while the endpoint removal reaches kube-proxy and ingress-nginx.
        preStop:
          sleep:
            seconds: {{ $w.preStopSleepSeconds }}
      {{- end }}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        runAsNonRoot: true
        capabilities:
          drop: [ALL]
        seccompProfile:
          type: RuntimeDefault
      volumeMounts:
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: 256Mi
{{- end -}}

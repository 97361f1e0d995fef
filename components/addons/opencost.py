"""OpenCost: what each namespace and tenant costs, from the cluster's own Prometheus.

The chart of opencost/opencost-helm-chart (``opencost``, repository
https://opencost.github.io/opencost-helm-chart), pinned at 2.1.5 (app 1.115.0). Keys
checked against that version's README values table and its ``templates/deployment.yaml``
/ ``templates/service.yaml``: ``opencost.exporter.{defaultClusterId, replicas, resources,
securityContext, extraVolumeMounts, persistence.enabled}``, ``extraVolumes``,
``podSecurityContext``, ``opencost.prometheus.internal.{enabled, serviceName,
namespaceName, port}``, ``opencost.ui.enabled``, ``opencost.metrics.serviceMonitor.enabled``,
``opencost.cloudCost.enabled``, ``opencost.{nodeSelector, tolerations}``,
``networkPolicies.enabled``. The Service (``<release>``, labels app.kubernetes.io/name and
instance) serves the API and the metrics on port ``http`` (9003).

- Prometheus: kube-prometheus-stack's ``kube-prometheus-stack-prometheus.monitoring:9090``
  (release name = chart name, so the chart's fullname is the release). OpenCost reads
  cAdvisor and kube-state-metrics series from it and writes its own cost series back
  through the ServiceMonitor created here (``honorLabels``: OpenCost's own ``namespace``,
  ``pod`` and ``node`` labels must win over the target's, as its queries read them).
- Prices: the AWS public price list over HTTPS (no credentials); spot nodes without a spot
  data feed are priced on demand, so spot-heavy pools read high.
- The UI is off: the Grafana dashboard ``cost-tracking`` is the view.
- The root filesystem is read-only; OpenCost writes its provider config to
  ``/var/configs``, an emptyDir here. Its image runs as ``USER 1001`` (numeric), so the
  restricted ``runAsNonRoot`` admits it.
"""

from __future__ import annotations

from typing import Any

from components.addons.keda import quota_for
from components.addons.scheduling import SYSTEM_PLACEMENT
from components.footprint import Metrics, ReleaseFootprint, Resources, Service, Workload
from components.k8s.namespaces import CONTAINER_SECURITY, POD_SECURITY, Quota

NAME = "opencost"
NAMESPACE = "opencost"
PORT = 9003
PORT_NAME = "http"
MONITOR = "opencost"
# The ServiceMonitor lives with the others, in monitoring (the registry's MonitorSpec).
VIA = f"ServiceMonitor/monitoring/{MONITOR}"
SERVICE_LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/instance": NAME}
PROMETHEUS_SERVICE = "kube-prometheus-stack-prometheus"
PROMETHEUS_NAMESPACE = "monitoring"
PROMETHEUS_PORT = 9090
# What the exporter publishes (node_*_hourly_cost, container_*_allocation*, pv_hourly_cost,
# kubecost_*), read by the cost dashboard.
METRIC_PREFIXES = (
    "node_cpu_hourly_cost",
    "node_ram_hourly_cost",
    "node_gpu_hourly_cost",
    "node_total_hourly_cost",
    "container_cpu_allocation",
    "container_memory_allocation_bytes",
    "container_gpu_allocation",
    "pv_hourly_cost",
    "kubecost_",
)
EXPORTER = Resources("50m", "256Mi", "500m", "1Gi")
MAX_CONTAINER = ("500m", "1Gi")
CONFIG_DIR = "/var/configs"


def values(cluster_name: str) -> dict[str, Any]:
    return {
        "podSecurityContext": POD_SECURITY,
        "networkPolicies": {"enabled": False},
        "extraVolumes": [{"name": "configs", "emptyDir": {}}],
        "opencost": {
            "exporter": {
                "defaultClusterId": cluster_name,
                "replicas": 1,
                "resources": EXPORTER.values(),
                "securityContext": CONTAINER_SECURITY,
                "extraVolumeMounts": [{"name": "configs", "mountPath": CONFIG_DIR}],
                "persistence": {"enabled": False},
            },
            "prometheus": {
                "internal": {
                    "enabled": True,
                    "serviceName": PROMETHEUS_SERVICE,
                    "namespaceName": PROMETHEUS_NAMESPACE,
                    "port": PROMETHEUS_PORT,
                },
            },
            "ui": {"enabled": False},
            "cloudCost": {"enabled": False},
            # Created outside the chart, after the monitoring CRDs (MonitorSpec).
            "metrics": {"serviceMonitor": {"enabled": False}},
            **SYSTEM_PLACEMENT,
        },
    }


def monitor_spec() -> dict[str, Any]:
    return {
        "namespaceSelector": {"matchNames": [NAMESPACE]},
        "selector": {"matchLabels": dict(SERVICE_LABELS)},
        "endpoints": [{"port": PORT_NAME, "interval": "60s", "honorLabels": True}],
    }


def footprint() -> ReleaseFootprint:
    return ReleaseFootprint(
        release=NAME,
        namespace=NAMESPACE,
        workloads=(Workload.deployment("exporter", EXPORTER, replicas=1),),
        services=(Service(NAME, "ClusterIP"),),
        metrics=(Metrics(METRIC_PREFIXES, via=VIA),),
    )


def quota() -> Quota:
    return quota_for(footprint(), MAX_CONTAINER)

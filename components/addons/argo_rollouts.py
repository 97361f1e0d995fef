"""Argo Rollouts: the controller behind the services' progressive delivery (the api-gateway's
blue-green and agent-factory's canary ``Rollout`` objects in ``charts/agent-factory``) and
the ``argoproj.io`` CRDs (Rollout, AnalysisTemplate, AnalysisRun, Experiment,
ClusterAnalysisTemplate) those objects need before they can be created.

Chart ``argo-rollouts`` of https://argoproj.github.io/argo-helm at 2.40.5 (app v1.8.3; the
repository's ``helm search`` listing shows 2.40.3-2.40.5 on v1.8.3). Keys checked against
argoproj/argo-helm ``charts/argo-rollouts/values.yaml`` and ``templates/controller/``:
``installCRDs``, ``keepCRDs``, ``controller.replicas`` (the deployment passes
``--leader-elect`` above one replica; its strategy is ``Recreate``, so no surge pod),
``controller.resources``, ``controller.nodeSelector``/``tolerations``,
``controller.pdb.{enabled,minAvailable}``, ``controller.metrics.enabled`` (Service
``<fullname>-metrics``, port ``metrics`` 8090, selector name/instance/component
``rollouts-controller``), ``controller.metrics.serviceMonitor.enabled``,
``podSecurityContext``, ``containerSecurityContext``, ``dashboard.enabled``,
``providerRBAC.enabled``.

The controller needs no AWS access (no IRSA): it talks to the API server and, for the
analysis runs, to Prometheus in ``monitoring``.
"""

from __future__ import annotations

from typing import Any

from components.addons.keda import quota_for
from components.addons.kube_prometheus_stack import PROMETHEUS_PORT
from components.addons.scheduling import SYSTEM_PLACEMENT
from components.footprint import Metrics, ReleaseFootprint, Resources, Service, Workload
from components.k8s.namespaces import CONTAINER_SECURITY, POD_SECURITY, Quota

CHART = "argo-rollouts"
NAME = "argo-rollouts"
NAMESPACE = "argo-rollouts"
# The controller's metrics Service (controller.metrics.service.{port,portName}) and the
# labels it carries: chart name, release and controller.component.
METRICS_SERVICE = f"{NAME}-metrics"
METRICS_PORT = 8090
METRICS_PORT_NAME = "metrics"
METRICS_LABELS = {
    "app.kubernetes.io/name": "argo-rollouts",
    "app.kubernetes.io/instance": NAME,
    "app.kubernetes.io/component": "rollouts-controller",
}
# rollout_info, rollout_phase, analysis_run_*, controller_*: every series the controller
# exports starts with one of these.
METRIC_PREFIXES = ("rollout_", "analysis_run_", "experiment_", "controller_clientset_")
MONITOR = "argo-rollouts"
CONTROLLER = Resources("100m", "256Mi", "1", "512Mi")
MAX_CONTAINER = ("1", "1Gi")
# One leader reconciles; a second replica only shortens a failover.
MAX_REPLICAS = 2
# What the controller calls besides the API server: Prometheus, for the analysis runs.
EGRESS_TO_PROMETHEUS = ("monitoring", (PROMETHEUS_PORT,))


def replicas(platform_replicas: int) -> int:
    return min(platform_replicas, MAX_REPLICAS)


def values(platform_replicas: int) -> dict[str, Any]:
    count = replicas(platform_replicas)
    return {
        "installCRDs": True,
        # Deleting the CRDs deletes every Rollout, and with it the services' pods.
        "keepCRDs": True,
        "controller": {
            "replicas": count,
            "resources": CONTROLLER.values(),
            # A single replica gets no PDB: it would block every drain.
            "pdb": {"enabled": count >= 2, "minAvailable": 1},
            # The ServiceMonitor comes from Observability, after the monitoring CRDs exist.
            "metrics": {"enabled": True, "serviceMonitor": {"enabled": False}},
            **SYSTEM_PLACEMENT,
        },
        "podSecurityContext": POD_SECURITY,
        "containerSecurityContext": CONTAINER_SECURITY,
        "dashboard": {"enabled": False},
        # Canary and blue-green here need no traffic router (replica-weighted canary).
        "providerRBAC": {"enabled": False},
    }


def footprint(platform_replicas: int) -> ReleaseFootprint:
    return ReleaseFootprint(
        release=NAME,
        namespace=NAMESPACE,
        workloads=(
            # strategy Recreate: the old pod goes before the new one starts.
            Workload("controller", "Deployment", (CONTROLLER,), replicas(platform_replicas)),
        ),
        services=(Service(METRICS_SERVICE, "ClusterIP"),),
        # The chart's CRDs; Argo CD's share the group, so each kind is named.
        crds=tuple(
            f"argoproj.io/{kind}"
            for kind in (
                "Rollout",
                "AnalysisTemplate",
                "ClusterAnalysisTemplate",
                "AnalysisRun",
                "Experiment",
            )
        ),
        metrics=(Metrics(METRIC_PREFIXES, via=f"ServiceMonitor/monitoring/{MONITOR}"),),
    )


def quota(platform_replicas: int) -> Quota:
    return quota_for(footprint(platform_replicas), MAX_CONTAINER)

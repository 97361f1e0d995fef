"""Vertical Pod Autoscaler, recommender only: the platform's VerticalPodAutoscaler objects
are recommendation-only (``updateMode: Off``), so neither the updater (evictions) nor the
admission controller (a mutating webhook on every pod) runs.

The official chart of kubernetes/autoscaler (``vertical-pod-autoscaler``, repository
https://kubernetes.github.io/autoscaler). Keys checked against its README at chart 0.12.0
(app 1.7.1): ``crds.enabled``/``crds.keep`` (from 0.12.0 the CRDs are templates, so
``helm upgrade`` keeps them current), ``podSecurityContext``, ``containerSecurityContext``,
``admissionController.enabled``, ``updater.enabled``, ``recommender.{enabled, replicas,
resources, nodeSelector, tolerations, leaderElection.enabled,
podDisruptionBudget.{enabled,minAvailable}}``.
"""

from __future__ import annotations

from typing import Any

from components.addons.keda import quota_for
from components.addons.scheduling import SYSTEM_PLACEMENT
from components.footprint import ReleaseFootprint, Resources, Workload
from components.k8s.namespaces import CONTAINER_SECURITY, POD_SECURITY, Quota

CHART = "vertical-pod-autoscaler"
NAME = "vertical-pod-autoscaler"
NAMESPACE = "vpa"
# The recommender's metrics (container port "prometheus"); the 0.12.0 chart renders no
# metrics Service or PodMonitor for it. Pod labels: app.kubernetes.io/name and
# app.kubernetes.io/component=recommender.
METRICS_PORT = 8942
METRIC_PREFIXES = ("vpa_recommender_",)
RECOMMENDER_LABELS = {
    "app.kubernetes.io/name": "vertical-pod-autoscaler",
    "app.kubernetes.io/component": "recommender",
}
RECOMMENDER = Resources("50m", "500Mi", "200m", "1000Mi")
MAX_CONTAINER = ("500m", "1Gi")
# The recommender elects a leader when it runs more than one replica: a second one only
# shortens a failover.
MAX_REPLICAS = 2


def replicas(platform_replicas: int) -> int:
    return min(platform_replicas, MAX_REPLICAS)


def values(platform_replicas: int) -> dict[str, Any]:
    count = replicas(platform_replicas)
    return {
        "crds": {"enabled": True, "keep": True},
        # Merged over the chart's runAsNonRoot/runAsUser 65534 for every component.
        "podSecurityContext": POD_SECURITY,
        "containerSecurityContext": CONTAINER_SECURITY,
        "admissionController": {"enabled": False},
        "updater": {"enabled": False},
        "recommender": {
            "enabled": True,
            "replicas": count,
            "leaderElection": {"enabled": count > 1},
            # The chart's default PDB (minAvailable 1) would block every drain of a
            # single replica.
            "podDisruptionBudget": {"enabled": count >= 2, "minAvailable": 1},
            "resources": RECOMMENDER.values(),
            **SYSTEM_PLACEMENT,
        },
    }


def footprint(platform_replicas: int) -> ReleaseFootprint:
    return ReleaseFootprint(
        release=NAME,
        namespace=NAMESPACE,
        workloads=(
            Workload.deployment("recommender", RECOMMENDER, replicas=replicas(platform_replicas)),
        ),
        crds=("autoscaling.k8s.io",),
    )


def quota(platform_replicas: int) -> Quota:
    return quota_for(footprint(platform_replicas), MAX_CONTAINER)

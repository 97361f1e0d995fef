"""metrics-server: the resource metrics API (``kubectl top``, CPU/memory HPAs), on the
system pool."""

from __future__ import annotations

from typing import Any

from components.addons.scheduling import SYSTEM_PLACEMENT
from components.footprint import ReleaseFootprint, Resources, Service, Workload
from components.k8s.namespaces import CONTAINER_SECURITY, POD_SECURITY

NAME = "metrics-server"
NAMESPACE = "kube-system"
# The chart's request (upstream sizing: enough for about 100 nodes) with headroom to the
# pools' maximum of about 185 nodes in the limit.
RESOURCES = Resources("100m", "200Mi", "1", "512Mi")


def values(replicas: int) -> dict[str, Any]:
    return {
        "replicas": replicas,
        # One pod may go during a node drain; the API stays served by the other.
        "podDisruptionBudget": {"enabled": replicas > 1, "minAvailable": 1},
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
            }
        ],
        "priorityClassName": "system-cluster-critical",
        "podSecurityContext": POD_SECURITY,
        "securityContext": {**CONTAINER_SECURITY, "runAsUser": 1000},
        "resources": RESOURCES.values(),
        **SYSTEM_PLACEMENT,
        "apiService": {"create": True},
    }


def footprint(replicas: int) -> ReleaseFootprint:
    return ReleaseFootprint(
        release=NAME,
        namespace=NAMESPACE,
        workloads=(Workload.deployment(NAME, RESOURCES, replicas=replicas),),
        services=(Service(NAME, "ClusterIP"),),
    )

"""What a Helm release puts into the cluster, declared next to the chart's values.

A ``helm.v3.Release`` is one resource in the plan, but the cluster admits the pods and
Services it renders one by one, against the namespace's ResourceQuota and LimitRange, and
Prometheus only sees its metrics if something scrapes them. Each component that installs
a chart declares that here, from the same numbers it hands the chart, and registers the
declarations as the component output ``releaseFootprints``; the offline preview's
admission and wiring checks (``tools/checks.py``) read them from the plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

FOOTPRINTS_OUTPUT = "releaseFootprints"

WorkloadKind = Literal["Deployment", "StatefulSet", "DaemonSet", "Job"]
ServiceType = Literal["ClusterIP", "LoadBalancer", "NodePort"]


@dataclass(frozen=True)
class Resources:
    """One container's requests and limits, as Kubernetes quantities."""

    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str

    def values(self) -> dict[str, dict[str, str]]:
        """The ``resources`` block a chart takes, so values and footprint share one source."""
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        }


@dataclass(frozen=True)
class Workload:
    """A pod-creating object the chart renders.

    ``containers`` lists each container's resources; ``None`` for a container the chart
    leaves without resources (the namespace's LimitRange defaults then apply). A DaemonSet
    runs one pod per node, so its ``replicas`` is ignored and the checks count it at the
    stack's maximum node count. ``surge`` is the extra pods a rolling update starts.
    """

    name: str
    kind: WorkloadKind
    containers: tuple[Resources | None, ...]
    replicas: int = 1
    surge: int = 0

    @classmethod
    def deployment(cls, name: str, *containers: Resources | None, replicas: int) -> Workload:
        """A Deployment with the default RollingUpdate, whose surge pods need quota too."""
        return cls(name, "Deployment", containers, replicas=replicas, surge=rolling_surge(replicas))


def rolling_surge(replicas: int) -> int:
    """Extra pods a Deployment's default RollingUpdate (maxSurge 25 %, rounded up) starts."""
    return math.ceil(replicas / 4)


@dataclass(frozen=True)
class Service:
    """A Service the chart renders; LoadBalancer and NodePort Services allocate node ports
    (one per port) and count against ``services.loadbalancers`` / ``services.nodeports``."""

    name: str
    type: ServiceType
    ports: int = 1


@dataclass(frozen=True)
class Metrics:
    """Metric name prefixes the release exposes and what scrapes them.

    ``via`` names the ServiceMonitor, PodMonitor or Probe in the plan that scrapes them, as
    ``Kind/namespace/name``; ``None`` when the chart itself creates the scrape job from
    these values (kube-prometheus-stack's own monitors, for example).
    """

    prefixes: tuple[str, ...]
    via: str | None = None


@dataclass(frozen=True)
class ReleaseFootprint:
    release: str
    namespace: str
    workloads: tuple[Workload, ...] = ()
    services: tuple[Service, ...] = ()
    # API groups whose CRDs the chart installs, or ``group/Kind`` where charts share a
    # group (Argo CD and Argo Rollouts both serve argoproj.io): custom resources of these
    # must wait for this release.
    crds: tuple[str, ...] = ()
    metrics: tuple[Metrics, ...] = ()

    def to_output(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "namespace": self.namespace,
            "workloads": [
                {
                    "name": w.name,
                    "kind": w.kind,
                    "replicas": w.replicas,
                    "surge": w.surge,
                    "containers": [c.values() if c else None for c in w.containers],
                }
                for w in self.workloads
            ],
            "services": [{"name": s.name, "type": s.type, "ports": s.ports} for s in self.services],
            "crds": list(self.crds),
            "metrics": [{"prefixes": list(m.prefixes), "via": m.via} for m in self.metrics],
        }


def footprints_output(footprints: list[ReleaseFootprint]) -> dict[str, Any]:
    """The ``register_outputs`` entry of a component that installs charts."""
    return {FOOTPRINTS_OUTPUT: [f.to_output() for f in footprints]}

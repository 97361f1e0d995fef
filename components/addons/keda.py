"""KEDA: event-driven autoscaling (ScaledObjects, ScaledJobs) behind the HPA's external
metrics API. The operator reads Kafka consumer lag from MSK with IAM authentication
(``podIdentity.provider: aws``, identity owner keda): its IAM policy may only connect to and
describe the stack's own MSK cluster, its topics and its consumer groups.

Keys checked against kedacore/charts ``keda/templates`` (manager, metrics-server and
webhooks deployments, their PodDisruptionBudgets and the operator's ServiceAccount):
``operator.replicaCount``, ``metricsServer.replicaCount``, ``webhooks.replicaCount``,
``podDisruptionBudget.{operator,metricServer,webhooks}``,
``podSecurityContext.<component>``, ``securityContext.<component>``,
``resources.<component>``, ``prometheus.<component>.enabled``, ``nodeSelector``,
``tolerations``, ``crds.install`` and ``serviceAccount.operator.annotations``.
"""

from __future__ import annotations

from typing import Any

from components.addons.scheduling import SYSTEM_PLACEMENT
from components.footprint import ReleaseFootprint, Resources, Service, Workload
from components.k8s.namespaces import CONTAINER_SECURITY, POD_SECURITY, Quota

NAME = "keda"
NAMESPACE = "keda"
# The chart's operator ServiceAccount (serviceAccount.operator.name, default keda-operator):
# the identity that assumes the IRSA role for ``podIdentity.provider: aws``.
SERVICE_ACCOUNT = "keda-operator"
SERVICE_ACCOUNT_VALUES = ("serviceAccount", "operator")
# What the API server calls: the external metrics APIService (the metrics server's
# secure port, service.portHttpsTarget) and the admission webhook (webhooks.port).
METRICS_API_PORT = 6443
WEBHOOK_PORT = 9443
# MSK's TLS listener with IAM authentication, the only one the platform enables.
KAFKA_IAM_PORT = 9098
# Prometheus metrics of all three components (prometheus.<component>.port, chart default).
METRICS_PORT = 8080
METRIC_PREFIXES = ("keda_",)
OPERATOR = Resources("100m", "128Mi", "1", "1000Mi")
METRICS_SERVER = Resources("100m", "128Mi", "1", "1000Mi")
WEBHOOKS = Resources("50m", "64Mi", "500m", "256Mi")
# The LimitRange of the namespace: the largest container above fits.
MAX_CONTAINER = ("1", "1Gi")
# Only one operator leads and only one metrics server serves external.metrics.k8s.io
# (keda.sh/docs/2.20/operate/cluster, High Availability): a second replica shortens a
# failover, more add nothing.
MAX_REPLICAS = 2
COMPONENTS = ("operator", "metricServer", "webhooks")


def replicas(platform_replicas: int) -> int:
    """Replicas of each KEDA Deployment for the stack's ``platformReplicas``."""
    return min(platform_replicas, MAX_REPLICAS)


def policy(partition: str, account_id: str, region: str, cluster_name: str) -> list[dict[str, Any]]:
    """The Kafka lag trigger through MSK IAM: connect to the stack's MSK cluster
    (``<cluster>-kafka``) and describe its topics and consumer groups, nothing else.

    SecurityArgs carries no MSK ARN, so the cluster is named by its deterministic name with
    the UUID segment wildcarded (``cluster/<name>/<uuid>``), in this account and region only.
    """
    msk = f"{cluster_name}-kafka"
    base = f"arn:{partition}:kafka:{region}:{account_id}"
    return [
        {
            "Sid": "ConnectToPlatformKafka",
            "Effect": "Allow",
            "Action": ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"],
            "Resource": f"{base}:cluster/{msk}/*",
        },
        {
            "Sid": "DescribePlatformTopics",
            "Effect": "Allow",
            "Action": "kafka-cluster:DescribeTopic",
            "Resource": f"{base}:topic/{msk}/*",
        },
        {
            "Sid": "DescribePlatformConsumerGroups",
            "Effect": "Allow",
            "Action": "kafka-cluster:DescribeGroup",
            "Resource": f"{base}:group/{msk}/*",
        },
    ]


def _per_component(value: Any) -> dict[str, Any]:
    return dict.fromkeys(COMPONENTS, value)


def values(platform_replicas: int) -> dict[str, Any]:
    count = replicas(platform_replicas)
    # With two replicas one may go during a drain; a single replica gets no PDB (it would
    # block every drain). An empty map renders no PodDisruptionBudget.
    budget: dict[str, Any] = {"minAvailable": 1} if count >= 2 else {}
    return {
        "crds": {"install": True},
        "operator": {"replicaCount": count},
        "metricsServer": {"replicaCount": count},
        "webhooks": {"enabled": True, "replicaCount": count},
        "podDisruptionBudget": _per_component(budget),
        "podSecurityContext": _per_component(POD_SECURITY),
        "securityContext": _per_component(CONTAINER_SECURITY),
        "resources": {
            "operator": OPERATOR.values(),
            "metricServer": METRICS_SERVER.values(),
            "webhooks": WEBHOOKS.values(),
        },
        # The metrics ports, for a ServiceMonitor/PodMonitor created after the monitoring
        # CRDs exist (the chart's own monitors would need them at install time).
        "prometheus": _per_component({"enabled": True}),
        **SYSTEM_PLACEMENT,
    }


def footprint(platform_replicas: int) -> ReleaseFootprint:
    count = replicas(platform_replicas)
    return ReleaseFootprint(
        release=NAME,
        namespace=NAMESPACE,
        workloads=(
            Workload.deployment("operator", OPERATOR, replicas=count),
            Workload.deployment("metrics-apiserver", METRICS_SERVER, replicas=count),
            Workload.deployment("admission-webhooks", WEBHOOKS, replicas=count),
        ),
        services=(
            Service("keda-operator", "ClusterIP", ports=2),
            Service("keda-operator-metrics-apiserver", "ClusterIP", ports=2),
            Service("keda-admission-webhooks", "ClusterIP"),
        ),
        crds=("keda.sh", "eventing.keda.sh"),
    )


# -- namespace quota ------------------------------------------------------------------

_UNITS = {"m": 0.001, "Mi": 1 / 1024, "Gi": 1.0, "": 1.0}


def _amount(quantity: str) -> float:
    """``100m`` -> 0.1 cores, ``128Mi`` -> 0.125 GiB, ``1`` -> 1 (the units charts use here)."""
    for suffix in ("Mi", "Gi", "m"):
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * _UNITS[suffix]
    return float(quantity)


def quota_for(footprint: ReleaseFootprint, max_container: tuple[str, str]) -> Quota:
    """A quota that admits exactly the release: every pod (rollout surge included) with its
    requests and limits, and a LimitRange ceiling of ``max_container`` (cpu, memory)."""
    cpu = memory = cpu_limits = memory_limits = 0.0
    pods = 0
    for workload in footprint.workloads:
        count = workload.replicas + workload.surge
        pods += count
        for container in workload.containers:
            if container is None:
                raise ValueError(f"{footprint.release}-{workload.name} declares no resources")
            cpu += count * _amount(container.cpu_request)
            memory += count * _amount(container.memory_request)
            cpu_limits += count * _amount(container.cpu_limit)
            memory_limits += count * _amount(container.memory_limit)
    return Quota(
        cpu=cpu,
        memory_gib=memory,
        pods=pods,
        max_container_cpu=max_container[0],
        max_container_memory=max_container[1],
        limits_cpu=cpu_limits,
        limits_memory_gib=memory_limits,
    )


def quota(platform_replicas: int) -> Quota:
    return quota_for(footprint(platform_replicas), MAX_CONTAINER)

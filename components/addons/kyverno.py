"""Kyverno: the in-cluster admission twin of the CrossGuard pack (what the pack checks in the
plan, Kyverno checks on every object the API server admits, whoever sends it).

Only two controllers run: the admission controller (the webhooks: image verification,
digest pins, Pod Security) and the reports controller (policy reports and background scans).
The background controller (generate / mutate-existing rules) and the cleanup controller
(CleanupPolicies, its own webhook) serve nothing here and are off.

Chart ``kyverno`` 3.7.2 (app v1.17.2, https://kyverno.github.io/kyverno/): the version
exists upstream (linode/apl-core PR #3181 renders chart 3.7.2 with images
``reg.kyverno.io/kyverno/kyverno:v1.17.2``); Kyverno 1.17 supports Kubernetes 1.32-1.35
(endoflife.date/kyverno, from kyverno.io/docs/installation). ``kyverno.io/v1``
ClusterPolicy is served by 1.17 (deprecated in 1.19, removal planned for 1.20).
Value keys checked against the chart README (kyverno/kyverno charts/kyverno/README.md):
``crds.install``, ``crds.migration.{enabled,podResources,nodeSelector,tolerations}``,
``config.webhooks`` (the namespaceSelector of every resource webhook),
``config.excludeKyvernoNamespace``, ``admissionController.{replicas,
podDisruptionBudget.{enabled,minAvailable}, podSecurityContext, container.{resources,
securityContext}, initContainer.{resources,securityContext}, rbac.serviceAccount.annotations,
serviceMonitor.enabled, nodeSelector, tolerations, topologySpreadConstraints}``,
``reportsController.{enabled,replicas,resources,podSecurityContext,securityContext,
serviceMonitor.enabled,nodeSelector,tolerations}``, ``backgroundController.enabled``,
``cleanupController.enabled``, ``webhooksCleanup.{enabled,resources,nodeSelector,
tolerations,podSecurityContext}``, ``features.registryClient.credentialHelpers``.

High availability: Kyverno's chart README ("High availability") and installation docs ask
for 3 admission controller replicas in production; a stack with ``platformReplicas: 1``
(dev) runs one (its workload namespaces then wait for that pod when it restarts).
"""

from __future__ import annotations

from typing import Any

from components.addons.keda import quota_for
from components.addons.scheduling import SYSTEM_PLACEMENT
from components.footprint import Metrics, ReleaseFootprint, Resources, Service, Workload
from components.k8s.namespaces import CONTAINER_SECURITY, POD_SECURITY, Quota

NAME = "kyverno"
NAMESPACE = "kyverno"
# The chart's admission controller ServiceAccount (<fullname>-admission-controller): the
# identity that reads signatures from ECR through IRSA.
SERVICE_ACCOUNT = "kyverno-admission-controller"
SERVICE_ACCOUNT_VALUES = ("admissionController", "rbac", "serviceAccount")
# The API server calls the webhook Service (443) on the pods' webhookServer.port.
WEBHOOK_PORT = 9443
# Both controllers serve Prometheus metrics on metricsService.port.
METRICS_PORT = 8000
METRICS_SERVICE = "kyverno-svc-metrics"
METRIC_PREFIXES = ("kyverno_",)
HA_REPLICAS = 3
ADMISSION = Resources("100m", "256Mi", "1", "512Mi")
# kyvernopre, the init container that prepares the webhook certificates (chart default).
ADMISSION_INIT = Resources("10m", "64Mi", "100m", "256Mi")
REPORTS = Resources("100m", "128Mi", "500m", "256Mi")
# The chart's Helm hooks: CRD storage migration after an upgrade, webhook removal before
# an uninstall. They run in the namespace too, so its quota admits them.
HOOK = Resources("10m", "64Mi", "100m", "256Mi")
MAX_CONTAINER = ("1", "1Gi")
# Namespaces Kyverno must never gate: a failing webhook there would stop the cluster
# (kube-system), Kyverno itself, or the add-ons that bring it back.
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", NAMESPACE)


def admission_replicas(platform_replicas: int) -> int:
    return 1 if platform_replicas < 2 else HA_REPLICAS


def ecr_read_statements(partition: str, account_id: str, region: str) -> list[dict[str, Any]]:
    """Read the project's repositories (images and their cosign signatures, stored as
    ``sha256-<digest>.sig`` tags beside them), nothing else. GetAuthorizationToken has no
    resource-level permission: "*" is the only resource IAM takes for it."""
    return [
        {
            "Sid": "EcrToken",
            "Effect": "Allow",
            "Action": "ecr:GetAuthorizationToken",
            "Resource": "*",
        },
        {
            "Sid": "ReadProjectRepositories",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchCheckLayerAvailability",
                "ecr:DescribeImages",
            ],
            "Resource": f"arn:{partition}:ecr:{region}:{account_id}:repository/agent-factory/*",
        },
    ]


def webhook_selector(enforced_namespaces: list[str]) -> dict[str, Any]:
    """The namespaceSelector of every Kyverno resource webhook: only the namespaces its
    policies enforce. The API server never calls Kyverno for anything else, so with the
    policies' failurePolicy Fail a Kyverno outage stops pod admission in the workload
    namespaces only, never in kube-system, kyverno or the add-ons' namespaces.
    ``kubernetes.io/metadata.name`` is set by the API server and cannot be relabelled."""
    return {
        "namespaceSelector": {
            "matchExpressions": [
                {
                    "key": "kubernetes.io/metadata.name",
                    "operator": "In",
                    "values": sorted(enforced_namespaces),
                }
            ]
        }
    }


def values(platform_replicas: int, enforced_namespaces: list[str]) -> dict[str, Any]:
    count = admission_replicas(platform_replicas)
    hook = {"podSecurityContext": POD_SECURITY, **SYSTEM_PLACEMENT}
    return {
        "crds": {
            "install": True,
            "migration": {"enabled": True, "podResources": HOOK.values(), **hook},
        },
        "config": {
            "webhooks": webhook_selector(enforced_namespaces),
            "excludeKyvernoNamespace": True,
        },
        "features": {"registryClient": {"credentialHelpers": ["amazon"]}},
        "admissionController": {
            "replicas": count,
            # The chart always renders a PDB above one replica; one replica gets none
            # (a PDB would block every drain).
            "podDisruptionBudget": {"enabled": count >= 2, "minAvailable": 1},
            "podSecurityContext": POD_SECURITY,
            "container": {"resources": ADMISSION.values(), "securityContext": CONTAINER_SECURITY},
            "initContainer": {
                "resources": ADMISSION_INIT.values(),
                "securityContext": CONTAINER_SECURITY,
            },
            # One replica per zone: a zone outage leaves the webhook answering.
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {
                        "matchLabels": {"app.kubernetes.io/component": "admission-controller"}
                    },
                }
            ],
            # The monitoring CRDs exist: the release waits for kube-prometheus-stack.
            "serviceMonitor": {"enabled": True},
            **SYSTEM_PLACEMENT,
        },
        "reportsController": {
            "enabled": True,
            "replicas": 1,
            "resources": REPORTS.values(),
            "podSecurityContext": POD_SECURITY,
            "securityContext": CONTAINER_SECURITY,
            "serviceMonitor": {"enabled": True},
            **SYSTEM_PLACEMENT,
        },
        "backgroundController": {"enabled": False},
        "cleanupController": {"enabled": False},
        "webhooksCleanup": {"enabled": True, "resources": HOOK.values(), **hook},
    }  # fmt: skip


def footprint(platform_replicas: int) -> ReleaseFootprint:
    count = admission_replicas(platform_replicas)
    return ReleaseFootprint(
        release=NAME,
        namespace=NAMESPACE,
        workloads=(
            Workload.deployment("admission-controller", ADMISSION, ADMISSION_INIT, replicas=count),
            Workload.deployment("reports-controller", REPORTS, replicas=1),
            Workload("migrate-resources", "Job", (HOOK,)),
            Workload("clean-webhooks", "Job", (HOOK,)),
        ),
        services=(
            Service("kyverno-svc", "ClusterIP"),
            Service(METRICS_SERVICE, "ClusterIP"),
            Service("kyverno-reports-controller-metrics", "ClusterIP"),
        ),
        crds=("kyverno.io", "policies.kyverno.io", "reports.kyverno.io", "wgpolicyk8s.io"),
        # The chart's own ServiceMonitors (admission and reports controllers).
        metrics=(Metrics(METRIC_PREFIXES),),
    )


def quota(platform_replicas: int) -> Quota:
    return quota_for(footprint(platform_replicas), MAX_CONTAINER)

"""trivy-operator: vulnerability reports of the images that run in the cluster, as
Prometheus metrics, with an alert on critical CVEs.

Why trivy-operator and not ECR enhanced scanning (Inspector -> EventBridge -> SNS):
- it scans what *runs*: every current workload revision in every namespace, the add-ons'
  images from public registries included; ECR scanning sees only images pushed to this
  account's ECR, running or not, and knows nothing of the cluster;
- ECR's registry scanning configuration is one per account and region, shared by the
  stacks of that account and region (dev, staging and prod run in us-east-1) and by the
  repositories' own scan settings; an operator per cluster owns nothing account-wide;
- its findings are metrics, so they reach people through the alert path every other
  alert uses (Alertmanager routes, runbooks) and Grafana, not a raw EventBridge event.
The cost: scan jobs in the cluster (bounded by ``scanJobsConcurrentLimit`` and the
namespace's quota) and egress to the Trivy database mirror.

Chart ``trivy-operator`` 0.32.1 (app 0.30.1, https://aquasecurity.github.io/helm-charts/):
published (aquasecurity/trivy-operator issue #2924 shows ``helm show chart`` of 0.32.1).
Value keys checked against the chart README (deploy/helm/README.md, chart 0.30.0):
``operator.{replicas,scanJobsConcurrentLimit,vulnerabilityScannerEnabled,
vulnerabilityScannerScanOnlyCurrentRevisions,configAuditScannerEnabled,
rbacAssessmentScannerEnabled,infraAssessmentScannerEnabled,clusterComplianceEnabled,
exposedSecretScannerEnabled,sbomGenerationEnabled}``, ``trivy.{resources,severity,
ignoreUnfixed}``, ``trivyOperator.{scanJobPodTemplatePodSecurityContext,
scanJobPodTemplateContainerSecurityContext,scanJobNodeSelector,scanJobTolerations,
scanJobsInSameNamespace}``, ``serviceMonitor.enabled``, ``serviceAccount.annotations``,
``resources``, ``podSecurityContext``, ``securityContext``, ``nodeSelector``,
``tolerations``. Private ECR images: the operator's ServiceAccount gets an IRSA role with
ECR read (trivy-operator docs, "Managed Registries").
"""

from __future__ import annotations

from typing import Any

from components.addons.keda import quota_for
from components.addons.scheduling import SYSTEM_PLACEMENT
from components.footprint import Metrics, ReleaseFootprint, Resources, Service, Workload
from components.k8s.namespaces import CONTAINER_SECURITY, POD_SECURITY, Quota

NAME = "trivy-operator"
NAMESPACE = "trivy-system"
SERVICE_ACCOUNT = "trivy-operator"
METRIC_PREFIXES = ("trivy_",)
OPERATOR = Resources("100m", "256Mi", "500m", "512Mi")
# One scan job container: the Trivy DB download (init) or one scanned container image.
SCANNER = Resources("100m", "128Mi", "500m", "512Mi")
# Scan jobs at once, and the scanned containers one job may hold (the services' pods have
# one; the add-ons' at most three). A larger pod's job waits for quota, it is not lost.
CONCURRENT_SCANS = 3
CONTAINERS_PER_SCAN = 3
MAX_CONTAINER = ("500m", "512Mi")
# The trivy image runs as root unless told otherwise; restricted PSA needs a user.
SCAN_USER = 10000
SEVERITIES = "HIGH,CRITICAL"


def values() -> dict[str, Any]:
    return {
        "operator": {
            # One leader does the work; the reports outlive a restart.
            "replicas": 1,
            "scanJobsConcurrentLimit": CONCURRENT_SCANS,
            "vulnerabilityScannerEnabled": True,
            "vulnerabilityScannerScanOnlyCurrentRevisions": True,
            # Off: the node collector mounts host paths (refused by restricted PSA), and
            # config/RBAC audits are the CrossGuard pack's and Kyverno's job.
            "configAuditScannerEnabled": False,
            "rbacAssessmentScannerEnabled": False,
            "infraAssessmentScannerEnabled": False,
            "clusterComplianceEnabled": False,
            "exposedSecretScannerEnabled": False,
            "sbomGenerationEnabled": False,
        },
        "trivy": {"resources": SCANNER.values(), "severity": SEVERITIES, "ignoreUnfixed": False},
        "trivyOperator": {
            "scanJobsInSameNamespace": False,
            "scanJobPodTemplatePodSecurityContext": {
                **POD_SECURITY,
                "runAsUser": SCAN_USER,
                "runAsGroup": SCAN_USER,
            },
            "scanJobPodTemplateContainerSecurityContext": CONTAINER_SECURITY,
            "scanJobNodeSelector": SYSTEM_PLACEMENT["nodeSelector"],
            "scanJobTolerations": SYSTEM_PLACEMENT["tolerations"],
        },
        "resources": OPERATOR.values(),
        "podSecurityContext": POD_SECURITY,
        "securityContext": CONTAINER_SECURITY,
        # The monitoring CRDs exist: the release waits for kube-prometheus-stack.
        "serviceMonitor": {"enabled": True},
        **SYSTEM_PLACEMENT,
    }


def footprint() -> ReleaseFootprint:
    return ReleaseFootprint(
        release=NAME,
        namespace=NAMESPACE,
        workloads=(
            Workload.deployment("operator", OPERATOR, replicas=1),
            Workload(
                "scan-job",
                "Job",
                (SCANNER,) * (CONTAINERS_PER_SCAN + 1),
                replicas=CONCURRENT_SCANS,
            ),
        ),
        services=(Service(NAME, "ClusterIP"),),
        crds=("aquasecurity.github.io",),
        # The chart's own ServiceMonitor.
        metrics=(Metrics(METRIC_PREFIXES),),
    )


def quota() -> Quota:
    return quota_for(footprint(), MAX_CONTAINER)

"""cert-manager: certificates from Let's Encrypt over Route 53 DNS-01. Its IAM policy may
only touch the ACME challenge records of the platform's domain."""

from __future__ import annotations

from typing import Any

from components.addons.scheduling import min_two_available
from components.footprint import Metrics, ReleaseFootprint, Resources, Service, Workload
from components.k8s.namespaces import CONTAINER_SECURITY, POD_SECURITY

NAME = "cert-manager"
NAMESPACE = "cert-manager"
SERVICE_ACCOUNT = "cert-manager"
# The observability component's ServiceMonitor (monitoring namespace) scrapes these.
MONITOR = "cert-manager"
METRIC_PREFIXES = ("certmanager_",)
CONTROLLER = Resources("50m", "128Mi", "500m", "512Mi")
WEBHOOK = Resources("20m", "64Mi", "200m", "256Mi")
CAINJECTOR = Resources("20m", "128Mi", "200m", "512Mi")
STARTUPAPICHECK = Resources("10m", "32Mi", "100m", "128Mi")


def policy(partition: str, zone_id: str | None, domain: str) -> list[dict[str, Any]]:
    """DNS-01 in one zone (any zone when ``zone_id`` is None: cert-manager finds it by the
    domain), and only the ``_acme-challenge`` records of ``domain``."""
    return [
        {
            "Effect": "Allow",
            "Action": "route53:GetChange",
            "Resource": f"arn:{partition}:route53:::change/*",
        },
        {
            "Effect": "Allow",
            "Action": ["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets"],
            "Resource": f"arn:{partition}:route53:::hostedzone/{zone_id or '*'}",
            # Only the ACME challenge records, nothing else in the zone.
            "Condition": {
                "ForAllValues:StringLike": {
                    "route53:ChangeResourceRecordSetsNormalizedRecordNames": [
                        f"_acme-challenge.{domain}"
                    ]
                }
            },
        },
        {"Effect": "Allow", "Action": "route53:ListHostedZonesByName", "Resource": "*"},
    ]


def _cainjector_replicas(replicas: int) -> int:
    return 2 if replicas >= 3 else 1


def values(replicas: int) -> dict[str, Any]:
    return {
        "crds": {"enabled": True, "keep": True},
        "replicaCount": replicas,
        "podDisruptionBudget": min_two_available(replicas),
        "securityContext": POD_SECURITY,
        "containerSecurityContext": CONTAINER_SECURITY,
        "resources": CONTROLLER.values(),
        "webhook": {
            "replicaCount": replicas,
            "podDisruptionBudget": min_two_available(replicas),
            "securityContext": POD_SECURITY,
            "containerSecurityContext": CONTAINER_SECURITY,
            "resources": WEBHOOK.values(),
        },
        "cainjector": {
            "replicaCount": _cainjector_replicas(replicas),
            "securityContext": POD_SECURITY,
            "containerSecurityContext": CONTAINER_SECURITY,
            "resources": CAINJECTOR.values(),
        },
        "startupapicheck": {
            "securityContext": POD_SECURITY,
            "containerSecurityContext": CONTAINER_SECURITY,
            "resources": STARTUPAPICHECK.values(),
        },
        # The metrics Service; the observability component's ServiceMonitor scrapes it
        # (the chart's own would need the monitoring CRDs first).
        "prometheus": {"enabled": True, "servicemonitor": {"enabled": False}},
    }


def footprint(replicas: int) -> ReleaseFootprint:
    cainjectors = _cainjector_replicas(replicas)
    return ReleaseFootprint(
        release=NAME,
        namespace=NAMESPACE,
        workloads=(
            Workload.deployment("controller", CONTROLLER, replicas=replicas),
            Workload.deployment("webhook", WEBHOOK, replicas=replicas),
            Workload.deployment("cainjector", CAINJECTOR, replicas=cainjectors),
            # Post-install hook that waits for the webhook.
            Workload("startupapicheck", "Job", (STARTUPAPICHECK,)),
        ),
        services=(
            Service("cert-manager", "ClusterIP"),
            Service("cert-manager-webhook", "ClusterIP"),
            Service("cert-manager-cainjector", "ClusterIP"),
        ),
        crds=("cert-manager.io", "acme.cert-manager.io"),
        metrics=(Metrics(METRIC_PREFIXES, via=f"ServiceMonitor/monitoring/{MONITOR}"),),
    )

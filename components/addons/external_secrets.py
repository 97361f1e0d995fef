"""External Secrets: copies the platform's Secrets Manager entries into Kubernetes Secrets.
Its IAM policy reads only the entries under ``<cluster>/`` and decrypts with their key."""

from __future__ import annotations

from typing import Any

from components.addons.scheduling import min_two_available
from components.footprint import ReleaseFootprint, Resources, Service, Workload
from components.k8s.namespaces import CONTAINER_SECURITY, POD_SECURITY

NAME = "external-secrets"
NAMESPACE = "external-secrets"
SERVICE_ACCOUNT = "external-secrets"
CONTROLLER = Resources("50m", "128Mi", "500m", "512Mi")
WEBHOOK = Resources("20m", "64Mi", "200m", "256Mi")
CERT_CONTROLLER = Resources("20m", "64Mi", "200m", "256Mi")


def policy(
    partition: str, account_id: str, region: str, cluster_name: str, secrets_key_arn: str
) -> list[dict[str, Any]]:
    return [
        {
            "Sid": "PlatformSecretsOnly",
            "Effect": "Allow",
            "Action": [
                "secretsmanager:GetSecretValue",
                "secretsmanager:DescribeSecret",
                "secretsmanager:ListSecretVersionIds",
            ],
            "Resource": (
                f"arn:{partition}:secretsmanager:{region}:{account_id}:secret:{cluster_name}/*"
            ),
        },
        {
            "Sid": "DecryptPlatformSecrets",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": secrets_key_arn,
        },
    ]


def values(replicas: int) -> dict[str, Any]:
    return {
        "installCRDs": True,
        "replicaCount": replicas,
        # More than one controller reconciling the same ExternalSecrets fights.
        "leaderElect": replicas > 1,
        "podDisruptionBudget": min_two_available(replicas),
        "serviceAccount": {"name": SERVICE_ACCOUNT},
        "podSecurityContext": POD_SECURITY,
        "securityContext": CONTAINER_SECURITY,
        "resources": CONTROLLER.values(),
        "webhook": {
            "replicaCount": replicas,
            "podDisruptionBudget": min_two_available(replicas),
            "podSecurityContext": POD_SECURITY,
            "securityContext": CONTAINER_SECURITY,
            "resources": WEBHOOK.values(),
        },
        "certController": {
            "replicaCount": 1,
            "podSecurityContext": POD_SECURITY,
            "securityContext": CONTAINER_SECURITY,
            "resources": CERT_CONTROLLER.values(),
        },
    }


def footprint(replicas: int) -> ReleaseFootprint:
    return ReleaseFootprint(
        release=NAME,
        namespace=NAMESPACE,
        workloads=(
            Workload.deployment("controller", CONTROLLER, replicas=replicas),
            Workload.deployment("webhook", WEBHOOK, replicas=replicas),
            Workload.deployment("cert-controller", CERT_CONTROLLER, replicas=1),
        ),
        # Metrics Services are off by default; only the webhook's is rendered.
        services=(Service("external-secrets-webhook", "ClusterIP"),),
        crds=("external-secrets.io", "generators.external-secrets.io"),
    )

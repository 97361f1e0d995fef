"""Tempo: trace storage in the traces bucket (under ``traces/``), written with its IRSA role."""

from __future__ import annotations

from typing import Any

import pulumi

from components.footprint import ReleaseFootprint, Resources, Service, Workload
from components.k8s.namespaces import CONTAINER_SECURITY, POD_SECURITY

NAME = "tempo"
NAMESPACE = "tracing"
SERVICE_ACCOUNT = "tempo"
OTLP_GRPC_PORT = 4317
# Where collectors send spans (the chart's Service is <release>).
OTLP_ENDPOINT = f"{NAME}.{NAMESPACE}.svc:{OTLP_GRPC_PORT}"
PREFIX = "traces"
RESOURCES = Resources("200m", "1Gi", "1", "4Gi")


def policy(bucket_arn: str, key_arn: str) -> list[dict[str, Any]]:
    """Objects under ``traces/`` of the bucket, and the bucket's KMS key."""
    return [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": f"{bucket_arn}/{PREFIX}/*",
        },
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [f"{PREFIX}/*"]}},
        },
        {
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": key_arn,
        },
    ]


def values(
    *,
    retention_days: int,
    bucket: pulumi.Input[str],
    region: str,
    dns_suffix: pulumi.Input[str],
) -> dict[str, Any]:
    return {
        "serviceAccount": {"name": SERVICE_ACCOUNT},
        "tempo": {
            "retention": f"{retention_days * 24}h",
            "storage": {
                "trace": {
                    "backend": "s3",
                    "s3": {
                        "bucket": bucket,
                        "prefix": PREFIX,
                        # The region's S3 endpoint in the stack's partition.
                        "endpoint": pulumi.Output.concat("s3.", region, ".", dns_suffix),
                    },
                }
            },
            "resources": RESOURCES.values(),
            "securityContext": CONTAINER_SECURITY,
            # The root filesystem is read-only: the WAL needs a writable /var/tempo.
            "extraVolumeMounts": [{"name": "tempo-data", "mountPath": "/var/tempo"}],
        },
        "extraVolumes": [{"name": "tempo-data", "emptyDir": {}}],
        "securityContext": {**POD_SECURITY, "runAsUser": 10001, "fsGroup": 10001},
    }


def footprint() -> ReleaseFootprint:
    return ReleaseFootprint(
        NAME,
        NAMESPACE,
        # The chart's tempo-query sidecar is off by default.
        workloads=(Workload(NAME, "StatefulSet", (RESOURCES,)),),
        services=(Service(NAME, "ClusterIP"),),
    )

"""Fluent Bit: ships every node's container logs to the OpenSearch domain, signing with its
IRSA role. The role exists before the domain (the domain's access policy names it), so the
observability component creates it and attaches :func:`policy` once the domain exists."""

from __future__ import annotations

from typing import Any

import pulumi

from components.addons.scheduling import EVERY_NODE
from components.footprint import ReleaseFootprint, Service, Workload
from components.k8s.namespaces import CONTAINER_SECURITY
from components.node_agents import FLUENT_BIT

NAME = "fluent-bit"
NAMESPACE = "logging"
SERVICE_ACCOUNT = "fluent-bit"


def policy(domain_arn: str) -> list[dict[str, Any]]:
    """Writes (and the reads a bulk client makes) on the log domain, nothing else."""
    return [
        {
            "Effect": "Allow",
            "Action": ["es:ESHttpPost", "es:ESHttpPut", "es:ESHttpGet"],
            "Resource": f"{domain_arn}/*",
        }
    ]


def opensearch_output(host: str, region: str) -> str:
    return (
        "[OUTPUT]\n    Name opensearch\n    Match kube.*\n"
        f"    Host {host}\n    Port 443\n    tls On\n    AWS_Auth On\n"
        f"    AWS_Region {region}\n    Logstash_Format On\n"
        "    Logstash_Prefix logs\n    Suppress_Type_Name On\n"
        "    Retry_Limit 5\n"
    )


def values(
    *,
    annotations: dict[str, pulumi.Input[str]],
    opensearch_endpoint: pulumi.Input[str],
    region: str,
) -> dict[str, Any]:
    """``annotations``: the service account's, binding it to the shipper's IRSA role."""
    return {
        "serviceAccount": {"name": SERVICE_ACCOUNT, "annotations": annotations},
        "resources": FLUENT_BIT.values(),
        "tolerations": EVERY_NODE,
        "securityContext": {**CONTAINER_SECURITY, "runAsNonRoot": False},
        "config": {
            "outputs": pulumi.Output.from_input(opensearch_endpoint).apply(
                lambda host: opensearch_output(host, region)
            ),
        },
    }


def footprint() -> ReleaseFootprint:
    return ReleaseFootprint(
        NAME,
        NAMESPACE,
        workloads=(Workload(NAME, "DaemonSet", (FLUENT_BIT,)),),
        services=(Service(NAME, "ClusterIP"),),
    )

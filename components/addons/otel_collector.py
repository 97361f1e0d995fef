"""OpenTelemetry collector: receives OTLP spans, samples them and forwards them to Tempo."""

from __future__ import annotations

from typing import Any

from components.footprint import ReleaseFootprint, Resources, Service, Workload
from components.k8s.namespaces import CONTAINER_SECURITY, POD_SECURITY

NAME = "otel-collector"
CHART = "opentelemetry-collector"
NAMESPACE = "tracing"
# The chart names its Service <release>-<chart> (the release name does not contain the
# chart's); applications send OTLP/gRPC there.
SERVICE = f"{NAME}-{CHART}"
OTLP_GRPC_ENDPOINT = f"http://{SERVICE}.{NAMESPACE}.svc:4317"
RESOURCES = Resources("200m", "256Mi", "1", "1Gi")


def sampling(percent: float) -> dict[str, Any]:
    return {"probabilistic_sampler": {"sampling_percentage": percent}}


def values(*, replicas: int, sampling_percent: float, tempo_endpoint: str) -> dict[str, Any]:
    """``tempo_endpoint``: host:port of Tempo's OTLP gRPC receiver (plain text in-cluster)."""
    return {
        "mode": "deployment",
        "replicaCount": replicas,
        "image": {"repository": "otel/opentelemetry-collector-contrib"},
        "resources": RESOURCES.values(),
        "securityContext": CONTAINER_SECURITY,
        "podSecurityContext": POD_SECURITY,
        "config": {
            "processors": {**sampling(sampling_percent), "batch": {}},
            "exporters": {"otlp": {"endpoint": tempo_endpoint, "tls": {"insecure": True}}},
            "service": {
                "pipelines": {
                    "traces": {
                        "receivers": ["otlp"],
                        "processors": ["probabilistic_sampler", "batch"],
                        "exporters": ["otlp"],
                    }
                }
            },
        },
    }


def footprint(replicas: int) -> ReleaseFootprint:
    return ReleaseFootprint(
        NAME,
        NAMESPACE,
        workloads=(Workload(SERVICE, "Deployment", (RESOURCES,), replicas, surge=1),),
        services=(Service(SERVICE, "ClusterIP"),),
    )

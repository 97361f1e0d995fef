"""Blackbox exporter: probes the other regions' health endpoints over the internet, as users
reach them (multi-region stacks); its Probe is the add-on's scrape source."""

from __future__ import annotations

from typing import Any

import pulumi

from components.footprint import Metrics, ReleaseFootprint, Resources, Service, Workload
from components.k8s.namespaces import CONTAINER_SECURITY, POD_SECURITY

NAME = "blackbox-exporter"
CHART = "prometheus-blackbox-exporter"
NAMESPACE = "monitoring"
PORT = 9115
RESOURCES = Resources("50m", "64Mi", "200m", "128Mi")


def values(replicas: int) -> dict[str, Any]:
    return {
        # The Service is then <NAME>, which the Probe's prober address names.
        "fullnameOverride": NAME,
        "replicas": replicas,
        "podSecurityContext": {**POD_SECURITY, "runAsUser": 1000, "runAsGroup": 1000},
        "securityContext": CONTAINER_SECURITY,
        "resources": RESOURCES.values(),
    }


def probe_spec(job: str, urls: pulumi.Input[list[str]]) -> dict[str, Any]:
    """A Probe of ``urls`` through this exporter's http_2xx module, as job ``job``."""
    return {
        "jobName": job,
        "interval": "30s",
        "module": "http_2xx",
        "prober": {"url": f"{NAME}.{NAMESPACE}.svc:{PORT}"},
        "targets": {"staticConfig": {"static": urls}},
    }


def footprint(replicas: int, via: str) -> ReleaseFootprint:
    """``via``: the Probe that scrapes the ``probe_`` metrics."""
    return ReleaseFootprint(
        NAME,
        NAMESPACE,
        workloads=(Workload(NAME, "Deployment", (RESOURCES,), replicas, surge=1),),
        services=(Service(NAME, "ClusterIP"),),
        metrics=(Metrics(("probe_",), via=via),),
    )

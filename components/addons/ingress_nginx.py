"""ingress-nginx: the cluster's ingress controller behind an internet-facing NLB, with a
global per-IP rate limit and a CORS allow-list (retired upstream: see docs/architecture.md)."""

from __future__ import annotations

from typing import Any

from components.footprint import Metrics, ReleaseFootprint, Resources, Service, Workload
from components.k8s.namespaces import CONTAINER_SECURITY, POD_SECURITY

NAME = "ingress-nginx"
NAMESPACE = "ingress-nginx"
INGRESS_CLASS = "nginx"
LB = "service.beta.kubernetes.io/aws-load-balancer"
# The ports of the controller's LoadBalancer Service (http, https): the NLB listens on
# them, the NetworkPolicy admits them, and each takes one node port of the quota.
PORTS = (80, 443)
# The observability component's ServiceMonitor (monitoring namespace) scrapes these.
MONITOR = "ingress-nginx-controller"
METRIC_PREFIXES = ("nginx_ingress_controller_",)
CONTROLLER = Resources("500m", "512Mi", "2", "1Gi")
# kube-webhook-certgen (the admission webhook's certificate Jobs): a short Go binary.
ADMISSION_JOB = Resources("10m", "32Mi", "100m", "64Mi")


def nginx_snippets(rate_rps: int, origins: list[str]) -> dict[str, str]:
    """Global per-IP rate limit and a CORS allow-list, as controller ConfigMap snippets.

    ingress-nginx has per-Ingress annotations for both but no global setting; the
    ConfigMap snippets apply to every server it renders.
    """
    allowed = "\n".join(f'    "{origin}" $http_origin;' for origin in origins)
    http = (
        f"limit_req_zone $binary_remote_addr zone=per_ip:32m rate={rate_rps}r/s;\n"
        "limit_req_status 429;\n"
        f'map $http_origin $cors_origin {{\n    default "";\n{allowed}\n}}\n'
    )
    location = (
        f"limit_req zone=per_ip burst={rate_rps * 2} nodelay;\n"
        'more_set_headers "Access-Control-Allow-Origin: $cors_origin";\n'
        'more_set_headers "Access-Control-Allow-Methods: GET, POST, PUT, PATCH, DELETE, OPTIONS";\n'
        'more_set_headers "Access-Control-Allow-Headers: Authorization, Content-Type";\n'
        'more_set_headers "Vary: Origin";\n'
    )
    return {"http-snippet": http, "location-snippet": location}


def values(
    *, replicas: int, rate_limit_rps: int, cors_allowed_origins: list[str], default_certificate: str
) -> dict[str, Any]:
    """``default_certificate``: ``namespace/secret`` of the certificate served to every host
    without its own."""
    config = {
        "use-http2": "true",
        "use-gzip": "true",
        "ssl-protocols": "TLSv1.2 TLSv1.3",
        "hsts": "true",
        "hsts-include-subdomains": "true",
        "server-tokens": "false",
        "use-forwarded-headers": "false",
        **nginx_snippets(rate_limit_rps, cors_allowed_origins),
    }
    return {
        "controller": {
            "replicaCount": replicas,
            "minAvailable": 2 if replicas >= 3 else 0,
            "config": config,
            # Snippets above are admin-owned; tenants must not inject their own.
            "allowSnippetAnnotations": False,
            "extraArgs": {"default-ssl-certificate": default_certificate},
            "ingressClassResource": {"name": INGRESS_CLASS, "default": True},
            "service": {
                "type": "LoadBalancer",
                "externalTrafficPolicy": "Local",
                # http and https (PORTS): the quota grants a node port each.
                "enableHttp": True,
                "enableHttps": True,
                "annotations": {
                    f"{LB}-type": "nlb",
                    f"{LB}-scheme": "internet-facing",
                    f"{LB}-cross-zone-load-balancing-enabled": "true",
                    f"{LB}-backend-protocol": "tcp",
                },
            },
            "podSecurityContext": POD_SECURITY,
            # The controller binds 80/443 as uid 101: restricted allows NET_BIND_SERVICE.
            "containerSecurityContext": {
                **CONTAINER_SECURITY,
                "readOnlyRootFilesystem": False,
                "runAsUser": 101,
                "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
            },
            "resources": CONTROLLER.values(),
            # Scraped by the observability component's ServiceMonitor once the monitoring
            # CRDs exist; the chart's own would fail before them.
            "metrics": {"enabled": True, "serviceMonitor": {"enabled": False}},
            "admissionWebhooks": {
                "enabled": True,
                "createSecretJob": {"resources": ADMISSION_JOB.values()},
                "patchWebhookJob": {"resources": ADMISSION_JOB.values()},
            },
        },
    }


def footprint(replicas: int) -> ReleaseFootprint:
    return ReleaseFootprint(
        release=NAME,
        namespace=NAMESPACE,
        workloads=(
            Workload.deployment("controller", CONTROLLER, replicas=replicas),
            # Helm hooks that create and patch the admission webhook's certificate.
            Workload("admission-create", "Job", (ADMISSION_JOB,)),
            Workload("admission-patch", "Job", (ADMISSION_JOB,)),
        ),
        services=(
            Service("ingress-nginx-controller", "LoadBalancer", len(PORTS)),
            Service("ingress-nginx-controller-admission", "ClusterIP"),
            Service("ingress-nginx-controller-metrics", "ClusterIP"),
        ),
        metrics=(Metrics(METRIC_PREFIXES, via=f"ServiceMonitor/monitoring/{MONITOR}"),),
    )

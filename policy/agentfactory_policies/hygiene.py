"""Hygiene: instance metadata, pinned charts and images, resource limits, IAM, versions."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from .core import Resource, Rule, as_json, as_list, get
from .pods import WORKLOADS, containers, pod_spec

AREA = "hygiene"
HELM = frozenset(
    {"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Chart"}
)
EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")
DEFAULT_REPOSITORIES = [
    "https://kubernetes.github.io/autoscaler",
    "https://kubernetes.github.io/ingress-nginx",
    "https://kubernetes-sigs.github.io/metrics-server",
    "https://charts.jetstack.io",
    "https://charts.external-secrets.io",
    "https://prometheus-community.github.io/helm-charts",
    "https://grafana.github.io/helm-charts",
    "https://fluent.github.io/helm-charts",
    "https://open-telemetry.github.io/opentelemetry-helm-charts",
    "https://aws.github.io/eks-charts",
]


def imdsv2_required(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    options = r.props.get("metadataOptions") or {}
    if options.get("httpTokens") != "required":
        yield "metadataOptions.httpTokens must be 'required' (IMDSv2 only)"
    if int(options.get("httpPutResponseHopLimit") or 1) > 2:
        yield "httpPutResponseHopLimit above 2 lets more network hops reach instance credentials"


def helm_pinned(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    version = str(r.props.get("version") or "")
    if not EXACT_VERSION.match(version):
        yield f"chart version {version or '(none)'} is not an exact version like 9.54.0"


def helm_repository(r: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    allowed = config.get("allowedRepositories", DEFAULT_REPOSITORIES)
    repo = get(r.props, "repositoryOpts.repo") or ""
    chart = str(r.props.get("chart") or "")
    source = repo or chart
    if not any(source.rstrip("/").startswith(a.rstrip("/")) for a in allowed):
        yield f"chart source {source or '(none)'} is not in allowedRepositories"


def _image_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    return ":" in last and not last.endswith(":latest")


def images_pinned(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    for where, container in containers(pod_spec(r)):
        image = str(container.get("image") or "")
        if not _image_pinned(image):
            yield f"{where}: image {image or '(none)'} must pin a tag (not latest) or a digest"


def container_resources(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    for where, container in containers(pod_spec(r)):
        if where.startswith("ephemeralContainers"):
            continue  # the API forbids resources on ephemeral containers
        resources = container.get("resources") or {}
        for kind in ("requests", "limits"):
            missing = [k for k in ("cpu", "memory") if not get(resources, f"{kind}.{k}")]
            if missing:
                yield f"{where}: resources.{kind} missing {missing}"


def iam_no_admin_wildcards(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    document = as_json(r.props.get("policy")) or {}
    for statement in as_list(document.get("Statement")):
        if statement.get("Effect") != "Allow":
            continue
        actions = as_list(statement.get("Action"))
        resources = as_list(statement.get("Resource"))
        if "*" in actions and "*" in resources:
            yield "a statement allows Action '*' on Resource '*'"
        for action in actions:
            if isinstance(action, str) and action.endswith(":*") and "*" in resources:
                yield f"{action} on Resource '*' is broader than any component needs"


def eks_version_supported(r: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    version = str(r.props.get("version") or "")
    minimum = str(config.get("minimumVersion", "1.35"))
    if not version:
        yield "pin the Kubernetes version; an unpinned cluster upgrades on AWS's schedule"
        return
    if tuple(int(p) for p in version.split(".")[:2]) < tuple(
        int(p) for p in minimum.split(".")[:2]
    ):
        yield f"version {version} is older than {minimum} (out of EKS standard support)"


RULES = [
    Rule(
        "imdsv2-required",
        "Instances and launch templates require IMDSv2.",
        "high",
        "Set metadata_options http_tokens='required' and hop limit 1 or 2.",
        AREA,
        resource_check=imdsv2_required,
        types=frozenset({"aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/instance:Instance"}),
    ),
    Rule(
        "helm-chart-pinned",
        "Helm releases pin an exact chart version.",
        "medium",
        "Set version to an exact chart version (no ranges, no latest).",
        AREA,
        resource_check=helm_pinned,
        types=HELM,
    ),
    Rule(
        "helm-allowed-repository",
        "Helm charts come from an allowed repository.",
        "high",
        "Use a chart from allowedRepositories or add the repository to the policy config.",
        AREA,
        resource_check=helm_repository,
        types=HELM,
        config_schema={
            "allowedRepositories": {
                "type": "array",
                "items": {"type": "string"},
                "default": DEFAULT_REPOSITORIES,
            }
        },
    ),
    Rule(
        "image-pinned",
        "Container images pin a tag other than latest, or a digest.",
        "medium",
        "Reference images as repo:1.2.3 or repo@sha256:...",
        AREA,
        resource_check=images_pinned,
        types=WORKLOADS,
    ),
    Rule(
        "container-resources",
        "Containers set CPU and memory requests and limits.",
        "medium",
        "Set resources.requests and resources.limits for cpu and memory.",
        AREA,
        resource_check=container_resources,
        types=WORKLOADS,
    ),
    Rule(
        "iam-no-admin-wildcards",
        "IAM policies never allow '*' or 'service:*' on every resource.",
        "high",
        "List the actions the role needs and scope Resource to ARNs or tag conditions.",
        AREA,
        resource_check=iam_no_admin_wildcards,
        types=frozenset({"aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy"}),
    ),
    Rule(
        "eks-version-supported",
        "EKS clusters pin a Kubernetes version in standard support.",
        "medium",
        "Set cluster.version to a supported minor (see docs/architecture.md).",
        AREA,
        resource_check=eks_version_supported,
        types=frozenset({"eks:index:Cluster", "aws:eks/cluster:Cluster"}),
        config_schema={"minimumVersion": {"type": "string", "default": "1.35"}},
    ),
]

"""Hygiene: instance metadata, pinned charts and images, resource limits, IAM, versions."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from .core import (
    Finding,
    Resource,
    Rule,
    Undecided,
    UnknownRead,
    as_int,
    get,
    is_unknown,
    must,
    present,
)
from .pods import WORKLOADS, containers, is_patch, pod_spec

AREA = "hygiene"
HELM = frozenset(
    {"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Chart"}
)
EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")
DEFAULT_REPOSITORIES = [
    "https://kubernetes.github.io/autoscaler",
    "https://kubernetes.github.io/ingress-nginx",
    "https://charts.jetstack.io",
    "https://charts.external-secrets.io",
    "https://prometheus-community.github.io/helm-charts",
    "https://grafana.github.io/helm-charts",
    "https://fluent.github.io/helm-charts",
    "https://open-telemetry.github.io/opentelemetry-helm-charts",
    "https://aws.github.io/eks-charts",
    "https://kubernetes-sigs.github.io/metrics-server",
    "https://kedacore.github.io/charts",
    "https://argoproj.github.io/argo-helm",
]


def imdsv2_required(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    options = get(r.props, "metadataOptions", {})
    yield from must(
        lambda: get(options, "httpTokens") == "required",
        "metadataOptions.httpTokens must be 'required' (IMDSv2 only)",
    )
    yield from must(
        lambda: as_int(get(options, "httpPutResponseHopLimit"), 1) <= 2,
        "httpPutResponseHopLimit above 2 lets more network hops reach instance credentials",
    )


# The project's own charts: a local path under charts/ is pinned by the commit it is in.
IN_REPO_CHART = re.compile(r"^\./charts/[a-z0-9-]+$")


def helm_pinned(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    chart = r.props.get("chart")
    if isinstance(chart, str) and IN_REPO_CHART.match(chart):
        return
    version = r.props.get("version")
    if is_unknown(version):
        yield Undecided(version.path)
        return
    if not EXACT_VERSION.match(str(version or "")):
        yield f"chart version {version or '(none)'} is not an exact version like 9.54.0"


def _normal(url: str) -> str:
    return url.strip().rstrip("/").lower()


def chart_source(props: Mapping[str, Any]) -> str:
    """Where the chart comes from: the repository URL, or the chart's own URL without its
    last segment (oci://registry/charts/x -> oci://registry/charts), or a local path."""
    repo = get(props, "repositoryOpts.repo")
    chart = props.get("chart")
    for value in (repo, chart):
        if is_unknown(value):
            raise UnknownRead(value.path)
    if repo:
        return str(repo)
    chart = str(chart or "")
    if "://" in chart:
        return chart.rstrip("/").rsplit("/", 1)[0]
    return chart


def helm_repository(r: Resource, config: Mapping[str, Any]) -> Iterator[Finding]:
    allowed = {_normal(a) for a in config.get("allowedRepositories", DEFAULT_REPOSITORIES)}
    try:
        source = chart_source(r.props)
    except UnknownRead as exc:
        yield Undecided(exc.path)
        return
    if source.startswith(("./", "../", "/")) and config.get("allowLocalCharts", True):
        return  # a chart in this repository, reviewed with the code
    # Whole URLs only: https://charts.jetstack.io.evil.example starts with an allowed one.
    if _normal(source) not in allowed:
        yield f"chart source {source or '(none)'} is not in allowedRepositories"


def _image_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    return ":" in last and not last.endswith(":latest")


def images_pinned(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    loose = is_patch(r)
    try:
        items = list(containers(pod_spec(r)))
    except UnknownRead as exc:
        yield Undecided(exc.path)
        return
    for where, container in items:
        image = container.get("image")
        if is_unknown(image):
            yield Undecided(image.path)
        elif image is None and loose:
            continue
        elif not _image_pinned(str(image or "")):
            yield f"{where}: image {image or '(none)'} must pin a tag (not latest) or a digest"


def container_resources(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    if is_patch(r):
        return  # a patch keeps the resources the object already declares
    try:
        items = list(containers(pod_spec(r)))
    except UnknownRead as exc:
        yield Undecided(exc.path)
        return
    for where, container in items:
        if where.startswith("ephemeralContainers"):
            continue  # the API forbids resources on ephemeral containers
        resources = container.get("resources") or {}
        for kind in ("requests", "limits"):
            missing = [k for k in ("cpu", "memory") if not present(get(resources, f"{kind}.{k}"))]
            if missing:
                yield f"{where}: resources.{kind} missing {missing}"


def eks_version_supported(r: Resource, config: Mapping[str, Any]) -> Iterator[Finding]:
    version = r.props.get("version")
    if is_unknown(version):
        yield Undecided(version.path)
        return
    version = str(version or "")
    minimum = str(config.get("minimumVersion", "1.35"))
    if not version:
        yield "pin the Kubernetes version; an unpinned cluster upgrades on AWS's schedule"
        return
    if tuple(int(p) for p in version.split(".")[:2]) < tuple(
        int(p) for p in minimum.split(".")[:2]
    ):
        yield f"version {version} is older than {minimum} (out of EKS standard support)"


# -- what a release's values decide about its pods -------------------------------------------

HOST_FLAGS = ("hostNetwork", "hostPID", "hostIPC")
SNIPPET_SETTINGS = {
    # ingress-nginx: annotations that inject raw nginx config into the shared controller
    # (CVE-2021-25742, CVE-2025-1974 "IngressNightmare" class).
    "allowSnippetAnnotations": True,
    "allow-snippet-annotations": "true",
    "annotations-risk-level": "Critical",
}


def _walk(value: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """(path, key, value) for every key of a values tree."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            yield here, str(key), item
            yield from _walk(item, here)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def _values_findings(values: Any, exempt: bool) -> Iterator[Finding]:
    for path, key, value in _walk(values, "values"):
        if is_unknown(value):
            if key in (*HOST_FLAGS, "privileged", "runAsUser", "runAsNonRoot", "tag", "image"):
                yield Undecided(path)
            continue
        if key == "tag" and str(value).strip().lower() == "latest":
            yield f"{path}: image tag 'latest' is not pinned"
        elif key == "image" and isinstance(value, str) and not _image_pinned(value):
            yield f"{path}: image {value} must pin a tag (not latest) or a digest"
        elif key in SNIPPET_SETTINGS and str(value).lower() == str(SNIPPET_SETTINGS[key]).lower():
            yield f"{path}: {value} lets Ingress annotations inject nginx configuration"
        elif exempt:
            continue
        elif key == "privileged" and value is True:
            yield f"{path}: privileged containers are forbidden"
        elif key in HOST_FLAGS and value is True:
            yield f"{path}: {key} shares the node's namespace"
        elif key == "runAsUser" and value in (0, 0.0, "0"):
            yield f"{path}: runs as root (uid 0)"
        elif key == "runAsNonRoot" and value is False:
            yield f"{path}: runAsNonRoot is false"
        elif key == "allowPrivilegeEscalation" and value is True:
            yield f"{path}: allowPrivilegeEscalation is true"


def helm_values_pod_security(r: Resource, config: Mapping[str, Any]) -> Iterator[Finding]:
    """A release's pods never reach the pack as objects (the chart renders them inside the
    provider), so the values that decide their security are read here. Namespaces exempt
    from PSS restricted in the policy config (node exporters, log shippers) may use host
    access; nobody may use unpinned images or nginx snippet annotations."""
    namespace = r.props.get("namespace")
    values = r.props.get("values")
    if is_unknown(values):
        yield Undecided(values.path)
        return
    if is_unknown(namespace):
        yield Undecided(namespace.path)
        exempt = True  # judge only what holds in every namespace
    else:
        exempt = str(namespace or "default") in config.get("exemptions", {})
    yield from _values_findings(values, exempt)


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
                "description": "whole repository URLs (a longer URL that starts with one is "
                "not allowed)",
                "default": DEFAULT_REPOSITORIES,
                "x-relax": "subset",
            },
            "allowLocalCharts": {
                "type": "boolean",
                "description": "charts by path inside this repository",
                "default": True,
                "x-relax": "free",
            },
        },
    ),
    Rule(
        "helm-values-pod-security",
        "Helm values keep the release's pods non-root, unprivileged, off the host's "
        "namespaces, on pinned images, and ingress-nginx without snippet annotations.",
        "high",
        "Set the chart's securityContext values (runAsNonRoot, no privileged, no host*), pin "
        "image tags, keep controller.allowSnippetAnnotations false.",
        AREA,
        resource_check=helm_values_pod_security,
        types=HELM,
        config_schema={
            "exemptions": {
                "type": "object",
                "description": "namespace -> reason its pods need host access (the same list "
                "as namespace-pss-restricted)",
                "additionalProperties": {"type": "string"},
                "default": {},
                "x-relax": "reasoned",
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
        security=False,
    ),
    Rule(
        "eks-version-supported",
        "EKS clusters pin a Kubernetes version in standard support.",
        "medium",
        "Set cluster.version to a supported minor (see docs/architecture.md).",
        AREA,
        resource_check=eks_version_supported,
        types=frozenset({"eks:index:Cluster", "aws:eks/cluster:Cluster"}),
        config_schema={"minimumVersion": {"type": "string", "default": "1.35", "x-relax": "free"}},
        security=False,
    ),
]

"""Application workloads: Deployments, StatefulSets and Argo Rollouts' Rollouts in the
GreenLang and tenant namespaces survive node drains, scale, declare their resources and
health, and run pinned private images.

Scope: a workload is judged when its namespace matches ``namespaces`` (``greenlang-*``,
``tenant-*``). The stack rules also take every Namespace of the plan that carries the
tenancy module's ``agent-factory.io/tenant`` label; the resource rules see one object and
no Namespace, so for them a tenant namespace is one named ``tenant-<tenant>`` (what
``components.k8s.tenancy.tenant_namespace`` names it). Pulumi resources and the children of
a rendered ``kubernetes.helm.v4.Chart`` (the same type tokens; inputs are the plain object)
are read alike. Objects are linked by namespace and name, as the API server links them.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .core import (
    Finding,
    Resource,
    Rule,
    Undecided,
    UnknownRead,
    as_int,
    as_list,
    as_mapping,
    get,
    guarded,
    is_unknown,
    known,
    matches,
    present,
)
from .pods import pod_spec

AREA = "workloads"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
# Argo Rollouts' replacement of a Deployment (blue-green, canary): judged like one.
ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout"
WORKLOAD_TYPES = frozenset({DEPLOYMENT, STATEFULSET, ROLLOUT})
# What must be an autoscaler's target (a StatefulSet's replicas are its storage's business).
SCALABLE_TYPES = frozenset({DEPLOYMENT, ROLLOUT})
NAMESPACE = "kubernetes:core/v1:Namespace"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
HPA_TYPES = frozenset(
    {
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
        "kubernetes:autoscaling/v1:HorizontalPodAutoscaler",
    }
)
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
DEFAULT_NAMESPACES = ["greenlang-*", "tenant-*"]
TENANT_LABEL = "agent-factory.io/tenant"
# Private ECR of any account and region (aws and aws-cn partitions).
PRIVATE_ECR = r"^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/"
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
CONTAINER_FIELDS = {"containers": "container", "initContainers": "initContainer"}


# -- scope and names ---------------------------------------------------------------------


def kind_of(r: Resource) -> str:
    return r.type.rsplit(":", 1)[-1]


def identity(r: Resource) -> tuple[str, Any]:
    """(namespace, name) of an object; an unknown namespace raises (the scope needs it),
    an unknown name is returned as is (messages may print it, links may not use it)."""
    namespace = get(r.props, "metadata.namespace")
    if is_unknown(namespace):
        raise UnknownRead(namespace.path)
    return str(namespace or "default"), get(r.props, "metadata.name", r.name)


def subject(r: Resource, namespace: str, name: Any) -> str:
    return f"{kind_of(r)} {namespace}/{name}"


def _patterns(config: Mapping[str, Any]) -> list[str]:
    return [str(p) for p in config.get("namespaces", DEFAULT_NAMESPACES)]


@dataclass(frozen=True)
class Workload:
    resource: Resource
    namespace: str
    name: Any  # str, or an Unknown

    @property
    def kind(self) -> str:
        return kind_of(self.resource)

    def __str__(self) -> str:
        return subject(self.resource, self.namespace, self.name)


def workloads_in_scope(
    resources: Sequence[Resource], config: Mapping[str, Any]
) -> tuple[list[Workload], list[tuple[str, Finding]]]:
    """The workloads in a namespace of the scope, and Undecided for those whose namespace
    (or the tenant label of their namespace) is unknown."""
    patterns = _patterns(config)
    label = str(config.get("tenantLabel", TENANT_LABEL))
    tenants: set[str] = set()
    unsure: dict[str, str] = {}
    for r in resources:
        if r.type != NAMESPACE:
            continue
        name = get(r.props, "metadata.name", r.name)
        if is_unknown(name):
            continue  # a workload names its namespace; an unnamed one holds none of them
        labels = get(r.props, "metadata.labels")
        if is_unknown(labels):
            unsure[str(name)] = labels.path
        elif isinstance(labels, Mapping) and label in labels:
            tenants.add(str(name))
    found: list[Workload] = []
    undecided: list[tuple[str, Finding]] = []
    for r in resources:
        if r.type not in WORKLOAD_TYPES:
            continue
        try:
            namespace, name = identity(r)
        except UnknownRead as exc:
            undecided.append((r.urn, Undecided(exc.path)))
            continue
        if matches(namespace, patterns) or namespace in tenants:
            found.append(Workload(r, namespace, name))
        elif namespace in unsure:
            undecided.append((r.urn, Undecided(unsure[namespace])))
    return found, undecided


# -- autoscalers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Scaler:
    resource: Resource
    label: str  # "HorizontalPodAutoscaler ns/name"
    setting: str  # "minReplicas" or "minReplicaCount"
    minimum: Any  # int, or an Unknown


@dataclass
class Scalers:
    """Autoscalers by (namespace, target kind, target name); where a target is unknown,
    the namespace (or, for an unknown namespace, every namespace) cannot be decided."""

    by_target: dict[tuple[str, str, str], list[Scaler]]
    unsure: dict[str, str]
    unsure_anywhere: str | None

    def of(self, workload: Workload) -> list[Scaler]:
        name = known(workload.name)
        return self.by_target.get((workload.namespace, workload.kind, str(name)), [])

    def undecided(self, namespace: str) -> str | None:
        return self.unsure.get(namespace) or self.unsure_anywhere


def scalers(resources: Sequence[Resource]) -> Scalers:
    result = Scalers({}, {}, None)
    for r in resources:
        if r.type in HPA_TYPES:
            default_kind, setting, default_min = None, "minReplicas", 1
        elif r.type == SCALED_OBJECT:
            default_kind, setting, default_min = "Deployment", "minReplicaCount", 0
        else:
            continue
        try:
            namespace, name = identity(r)
        except UnknownRead as exc:
            result.unsure_anywhere = result.unsure_anywhere or exc.path
            continue
        ref = get(r.props, "spec.scaleTargetRef")
        kind = get(ref, "kind", default_kind) if isinstance(ref, Mapping) else ref
        target = get(ref, "name") if isinstance(ref, Mapping) else ref
        unknown = next((v for v in (kind, target) if is_unknown(v)), None)
        if unknown is not None:
            result.unsure.setdefault(namespace, unknown.path)
            continue
        if not target:
            continue
        minimum = get(r.props, f"spec.{setting}", default_min)
        scaler = Scaler(r, subject(r, namespace, name), setting, minimum)
        result.by_target.setdefault((namespace, str(kind), str(target)), []).append(scaler)
    return result


def minimum_replicas(workload: Workload, found: Scalers) -> tuple[int, str]:
    """The fewest replicas the workload may run, and where that number comes from: its
    autoscalers' minimum, else spec.replicas (default 1). Unknowns raise."""
    targeting = found.of(workload)
    if targeting:
        counted = [(as_int(s.minimum), f"{s.label} {s.setting}") for s in targeting]
        return min(counted)
    unsure = found.undecided(workload.namespace)
    if unsure:
        raise UnknownRead(unsure)  # an autoscaler whose target is unknown may be its own
    return as_int(get(workload.resource.props, "spec.replicas"), 1), "spec.replicas"


# -- workload-disruption-budget --------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    resource: Resource
    namespace: str
    name: Any

    def __str__(self) -> str:
        return subject(self.resource, self.namespace, self.name)


def _expression_holds(expression: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    key = known(expression.get("key"))
    operator = known(expression.get("operator"))
    values = {known(v) for v in as_list(expression.get("values"))}
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    value = known(labels.get(key))
    if operator == "In":
        return key in labels and value in values
    return operator == "NotIn" and value not in values


def _selects(selector: Any, labels: Mapping[str, Any]) -> bool:
    """Whether a policy/v1 label selector selects pods with ``labels`` (a null selector
    selects nothing, an empty one every pod of the namespace)."""
    if selector is None:
        return False
    selector = as_mapping(selector)
    for key, value in as_mapping(selector.get("matchLabels")).items():
        if key not in labels or known(labels[key]) != known(value):
            return False
    return all(
        _expression_holds(as_mapping(item), labels)
        for item in as_list(selector.get("matchExpressions"))
    )


def _scaled(value: Any, replicas: int) -> int | None:
    """An IntOrString of a PDB as a number of pods (percentages round up, as the
    disruption controller rounds them); None when it is not set."""
    value = known(value)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip()
    try:
        if text.endswith("%"):
            return math.ceil(float(text[:-1]) * replicas / 100)
        return int(float(text))
    except ValueError:
        return None  # the API server rejects it; nothing to judge here


def blocks_drains(spec: Mapping[str, Any], replicas: int) -> str | None:
    """The setting that leaves no pod evictable when ``replicas`` pods run, or None."""
    min_available = spec.get("minAvailable")
    required = _scaled(min_available, replicas)
    if required is not None and required >= replicas:
        return f"minAvailable {min_available}"
    max_unavailable = spec.get("maxUnavailable")
    allowed = _scaled(max_unavailable, replicas)
    if allowed is not None and allowed <= 0:
        return f"maxUnavailable {max_unavailable}"
    return None


def disruption_budget(
    resources: Sequence[Resource], config: Mapping[str, Any]
) -> Iterator[tuple[str, Finding]]:
    in_scope, undecided = workloads_in_scope(resources, config)
    yield from undecided
    budgets: dict[str, list[Budget]] = {}
    budget_unsure: str | None = None
    for r in resources:
        if r.type != PDB:
            continue
        try:
            namespace, name = identity(r)
        except UnknownRead as exc:
            budget_unsure = budget_unsure or exc.path
            continue
        budgets.setdefault(namespace, []).append(Budget(r, namespace, name))
    found = scalers(resources)
    for workload in in_scope:
        urn = workload.resource.urn
        try:
            labels = as_mapping(get(workload.resource.props, "spec.template.metadata.labels"))
        except UnknownRead as exc:
            yield urn, Undecided(exc.path)
            continue
        covering: list[Budget] = []
        unsure = budget_unsure
        for budget in budgets.get(workload.namespace, []):
            try:
                if _selects(get(budget.resource.props, "spec.selector"), labels):
                    covering.append(budget)
            except UnknownRead as exc:
                unsure = unsure or exc.path
        if not covering:
            if unsure:
                yield urn, Undecided(unsure)
                continue
            others = [str(b.name) for b in budgets.get(workload.namespace, [])]
            elsewhere = f" ({', '.join(others)} select other pods)" if others else ""
            yield (
                urn,
                f"{workload} has no PodDisruptionBudget in namespace {workload.namespace} "
                f"whose spec.selector.matchLabels are a subset of its pod labels "
                f"{dict(labels)}{elsewhere}",
            )
            continue
        for budget in covering:
            yield from _blocking(workload, budget, found)


def _blocking(workload: Workload, budget: Budget, found: Scalers) -> Iterator[tuple[str, Finding]]:
    try:
        minimum, source = minimum_replicas(workload, found)
        replicas = max(minimum, 1)  # scaled to zero, there is nothing to evict
        setting = blocks_drains(as_mapping(get(budget.resource.props, "spec")), replicas)
    except UnknownRead as exc:
        yield budget.resource.urn, Undecided(exc.path)
        return
    if setting:
        yield (
            budget.resource.urn,
            f"{budget}: {setting} lets no pod of {workload} be evicted at its minimum of "
            f"{replicas} replica(s) ({source} {minimum}): it blocks every node drain",
        )


# -- workload-autoscaled -----------------------------------------------------------------------


def autoscaled(
    resources: Sequence[Resource], config: Mapping[str, Any]
) -> Iterator[tuple[str, Finding]]:
    in_scope, undecided = workloads_in_scope(resources, config)
    scalable = {r.urn for r in resources if r.type in SCALABLE_TYPES}
    yield from (item for item in undecided if item[0] in scalable)
    found = scalers(resources)
    for workload in in_scope:
        if workload.resource.type not in SCALABLE_TYPES:
            continue
        urn = workload.resource.urn
        try:
            targeting = found.of(workload)
        except UnknownRead as exc:
            yield urn, Undecided(exc.path)
            continue
        if len(targeting) > 1:
            names = ", ".join(s.label for s in targeting)
            yield urn, f"{workload} is the scaleTargetRef of {names}: they fight over replicas"
        elif not targeting:
            unsure = found.undecided(workload.namespace)
            if unsure:
                yield urn, Undecided(unsure)
            else:
                yield (
                    urn,
                    f"{workload} is not the scaleTargetRef of a HorizontalPodAutoscaler or a "
                    f"KEDA ScaledObject in namespace {workload.namespace}",
                )


# -- container rules ---------------------------------------------------------------------------


ContainerCheck = Callable[[str, Any], Iterator[Finding]]


def per_container(
    r: Resource, config: Mapping[str, Any], fields: Sequence[str], check: ContainerCheck
) -> Iterator[Finding]:
    """``check("Kind ns/name: container c", container)`` for each container of ``fields``
    of an in-scope workload, each isolated from the others' unknowns; Undecided when the
    scope (the namespace) or the pod spec is unknown."""
    try:
        namespace, name = identity(r)
        if not matches(namespace, _patterns(config)):
            return
        spec = pod_spec(r)
        items = [(field, c) for field in fields for c in as_list(spec.get(field))]
    except UnknownRead as exc:
        yield Undecided(exc.path)
        return
    for field, container in items:
        label = get(container, "name", "?") if isinstance(container, Mapping) else "?"
        where = f"{subject(r, namespace, name)}: {CONTAINER_FIELDS[field]} {label}"
        yield from guarded(check, where, container)


def resources_set(r: Resource, config: Mapping[str, Any]) -> Iterator[Finding]:
    def check(where: str, container: Any) -> Iterator[Finding]:
        resources = as_mapping(container).get("resources")
        if is_unknown(resources):
            return  # a presence check: an unknown value is set
        missing = [
            f"{kind}.{key}"
            for kind in ("requests", "limits")
            for key in ("cpu", "memory")
            if not present(get(resources, f"{kind}.{key}"))
        ]
        if missing:
            yield f"{where} does not set resources {', '.join(missing)}"

    yield from per_container(r, config, ("containers", "initContainers"), check)


def probes(r: Resource, config: Mapping[str, Any]) -> Iterator[Finding]:
    def check(where: str, container: Any) -> Iterator[Finding]:
        container = as_mapping(container)
        missing = [p for p in ("readinessProbe", "livenessProbe") if not present(container.get(p))]
        if missing:
            yield f"{where} has no {' and no '.join(missing)}"

    yield from per_container(r, config, ("containers",), check)


def parse_image(image: str) -> tuple[str, str, str, str | None]:
    """(registry, repository, tag, digest) of an image reference; a reference without a
    registry host is Docker Hub's (``nginx`` is ``docker.io/library/nginx``)."""
    name, at, digest = image.partition("@")
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "docker.io", name if slash else f"library/{name}"
    head, _, last = path.rpartition("/")
    repository, _, tag = last.partition(":")
    return registry, f"{head}/{repository}" if head else repository, tag, digest if at else None


def _allowed(registry: str, reference: str, patterns: Sequence[str]) -> bool:
    """An entry starting with ``^`` is a regular expression matched from the start of the
    whole reference (registry included); any other entry is a glob the registry host must
    match entirely (``ghcr.io`` does not admit ``ghcr.io.evil.example``)."""
    for pattern in patterns:
        if pattern.startswith("^"):
            if re.match(pattern, reference):
                return True
        elif fnmatch.fnmatchcase(registry, pattern):
            return True
    return False


def image_problems(image: str, patterns: Sequence[str]) -> list[str]:
    registry, repository, tag, digest = parse_image(image)
    problems: list[str] = []
    reference = f"{registry}/{repository}" + (f":{tag}" if tag else "")
    if not _allowed(registry, reference + (f"@{digest}" if digest else ""), patterns):
        implied = "" if image.startswith(f"{registry}/") else " (implied: it names no registry)"
        problems.append(f"registry {registry}{implied} is not in allowedRegistries")
    if not tag:
        problems.append("names no tag")
    elif tag.lower() == "latest":
        problems.append("uses the tag latest")
    if digest is None:
        problems.append("is not pinned by digest (@sha256:<64 hex>)")
    elif not DIGEST.match(digest):
        problems.append(f"digest {digest} is not sha256:<64 lowercase hex digits>")
    return problems


def image_pinned(r: Resource, config: Mapping[str, Any]) -> Iterator[Finding]:
    patterns: list[str] = []
    for entry in config.get("allowedRegistries", [PRIVATE_ECR]):
        try:
            if str(entry).startswith("^"):
                re.compile(str(entry))
            patterns.append(str(entry))
        except re.error as exc:
            yield f"allowedRegistries entry {entry!r} is not a valid regular expression: {exc}"

    def check(where: str, container: Any) -> Iterator[Finding]:
        image = as_mapping(container).get("image")
        if is_unknown(image):
            yield Undecided(image.path)
        elif not image:
            yield f"{where} names no image"
        else:
            problems = image_problems(str(image), patterns)
            if problems:
                yield f"{where}: image {image} {'; '.join(problems)}"

    yield from per_container(r, config, ("containers", "initContainers"), check)


# -- rules -------------------------------------------------------------------------------------

NAMESPACES_SCHEMA = {
    "type": "array",
    "items": {"type": "string"},
    "description": "namespace globs whose Deployments and StatefulSets are judged (a prod "
    "stack may add namespaces, not drop one)",
    "x-relax": "superset",
}
TENANT_LABEL_SCHEMA = {
    "type": "string",
    "description": "the label that marks a Namespace of the plan as a tenant's",
    "default": TENANT_LABEL,
}


def _scope(stack: bool) -> dict[str, Any]:
    schema: dict[str, Any] = {"namespaces": {**NAMESPACES_SCHEMA, "default": [*DEFAULT_NAMESPACES]}}
    if stack:
        schema["tenantLabel"] = dict(TENANT_LABEL_SCHEMA)
    return schema


RULES = [
    Rule(
        "workload-disruption-budget",
        "Deployments, StatefulSets and Rollouts of the GreenLang and tenant namespaces have a "
        "PodDisruptionBudget that selects their pods and still lets one be evicted.",
        "high",
        "Add a policy/v1 PodDisruptionBudget in the workload's namespace whose "
        "selector.matchLabels are among the pod template's labels, with maxUnavailable: 1 "
        "(or a minAvailable below the autoscaler's minReplicas).",
        AREA,
        stack_check=disruption_budget,
        config_schema=_scope(stack=True),
    ),
    Rule(
        "workload-autoscaled",
        "Deployments and Rollouts of the GreenLang and tenant namespaces are the "
        "scaleTargetRef of one HorizontalPodAutoscaler or KEDA ScaledObject.",
        "medium",
        "Add an autoscaling/v2 HorizontalPodAutoscaler (or a keda.sh ScaledObject) in the "
        "workload's namespace with scaleTargetRef kind Deployment (or Rollout, apiVersion "
        "argoproj.io/v1alpha1) and its name.",
        AREA,
        stack_check=autoscaled,
        config_schema=_scope(stack=True),
    ),
    Rule(
        "workload-resources-set",
        "Containers and initContainers of GreenLang and tenant workloads set CPU and memory "
        "requests and limits (a security rule there: tenants share nodes).",
        "medium",
        "Set resources.requests and resources.limits for cpu and memory on every container "
        "and initContainer.",
        AREA,
        resource_check=resources_set,
        types=WORKLOAD_TYPES,
        config_schema=_scope(stack=False),
    ),
    Rule(
        "workload-image-pinned",
        "GreenLang and tenant workloads run images from an allowed registry, tagged (not "
        "latest) and pinned by digest.",
        "high",
        "Reference images as <account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>@sha256:"
        "<digest> (mirror third-party images into ECR).",
        AREA,
        resource_check=image_pinned,
        types=WORKLOAD_TYPES,
        config_schema={
            **_scope(stack=False),
            "allowedRegistries": {
                "type": "array",
                "items": {"type": "string"},
                "description": "'^regex' matched from the start of the whole image "
                "reference, or a glob the registry host must match entirely",
                "default": [PRIVATE_ECR],
                "x-relax": "subset",
            },
        },
    ),
    Rule(
        "workload-probes",
        "Containers of GreenLang and tenant workloads declare a readinessProbe and a "
        "livenessProbe.",
        "medium",
        "Add readinessProbe and livenessProbe to every container (startupProbe for slow starters).",
        AREA,
        resource_check=probes,
        types=WORKLOAD_TYPES,
        config_schema=_scope(stack=False),
    ),
]

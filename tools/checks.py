"""Admission and wiring checks: what a real cluster and AWS would refuse, read from the plan.

Mocks accept anything. These checks read a synthesized plan the way the API servers would:

- ``quota``: every namespace's pods (from the objects in the plan and the footprints each
  Helm release declares, DaemonSets at the stack's maximum node count, rolling-update
  surge included) and LoadBalancer/NodePort Services fit its ResourceQuota, and every
  container fits its LimitRange after the LimitRange's defaults apply.
  A workload an HPA or a KEDA ScaledObject scales counts at its maximum replicas: an
  autoscaler that the quota stops short of its maximum fails silently (FailedCreate).
- ``footprint``: every Helm release declares its footprint, or the quota check is blind.
- ``service-account``: every pod's ServiceAccount is in the plan, in the pod's namespace
  (the ServiceAccount admission plugin rejects a pod whose account does not exist).
- ``scrape``: every metric an alert rule or a dashboard reads has a scrape source.
- ``secret-value``: every ExternalSecret reads a Secrets Manager entry that the plan gives
  a value, or that a declared prerequisite says who fills.
- ``order``: every namespaced object waits for its namespace, and every custom resource
  for the release that installs its CRD (a child never inherits its parent's depends_on).
- ``global-name``: physical names that are unique per account (IAM), per account and
  region (most others) or worldwide (S3) do not repeat across the stacks of one account.

Each finding is one line naming the object and what the real API would do with it.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

import promql_parser

from components.footprint import FOOTPRINTS_OUTPUT
from components.prerequisites import PREREQUISITES_OUTPUT
from tools.synth import Plan, PlannedResource

RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
# Namespaces every EKS cluster has before the program runs.
PREEXISTING_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
# API groups the API server serves without a CRD.
BUILTIN_GROUPS = frozenset(
    {
        "core",
        "apps",
        "batch",
        "autoscaling",
        "policy",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
        "scheduling.k8s.io",
        "coordination.k8s.io",
        "node.k8s.io",
        "discovery.k8s.io",
        "certificates.k8s.io",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "helm.sh",
        "yaml",
    }
)
POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet", "Pod", "CronJob"}
# API groups of pod-creating kinds: the built-in ones and Argo Rollouts' Rollout.
POD_GROUPS = {"apps": POD_KINDS, "batch": POD_KINDS, "core": POD_KINDS, "argoproj.io": {"Rollout"}}
# An Argo Rollouts argument in a query ({{args.service}}): a label value to the parser.
_ANALYSIS_ARG = re.compile(r"\{\{\s*args\.[\w-]+\s*\}\}")
# Series Prometheus makes itself for every target, and the alerts it keeps.
SYNTHETIC_METRICS = ("up", "scrape_", "ALERTS")
SCRAPERS = ("ServiceMonitor", "PodMonitor", "Probe")
QUOTA_RESOURCES = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory")


@dataclass(frozen=True)
class Finding:
    check: str
    subject: str
    message: str


@dataclass
class ChecksResult:
    findings: list[Finding] = field(default_factory=list)
    # How many objects each check examined: a check that examined nothing proves nothing.
    examined: dict[str, int] = field(default_factory=dict)
    prerequisites: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "examined": dict(sorted(self.examined.items())),
            "findings": [asdict(f) for f in self.findings],
            "prerequisites": self.prerequisites,
        }


# -- quantities ----------------------------------------------------------------------

_QUANTITY = re.compile(r"^([0-9.]+(?:[eE][-+]?[0-9]+)?)([A-Za-z]*)$")
_SUFFIXES = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
}


def quantity(value: str | int | float) -> Decimal:
    """A Kubernetes resource quantity ("500m", "2", "512Mi", "1Gi") as a number.

    Hand-written because the only library with a parser is the whole ``kubernetes`` client.
    """
    match = _QUANTITY.match(str(value).strip())
    if not match or match.group(2) not in _SUFFIXES:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    return Decimal(match.group(1)) * _SUFFIXES[match.group(2)]


def _show(resource: str, amount: Decimal) -> str:
    if resource.endswith("memory"):
        return f"{amount / _SUFFIXES['Gi']:.2f}Gi"
    if resource.endswith("cpu"):
        return f"{amount.normalize():f}"
    return f"{amount:f}"


# -- plan helpers --------------------------------------------------------------------


def _group(type_: str) -> str | None:
    """``kubernetes:monitoring.coreos.com/v1:Probe`` -> monitoring.coreos.com."""
    if not type_.startswith("kubernetes:"):
        return None
    return type_.split(":")[1].rsplit("/", 1)[0]


def _kind(type_: str) -> str:
    return type_.rsplit(":", 1)[-1]


def _metadata(resource: PlannedResource) -> dict[str, Any]:
    metadata = resource.inputs.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def object_namespace(resource: PlannedResource) -> str | None:
    if resource.type == RELEASE:
        namespace = resource.inputs.get("namespace")
        return namespace if isinstance(namespace, str) else "default"
    namespace = _metadata(resource).get("namespace")
    return namespace if isinstance(namespace, str) else None


def _object_name(resource: PlannedResource) -> str:
    name = resource.inputs.get("name") if resource.type == RELEASE else None
    name = name or _metadata(resource).get("name") or resource.name
    namespace = object_namespace(resource)
    return (
        f"{_kind(resource.type)} {namespace}/{name}"
        if namespace
        else f"{_kind(resource.type)} {name}"
    )


def component_outputs(plan: Plan, key: str) -> Iterator[tuple[PlannedResource, dict[str, Any]]]:
    """Each entry that a component registered under ``key`` (footprints, prerequisites)."""
    for resource in plan.resources:
        for entry in resource.outputs.get(key) or []:
            if isinstance(entry, dict):
                yield resource, entry


def dependency_closure(plan: Plan) -> dict[str, set[str]]:
    """urn -> every urn it waits for, directly or through what it waits for."""
    direct: dict[str, set[str]] = {}
    for resource in plan.resources:
        edges = set(resource.dependencies)
        for urns in resource.property_dependencies.values():
            edges.update(urns)
        direct[resource.urn] = edges
    closure: dict[str, set[str]] = {}

    def visit(urn: str) -> set[str]:
        if urn in closure:
            return closure[urn]
        closure[urn] = set()  # cycles cannot happen in a valid plan; this guards recursion
        seen: set[str] = set()
        for dependency in direct.get(urn, ()):
            seen.add(dependency)
            seen |= visit(dependency)
        closure[urn] = seen
        return seen

    for urn in direct:
        visit(urn)
    return closure


def max_node_count(plan: Plan) -> int:
    total = 0
    for group in plan.by_type(NODE_GROUP):
        scaling = group.inputs.get("scalingConfig") or {}
        total += int(scaling.get("maxSize") or 0)
    return total


# -- quota and limits ----------------------------------------------------------------


@dataclass
class _Pods:
    """Pods one workload adds to a namespace, with its containers' resources as declared."""

    subject: str
    count: int
    containers: list[dict[str, dict[str, Any]]]


def _footprint_pods(footprint: Mapping[str, Any], nodes: int) -> Iterator[tuple[str, _Pods]]:
    namespace = str(footprint.get("namespace"))
    for workload in footprint.get("workloads") or []:
        count = nodes if workload["kind"] == "DaemonSet" else int(workload.get("replicas", 1))
        count += int(workload.get("surge", 0))
        containers = [c or {} for c in workload.get("containers") or []]
        subject = f"{workload['kind']} {namespace}/{footprint['release']}-{workload['name']}"
        yield namespace, _Pods(subject, count, containers)


def _pod_spec(resource: PlannedResource) -> Mapping[str, Any] | None:
    kind = _kind(resource.type)
    if kind not in POD_GROUPS.get(_group(resource.type) or "", set()):
        return None
    spec = resource.inputs.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return (spec.get("template") or {}).get("spec") or {}


# (namespace, kind, name) of a scale target -> the most replicas its autoscaler asks for.
Scalers = Mapping[tuple[str, str, str], int]
# KEDA's default maxReplicaCount.
KEDA_MAX_REPLICAS = 100


def scalers(plan: Plan) -> dict[tuple[str, str, str], int]:
    """Every HPA and KEDA ScaledObject of the plan, by the workload it scales."""
    found: dict[tuple[str, str, str], int] = {}
    for resource in plan.resources:
        kind = _kind(resource.type)
        if kind not in ("HorizontalPodAutoscaler", "ScaledObject"):
            continue
        spec = resource.inputs.get("spec") or {}
        target = spec.get("scaleTargetRef") or {}
        namespace = object_namespace(resource) or "default"
        if kind == "HorizontalPodAutoscaler":
            most = int(spec.get("maxReplicas") or 1)
        else:
            most = int(spec.get("maxReplicaCount") or KEDA_MAX_REPLICAS)
        key = (namespace, str(target.get("kind") or "Deployment"), str(target.get("name")))
        found[key] = most
    return found


def _surge(spec: Mapping[str, Any], replicas: int) -> int:
    """Extra pods a Deployment's RollingUpdate starts (maxSurge: a count or a percentage
    rounded up; 25 % by default)."""
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0
    return _max_surge((strategy.get("rollingUpdate") or {}).get("maxSurge", "25%"), replicas)


def _rollout_surge(spec: Mapping[str, Any], replicas: int) -> int:
    """Extra pods an Argo Rollouts Rollout starts: blue-green brings the preview up at full
    size next to the active pods (previewReplicaCount only delays that to the promotion);
    a canary without a traffic router surges like a Deployment (canary.maxSurge, 25 %)."""
    strategy = spec.get("strategy") or {}
    if "blueGreen" in strategy:
        return replicas
    return _max_surge((strategy.get("canary") or {}).get("maxSurge", "25%"), replicas)


def _max_surge(surge: Any, replicas: int) -> int:
    if isinstance(surge, str) and surge.endswith("%"):
        return math.ceil(replicas * int(surge[:-1]) / 100)
    return int(surge)


def _object_pods(resource: PlannedResource, nodes: int, scaled: Scalers) -> _Pods | None:
    pod_spec = _pod_spec(resource)
    if pod_spec is None:
        return None
    kind = _kind(resource.type)
    spec = resource.inputs.get("spec") or {}
    containers = [c.get("resources") or {} for c in pod_spec.get("containers") or []]
    if kind == "DaemonSet":
        count = nodes
    elif kind in ("Job", "CronJob"):
        count = int((spec if kind == "Job" else {}).get("parallelism", 1))
    elif kind == "Pod":
        count = 1
    else:
        name = str(_metadata(resource).get("name"))
        count = int(spec.get("replicas", 1))
        count = max(count, scaled.get((object_namespace(resource) or "default", kind, name), 0))
        if kind == "Deployment":
            count += _surge(spec, count)
        elif kind == "Rollout":
            count += _rollout_surge(spec, count)
    return _Pods(_object_name(resource), count, containers)


def _with_defaults(
    resources: Mapping[str, Any], limit_range: Mapping[str, Any] | None
) -> dict[str, dict[str, Decimal]]:
    """A container's resources as admission leaves them: limits copied into missing
    requests, then the LimitRange's defaults for what is still missing."""
    requests = {k: quantity(v) for k, v in (resources.get("requests") or {}).items()}
    limits = {k: quantity(v) for k, v in (resources.get("limits") or {}).items()}
    for key, value in limits.items():
        requests.setdefault(key, value)
    if limit_range:
        for key, value in (limit_range.get("default") or {}).items():
            limits.setdefault(key, quantity(value))
        for key, value in (limit_range.get("defaultRequest") or {}).items():
            requests.setdefault(key, quantity(value))
        for key, value in limits.items():
            requests.setdefault(key, value)
    return {"requests": requests, "limits": limits}


def _limit_findings(
    subject: str, resolved: Mapping[str, Mapping[str, Decimal]], limit_range: Mapping[str, Any]
) -> Iterator[str]:
    for key, bound in (limit_range.get("max") or {}).items():
        limit = resolved["limits"].get(key)
        if limit is not None and limit > quantity(bound):
            yield f"{subject}: {key} limit {_show(key, limit)} above the LimitRange max {bound}"
    for key, bound in (limit_range.get("min") or {}).items():
        request = resolved["requests"].get(key)
        if request is not None and request < quantity(bound):
            yield f"{subject}: {key} request {_show(key, request)} below the LimitRange min {bound}"


@dataclass
class _Namespace:
    """What one namespace admits and what the plan puts into it."""

    hard: dict[str, str] = field(default_factory=dict)
    limit_range: dict[str, Any] | None = None
    pods: list[_Pods] = field(default_factory=list)
    # (type, ports) of each Service
    services: list[tuple[str, int]] = field(default_factory=list)


def _namespaces_in(plan: Plan, nodes: int) -> dict[str, _Namespace]:
    found: dict[str, _Namespace] = defaultdict(_Namespace)
    scaled = scalers(plan)
    for _, footprint in component_outputs(plan, FOOTPRINTS_OUTPUT):
        for where, declared in _footprint_pods(footprint, nodes):
            found[where].pods.append(declared)
        for service in footprint.get("services") or []:
            found[str(footprint["namespace"])].services.append(
                (service["type"], int(service.get("ports", 1)))
            )
    for resource in plan.resources:
        namespace = object_namespace(resource)
        if namespace is None or resource.type == RELEASE:
            continue
        spec = resource.inputs.get("spec") or {}
        if resource.type == "kubernetes:core/v1:ResourceQuota":
            found[namespace].hard = spec.get("hard") or {}
        elif resource.type == "kubernetes:core/v1:LimitRange":
            items = [i for i in spec.get("limits") or [] if i.get("type") == "Container"]
            found[namespace].limit_range = items[0] if items else None
        elif resource.type == "kubernetes:core/v1:Service":
            ports = len(spec.get("ports") or [])
            found[namespace].services.append((spec.get("type", "ClusterIP"), ports))
        else:
            made = _object_pods(resource, nodes, scaled)
            if made is not None:
                found[namespace].pods.append(made)
    return found


def _admit(name: str, namespace: _Namespace, nodes: int) -> list[Finding]:
    """Quota and LimitRange admission of everything in one namespace."""
    findings: list[Finding] = []
    used: dict[str, Decimal] = defaultdict(Decimal)
    for pods in namespace.pods:
        used["pods"] += pods.count
        for container in pods.containers:
            resolved = _with_defaults(container, namespace.limit_range)
            if namespace.limit_range:
                for message in _limit_findings(pods.subject, resolved, namespace.limit_range):
                    findings.append(Finding("quota", pods.subject, message))
            for key in QUOTA_RESOURCES:
                kind, resource_name = key.split(".")
                amount = resolved[kind].get(resource_name)
                if amount is not None:
                    used[key] += amount * pods.count
                elif key in namespace.hard:
                    findings.append(
                        Finding(
                            "quota",
                            pods.subject,
                            f"{pods.subject}: no {key} and no LimitRange default; "
                            f"the quota of {name} rejects the pod",
                        )
                    )
    for type_, ports in namespace.services:
        if type_ == "LoadBalancer":
            used["services.loadbalancers"] += 1
        if type_ in ("LoadBalancer", "NodePort"):
            used["services.nodeports"] += ports
    for key, limit in sorted(namespace.hard.items()):
        if key in used and used[key] > quantity(limit):
            findings.append(
                Finding(
                    "quota",
                    f"ResourceQuota {name}",
                    f"namespace {name}: needs {key} {_show(key, used[key])} (DaemonSets at "
                    f"{nodes} nodes, rollout surge included, autoscaled workloads at their "
                    f"maximum), its quota allows {limit}",
                )
            )
    return findings


def check_quotas(plan: Plan) -> tuple[list[Finding], int]:
    """Every namespace admits what the plan puts into it, at the maximum node count."""
    nodes = max_node_count(plan)
    findings: list[Finding] = []
    examined = 0
    for name, namespace in sorted(_namespaces_in(plan, nodes).items()):
        examined += len(namespace.pods) + len(namespace.services)
        findings.extend(_admit(name, namespace, nodes))
    return findings, examined


def check_footprints(plan: Plan) -> tuple[list[Finding], int]:
    declared = {
        (str(f.get("namespace")), str(f.get("release")))
        for _, f in component_outputs(plan, FOOTPRINTS_OUTPUT)
    }
    findings = []
    releases = plan.by_type(RELEASE)
    for release in releases:
        key = (object_namespace(release) or "default", str(release.inputs.get("name")))
        if key not in declared:
            findings.append(
                Finding(
                    "footprint",
                    release.urn,
                    f"{_object_name(release)}: no footprint declared, so its pods and "
                    "Services are not counted against the namespace quota",
                )
            )
    return findings, len(releases)


# -- service accounts ----------------------------------------------------------------


def check_service_accounts(plan: Plan) -> tuple[list[Finding], int]:
    """Pods of the plan's own objects run as a ServiceAccount the plan creates (Helm
    releases bring their own accounts: those are the chart's business)."""
    accounts = {
        (object_namespace(r), _metadata(r).get("name"))
        for r in plan.by_type("kubernetes:core/v1:ServiceAccount")
    }
    findings = []
    examined = 0
    for resource in plan.resources:
        pod = _pod_spec(resource)
        if pod is None:
            continue
        examined += 1
        account = pod.get("serviceAccountName") or "default"
        namespace = object_namespace(resource) or "default"
        if account != "default" and (namespace, account) not in accounts:
            findings.append(
                Finding(
                    "service-account",
                    resource.urn,
                    f"{_object_name(resource)}: ServiceAccount {namespace}/{account} is not "
                    "in the plan; the API server rejects its pods",
                )
            )
    return findings, examined


# -- scrape sources ------------------------------------------------------------------

_GRAFANA_VARIABLE = re.compile(r"\$\{?(__\w+|\w+)(?::\w+)?\}?")


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression reads (Grafana variables substituted first)."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        # Intervals stand in a range; anything else is a label value or a threshold.
        return "5m" if name.endswith("interval") or name == "__range" else "1"

    names: set[str] = set()

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            for matcher in node.matchers.matchers:
                if matcher.name == "__name__":
                    names.add(matcher.value)
        return True

    promql_parser.walk(promql_parser.parse(_GRAFANA_VARIABLE.sub(substitute, expr)), visit)
    return names


def _panel_exprs(panels: Iterable[Any]) -> Iterator[tuple[str, str]]:
    for panel in panels:
        if not isinstance(panel, dict):
            continue
        for target in panel.get("targets") or []:
            if isinstance(target, dict) and target.get("expr"):
                yield str(panel.get("title", "?")), str(target["expr"])
        yield from _panel_exprs(panel.get("panels") or [])


def metric_readers(plan: Plan) -> Iterator[tuple[str, str]]:
    """(who reads, expression) for every alert and recording rule, dashboard panel and
    Argo Rollouts analysis (its arguments stand in as label values)."""
    for resource in plan.resources:
        kind = _kind(resource.type)
        if kind in ("AnalysisTemplate", "ClusterAnalysisTemplate"):
            for metric in (resource.inputs.get("spec") or {}).get("metrics") or []:
                query = ((metric.get("provider") or {}).get("prometheus") or {}).get("query")
                if query:
                    who = f"{kind} {_metadata(resource).get('name')} {metric.get('name')}"
                    yield who, _ANALYSIS_ARG.sub("arg", str(query))
        elif kind == "PrometheusRule":
            for group in (resource.inputs.get("spec") or {}).get("groups") or []:
                for rule in group.get("rules") or []:
                    who = rule.get("alert") or rule.get("record")
                    yield f"PrometheusRule {_metadata(resource).get('name')} {who}", rule["expr"]
        elif kind == "ConfigMap" and (_metadata(resource).get("labels") or {}).get(
            "grafana_dashboard"
        ):
            for key, text in (resource.inputs.get("data") or {}).items():
                board = json.loads(text)
                for title, expr in _panel_exprs(board.get("panels") or []):
                    yield f"dashboard {key} panel '{title}'", expr


def _scrape_objects(plan: Plan) -> set[str]:
    return {
        f"{_kind(r.type)}/{object_namespace(r)}/{_metadata(r).get('name')}"
        for r in plan.resources
        if _kind(r.type) in SCRAPERS and _group(r.type) == "monitoring.coreos.com"
    }


def check_scrapes(plan: Plan) -> tuple[list[Finding], int]:
    scrapers = _scrape_objects(plan)
    findings: list[Finding] = []
    prefixes: list[str] = list(SYNTHETIC_METRICS)
    for owner, footprint in component_outputs(plan, FOOTPRINTS_OUTPUT):
        for metrics in footprint.get("metrics") or []:
            via = metrics.get("via")
            if via and via not in scrapers:
                findings.append(
                    Finding(
                        "scrape",
                        owner.urn,
                        f"release {footprint['release']}: metrics {metrics['prefixes']} are "
                        f"declared scraped by {via}, which is not in the plan",
                    )
                )
                continue
            prefixes.extend(metrics.get("prefixes") or [])
    recorded = {
        rule["record"]
        for r in plan.resources
        if _kind(r.type) == "PrometheusRule"
        for g in (r.inputs.get("spec") or {}).get("groups") or []
        for rule in g.get("rules") or []
        if rule.get("record")
    }
    examined = 0
    for who, expr in metric_readers(plan):
        examined += 1
        try:
            names = metric_names(expr)
        except ValueError as exc:
            findings.append(Finding("scrape", who, f"{who}: expression does not parse ({exc})"))
            continue
        for name in sorted(names):
            if name in recorded or any(name.startswith(p) for p in prefixes):
                continue
            findings.append(
                Finding("scrape", who, f"{who}: reads {name}, which nothing in the plan scrapes")
            )
    return findings, examined


# -- secret values -------------------------------------------------------------------


def check_secret_values(plan: Plan) -> tuple[list[Finding], int]:
    """An ExternalSecret whose entry has no value never syncs; the pod that mounts the
    target Secret waits for it, and an atomic release around the pod times out."""
    entries: dict[str, str] = {}  # name / id / arn -> canonical name
    for secret in plan.by_type(SECRET):
        state = plan.states.get(secret.urn, {})
        name = str(secret.inputs.get("name") or state.get("name"))
        for alias in (name, state.get("id"), state.get("arn")):
            if alias:
                entries[str(alias)] = name
    with_value = set()
    for version in plan.by_type(SECRET_VERSION):
        secret_id = str(version.inputs.get("secretId"))
        if secret_id in entries:
            with_value.add(entries[secret_id])
    managed = set()  # secrets AWS services create with a value (RDS master passwords)
    for state in plan.states.values():
        for secret in state.get("masterUserSecrets") or []:
            managed.add(str(secret.get("secretArn")))
    prerequisites = {
        str(item["secret"])
        for _, item in component_outputs(plan, PREREQUISITES_OUTPUT)
        if item.get("secret")
    }
    findings = []
    examined = 0
    for resource in plan.resources:
        if _kind(resource.type) != "ExternalSecret":
            continue
        spec = resource.inputs.get("spec") or {}
        keys = [d["remoteRef"]["key"] for d in spec.get("data") or [] if d.get("remoteRef")]
        keys += [d["extract"]["key"] for d in spec.get("dataFrom") or [] if d.get("extract")]
        for key in sorted(set(keys)):
            examined += 1
            entry = entries.get(key)
            if key in managed or (entry and (entry in with_value or entry in prerequisites)):
                continue
            problem = (
                "has no SecretVersion and no prerequisite says who sets its value"
                if entry
                else "is not in the plan and no prerequisite declares it"
            )
            findings.append(
                Finding(
                    "secret-value",
                    resource.urn,
                    f"{_object_name(resource)}: Secrets Manager entry {key} {problem}",
                )
            )
    return findings, examined


# -- ordering ------------------------------------------------------------------------


# EKS managed add-ons that install CRDs: addon name -> API groups.
EKS_ADDON_CRDS = {"snapshot-controller": ("snapshot.storage.k8s.io",)}


def _crd_owners(plan: Plan) -> dict[str, list[str]]:
    """API group (or ``group/Kind``) -> URNs of the releases whose footprint says they
    install its CRDs, and of the EKS add-ons that install them."""
    releases = {(object_namespace(r), r.inputs.get("name")): r.urn for r in plan.by_type(RELEASE)}
    owners: dict[str, list[str]] = defaultdict(list)
    for addon in plan.by_type("aws:eks/addon:Addon"):
        for group in EKS_ADDON_CRDS.get(str(addon.inputs.get("addonName")), ()):
            owners[group].append(addon.urn)
    for _, footprint in component_outputs(plan, FOOTPRINTS_OUTPUT):
        release = releases.get((footprint.get("namespace"), footprint.get("release")))
        for group in footprint.get("crds") or []:
            if release:
                owners[group].append(release)
    return owners


def _order_problem(
    resource: PlannedResource,
    waits_for: set[str],
    namespaces: Mapping[str, str],
    crd_owners: Mapping[str, list[str]],
) -> Iterator[str]:
    namespace = object_namespace(resource)
    if namespace and namespace not in PREEXISTING_NAMESPACES:
        owner = namespaces.get(namespace)
        if owner is None:
            yield f"namespace {namespace} is not in the plan"
        elif owner not in waits_for:
            yield f"does not wait for namespace {namespace}"
    group = _group(resource.type)
    if group and group not in BUILTIN_GROUPS:
        kind = resource.type.rsplit(":", 1)[-1]
        # A kind's own CRD owner wins over its group's: charts may share a group.
        owners = crd_owners.get(f"{group}/{kind}") or crd_owners.get(group, [])
        if not owners:
            yield f"no release in the plan installs the CRDs of {group}"
        elif not waits_for.intersection(owners):
            yield f"does not wait for the release that installs the CRDs of {group}"


def check_order(plan: Plan) -> tuple[list[Finding], int]:
    """Kubernetes objects wait for their namespace and for the CRDs of their kind."""
    closure = dependency_closure(plan)
    namespaces = {str(_metadata(r).get("name")): r.urn for r in plan.by_type(NAMESPACE)}
    crd_owners = _crd_owners(plan)
    findings: list[Finding] = []
    objects = [
        r
        for r in plan.resources
        if r.custom and r.type.startswith("kubernetes:") and not r.type.startswith("pulumi:")
    ]
    for resource in objects:
        waits_for = closure.get(resource.urn, set())
        for problem in _order_problem(resource, waits_for, namespaces, crd_owners):
            findings.append(Finding("order", resource.urn, f"{_object_name(resource)}: {problem}"))
    return findings, len(objects)


# -- account-global names ------------------------------------------------------------

# type -> (input holding the physical name, scope). "world": unique across all of AWS;
# "account": across the account's regions; "region": per account and region. A value of
# None for the input means "one per scope, whatever its name" (a singleton).
GLOBAL_NAMES: dict[str, tuple[str | None, str]] = {
    "aws:s3/bucket:Bucket": ("bucket", "world"),
    "aws:s3/bucketV2:BucketV2": ("bucket", "world"),
    "aws:iam/role:Role": ("name", "account"),
    "aws:iam/policy:Policy": ("name", "account"),
    "aws:iam/instanceProfile:InstanceProfile": ("name", "account"),
    "aws:iam/user:User": ("name", "account"),
    "aws:iam/serviceLinkedRole:ServiceLinkedRole": ("awsServiceName", "account"),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": ("url", "account"),
    "aws:ecr/repository:Repository": ("name", "region"),
    "aws:ecr/replicationConfiguration:ReplicationConfiguration": (None, "region"),
    "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration": (None, "region"),
    "aws:guardduty/detector:Detector": (None, "region"),
    "aws:cloudtrail/trail:Trail": ("name", "region"),
    "aws:sns/topic:Topic": ("name", "region"),
    "aws:secretsmanager/secret:Secret": ("name", "region"),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "region"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("name", "region"),
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": ("policyName", "region"),
    "aws:kms/alias:Alias": ("name", "region"),
    "aws:rds/instance:Instance": ("identifier", "region"),
    "aws:rds/parameterGroup:ParameterGroup": ("name", "region"),
    "aws:rds/subnetGroup:SubnetGroup": ("name", "region"),
    "aws:elasticache/replicationGroup:ReplicationGroup": ("replicationGroupId", "region"),
    "aws:elasticache/parameterGroup:ParameterGroup": ("name", "region"),
    "aws:elasticache/subnetGroup:SubnetGroup": ("name", "region"),
    "aws:msk/cluster:Cluster": ("clusterName", "region"),
    "aws:msk/configuration:Configuration": ("name", "region"),
    "aws:opensearch/domain:Domain": ("domainName", "region"),
    "aws:eks/cluster:Cluster": ("name", "region"),
    "eks:index:Cluster": ("name", "region"),
    "aws:ec2/launchTemplate:LaunchTemplate": ("name", "region"),
    # Billing is account-wide: one budget name, one tag activation, one monitor per name.
    "aws:budgets/budget:Budget": ("name", "account"),
    "aws:costexplorer/costAllocationTag:CostAllocationTag": ("tagKey", "account"),
    "aws:costexplorer/anomalyMonitor:AnomalyMonitor": ("name", "account"),
    "aws:costexplorer/anomalySubscription:AnomalySubscription": ("name", "account"),
}


@dataclass(frozen=True)
class StackPlan:
    """A plan with where it deploys: the global-name check compares plans by account."""

    plan: Plan
    account: str
    region: str


def _physical_names(stack: StackPlan) -> Iterator[tuple[tuple[str, ...], PlannedResource, str]]:
    for resource in stack.plan.resources:
        rule = GLOBAL_NAMES.get(resource.type)
        if rule is None:
            continue
        key, scope = rule
        name = "(singleton)" if key is None else resource.inputs.get(key)
        if not isinstance(name, str) or name.startswith("["):
            continue  # generated by Pulumi (auto-named) or unknown: cannot clash
        where = {"world": (), "account": (stack.account,), "region": (stack.account, stack.region)}
        yield (resource.type, *where[scope], name), resource, name


def check_global_names(stacks: Iterable[StackPlan]) -> tuple[list[Finding], int]:
    """A name that repeats within its scope: the second ``pulumi up`` fails with
    EntityAlreadyExists / BucketAlreadyExists (or a second GuardDuty detector)."""
    seen: dict[tuple[str, ...], list[tuple[str, PlannedResource]]] = defaultdict(list)
    examined = 0
    for stack in stacks:
        for key, resource, _ in _physical_names(stack):
            examined += 1
            seen[key].append((stack.plan.stack, resource))
    findings = []
    for key, owners in sorted(seen.items()):
        if len(owners) < 2:
            continue
        type_, name = key[0], key[-1]
        scope = {"world": "in all of AWS", "account": "per account", "region": "per region"}[
            GLOBAL_NAMES[type_][1]
        ]
        creators = ", ".join(creator for creator, _ in owners)
        findings.append(
            Finding(
                "global-name",
                owners[0][1].urn,
                f"{_kind(type_)} {name} is created by {creators}: the name is unique {scope}, "
                "so the second pulumi up fails",
            )
        )
    return findings, examined


# -- all together ----------------------------------------------------------------------


def run_checks(plan: Plan, account_peers: Iterable[StackPlan]) -> ChecksResult:
    """Every check over ``plan``; ``account_peers`` are the plans of every stack that shares
    its account, this one included, for the global-name check."""
    result = ChecksResult()
    for name, check in (
        ("quota", check_quotas),
        ("footprint", check_footprints),
        ("service-account", check_service_accounts),
        ("scrape", check_scrapes),
        ("secret-value", check_secret_values),
        ("order", check_order),
    ):
        findings, examined = check(plan)
        result.findings.extend(findings)
        result.examined[name] = examined
    clashes, clashes_examined = check_global_names(account_peers)
    result.findings.extend(clashes)
    result.examined["global-name"] = clashes_examined
    result.prerequisites = [item for _, item in component_outputs(plan, PREREQUISITES_OUTPUT)]
    return result

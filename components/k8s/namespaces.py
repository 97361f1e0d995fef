"""FencedNamespace: a namespace that is closed by default.

Every namespace the platform creates gets Pod Security Admission labels (``restricted``
unless exempt, with the reason as an annotation), a ResourceQuota, a LimitRange and a
default-deny NetworkPolicy for ingress and egress, plus only the allows its profile needs.
The object bodies are pure functions so tests can read them without an engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from components.footprint import Resources
from components.node_agents import per_node_cores, per_node_gib

PSA = "pod-security.kubernetes.io"
PSA_VERSION = "latest"
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
METADATA_SERVICE = "169.254.169.254/32"
# Non-root, no privilege escalation, no capabilities, RuntimeDefault seccomp: PSS restricted.
POD_SECURITY = {
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}


@dataclass(frozen=True)
class Quota:
    """A namespace's ResourceQuota (CPU in cores, memory in GiB) and LimitRange bounds.

    Limits default to twice the CPU requests (bursts) and to the memory requests (memory is
    not overcommitted). A ``type: LoadBalancer`` Service takes one load balancer and one
    node port per Service port, so only a namespace that runs one gets any.
    """

    cpu: float
    memory_gib: float
    pods: int
    max_container_cpu: str
    max_container_memory: str
    limits_cpu: float | None = None
    limits_memory_gib: float | None = None
    load_balancers: int = 0
    node_ports: int = 0

    @property
    def cpu_limits(self) -> float:
        return self.cpu * 2 if self.limits_cpu is None else self.limits_cpu

    @property
    def memory_limits_gib(self) -> float:
        return self.memory_gib if self.limits_memory_gib is None else self.limits_memory_gib


def with_daemonset(base: Quota, agent: Resources, nodes: int) -> Quota:
    """``base`` plus one ``agent`` pod on each of ``nodes`` nodes (requests, limits, pods).

    A DaemonSet puts a pod on every node the pools can reach; a quota sized for today's
    nodes rejects the pods of the nodes the autoscaler adds later.
    """
    cpu_request, cpu_limit = per_node_cores(agent, nodes)
    memory_request, memory_limit = per_node_gib(agent, nodes)
    return replace(
        base,
        cpu=base.cpu + cpu_request,
        memory_gib=base.memory_gib + memory_request,
        limits_cpu=base.cpu_limits + cpu_limit,
        limits_memory_gib=base.memory_limits_gib + memory_limit,
        pods=base.pods + nodes,
    )


def cpu_quantity(cores: float) -> str:
    # Rounded up: a quota rounded down would reject the last pod it was sized for.
    millicores = math.ceil(round(cores * 1000, 6))
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def memory_quantity(gib: float) -> str:
    mebibytes = math.ceil(round(gib * 1024, 6))
    return f"{mebibytes // 1024}Gi" if mebibytes % 1024 == 0 else f"{mebibytes}Mi"


@dataclass(frozen=True)
class Ingress:
    """One allowed inbound flow: from a namespace (by name, "*" for every namespace) or an
    ipBlock; with neither, from anywhere."""

    from_namespace: str | None = None
    from_cidr: str | None = None
    ports: tuple[int, ...] = ()


@dataclass(frozen=True)
class NamespaceSpec:
    name: str
    quota: Quota
    labels: dict[str, str] = field(default_factory=dict)
    # PSA exemption reason; None means enforce restricted.
    exemption: str | None = None
    ingress: tuple[Ingress, ...] = ()
    # (cidr, ports) egress allows beyond DNS and the namespace itself.
    egress: tuple[tuple[str, tuple[int, ...]], ...] = ()
    # (namespace, ports) egress allows to the pods of another namespace.
    egress_namespaces: tuple[tuple[str, tuple[int, ...]], ...] = ()
    # HTTPS to the internet (LLM APIs, ACME, public AWS endpoints), never to private ranges.
    internet_https: bool = False
    # Everything in-cluster (Prometheus scrapes every namespace).
    egress_to_all_namespaces: bool = False
    # Pods of the namespace reach each other freely. Off where a chart brings a policy per
    # workload: NetworkPolicies add up, so a namespace-wide allow would void them.
    same_namespace: bool = True


def namespace_labels(spec: NamespaceSpec, common: dict[str, str]) -> dict[str, str]:
    level = "privileged" if spec.exemption else "restricted"
    return {
        **common,
        **spec.labels,
        "app.kubernetes.io/name": spec.name,
        "kubernetes.io/metadata.name": spec.name,
        f"{PSA}/enforce": level,
        f"{PSA}/enforce-version": PSA_VERSION,
        # Exempt namespaces still warn and audit against restricted, so drift shows.
        f"{PSA}/warn": "restricted",
        f"{PSA}/audit": "restricted",
    }


def quota_spec(quota: Quota) -> dict[str, str]:
    return {
        "requests.cpu": cpu_quantity(quota.cpu),
        "requests.memory": memory_quantity(quota.memory_gib),
        "limits.cpu": cpu_quantity(quota.cpu_limits),
        "limits.memory": memory_quantity(quota.memory_limits_gib),
        "pods": str(quota.pods),
        "services.loadbalancers": str(quota.load_balancers),
        "services.nodeports": str(quota.node_ports),
    }


def limit_range(quota: Quota) -> dict[str, Any]:
    """Defaults let quota-bound namespaces accept pods that forgot resources."""
    return {
        "type": "Container",
        "default": {"cpu": "500m", "memory": "512Mi"},
        "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
        "min": {"cpu": "10m", "memory": "16Mi"},
        "max": {"cpu": quota.max_container_cpu, "memory": quota.max_container_memory},
    }


def _ports(ports: tuple[int, ...], protocol: str = "TCP") -> list[dict[str, Any]]:
    return [{"protocol": protocol, "port": port} for port in ports]


def network_policies(spec: NamespaceSpec) -> dict[str, dict[str, Any]]:
    """name -> NetworkPolicy spec. Deny everything, then allow what the profile needs."""
    same_namespace: dict[str, Any] = {"podSelector": {}}
    policies: dict[str, dict[str, Any]] = {
        "default-deny": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        "allow-dns": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                            },
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": _ports((53,), "UDP") + _ports((53,)),
                }
            ],
        },
    }
    if spec.same_namespace:
        policies["allow-same-namespace"] = {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [same_namespace]}],
            "egress": [{"to": [same_namespace]}],
        }
    rules = []
    for allow in spec.ingress:
        peer: dict[str, Any] = {}
        if allow.from_namespace == "*":
            peer["namespaceSelector"] = {}
        elif allow.from_namespace:
            peer["namespaceSelector"] = {
                "matchLabels": {"kubernetes.io/metadata.name": allow.from_namespace}
            }
        if allow.from_cidr:
            peer["ipBlock"] = {"cidr": allow.from_cidr}
        rule: dict[str, Any] = {"from": [peer]} if peer else {}
        if allow.ports:
            rule["ports"] = _ports(allow.ports)
        rules.append(rule)
    if rules:
        policies["allow-ingress"] = {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": rules,
        }
    egress: list[dict[str, Any]] = [
        {"to": [{"ipBlock": {"cidr": cidr}}], "ports": _ports(ports)} for cidr, ports in spec.egress
    ]
    egress.extend(
        {
            "to": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
            ],
            "ports": _ports(ports),
        }
        for namespace, ports in spec.egress_namespaces
    )
    if spec.internet_https:
        egress.append(
            {
                "to": [
                    {
                        "ipBlock": {
                            "cidr": "0.0.0.0/0",
                            "except": [*PRIVATE_RANGES, METADATA_SERVICE],
                        }
                    }
                ],
                "ports": _ports((443,)),
            }
        )
    if spec.egress_to_all_namespaces:
        egress.append({"to": [{"namespaceSelector": {}}]})
    if egress:
        policies["allow-egress"] = {"podSelector": {}, "policyTypes": ["Egress"], "egress": egress}
    return policies


class FencedNamespace(pulumi.ComponentResource):
    namespace: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        spec: NamespaceSpec,
        common_labels: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("agentfactory:platform:FencedNamespace", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = {**common_labels, "app.kubernetes.io/name": spec.name}
        namespace = k8s.core.v1.Namespace(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=spec.name,
                labels=namespace_labels(spec, common_labels),
                annotations=(
                    {"agent-factory.io/pod-security-exemption": spec.exemption}
                    if spec.exemption
                    else None
                ),
            ),
            opts=child,
        )
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[namespace])

        def meta(object_name: str) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=spec.name, labels=labels)

        k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata=meta("compute"),
            spec=k8s.core.v1.ResourceQuotaSpecArgs(hard=quota_spec(spec.quota)),
            opts=in_namespace,
        )
        limits = limit_range(spec.quota)
        k8s.core.v1.LimitRange(
            f"{name}-limits",
            metadata=meta("container-defaults"),
            spec=k8s.core.v1.LimitRangeSpecArgs(
                limits=[
                    k8s.core.v1.LimitRangeItemArgs(
                        type=limits["type"],
                        default=limits["default"],
                        default_request=limits["defaultRequest"],
                        min=limits["min"],
                        max=limits["max"],
                    )
                ]
            ),
            opts=in_namespace,
        )
        for policy_name, policy in network_policies(spec).items():
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy_name}",
                metadata=meta(policy_name),
                # The body is plain data so tests and the docs read the same thing.
                spec=cast(k8s.networking.v1.NetworkPolicySpecArgsDict, policy),
                opts=in_namespace,
            )
        self.namespace = namespace.metadata.name
        self.register_outputs({"namespace": self.namespace})

"""EKS: how people authenticate, who is cluster-admin, what tenants may reach, and the
switches that make NetworkPolicies and deletion protection real.

Remote components are leaves under mocks, so the ``eks:index:Cluster`` inputs are checked
as well as the ``aws:eks/*`` resources a real engine shows."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from .core import (
    Finding,
    Resource,
    Rule,
    Undecided,
    as_bool,
    as_json,
    as_list,
    as_mapping,
    get,
    guarded,
    is_unknown,
    matches,
    must,
)

AREA = "eks"
COMPONENT = "eks:index:Cluster"
CLUSTER = "aws:eks/cluster:Cluster"
CLUSTERS = frozenset({COMPONENT, CLUSTER})
ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
ENTRY = "aws:eks/accessEntry:AccessEntry"
CLUSTER_ADMIN = "AmazonEKSClusterAdminPolicy"
# At cluster scope these write everything but RBAC; at namespace scope they are the tenant
# admin's tools.
WRITE_POLICIES = ("AmazonEKSAdminPolicy", "AmazonEKSEditPolicy")
DEFAULT_ADMINS = [
    "arn:aws*:iam::*:role/AgentFactorySRE",
    "arn:aws*:iam::*:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_AgentFactorySRE_*",
    # CI's deploy role of a stack (components/supply/identity.py): pulumi up applies the
    # cluster-scoped objects (CRDs, ClusterRoles), trusted only from its GitHub environment.
    "arn:aws*:iam::*:role/agent-factory-*-ci-deploy",
]
# The platform names a tenant's admin role AgentFactoryTenant-<tenant>-<stack> ("{stack}"
# is filled in from the resource's URN; the suffix is optional for older roles).
DEFAULT_TENANT_PRINCIPAL = (
    r"^arn:aws[a-z-]*:iam::\d{12}:role/AgentFactoryTenant-(?P<tenant>[a-z0-9-]+?)(?:-{stack})?$"
)


def auth_mode_api(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    path = "authenticationMode" if r.type == COMPONENT else "accessConfig.authenticationMode"
    yield from must(
        lambda: get(r.props, path) == "API",
        f"{path} must be API: the aws-auth ConfigMap is an unaudited second way in",
    )


def deletion_protection(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    yield from must(
        lambda: as_bool(r.props.get("deletionProtection")), "deletionProtection must be true"
    )


def network_policy_enforced(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    message = (
        "the VPC CNI must run with enableNetworkPolicy: otherwise every NetworkPolicy "
        "(default-deny included) is a no-op"
    )
    if r.type == COMPONENT:
        yield from must(lambda: not as_bool(r.props.get("useDefaultVpcCni")), message)
        yield from must(lambda: as_bool(get(r.props, "vpcCniOptions.enableNetworkPolicy")), message)
        return
    name = r.props.get("addonName")
    if is_unknown(name):
        yield Undecided(name.path)
        return
    if name != "vpc-cni":
        return
    values = r.props.get("configurationValues")
    yield from must(
        lambda: as_bool(as_mapping(as_json(values) or {}).get("enableNetworkPolicy")), message
    )


# -- access entries --------------------------------------------------------------------------


def _grants(r: Resource) -> Iterator[tuple[Any, str, Any, Any]]:
    """(principalArn, policy name, scope type, namespaces) of every access policy grant."""
    if r.type == ASSOCIATION:
        yield (
            r.props.get("principalArn"),
            str(r.props.get("policyArn", "")).rsplit("/", 1)[-1],
            get(r.props, "accessScope.type"),
            get(r.props, "accessScope.namespaces"),
        )
    elif r.type == COMPONENT:
        for item in as_mapping(r.props.get("accessEntries")).values():
            entry = as_mapping(item)
            for granted in as_mapping(entry.get("accessPolicies")).values():
                policy = as_mapping(granted)
                yield (
                    entry.get("principalArn"),
                    str(policy.get("policyArn", "")).rsplit("/", 1)[-1],
                    get(policy, "accessScope.type"),
                    get(policy, "accessScope.namespaces"),
                )


def _groups(r: Resource) -> Iterator[tuple[Any, Any]]:
    """(principalArn, kubernetesGroups) of every access entry."""
    if r.type == ENTRY:
        yield r.props.get("principalArn"), r.props.get("kubernetesGroups")
    elif r.type == COMPONENT:
        for item in as_mapping(r.props.get("accessEntries")).values():
            entry = as_mapping(item)
            yield entry.get("principalArn"), entry.get("kubernetesGroups")


def cluster_admin_access(r: Resource, config: Mapping[str, Any]) -> Iterator[Finding]:
    admins = list(config.get("adminPrincipals", DEFAULT_ADMINS))
    admin_groups = set(config.get("adminGroups", ["agent-factory:sre"]))

    def grants() -> Iterator[Finding]:
        for principal, policy, scope, _ns in _grants(r):
            cluster_wide = policy == CLUSTER_ADMIN or (
                policy in WRITE_POLICIES and scope != "namespace"
            )
            if not cluster_wide:
                continue
            if is_unknown(principal):
                yield Undecided(principal.path)
            elif not matches(str(principal), admins):
                yield f"{principal} gets {policy} at cluster scope but is not an admin principal"

    def groups() -> Iterator[Finding]:
        for principal, names in _groups(r):
            granted = admin_groups & {str(g) for g in as_list(names)}
            if not granted:
                continue
            if is_unknown(principal):
                yield Undecided(principal.path)
            elif not matches(str(principal), admins):
                yield f"{principal} joins {sorted(granted)} (cluster-admin) but is not an admin"

    yield from guarded(grants)
    yield from guarded(groups)


def tenant_access_scoped(r: Resource, config: Mapping[str, Any]) -> Iterator[Finding]:
    stack = r.urn.split("::", 1)[0].removeprefix("urn:pulumi:")
    template = str(config.get("tenantPrincipal", DEFAULT_TENANT_PRINCIPAL))
    pattern = re.compile(template.replace("{stack}", re.escape(stack)))
    prefix = str(config.get("tenantNamespacePrefix", "tenant-"))

    def check() -> Iterator[Finding]:
        for principal, policy, scope, namespaces in _grants(r):
            if is_unknown(principal):
                yield Undecided(principal.path)
                continue
            listed = [str(n) for n in as_list(namespaces)]
            tenant = pattern.match(str(principal))
            if tenant is not None:
                own = f"{prefix}{tenant['tenant']}"
                if scope != "namespace" or listed != [own]:
                    yield f"tenant principal {principal} gets {policy} beyond namespace {own}"
            elif scope == "namespace":
                tenants = [n for n in listed if n.startswith(prefix) or "*" in n]
                if tenants and len(listed) > 1:
                    yield f"{principal} gets {policy} across tenant namespaces {listed}"
            for name in listed:
                if "*" in name and (prefix.startswith(name.rstrip("*")) or name.startswith(prefix)):
                    yield f"namespace pattern {name} spans tenant namespaces"

    yield from guarded(check)


RULES = [
    Rule(
        "eks-auth-mode-api",
        "EKS authenticates with access entries only (authenticationMode API).",
        "high",
        "Set authentication_mode='API' and grant access with access entries.",
        AREA,
        resource_check=auth_mode_api,
        types=CLUSTERS,
    ),
    Rule(
        "eks-deletion-protection",
        "EKS clusters have deletion protection.",
        "high",
        "Set cluster.deletionProtection: true in the stack's settings.",
        AREA,
        resource_check=deletion_protection,
        types=CLUSTERS,
    ),
    Rule(
        "eks-network-policy-enforced",
        "The VPC CNI enforces NetworkPolicies.",
        "critical",
        "Pass vpc_cni_options.enable_network_policy=True (or the vpc-cni add-on's "
        "configurationValues enableNetworkPolicy: 'true').",
        AREA,
        resource_check=network_policy_enforced,
        types=frozenset({COMPONENT, "aws:eks/addon:Addon"}),
    ),
    Rule(
        "eks-cluster-admin-access",
        "Only admin principals get cluster-admin (AmazonEKSClusterAdminPolicy, cluster-scope "
        "Admin/Edit, or the admin Kubernetes group).",
        "critical",
        "Grant AmazonEKSViewPolicy or a namespace-scoped policy; admins are listed in the "
        "policy config's adminPrincipals.",
        AREA,
        resource_check=cluster_admin_access,
        types=frozenset({COMPONENT, ASSOCIATION, ENTRY}),
        config_schema={
            "adminPrincipals": {
                "type": "array",
                "items": {"type": "string"},
                "description": "principal ARN globs that may be cluster-admin",
                "default": DEFAULT_ADMINS,
                "x-relax": "subset",
            },
            "adminGroups": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Kubernetes groups bound to cluster-wide wildcard roles",
                "default": ["agent-factory:sre"],
                "x-relax": "superset",
            },
        },
    ),
    Rule(
        "eks-tenant-access-scoped",
        "A tenant's principal is scoped to its own namespace; no grant spans tenant namespaces.",
        "critical",
        "Associate the tenant's role with access_scope type namespace and only tenant-<name>.",
        AREA,
        resource_check=tenant_access_scoped,
        types=frozenset({COMPONENT, ASSOCIATION}),
        config_schema={
            "tenantPrincipal": {
                "type": "string",
                "description": "regex of tenant principal ARNs with a named group 'tenant'",
                "default": DEFAULT_TENANT_PRINCIPAL,
            },
            "tenantNamespacePrefix": {"type": "string", "default": "tenant-"},
        },
    ),
]

"""Kubernetes isolation: NetworkPolicies that stay default-deny, RBAC that cannot be
widened to everyone or across tenants, service account tokens, tenant Services, quotas and
encrypted storage. Objects are linked by namespace and name, as the API server links them."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .core import (
    Finding,
    Resource,
    Rule,
    Undecided,
    UnknownRead,
    as_list,
    as_mapping,
    get,
    guarded,
    is_unknown,
    matches,
    must,
    network,
    present,
)

AREA = "kubernetes"
NAMESPACE = "kubernetes:core/v1:Namespace"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
QUOTA = "kubernetes:core/v1:ResourceQuota"
RBAC = "kubernetes:rbac.authorization.k8s.io/v1:"
ROLE_TYPES = frozenset({f"{RBAC}Role", f"{RBAC}ClusterRole"})
BINDING_TYPES = frozenset({f"{RBAC}RoleBinding", f"{RBAC}ClusterRoleBinding"})
PUBLIC_SUBJECTS = frozenset({"system:anonymous", "system:unauthenticated", "system:authenticated"})
# Built-in ClusterRoles that write (and read secrets in) everything they are bound over.
BUILTIN_WILDCARD = frozenset({"cluster-admin"})
BUILTIN_SECRET_READERS = frozenset({"cluster-admin", "admin", "edit"})
READ_VERBS = frozenset({"get", "list", "watch", "*"})
IMDS = ipaddress.ip_address("169.254.169.254")
EBS_PROVISIONERS = frozenset({"ebs.csi.aws.com", "kubernetes.io/aws-ebs"})


def _meta(r: Resource, key: str) -> Any:
    value = get(r.props, f"metadata.{key}")
    if is_unknown(value):
        raise UnknownRead(value.path)
    return value


def _namespace_names(resources: Sequence[Resource]) -> Iterator[tuple[Resource, Finding | str]]:
    """(namespace resource, its name or Undecided)."""
    for r in resources:
        if r.type == NAMESPACE:
            name = get(r.props, "metadata.name", r.name)
            yield r, (Undecided(name.path) if is_unknown(name) else str(name))


def _is_default_deny(spec: Mapping[str, Any]) -> bool:
    selector = as_mapping(spec.get("podSelector"))
    types = {str(t) for t in as_list(spec.get("policyTypes"))}
    return (
        not as_mapping(selector.get("matchLabels"))
        and not as_list(selector.get("matchExpressions"))
        and {"Ingress", "Egress"} <= types
        and not as_list(spec.get("ingress"))
        and not as_list(spec.get("egress"))
    )


def _allows_all(spec: Mapping[str, Any]) -> str | None:
    """An ingress rule with neither peers nor ports admits everything (and likewise egress)."""
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for item in as_list(spec.get(direction)):
            rule = as_mapping(item)
            if not as_list(rule.get(peers)) and not as_list(rule.get("ports")):
                return direction
    return None


def namespace_default_deny(  # noqa: PLR0912 - policies first, then each namespace
    resources: Sequence[Resource], config: Mapping[str, Any]
) -> Iterator[tuple[str, Finding]]:
    exempt = config.get("exemptions", {})
    denied: set[str] = set()
    opened: dict[str, list[str]] = {}
    undecided: dict[str, str] = {}
    for r in resources:
        if r.type != NETPOL:
            continue
        try:
            namespace = str(_meta(r, "namespace") or "default")
        except UnknownRead as exc:
            yield r.urn, Undecided(exc.path)
            continue
        try:
            spec = as_mapping(r.props.get("spec"))
            if _is_default_deny(spec):
                denied.add(namespace)
            direction = _allows_all(spec)
            if direction:
                opened.setdefault(namespace, []).append(f"{_meta(r, 'name')} ({direction})")
        except UnknownRead as exc:
            undecided[namespace] = exc.path
    for r, name in _namespace_names(resources):
        if isinstance(name, Undecided):
            yield r.urn, name
            continue
        if name in exempt:
            continue
        if name not in denied:
            if name in undecided:
                yield r.urn, Undecided(undecided[name])
            else:
                yield (
                    r.urn,
                    (
                        f"namespace {name} has no default-deny NetworkPolicy (podSelector {{}}, "
                        "policyTypes Ingress and Egress, no rules)"
                    ),
                )
        for policy in opened.get(name, []):
            yield r.urn, f"NetworkPolicy {policy} allows all traffic and undoes the default deny"


def _reaches_imds(peer: Mapping[str, Any]) -> bool:
    block = as_mapping(peer.get("ipBlock"))
    if not block:
        return False
    cidr = network(block.get("cidr"))
    if cidr is None or IMDS not in cidr:
        return False
    for excluded in as_list(block.get("except")):
        parsed = network(excluded)
        if parsed is not None and IMDS in parsed:
            return False
    return True


def egress_no_imds(r: Resource, config: Mapping[str, Any]) -> Iterator[Finding]:
    """Instance metadata hands out the node role's credentials: a pod that reaches it can
    act as the node. Only namespaces listed with a reason (node agents) may."""
    try:
        namespace = str(_meta(r, "namespace") or "default")
    except UnknownRead as exc:
        yield Undecided(exc.path)
        return
    if namespace in config.get("exemptions", {}):
        return

    def check() -> Iterator[Finding]:
        for index, rule in enumerate(as_list(get(r.props, "spec.egress"))):
            peers = as_list(as_mapping(rule).get("to"))
            if not peers:
                yield f"egress[{index}] has no 'to': it reaches 169.254.169.254 (instance metadata)"
            for peer in peers:
                if _reaches_imds(as_mapping(peer)):
                    yield (
                        f"egress[{index}] ipBlock {get(peer, 'ipBlock.cidr')} must list "
                        "169.254.169.254/32 in except"
                    )

    yield from guarded(check)


def _subjects(r: Resource) -> list[Mapping[str, Any]]:
    return [as_mapping(s) for s in as_list(r.props.get("subjects"))]


def no_public_bindings(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    def check() -> Iterator[Finding]:
        for subject in _subjects(r):
            name = subject.get("name")
            if is_unknown(name):
                yield Undecided(name.path)
            elif name in PUBLIC_SUBJECTS:
                yield f"binds {name}: every (or any authenticated) caller gets the role"

    yield from guarded(check)


def _rules_of(r: Resource) -> list[Mapping[str, Any]]:
    return [as_mapping(rule) for rule in as_list(r.props.get("rules"))]


def _has_wildcard(r: Resource) -> bool:
    """A rule that grants more than it names: '*' verbs; '*' resources or API groups with
    verbs beyond reading; or reading '*' in the core group (which holds the secrets)."""
    for rule in _rules_of(r):
        verbs = {str(v) for v in as_list(rule.get("verbs"))}
        resources = {str(v) for v in as_list(rule.get("resources"))}
        groups = {str(v) for v in as_list(rule.get("apiGroups"))}
        urls = {str(v) for v in as_list(rule.get("nonResourceURLs"))}
        writes = bool(verbs - {"get", "list", "watch"})
        if "*" in verbs:
            return True
        if ("*" in resources or "*" in groups or "*" in urls) and writes:
            return True
        if "*" in resources and groups & {"", "*"}:
            return True
    return False


def _reads_secrets(r: Resource) -> bool:
    for rule in _rules_of(r):
        groups = {str(g) for g in as_list(rule.get("apiGroups"))}
        resources = {str(x) for x in as_list(rule.get("resources"))}
        verbs = {str(v) for v in as_list(rule.get("verbs"))}
        if groups & {"", "*"} and resources & {"secrets", "*"} and verbs & READ_VERBS:
            return True
    return False


def _roles(resources: Sequence[Resource]) -> dict[tuple[str, str, str], Resource]:
    """(kind, namespace, name) -> Role/ClusterRole resource."""
    roles: dict[tuple[str, str, str], Resource] = {}
    for r in resources:
        if r.type in ROLE_TYPES:
            kind = r.type.rsplit(":", 1)[-1]
            namespace = str(get(r.props, "metadata.namespace") or "") if kind == "Role" else ""
            name = get(r.props, "metadata.name", r.name)
            if not is_unknown(name):
                roles[(kind, namespace, str(name))] = r
    return roles


def _role_ref(
    binding: Resource, roles: Mapping[tuple[str, str, str], Resource]
) -> tuple[str, Resource | None]:
    ref = as_mapping(binding.props.get("roleRef"))
    kind = str(ref.get("kind", "ClusterRole"))
    name = ref.get("name")
    if is_unknown(name):
        raise UnknownRead(name.path)
    namespace = str(get(binding.props, "metadata.namespace") or "") if kind == "Role" else ""
    return str(name), roles.get((kind, namespace, str(name)))


def wildcard_roles_admin_only(
    resources: Sequence[Resource], config: Mapping[str, Any]
) -> Iterator[tuple[str, Finding]]:
    admin_groups = set(config.get("adminGroups", ["agent-factory:sre"]))
    roles = _roles(resources)
    for r in resources:
        if r.type not in BINDING_TYPES:
            continue

        def check(binding: Resource = r) -> Iterator[Finding]:
            name, role = _role_ref(binding, roles)
            wildcard = name in BUILTIN_WILDCARD or (role is not None and _has_wildcard(role))
            if not wildcard:
                return
            for subject in _subjects(binding):
                who = subject.get("name")
                if is_unknown(who):
                    yield Undecided(who.path)
                elif subject.get("kind") != "Group" or who not in admin_groups:
                    yield f"wildcard role {name} is bound to {subject.get('kind')} {who}"

        for finding in guarded(check):
            yield r.urn, finding


def _tenant_subject(subject: Mapping[str, Any], prefix: str, groups: list[str]) -> str | None:
    """The tenant namespace a subject belongs to ('*' for a tenant group), or None."""
    kind = subject.get("kind")
    if kind == "ServiceAccount":
        namespace = str(subject.get("namespace") or "")
        return namespace if namespace.startswith(prefix) else None
    name = str(subject.get("name") or "")
    if name.startswith(f"system:serviceaccounts:{prefix}"):
        return name.removeprefix("system:serviceaccounts:")
    return "*" if matches(name, groups) else None


def tenant_secrets_isolated(
    resources: Sequence[Resource], config: Mapping[str, Any]
) -> Iterator[tuple[str, Finding]]:
    prefix = str(config.get("tenantNamespacePrefix", "tenant-"))
    groups = list(config.get("tenantGroups", ["agent-factory:tenant-*", "tenant:*"]))
    roles = _roles(resources)
    for r in resources:
        if r.type not in BINDING_TYPES:
            continue

        def check(binding: Resource = r) -> Iterator[Finding]:
            name, role = _role_ref(binding, roles)
            reads = name in BUILTIN_SECRET_READERS or (role is not None and _reads_secrets(role))
            if not reads:
                return
            where = (
                None
                if binding.type.endswith("ClusterRoleBinding")
                else str(get(binding.props, "metadata.namespace") or "default")
            )
            for subject in _subjects(binding):
                tenant = _tenant_subject(subject, prefix, groups)
                if tenant is None or (where is not None and tenant == where):
                    continue
                scope = "every namespace" if where is None else f"namespace {where}"
                yield f"tenant {subject.get('kind')} {subject.get('name')} reads secrets in {scope}"

        for finding in guarded(check):
            yield r.urn, finding


def sa_token_declared(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    if r.type.endswith("Patch"):
        return
    value = r.props.get("automountServiceAccountToken")
    if is_unknown(value):
        yield Undecided(value.path)
    elif not isinstance(value, bool):
        yield (
            "automountServiceAccountToken must be declared: false, or true for a workload "
            "that calls the Kubernetes API (IRSA does not need it)"
        )


def tenant_services_internal(r: Resource, config: Mapping[str, Any]) -> Iterator[Finding]:
    prefix = str(config.get("tenantNamespacePrefix", "tenant-"))
    try:
        namespace = str(_meta(r, "namespace") or "default")
    except UnknownRead as exc:
        yield Undecided(exc.path)
        return
    if not namespace.startswith(prefix):
        return
    kind = get(r.props, "spec.type", "ClusterIP")
    yield from must(
        lambda: kind not in ("LoadBalancer", "NodePort"),
        f"{kind} Service in tenant namespace {namespace}: tenants are reached through "
        "ingress-nginx only",
    )
    yield from must(
        lambda: not as_list(get(r.props, "spec.externalIPs")),
        f"externalIPs on a Service in tenant namespace {namespace}",
    )


def namespace_quota(
    resources: Sequence[Resource], config: Mapping[str, Any]
) -> Iterator[tuple[str, Finding]]:
    exempt = config.get("exemptions", {})
    quoted: set[str] = set()
    for r in resources:
        if r.type == QUOTA:
            namespace = get(r.props, "metadata.namespace")
            if not is_unknown(namespace):
                quoted.add(str(namespace or "default"))
    for r, name in _namespace_names(resources):
        if isinstance(name, Undecided):
            yield r.urn, name
        elif name not in quoted and name not in exempt:
            yield r.urn, f"namespace {name} has no ResourceQuota"


def storage_class_encrypted(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    provisioner = r.props.get("provisioner")
    if is_unknown(provisioner):
        yield Undecided(provisioner.path)
        return
    if provisioner not in EBS_PROVISIONERS:
        yield f"provisioner {provisioner} is not known to encrypt volumes; use ebs.csi.aws.com"
        return
    parameters = get(r.props, "parameters", {})
    yield from must(
        lambda: str(get(parameters, "encrypted", "")).lower() == "true",
        "parameters.encrypted must be 'true'",
    )
    yield from must(
        lambda: present(get(parameters, "kmsKeyId")),
        "parameters.kmsKeyId must name the customer-managed EBS key",
    )


REASONED = {
    "type": "object",
    "additionalProperties": {"type": "string"},
    "default": {},
    "x-relax": "reasoned",
}

RULES = [
    Rule(
        "k8s-namespace-default-deny",
        "Every namespace keeps a default-deny NetworkPolicy, and no policy allows all traffic.",
        "critical",
        "Keep the namespace's default-deny policy; open flows with policies that name peers "
        "or ports.",
        AREA,
        stack_check=namespace_default_deny,
        config_schema={"exemptions": {**REASONED, "description": "namespace -> reason"}},
    ),
    Rule(
        "k8s-egress-no-imds",
        "NetworkPolicies never let pods reach the instance metadata address.",
        "critical",
        "Add 169.254.169.254/32 to the ipBlock's except list; name destinations in 'to'.",
        AREA,
        resource_check=egress_no_imds,
        types=frozenset({NETPOL}),
        config_schema={
            "exemptions": {
                **REASONED,
                "description": "namespace -> why its pods need instance metadata",
                "default": {"kube-system": "node agents (VPC CNI, EBS CSI) read their node"},
            }
        },
    ),
    Rule(
        "k8s-no-public-bindings",
        "No RoleBinding or ClusterRoleBinding grants system:anonymous, system:unauthenticated "
        "or system:authenticated.",
        "critical",
        "Bind named groups or service accounts.",
        AREA,
        resource_check=no_public_bindings,
        types=BINDING_TYPES,
    ),
    Rule(
        "k8s-wildcard-roles-admin-only",
        "Roles with '*' verbs, '*' resources or API groups beyond reading, or every core "
        "resource (and cluster-admin) are bound only to the admin group.",
        "critical",
        "List the verbs and resources the subject needs; wildcard roles stay with the SRE group.",
        AREA,
        stack_check=wildcard_roles_admin_only,
        config_schema={
            "adminGroups": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["agent-factory:sre"],
                "x-relax": "subset",
            }
        },
    ),
    Rule(
        "k8s-tenant-secrets-isolated",
        "Tenants cannot read secrets outside their own namespace.",
        "critical",
        "Bind tenant subjects with RoleBindings in their own namespace only.",
        AREA,
        stack_check=tenant_secrets_isolated,
        config_schema={
            "tenantNamespacePrefix": {"type": "string", "default": "tenant-"},
            "tenantGroups": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["agent-factory:tenant-*", "tenant:*"],
                "x-relax": "superset",
            },
        },
    ),
    Rule(
        "k8s-sa-token-declared",
        "Service accounts declare automountServiceAccountToken instead of mounting an API "
        "token into every pod by default.",
        "high",
        "Set automount_service_account_token=False (True only where the workload calls the "
        "Kubernetes API).",
        AREA,
        resource_check=sa_token_declared,
        types=frozenset({"kubernetes:core/v1:ServiceAccount"}),
    ),
    Rule(
        "k8s-tenant-services-internal",
        "Tenant namespaces have no LoadBalancer or NodePort Services and no externalIPs.",
        "critical",
        "Use a ClusterIP Service behind an Ingress of ingress-nginx.",
        AREA,
        resource_check=tenant_services_internal,
        types=frozenset({"kubernetes:core/v1:Service"}),
        config_schema={"tenantNamespacePrefix": {"type": "string", "default": "tenant-"}},
    ),
    Rule(
        "k8s-namespace-quota",
        "Every namespace has a ResourceQuota.",
        "high",
        "Create the namespace through the platform's namespace component (quota, limits, "
        "default-deny).",
        AREA,
        stack_check=namespace_quota,
        config_schema={"exemptions": {**REASONED, "description": "namespace -> reason"}},
    ),
    Rule(
        "k8s-storage-class-encrypted",
        "StorageClasses provision encrypted EBS volumes with the customer-managed key.",
        "high",
        "Use provisioner ebs.csi.aws.com with parameters encrypted: 'true' and kmsKeyId.",
        AREA,
        resource_check=storage_class_encrypted,
        types=frozenset({"kubernetes:storage.k8s.io/v1:StorageClass"}),
    ),
]

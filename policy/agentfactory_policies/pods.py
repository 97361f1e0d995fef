"""Pod Security Standards *restricted*, for every pod template, plus namespace labels.

Each rule checks containers, initContainers and ephemeralContainers, and honours
pod-level settings that containers inherit (runAsNonRoot, seccompProfile).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import partial
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
    known,
    must,
)

AREA = "pod-security"
_TEMPLATE = "spec.template.spec"
POD_SPEC_PATHS = {
    "kubernetes:core/v1:Pod": "spec",
    "kubernetes:core/v1:PodTemplate": "template.spec",
    "kubernetes:core/v1:ReplicationController": _TEMPLATE,
    "kubernetes:apps/v1:Deployment": _TEMPLATE,
    "kubernetes:apps/v1:StatefulSet": _TEMPLATE,
    "kubernetes:apps/v1:DaemonSet": _TEMPLATE,
    "kubernetes:apps/v1:ReplicaSet": _TEMPLATE,
    "kubernetes:batch/v1:Job": _TEMPLATE,
    "kubernetes:batch/v1:CronJob": "spec.jobTemplate.spec.template.spec",
    # Argo Rollouts' Rollout: a Deployment's pod template with another update strategy.
    "kubernetes:argoproj.io/v1alpha1:Rollout": _TEMPLATE,
}
# Server-side-apply patches change live objects: a patch that sets privileged: true is as
# bad as a Deployment that does. A patch leaves out what it does not change, so for
# patches only values that are present are judged ("partial").
POD_SPEC_PATHS.update({f"{type_}Patch": path for type_, path in list(POD_SPEC_PATHS.items())})
WORKLOADS = frozenset(POD_SPEC_PATHS)
ENFORCE = "pod-security.kubernetes.io/enforce"
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
ALLOWED_VOLUME_SOURCES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
        "image",
    }
)
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)


def is_patch(r: Resource) -> bool:
    return r.type.endswith("Patch")


def pod_spec(r: Resource) -> Mapping[str, Any]:
    spec = get(r.props, POD_SPEC_PATHS[r.type])
    if is_unknown(spec):
        raise UnknownRead(spec.path)
    return spec if isinstance(spec, Mapping) else {}


def containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for field in CONTAINER_LISTS:
        for container in as_list(spec.get(field)):
            yield f"{field}[{get(container, 'name', '?')}]", as_mapping(container)


def _context(container: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_mapping(container.get("securityContext"))


def _per_container(
    r: Resource, check: Callable[[str, Mapping[str, Any], Mapping[str, Any]], Iterator[Finding]]
) -> Iterator[Finding]:
    """Run ``check(where, container, pod_spec)`` per container, each isolated from the
    unknowns of the others."""
    try:
        spec = pod_spec(r)
        items = list(containers(spec))
    except UnknownRead as exc:
        yield Undecided(exc.path)
        return
    for where, container in items:
        yield from guarded(check, where, container, spec)


def run_as_non_root(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    loose = is_patch(r)

    def pod_level(spec: Mapping[str, Any]) -> Iterator[Finding]:
        if get(spec, "securityContext.runAsUser") == 0:
            yield "pod securityContext.runAsUser is 0"

    def each(where: str, container: Mapping[str, Any], spec: Mapping[str, Any]) -> Iterator[str]:
        context = _context(container)
        non_root = known(context.get("runAsNonRoot", get(spec, "securityContext.runAsNonRoot")))
        if non_root is not True and not (loose and non_root is None):
            yield f"{where}: runAsNonRoot must be true (pod or container level)"
        if context.get("runAsUser") == 0:
            yield f"{where}: runAsUser is 0"

    try:
        yield from guarded(pod_level, pod_spec(r))
    except UnknownRead as exc:
        yield Undecided(exc.path)
    yield from _per_container(r, each)


def no_privilege_escalation(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    loose = is_patch(r)

    def each(where: str, container: Mapping[str, Any], _s: Mapping[str, Any]) -> Iterator[str]:
        value = known(_context(container).get("allowPrivilegeEscalation"))
        if value is not False and not (loose and value is None):
            yield f"{where}: allowPrivilegeEscalation must be false"

    yield from _per_container(r, each)


def drop_all_capabilities(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    loose = is_patch(r)

    def each(where: str, container: Mapping[str, Any], _s: Mapping[str, Any]) -> Iterator[str]:
        capabilities = as_mapping(_context(container).get("capabilities"))
        drop = known(capabilities.get("drop"))
        if "ALL" not in as_list(drop) and not (loose and drop is None):
            yield f"{where}: capabilities.drop must include ALL"
        extra = [c for c in as_list(capabilities.get("add")) if c != "NET_BIND_SERVICE"]
        if extra:
            yield f"{where}: capabilities.add may only contain NET_BIND_SERVICE, got {extra}"

    yield from _per_container(r, each)


def seccomp_profile(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    loose = is_patch(r)

    def each(where: str, container: Mapping[str, Any], spec: Mapping[str, Any]) -> Iterator[str]:
        pod_type = get(spec, "securityContext.seccompProfile.type")
        kind = known(get(_context(container), "seccompProfile.type", pod_type))
        if kind not in ("RuntimeDefault", "Localhost") and not (loose and kind is None):
            yield f"{where}: seccompProfile.type must be RuntimeDefault or Localhost"

    def pod_level(spec: Mapping[str, Any]) -> Iterator[str]:
        if get(spec, "securityContext.seccompProfile.type") == "Unconfined":
            yield "pod seccompProfile is Unconfined"

    try:
        yield from guarded(pod_level, pod_spec(r))
    except UnknownRead as exc:
        yield Undecided(exc.path)
    yield from _per_container(r, each)


def not_privileged(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    def each(where: str, container: Mapping[str, Any], _s: Mapping[str, Any]) -> Iterator[str]:
        if known(_context(container).get("privileged")) is True:
            yield f"{where}: privileged containers are forbidden"
        if known(get(_context(container), "windowsOptions.hostProcess")) is True:
            yield f"{where}: hostProcess containers are forbidden"

    yield from _per_container(r, each)


def read_only_root_filesystem(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    loose = is_patch(r)

    def each(where: str, container: Mapping[str, Any], _s: Mapping[str, Any]) -> Iterator[str]:
        if where.startswith("ephemeralContainers"):
            return  # debug containers are attached by hand, never declared in a template
        value = known(_context(container).get("readOnlyRootFilesystem"))
        if value is not True and not (loose and value is None):
            yield f"{where}: readOnlyRootFilesystem must be true (mount an emptyDir to write)"

    yield from _per_container(r, each)


def _not_true(value: Any) -> bool:
    return known(value) is not True


def no_host_namespaces(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    def pod_level(spec: Mapping[str, Any]) -> Iterator[Finding]:
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            yield from must(partial(_not_true, spec.get(flag)), f"{flag} must not be true")

    def each(where: str, container: Mapping[str, Any], _s: Mapping[str, Any]) -> Iterator[str]:
        for port in as_list(container.get("ports")):
            if as_mapping(port).get("hostPort"):
                yield f"{where}: hostPort {port['hostPort']} is forbidden"

    try:
        yield from guarded(pod_level, pod_spec(r))
    except UnknownRead as exc:
        yield Undecided(exc.path)
    yield from _per_container(r, each)


def allowed_volumes(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    def volume_check(volume: Any) -> Iterator[str]:
        sources = set(as_mapping(volume)) - {"name"}
        forbidden = sorted(sources - ALLOWED_VOLUME_SOURCES)
        if forbidden:
            yield f"volume {volume.get('name', '?')}: {', '.join(forbidden)} is not allowed"

    try:
        volumes = as_list(pod_spec(r).get("volumes"))
    except UnknownRead as exc:
        yield Undecided(exc.path)
        return
    for volume in volumes:
        yield from guarded(volume_check, volume)


def _lsm(where: str, context: Mapping[str, Any]) -> Iterator[str]:
    if context.get("procMount", "Default") not in ("Default", None):
        yield f"{where}: procMount must be Default"
    selinux = as_mapping(context.get("seLinuxOptions"))
    if selinux.get("type", "") not in SELINUX_TYPES:
        yield f"{where}: seLinuxOptions.type {selinux.get('type')} is not allowed"
    if selinux.get("user") or selinux.get("role"):
        yield f"{where}: seLinuxOptions.user and role must not be set"
    if get(context, "appArmorProfile.type") == "Unconfined":
        yield f"{where}: appArmorProfile must not be Unconfined"


def kernel_and_lsm_limits(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    def pod_level(spec: Mapping[str, Any]) -> Iterator[Finding]:
        pod = as_mapping(spec.get("securityContext"))
        for sysctl in as_list(pod.get("sysctls")):
            if sysctl.get("name") not in SAFE_SYSCTLS:
                yield f"sysctl {sysctl.get('name')} is not in the safe set"
        yield from _lsm("pod", pod)
        annotations = get(
            r.props, POD_SPEC_PATHS[r.type].rsplit("spec", 1)[0] + "metadata.annotations"
        )
        for key, value in as_mapping(annotations).items():
            if (
                key.startswith("container.apparmor.security.beta.kubernetes.io/")
                and value == "unconfined"
            ):
                yield f"annotation {key} is unconfined"

    def each(where: str, container: Mapping[str, Any], _s: Mapping[str, Any]) -> Iterator[str]:
        yield from _lsm(where, _context(container))

    try:
        yield from guarded(pod_level, pod_spec(r))
    except UnknownRead as exc:
        yield Undecided(exc.path)
    yield from _per_container(r, each)


def namespace_restricted(r: Resource, config: Mapping[str, Any]) -> Iterator[Finding]:
    name = get(r.props, "metadata.name", r.name)
    if is_unknown(name):
        yield Undecided(name.path)
        return
    exemptions = config.get("exemptions", {})
    if name in exemptions:
        if not str(exemptions[name]).strip():
            yield f"namespace {name} is exempt without a reason"
        return
    yield from must(
        lambda: as_mapping(get(r.props, "metadata.labels")).get(ENFORCE) == "restricted",
        f"namespace {name} must label pod-security.kubernetes.io/enforce: restricted",
    )


def _pss(name: str, description: str, remediation: str, check: Any) -> Rule:
    return Rule(
        name,
        description,
        "high",
        remediation,
        AREA,
        resource_check=check,
        types=WORKLOADS,
    )


RULES = [
    _pss(
        "pss-run-as-non-root",
        "Pods run as a non-root user (PSS restricted).",
        "Set securityContext.runAsNonRoot=true and a non-zero runAsUser (the seed uses 1000).",
        run_as_non_root,
    ),
    _pss(
        "pss-no-privilege-escalation",
        "Containers cannot gain privileges (PSS restricted).",
        "Set allowPrivilegeEscalation=false in every container's securityContext.",
        no_privilege_escalation,
    ),
    _pss(
        "pss-drop-all-capabilities",
        "Containers drop ALL capabilities and add back at most NET_BIND_SERVICE.",
        "Set capabilities: {drop: [ALL]} and add only NET_BIND_SERVICE if binding below 1024.",
        drop_all_capabilities,
    ),
    _pss(
        "pss-seccomp-profile",
        "Pods use the RuntimeDefault (or a Localhost) seccomp profile.",
        "Set securityContext.seccompProfile.type=RuntimeDefault at pod level.",
        seccomp_profile,
    ),
    _pss(
        "pss-not-privileged",
        "No privileged or host-process containers.",
        "Remove privileged: true; give the workload only the access it needs.",
        not_privileged,
    ),
    _pss(
        "pss-read-only-root-filesystem",
        "Containers run with a read-only root filesystem.",
        "Set readOnlyRootFilesystem=true; mount an emptyDir where the process must write.",
        read_only_root_filesystem,
    ),
    _pss(
        "pss-no-host-namespaces",
        "Pods do not share the host's network, PID or IPC namespaces, nor bind host ports.",
        "Remove hostNetwork/hostPID/hostIPC and hostPort; expose through a Service.",
        no_host_namespaces,
    ),
    _pss(
        "pss-allowed-volume-types",
        "Pods mount only the restricted volume types (no hostPath).",
        "Use configMap, secret, emptyDir, projected, downwardAPI, csi, ephemeral or PVC volumes.",
        allowed_volumes,
    ),
    _pss(
        "pss-kernel-and-lsm-limits",
        "procMount, sysctls, SELinux and AppArmor stay within the restricted profile.",
        "Drop custom procMount, unsafe sysctls, SELinux user/role and Unconfined AppArmor.",
        kernel_and_lsm_limits,
    ),
    Rule(
        "namespace-pss-restricted",
        "Namespaces enforce the restricted Pod Security Standard unless exempt with a reason.",
        "high",
        "Label the namespace pod-security.kubernetes.io/enforce=restricted, or add it to the "
        "policy config's exemptions with the reason (node exporters, log shippers).",
        AREA,
        resource_check=namespace_restricted,
        types=frozenset({"kubernetes:core/v1:Namespace"}),
        config_schema={
            "exemptions": {
                "type": "object",
                "description": "namespace -> reason it needs host access",
                "additionalProperties": {"type": "string"},
                "default": {},
                "x-relax": "reasoned",
            }
        },
    ),
]

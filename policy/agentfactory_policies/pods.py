"""Pod Security Standards *restricted*, for every pod template, plus namespace labels.

Each rule checks containers, initContainers and ephemeralContainers, and honours
pod-level settings that containers inherit (runAsNonRoot, seccompProfile).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .core import Resource, Rule, as_list, get

AREA = "pod-security"
POD_SPEC_PATHS = {
    "kubernetes:core/v1:Pod": "spec",
    "kubernetes:apps/v1:Deployment": "spec.template.spec",
    "kubernetes:apps/v1:StatefulSet": "spec.template.spec",
    "kubernetes:apps/v1:DaemonSet": "spec.template.spec",
    "kubernetes:apps/v1:ReplicaSet": "spec.template.spec",
    "kubernetes:batch/v1:Job": "spec.template.spec",
    "kubernetes:batch/v1:CronJob": "spec.jobTemplate.spec.template.spec",
}
WORKLOADS = frozenset(POD_SPEC_PATHS)
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


def pod_spec(r: Resource) -> Mapping[str, Any]:
    spec = get(r.props, POD_SPEC_PATHS[r.type])
    return spec if isinstance(spec, Mapping) else {}


def containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for field in CONTAINER_LISTS:
        for container in as_list(spec.get(field)):
            yield f"{field}[{container.get('name', '?')}]", container


def _context(container: Mapping[str, Any]) -> Mapping[str, Any]:
    return container.get("securityContext") or {}


def run_as_non_root(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    spec = pod_spec(r)
    pod = spec.get("securityContext") or {}
    if pod.get("runAsUser") == 0:
        yield "pod securityContext.runAsUser is 0"
    for where, container in containers(spec):
        context = _context(container)
        non_root = context.get("runAsNonRoot", pod.get("runAsNonRoot"))
        if non_root is not True:
            yield f"{where}: runAsNonRoot must be true (pod or container level)"
        if context.get("runAsUser") == 0:
            yield f"{where}: runAsUser is 0"


def no_privilege_escalation(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    for where, container in containers(pod_spec(r)):
        if _context(container).get("allowPrivilegeEscalation") is not False:
            yield f"{where}: allowPrivilegeEscalation must be false"


def drop_all_capabilities(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    for where, container in containers(pod_spec(r)):
        capabilities = _context(container).get("capabilities") or {}
        if "ALL" not in as_list(capabilities.get("drop")):
            yield f"{where}: capabilities.drop must include ALL"
        extra = [c for c in as_list(capabilities.get("add")) if c != "NET_BIND_SERVICE"]
        if extra:
            yield f"{where}: capabilities.add may only contain NET_BIND_SERVICE, got {extra}"


def seccomp_profile(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    spec = pod_spec(r)
    pod_type = get(spec, "securityContext.seccompProfile.type")
    if pod_type == "Unconfined":
        yield "pod seccompProfile is Unconfined"
    for where, container in containers(spec):
        kind = get(_context(container), "seccompProfile.type", pod_type)
        if kind not in ("RuntimeDefault", "Localhost"):
            yield f"{where}: seccompProfile.type must be RuntimeDefault or Localhost"


def not_privileged(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    for where, container in containers(pod_spec(r)):
        if _context(container).get("privileged") is True:
            yield f"{where}: privileged containers are forbidden"
        if get(_context(container), "windowsOptions.hostProcess") is True:
            yield f"{where}: hostProcess containers are forbidden"


def no_host_namespaces(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    spec = pod_spec(r)
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag) is True:
            yield f"{flag} must not be true"
    for where, container in containers(spec):
        for port in as_list(container.get("ports")):
            if port.get("hostPort"):
                yield f"{where}: hostPort {port['hostPort']} is forbidden"


def allowed_volumes(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    for volume in as_list(pod_spec(r).get("volumes")):
        sources = set(volume) - {"name"}
        forbidden = sorted(sources - ALLOWED_VOLUME_SOURCES)
        if forbidden:
            yield f"volume {volume.get('name', '?')}: {', '.join(forbidden)} is not allowed"


def kernel_and_lsm_limits(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    spec = pod_spec(r)
    pod = spec.get("securityContext") or {}
    for sysctl in as_list(pod.get("sysctls")):
        if sysctl.get("name") not in SAFE_SYSCTLS:
            yield f"sysctl {sysctl.get('name')} is not in the safe set"
    contexts = [("pod", pod)] + [(where, _context(c)) for where, c in containers(spec)]
    for where, context in contexts:
        if context.get("procMount", "Default") != "Default":
            yield f"{where}: procMount must be Default"
        selinux = context.get("seLinuxOptions") or {}
        if selinux.get("type", "") not in SELINUX_TYPES:
            yield f"{where}: seLinuxOptions.type {selinux.get('type')} is not allowed"
        if selinux.get("user") or selinux.get("role"):
            yield f"{where}: seLinuxOptions.user and role must not be set"
        if get(context, "appArmorProfile.type") == "Unconfined":
            yield f"{where}: appArmorProfile must not be Unconfined"
    annotations = get(r.props, POD_SPEC_PATHS[r.type].rsplit("spec", 1)[0] + "metadata.annotations")
    for key, value in (annotations or {}).items():
        if (
            key.startswith("container.apparmor.security.beta.kubernetes.io/")
            and value == "unconfined"
        ):
            yield f"annotation {key} is unconfined"


def namespace_restricted(r: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    name = get(r.props, "metadata.name") or r.name
    labels = get(r.props, "metadata.labels") or {}
    exemptions = config.get("exemptions", {})
    if name in exemptions:
        if not str(exemptions[name]).strip():
            yield f"namespace {name} is exempt without a reason"
        return
    if labels.get("pod-security.kubernetes.io/enforce") != "restricted":
        yield f"namespace {name} must label pod-security.kubernetes.io/enforce: restricted"


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
            }
        },
    ),
]

"""Audit and detection: a CloudTrail that records everything and cannot be quietly
edited, and GuardDuty watching the cluster. (Both are stateful: see resilience.)"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .core import (
    Finding,
    Resource,
    Rule,
    Undecided,
    as_bool,
    as_list,
    as_mapping,
    get,
    is_unknown,
    must,
    present,
)

AREA = "audit"
TRAIL = "aws:cloudtrail/trail:Trail"
DETECTOR = "aws:guardduty/detector:Detector"
FEATURE = "aws:guardduty/detectorFeature:DetectorFeature"
RUNTIME = ("RUNTIME_MONITORING", "EKS_RUNTIME_MONITORING")


def trail_configured(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    yield from must(
        lambda: as_bool(r.props.get("isMultiRegionTrail")),
        "isMultiRegionTrail must be true: activity in other regions goes unrecorded",
    )
    yield from must(
        lambda: as_bool(r.props.get("enableLogFileValidation")),
        "enableLogFileValidation must be true: tampered log files go unnoticed",
    )
    yield from must(
        lambda: present(r.props.get("kmsKeyId")), "kmsKeyId must name a customer-managed key"
    )
    yield from must(
        lambda: as_bool(r.props.get("enableLogging", True)), "enableLogging must be true"
    )
    yield from must(
        lambda: as_bool(r.props.get("includeGlobalServiceEvents", True)),
        "includeGlobalServiceEvents must be true: IAM and STS events are global",
    )


def _stack_anchor(resources: Sequence[Resource]) -> str:
    """Where a stack-wide finding is reported: the AWS provider (what the stack deploys
    with), else nothing in particular."""
    for prefix in ("pulumi:providers:aws", "pulumi:providers:"):
        for r in resources:
            if r.type.startswith(prefix):
                return r.urn
    return ""


def trail_present(
    resources: Sequence[Resource], config: Mapping[str, Any]
) -> Iterator[tuple[str, Finding]]:
    if str(config.get("providedBy") or ""):
        return  # another stack's multi-region trail covers this account (gate checks it)
    if not any(r.type == TRAIL for r in resources):
        yield (
            _stack_anchor(resources),
            (
                "no CloudTrail trail in this stack; if another stack's multi-region trail covers "
                "the account, name that stack in the policy config's providedBy"
            ),
        )


def _features(resources: Sequence[Resource]) -> dict[str, dict[str, Any]]:
    """Detector urn -> feature name -> (status, additional configurations)."""
    found: dict[str, dict[str, Any]] = {}
    for r in resources:
        if r.type != FEATURE:
            continue
        name = r.props.get("name")
        for detector in r.deps("detectorId"):
            key = str(name) if not is_unknown(name) else f"?{len(found)}"
            found.setdefault(detector, {})[key] = r.props
    return found


def _feature_enabled(props: Any) -> Any:
    status = get(props, "status")
    if is_unknown(status):
        return status
    return status == "ENABLED"


def guardduty_eks(
    resources: Sequence[Resource], config: Mapping[str, Any]
) -> Iterator[tuple[str, Finding]]:
    features = _features(resources)
    detectors = [r for r in resources if r.type == DETECTOR]
    if not detectors and not str(config.get("providedBy") or ""):
        yield (
            _stack_anchor(resources),
            "no GuardDuty detector in this stack (or name the stack that has it)",
        )
    for r in detectors:
        enable = r.props.get("enable", True)
        if is_unknown(enable):
            yield r.urn, Undecided(enable.path)
        elif not as_bool(enable):
            yield r.urn, "enable must be true"
        own = features.get(r.urn, {})
        legacy = as_bool(get(r.props, "datasources.kubernetes.auditLogs.enable"))
        audit = _feature_enabled(own.get("EKS_AUDIT_LOGS"))
        if is_unknown(audit):
            yield r.urn, Undecided(audit.path)
        elif not audit and not legacy:
            yield r.urn, "EKS_AUDIT_LOGS must be ENABLED (Kubernetes audit log findings)"
        runtime = [own[n] for n in RUNTIME if n in own]
        statuses = [_feature_enabled(f) for f in runtime]
        if any(is_unknown(s) for s in statuses):
            yield r.urn, Undecided("status")
        elif not any(statuses):
            yield r.urn, "RUNTIME_MONITORING must be ENABLED (container runtime findings)"
        else:
            agents = {
                str(get(c, "name")): get(c, "status")
                for f in runtime
                for c in as_list(as_mapping(f).get("additionalConfigurations"))
            }
            if agents.get("EKS_ADDON_MANAGEMENT") != "ENABLED":
                yield (
                    r.urn,
                    (
                        "runtime monitoring needs additionalConfigurations EKS_ADDON_MANAGEMENT "
                        "ENABLED, or no agent runs on the nodes"
                    ),
                )


PROVIDED_BY = {
    "type": "string",
    "description": "the stack whose resource covers this stack's account and region",
    "default": "",
    "x-relax": "stack",
}

RULES = [
    Rule(
        "cloudtrail-configured",
        "CloudTrail records every region, validates log files, encrypts with KMS and is on.",
        "critical",
        "Set is_multi_region_trail, enable_log_file_validation, kms_key_id, enable_logging.",
        AREA,
        resource_check=trail_configured,
        types=frozenset({TRAIL}),
    ),
    Rule(
        "cloudtrail-present",
        "The stack has a CloudTrail trail, or names the stack whose trail covers it.",
        "critical",
        "Keep security.cloudtrail on, or set providedBy in the policy config.",
        AREA,
        stack_check=trail_present,
        config_schema={"providedBy": PROVIDED_BY},
    ),
    Rule(
        "guardduty-eks-protection",
        "GuardDuty is enabled with EKS audit-log and runtime monitoring (managed agent).",
        "critical",
        "Enable the detector and DetectorFeatures EKS_AUDIT_LOGS and RUNTIME_MONITORING with "
        "EKS_ADDON_MANAGEMENT.",
        AREA,
        stack_check=guardduty_eks,
        config_schema={"providedBy": PROVIDED_BY},
    ),
]

"""All rules, and their conversion into pulumi_policy policies (the only Pulumi import)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import encryption, exposure, hygiene, pods, resilience, tags
from .core import Resource, Rule

ALL_RULES: list[Rule] = [
    *encryption.RULES,
    *pods.RULES,
    *tags.RULES,
    *exposure.RULES,
    *resilience.RULES,
    *hygiene.RULES,
]


def _plain(value: Any) -> Any:
    """The SDK hands rules read-only proxies (Mapping / Sequence); rules take plain data."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_plain(item) for item in value]
    return value


def _mapping(value: Any) -> Mapping[str, Any]:
    plain = _plain(value)
    return plain if isinstance(plain, dict) else {}


def build_policies() -> list[Any]:
    """pulumi_policy objects for every rule; imported lazily so rules stay Pulumi-free."""
    from pulumi_policy import (
        EnforcementLevel,
        PolicyConfigSchema,
        ReportViolation,
        ResourceValidationArgs,
        ResourceValidationPolicy,
        Severity,
        StackValidationArgs,
        StackValidationPolicy,
    )

    levels = {
        "advisory": EnforcementLevel.ADVISORY,
        "mandatory": EnforcementLevel.MANDATORY,
        "remediate": EnforcementLevel.REMEDIATE,
        "disabled": EnforcementLevel.DISABLED,
    }
    severities = {
        "low": Severity.LOW,
        "medium": Severity.MEDIUM,
        "high": Severity.HIGH,
        "critical": Severity.CRITICAL,
    }

    def resource_validator(rule: Rule) -> Any:
        def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
            if not rule.applies_to(args.resource_type) or rule.resource_check is None:
                return
            provider = args.provider
            resource = Resource(
                type=args.resource_type,
                name=args.name,
                urn=args.urn,
                props=_mapping(args.props),
                provider_props=_mapping(provider.props) if provider is not None else {},
                protect=bool(args.opts.protect),
            )
            config = {**rule.defaults(), **_mapping(args.get_config())}
            for message in rule.resource_check(resource, config):
                report(message, None)

        return validate

    def stack_validator(rule: Rule) -> Any:
        def validate(args: StackValidationArgs, report: ReportViolation) -> None:
            if rule.stack_check is None:
                return
            resources = [
                Resource(
                    type=r.resource_type,
                    name=r.name,
                    urn=r.urn,
                    props=_mapping(r.props),
                    provider_props=_mapping(r.provider.props) if r.provider else {},
                    protect=bool(r.opts.protect),
                    dependencies=tuple(d.urn for d in r.dependencies),
                    property_dependencies={
                        key: [d.urn for d in deps] for key, deps in r.property_dependencies.items()
                    },
                )
                for r in args.resources
            ]
            config = {**rule.defaults(), **_mapping(args.get_config())}
            for urn, message in rule.stack_check(resources, config):
                report(message, urn)

        return validate

    policies: list[Any] = []
    for rule in ALL_RULES:
        common: dict[str, Any] = {
            "name": rule.name,
            "description": rule.description,
            "enforcement_level": levels[rule.level],
            "severity": severities[rule.severity],
            "remediation_steps": rule.remediation,
            "tags": [rule.area],
        }
        if rule.config_schema:
            common["config_schema"] = PolicyConfigSchema(properties=dict(rule.config_schema))
        if rule.stack_check is not None:
            policies.append(StackValidationPolicy(validate=stack_validator(rule), **common))
        else:
            policies.append(ResourceValidationPolicy(validate=resource_validator(rule), **common))
    return policies

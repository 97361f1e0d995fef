"""All rules, and their conversion into pulumi_policy policies (the only Pulumi import)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from . import (
    audit,
    data,
    delivery,
    eks,
    encryption,
    exposure,
    hygiene,
    iam,
    k8s,
    network,
    pods,
    resilience,
    tags,
    workloads,
)
from .core import Finding, Resource, Rule, Undecided, Unknown, UnknownRead

ALL_RULES: list[Rule] = [
    *encryption.RULES,
    *pods.RULES,
    *tags.RULES,
    *exposure.RULES,
    *resilience.RULES,
    *hygiene.RULES,
    *iam.RULES,
    *network.RULES,
    *eks.RULES,
    *k8s.RULES,
    *data.RULES,
    *audit.RULES,
    *workloads.RULES,
    *delivery.RULES,
]


def _unwrap(value: Any, path: str, sentinels: frozenset[str]) -> Any:
    """Plain data from the SDK's proxies, each unknown as an ``Unknown`` with its path.

    The SDK wraps properties in proxies that raise on *any* unknown they are asked for;
    copying them wholesale (as this pack once did) turned one unknown anywhere into an
    advisory "can't run policy" for every rule. Reading the proxies' targets touches
    nothing, and rules then decide per property (see ``core``).
    """
    from pulumi_policy.proxy import _DictProxy, _ListProxy

    if isinstance(value, _DictProxy | _ListProxy):
        value = value["__target"]
    if isinstance(value, str) and value in sentinels:
        return Unknown(path or "(properties)")
    if isinstance(value, Mapping):
        return {
            key: _unwrap(item, f"{path}.{key}" if path else str(key), sentinels)
            for key, item in value.items()
        }
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_unwrap(item, f"{path}[{index}]", sentinels) for index, item in enumerate(value)]
    return value


def _sentinels() -> frozenset[str]:
    from pulumi_policy import proxy

    return frozenset(getattr(proxy, name) for name in dir(proxy) if name.startswith("UNKNOWN_"))


_PLAIN: dict[int, tuple[Any, Mapping[str, Any]]] = {}


def _mapping(value: Any, sentinels: frozenset[str]) -> Mapping[str, Any]:
    """Plain props of a proxy; the same proxy object (shared by all policies through
    ``_share_decoding``) is unwrapped once. Rules never mutate what they are given."""
    hit = _PLAIN.get(id(value))
    if hit is not None and hit[0] is value:
        return hit[1]
    plain = _unwrap(value, "", sentinels) if value is not None else {}
    result = plain if isinstance(plain, dict) else {}
    if len(_PLAIN) >= 20000:
        del _PLAIN[next(iter(_PLAIN))]
    _PLAIN[id(value)] = (value, result)
    return result


def _config(value: Any) -> dict[str, Any]:
    """Policy config holds no unknowns; it arrives as a plain or proxied mapping."""
    plain = _unwrap(value, "", frozenset()) if value is not None else {}
    return plain if isinstance(plain, dict) else {}


class _Memo:
    """Results per argument object, holding the argument so its id is never reused.

    The SDK decodes a request's properties once per policy (about 90 times per resource);
    the request does not change in between, so the pack decodes it once. Bounded FIFO: a
    stack request has a few hundred resources.
    """

    def __init__(self, function: Callable[[Any], Any], size: int = 20000) -> None:
        self.function = function
        self.size = size
        self.results: dict[int, tuple[Any, Any]] = {}

    def __call__(self, argument: Any) -> Any:
        hit = self.results.get(id(argument))
        if hit is not None and hit[0] is argument:
            return hit[1]
        result = self.function(argument)
        if len(self.results) >= self.size:
            del self.results[next(iter(self.results))]
        self.results[id(argument)] = (argument, result)
        return result


def _share_decoding() -> None:
    """Decode each analyzer message once, not once per policy (a speed-up only: what the
    policies see is the same). Applies only where the SDK has the expected shape."""
    import importlib

    from google.protobuf import json_format

    # Any: the names patched are the SDK module's own imports, not its public API.
    policy: Any = importlib.import_module("pulumi_policy.policy")
    if getattr(policy, "_agentfactory_shared", False):
        return
    names = ("json_format", "deserialize_properties", "unknown_checking_proxy")
    if not all(hasattr(policy, name) for name in names):
        return
    original_deserialize = policy.deserialize_properties
    to_dict = _Memo(json_format.MessageToDict)
    decode = _Memo(original_deserialize)

    class JsonFormat:
        MessageToDict = staticmethod(to_dict)

    def deserialize(props: Any, proxy_secrets: bool = False) -> Any:
        if proxy_secrets:  # remediation: secrets are wrapped, keep the SDK's own path
            return original_deserialize(props, proxy_secrets)
        return decode(props)

    policy.json_format = JsonFormat
    policy.deserialize_properties = deserialize
    policy.unknown_checking_proxy = _Memo(policy.unknown_checking_proxy)
    policy._agentfactory_shared = True


def collect(findings: Iterable[Finding]) -> tuple[list[str], list[str]]:
    """Violations and the paths of undecided checks; a stray unknown read is undecided."""
    messages: list[str] = []
    undecided: list[str] = []
    try:
        for finding in findings:
            if isinstance(finding, Undecided):
                undecided.append(finding.path)
            else:
                messages.append(finding)
    except UnknownRead as exc:
        undecided.append(exc.path)
    return messages, undecided


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
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

    class PreviewUnknownError(UnknownValueError):
        """Raised after the known violations are reported: the SDK turns it into the
        engine's advisory "can't run policy ... during preview" note, naming what is unknown.
        """

        def __init__(self, message: str) -> None:
            super().__init__(UNKNOWN_STRING_VALUE, [])
            self.message = message

    _share_decoding()
    sentinels = _sentinels()
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
                props=_mapping(args.props, sentinels),
                provider_props=_mapping(provider.props, sentinels) if provider else {},
                protect=bool(args.opts.protect),
            )
            config = {**rule.defaults(), **_config(args.get_config())}
            messages, undecided = collect(rule.resource_check(resource, config))
            for message in messages:
                report(message, None)
            if undecided:
                paths = ", ".join(sorted(set(undecided)))
                raise PreviewUnknownError(
                    f"{paths} unknown until the resources it depends on exist"
                )

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
                    props=_mapping(r.props, sentinels),
                    provider_props=_mapping(r.provider.props, sentinels) if r.provider else {},
                    protect=bool(r.opts.protect),
                    dependencies=tuple(d.urn for d in r.dependencies),
                    property_dependencies={
                        key: [d.urn for d in deps] for key, deps in r.property_dependencies.items()
                    },
                )
                for r in args.resources
            ]
            names = {r.urn: r.name for r in resources}
            config = {**rule.defaults(), **_config(args.get_config())}
            undecided: list[str] = []
            try:
                for urn, finding in rule.stack_check(resources, config):
                    if isinstance(finding, Undecided):
                        undecided.append(f"{names.get(urn, urn)}: {finding.path}")
                    else:
                        report(finding, urn)
            except UnknownRead as exc:
                undecided.append(exc.path)
            if undecided:
                paths = "; ".join(sorted(set(undecided)))
                raise PreviewUnknownError(
                    f"{paths} unknown until the resources it depends on exist"
                )

        return validate

    policies: list[Any] = []
    for rule in ALL_RULES:
        common: dict[str, Any] = {
            "name": rule.name,
            "description": rule.description,
            "enforcement_level": levels[rule.level],
            "severity": severities[rule.severity],
            "remediation_steps": rule.remediation,
            # The gate reads "security" to refuse a production config that relaxes the rule.
            "tags": [rule.area, "security"] if rule.security else [rule.area],
        }
        if rule.config_schema:
            common["config_schema"] = PolicyConfigSchema(properties=dict(rule.config_schema))
        if rule.stack_check is not None:
            policies.append(StackValidationPolicy(validate=stack_validator(rule), **common))
        else:
            policies.append(ResourceValidationPolicy(validate=resource_validator(rule), **common))
    return policies

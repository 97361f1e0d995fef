"""gate: pass every planned resource through the real policy pack over gRPC.

The pack runs as the Pulumi engine runs it: ``policy/__main__.py`` in its own process,
printing its port; we then speak the Analyzer protocol (GetAnalyzerInfo, ConfigureStack,
Configure, Analyze per resource, AnalyzeStack once). Like the engine, the gate fills each
policy's config with the defaults from its schema before Configure: the SDK does not.

Unknowns: an input whose plan value is ``"[unknown]"`` (what ``synth.plain`` makes of an
unknown) is sent as the engine's unknown sentinel, and :func:`first_preview` turns a plan
into what a real first preview sends (every id and ARN of a resource not yet created is
unknown), so the pack's handling of unknowns is exercised offline.

Production stacks: a policy config that disables or downgrades a security rule, or sets
one of its properties beyond what the rule's schema allows (``x-relax``), is a
:class:`GateError`, not a quieter gate.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2

from tools.sdk import UNKNOWN, analyzer_pb2, analyzer_pb2_grpc
from tools.synth import ROOT, Plan, PlannedResource

# How a plan spells an unknown value (synth.plain); sent as the engine's sentinel.
UNKNOWN_INPUT = "[unknown]"
# A value shorter than this is too generic to tell which output it came from.
_MIN_COMPUTED = 6
# What the SDK puts before an unknown-value note; such a diagnostic is not a violation.
_UNDECIDED_PREFIX = "can't run policy"

POLICY_DIR = ROOT / "policy"
STARTUP_TIMEOUT_S = 60
LEVELS = {
    "advisory": analyzer_pb2.ADVISORY,
    "mandatory": analyzer_pb2.MANDATORY,
    "remediate": analyzer_pb2.REMEDIATE,
    "disabled": analyzer_pb2.DISABLED,
}
LEVEL_NAMES = {value: name for name, value in LEVELS.items()}


class GateError(RuntimeError):
    """The policy configuration is wrong: a bad input, the message names it."""


class PackError(GateError):
    """The policy pack itself failed (did not start): an internal failure, not bad input."""


@dataclass(frozen=True)
class Violation:
    rule: str
    urn: str
    level: str
    message: str
    # True for the advisory note of a check that waits for an unknown value.
    undecided: bool = False


@dataclass
class GateResult:
    rules: int
    checked: int
    violations: list[Violation] = field(default_factory=list)

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level in ("mandatory", "remediate")]

    def to_json(self) -> dict[str, Any]:
        return {
            "rules": self.rules,
            "checked": self.checked,
            "violations": [asdict(v) for v in self.violations],
        }


def load_policy_config(stack: str, policy_dir: Path = POLICY_DIR) -> dict[str, Any]:
    """``policy/config/<stack>.json``: the file ``pulumi preview --policy-pack-config`` reads."""
    path = policy_dir / "config" / f"{stack}.json"
    if not path.is_file():
        return {}
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise GateError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise GateError(f"{path}: must be an object of policy name -> level or settings")
    return document


def _with_unknowns(value: Any) -> Any:
    if value == UNKNOWN_INPUT:
        return UNKNOWN
    if isinstance(value, dict):
        return {key: _with_unknowns(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_unknowns(item) for item in value]
    return value


def _struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(_with_unknowns(dict(value)))
    return struct


def is_production(stack: str, root: Path = ROOT) -> bool:
    """A stack whose environment is prod (its stack file says so, else its name does)."""
    path = root / f"Pulumi.{stack}.yaml"
    if path.is_file():
        import yaml

        try:
            document = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError:
            document = {}
        config = document.get("config") if isinstance(document, dict) else None
        if isinstance(config, dict) and "agent-factory:environment" in config:
            return str(config["agent-factory:environment"]) == "prod"
    return stack.split("-", 1)[0] == "prod"


def _relaxations(  # noqa: PLR0911 - one return per kind of bound
    where: str, spec: Mapping[str, Any], value: Any, stack: str, root: Path
) -> str | None:
    """Why ``value`` relaxes the setting ``where`` beyond what the pack allows, or None."""
    kind = spec.get("x-relax")
    default: Any = spec.get("default")
    if kind == "free":
        return None
    if kind == "min":
        if not isinstance(value, int | float) or value < default:
            return f"{where}: {value!r} is below the pack's minimum {default!r}"
        return None
    if kind == "max":
        if not isinstance(value, int | float) or value > default:
            return f"{where}: {value!r} is above the pack's maximum {default!r}"
        return None
    if kind == "subset":
        extra = [v for v in (value if isinstance(value, list) else [value]) if v not in default]
        return f"{where}: {extra!r} are not in the pack's list" if extra else None
    if kind == "superset":
        given = value if isinstance(value, list) else [value]
        missing = [v for v in default if v not in given]
        return f"{where}: drops {missing!r} from the pack's list" if missing else None
    if kind == "reasoned":
        if not isinstance(value, dict):
            return f"{where}: must map each entry to the reason it is needed"
        blank = sorted(k for k, v in value.items() if not str(v).strip())
        return f"{where}: {blank} have no reason" if blank else None
    if kind == "stack":
        if value in ("", None):
            return None
        if value == stack or not (root / f"Pulumi.{value}.yaml").is_file():
            return f"{where}: {value!r} is not another stack of this project"
        return None
    return f"{where}: may not be changed in a production stack"


def validate_production_config(
    info: Any, overrides: Mapping[str, Any], stack: str, root: Path = ROOT
) -> list[str]:
    """What a production stack's policy config relaxes that the pack does not allow."""
    problems: list[str] = []
    if overrides.get("all") not in (None, "mandatory"):
        problems.append(f"all: {overrides['all']!r} would lower every rule")
    for policy in info.policies:
        override = overrides.get(policy.name)
        if override is None or "security" not in policy.tags:
            continue
        settings = dict(override) if isinstance(override, dict) else {}
        level = override if isinstance(override, str) else settings.pop("enforcementLevel", None)
        if level not in (None, "mandatory", "remediate"):
            problems.append(f"{policy.name}: a security rule cannot be {level} in production")
        schema = json_format.MessageToDict(policy.configSchema.properties)
        for key, value in settings.items():
            spec = schema.get(key)
            if isinstance(spec, dict):
                problem = _relaxations(f"{policy.name}.{key}", spec, value, stack, root)
                if problem:
                    problems.append(problem)
    return problems


def _policy_configs(
    info: Any, overrides: Mapping[str, Any]
) -> dict[str, analyzer_pb2.PolicyConfig]:
    def level_of(name: str, value: Any) -> int:
        if value not in LEVELS:
            raise GateError(
                f"policy config {name}: unknown enforcement level {value!r} "
                f"(one of {', '.join(LEVELS)})"
            )
        return LEVELS[value]

    default_level = overrides.get("all")
    configs: dict[str, analyzer_pb2.PolicyConfig] = {}
    for policy in info.policies:
        level = policy.enforcementLevel
        if default_level is not None:
            level = level_of("all", default_level)
        properties: dict[str, Any] = {}
        schema = json_format.MessageToDict(policy.configSchema.properties)
        for key, spec in schema.items():
            if isinstance(spec, dict) and "default" in spec:
                properties[key] = spec["default"]
        override = overrides.get(policy.name)
        if isinstance(override, dict):
            settings = dict(override)
            if "enforcementLevel" in settings:
                level = level_of(policy.name, settings.pop("enforcementLevel"))
            unknown_keys = sorted(set(settings) - set(schema))
            if unknown_keys:
                raise GateError(f"policy config {policy.name}: unknown settings {unknown_keys}")
            properties.update(settings)
        elif override is not None:
            level = level_of(policy.name, override)
        configs[policy.name] = analyzer_pb2.PolicyConfig(
            enforcementLevel=level, properties=_struct(properties)
        )
    unknown = sorted(set(overrides) - set(configs) - {"all"})
    if unknown:
        raise GateError(f"policy config names unknown policies: {unknown}")
    return configs


def _provider_urn(reference: str) -> str:
    return reference.rsplit("::", 1)[0] if reference else ""


class _Requests:
    """Builds analyzer messages from plan resources, with their providers' properties."""

    def __init__(self, plan: Plan) -> None:
        self.by_urn = {r.urn: r for r in plan.resources}

    def provider(self, resource: PlannedResource) -> analyzer_pb2.AnalyzerProviderResource | None:
        reference = resource.provider or resource.providers.get(resource.type.split(":")[0], "")
        provider = self.by_urn.get(_provider_urn(reference))
        if provider is None:
            return None
        return analyzer_pb2.AnalyzerProviderResource(
            type=provider.type,
            properties=_struct(provider.inputs),
            urn=provider.urn,
            name=provider.name,
        )

    def options(self, resource: PlannedResource) -> analyzer_pb2.AnalyzerResourceOptions:
        return analyzer_pb2.AnalyzerResourceOptions(
            protect=resource.protect,
            ignoreChanges=resource.ignore_changes,
            parent=resource.parent,
        )

    def _common(self, resource: PlannedResource) -> dict[str, Any]:
        return {
            "type": resource.type,
            "properties": _struct(resource.inputs),
            "urn": resource.urn,
            "name": resource.name,
            "options": self.options(resource),
            "provider": self.provider(resource),
        }

    def analyze(self, resource: PlannedResource) -> analyzer_pb2.AnalyzeRequest:
        return analyzer_pb2.AnalyzeRequest(**self._common(resource))

    def stack_resource(self, resource: PlannedResource) -> analyzer_pb2.AnalyzerResource:
        return analyzer_pb2.AnalyzerResource(
            **self._common(resource),
            parent=resource.parent,
            dependencies=resource.dependencies,
            propertyDependencies={
                key: analyzer_pb2.AnalyzerPropertyDependencies(urns=urns)
                for key, urns in resource.property_dependencies.items()
            },
        )


@contextmanager
def policy_server(policy_dir: Path = POLICY_DIR) -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """Start the pack (it prints its port), yield a stub, always stop the process."""
    process = subprocess.Popen(
        [sys.executable, "-u", "__main__.py"],
        cwd=policy_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    port_line: list[str] = []
    reader = threading.Thread(
        target=lambda: port_line.append(process.stdout.readline() if process.stdout else ""),
        daemon=True,
    )
    reader.start()
    reader.join(STARTUP_TIMEOUT_S)
    channel: grpc.Channel | None = None
    try:
        port = port_line[0].strip() if port_line else ""
        if not port.isdigit():
            process.kill()
            stderr = process.stderr.read() if process.stderr else ""
            raise PackError(f"policy pack did not start: {stderr.strip() or 'no port printed'}")
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        if channel is not None:
            channel.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def configure(
    stub: analyzer_pb2_grpc.AnalyzerStub,
    plan: Plan,
    overrides: Mapping[str, Any],
    production: bool | None = None,
) -> Any:
    """GetAnalyzerInfo, ConfigureStack, Configure; returns the analyzer info.

    ``production`` (default: from the stack) refuses configs that relax security rules.
    """
    info = stub.GetAnalyzerInfo(empty_pb2.Empty())
    if production is None:
        production = is_production(plan.stack)
    if production:
        problems = validate_production_config(info, overrides, plan.stack)
        if problems:
            raise GateError(
                f"policy/config/{plan.stack}.json relaxes security in production: "
                + "; ".join(problems)
            )
    stub.ConfigureStack(
        analyzer_pb2.AnalyzerStackConfigureRequest(
            stack=plan.stack, project=plan.project, organization="offline", dry_run=True
        )
    )
    stub.Configure(
        analyzer_pb2.ConfigureAnalyzerRequest(policyConfig=_policy_configs(info, overrides))
    )
    return info


def _violations(diagnostics: list[tuple[str, Any]]) -> list[Violation]:
    return [
        Violation(
            rule=d.policyName,
            urn=d.urn or urn,
            level=LEVEL_NAMES.get(d.enforcementLevel, "advisory"),
            # The SDK prefixes the policy description; keep what is specific to the resource.
            message=d.message.split("\n", 1)[-1].split(" during preview: ", 1)[-1],
            undecided=d.message.startswith(_UNDECIDED_PREFIX),
        )
        for urn, d in diagnostics
    ]


def analyze_resources(
    stub: analyzer_pb2_grpc.AnalyzerStub, plan: Plan, resources: list[PlannedResource]
) -> list[Violation]:
    """Analyze (resource policies) for ``resources``, with providers from ``plan``."""
    requests = _Requests(plan)
    # Resource policies report without a URN: the analyzed resource is implied.
    diagnostics: list[tuple[str, Any]] = []
    for resource in resources:
        response = stub.Analyze(requests.analyze(resource))
        diagnostics.extend((resource.urn, d) for d in response.diagnostics)
    return _violations(diagnostics)


def analyze_stack(stub: analyzer_pb2_grpc.AnalyzerStub, plan: Plan) -> list[Violation]:
    """AnalyzeStack (stack policies) once over every resource of ``plan``."""
    requests = _Requests(plan)
    request = analyzer_pb2.AnalyzeStackRequest(
        resources=[requests.stack_resource(r) for r in plan.resources]
    )
    return _violations([("", d) for d in stub.AnalyzeStack(request).diagnostics])


def analyze_plan(
    stub: analyzer_pb2_grpc.AnalyzerStub,
    plan: Plan,
    overrides: Mapping[str, Any],
    production: bool | None = None,
) -> GateResult:
    info = configure(stub, plan, overrides, production)
    violations = analyze_resources(stub, plan, plan.resources) + analyze_stack(stub, plan)
    return GateResult(rules=len(info.policies), checked=len(plan.resources), violations=violations)


def run_gate(plan: Plan, policy_dir: Path = POLICY_DIR) -> GateResult:
    overrides = load_policy_config(plan.stack, policy_dir)
    with policy_server(policy_dir) as stub:
        return analyze_plan(stub, plan, overrides)


def _computed_values(plan: Plan) -> dict[str, set[str]]:
    """Per URN, the output strings the engine only learns once the resource exists."""
    by_urn = {r.urn: r for r in plan.resources}
    computed: dict[str, set[str]] = {}
    for urn, state in plan.states.items():
        resource = by_urn.get(urn)
        inputs = resource.inputs if resource else {}
        values = {
            str(value)
            for key, value in state.items()
            if isinstance(value, str) and len(value) >= _MIN_COMPUTED and inputs.get(key) != value
        }
        computed[urn] = values
    return computed


def _unknown_where(value: Any, outputs: set[str]) -> Any:
    if isinstance(value, str):
        return UNKNOWN_INPUT if any(o in value for o in outputs) else value
    if isinstance(value, dict):
        return {key: _unknown_where(item, outputs) for key, item in value.items()}
    if isinstance(value, list):
        return [_unknown_where(item, outputs) for item in value]
    return value


def first_preview(plan: Plan) -> Plan:
    """The plan as a first real ``pulumi preview`` sends it: nothing exists yet, so every
    input that carries an output of another resource (an id, an ARN, a JSON document
    built from one) is unknown. Inputs the program knows by itself stay known.
    """
    computed = _computed_values(plan)
    resources = []
    for resource in plan.resources:
        inputs: dict[str, Any] = {}
        for key, value in resource.inputs.items():
            sources = resource.property_dependencies.get(key, resource.dependencies)
            outputs: set[str] = set()
            for source in sources:
                outputs |= computed.get(source, set())
            inputs[key] = _unknown_where(value, outputs) if outputs else value
        resources.append(replace(resource, inputs=inputs))
    return replace(plan, resources=resources)

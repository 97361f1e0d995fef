"""gate: pass every planned resource through the real policy pack over gRPC.

The pack runs as the Pulumi engine runs it: ``policy/__main__.py`` in its own process,
printing its port; we then speak the Analyzer protocol (GetAnalyzerInfo, ConfigureStack,
Configure, Analyze per resource, AnalyzeStack once). Like the engine, the gate fills each
policy's config with the defaults from its schema before Configure: the SDK does not.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from tools.synth import ROOT, Plan, PlannedResource

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
    """The policy pack could not be started or configured."""


@dataclass(frozen=True)
class Violation:
    rule: str
    urn: str
    level: str
    message: str


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


def _struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(dict(value))
    return struct


def _policy_configs(
    info: Any, overrides: Mapping[str, Any]
) -> dict[str, analyzer_pb2.PolicyConfig]:
    default_level = overrides.get("all")
    configs: dict[str, analyzer_pb2.PolicyConfig] = {}
    for policy in info.policies:
        level = policy.enforcementLevel
        if isinstance(default_level, str):
            level = LEVELS[default_level]
        properties: dict[str, Any] = {}
        schema = json_format.MessageToDict(policy.configSchema.properties)
        for key, spec in schema.items():
            if isinstance(spec, dict) and "default" in spec:
                properties[key] = spec["default"]
        override = overrides.get(policy.name)
        if isinstance(override, str):
            level = LEVELS[override]
        elif isinstance(override, dict):
            settings = dict(override)
            if "enforcementLevel" in settings:
                level = LEVELS[settings.pop("enforcementLevel")]
            properties.update(settings)
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
            raise GateError(f"policy pack did not start: {stderr.strip() or 'no port printed'}")
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


def analyze_plan(
    stub: analyzer_pb2_grpc.AnalyzerStub, plan: Plan, overrides: Mapping[str, Any]
) -> GateResult:
    info = stub.GetAnalyzerInfo(empty_pb2.Empty())
    stub.ConfigureStack(
        analyzer_pb2.AnalyzerStackConfigureRequest(
            stack=plan.stack, project=plan.project, organization="offline", dry_run=True
        )
    )
    stub.Configure(
        analyzer_pb2.ConfigureAnalyzerRequest(policyConfig=_policy_configs(info, overrides))
    )

    requests = _Requests(plan)
    # Resource policies report without a URN: the analyzed resource is implied.
    diagnostics: list[tuple[str, Any]] = []
    for resource in plan.resources:
        response = stub.Analyze(requests.analyze(resource))
        diagnostics.extend((resource.urn, d) for d in response.diagnostics)
    stack_request = analyzer_pb2.AnalyzeStackRequest(
        resources=[requests.stack_resource(r) for r in plan.resources]
    )
    diagnostics.extend(("", d) for d in stub.AnalyzeStack(stack_request).diagnostics)

    violations = [
        Violation(
            rule=d.policyName,
            urn=d.urn or urn,
            level=LEVEL_NAMES.get(d.enforcementLevel, "advisory"),
            # The SDK prefixes the policy description; keep what is specific to the resource.
            message=d.message.split("\n", 1)[-1],
        )
        for urn, d in diagnostics
    ]
    return GateResult(rules=len(info.policies), checked=len(plan.resources), violations=violations)


def run_gate(plan: Plan, policy_dir: Path = POLICY_DIR) -> GateResult:
    overrides = load_policy_config(plan.stack, policy_dir)
    with policy_server(policy_dir) as stub:
        return analyze_plan(stub, plan, overrides)

"""tools/sdk.py: the SDK internals the offline tools lean on still behave as it says.

When one of these fails after an SDK bump, re-check every name in tools/sdk.py against the
new release before moving its pins.
"""

from __future__ import annotations

import re
from importlib.metadata import version
from typing import Any

import pulumi
import pulumi_aws  # noqa: F401 - registers the aws resource module references resolve to
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks
from pulumi.runtime.proto import resource_pb2

from tools import sdk
from tools.synth import ROOT, plain

PROJECT, STACK = "sdk-check", "test"


@pytest.mark.parametrize(
    ("package", "pinned"),
    [("pulumi", sdk.PULUMI_VERSION), ("pulumi-policy", sdk.PULUMI_POLICY_VERSION)],
)
def test_installed_sdk_is_the_one_sdk_py_was_checked_against(package: str, pinned: str) -> None:
    assert version(package) == pinned, (
        f"{package} {version(package)} is installed; tools/sdk.py was checked against "
        f"{pinned}: re-check its internals, then move its pin"
    )


@pytest.mark.parametrize(
    ("package", "pinned"),
    [("pulumi", sdk.PULUMI_VERSION), ("pulumi-policy", sdk.PULUMI_POLICY_VERSION)],
)
def test_requirements_pin_what_sdk_py_names(package: str, pinned: str) -> None:
    requirements = (ROOT / "requirements.txt").read_text()
    found = re.search(rf"^{re.escape(package)}==(\S+)$", requirements, re.MULTILINE)
    assert found is not None and found[1] == pinned


class _Mocks(Mocks):
    """A ``Maker`` returns a reference to a bucket only the monitor's table knows."""

    def __init__(self) -> None:
        self.monitor: sdk.RecordingMockMonitor | None = None

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        if args.typ == "test:index:Maker":
            assert self.monitor is not None
            urn = self.monitor.make_urn("", "aws:s3/bucket:Bucket", "made")
            self.monitor.add_resource(urn, "made-id", {"bucket": "made-bucket"})
            state["made"] = sdk.resource_reference(urn, "made-id")
        return f"{args.name}-id", state

    def call(self, args: MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        return {}


class _Monitor(sdk.RecordingMockMonitor):
    def __init__(self, mocks: _Mocks) -> None:
        super().__init__(mocks)
        mocks.monitor = self
        self.registered: dict[str, sdk.Registration] = {}
        self.outputs: dict[str, dict[str, Any]] = {}

    def on_register(self, registration: sdk.Registration) -> None:
        self.registered[registration.name] = registration

    def on_outputs(self, urn: str, outputs: dict[str, Any]) -> None:
        self.outputs[urn] = outputs


def _run(program: Any) -> _Monitor:
    monitor = _Monitor(_Mocks())
    sdk.run_program(
        program,
        mocks=monitor.mocks,
        monitor=monitor,
        project=PROJECT,
        stack=STACK,
        config={f"{PROJECT}:greeting": "hello"},
        secret_keys=[],
        organization="organization",
    )
    return monitor


def _program(resolved: list[str]) -> None:
    outer = pulumi.ComponentResource("test:index:Outer", "outer")
    maker = pulumi.CustomResource(
        "test:index:Maker",
        "maker",
        # "missing" is not in the mocked state: unknown during a preview.
        {"made": None, "missing": None},
        opts=pulumi.ResourceOptions(parent=outer),
    )
    maker.made.apply(lambda bucket: bucket.bucket.apply(resolved.append))  # type: ignore[attr-defined]
    pulumi.CustomResource(
        "test:index:User",
        "user",
        {
            "secret": pulumi.Output.secret("s3cr3t"),
            "reference": maker,
            "pending": maker.missing,  # type: ignore[attr-defined]
            "greeting": pulumi.Config().require("greeting"),
        },
        opts=pulumi.ResourceOptions(parent=maker, protect=True),
    )
    pulumi.export("answer", 42)


def test_registrations_reach_the_hooks_as_the_engine_sees_them() -> None:
    resolved: list[str] = []
    monitor = _run(lambda: _program(resolved))
    maker, user = monitor.registered["maker"], monitor.registered["user"]

    # Engine URNs: the parent's whole type chain.
    assert user.urn == (
        f"urn:pulumi:{STACK}::{PROJECT}::test:index:Outer$test:index:Maker$test:index:User::user"
    )
    assert (user.parent, user.protect, user.custom) == (maker.urn, True, True)
    assert maker.urn in user.dependencies
    # Wire signatures of a secret, a resource reference and an unknown.
    assert user.inputs["secret"] == {sdk.SIG_KEY: sdk.SECRET_SIG, "value": "s3cr3t"}
    assert user.inputs["reference"][sdk.SIG_KEY] == sdk.RESOURCE_SIG
    assert user.inputs["reference"]["urn"] == maker.urn
    assert user.inputs["pending"] == sdk.UNKNOWN
    assert plain(user.inputs)["pending"] == "[unknown]"
    # Config set before the run is what the program reads.
    assert user.inputs["greeting"] == "hello"
    # Stack outputs are the root stack's registered outputs.
    assert monitor.outputs[sdk.stack_urn(monitor, PROJECT, STACK)] == {"answer": 42}
    assert monitor.states()[maker.urn]["id"] == "maker-id"


def test_a_mocked_resource_reference_resolves_through_the_monitor_table() -> None:
    resolved: list[str] = []
    _run(lambda: _program(resolved))
    assert resolved == ["made-bucket"]


def test_an_error_in_an_apply_keeps_its_message_and_the_next_run_starts_clean() -> None:
    def fail(_: object) -> str:
        raise ValueError("the primary has no vpcCidr output")

    def broken() -> None:
        failing = pulumi.Output.from_input(1).apply(fail)
        pulumi.CustomResource("test:index:Broken", "broken", {"v": failing})

    with pytest.raises(ValueError) as raised:
        _run(broken)
    assert sdk.apply_error_message(raised.value) == "the primary has no vpcCidr output"

    monitor = _run(lambda: _program([]))
    assert sorted(monitor.registered) == ["maker", "outer", "user"]


def test_the_mock_monitor_sends_no_output_values() -> None:
    """Why synth.plain knows only secrets, references and unknowns (tools/sdk.py)."""
    monitor = _Monitor(_Mocks())
    features = monitor.GetDeploymentInfo(empty_pb2.Empty()).supportedFeatures  # type: ignore[no-untyped-call]
    assert resource_pb2.RESOURCE_MONITOR_FEATURE_OUTPUT_VALUES not in features
    assert resource_pb2.RESOURCE_MONITOR_FEATURE_SECRETS in features
    assert resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES in features


# What tools/gate.py sends over the analyzer protocol, message by message.
ANALYZER_FIELDS = {
    "AnalyzeRequest": {"type", "properties", "urn", "name", "options", "provider"},
    "AnalyzerResource": {
        "type",
        "properties",
        "urn",
        "name",
        "options",
        "provider",
        "parent",
        "dependencies",
        "propertyDependencies",
    },
    "AnalyzerProviderResource": {"type", "properties", "urn", "name"},
    "AnalyzerResourceOptions": {"protect", "ignoreChanges", "parent"},
    "AnalyzerPropertyDependencies": {"urns"},
    "AnalyzeStackRequest": {"resources"},
    "AnalyzerStackConfigureRequest": {"stack", "project", "organization", "dry_run"},
    "ConfigureAnalyzerRequest": {"policyConfig"},
    "PolicyConfig": {"enforcementLevel", "properties"},
}


@pytest.mark.parametrize(("message", "fields"), sorted(ANALYZER_FIELDS.items()))
def test_analyzer_messages_have_the_fields_the_gate_sends(message: str, fields: set[str]) -> None:
    descriptor = getattr(sdk.analyzer_pb2, message).DESCRIPTOR
    names = {f.name for f in descriptor.fields} | {f.json_name for f in descriptor.fields}
    assert fields <= names


def test_analyzer_service_and_enforcement_levels() -> None:
    for level in ("ADVISORY", "MANDATORY", "REMEDIATE", "DISABLED"):
        assert isinstance(getattr(sdk.analyzer_pb2, level), int)
    for method in ("GetAnalyzerInfo", "ConfigureStack", "Configure", "Analyze", "AnalyzeStack"):
        assert method in sdk.analyzer_pb2.DESCRIPTOR.services_by_name["Analyzer"].methods_by_name
    assert callable(sdk.analyzer_pb2_grpc.AnalyzerStub)

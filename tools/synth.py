"""synth: run ``__main__.py`` for one stack under Pulumi mocks and record the plan.

The program runs unchanged inside the real Pulumi Python runtime; only the engine is a
mock. A recording monitor notes every registration as the engine would see it (type,
name, parent, provider, inputs, dependencies), so the plan shows exactly what
``pulumi preview`` would send to AWS.
"""

from __future__ import annotations

import asyncio
import runpy
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import config as runtime_config
from pulumi.runtime import rpc, settings
from pulumi.runtime.mocks import MockMonitor, set_mocks
from pulumi.runtime.stack import run_in_stack

from components.settings import SettingsError, load_settings
from tools import references
from tools.mocks import PlatformMocks
from tools.stackconfig import (
    SECRET_PLACEHOLDER,
    StackConfig,
    StackConfigError,
    load_stack_config,
    stack_settings,
)

ROOT = Path(__file__).resolve().parent.parent
STACK_TYPE = "pulumi:pulumi:Stack"
# How the SDK chains an exception raised inside an apply to the resource that awaited it.
WRAPPED = "ValueError has risen:"


class SynthError(RuntimeError):
    """The program refused to run (bad config): the message is for the user as is."""


@dataclass
class PlannedResource:
    urn: str
    type: str
    name: str
    parent: str
    provider: str
    custom: bool
    remote: bool
    protect: bool
    inputs: dict[str, Any]
    dependencies: list[str]
    providers: dict[str, str] = field(default_factory=dict)
    ignore_changes: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    retain_on_delete: bool = False
    # Previous identities (alias specs as the engine receives them): renames keep state.
    aliases: list[dict[str, Any]] = field(default_factory=list)
    # What a component registered with register_outputs (footprints, prerequisites).
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class PlannedRead:
    """A resource the program reads instead of creating (``Resource.get``, StackReference)."""

    urn: str
    type: str
    name: str
    parent: str
    id: str
    inputs: dict[str, Any]


@dataclass
class Plan:
    stack: str
    project: str
    resources: list[PlannedResource]
    outputs: dict[str, Any]
    reads: list[PlannedRead] = field(default_factory=list)
    # What the mocks answered per URN (ids, ARNs): lets tests check the wiring between
    # resources. Not part of the JSON contract.
    states: dict[str, dict[str, Any]] = field(default_factory=dict)

    def by_type(self, type_: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == type_]

    def get(self, urn: str) -> PlannedResource:
        for resource in self.resources:
            if resource.urn == urn:
                return resource
        raise KeyError(urn)

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "resources": [asdict(r) for r in self.resources],
            "reads": [asdict(r) for r in self.reads],
            "outputs": self.outputs,
        }


def plain(value: Any) -> Any:  # noqa: PLR0911 - one return per special object kind
    """A protobuf-JSON value with Pulumi's special objects made readable.

    Secrets become "[secret]", resource references their URN, unknowns "[unknown]".
    """
    if isinstance(value, dict):
        signature = value.get(rpc._special_sig_key)
        if signature == rpc._special_secret_sig:
            return SECRET_PLACEHOLDER
        if signature == rpc._special_resource_sig:
            return value.get("urn")
        if signature == rpc._special_output_value_sig:
            return plain(value.get("value")) if "value" in value else "[unknown]"
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if value == rpc.UNKNOWN:
        return "[unknown]"
    return value


class RecordingMonitor(MockMonitor):
    """A MockMonitor that keeps what each registration asked for."""

    def __init__(self, mocks: PlatformMocks) -> None:
        super().__init__(mocks)
        self.planned: list[PlannedResource] = []
        self.reads: list[PlannedRead] = []
        self.registered_outputs: dict[str, dict[str, Any]] = {}

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """URNs as the engine builds them: the parent's whole type chain, not just its type.

        MockMonitor keeps only the parent's own type, which would make URN pins in tests
        disagree with the URNs a real ``pulumi up`` records.
        """
        if parent:
            qualified = parent.split("::")[2]
            if qualified != STACK_TYPE:
                type_ = f"{qualified}${type_}"
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), type_, name])

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != STACK_TYPE:
            self.planned.append(
                PlannedResource(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent,
                    provider=request.provider,
                    custom=bool(request.custom),
                    remote=bool(request.remote),
                    protect=bool(request.protect),
                    inputs=plain(json_format.MessageToDict(request.object)),
                    dependencies=sorted(request.dependencies),
                    providers=dict(request.providers),
                    ignore_changes=list(request.ignoreChanges),
                    property_dependencies={
                        key: sorted(deps.urns)
                        for key, deps in sorted(request.propertyDependencies.items())
                    },
                    retain_on_delete=bool(request.retainOnDelete),
                    aliases=[json_format.MessageToDict(alias) for alias in request.aliases],
                )
            )
        return response

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().ReadResource(request)  # type: ignore[no-untyped-call]
        self.reads.append(
            PlannedRead(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                id=request.id,
                inputs=plain(json_format.MessageToDict(request.properties)),
            )
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        self.registered_outputs[request.urn] = plain(json_format.MessageToDict(request.outputs))
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]


def _cancel_pending(loop: asyncio.AbstractEventLoop) -> None:
    """A run that failed mid-way leaves registrations waiting; the next run must not."""
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    # The runtime keeps RPCs and output tasks in module state across runs.
    settings.SETTINGS.rpc_manager.clear()
    with settings.SETTINGS.lock:
        settings.SETTINGS.outputs.clear()


def _ignore_unretrieved(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    message = str(context.get("message"))
    if not message.endswith("exception was never retrieved"):
        loop.default_exception_handler(context)


def _check_peers(config: StackConfig, root: Path) -> None:
    """A broken stack file of a stack this one references fails here, naming that stack,
    instead of deep inside the program's StackReference reads."""
    try:
        own = load_settings(config.stack, config.get("aws:region"), config.project_values())
    except SettingsError:
        return  # the program reports its own configuration
    multi = own.multi_region
    if multi is None:
        return
    peers = [multi.primary_stack] if multi.primary_stack else list(multi.secondary_stacks)
    for qualified in peers:
        peer = qualified.rsplit("/", 1)[-1]
        if not (root / f"Pulumi.{peer}.yaml").is_file():
            continue  # not deployed yet: the program decides what that means
        try:
            stack_settings(root, peer)
        except (StackConfigError, SettingsError) as exc:
            raise SynthError(f"referenced stack {peer}: {exc}") from None


def synth(stack: str, root: Path = ROOT) -> Plan:
    """Run the program for ``stack`` and return its plan.

    Raises :class:`tools.stackconfig.StackConfigError` for an unknown stack and
    :class:`SynthError` when the program rejects its configuration.
    """
    config = load_stack_config(root, stack)
    _check_peers(config, root)
    return synth_config(config, root)


def synth_config(
    config: StackConfig,
    root: Path = ROOT,
    stack_outputs: Callable[[str], dict[str, Any] | None] | None = None,
) -> Plan:
    """``stack_outputs`` answers StackReferences (default: derived from the stack files)."""
    region = config.get("aws:region") or "us-east-1"
    mocks = PlatformMocks(region, stack_outputs or references.from_stack_files(root))
    monitor = RecordingMonitor(mocks)
    mocks.monitor = monitor

    program = root / "__main__.py"
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))

    def run_program() -> None:
        runpy.run_path(str(program), run_name="__main__")

    # One loop for everything: set_mocks registers its own root stack on the current
    # loop, and the runtime later waits for every RPC it started.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        settings.set_root_resource(None)  # type: ignore[arg-type]  # a fresh stack per run
        runtime_config.set_all_config(dict(config.values), list(config.secret_keys))
        set_mocks(
            mocks,
            project=config.project,
            stack=config.stack,
            preview=True,
            monitor=monitor,
            # As the DIY backend: StackReferences are organization/<project>/<stack>.
            organization="organization",
        )
        # run_in_stack makes the root stack the program exports into.
        settings.set_root_resource(None)  # type: ignore[arg-type]
        loop.run_until_complete(run_in_stack(run_program))
    except pulumi.RunError as exc:
        raise SynthError(str(exc)) from None
    except ValueError as exc:
        # The error is reported once, as SynthError; the runtime's copies of it in
        # futures nobody awaits any more would each print a traceback when collected.
        loop.set_exception_handler(_ignore_unretrieved)
        # A check inside an apply (a stack reference without the output it needs, an
        # overlapping CIDR): Pulumi wraps it once per resource and input it passed through.
        raise SynthError(str(exc).rsplit(WRAPPED, 1)[-1].strip()) from exc
    finally:
        _cancel_pending(loop)
        asyncio.set_event_loop(None)
        loop.close()
        settings.set_root_resource(None)  # type: ignore[arg-type]

    for resource in monitor.planned:
        if not resource.custom:
            resource.outputs = monitor.registered_outputs.get(resource.urn, {})
    stack_urn = monitor.make_urn("", STACK_TYPE, f"{config.project}-{config.stack}")
    return Plan(
        stack=config.stack,
        project=config.project,
        # Registration order depends on async timing; sorted, two runs diff cleanly.
        resources=sorted(monitor.planned, key=lambda r: r.urn),
        outputs=monitor.registered_outputs.get(stack_urn, {}),
        reads=sorted(monitor.reads, key=lambda r: r.urn),
        states={urn: {"id": reg.id, **reg.state} for urn, reg in monitor.resources.items()},
    )

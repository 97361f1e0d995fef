"""The offline tools' one door into Pulumi SDK internals.

Running the real program against the SDK's mock engine and recording what a real engine
would receive needs more than the SDK promises to keep: the wire signatures of secrets,
resource references and unknowns, ``MockMonitor``'s resource table and gRPC method names,
the runtime's module-level state between two runs, the analyzer protocol's messages.
Everything of that kind lives here and nowhere else in ``tools/``, checked against the SDK
versions pinned below; ``tests/test_sdk.py`` exercises each piece and fails first when
``requirements.txt`` moves a pin, pointing here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import Mocks, rpc, set_all_config, set_mocks, settings
from pulumi.runtime import resource as runtime_resource
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, source_pb2
from pulumi.runtime.stack import run_in_stack

# Every name below was read against exactly these releases (requirements.txt).
PULUMI_VERSION = "3.272.0"
PULUMI_POLICY_VERSION = "1.21.0"

__all__ = [
    "ASSET_SIG",
    "PULUMI_POLICY_VERSION",
    "PULUMI_VERSION",
    "RESOURCE_SIG",
    "SECRET_SIG",
    "SIG_KEY",
    "STACK_TYPE",
    "UNKNOWN",
    "Read",
    "RecordingMockMonitor",
    "Registration",
    # The analyzer protocol the policy gate speaks with the pack.
    "analyzer_pb2",
    "analyzer_pb2_grpc",
    "apply_error_message",
    "compose_urn",
    "resource_reference",
    "run_program",
    "stack_urn",
]

# -- wire format (pulumi.runtime.rpc) ----------------------------------------------------

# A map holding SIG_KEY is a special value; its signature says which. Output values (a
# third kind) never reach a MockMonitor: it tells the SDK it does not support them, so an
# input arrives as its plain value, a secret, a reference or UNKNOWN.
SIG_KEY: str = rpc._special_sig_key
SECRET_SIG: str = rpc._special_secret_sig
RESOURCE_SIG: str = rpc._special_resource_sig
# A FileAsset input: {SIG_KEY: ASSET_SIG, "path": ...}.
ASSET_SIG: str = rpc._special_asset_sig
# What the SDK sends for a value not known until the resource exists.
UNKNOWN: str = rpc.UNKNOWN

# How the SDK chains an exception raised inside an apply to each resource that awaited it.
_APPLY_ERROR = "ValueError has risen:"

STACK_TYPE = "pulumi:pulumi:Stack"


def compose_urn(stack: str, project: str, parent: str, type_: str, name: str) -> str:
    """A URN as the engine builds it: the parent's whole type chain, then this type and name."""
    if parent:
        qualified = parent.split("::")[2]
        if qualified != STACK_TYPE:
            type_ = f"{qualified}${type_}"
    return f"urn:pulumi:{stack}::{project}::{type_}::{name}"


def resource_reference(urn: str, resource_id: str) -> dict[str, str]:
    """A mocked output the SDK deserializes into a resource (as pulumi-eks returns them).

    The URN must be in the monitor's table (:meth:`RecordingMockMonitor.add_resource`): the
    SDK looks the resource up through ``pulumi:pulumi:getResource``.
    """
    return {SIG_KEY: RESOURCE_SIG, "urn": urn, "id": resource_id}


def apply_error_message(error: ValueError) -> str:
    """The message a ``ValueError`` raised inside an apply was raised with."""
    return str(error).rsplit(_APPLY_ERROR, 1)[-1].strip()


# -- the mock engine ---------------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    """One ``RegisterResource`` request, as the engine receives it.

    Property values are protobuf JSON: special values still carry their signatures.
    """

    urn: str
    type: str
    name: str
    parent: str
    provider: str
    providers: dict[str, str]
    custom: bool
    remote: bool
    protect: bool
    retain_on_delete: bool
    inputs: dict[str, Any]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    ignore_changes: list[str]
    # Alias specs as the engine receives them.
    aliases: list[dict[str, Any]]


@dataclass(frozen=True)
class Read:
    """One ``ReadResource`` request (``Resource.get``, a StackReference)."""

    urn: str
    type: str
    name: str
    parent: str
    id: str
    inputs: dict[str, Any]


class RecordingMockMonitor(MockMonitor):
    """A ``MockMonitor`` that hands every request to hooks as plain data.

    Subclasses override :meth:`on_register`, :meth:`on_read` and :meth:`on_outputs`.
    """

    def on_register(self, registration: Registration) -> None:
        """A resource other than the root stack registered."""

    def on_read(self, read: Read) -> None:
        """A resource was read instead of created."""

    def on_outputs(self, urn: str, outputs: dict[str, Any]) -> None:
        """A component (or the root stack) registered its outputs."""

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """URNs as the engine builds them: the parent's whole type chain, not just its type.

        MockMonitor keeps only the parent's own type, which would make URN pins disagree
        with the URNs a real ``pulumi up`` records.
        """
        return compose_urn(pulumi.get_stack(), pulumi.get_project(), parent, type_, name)

    def add_resource(self, urn: str, resource_id: str, state: Mapping[str, Any]) -> None:
        """Make ``urn`` resolvable, as if it had registered (see :func:`resource_reference`)."""
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, resource_id, dict(state))

    def states(self) -> dict[str, dict[str, Any]]:
        """What the mocks answered, by URN: the id and the output state."""
        return {urn: {"id": reg.id, **reg.state} for urn, reg in self.resources.items()}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != STACK_TYPE:
            self.on_register(
                Registration(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent,
                    provider=request.provider,
                    providers=dict(request.providers),
                    custom=bool(request.custom),
                    remote=bool(request.remote),
                    protect=bool(request.protect),
                    retain_on_delete=bool(request.retainOnDelete),
                    inputs=json_format.MessageToDict(request.object),
                    dependencies=sorted(request.dependencies),
                    property_dependencies={
                        key: sorted(deps.urns)
                        for key, deps in sorted(request.propertyDependencies.items())
                    },
                    ignore_changes=list(request.ignoreChanges),
                    aliases=[json_format.MessageToDict(alias) for alias in request.aliases],
                )
            )
        return response

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().ReadResource(request)  # type: ignore[no-untyped-call]
        self.on_read(
            Read(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                id=request.id,
                inputs=json_format.MessageToDict(request.properties),
            )
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        self.on_outputs(request.urn, json_format.MessageToDict(request.outputs))
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]


def stack_urn(monitor: RecordingMockMonitor, project: str, stack: str) -> str:
    """The root stack's URN: its registered outputs are the stack outputs."""
    return monitor.make_urn("", STACK_TYPE, f"{project}-{stack}")


def run_program(
    program: Callable[[], None],
    *,
    mocks: Mocks,
    monitor: RecordingMockMonitor,
    project: str,
    stack: str,
    config: Mapping[str, str],
    secret_keys: Sequence[str],
    organization: str,
) -> None:
    """Run ``program`` as ``pulumi preview`` would, against ``monitor``.

    Exceptions propagate as the program raised them; however the run ends, the runtime's
    module state is reset so that the next run starts clean.
    """
    # One loop for everything: set_mocks registers its own root stack on the current
    # loop, and the runtime later waits for every RPC it started.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # The runtime walks the Python stack of every registration to send the engine source
    # positions; the mock monitor records none of them, and the walk is a tenth of a synth.
    stack_trace = runtime_resource._get_stack_trace
    runtime_resource._get_stack_trace = source_pb2.StackTrace
    try:
        settings.set_root_resource(None)  # type: ignore[arg-type]  # a fresh stack per run
        set_all_config(dict(config), list(secret_keys))
        set_mocks(
            mocks,
            project=project,
            stack=stack,
            preview=True,
            monitor=monitor,
            organization=organization,
        )
        # run_in_stack makes the root stack the program exports into.
        settings.set_root_resource(None)  # type: ignore[arg-type]
        loop.run_until_complete(run_in_stack(program))
    except ValueError:
        # The caller reports the error once; the runtime's copies of it in futures nobody
        # awaits any more would each print a traceback when collected.
        loop.set_exception_handler(_ignore_unretrieved)
        raise
    finally:
        runtime_resource._get_stack_trace = stack_trace
        _cancel_pending(loop)
        asyncio.set_event_loop(None)
        loop.close()
        settings.set_root_resource(None)  # type: ignore[arg-type]


def _ignore_unretrieved(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    message = str(context.get("message"))
    if not message.endswith("exception was never retrieved"):
        loop.default_exception_handler(context)


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

"""synth: run ``__main__.py`` for one stack under Pulumi mocks and record the plan.

The program runs unchanged inside the real Pulumi Python runtime; only the engine is a
mock. A recording monitor notes every registration as the engine would see it (type,
name, parent, provider, inputs, dependencies), so the plan shows exactly what
``pulumi preview`` would send to AWS.
"""

from __future__ import annotations

import json
import re
import runpy
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml

from components.settings import SettingsError, load_settings
from tools import helm, references, sdk
from tools.mocks import PlatformMocks
from tools.stackconfig import (
    SECRET_PLACEHOLDER,
    StackConfig,
    StackConfigError,
    load_stack_config,
    stack_settings,
)

ROOT = Path(__file__).resolve().parent.parent
# The root stack's type: the plan leaves it out (tools/urns.py reads it from here).
STACK_TYPE = sdk.STACK_TYPE
# A chart Pulumi renders itself: the provider registers each rendered object as a child.
CHART = "kubernetes:helm.sh/v4:Chart"
# What Argo CD generates and applies from a Pulumi-created ApplicationSet (docs/delivery.md).
APPLICATION_SET = "kubernetes:argoproj.io/v1alpha1:ApplicationSet"
APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application"
ARGOCD = "argocd"
# Kinds without a namespace among those a chart may render (the rest get the release's).
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PriorityClass",
        "StorageClass",
        "IngressClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "APIService",
        "PersistentVolume",
        "ClusterIssuer",
        "ClusterSecretStore",
    }
)


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
    # "" for what Pulumi registers; "argocd" for what Argo CD will apply from an
    # ApplicationSet of the plan (not in Pulumi's state: no URN pin, no Pulumi diff).
    delivered_by: str = ""


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


def plain(value: Any) -> Any:
    """A protobuf-JSON value with Pulumi's special objects made readable.

    Secrets become "[secret]", resource references their URN, unknowns "[unknown]".
    """
    if isinstance(value, dict):
        signature = value.get(sdk.SIG_KEY)
        if signature == sdk.SECRET_SIG:
            return SECRET_PLACEHOLDER
        if signature == sdk.RESOURCE_SIG:
            return value.get("urn")
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if value == sdk.UNKNOWN:
        return "[unknown]"
    return value


class RecordingMonitor(sdk.RecordingMockMonitor):
    """Keeps what each registration asked for, in the plan's terms."""

    def __init__(self, mocks: PlatformMocks) -> None:
        super().__init__(mocks)
        self.planned: list[PlannedResource] = []
        self.reads: list[PlannedRead] = []
        self.registered_outputs: dict[str, dict[str, Any]] = {}

    def on_register(self, registration: sdk.Registration) -> None:
        self.planned.append(
            PlannedResource(
                urn=registration.urn,
                type=registration.type,
                name=registration.name,
                parent=registration.parent,
                provider=registration.provider,
                custom=registration.custom,
                remote=registration.remote,
                protect=registration.protect,
                inputs=plain(registration.inputs),
                dependencies=registration.dependencies,
                providers=registration.providers,
                ignore_changes=registration.ignore_changes,
                property_dependencies=registration.property_dependencies,
                retain_on_delete=registration.retain_on_delete,
                aliases=registration.aliases,
            )
        )

    def on_read(self, read: sdk.Read) -> None:
        self.reads.append(
            PlannedRead(
                urn=read.urn,
                type=read.type,
                name=read.name,
                parent=read.parent,
                id=read.id,
                inputs=plain(read.inputs),
            )
        )

    def on_outputs(self, urn: str, outputs: dict[str, Any]) -> None:
        self.registered_outputs[urn] = plain(outputs)


def object_type(api_version: str, kind: str) -> str:
    """apps/v1 Deployment -> kubernetes:apps/v1:Deployment; v1 Pod -> kubernetes:core/v1:Pod."""
    group, _, version = api_version.rpartition("/")
    return f"kubernetes:{group or 'core'}/{version}:{kind}"


def _value_files(chart: PlannedResource, root: Path) -> list[Path]:
    files = []
    for asset in chart.inputs.get("valueYamlFiles") or []:
        if not (isinstance(asset, dict) and asset.get(sdk.SIG_KEY) == sdk.ASSET_SIG):
            raise SynthError(f"{chart.name}: valueYamlFiles takes FileAssets, got {asset!r}")
        files.append(root / str(asset["path"]))
    return files


def _objects(
    owner: PlannedResource,
    objects: list[dict[str, Any]],
    namespace: str,
    stack: str,
    project: str,
    *,
    delivered_by: str = "",
    provider: str | None = None,
) -> list[PlannedResource]:
    """Rendered objects as children of ``owner``, named ``<owner>:<namespace>/<name>``;
    they wait for what the owner waits for."""
    children = []
    for document in objects:
        kind = str(document["kind"])
        metadata = document.setdefault("metadata", {})
        if kind not in CLUSTER_SCOPED:
            metadata.setdefault("namespace", namespace)
        qualified = (
            f"{metadata['namespace']}/{metadata['name']}"
            if "namespace" in metadata
            else metadata["name"]
        )
        type_ = object_type(str(document["apiVersion"]), kind)
        name = f"{owner.name}:{qualified}"
        children.append(
            PlannedResource(
                urn=sdk.compose_urn(stack, project, owner.urn, type_, name),
                type=type_,
                name=name,
                parent=owner.urn,
                provider=provider or owner.providers.get("kubernetes", owner.provider),
                custom=True,
                remote=False,
                protect=False,
                inputs=document,
                dependencies=list(owner.dependencies),
                delivered_by=delivered_by,
            )
        )
    return children


def chart_children(
    chart: PlannedResource, stack: str, project: str, root: Path
) -> list[PlannedResource]:
    """What the provider registers for a local ``helm.v4.Chart``: each object the chart
    renders, named ``<chart>:<namespace>/<name>``, as a custom resource under the chart.

    The objects wait for what the chart waits for (the chart hands its dependsOn to them,
    pulumi/pulumi-kubernetes#3035). Charts from a repository are not rendered offline.
    """
    path = chart.inputs.get("chart")
    if not isinstance(path, str) or not (root / path).is_dir():
        return []
    namespace = str(chart.inputs.get("namespace") or "default")
    values = helm.layered(_value_files(chart, root), chart.inputs.get("values") or {})
    try:
        objects = helm.render(
            root / path,
            values,
            release=str(chart.inputs.get("name") or chart.name),
            namespace=namespace,
        )
    except helm.HelmError as exc:
        raise SynthError(f"{chart.name}: {exc}") from None
    return _objects(chart, objects, namespace, stack, project)


def _fill(template: Any, params: dict[str, str]) -> Any:
    """Argo CD's default ApplicationSet templating: every ``{{key}}`` of a generator
    element, replaced inside the template's JSON with the JSON-escaped value (unknown keys
    are left as they are, as Argo CD leaves them)."""
    text = json.dumps(template)

    def substitute(match: re.Match[str]) -> str:
        key = match.group(1).strip()
        if key not in params:
            return match.group(0)
        return json.dumps(str(params[key]))[1:-1]

    return json.loads(re.sub(r"\{\{([^{}]*)\}\}", substitute, text))


def generated_applications(application_set: PlannedResource) -> list[dict[str, Any]]:
    """The Applications an ApplicationSet's list generators make (the only generator the
    platform uses; any other is refused rather than ignored)."""
    spec = application_set.inputs.get("spec") or {}
    if spec.get("goTemplate"):
        raise SynthError(f"{application_set.name}: goTemplate is not rendered offline")
    namespace = (application_set.inputs.get("metadata") or {}).get("namespace") or ARGOCD
    applications = []
    for generator in spec.get("generators") or []:
        if set(generator) != {"list"}:
            raise SynthError(
                f"{application_set.name}: generator {sorted(generator)} is not rendered offline"
            )
        for element in generator["list"].get("elements") or []:
            filled = _fill(spec.get("template") or {}, {k: str(v) for k, v in element.items()})
            metadata = dict(filled.get("metadata") or {})
            metadata["namespace"] = namespace
            applications.append(
                {
                    "apiVersion": "argoproj.io/v1alpha1",
                    "kind": "Application",
                    "metadata": metadata,
                    "spec": filled.get("spec") or {},
                }
            )
    return applications


def application_children(
    application_set: PlannedResource, stack: str, project: str, root: Path
) -> list[PlannedResource]:
    """What Argo CD applies for an ApplicationSet: each generated Application, and under it
    every object its source renders. A source path of this repository is rendered from the
    checkout, as Argo CD will render it from git at the same commit: the environment's
    value files, then the Application's inline values.

    An object two Applications render is refused: each would overwrite the other's
    tracking annotation and revert the other's sync (Argo CD's SharedResourceWarning)."""
    namespace = str((application_set.inputs.get("metadata") or {}).get("namespace") or ARGOCD)
    provider = application_set.providers.get("kubernetes", application_set.provider)
    resources = []
    owners: dict[tuple[str, str], str] = {}
    for document in generated_applications(application_set):
        (application,) = _objects(
            application_set,
            [document],
            namespace,
            stack,
            project,
            delivered_by=ARGOCD,
            provider=provider,
        )
        application.dependencies.append(application_set.urn)
        resources.append(application)
        source = document["spec"].get("source") or {}
        path = source.get("path")
        if not isinstance(path, str) or not (root / path).is_dir():
            continue
        chart_helm = source.get("helm") or {}
        inline = yaml.safe_load(chart_helm.get("values") or "") or {}
        inline = helm.merge(inline, chart_helm.get("valuesObject") or {})
        files = [root / path / f for f in chart_helm.get("valueFiles") or []]
        destination = str((document["spec"].get("destination") or {}).get("namespace"))
        try:
            objects = helm.render(
                root / path,
                helm.layered(files, inline),
                release=str(chart_helm.get("releaseName") or document["metadata"]["name"]),
                namespace=destination,
            )
        except (helm.HelmError, OSError) as exc:
            raise SynthError(f"{application.name}: {exc}") from None
        children = _objects(application, objects, destination, stack, project, delivered_by=ARGOCD)
        for child in children:
            key = (child.type, child.name.removeprefix(f"{application.name}:"))
            if key in owners:
                raise SynthError(
                    f"{child.type.rsplit(':', 1)[-1]} {key[1]} is rendered by both "
                    f"{owners[key]} and {application.name}: exactly one Application may own it"
                )
            owners[key] = application.name
        resources.extend(children)
    return resources


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

    try:
        sdk.run_program(
            run_program,
            mocks=mocks,
            monitor=monitor,
            project=config.project,
            stack=config.stack,
            config=config.values,
            secret_keys=config.secret_keys,
            # As the DIY backend: StackReferences are organization/<project>/<stack>.
            organization="organization",
        )
    except pulumi.RunError as exc:
        raise SynthError(str(exc)) from None
    except ValueError as exc:
        # A check inside an apply (a stack reference without the output it needs, an
        # overlapping CIDR): Pulumi wraps it once per resource and input it passed through.
        raise SynthError(sdk.apply_error_message(exc)) from exc

    for resource in monitor.planned:
        if not resource.custom:
            resource.outputs = monitor.registered_outputs.get(resource.urn, {})
    for chart in [r for r in monitor.planned if r.type == CHART]:
        monitor.planned.extend(chart_children(chart, config.stack, config.project, root))
    for application_set in [r for r in monitor.planned if r.type == APPLICATION_SET]:
        monitor.planned.extend(
            application_children(application_set, config.stack, config.project, root)
        )
    return Plan(
        stack=config.stack,
        project=config.project,
        # Registration order depends on async timing; sorted, two runs diff cleanly.
        resources=sorted(monitor.planned, key=lambda r: r.urn),
        outputs=monitor.registered_outputs.get(
            sdk.stack_urn(monitor, config.project, config.stack), {}
        ),
        reads=sorted(monitor.reads, key=lambda r: r.urn),
        states=monitor.states(),
    )

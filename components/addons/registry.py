"""HelmAddon: a pinned chart in a namespace, with its values, an optional IRSA role and an
optional scrape source (ServiceMonitor, PodMonitor or Probe).

Every Helm release of the platform is one of these. What differs between add-ons is data:
the chart (from :mod:`components.addons.charts`), the values, the footprint and the IAM
statements, each built by the add-on's own small module (``ingress_nginx.py``,
``tempo.py``, ...). The add-on registers its footprint (:mod:`components.footprint`), so
the offline admission and wiring checks count what the chart puts into the cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from components.addons.charts import Chart
from components.context import ClusterContext
from components.footprint import ReleaseFootprint, footprints_output
from components.iam import IrsaRole

MonitorKind = Literal["ServiceMonitor", "PodMonitor", "Probe"]


@dataclass(frozen=True)
class IrsaSpec:
    """The add-on's IRSA role: who may assume it and what it may do.

    ``values_path`` is where the chart takes its service account; the role's annotation is
    merged in as ``<values_path>.annotations``.
    """

    service_account: str
    statements: pulumi.Input[list[dict[str, Any]]] | None = None
    values_path: tuple[str, ...] = ("serviceAccount",)
    # Name prefix of the role and its policy; None: the add-on's name. Set only where a
    # deployed role has another name (renaming a role replaces it).
    name: str | None = None
    described: bool = True


@dataclass(frozen=True)
class MonitorSpec:
    """The object that makes Prometheus scrape the add-on.

    It waits for the release and for ``after``: the namespace it lives in and the release
    that installs the ``monitoring.coreos.com`` CRDs.
    """

    kind: MonitorKind
    name: str
    spec: Mapping[str, Any]
    labels: Mapping[str, str]
    after: Sequence[pulumi.Resource]
    namespace: str = "monitoring"
    # Its resource name before it moved into the add-on, so the alias finds its old URN.
    previous_name: str | None = None

    @property
    def via(self) -> str:
        """How a footprint names it (``Kind/namespace/name``)."""
        return f"{self.kind}/{self.namespace}/{self.name}"


@dataclass(frozen=True)
class HelmAddonArgs:
    chart: Chart
    release_name: str
    namespace: str
    values: Mapping[str, Any]
    footprint: ReleaseFootprint
    cluster: ClusterContext
    irsa: IrsaSpec | None = None
    monitor: MonitorSpec | None = None
    # What the release waits for (its namespace, secrets it mounts, schedulable nodes).
    depends_on: Sequence[pulumi.Resource] = ()
    atomic: bool = True
    # The component that created this release (and role, monitor) before the registry
    # existed: each child keeps its deployed URN through an alias to that parent.
    moved_from: pulumi.Resource | None = None

    def __post_init__(self) -> None:
        declared = (self.footprint.release, self.footprint.namespace)
        if declared != (self.release_name, self.namespace):
            raise ValueError(
                f"footprint of {declared[1]}/{declared[0]} does not describe the release "
                f"{self.namespace}/{self.release_name}"
            )


def install(
    owner: pulumi.Resource,
    owner_name: str,
    chart: Chart,
    *,
    values: Mapping[str, Any],
    footprint: ReleaseFootprint,
    cluster: ClusterContext,
    depends_on: Sequence[pulumi.Resource],
    irsa: IrsaSpec | None = None,
    monitor: MonitorSpec | None = None,
) -> HelmAddon:
    """The add-on a component installs: ``<owner>-<release>``, its child, released into the
    namespace its footprint names. The owner created these releases before the registry
    existed, so it is also what their aliases point back to."""
    return HelmAddon(
        f"{owner_name}-{footprint.release}",
        HelmAddonArgs(
            chart=chart,
            release_name=footprint.release,
            namespace=footprint.namespace,
            values=values,
            footprint=footprint,
            cluster=cluster,
            irsa=irsa,
            monitor=monitor,
            depends_on=depends_on,
            moved_from=owner,
        ),
        opts=pulumi.ResourceOptions(parent=owner),
    )


def with_annotations(
    values: Mapping[str, Any], path: Sequence[str], annotations: Mapping[str, pulumi.Input[str]]
) -> dict[str, Any]:
    """``values`` with ``annotations`` merged into ``<path>.annotations`` (copies, never
    changes ``values``)."""
    merged = dict(values)
    if not path:
        merged["annotations"] = {**merged.get("annotations", {}), **annotations}
        return merged
    head, *rest = path
    merged[head] = with_annotations(merged.get(head, {}), rest, annotations)
    return merged


class HelmAddon(pulumi.ComponentResource):
    release: k8s.helm.v3.Release
    monitor: k8s.apiextensions.CustomResource | None

    def __init__(
        self, name: str, args: HelmAddonArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:HelmAddon", name, None, opts)
        moved = [pulumi.Alias(parent=args.moved_from)] if args.moved_from else []
        values = dict(args.values)
        self._name = name
        self._role: IrsaRole | None = None
        if args.irsa is not None:
            self._role = IrsaRole(
                args.irsa.name or name,
                args.cluster.oidc,
                args.namespace,
                args.irsa.service_account,
                parent=self,
                statements=args.irsa.statements,
                described=args.irsa.described,
                aliases=moved,
            )
            values = with_annotations(values, args.irsa.values_path, self._role.annotations)
        chart = args.chart
        self.release = k8s.helm.v3.Release(
            name,
            name=args.release_name,
            chart=chart.name,
            version=chart.version,
            namespace=args.namespace,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo),
            atomic=args.atomic,
            values=values,
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.cluster.k8s_provider,
                depends_on=list(args.depends_on),
                aliases=moved,
            ),
        )
        self.monitor = None
        if args.monitor is not None:
            self.monitor = self._monitor(name, args.monitor, args)
        self.register_outputs(footprints_output([args.footprint]))

    @property
    def role(self) -> IrsaRole:
        """The IRSA role of an add-on created with ``irsa``."""
        if self._role is None:
            raise AttributeError(f"{self._name} was created without an IRSA role")
        return self._role

    def _monitor(
        self, name: str, monitor: MonitorSpec, args: HelmAddonArgs
    ) -> k8s.apiextensions.CustomResource:
        aliases = (
            [pulumi.Alias(parent=args.moved_from, name=monitor.previous_name)]
            if args.moved_from
            else []
        )
        return k8s.apiextensions.CustomResource(
            f"{name}-{monitor.kind.lower()}",
            api_version="monitoring.coreos.com/v1",
            kind=monitor.kind,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=monitor.name, namespace=monitor.namespace, labels=dict(monitor.labels)
            ),
            spec=dict(monitor.spec),
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.cluster.k8s_provider,
                depends_on=[*monitor.after, self.release],
                aliases=aliases,
            ),
        )

"""CostAttribution: OpenCost in its fenced namespace, reading and scraped by the
cluster's Prometheus; the ``cost-tracking`` dashboard (dashboards/) reads its series
per namespace and per tenant (``tenant-*`` namespaces)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from components.addons import opencost
from components.addons.charts import pinned
from components.addons.registry import HelmAddon, HelmAddonArgs, MonitorSpec
from components.context import ClusterContext


@dataclass(frozen=True)
class CostAttributionArgs:
    cluster: ClusterContext
    cluster_name: str
    charts: Mapping[str, str]
    # OpenCost's fenced namespace (quota, LimitRange, NetworkPolicies) and monitoring's.
    namespace: pulumi.Resource
    monitoring_namespace: pulumi.Resource
    # The kube-prometheus-stack release: Prometheus to read, the ServiceMonitor CRD.
    prometheus: pulumi.Resource
    labels: Mapping[str, str]


class CostAttribution(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: CostAttributionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:CostAttribution", name, None, opts)
        monitor = MonitorSpec(
            kind="ServiceMonitor",
            name=opencost.MONITOR,
            spec=opencost.monitor_spec(),
            labels={**args.labels, "app.kubernetes.io/name": opencost.MONITOR},
            after=[args.monitoring_namespace, args.prometheus],
        )
        # New with the registry: no earlier parent to alias (install() would add one).
        addon = HelmAddon(
            f"{name}-{opencost.NAME}",
            HelmAddonArgs(
                chart=pinned(opencost.NAME, args.charts),
                release_name=opencost.NAME,
                namespace=opencost.NAMESPACE,
                values=opencost.values(args.cluster_name),
                footprint=opencost.footprint(),
                cluster=args.cluster,
                monitor=monitor,
                # It crash-loops until Prometheus answers.
                depends_on=[args.namespace, args.prometheus],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.release = addon.release
        self.register_outputs({})

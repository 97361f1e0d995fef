"""Velero: the namespace it runs in and the release, through the add-on registry.

The namespace is fenced like every platform namespace: Pod Security ``restricted`` (Velero
runs without its node-agent, see :mod:`components.addons.velero`), a quota sized from the
release's footprint, and network policies that let in only Prometheus on the metrics port
and let out only the API server and AWS endpoints (S3 through the gateway endpoint's public
ranges, STS). The release waits for the EBS VolumeSnapshotClass (CSI backups need it) and
the PodMonitor for the kube-prometheus-stack release that installs its CRD.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from components.addons import velero
from components.addons.charts import pinned
from components.addons.registry import HelmAddon, HelmAddonArgs, IrsaSpec, MonitorSpec
from components.context import ClusterContext
from components.k8s.namespaces import FencedNamespace, Ingress, NamespaceSpec


@dataclass(frozen=True)
class VeleroArgs:
    cluster: ClusterContext
    # The stack's chart overrides (``agent-factory:charts``).
    charts: Mapping[str, str]
    labels: Mapping[str, str]
    vpc_cidr: str
    bucket: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    # The key the backups bucket is encrypted with (SSE-KMS).
    kms_key_arn: pulumi.Input[str]
    cron: str
    retention_days: int
    # PSA exemption reason for the namespace (security.podSecurityExemptions); None:
    # restricted.
    exemption: str | None
    # Monitoring's namespace and the release that installs the monitoring.coreos.com CRDs.
    monitoring: pulumi.Resource
    prometheus: pulumi.Resource
    # The VolumeSnapshotClass the CSI backups use.
    snapshot_class: pulumi.Resource


def namespace_spec(vpc_cidr: str, exemption: str | None) -> NamespaceSpec:
    return NamespaceSpec(
        velero.NAMESPACE,
        velero.quota(),
        exemption=exemption,
        ingress=(Ingress(from_namespace="monitoring", ports=(velero.METRICS_PORT,)),),
        # The API server's private endpoint and the interface endpoints are in the VPC; S3
        # is reached through its gateway endpoint, whose ranges are public.
        egress=((vpc_cidr, (443,)),),
        internet_https=True,
    )


class Velero(pulumi.ComponentResource):
    addon: HelmAddon

    def __init__(
        self, name: str, args: VeleroArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:Velero", name, None, opts)
        cluster = args.cluster
        fence = FencedNamespace(
            f"{name}-ns",
            namespace_spec(args.vpc_cidr, args.exemption),
            dict(args.labels),
            opts=pulumi.ResourceOptions(parent=self, provider=cluster.k8s_provider),
        )
        account = cluster.account
        statements = pulumi.Output.all(account.dns_suffix, args.bucket_arn, args.kms_key_arn).apply(
            lambda v: velero.policy(account.region, v[0], v[1], v[2])
        )
        values = velero.values(
            bucket=args.bucket,
            region=account.region,
            kms_key_arn=args.kms_key_arn,
            cron=args.cron,
            retention_days=args.retention_days,
        )
        monitor = MonitorSpec(
            kind="PodMonitor",
            name=velero.NAME,
            spec=velero.pod_monitor_spec(),
            labels={**args.labels, "app.kubernetes.io/name": velero.NAME},
            after=[args.monitoring, args.prometheus],
        )
        # A new add-on: nothing to alias, so the registry's HelmAddon directly.
        self.addon = HelmAddon(
            f"{name}-{velero.NAME}",
            HelmAddonArgs(
                chart=pinned(velero.CHART, args.charts),
                release_name=velero.NAME,
                namespace=velero.NAMESPACE,
                values=values,
                footprint=velero.footprint(via=monitor.via),
                cluster=cluster,
                irsa=IrsaSpec(
                    velero.SERVICE_ACCOUNT, statements, values_path=velero.SERVICE_ACCOUNT_VALUES
                ),
                monitor=monitor,
                depends_on=[fence, args.snapshot_class],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs(
            {
                "namespace": fence.namespace,
                "roleArn": self.addon.role.arn,
                "schedule": velero.SCHEDULE,
                "storageLocation": velero.STORAGE_LOCATION,
            }
        )

"""Region: one region of the platform, assembled in dependency order.

keys -> network -> cluster -> node pools -> add-ons -> data stores -> security ->
observability -> backups (Velero, backup failure events), then the multi-region parts
(docs/multi-region.md): the primary owns the public zone and replicates its buckets to the
secondaries; a secondary replicates the primary's database; every prod region owns its
health check and latency record. The AWS provider for the region arrives through
``opts.providers`` and is inherited by every child.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.addons import argocd, opencost
from components.addons.cluster_addons import ClusterAddons, ClusterAddonsArgs
from components.backups.events import BackupEvents, BackupEventsArgs
from components.backups.velero import Velero, VeleroArgs
from components.cluster.cluster import Cluster, ClusterArgs
from components.cluster.nodepools import NodePools, NodePoolsArgs
from components.context import AccountContext, ClusterContext
from components.data.datastores import (
    CrossRegionSource,
    DataStores,
    DataStoresArgs,
    GlobalCacheMember,
)
from components.delivery.argocd import ArgoCD, ArgoCDArgs
from components.finops.attribution import CostAttribution, CostAttributionArgs
from components.finops.costs import CostControls, CostControlsArgs
from components.finops.offhours import OffHours, OffHoursArgs
from components.k8s.tenancy import tenant_namespace
from components.multiregion import crossstack
from components.multiregion.crossstack import (
    REPLICATED_BUCKETS,
    PrimaryOutputs,
    RegionLink,
    ReplicationTarget,
    SecondaryOutputs,
    dbuser_arn,
    read_primary,
    read_secondaries,
)
from components.multiregion.peering import RegionPeering, RegionPeeringArgs
from components.multiregion.replication import BucketReplication, BucketReplicationArgs
from components.multiregion.routing import (
    GlobalRouting,
    GlobalRoutingArgs,
    health_url,
    regional_hostname,
)
from components.multiregion.zone import PublicZone, PublicZoneArgs
from components.network.network import Network, NetworkArgs, TransitRouting
from components.observability.observability import (
    ALERTING_SECRET,
    Observability,
    ObservabilityArgs,
)
from components.observability.trail_alarms import TrailAlarms, TrailAlarmsArgs
from components.security.admission import Admission, AdmissionArgs
from components.security.keys import Keys, KeysArgs
from components.security.security import DATABASE_USER, KafkaAccess, Security, SecurityArgs
from components.security.vulnerability_scanning import (
    VulnerabilityScanning,
    VulnerabilityScanningArgs,
)
from components.services.services import (
    DataEndpoints,
    Delivery,
    Placement,
    RemoteWriter,
    Services,
    ServicesArgs,
    StackRecord,
    values_file,
)
from components.services.standby import chart_floors, standby_min_replicas
from components.settings import WORKLOADS, Settings
from components.supply.identity import CiIdentity, CiIdentityArgs
from components.supply.registry import ImageRegistry, ImageRegistryArgs, repository_name

# The output names other stacks read (components/multiregion/crossstack.py); __main__
# exports under them, so it needs only Region's module.
CONTRACT = crossstack


@dataclass(frozen=True)
class RegionArgs:
    settings: Settings


def _pick_zones(names: list[str], count: int, region: str) -> list[str]:
    if len(names) < count:
        raise ValueError(
            f"agent-factory:network.azCount: {region} offers {len(names)} zones, {count} asked"
        )
    return names[:count]


def _apart(own: str, primary_stack: str) -> Callable[[str], str]:
    """A check for the primary's CIDR: private links between regions need distinct ranges."""

    def check(primary_cidr: str) -> str:
        if ipaddress.ip_network(own).overlaps(ipaddress.ip_network(primary_cidr)):
            raise ValueError(
                f"agent-factory:network.vpcCidr: {own} overlaps {primary_cidr} of {primary_stack}"
            )
        return primary_cidr

    return check


class Region(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    data_subnet_ids: pulumi.Output[list[str]]
    cluster_name: pulumi.Output[str]
    cluster_endpoint: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    cluster_security_group_id: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    keys: Keys
    data_stores: DataStores
    security: Security
    observability: Observability
    services: Services
    argocd: ArgoCD
    image_registry: ImageRegistry
    ci_identity: CiIdentity
    default_storage_class: pulumi.Output[str]
    # Multi-region (None in a single-region stack or where the role does not own it).
    hosted_zone_id: pulumi.Input[str] | None
    hosted_zone_name_servers: pulumi.Output[Sequence[str]] | None
    routing: GlobalRouting | None
    replication_target: pulumi.Output[dict[str, Any]] | None
    primary_vpc_cidr: pulumi.Output[str] | None
    # The Transit Gateway of a multi-region stack, and a secondary's link to the primary.
    transit_gateway_id: pulumi.Output[str] | None
    transit_route_table_id: pulumi.Output[str] | None
    region_link: pulumi.Output[dict[str, Any]] | None

    def __init__(
        self, name: str, args: RegionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:Region", name, None, opts)
        settings = args.settings
        invoke = pulumi.InvokeOutputOptions(parent=self)
        partition = aws.get_partition_output(opts=invoke)
        account = AccountContext(
            account_id=aws.get_caller_identity_output(opts=invoke).account_id,
            partition=partition.partition,
            region=settings.region,
            dns_suffix=partition.dns_suffix,
        )
        self._name, self._settings, self._account = name, settings, account
        network_settings = settings.network
        zones: pulumi.Input[list[str]]
        if network_settings.availability_zones is not None:
            zones = list(network_settings.availability_zones)
        else:
            # Only zones that need no opt-in: Local Zones cannot host EKS nodes or NAT.
            zones = aws.get_availability_zones_output(
                state="available",
                filters=[
                    aws.GetAvailabilityZonesFilterArgs(
                        name="opt-in-status", values=["opt-in-not-required"]
                    )
                ],
                opts=invoke,
            ).names.apply(
                lambda names: _pick_zones(names, network_settings.az_count, settings.region)
            )

        multi = settings.multi_region
        primary: PrimaryOutputs | None = None
        if multi is not None and multi.primary_stack is not None:
            primary = read_primary(
                name,
                multi.primary_stack,
                cache_global=multi.cache_global_datastore,
                parent=self,
            )
        # The primary reads each secondary's replication target and region link once.
        secondaries: SecondaryOutputs | None = None
        if multi is not None and multi.secondary_stacks:
            secondaries = read_secondaries(f"{name}-secondary", multi.secondary_stacks, parent=self)
        links = secondaries.links if secondaries is not None else None

        keys = Keys(
            f"{name}-keys",
            KeysArgs(
                account=account,
                cluster_name=settings.cluster_name,
                trail_name=settings.trail_name,
                protect=settings.is_prod,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        network = Network(
            f"{name}-network",
            NetworkArgs(
                account=account,
                cluster_name=settings.cluster_name,
                vpc_cidr=network_settings.vpc_cidr,
                subnets=network_settings.subnets,
                availability_zones=zones,
                nat_gateway_count=settings.nat_gateway_count,
                flow_log_retention_days=network_settings.flow_log_retention_days,
                flow_log_key_arn=keys.logs_key_arn,
                interface_endpoints=tuple(network_settings.interface_endpoints),
                transit=self._transit_routing(primary, links),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        cluster_settings = settings.cluster
        cluster = Cluster(
            f"{name}-cluster",
            ClusterArgs(
                account=account,
                cluster_name=settings.cluster_name,
                version=cluster_settings.version,
                vpc_id=network.vpc_id,
                private_subnet_ids=network.private_subnet_ids,
                public_subnet_ids=network.public_subnet_ids,
                public_access_cidrs=tuple(cluster_settings.public_access_cidrs),
                admin_roles=tuple(cluster_settings.admin_roles),
                developer_roles=tuple(cluster_settings.developer_roles),
                secrets_key_arn=keys.eks_secrets_key_arn,
                logs_key_arn=keys.logs_key_arn,
                log_retention_days=cluster_settings.log_retention_days,
                deletion_protection=settings.deletion_protection,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[network]),
        )
        # What every component that puts something into the cluster needs, as one value.
        in_cluster = ClusterContext(
            account=account,
            name=cluster.cluster_name,
            arn=cluster.cluster_arn,
            endpoint=cluster.endpoint,
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_provider_url=cluster.oidc_provider_url,
            k8s_provider=cluster.k8s_provider,
        )
        self._cluster = in_cluster
        node_pools = NodePools(
            f"{name}-nodes",
            NodePoolsArgs(
                cluster=in_cluster,
                environment=settings.environment,
                kubernetes_version=cluster_settings.version,
                subnet_ids=network.private_subnet_ids,
                pools=settings.node_pools,
                ebs_key_arn=keys.ebs_key_arn,
                autoscaler=settings.autoscaler,
                instance_tags=settings.tags,
                charts=settings.charts,
                workloads={
                    pool: tuple(w for w in WORKLOADS if settings.services.pool(w) == pool)
                    for pool in settings.node_pools
                },
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster]),
        )
        addons = ClusterAddons(
            f"{name}-addons",
            ClusterAddonsArgs(
                cluster=in_cluster,
                ebs_key_arn=keys.ebs_key_arn,
                coredns_replicas=2 if settings.environment == "dev" else 3,
                retain_volumes=settings.is_prod,
                metrics_server_replicas=1 if settings.environment == "dev" else 2,
                charts=settings.charts,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[node_pools]),
        )
        targets = secondaries.targets if secondaries is not None else None
        self.hosted_zone_name_servers = None
        if settings.role == "primary":
            zone = PublicZone(
                f"{name}-zone",
                PublicZoneArgs(
                    account=account,
                    domain=settings.security.domain,
                    existing_zone_id=settings.security.hosted_zone_id,
                    protect=settings.is_prod,
                    logs_key_arn=keys.logs_key_arn,
                    log_retention_days=cluster_settings.log_retention_days,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.hosted_zone_id = zone.zone_id
            self.hosted_zone_name_servers = zone.name_servers
        elif primary is not None:
            self.hosted_zone_id = primary.hosted_zone_id
        else:
            self.hosted_zone_id = settings.security.hosted_zone_id

        data_stores = DataStores(
            f"{name}-data",
            DataStoresArgs(
                account=account,
                settings=settings.data_stores,
                project=settings.project,
                stack=settings.stack,
                cluster_name=settings.cluster_name,
                vpc_id=network.vpc_id,
                data_subnet_ids=network.data_subnet_ids,
                node_security_group_id=cluster.cluster_security_group_id,
                zone_count=network_settings.az_count,
                data_key_arn=keys.data_key_arn,
                s3_key_arn=keys.s3_key_arn,
                secrets_key_arn=keys.secrets_key_arn,
                logs_key_arn=keys.logs_key_arn,
                log_retention_days=cluster_settings.log_retention_days,
                audit_lock_mode=settings.audit_lock_mode,
                trail_name=settings.trail_name,
                protect=settings.is_prod,
                source=self._source(primary),
                cache_global_datastore=settings.role == "primary"
                and multi is not None
                and multi.cache_global_datastore,
                remote_clients=(
                    links.apply(lambda ls: [c for link in ls for c in link.client_cidrs])
                    if links is not None
                    else None
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # A secondary's replica is read-only: its services write to the primary's writer.
        writer = primary if primary is not None and data_stores.postgres_is_replica else None
        security = Security(
            f"{name}-security",
            SecurityArgs(
                cluster=in_cluster,
                settings=settings.security,
                charts=settings.charts,
                stack=settings.stack,
                environment=settings.environment,
                team=settings.team,
                protect=settings.is_prod,
                trail_name=settings.trail_name,
                log_retention_days=cluster_settings.log_retention_days,
                vpc_cidr=network_settings.vpc_cidr,
                data_subnet_cidrs=tuple(str(cidr) for cidr in network_settings.subnets.data),
                workload_namespace=settings.workload_namespace,
                workload_quota=settings.workload_quota,
                max_node_count=settings.max_node_count,
                s3_key_arn=keys.s3_key_arn,
                secrets_key_arn=keys.secrets_key_arn,
                logs_key_arn=keys.logs_key_arn,
                audit_bucket=data_stores.bucket_names["audit-logs"],
                artifacts_bucket_arn=data_stores.bucket_arns["artifacts"],
                application_secret_arns=list(data_stores.application_secret_arns.values()),
                postgres_resource_id=data_stores.postgres_resource_id,
                kafka=(
                    KafkaAccess(
                        data_stores.kafka_cluster_arn,
                        settings.services.kafka_topic,
                        settings.services.kafka_consumer_group,
                    )
                    if data_stores.kafka_cluster_arn is not None
                    else None
                ),
                multi_region_trail=settings.role != "secondary",
                hosted_zone_id=self.hosted_zone_id,
                remote_writer_user_arn=(
                    pulumi.Output.all(
                        writer.postgres_instance_arn, writer.postgres_resource_id
                    ).apply(lambda v: dbuser_arn(v[0], v[1], DATABASE_USER))
                    if writer is not None
                    else None
                ),
            ),
            # The trail needs the audit bucket's policy; charts need schedulable nodes.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[data_stores, addons]),
        )

        observability = Observability(
            f"{name}-observability",
            ObservabilityArgs(
                cluster=in_cluster,
                settings=settings.observability,
                charts=settings.charts,
                stack=settings.stack,
                environment=settings.environment,
                cluster_name=settings.cluster_name,
                domain=settings.security.domain,
                public_access_cidrs=tuple(cluster_settings.public_access_cidrs),
                sre_roles=tuple(cluster_settings.admin_roles),
                traces_retention_days=settings.data_stores.storage.traces_retention_days,
                storage_class=addons.default_storage_class,
                data_subnet_ids=network.data_subnet_ids,
                vpc_id=network.vpc_id,
                node_security_group_id=cluster.cluster_security_group_id,
                data_key_arn=keys.data_key_arn,
                logs_key_arn=keys.logs_key_arn,
                s3_key_arn=keys.s3_key_arn,
                secrets_key_arn=keys.secrets_key_arn,
                traces_bucket=data_stores.bucket_names["traces"],
                traces_bucket_arn=data_stores.bucket_arns["traces"],
                postgres_identifiers=data_stores.postgres_identifiers,
                postgres_primary_is_replica=data_stores.postgres_is_replica,
                peer_health_urls=self._peer_health_urls(primary, targets),
                cache_nodes=data_stores.cache_nodes,
                protect=settings.is_prod,
                namespaces=security.fenced_namespaces,
                secret_store=security.secret_store,
                ingress_class=security.ingress_class,
                postgres_max_connections=settings.data_stores.postgres.max_connections,
                log_retention_days=cluster_settings.log_retention_days,
                dns_zone_id=self.hosted_zone_id,
                ingress_hostname=security.ingress_hostname,
                ingress_controller=security.ingress_release,
                backup_alerts=settings.backups.velero,
            ),
            # Namespaces, the ClusterSecretStore and the default StorageClass come first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[security, data_stores]),
        )
        if security.trail_log_group_name is not None:
            # CIS benchmark alarms on the trail's events, to the same topic as the others.
            TrailAlarms(
                f"{name}-trail-alarms",
                TrailAlarmsArgs(
                    log_group_name=security.trail_log_group_name,
                    alarm_topic_arn=observability.alarm_topic_arn,
                    name_prefix=settings.cluster_name,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        labels = {
            "app.kubernetes.io/part-of": "agent-factory",
            "app.kubernetes.io/managed-by": "pulumi",
            "agent-factory.io/team": settings.team,
            "agent-factory.io/environment": settings.environment,
        }
        if settings.security.admission.enabled:
            Admission(
                f"{name}-admission",
                AdmissionArgs(
                    cluster=in_cluster,
                    settings=settings.security.admission,
                    charts=settings.charts,
                    platform_replicas=settings.security.platform_replicas,
                    vpc_cidr=network_settings.vpc_cidr,
                    namespaces=[
                        *security.fenced_namespaces,
                        *(tenant_namespace(t.name) for t in settings.security.tenants),
                    ],
                    registry=self._registry(),
                    monitoring_namespace=security.fenced_namespaces["monitoring"],
                    prometheus_release=observability.prometheus_release,
                    labels=labels,
                ),
                # Its pods need schedulable nodes.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[addons]),
            )
        if settings.security.vulnerability_scanning:
            VulnerabilityScanning(
                f"{name}-vulnerabilities",
                VulnerabilityScanningArgs(
                    cluster=in_cluster,
                    charts=settings.charts,
                    vpc_cidr=network_settings.vpc_cidr,
                    monitoring_namespace=security.fenced_namespaces["monitoring"],
                    prometheus_release=observability.prometheus_release,
                    labels=labels,
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[addons]),
            )

        self._costs(node_pools, security, observability)
        self._backups(
            keys=keys,
            data_stores=data_stores,
            addons=addons,
            security=security,
            observability=observability,
            targets=targets,
        )
        self._multi_region(primary, targets, keys, data_stores, security)
        self._peering(primary, network)
        self.argocd = self._argocd(keys, security, observability)
        self._supply_chain(node_pools, data_stores, targets, primary)
        self.services = self._services(
            data_stores,
            security,
            observability,
            (
                RemoteWriter(
                    writer.postgres_endpoint,
                    writer.region,
                    writer.postgres_port,
                    writer.data_subnet_cidrs,
                )
                if writer is not None
                else None
            ),
        )

        self.vpc_id = network.vpc_id
        self.private_subnet_ids = network.private_subnet_ids
        self.data_subnet_ids = network.data_subnet_ids
        self.cluster_name = cluster.cluster_name
        self.cluster_endpoint = cluster.endpoint
        self.kubeconfig = cluster.kubeconfig
        self.oidc_provider_arn = cluster.oidc_provider_arn
        self.cluster_security_group_id = cluster.cluster_security_group_id
        self.node_role_arn = node_pools.node_role_arn
        self.keys = keys
        self.data_stores = data_stores
        self.security = security
        self.observability = observability
        self.default_storage_class = addons.default_storage_class
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "clusterName": self.cluster_name,
                "clusterEndpoint": self.cluster_endpoint,
                "oidcProviderArn": self.oidc_provider_arn,
                # Awaited here so an overlap with the primary fails the deployment.
                "primaryVpcCidr": self.primary_vpc_cidr,
            }
        )

    def _transit_routing(
        self, primary: PrimaryOutputs | None, links: pulumi.Output[list[RegionLink]] | None
    ) -> TransitRouting | None:
        """A secondary's nodes and data subnets reach the primary's data subnets; the
        primary's data subnets route back to every secondary that has linked up."""
        multi = self._settings.multi_region
        if multi is None:
            return None
        if primary is not None:
            return TransitRouting(
                amazon_side_asn=multi.transit_gateway_asn,
                private_destinations=primary.data_subnet_cidrs,
                data_destinations=primary.data_subnet_cidrs,
            )
        return TransitRouting(
            amazon_side_asn=multi.transit_gateway_asn,
            private_destinations=None,
            data_destinations=(
                links.apply(lambda ls: [link.vpc_cidr for link in ls]) if links is not None else []
            ),
        )

    def _peering(self, primary: PrimaryOutputs | None, network: Network) -> None:
        settings = self._settings
        gateway = network.transit_gateway
        self.transit_gateway_id = gateway.transit_gateway_id if gateway else None
        self.transit_route_table_id = gateway.route_table_id if gateway else None
        self.region_link = None
        if primary is None or gateway is None or self.primary_vpc_cidr is None:
            return
        peering = RegionPeering(
            f"{self._name}-peering",
            RegionPeeringArgs(
                transit_gateway_id=gateway.transit_gateway_id,
                route_table_id=gateway.route_table_id,
                vpc_cidr=settings.network.vpc_cidr,
                primary_region=primary.region,
                primary_transit_gateway_id=primary.transit_gateway_id,
                primary_route_table_id=primary.transit_route_table_id,
                # Checked against this VPC's range (an overlap fails the deployment).
                primary_vpc_cidr=self.primary_vpc_cidr,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        subnets = settings.network.subnets
        link = RegionLink(
            region=settings.region,
            vpc_cidr=settings.network.vpc_cidr,
            client_cidrs=tuple(str(c) for c in (*subnets.private, *subnets.data)),
        )
        # Published once the link is up, so the primary only admits a working peer.
        self.region_link = peering.attachment_id.apply(lambda _id: link.to_output())

    def _argocd(self, keys: Keys, security: Security, observability: Observability) -> ArgoCD:
        settings = self._settings
        return ArgoCD(
            f"{self._name}-argocd",
            ArgoCDArgs(
                cluster=self._cluster,
                settings=settings.delivery,
                charts=settings.charts,
                stack=settings.stack,
                environment=settings.environment,
                cluster_name=settings.cluster_name,
                domain=settings.security.domain,
                vpc_cidr=settings.network.vpc_cidr,
                access_cidrs=tuple(settings.cluster.public_access_cidrs),
                workload_namespace=settings.workload_namespace,
                secrets_key_arn=keys.secrets_key_arn,
                secret_store=security.secret_store,
                ingress_class=security.ingress_class,
                alerting_secret=f"{settings.cluster_name}/{ALERTING_SECRET}",
                prometheus_release=observability.prometheus_release,
                ingress_release=security.ingress_release,
                protect=settings.is_prod,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _supply_chain(
        self,
        node_pools: NodePools,
        data_stores: DataStores,
        targets: pulumi.Output[list[ReplicationTarget]] | None,
        primary: PrimaryOutputs | None,
    ) -> None:
        """The services' registry in this region and CI's roles (docs/supply-chain.md). The
        stack that owns the account's globals (not a secondary) owns the GitHub provider."""
        settings, supply = self._settings, self._settings.supply_chain
        self.image_registry = ImageRegistry(
            f"{self._name}-registry",
            ImageRegistryArgs(
                account=self._account,
                cluster_name=settings.cluster_name,
                workloads=WORKLOADS,
                scanning=supply.scanning,
                images_kept=supply.images_kept,
                untagged_expire_days=supply.untagged_expire_days,
                node_role=node_pools.node_role_arn.apply(lambda arn: arn.rsplit("/", 1)[-1]),
                replicate_to=(
                    targets.apply(lambda ts: [t.region for t in ts])
                    if targets is not None
                    else None
                ),
                protect=settings.is_prod,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.ci_identity = CiIdentity(
            f"{self._name}-ci",
            CiIdentityArgs(
                account=self._account,
                stack=settings.stack,
                cluster_name=settings.cluster_name,
                cluster=self._cluster.name,
                owns_account=settings.role != "secondary",
                bucket_arns=list(data_stores.bucket_arns.values()),
                repository_names=[repository_name(w) for w in WORKLOADS],
                image_repositories=tuple(supply.image_repositories),
                image_refs=tuple(supply.image_refs),
                primary_region=primary.region if primary is not None else None,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _services(
        self,
        data_stores: DataStores,
        security: Security,
        observability: Observability,
        writer: RemoteWriter | None,
    ) -> Services:
        settings = self._settings
        network = settings.network
        hosts: tuple[str, ...]
        if settings.multi_region is not None:
            # The latency-routed name and this region's own, both GlobalRouting's records.
            hosts = (
                settings.api_hostname,
                regional_hostname(settings.api_hostname, settings.region),
            )
            record = None
        else:
            # Stacks of one region share the zone: the stack's name keeps them apart.
            hosts = (f"api-{settings.stack}.{settings.security.domain}",)
            record = (
                StackRecord(self.hosted_zone_id, hosts[0], security.ingress_hostname)
                if self.hosted_zone_id is not None
                else None
            )
        # A warm standby runs fewer pods too, or they would hold its smaller pools full.
        standby = settings.multi_region.standby if settings.multi_region is not None else None
        min_replicas = (
            standby_min_replicas(
                chart_floors(values_file(settings.environment)),
                standby.min_replicas_percent,
            )
            if standby is not None
            else None
        )
        # The repositories of this region's ImageRegistry, unless the stack names another.
        registry = settings.services.registry or self.image_registry.url
        pools = {w: settings.services.pool(w) for w in WORKLOADS}
        return Services(
            f"{self._name}-services",
            ServicesArgs(
                cluster=self._cluster,
                settings=settings.services,
                stack=settings.stack,
                environment=settings.environment,
                namespace=settings.workload_namespace,
                registry=registry,
                api_hosts=hosts,
                vpc_cidr=network.vpc_cidr,
                s3_cidrs=aws.ec2.get_prefix_list_output(
                    name=f"com.amazonaws.{settings.region}.s3",
                    opts=pulumi.InvokeOutputOptions(parent=self),
                ).cidr_blocks,
                data=DataEndpoints(
                    postgres_host=data_stores.postgres_endpoint,
                    postgres_port=data_stores.postgres_port,
                    database=data_stores.database_name,
                    database_user=DATABASE_USER,
                    cache_host=data_stores.cache_endpoint,
                    cache_port=data_stores.cache_port,
                    cache_auth_secret_arn=data_stores.cache_auth_secret_arn,
                    kafka_brokers=data_stores.kafka_bootstrap_brokers,
                    kafka_port=data_stores.kafka_port,
                    artifacts_bucket=data_stores.bucket_names["artifacts"],
                    subnet_cidrs=tuple(str(cidr) for cidr in network.subnets.data),
                    database_is_replica=data_stores.postgres_is_replica,
                    writer=writer,
                ),
                llm_secret_arns=data_stores.application_secret_arns,
                placements={
                    w: Placement.on_pool(pool, settings.node_pools[pool].taints)
                    for w, pool in pools.items()
                },
                service_accounts=security.workload_service_accounts,
                ingress_class=security.ingress_class,
                ingress_namespace=security.ingress_namespace,
                monitoring_namespace="monitoring",
                tracing_namespace="tracing",
                otlp_endpoint=observability.otlp_endpoint,
                cluster_secret_store=security.secret_store.name,
                record=record,
                slo_latency_seconds=settings.observability.slo.latency_seconds,
                delivery=Delivery(
                    namespace=argocd.NAMESPACE,
                    project=self.argocd.project,
                    repo_url=settings.delivery.repo_url,
                    target_revision=settings.delivery.target_revision,
                    prune=not settings.is_prod,
                    after=[self.argocd.release, self.argocd.project_resource],
                ),
                depends_on=[
                    security.fenced_namespaces[settings.workload_namespace],
                    *security.workload_identities,
                    security.secret_store.resource,
                    security.ingress_release,
                    *security.autoscaling_releases,
                    security.rollouts_release,
                    observability.prometheus_release,
                ],
                min_replicas=min_replicas,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _registry(self) -> pulumi.Input[str]:
        """Where the services' images live (and what Kyverno verifies): the stack's
        registry setting, or this account's ECR in the stack's region."""
        account = self._account
        return self._settings.services.registry or pulumi.Output.concat(
            account.account_id, ".dkr.ecr.", account.region, ".", account.dns_suffix
        )

    def _costs(
        self, node_pools: NodePools, security: Security, observability: Observability
    ) -> None:
        """The budget (and the account's cost watchers where this stack owns them), the
        off-hours scale-down of the pools it applies to, OpenCost (docs/finops.md)."""
        settings, finops = self._settings, self._settings.finops
        CostAttribution(
            f"{self._name}-cost-attribution",
            CostAttributionArgs(
                cluster=self._cluster,
                cluster_name=settings.cluster_name,
                charts=settings.charts,
                namespace=security.fenced_namespaces[opencost.NAMESPACE],
                monitoring_namespace=security.fenced_namespaces["monitoring"],
                prometheus=observability.prometheus_release,
                labels={
                    "app.kubernetes.io/part-of": "agent-factory",
                    "app.kubernetes.io/managed-by": "pulumi",
                    "agent-factory.io/environment": settings.environment,
                },
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        CostControls(
            f"{self._name}-costs",
            CostControlsArgs(
                project=settings.project,
                stack=settings.stack,
                account_name=settings.account,
                budget=finops.budget,
                anomaly=finops.anomaly,
                alarm_topic_arn=observability.alarm_topic_arn,
                owns_account=settings.owns_account_cost_resources,
                topic_ready=[observability.alarm_topic_policy],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        if settings.scaled_down_pools:
            OffHours(
                f"{self._name}-offhours",
                OffHoursArgs(
                    groups=node_pools.autoscaling_groups,
                    pools=settings.scaled_down_pools,
                    schedule=finops.scale_down,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _backups(
        self,
        *,
        keys: Keys,
        data_stores: DataStores,
        addons: ClusterAddons,
        security: Security,
        observability: Observability,
        targets: pulumi.Output[list[ReplicationTarget]] | None,
    ) -> None:
        """Velero (Kubernetes state every 6 hours) and the rules that page on failed
        data-store backups and late replication (seed Sprint 9)."""
        settings, name = self._settings, self._name
        backups = settings.backups
        if backups.velero:
            Velero(
                f"{name}-velero",
                VeleroArgs(
                    cluster=self._cluster,
                    charts=settings.charts,
                    labels={
                        "app.kubernetes.io/part-of": "agent-factory",
                        "app.kubernetes.io/managed-by": "pulumi",
                        "agent-factory.io/team": settings.team,
                        "agent-factory.io/environment": settings.environment,
                    },
                    vpc_cidr=settings.network.vpc_cidr,
                    bucket=data_stores.bucket_names["backups"],
                    bucket_arn=data_stores.bucket_arns["backups"],
                    kms_key_arn=keys.s3_key_arn,
                    cron=backups.schedule,
                    retention_days=backups.retention_days,
                    exemption=settings.security.pod_security_exemptions.get("velero"),
                    monitoring=security.fenced_namespaces["monitoring"],
                    prometheus=observability.prometheus_release,
                    snapshot_class=addons.snapshot_class,
                ),
                # Charts need schedulable nodes; the bucket's policy comes with it.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[addons, data_stores]),
            )
        BackupEvents(
            f"{name}-backup-events",
            BackupEventsArgs(
                name_prefix=settings.cluster_name,
                alarm_topic_arn=observability.alarm_topic_arn,
                topic_policy=observability.alarm_topic_policy,
                # The primary's sources of cross-region replication.
                replicated_buckets=(
                    {p: data_stores.buckets[p].bucket for p in REPLICATED_BUCKETS}
                    if targets is not None
                    else {}
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _source(self, primary: PrimaryOutputs | None) -> CrossRegionSource | None:
        multi = self._settings.multi_region
        if primary is None or multi is None:
            return None
        cache = None
        if primary.cache_global_group_id is not None and primary.cache_auth_token is not None:
            cache = GlobalCacheMember(primary.cache_global_group_id, primary.cache_auth_token)
        return CrossRegionSource(
            postgres_arn=primary.postgres_instance_arn,
            promote=multi.promote_database,
            backup_copy_days=(
                self._settings.data_stores.postgres.backup_retention_days
                if multi.replicate_backups
                else None
            ),
            cache=cache,
        )

    def _peer_health_urls(
        self,
        primary: PrimaryOutputs | None,
        targets: pulumi.Output[list[ReplicationTarget]] | None,
    ) -> pulumi.Output[list[str]] | None:
        """The regions this one watches: a secondary its primary, the primary its secondaries."""
        multi = self._settings.multi_region
        if multi is None:
            return None
        regions: pulumi.Output[list[str]]
        if primary is not None:
            regions = primary.region.apply(lambda region: [region])
        elif targets is not None:
            regions = targets.apply(lambda ts: [t.region for t in ts])
        else:
            return None
        hostname, path = self._settings.api_hostname, multi.health_check_path
        return regions.apply(lambda rs: [health_url(hostname, r, path) for r in rs])

    def _multi_region(
        self,
        primary: PrimaryOutputs | None,
        targets: pulumi.Output[list[ReplicationTarget]] | None,
        keys: Keys,
        data_stores: DataStores,
        security: Security,
    ) -> None:
        settings = self._settings
        multi = settings.multi_region
        name = self._name
        self.routing = None
        self.replication_target = None
        self.primary_vpc_cidr = None
        if multi is None:
            return
        if self.hosted_zone_id is None:
            raise ValueError("a multi-region stack needs a hosted zone")
        self.routing = GlobalRouting(
            f"{name}-routing",
            GlobalRoutingArgs(
                zone_id=self.hosted_zone_id,
                region=settings.region,
                api_hostname=settings.api_hostname,
                health_check_path=multi.health_check_path,
                ingress_hostname=security.ingress_hostname,
                ingress_zone_id=aws.lb.get_hosted_zone_id_output(
                    load_balancer_type="network", opts=pulumi.InvokeOutputOptions(parent=self)
                ).id,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        if primary is not None:
            self.primary_vpc_cidr = primary.vpc_cidr.apply(
                _apart(str(settings.network.vpc_network), primary.stack)
            )
            self.replication_target = pulumi.Output.all(
                keys.s3_key_arn, *[data_stores.bucket_arns[p] for p in REPLICATED_BUCKETS]
            ).apply(
                lambda v: ReplicationTarget(
                    region=settings.region,
                    bucket_arns=dict(zip(REPLICATED_BUCKETS, v[1:], strict=True)),
                    kms_key_arn=v[0],
                ).to_output()
            )
        if targets is not None:
            BucketReplication(
                f"{name}-replication",
                BucketReplicationArgs(
                    account=self._account,
                    sources={p: data_stores.buckets[p] for p in REPLICATED_BUCKETS},
                    source_key_arn=keys.s3_key_arn,
                    targets=targets,
                    secondary_stacks=multi.secondary_stacks,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

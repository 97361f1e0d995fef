"""Region: one region of the platform, assembled in dependency order.

keys -> network -> cluster -> node pools -> add-ons -> data stores -> security ->
observability. The AWS provider for the region arrives through
``opts.providers`` and is inherited by every child.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.addons import ClusterAddons, ClusterAddonsArgs
from components.cluster import Cluster, ClusterArgs
from components.datastores import DataStores, DataStoresArgs
from components.keys import AccountContext, Keys, KeysArgs
from components.network import Network, NetworkArgs
from components.nodepools import NodePools, NodePoolsArgs
from components.observability import Observability, ObservabilityArgs
from components.security import Security, SecurityArgs
from components.settings import Settings


@dataclass(frozen=True)
class RegionArgs:
    settings: Settings


def _pick_zones(names: list[str], count: int, region: str) -> list[str]:
    if len(names) < count:
        raise ValueError(
            f"agent-factory:network.azCount: {region} offers {len(names)} zones, {count} asked"
        )
    return names[:count]


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
    default_storage_class: pulumi.Output[str]

    def __init__(
        self, name: str, args: RegionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:Region", name, None, opts)
        settings = args.settings
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account = AccountContext(
            account_id=aws.get_caller_identity_output(opts=invoke).account_id,
            partition=aws.get_partition_output(opts=invoke).partition,
            region=settings.region,
        )
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
        node_pools = NodePools(
            f"{name}-nodes",
            NodePoolsArgs(
                account=account,
                environment=settings.environment,
                cluster_name=cluster.cluster_name,
                kubernetes_version=cluster_settings.version,
                subnet_ids=network.private_subnet_ids,
                pools=settings.node_pools,
                ebs_key_arn=keys.ebs_key_arn,
                oidc_provider_arn=cluster.oidc_provider_arn,
                oidc_provider_url=cluster.oidc_provider_url,
                k8s_provider=cluster.k8s_provider,
                autoscaler=settings.autoscaler,
                instance_tags=settings.tags,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster]),
        )
        addons = ClusterAddons(
            f"{name}-addons",
            ClusterAddonsArgs(
                account=account,
                cluster_name=cluster.cluster_name,
                oidc_provider_arn=cluster.oidc_provider_arn,
                oidc_provider_url=cluster.oidc_provider_url,
                ebs_key_arn=keys.ebs_key_arn,
                k8s_provider=cluster.k8s_provider,
                coredns_replicas=2 if settings.environment == "dev" else 3,
                retain_volumes=settings.is_prod,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[node_pools]),
        )
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
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        security = Security(
            f"{name}-security",
            SecurityArgs(
                account=account,
                settings=settings,
                cluster_name=cluster.cluster_name,
                cluster_arn=cluster.cluster_arn,
                oidc_provider_arn=cluster.oidc_provider_arn,
                oidc_provider_url=cluster.oidc_provider_url,
                k8s_provider=cluster.k8s_provider,
                s3_key_arn=keys.s3_key_arn,
                secrets_key_arn=keys.secrets_key_arn,
                audit_bucket=data_stores.bucket_names["audit-logs"],
                artifacts_bucket_arn=data_stores.bucket_arns["artifacts"],
                application_secret_arns=list(data_stores.application_secret_arns.values()),
                postgres_resource_id=data_stores.postgres_resource_id,
                multi_region_trail=True,
            ),
            # The trail needs the audit bucket's policy; charts need schedulable nodes.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[data_stores, addons]),
        )

        observability = Observability(
            f"{name}-observability",
            ObservabilityArgs(
                account=account,
                settings=settings,
                k8s_provider=cluster.k8s_provider,
                oidc_provider_arn=cluster.oidc_provider_arn,
                oidc_provider_url=cluster.oidc_provider_url,
                storage_class=addons.default_storage_class,
                data_subnet_ids=network.data_subnet_ids,
                vpc_id=network.vpc_id,
                node_security_group_id=cluster.cluster_security_group_id,
                data_key_arn=keys.data_key_arn,
                logs_key_arn=keys.logs_key_arn,
                s3_key_arn=keys.s3_key_arn,
                secrets_key_arn=keys.secrets_key_arn,
                traces_bucket=data_stores.bucket_names["backups"],
                traces_bucket_arn=data_stores.bucket_arns["backups"],
                postgres_identifiers=data_stores.postgres_identifiers,
                cache_node_ids=data_stores.cache_node_ids,
                protect=settings.is_prod,
            ),
            # Namespaces, the ClusterSecretStore and the default StorageClass come first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[security, data_stores]),
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
            }
        )

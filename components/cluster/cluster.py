"""Cluster: the EKS control plane, hardened past pulumi-eks's defaults.

pulumi-eks defaults to a public endpoint, no control-plane logs, ``CONFIG_MAP`` auth and
EXTENDED support; every one of those is overridden here. Workload add-ons that need nodes
(CoreDNS, EBS CSI) live in :mod:`components.addons.cluster_addons`, created after the node groups.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from components.context import AccountContext
from components.iam import role_arn

SRE_GROUP = "agent-factory:sre"
DEVELOPER_GROUP = "agent-factory:developers"
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")


@dataclass(frozen=True)
class ClusterArgs:
    account: AccountContext
    cluster_name: str
    version: str
    vpc_id: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[list[str]]
    public_subnet_ids: pulumi.Input[list[str]]
    public_access_cidrs: tuple[str, ...]
    admin_roles: tuple[str, ...]
    developer_roles: tuple[str, ...]
    secrets_key_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    deletion_protection: bool


def _access_policy(partition: pulumi.Input[str], policy: str) -> pulumi.Output[str]:
    return pulumi.Output.concat("arn:", partition, ":eks::aws:cluster-access-policy/", policy)


class Cluster(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    cluster_arn: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_provider_url: pulumi.Output[str]
    cluster_security_group_id: pulumi.Output[str]
    k8s_provider: k8s.Provider

    def __init__(
        self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:Cluster", name, None, opts)
        account = args.account

        # EKS would create this group itself with no retention and no KMS key; owning it
        # first keeps audit logs encrypted and bounded.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs",
            name=f"/aws/eks/{args.cluster_name}/cluster",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.logs_key_arn,
            opts=pulumi.ResourceOptions(parent=self),
        )

        def entry(role: str, policy: str, group: str) -> eks.AccessEntryArgs:
            return eks.AccessEntryArgs(
                principal_arn=pulumi.Output.all(account.partition, account.account_id).apply(
                    lambda v: role_arn(role, v[0], v[1])
                ),
                # Security binds its ClusterRoles to these groups.
                kubernetes_groups=[group],
                access_policies={
                    policy: eks.AccessPolicyAssociationArgs(
                        policy_arn=_access_policy(account.partition, policy),
                        access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                    )
                },
            )

        access_entries: dict[str, eks.AccessEntryArgs] = {}
        for index, role in enumerate(args.admin_roles):
            access_entries[f"sre-admin-{index}"] = entry(
                role, "AmazonEKSClusterAdminPolicy", SRE_GROUP
            )
        for index, role in enumerate(args.developer_roles):
            access_entries[f"developer-{index}"] = entry(
                role, "AmazonEKSViewPolicy", DEVELOPER_GROUP
            )

        public = bool(args.public_access_cidrs)
        cluster = eks.Cluster(
            f"{name}-eks",
            name=args.cluster_name,
            version=args.version,
            vpc_id=args.vpc_id,
            private_subnet_ids=args.private_subnet_ids,
            public_subnet_ids=args.public_subnet_ids,
            endpoint_private_access=True,
            endpoint_public_access=public,
            public_access_cidrs=list(args.public_access_cidrs) if public else None,
            authentication_mode=eks.AuthenticationMode.API,
            access_entries=access_entries,
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            encryption_config_key_arn=args.secrets_key_arn,
            create_oidc_provider=True,
            skip_default_node_group=True,
            skip_default_security_groups=True,
            # Managed add-ons only: no unmanaged copies to drift or to fight over.
            bootstrap_self_managed_addons=False,
            vpc_cni_options=eks.VpcCniOptionsArgs(enable_network_policy=True),
            kube_proxy_addon_options=eks.KubeProxyAddonOptionsArgs(enabled=True),
            # CoreDNS needs nodes to become healthy; ClusterAddons installs it after them.
            coredns_addon_options=eks.CoreDnsAddonOptionsArgs(enabled=False),
            # The encrypted gp3 default class comes from ClusterAddons (CSI provisioner).
            storage_classes={},
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
            deletion_protection=args.deletion_protection,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[log_group], protect=args.deletion_protection
            ),
        )

        self.cluster_name = pulumi.Output.from_input(args.cluster_name)
        self.cluster_arn = cluster.eks_cluster.arn
        self.endpoint = cluster.eks_cluster.endpoint
        self.kubeconfig = pulumi.Output.secret(cluster.kubeconfig_json)
        self.oidc_provider_arn = cluster.oidc_provider_arn
        self.oidc_provider_url = cluster.oidc_provider_url.apply(
            lambda url: url.removeprefix("https://")
        )
        # The EKS-created cluster security group is the one managed nodes run in.
        self.cluster_security_group_id = cluster.eks_cluster.vpc_config.cluster_security_group_id
        self.k8s_provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=cluster.kubeconfig_json,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs(
            {
                "clusterName": self.cluster_name,
                "endpoint": self.endpoint,
                "oidcProviderArn": self.oidc_provider_arn,
                "clusterSecurityGroupId": self.cluster_security_group_id,
            }
        )

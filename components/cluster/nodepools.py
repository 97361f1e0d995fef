"""NodePools: the seed's managed node groups and the cluster autoscaler that sizes them.

A pool with a spot percentage becomes two node groups, on-demand and spot, whose min /
max / desired split the pool's totals in that proportion (see :func:`split_capacity`).
The autoscaler's priority expander tries the spot groups first and falls back to
on-demand when spot capacity is short.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.addons import cluster_autoscaler
from components.addons.charts import pinned
from components.addons.registry import HelmAddon, HelmAddonArgs, IrsaSpec
from components.context import ClusterContext
from components.iam import IrsaRole, service_trust_policy
from components.prerequisites import Prerequisite, prerequisites_output
from components.settings import AutoscalerSettings, NodePoolSettings

NODE_MANAGED_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEC2ContainerRegistryPullOnly",
    # vpc-cni is created inside pulumi-eks before the OIDC provider exists, so it cannot
    # use IRSA at creation; it uses the node role as EKS's default setup does.
    "AmazonEKS_CNI_Policy",
    # Shell access through SSM Session Manager instead of SSH keys.
    "AmazonSSMManagedInstanceCore",
)
CapacityType = Literal["ON_DEMAND", "SPOT"]


def split_capacity(total: int, spot_percentage: int) -> tuple[int, int]:
    """Split ``total`` nodes into (on-demand, spot).

    Spot gets ``spot_percentage`` of the total rounded half up; on-demand gets the rest,
    so the two always add up to the configured total. Rounding is monotonic, so splitting
    min <= desired <= max keeps each group's own min <= desired <= max.
    """
    spot = (total * spot_percentage + 50) // 100
    return total - spot, spot


@dataclass(frozen=True)
class CapacityGroup:
    suffix: str
    capacity_type: CapacityType
    instance_types: tuple[str, ...]
    min_size: int
    max_size: int
    desired_size: int


def capacity_groups(pool: NodePoolSettings) -> list[CapacityGroup]:
    """The node groups one pool becomes; a group whose share is zero is left out."""
    pct = pool.spot_percentage
    od_min, spot_min = split_capacity(pool.min_size, pct)
    od_max, spot_max = split_capacity(pool.max_size, pct)
    od_desired, spot_desired = split_capacity(pool.desired, pct)
    groups = [
        CapacityGroup(
            "on-demand", "ON_DEMAND", tuple(pool.instance_types), od_min, od_max, od_desired
        ),
        CapacityGroup(
            "spot", "SPOT", tuple(pool.spot_instance_types), spot_min, spot_max, spot_desired
        ),
    ]
    return [group for group in groups if group.max_size > 0]


def _autoscaling_group_name(resources: Sequence[aws.eks.outputs.NodeGroupResource]) -> str:
    groups = resources[0].autoscaling_groups if resources else None
    if not groups or groups[0].name is None:
        raise ValueError("EKS reported no Auto Scaling group for the node group")
    return groups[0].name


@dataclass(frozen=True)
class PoolGroup:
    """One node group of a pool and the Auto Scaling group EKS created for it."""

    pool: str
    group: CapacityGroup
    asg_name: pulumi.Output[str]


@dataclass(frozen=True)
class NodePoolsArgs:
    cluster: ClusterContext
    environment: str
    kubernetes_version: str
    subnet_ids: pulumi.Input[list[str]]
    pools: dict[str, NodePoolSettings]
    ebs_key_arn: pulumi.Input[str]
    autoscaler: AutoscalerSettings
    instance_tags: dict[str, str]
    # The stack's chart overrides (``agent-factory:charts``).
    charts: Mapping[str, str]
    # The services' workloads (charts/agent-factory) by the pool they run on: an arm64
    # pool needs their images built for linux/arm64 too.
    workloads: Mapping[str, Sequence[str]] = field(default_factory=dict)


def arm64_prerequisites(
    pools: Mapping[str, NodePoolSettings], workloads: Mapping[str, Sequence[str]]
) -> list[Prerequisite]:
    """What an arm64 (Graviton) pool assumes of the images its pods run."""
    items = []
    for pool_name, pool in pools.items():
        if pool.architecture != "arm64":
            continue
        running = ", ".join(workloads.get(pool_name, ())) or "no services workload"
        items.append(
            Prerequisite(
                what=f"pool {pool_name} runs {pool.ami_type} (arm64): every image scheduled "
                f"on it ({running}) is a multi-arch index with a linux/arm64 variant",
                how="docker buildx build --platform linux/amd64,linux/arm64 --push ...; "
                "check: docker buildx imagetools inspect <image>@<digest> lists linux/arm64",
            )
        )
    return items


class NodePools(pulumi.ComponentResource):
    node_role_arn: pulumi.Output[str]
    node_group_names: pulumi.Output[list[str]]
    autoscaler_role_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: NodePoolsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:NodePools", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        partition = args.cluster.account.partition

        node_role = aws.iam.Role(
            f"{name}-node-role",
            assume_role_policy=service_trust_policy("ec2.amazonaws.com"),
            opts=child,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{policy}",
                role=node_role.name,
                policy_arn=pulumi.Output.concat("arn:", partition, ":iam::aws:policy/", policy),
                opts=child,
            )
            for policy in NODE_MANAGED_POLICIES
        ]

        node_groups: list[aws.eks.NodeGroup] = []
        self.autoscaling_groups: list[PoolGroup] = []
        for pool_name, pool in args.pools.items():
            template = self._launch_template(name, pool_name, pool, args)
            labels = {"workload-type": pool_name, "environment": args.environment, **pool.labels}
            for group in capacity_groups(pool):
                node_group = aws.eks.NodeGroup(
                    f"{name}-{pool_name}-{group.suffix}",
                    cluster_name=args.cluster.name,
                    node_role_arn=node_role.arn,
                    subnet_ids=args.subnet_ids,
                    version=args.kubernetes_version,
                    ami_type=pool.ami_type,
                    capacity_type=group.capacity_type,
                    instance_types=list(group.instance_types),
                    scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                        min_size=group.min_size,
                        max_size=group.max_size,
                        desired_size=group.desired_size,
                    ),
                    update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable_percentage=33),
                    node_repair_config=aws.eks.NodeGroupNodeRepairConfigArgs(enabled=True),
                    labels={**labels, "capacity": group.suffix},
                    taints=[
                        aws.eks.NodeGroupTaintArgs(key=t.key, value=t.value, effect=t.effect)
                        for t in pool.taints
                    ],
                    launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                        id=template.id, version=template.latest_version.apply(str)
                    ),
                    tags={"workload-type": pool_name, "capacity": group.suffix},
                    opts=pulumi.ResourceOptions(
                        parent=self,
                        depends_on=attachments,
                        # The autoscaler owns desired size once the group exists.
                        ignore_changes=["scalingConfig.desiredSize"],
                    ),
                )
                asg_name = node_group.resources.apply(_autoscaling_group_name)
                self.autoscaling_groups.append(PoolGroup(pool_name, group, asg_name))
                self._tag_autoscaling_group(
                    f"{name}-{pool_name}-{group.suffix}",
                    asg_name,
                    {**labels, "capacity": group.suffix},
                    pool,
                    args.instance_tags,
                )
                node_groups.append(node_group)

        autoscaler = self._autoscaler(name, args, node_groups)

        self.node_role_arn = node_role.arn
        self.node_group_names = pulumi.Output.all(*[g.node_group_name for g in node_groups])
        self.autoscaler_role_arn = autoscaler.arn
        self.register_outputs(
            {
                "nodeRoleArn": self.node_role_arn,
                "nodeGroupNames": self.node_group_names,
                "autoscalerRoleArn": self.autoscaler_role_arn,
                **prerequisites_output(arm64_prerequisites(args.pools, args.workloads)),
            }
        )

    def _launch_template(
        self, name: str, pool_name: str, pool: NodePoolSettings, args: NodePoolsArgs
    ) -> aws.ec2.LaunchTemplate:
        tags = {**args.instance_tags, "Name": f"{args.instance_tags['Stack']}-{pool_name}"}
        return aws.ec2.LaunchTemplate(
            f"{name}-{pool_name}-lt",
            description=f"{pool_name} nodes: IMDSv2 only, encrypted gp3 root volume",
            update_default_version=True,
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                # 2 hops: containers behind the node's network namespace still reach IMDS.
                http_put_response_hop_limit=2,
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=pool.disk_size_gib,
                        volume_type="gp3",
                        encrypted="true",
                        kms_key_id=args.ebs_key_arn,
                        delete_on_termination="true",
                    ),
                )
            ],
            # Instances, volumes and ENIs are created by EKS/ASG, outside the provider's
            # default tags: tag them here or cost reports lose them.
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=tags)
                for kind in ("instance", "volume", "network-interface")
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _tag_autoscaling_group(
        self,
        name: str,
        asg_name: pulumi.Output[str],
        labels: dict[str, str],
        pool: NodePoolSettings,
        instance_tags: dict[str, str],
    ) -> None:
        """Tags EKS does not put on the group's ASG.

        node-template tags let the autoscaler scale a group up from zero nodes (it cannot
        read labels and taints from a node that does not exist yet).
        """
        tags = dict(instance_tags)
        for key, value in labels.items():
            tags[f"k8s.io/cluster-autoscaler/node-template/label/{key}"] = value
        for taint in pool.taints:
            tags[f"k8s.io/cluster-autoscaler/node-template/taint/{taint.key}"] = (
                f"{taint.value}:{taint.kubernetes_effect}"
            )
        for index, (key, value) in enumerate(sorted(tags.items())):
            aws.autoscaling.Tag(
                f"{name}-asg-tag-{index}",
                autoscaling_group_name=asg_name,
                tag=aws.autoscaling.TagTagArgs(key=key, value=value, propagate_at_launch=False),
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _autoscaler(
        self, name: str, args: NodePoolsArgs, node_groups: list[aws.eks.NodeGroup]
    ) -> IrsaRole:
        settings = args.autoscaler
        cluster = args.cluster
        replicas = 1 if args.environment == "dev" else 2
        addon = HelmAddon(
            f"{name}-cluster-autoscaler",
            HelmAddonArgs(
                chart=pinned(cluster_autoscaler.NAME, args.charts),
                release_name=cluster_autoscaler.NAME,
                namespace=cluster_autoscaler.NAMESPACE,
                values=cluster_autoscaler.values(
                    region=cluster.account.region,
                    cluster_name=cluster.name,
                    image_tag=settings.image_tag,
                    replicas=replicas,
                    scale_down_utilization_threshold=settings.scale_down_utilization_threshold,
                ),
                footprint=cluster_autoscaler.footprint(replicas),
                cluster=cluster,
                irsa=IrsaSpec(
                    cluster_autoscaler.SERVICE_ACCOUNT,
                    pulumi.Output.from_input(cluster.name).apply(cluster_autoscaler.policy),
                    values_path=cluster_autoscaler.SERVICE_ACCOUNT_VALUES,
                    # The deployed role's name and shape (no description).
                    name=f"{name}-autoscaler",
                    described=False,
                ),
                depends_on=node_groups,
                moved_from=self,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return addon.role

"""cluster-autoscaler: sizes the node groups, spot first (priority expander), on-demand when
spot capacity is short. Its IAM policy writes only to this cluster's Auto Scaling groups."""

from __future__ import annotations

from typing import Any

import pulumi

from components.addons.scheduling import SYSTEM_PLACEMENT
from components.footprint import ReleaseFootprint, Resources, Service, Workload

NAME = "cluster-autoscaler"
NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "cluster-autoscaler"
# Where the chart takes its service account (rbac.serviceAccount, not serviceAccount).
SERVICE_ACCOUNT_VALUES = ("rbac", "serviceAccount")
RESOURCES = Resources("100m", "300Mi", "500m", "600Mi")


def policy(cluster_name: str) -> list[dict[str, Any]]:
    """Least privilege from the autoscaler's AWS docs: writes only on this cluster's groups."""
    return [
        {
            "Sid": "Discover",
            "Effect": "Allow",
            "Action": [
                "autoscaling:DescribeAutoScalingGroups",
                "autoscaling:DescribeAutoScalingInstances",
                "autoscaling:DescribeLaunchConfigurations",
                "autoscaling:DescribeScalingActivities",
                "autoscaling:DescribeTags",
                "ec2:DescribeImages",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplateVersions",
                "ec2:GetInstanceTypesFromInstanceRequirements",
                "eks:DescribeNodegroup",
            ],
            "Resource": "*",
        },
        {
            "Sid": "ScaleOwnGroups",
            "Effect": "Allow",
            "Action": [
                "autoscaling:SetDesiredCapacity",
                "autoscaling:TerminateInstanceInAutoScalingGroup",
            ],
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"
                }
            },
        },
    ]


def values(
    *,
    region: str,
    cluster_name: pulumi.Input[str],
    image_tag: str,
    replicas: int,
    scale_down_utilization_threshold: float,
) -> dict[str, Any]:
    return {
        "cloudProvider": "aws",
        "awsRegion": region,
        "autoDiscovery": {"clusterName": cluster_name},
        "image": {"tag": image_tag},
        "replicaCount": replicas,
        # The role's annotation joins these (HelmAddon, SERVICE_ACCOUNT_VALUES).
        "rbac": {"serviceAccount": {"create": True, "name": SERVICE_ACCOUNT}},
        "extraArgs": {
            "expander": "priority",
            "balance-similar-node-groups": True,
            "skip-nodes-with-system-pods": False,
            "scale-down-utilization-threshold": scale_down_utilization_threshold,
        },
        # Higher wins: spot groups first, on-demand when spot cannot be had.
        "expanderPriorities": {"50": [".*-spot-.*"], "10": [".*-on-demand-.*"]},
        "priorityClassName": "system-cluster-critical",
        **SYSTEM_PLACEMENT,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65534,
            "runAsGroup": 65534,
            "fsGroup": 65534,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containerSecurityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": RESOURCES.values(),
        "podDisruptionBudget": {"maxUnavailable": 1},
    }


def footprint(replicas: int) -> ReleaseFootprint:
    return ReleaseFootprint(
        release=NAME,
        namespace=NAMESPACE,
        workloads=(Workload.deployment("controller", RESOURCES, replicas=replicas),),
        # The chart's metrics Service (service.create defaults to true).
        services=(Service("cluster-autoscaler-aws-cluster-autoscaler", "ClusterIP"),),
    )

"""Keys: the platform's customer-managed KMS keys, one per purpose (the Security area).

Every key has rotation on, an explicit key policy naming the AWS services that use it, and
an alias ``alias/<cluster>/<purpose>``. Keys are created before the network because flow
logs, the cluster and the data stores all need them; the Security component owns the
Kubernetes and account-level guards that need a running cluster.

The component was called ``PlatformKeys`` by the foundation; the type alias below keeps the
existing keys in place (same URNs after the alias is resolved) instead of replacing them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.context import AccountContext
from components.prerequisites import Prerequisite, prerequisites_output

PREVIOUS_TYPE = "agentfactory:platform:PlatformKeys"
PURPOSES = ("logs", "eks-secrets", "ebs", "data", "s3", "secrets")


@dataclass(frozen=True)
class KeysArgs:
    account: AccountContext
    cluster_name: str
    # CloudTrail writes with the s3 key only for a trail of this name (SourceArn condition).
    trail_name: str
    protect: bool
    deletion_window_days: int = 30


@dataclass(frozen=True)
class _Context:
    partition: str
    account_id: str
    region: str
    trail_name: str
    dns_suffix: str = "amazonaws.com"

    @property
    def root(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:root"

    def via(self, *services: str) -> list[str]:
        return [f"{service}.{self.region}.{self.dns_suffix}" for service in services]


# The EBS key policy names this account-wide role; KMS rejects a policy whose principal does
# not exist, and one role serves every stack of the account, so no stack creates it (one
# that did would fail where it exists and delete it for the others on destroy).
AUTOSCALING_SERVICE_LINKED_ROLE = Prerequisite(
    what=(
        "IAM service-linked role AWSServiceRoleForAutoScaling exists in the account (the EBS "
        "key policy names it; managed node groups launch encrypted volumes through it)"
    ),
    how=(
        "once per account: aws iam create-service-linked-role --aws-service-name "
        "autoscaling.amazonaws.com (an error that the name has been taken means it exists; "
        "AWS also creates it with the account's first Auto Scaling group)"
    ),
)

_USE = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]


def _document(ctx: _Context, *statements: dict[str, Any]) -> str:
    # Without the root statement the key becomes unmanageable (AWS's own default).
    root = {
        "Sid": "AccountAdministration",
        "Effect": "Allow",
        "Principal": {"AWS": ctx.root},
        "Action": "kms:*",
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [root, *statements]})


def _via_services(ctx: _Context, sid: str, services: list[str]) -> dict[str, Any]:
    """Principals of this account may use the key, but only through the named services."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": [*_USE, "kms:CreateGrant"],
        "Resource": "*",
        "Condition": {
            "StringEquals": {"kms:CallerAccount": ctx.account_id, "kms:ViaService": services}
        },
    }


# Services that publish to the KMS-encrypted SNS alarm topic: SNS encrypts what they send
# with the topic's key on their behalf, so each must be allowed to use it.
TOPIC_PUBLISHERS = {
    "CloudWatchAlarmsToSns": "cloudwatch.amazonaws.com",
    "EventBridgeRulesToSns": "events.amazonaws.com",
    "S3NotificationsToSns": "s3.amazonaws.com",
    "BudgetsToSns": "budgets.amazonaws.com",
    "CostAnomalyDetectionToSns": "costalerts.amazonaws.com",
}


def logs_key_policy(ctx: _Context) -> str:
    """CloudWatch Logs encrypts flow logs, EKS and data-store logs with this key; CloudWatch
    alarms, EventBridge rules, S3 event notifications, AWS Budgets and Cost Anomaly Detection
    publish to the KMS-encrypted SNS alarm topic with it."""
    publishers = [
        {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
        }
        for sid, service in TOPIC_PUBLISHERS.items()
    ]
    return _document(
        ctx,
        *publishers,
        _via_services(ctx, "SnsViaService", ctx.via("sns")),
        {
            "Sid": "CloudWatchLogs",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{ctx.region}.{ctx.dns_suffix}"},
            "Action": _USE,
            "Resource": "*",
            "Condition": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:{ctx.partition}:logs:{ctx.region}:{ctx.account_id}:log-group:*"
                    )
                }
            },
        },
    )


def eks_secrets_key_policy(ctx: _Context) -> str:
    """EKS envelope encryption: the cluster role gets access through IAM (root statement)."""
    return _document(ctx, _via_services(ctx, "EksViaService", ctx.via("eks")))


def ebs_key_policy(ctx: _Context) -> str:
    """Node root volumes and PersistentVolumes.

    Managed node groups launch instances through the Auto Scaling service-linked role; it
    must be allowed to use the key or instances fail to start with encrypted volumes.
    """
    asg_role = (
        f"arn:{ctx.partition}:iam::{ctx.account_id}:role/aws-service-role/"
        "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    )
    return _document(
        ctx,
        {
            "Sid": "AutoScalingUse",
            "Effect": "Allow",
            "Principal": {"AWS": asg_role},
            "Action": _USE,
            "Resource": "*",
        },
        {
            "Sid": "AutoScalingGrants",
            "Effect": "Allow",
            "Principal": {"AWS": asg_role},
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
        _via_services(ctx, "Ec2ViaService", ctx.via("ec2")),
    )


def data_key_policy(ctx: _Context) -> str:
    """RDS (storage, Performance Insights), ElastiCache, MSK and OpenSearch at rest."""
    return _document(
        ctx,
        _via_services(
            ctx, "DataStoresViaService", ctx.via("rds", "elasticache", "kafka", "es", "dax")
        ),
    )


def s3_key_policy(ctx: _Context) -> str:
    """Bucket encryption (SSE-KMS), CloudTrail log files and replication re-encryption."""
    trail_arn = (
        f"arn:{ctx.partition}:cloudtrail:{ctx.region}:{ctx.account_id}:trail/{ctx.trail_name}"
    )
    return _document(
        ctx,
        _via_services(ctx, "S3ViaService", ctx.via("s3")),
        {
            "Sid": "CloudTrailEncrypt",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceArn": trail_arn},
                "StringLike": {
                    "kms:EncryptionContext:aws:cloudtrail:arn": (
                        f"arn:{ctx.partition}:cloudtrail:*:{ctx.account_id}:trail/*"
                    )
                },
            },
        },
        {
            "Sid": "CloudTrailDescribe",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:DescribeKey",
            "Resource": "*",
        },
    )


def secrets_key_policy(ctx: _Context) -> str:
    """Secrets Manager entries, including the RDS-managed master password."""
    return _document(ctx, _via_services(ctx, "SecretsManagerViaService", ctx.via("secretsmanager")))


_POLICIES: dict[str, tuple[str, Callable[[_Context], str]]] = {
    "logs": ("CloudWatch Logs: flow logs, EKS control plane, data stores", logs_key_policy),
    "eks-secrets": ("EKS envelope encryption of Kubernetes secrets", eks_secrets_key_policy),
    "ebs": ("EBS: node root volumes and persistent volumes", ebs_key_policy),
    "data": ("RDS, ElastiCache, MSK and OpenSearch at rest", data_key_policy),
    "s3": ("S3 buckets and CloudTrail log files", s3_key_policy),
    "secrets": ("Secrets Manager entries", secrets_key_policy),
}


class Keys(pulumi.ComponentResource):
    """One KMS key per purpose; ``arns[purpose]`` is what other components consume."""

    arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: KeysArgs, opts: pulumi.ResourceOptions | None = None):
        moved = pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=PREVIOUS_TYPE)])
        super().__init__(
            "agentfactory:platform:Keys", name, None, pulumi.ResourceOptions.merge(opts, moved)
        )
        account = args.account
        context = pulumi.Output.all(
            account.partition, account.account_id, account.dns_suffix
        ).apply(lambda v: _Context(v[0], v[1], account.region, args.trail_name, v[2]))
        # Keys outlive a stack deletion in prod: data encrypted with them may still exist.
        stateful = pulumi.ResourceOptions(
            parent=self, protect=args.protect, retain_on_delete=args.protect
        )
        self.arns = {}
        for purpose in PURPOSES:
            description, policy = _POLICIES[purpose]
            key = aws.kms.Key(
                f"{name}-{purpose}",
                description=f"{args.cluster_name}: {description}",
                enable_key_rotation=True,
                deletion_window_in_days=args.deletion_window_days,
                policy=context.apply(policy),
                opts=stateful,
            )
            aws.kms.Alias(
                f"{name}-{purpose}-alias",
                name=f"alias/{args.cluster_name}/{purpose}",
                target_key_id=key.key_id,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.arns[purpose] = key.arn

        self.register_outputs(
            {
                **{f"{purpose}KeyArn": arn for purpose, arn in self.arns.items()},
                **prerequisites_output([AUTOSCALING_SERVICE_LINKED_ROLE]),
            }
        )

    @property
    def logs_key_arn(self) -> pulumi.Output[str]:
        return self.arns["logs"]

    @property
    def eks_secrets_key_arn(self) -> pulumi.Output[str]:
        return self.arns["eks-secrets"]

    @property
    def ebs_key_arn(self) -> pulumi.Output[str]:
        return self.arns["ebs"]

    @property
    def data_key_arn(self) -> pulumi.Output[str]:
        return self.arns["data"]

    @property
    def s3_key_arn(self) -> pulumi.Output[str]:
        return self.arns["s3"]

    @property
    def secrets_key_arn(self) -> pulumi.Output[str]:
        return self.arns["secrets"]

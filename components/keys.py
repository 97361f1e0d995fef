"""PlatformKeys: the customer-managed KMS keys the foundation needs, one per purpose.

Each key has rotation on and an explicit key policy naming the AWS services that use it.
The Security component (a later issue) takes ownership of these keys; it must re-parent
them with ``aliases`` so nothing is replaced.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class AccountContext:
    """Where the stack deploys: resolved once by Region, handed to every component."""

    account_id: pulumi.Input[str]
    partition: pulumi.Input[str]
    region: str


@dataclass(frozen=True)
class PlatformKeysArgs:
    account: AccountContext
    cluster_name: str
    deletion_window_days: int = 30


def _root_statement(partition: str, account_id: str) -> dict[str, object]:
    # Without this the key becomes unmanageable (AWS's own default statement).
    return {
        "Sid": "AccountAdministration",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }


def logs_key_policy(partition: str, account_id: str, region: str) -> str:
    """CloudWatch Logs encrypts flow logs and EKS control-plane logs with this key."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                _root_statement(partition, account_id),
                {
                    "Sid": "CloudWatchLogs",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                    "Action": [
                        "kms:Encrypt*",
                        "kms:Decrypt*",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:Describe*",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": (
                                f"arn:{partition}:logs:{region}:{account_id}:log-group:*"
                            )
                        }
                    },
                },
            ],
        }
    )


def ebs_key_policy(partition: str, account_id: str) -> str:
    """Node root volumes and PersistentVolumes.

    Managed node groups launch instances through the Auto Scaling service-linked role; it
    must be allowed to use the key or instances fail to start with encrypted volumes.
    """
    asg_role = (
        f"arn:{partition}:iam::{account_id}:role/aws-service-role/"
        "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    )
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                _root_statement(partition, account_id),
                {
                    "Sid": "AutoScalingUse",
                    "Effect": "Allow",
                    "Principal": {"AWS": asg_role},
                    "Action": [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:DescribeKey",
                    ],
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
            ],
        }
    )


def secrets_key_policy(partition: str, account_id: str) -> str:
    """EKS envelope encryption: the cluster role gets access through IAM (root statement)."""
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [_root_statement(partition, account_id)]}
    )


class PlatformKeys(pulumi.ComponentResource):
    """KMS keys for logs, EKS secrets and EBS volumes."""

    logs_key_arn: pulumi.Output[str]
    eks_secrets_key_arn: pulumi.Output[str]
    ebs_key_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: PlatformKeysArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:PlatformKeys", name, None, opts)
        account = args.account
        region = account.region

        policies: dict[str, pulumi.Output[str]] = {
            "logs": pulumi.Output.all(account.partition, account.account_id).apply(
                lambda v: logs_key_policy(v[0], v[1], region)
            ),
            "eks-secrets": pulumi.Output.all(account.partition, account.account_id).apply(
                lambda v: secrets_key_policy(v[0], v[1])
            ),
            "ebs": pulumi.Output.all(account.partition, account.account_id).apply(
                lambda v: ebs_key_policy(v[0], v[1])
            ),
        }
        descriptions = {
            "logs": "CloudWatch Logs: VPC flow logs and EKS control-plane logs",
            "eks-secrets": "EKS envelope encryption of Kubernetes secrets",
            "ebs": "EBS: node root volumes and persistent volumes",
        }
        arns: dict[str, pulumi.Output[str]] = {}
        for purpose, policy in policies.items():
            key = aws.kms.Key(
                f"{name}-{purpose}",
                description=f"{args.cluster_name}: {descriptions[purpose]}",
                enable_key_rotation=True,
                deletion_window_in_days=args.deletion_window_days,
                policy=policy,
                opts=pulumi.ResourceOptions(parent=self),
            )
            aws.kms.Alias(
                f"{name}-{purpose}-alias",
                name=f"alias/{args.cluster_name}/{purpose}",
                target_key_id=key.key_id,
                opts=pulumi.ResourceOptions(parent=self),
            )
            arns[purpose] = key.arn

        self.logs_key_arn = arns["logs"]
        self.eks_secrets_key_arn = arns["eks-secrets"]
        self.ebs_key_arn = arns["ebs"]
        self.register_outputs(
            {
                "logsKeyArn": self.logs_key_arn,
                "eksSecretsKeyArn": self.eks_secrets_key_arn,
                "ebsKeyArn": self.ebs_key_arn,
            }
        )

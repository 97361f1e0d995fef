"""ImageRegistry: the services' ECR repositories in this stack's region (docs/supply-chain.md).

One repository per workload, ``agent-factory/<workload>`` (the chart's image paths,
components/services/services.py), each with immutable tags, KMS encryption under a key of
its own, and a lifecycle policy. Registry-wide settings are one per account and region, so
every stack owns those of its own region: the scanning configuration (enhanced: Amazon
Inspector rescans the images continuously as new CVEs are published; basic: ECR scans once
on push) and, in the primary only, the replication configuration that copies every push to
the secondaries' registries (ECR replication is configured on the source registry).

The secondaries create their own repositories, so a replicated image lands in a repository
with this stack's settings (immutable, KMS, lifecycle) instead of one ECR creates with
defaults; the primary replicates only to the secondaries that have been deployed (their
replication target output exists), so no push arrives before the repository does.

Nodes pull with the managed AmazonEC2ContainerRegistryPullOnly policy (any repository of the
account); ECR decrypts layers with the grant it holds on the key. The node role additionally
gets kms:Decrypt on the key through ECR only, so pulls keep working if the key policy's ECR
statement is ever narrowed to named principals.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.context import AccountContext
from components.iam import policy_document

REPOSITORY_PREFIX = "agent-factory"
_KEY_USE = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"]


@dataclass(frozen=True)
class ImageRegistryArgs:
    account: AccountContext
    cluster_name: str
    workloads: Sequence[str]
    scanning: str
    images_kept: int
    untagged_expire_days: int
    # The node role's name: its pulls decrypt with the repositories' key.
    node_role: pulumi.Input[str]
    # The primary's secondaries (their regions), read from their stacks; None elsewhere.
    replicate_to: pulumi.Input[list[str]] | None
    protect: bool


def repository_name(workload: str) -> str:
    return f"{REPOSITORY_PREFIX}/{workload}"


def key_policy(partition: str, account_id: str, region: str, dns_suffix: str) -> str:
    """Root administers the key; principals of this account use it only through ECR (which
    creates its grants with the creator's rights and decrypts layers on pull)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministration",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "EcrViaService",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        *_KEY_USE,
                        "kms:DescribeKey",
                        "kms:CreateGrant",
                        "kms:RetireGrant",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "kms:CallerAccount": account_id,
                            "kms:ViaService": f"ecr.{region}.{dns_suffix}",
                        }
                    },
                },
            ],
        }
    )


def lifecycle_policy(images_kept: int, untagged_days: int) -> str:
    """Untagged manifests (superseded builds) expire first; then the oldest images beyond
    ``images_kept``. Rules with tagStatus any must have the highest priority number."""
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"untagged manifests expire after {untagged_days} days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": untagged_days,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": f"keep the newest {images_kept} images",
                    "selection": {
                        "tagStatus": "any",
                        "countType": "imageCountMoreThan",
                        "countNumber": images_kept,
                    },
                    "action": {"type": "expire"},
                },
            ]
        }
    )


def pull_statements(key_arn: str, region: str, dns_suffix: str) -> list[dict[str, Any]]:
    return [
        {
            "Sid": "DecryptImageLayersViaEcr",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"ecr.{region}.{dns_suffix}"}},
        }
    ]


class ImageRegistry(pulumi.ComponentResource):
    """``repository_arns[workload]`` and ``url`` (``<account>.dkr.ecr.<region>.<suffix>``)."""

    repository_arns: dict[str, pulumi.Output[str]]
    key_arn: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(
        self, name: str, args: ImageRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:ImageRegistry", name, None, opts)
        account = args.account
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(
            parent=self, protect=args.protect, retain_on_delete=args.protect
        )
        key = aws.kms.Key(
            f"{name}-key",
            description=f"{args.cluster_name}: ECR repositories of the services' images",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(
                account.partition, account.account_id, account.dns_suffix
            ).apply(lambda v: key_policy(v[0], v[1], account.region, v[2])),
            opts=stateful,
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=f"alias/{args.cluster_name}/ecr",
            target_key_id=key.key_id,
            opts=child,
        )
        lifecycle = lifecycle_policy(args.images_kept, args.untagged_expire_days)
        self.repository_arns = {}
        repositories: list[aws.ecr.Repository] = []
        for workload in args.workloads:
            repository = aws.ecr.Repository(
                f"{name}-{workload}",
                name=repository_name(workload),
                image_tag_mutability="IMMUTABLE",
                # Basic scanning's switch; the registry's enhanced configuration overrides it.
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                    scan_on_push=True
                ),
                encryption_configurations=[
                    aws.ecr.RepositoryEncryptionConfigurationArgs(
                        encryption_type="KMS", kms_key=key.arn
                    )
                ],
                # Images that run in production are not deleted with the stack.
                force_delete=not args.protect,
                opts=stateful,
            )
            aws.ecr.LifecyclePolicy(
                f"{name}-{workload}-lifecycle",
                repository=repository.name,
                policy=lifecycle,
                opts=child,
            )
            self.repository_arns[workload] = repository.arn
            repositories.append(repository)

        enhanced = args.scanning == "enhanced"
        aws.ecr.RegistryScanningConfiguration(
            f"{name}-scanning",
            scan_type="ENHANCED" if enhanced else "BASIC",
            rules=[
                aws.ecr.RegistryScanningConfigurationRuleArgs(
                    scan_frequency="CONTINUOUS_SCAN" if enhanced else "SCAN_ON_PUSH",
                    repository_filters=[
                        aws.ecr.RegistryScanningConfigurationRuleRepositoryFilterArgs(
                            filter=f"{REPOSITORY_PREFIX}/*", filter_type="WILDCARD"
                        )
                    ],
                )
            ],
            opts=child,
        )
        if args.replicate_to is not None:
            destinations = pulumi.Output.all(
                account.account_id, pulumi.Output.from_input(args.replicate_to)
            ).apply(
                lambda v: [
                    aws.ecr.ReplicationConfigurationReplicationConfigurationRuleDestinationArgs(
                        region=region, registry_id=v[0]
                    )
                    for region in v[1]
                ]
            )
            aws.ecr.ReplicationConfiguration(
                f"{name}-replication",
                replication_configuration=aws.ecr.ReplicationConfigurationReplicationConfigurationArgs(
                    rules=[
                        aws.ecr.ReplicationConfigurationReplicationConfigurationRuleArgs(
                            destinations=destinations,
                            repository_filters=[
                                aws.ecr.ReplicationConfigurationReplicationConfigurationRuleRepositoryFilterArgs(
                                    filter=f"{REPOSITORY_PREFIX}/", filter_type="PREFIX_MATCH"
                                )
                            ],
                        )
                    ]
                ),
                # The primary's own repositories first: a push never precedes them.
                opts=pulumi.ResourceOptions(parent=self, depends_on=repositories),
            )
        aws.iam.RolePolicy(
            f"{name}-node-pull",
            role=args.node_role,
            policy=pulumi.Output.all(key.arn, account.dns_suffix).apply(
                lambda v: policy_document(pull_statements(v[0], account.region, v[1]))
            ),
            opts=child,
        )
        self.key_arn = key.arn
        self.url = pulumi.Output.concat(
            account.account_id, ".dkr.ecr.", account.region, ".", account.dns_suffix
        )
        self.register_outputs(
            {
                "url": self.url,
                "keyArn": self.key_arn,
                "repositoryArns": self.repository_arns,
            }
        )

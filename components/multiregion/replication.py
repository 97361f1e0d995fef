"""BucketReplication: the primary's audit-log and backup buckets copied to every secondary.

Choices made on purpose:

- Replicas are re-encrypted with the destination region's own S3 key; only objects
  encrypted with SSE-KMS are selected, which is every object (the buckets enforce it).
- Delete markers are NOT replicated. Audit logs are WORM data and backups are the last
  line of defence: a delete in the primary, by mistake or by an attacker, must not reach
  the copies. Lifecycle rules in each region age objects out on their own.
- Replica modifications are synced, so metadata changes made on a copy after a failover
  (when replication runs the other way) are not lost.
- Replication Time Control promises 99.99 % of objects within 15 minutes: that is the
  object-storage RPO. Its metrics alarm when replication falls behind.

The source buckets and their replication configuration stay in the primary; destinations
come from the secondaries' ``replicationTarget`` outputs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.context import AccountContext
from components.data.buckets import SecureBucket
from components.iam import policy_document, service_trust_policy
from components.multiregion.crossstack import ReplicationTarget

# S3 Replication Time Control: the only threshold S3 offers.
RTC_MINUTES = 15


@dataclass(frozen=True)
class BucketReplicationArgs:
    account: AccountContext
    # purpose -> bucket in this (the primary) region
    sources: dict[str, SecureBucket]
    source_key_arn: pulumi.Input[str]
    targets: pulumi.Input[list[ReplicationTarget]]
    # Named in the error when no secondary is ready.
    secondary_stacks: list[str]


def replication_rules(
    purpose: str, targets: list[ReplicationTarget]
) -> list[aws.s3.BucketReplicationConfigRuleArgs]:
    return [
        aws.s3.BucketReplicationConfigRuleArgs(
            id=f"{purpose}-to-{target.region}",
            status="Enabled",
            # Several destinations need distinct priorities; the empty filter selects all.
            priority=index,
            filter=aws.s3.BucketReplicationConfigRuleFilterArgs(prefix=""),
            delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(
                status="Disabled"
            ),
            source_selection_criteria=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
                sse_kms_encrypted_objects=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                    status="Enabled"
                ),
                replica_modifications=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaReplicaModificationsArgs(
                    status="Enabled"
                ),
            ),
            destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
                bucket=target.bucket_arns[purpose],
                storage_class="STANDARD",
                encryption_configuration=aws.s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                    replica_kms_key_id=target.kms_key_arn
                ),
                replication_time=aws.s3.BucketReplicationConfigRuleDestinationReplicationTimeArgs(
                    status="Enabled",
                    time=aws.s3.BucketReplicationConfigRuleDestinationReplicationTimeTimeArgs(
                        minutes=RTC_MINUTES
                    ),
                ),
                metrics=aws.s3.BucketReplicationConfigRuleDestinationMetricsArgs(
                    status="Enabled",
                    event_threshold=aws.s3.BucketReplicationConfigRuleDestinationMetricsEventThresholdArgs(
                        minutes=RTC_MINUTES
                    ),
                ),
            ),
        )
        for index, target in enumerate(targets, start=1)
    ]


def replication_policy(
    *,
    source_arns: list[str],
    source_key_arn: str,
    source_region: str,
    targets: list[ReplicationTarget],
    dns_suffix: str,
) -> str:
    """Read versions from the sources, write replicas to the targets, nothing else."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadSourceConfiguration",
            "Effect": "Allow",
            "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
            "Resource": source_arns,
        },
        {
            "Sid": "ReadSourceVersions",
            "Effect": "Allow",
            "Action": [
                "s3:GetObjectVersionForReplication",
                "s3:GetObjectVersionAcl",
                "s3:GetObjectVersionTagging",
                # Object Lock retention and legal holds travel with the audit logs.
                "s3:GetObjectRetention",
                "s3:GetObjectLegalHold",
            ],
            "Resource": [f"{arn}/*" for arn in source_arns],
        },
        {
            "Sid": "DecryptSource",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": source_key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{source_region}.{dns_suffix}"}},
        },
    ]
    for target in targets:
        sid = "".join(part.capitalize() for part in target.region.split("-"))
        statements += [
            {
                "Sid": f"WriteReplicas{sid}",
                "Effect": "Allow",
                "Action": ["s3:ReplicateObject", "s3:ReplicateTags"],
                "Resource": [f"{arn}/*" for arn in target.bucket_arns.values()],
            },
            {
                "Sid": f"EncryptReplicas{sid}",
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
                "Resource": target.kms_key_arn,
                "Condition": {
                    "StringEquals": {"kms:ViaService": f"s3.{target.region}.{dns_suffix}"}
                },
            },
        ]
    return policy_document(statements)


class BucketReplication(pulumi.ComponentResource):
    role_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: BucketReplicationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:BucketReplication", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        stacks = ", ".join(args.secondary_stacks)

        def ready(targets: list[ReplicationTarget]) -> list[ReplicationTarget]:
            # S3 rejects a replication configuration without rules.
            if not targets:
                raise ValueError(
                    f"agent-factory:multiRegion.secondaryStacks: none of {stacks} has a "
                    "replicationTarget yet; deploy a secondary first or leave the list empty "
                    "until one is (docs/multi-region.md, deployment order)"
                )
            return targets

        targets = pulumi.Output.from_input(args.targets).apply(ready)
        role = aws.iam.Role(
            f"{name}-role",
            description="S3 cross-region replication of audit logs and backups",
            assume_role_policy=service_trust_policy("s3.amazonaws.com"),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.all(
                targets,
                args.source_key_arn,
                args.account.dns_suffix,
                *[bucket.arn for bucket in args.sources.values()],
            ).apply(
                lambda v: replication_policy(
                    source_arns=list(v[3:]),
                    source_key_arn=v[1],
                    source_region=args.account.region,
                    targets=v[0],
                    dns_suffix=v[2],
                )
            ),
            opts=child,
        )
        for purpose, bucket in args.sources.items():
            aws.s3.BucketReplicationConfig(
                f"{name}-{purpose}",
                bucket=bucket.bucket.id,
                role=role.arn,
                rules=targets.apply(functools.partial(replication_rules, purpose)),
                # Replication needs versioning on the source and a role that may act.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[bucket, policy]),
            )
        self.role_arn = role.arn
        self.register_outputs({"roleArn": self.role_arn})

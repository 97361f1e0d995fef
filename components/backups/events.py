"""BackupEvents: failed data-store backups and late cross-region copies reach the alarm topic.

- EventBridge rules on the default bus: RDS backup-category events of this stack's
  instances whose message reports a failure, ElastiCache's ``Snapshot Creation Failed`` /
  ``Snapshot Copy Failed`` / ``Snapshot Export Failed``, and AWS Backup job and copy jobs
  that end ``FAILED``, ``ABORTED`` or ``EXPIRED``; each rule targets the alarm SNS topic.
- S3 replication: S3 does not send replication events to EventBridge (its EventBridge
  detail types are object and lifecycle events only); ``s3:Replication:*`` events exist
  only as S3 event notifications, and only for rules with replication metrics (failures)
  and Replication Time Control (the 15-minute threshold), which
  :mod:`components.multiregion.replication` enables. So each replicated source bucket gets
  a notification configuration that sends ``OperationMissedThreshold`` and
  ``OperationFailedReplication`` to the same topic.

The topic is KMS-encrypted: its policy (Observability) admits events.amazonaws.com and
s3.amazonaws.com for this account, and the key's policy (Keys) lets both services use the
key; everything here waits for the topic policy, since S3 sends a test message to the
topic when the notification configuration is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

# Replication events the notifications send (S3 event notification types).
REPLICATION_EVENTS = (
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationFailedReplication",
)
ELASTICACHE_FAILURES = (
    "Snapshot Creation Failed",
    "Snapshot Copy Failed",
    "Snapshot Export Failed",
)
AWS_BACKUP_FAILURES = ("FAILED", "ABORTED", "EXPIRED")


def rds_pattern(name_prefix: str) -> dict[str, Any]:
    """Backup-category events of this stack's instances (and their automated snapshots,
    ``rds:<instance>-<time>``) whose message reports a failure."""
    return {
        "source": ["aws.rds"],
        "detail-type": ["RDS DB Instance Event", "RDS DB Snapshot Event"],
        "detail": {
            "EventCategories": ["backup"],
            "SourceIdentifier": [
                {"prefix": f"{name_prefix}-postgres"},
                {"prefix": f"rds:{name_prefix}-postgres"},
            ],
            # Event patterns match case-sensitively: both spellings RDS uses.
            "Message": [{"wildcard": "*fail*"}, {"wildcard": "*Fail*"}],
        },
    }


def elasticache_pattern(name_prefix: str) -> dict[str, Any]:
    return {
        "source": ["aws.elasticache"],
        "detail-type": list(ELASTICACHE_FAILURES),
        "detail": {"SourceIdentifier": [{"prefix": f"{name_prefix}-cache"}]},
    }


def aws_backup_pattern() -> dict[str, Any]:
    """Every AWS Backup job of the account and region: no plan here creates one yet, but a
    plan an operator adds is watched from its first failure."""
    return {
        "source": ["aws.backup"],
        "detail-type": ["Backup Job State Change", "Copy Job State Change"],
        "detail": {"state": list(AWS_BACKUP_FAILURES)},
    }


def patterns(name_prefix: str) -> dict[str, dict[str, Any]]:
    """Rule suffix -> event pattern."""
    return {
        "rds-backup-failed": rds_pattern(name_prefix),
        "cache-snapshot-failed": elasticache_pattern(name_prefix),
        "aws-backup-failed": aws_backup_pattern(),
    }


@dataclass(frozen=True)
class BackupEventsArgs:
    # agent-factory-<stack>: rule names start with it and it prefixes the stores' names.
    name_prefix: str
    alarm_topic_arn: pulumi.Input[str]
    # The topic's policy: nothing may publish before it admits the service.
    topic_policy: pulumi.Resource
    # Source buckets of cross-region replication (the primary's), by purpose; empty
    # where this stack replicates nothing.
    replicated_buckets: Mapping[str, aws.s3.Bucket]


class BackupEvents(pulumi.ComponentResource):
    rule_names: list[str]

    def __init__(
        self, name: str, args: BackupEventsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:BackupEvents", name, None, opts)
        after: Sequence[pulumi.Resource] = [args.topic_policy]
        child = pulumi.ResourceOptions(parent=self, depends_on=list(after))
        self.rule_names = []
        for suffix, pattern in patterns(args.name_prefix).items():
            rule_name = f"{args.name_prefix}-{suffix}"
            rule = aws.cloudwatch.EventRule(
                f"{name}-{suffix}",
                name=rule_name,
                description=f"{suffix}: to the alarm topic (docs/runbooks/backup-failed.md)",
                event_pattern=json.dumps(pattern),
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{suffix}-alarm-topic",
                rule=rule.name,
                target_id="alarm-topic",
                arn=args.alarm_topic_arn,
                opts=child,
            )
            self.rule_names.append(rule_name)
        for purpose, bucket in args.replicated_buckets.items():
            aws.s3.BucketNotification(
                f"{name}-{purpose}-replication",
                bucket=bucket.id,
                topics=[
                    aws.s3.BucketNotificationTopicArgs(
                        topic_arn=args.alarm_topic_arn,
                        events=list(REPLICATION_EVENTS),
                        id="replication-alarms",
                    )
                ],
                opts=child,
            )
        self.register_outputs({"ruleNames": self.rule_names})

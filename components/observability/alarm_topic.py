"""The alarm topic's resource policy: which AWS services may publish to it.

Replacing the default topic policy, it names every publisher: CloudWatch alarms (data
stores, CIS trail alarms), EventBridge rules and S3 event notifications (backup failures
and late replication, components/backups), AWS Budgets and Cost Anomaly Detection (the
stack's cost alerts, components/finops). Each is limited to this account. The topic is
KMS-encrypted with the logs key; the same services may use that key
(``TOPIC_PUBLISHERS`` in ``components/security/keys.py``).
"""

from __future__ import annotations

import json

# The account's principals keep what the default topic policy gave them.
OWNER_ACTIONS = [
    "SNS:GetTopicAttributes",
    "SNS:SetTopicAttributes",
    "SNS:AddPermission",
    "SNS:RemovePermission",
    "SNS:DeleteTopic",
    "SNS:Subscribe",
    "SNS:ListSubscriptionsByTopic",
    "SNS:Publish",
]


def alarm_topic_policy(
    partition: str, account_id: str, topic_arn: str, region: str, name_prefix: str
) -> str:
    def publish(sid: str, service: str, condition: dict[str, object]) -> dict[str, object]:
        return {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": condition,
        }

    own_account = {"aws:SourceAccount": account_id}
    statements = [
        {
            "Sid": "AccountOwner",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
            "Action": OWNER_ACTIONS,
            "Resource": topic_arn,
        },
        publish(
            "CloudWatchAlarms",
            "cloudwatch.amazonaws.com",
            {
                "StringEquals": own_account,
                "ArnLike": {"aws:SourceArn": f"arn:{partition}:cloudwatch:*:{account_id}:alarm:*"},
            },
        ),
        publish(
            "EventBridgeRules",
            "events.amazonaws.com",
            {
                "StringEquals": own_account,
                "ArnLike": {
                    "aws:SourceArn": f"arn:{partition}:events:{region}:{account_id}:rule/*"
                },
            },
        ),
        # Bucket ARNs carry no account: the stack's bucket names, and the account.
        publish(
            "S3ReplicationEvents",
            "s3.amazonaws.com",
            {
                "StringEquals": own_account,
                "ArnLike": {"aws:SourceArn": f"arn:{partition}:s3:::{name_prefix}-*"},
            },
        ),
        # AWS Budgets' documented policy for SNS notifications (SourceAccount, SourceArn).
        publish(
            "AwsBudgets",
            "budgets.amazonaws.com",
            {
                "StringEquals": own_account,
                "ArnLike": {"aws:SourceArn": f"arn:{partition}:budgets::{account_id}:*"},
            },
        ),
        # Cost Anomaly Detection's IMMEDIATE alerts; it sends the account as SourceAccount.
        publish("CostAnomalyDetection", "costalerts.amazonaws.com", {"StringEquals": own_account}),
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "SNS:Publish",
            "Resource": topic_arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})

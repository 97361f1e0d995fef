"""The alarm topic's resource policy: which AWS services may publish to it.

Replacing the default topic policy, it names every publisher: CloudWatch alarms (data
stores, CIS trail alarms), AWS Budgets and Cost Anomaly Detection (the stack's cost
alerts, components/finops). The topic is KMS-encrypted with the logs key; the same
services are allowed to use that key in ``components/security/keys.py``.
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
# Services that publish to the alarm topic (and must use its KMS key).
PUBLISHERS = ("cloudwatch.amazonaws.com", "budgets.amazonaws.com", "costalerts.amazonaws.com")


def alarm_topic_policy(partition: str, account_id: str, topic_arn: str) -> str:
    def publish(sid: str, service: str, condition: dict[str, object]) -> dict[str, object]:
        return {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "SNS:Publish",
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

"""CostControls: the stack's monthly budget and, in the stack that owns them, the
account's Cost Anomaly Detection and cost-allocation tags.

- Budget: a COST budget per stack over the resources tagged ``Stack=<stack>`` (the
  provider's default tags put it on every resource; cost-allocation tags make it visible
  to Billing), with an ACTUAL-spend notification at each configured percentage (80 % and
  100 % by default) to the alarm SNS topic and the configured addresses. Its name holds
  the stack, so stacks sharing an account do not clash.
- Anomaly monitor and subscription, cost-allocation tags: one per account. Only the
  stack with ``owns_account`` creates them (every stack but a secondary region by
  default, and each environment has its own account); their names hold the project and
  the account name. The preview's global-name check (tools/checks.py) treats them as
  account-wide names, so two owners in one account fail the plan.
- Alerts arrive on the alarm topic; docs/runbooks/cost-alert.md says what to do.
- The monitor is CUSTOM over the ``Project`` tag, not the DIMENSIONAL SERVICE monitor:
  AWS allows one of those per account and creates it by default in new accounts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.prerequisites import Prerequisite, prerequisites_output
from components.settings.finops import AnomalySettings, BudgetSettings

# The tag policy's mandatory keys (policy/agentfactory_policies/tags.py DEFAULT_REQUIRED,
# the keys Settings.tags puts on the provider's default tags).
COST_ALLOCATION_TAGS = ("Project", "Environment", "Team", "CostCenter", "ManagedBy", "Stack")


@dataclass(frozen=True)
class CostControlsArgs:
    project: str
    stack: str
    account_name: str
    budget: BudgetSettings
    anomaly: AnomalySettings
    alarm_topic_arn: pulumi.Input[str]
    owns_account: bool
    # The topic's policy must let AWS Budgets publish before a budget names it.
    topic_ready: Sequence[pulumi.Resource] = ()


def budget_name(project: str, stack: str) -> str:
    return f"{project}-{stack}-monthly"


def account_prefix(project: str, account_name: str) -> str:
    return f"{project}-{account_name}"


def anomaly_specification(project: str) -> str:
    """The monitor's Expression: costs of resources tagged Project=<project>."""
    return json.dumps({"Tags": {"Key": "Project", "Values": [project], "MatchOptions": ["EQUALS"]}})


class CostControls(pulumi.ComponentResource):
    budget: aws.budgets.Budget
    anomaly_monitor: aws.costexplorer.AnomalyMonitor | None

    def __init__(
        self, name: str, args: CostControlsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:CostControls", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        after_topic = pulumi.ResourceOptions(parent=self, depends_on=list(args.topic_ready))
        emails = list(args.budget.emails)
        self.budget = aws.budgets.Budget(
            f"{name}-budget",
            name=budget_name(args.project, args.stack),
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=f"{args.budget.monthly_usd:.2f}",
            limit_unit="USD",
            cost_filters=[
                aws.budgets.BudgetCostFilterArgs(
                    name="TagKeyValue", values=[f"user:Stack${args.stack}"]
                )
            ],
            notifications=[
                aws.budgets.BudgetNotificationArgs(
                    comparison_operator="GREATER_THAN",
                    notification_type="ACTUAL",
                    threshold=percent,
                    threshold_type="PERCENTAGE",
                    subscriber_sns_topic_arns=[args.alarm_topic_arn],
                    subscriber_email_addresses=emails or None,
                )
                for percent in args.budget.thresholds_percent
            ],
            opts=after_topic,
        )
        prerequisites: list[Prerequisite] = []
        self.anomaly_monitor = None
        if args.owns_account:
            prefix = account_prefix(args.project, args.account_name)
            for key in COST_ALLOCATION_TAGS:
                aws.costexplorer.CostAllocationTag(
                    f"{name}-tag-{key.lower()}", tag_key=key, status="Active", opts=child
                )
            self.anomaly_monitor = aws.costexplorer.AnomalyMonitor(
                f"{name}-anomaly-monitor",
                name=f"{prefix}-cost-anomalies",
                monitor_type="CUSTOM",
                monitor_specification=anomaly_specification(args.project),
                opts=child,
            )
            aws.costexplorer.AnomalySubscription(
                f"{name}-anomaly-subscription",
                name=f"{prefix}-cost-anomalies-to-alarms",
                # SNS subscribers take IMMEDIATE alerts only.
                frequency="IMMEDIATE",
                monitor_arn_lists=[self.anomaly_monitor.arn],
                subscribers=[
                    aws.costexplorer.AnomalySubscriptionSubscriberArgs(
                        type="SNS", address=args.alarm_topic_arn
                    )
                ],
                threshold_expression=aws.costexplorer.AnomalySubscriptionThresholdExpressionArgs(
                    dimension=aws.costexplorer.AnomalySubscriptionThresholdExpressionDimensionArgs(
                        key="ANOMALY_TOTAL_IMPACT_ABSOLUTE",
                        match_options=["GREATER_THAN_OR_EQUAL"],
                        values=[f"{args.anomaly.impact_usd:g}"],
                    )
                ),
                opts=after_topic,
            )
            prerequisites.append(
                Prerequisite(
                    what=f"the cost-allocation tag keys {', '.join(COST_ALLOCATION_TAGS)} "
                    f"appear in the {args.account_name} account's billing data (AWS lists a "
                    "key for activation up to 24 h after a resource first carries it), and "
                    "this account may activate them (in an AWS Organization only the "
                    "management account can)",
                    how="aws ce list-cost-allocation-tags --tag-keys "
                    + " ".join(COST_ALLOCATION_TAGS)
                    + " (each key listed; else run pulumi up again a day after the first)",
                )
            )
        self.register_outputs(
            {
                "budgetName": self.budget.name,
                "anomalyMonitorArn": self.anomaly_monitor.arn if self.anomaly_monitor else None,
                **prerequisites_output(prerequisites),
            }
        )

"""CIS AWS Foundations Benchmark monitoring: a metric filter and an alarm per control.

CloudTrail delivers to a CloudWatch Logs group; each control below counts matching events
into a metric (namespace ``CISBenchmark``) and alarms on one or more in five minutes.

Control ids are those of CIS AWS Foundations Benchmark v1.4.0 and v3.0.0, section 4
"Monitoring" (v1.2.0 numbered them 3.x; root usage was 3.3). The patterns for 4.1 to 4.14
are the ones AWS Security Hub checks for CloudWatch.1 to CloudWatch.14, which pass only
with the exact CIS filter; 4.15 (AWS Organizations) has no Security Hub control and uses
the benchmark's pattern. Later benchmark versions also accept variants (4.2 without the
IAMUser/Success terms, 4.13 with an ec2 event source); these are the stricter, quieter
ones a Security Hub check accepts.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.observability.alerts import RUNBOOK_BASE

NAMESPACE = "CISBenchmark"
RUNBOOK = "cis-security-event.md"


@dataclass(frozen=True)
class CisControl:
    control: str  # CIS v1.4.0 / v3.0.0 id
    key: str  # metric, filter and alarm name part
    title: str
    pattern: str

    @property
    def anchor(self) -> str:
        return f"cis-{self.control.replace('.', '-')}"


def _any_event(*names: str) -> str:
    return " || ".join(f"($.eventName={name})" for name in names)


CONTROLS: tuple[CisControl, ...] = (
    CisControl(
        "4.1",
        "UnauthorizedAPICalls",
        "Unauthorized API calls",
        '{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}',
    ),
    CisControl(
        "4.2",
        "ConsoleSigninWithoutMFA",
        "Management Console sign-in without MFA",
        '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && '
        '($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }',
    ),
    CisControl(
        "4.3",
        "RootAccountUsage",
        "Usage of the root user",
        '{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && '
        '$.eventType !="AwsServiceEvent"}',
    ),
    CisControl(
        "4.4",
        "IAMPolicyChanges",
        "IAM policy changes",
        "{"
        + _any_event(
            "DeleteGroupPolicy",
            "DeleteRolePolicy",
            "DeleteUserPolicy",
            "PutGroupPolicy",
            "PutRolePolicy",
            "PutUserPolicy",
            "CreatePolicy",
            "DeletePolicy",
            "CreatePolicyVersion",
            "DeletePolicyVersion",
            "AttachRolePolicy",
            "DetachRolePolicy",
            "AttachUserPolicy",
            "DetachUserPolicy",
            "AttachGroupPolicy",
            "DetachGroupPolicy",
        )
        + "}",
    ),
    CisControl(
        "4.5",
        "CloudTrailChanges",
        "CloudTrail configuration changes",
        "{"
        + _any_event("CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging")
        + "}",
    ),
    CisControl(
        "4.6",
        "ConsoleAuthenticationFailures",
        "Management Console authentication failures",
        '{($.eventName=ConsoleLogin) && ($.errorMessage="Failed authentication")}',
    ),
    CisControl(
        "4.7",
        "DisableOrDeleteCMK",
        "Disabling or scheduled deletion of customer managed keys",
        "{($.eventSource=kms.amazonaws.com) && "
        "(($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}",
    ),
    CisControl(
        "4.8",
        "S3BucketPolicyChanges",
        "S3 bucket policy changes",
        "{($.eventSource=s3.amazonaws.com) && ("
        + _any_event(
            "PutBucketAcl",
            "PutBucketPolicy",
            "PutBucketCors",
            "PutBucketLifecycle",
            "PutBucketReplication",
            "DeleteBucketPolicy",
            "DeleteBucketCors",
            "DeleteBucketLifecycle",
            "DeleteBucketReplication",
        )
        + ")}",
    ),
    CisControl(
        "4.9",
        "AWSConfigChanges",
        "AWS Config configuration changes",
        "{($.eventSource=config.amazonaws.com) && ("
        + _any_event(
            "StopConfigurationRecorder",
            "DeleteDeliveryChannel",
            "PutDeliveryChannel",
            "PutConfigurationRecorder",
        )
        + ")}",
    ),
    CisControl(
        "4.10",
        "SecurityGroupChanges",
        "Security group changes",
        "{"
        + _any_event(
            "AuthorizeSecurityGroupIngress",
            "AuthorizeSecurityGroupEgress",
            "RevokeSecurityGroupIngress",
            "RevokeSecurityGroupEgress",
            "CreateSecurityGroup",
            "DeleteSecurityGroup",
        )
        + "}",
    ),
    CisControl(
        "4.11",
        "NetworkACLChanges",
        "Network ACL changes",
        "{"
        + _any_event(
            "CreateNetworkAcl",
            "CreateNetworkAclEntry",
            "DeleteNetworkAcl",
            "DeleteNetworkAclEntry",
            "ReplaceNetworkAclEntry",
            "ReplaceNetworkAclAssociation",
        )
        + "}",
    ),
    CisControl(
        "4.12",
        "NetworkGatewayChanges",
        "Network gateway changes",
        "{"
        + _any_event(
            "CreateCustomerGateway",
            "DeleteCustomerGateway",
            "AttachInternetGateway",
            "CreateInternetGateway",
            "DeleteInternetGateway",
            "DetachInternetGateway",
        )
        + "}",
    ),
    CisControl(
        "4.13",
        "RouteTableChanges",
        "Route table changes",
        "{"
        + _any_event(
            "CreateRoute",
            "CreateRouteTable",
            "ReplaceRoute",
            "ReplaceRouteTableAssociation",
            "DeleteRouteTable",
            "DeleteRoute",
            "DisassociateRouteTable",
        )
        + "}",
    ),
    CisControl(
        "4.14",
        "VPCChanges",
        "VPC changes",
        "{"
        + _any_event(
            "CreateVpc",
            "DeleteVpc",
            "ModifyVpcAttribute",
            "AcceptVpcPeeringConnection",
            "CreateVpcPeeringConnection",
            "DeleteVpcPeeringConnection",
            "RejectVpcPeeringConnection",
            "AttachClassicLinkVpc",
            "DetachClassicLinkVpc",
            "DisableVpcClassicLink",
            "EnableVpcClassicLink",
        )
        + "}",
    ),
    CisControl(
        "4.15",
        "OrganizationsChanges",
        "AWS Organizations changes",
        "{ ($.eventSource = organizations.amazonaws.com) && ("
        + " || ".join(
            f'($.eventName = "{name}")'
            for name in (
                "AcceptHandshake",
                "AttachPolicy",
                "CreateAccount",
                "CreateOrganizationalUnit",
                "CreatePolicy",
                "DeclineHandshake",
                "DeleteOrganization",
                "DeleteOrganizationalUnit",
                "DeletePolicy",
                "DetachPolicy",
                "DisablePolicyType",
                "EnablePolicyType",
                "InviteAccountToOrganization",
                "LeaveOrganization",
                "MoveAccount",
                "RemoveAccountFromOrganization",
                "UpdatePolicy",
                "UpdateOrganizationalUnit",
            )
        )
        + ") }",
    ),
)


@dataclass(frozen=True)
class TrailAlarmsArgs:
    # The CloudWatch Logs group CloudTrail delivers to (same region as these alarms).
    log_group_name: pulumi.Input[str]
    alarm_topic_arn: pulumi.Input[str]
    # Unique per account and region (e.g. the cluster name): alarm names and metric names
    # are, and stacks sharing an account must not add into each other's metrics.
    name_prefix: str


class TrailAlarms(pulumi.ComponentResource):
    alarm_names: list[pulumi.Output[str]]

    def __init__(
        self, name: str, args: TrailAlarmsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:TrailAlarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.alarm_names = []
        for control in CONTROLS:
            slug = control.control.replace(".", "-")
            metric = f"{args.name_prefix}-{control.key}"
            metric_filter = aws.cloudwatch.LogMetricFilter(
                f"{name}-cis-{slug}",
                name=f"{args.name_prefix}-CIS-{control.control}-{control.key}",
                log_group_name=args.log_group_name,
                pattern=control.pattern,
                metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                    name=metric, namespace=NAMESPACE, value="1"
                ),
                opts=child,
            )
            alarm = aws.cloudwatch.MetricAlarm(
                f"{name}-cis-{slug}-alarm",
                name=f"{args.name_prefix}-CIS-{control.control}-{control.key}",
                alarm_description=(
                    f"CIS AWS Foundations {control.control}: {control.title}. "
                    f"Runbook: {RUNBOOK_BASE}/{RUNBOOK}#{control.anchor}"
                ),
                namespace=NAMESPACE,
                metric_name=metric,
                statistic="Sum",
                period=300,
                evaluation_periods=1,
                comparison_operator="GreaterThanOrEqualToThreshold",
                threshold=1,
                # No matching event writes no datapoint: quiet is the normal state.
                treat_missing_data="notBreaching",
                alarm_actions=[args.alarm_topic_arn],
                # The metric exists only once the filter does.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[metric_filter]),
            )
            self.alarm_names.append(alarm.name)
        self.register_outputs({"alarmNames": self.alarm_names})

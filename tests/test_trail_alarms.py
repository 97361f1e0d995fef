"""CIS metric filters and alarms on the CloudTrail log group, synthesized alone under mocks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from components.observability import trail_alarms
from components.observability.alerts import RUNBOOK_BASE
from tools.stackconfig import StackConfig
from tools.synth import ROOT, Plan, PlannedResource, synth_config

FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "arn:aws:sns:us-east-1:123456789012:af-prod-alarms"
LOG_GROUP = "/aws/cloudtrail/af-prod"
RUNBOOK = ROOT / "docs" / "runbooks" / "cis-security-event.md"
# Every control of the benchmark's Monitoring section that is a metric filter, once each.
EXPECTED = {f"4.{n}" for n in range(1, 16)}
# An event name a filter must mention, per control (what each one is for).
SIGNATURES = {
    "4.1": '$.errorCode="AccessDenied*"',
    "4.2": '$.additionalEventData.MFAUsed != "Yes"',
    "4.3": '$.userIdentity.type="Root"',
    "4.4": "$.eventName=PutRolePolicy",
    "4.5": "$.eventName=StopLogging",
    "4.6": '$.errorMessage="Failed authentication"',
    "4.7": "$.eventName=ScheduleKeyDeletion",
    "4.8": "$.eventName=PutBucketPolicy",
    "4.9": "$.eventName=StopConfigurationRecorder",
    "4.10": "$.eventName=AuthorizeSecurityGroupIngress",
    "4.11": "$.eventName=CreateNetworkAclEntry",
    "4.12": "$.eventName=AttachInternetGateway",
    "4.13": "$.eventName=ReplaceRoute",
    "4.14": "$.eventName=CreateVpcPeeringConnection",
    "4.15": '$.eventName = "LeaveOrganization"',
}
TERM = re.compile(
    r"\(?\s*\$\.[A-Za-z.]+\s*(=|!=)\s*(\"[^\"]*\"|[A-Za-z0-9*.:_-]+)\s*\)?"
    r"|\$\.[A-Za-z.]+ NOT EXISTS"
)

PROGRAM = """
import pulumi
from components.observability.trail_alarms import TrailAlarms, TrailAlarmsArgs

TrailAlarms(
    "prod-security-trail-alarms",
    TrailAlarmsArgs(log_group_name="LOG_GROUP", alarm_topic_arn="TOPIC", name_prefix="af-prod"),
)
"""


def well_formed(pattern: str) -> bool:
    """Balanced braces and parentheses, one outer brace pair, and nothing but terms
    joined by && / || inside (the CloudWatch Logs JSON filter syntax)."""
    depth = 0
    for char in pattern:
        depth += {"(": 1, "{": 1, ")": -1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    if depth or not (pattern.startswith("{") and pattern.endswith("}")):
        return False
    if pattern.count("{") != 1:
        return False
    rest = TERM.sub("T", pattern[1:-1])
    rest = re.sub(r"\s+", "", rest)
    while True:
        reduced = re.sub(r"\(T\)", "T", re.sub(r"T(&&|\|\|)T", "T", rest))
        if reduced == rest:
            return rest == "T"
        rest = reduced


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    root: Path = tmp_path_factory.mktemp("trail")
    program = PROGRAM.replace("LOG_GROUP", LOG_GROUP).replace("TOPIC", TOPIC)
    (root / "__main__.py").write_text(program)
    return synth_config(
        StackConfig("agent-factory", "prod", {"aws:region": "us-east-1"}, ()),
        root=root,
        stack_outputs=lambda _stack: None,
    )


def by_control(resources: list[PlannedResource]) -> dict[str, PlannedResource]:
    found: dict[str, PlannedResource] = {}
    for resource in resources:
        control = resource.inputs["name"].split("-CIS-")[1].split("-")[0]
        assert control not in found, f"control {control} twice"
        found[control] = resource
    return found


def test_each_control_once_with_a_well_formed_pattern(plan: Plan) -> None:
    assert [c.control for c in trail_alarms.CONTROLS] == sorted(EXPECTED, key=lambda c: int(c[2:]))
    filters = by_control(plan.by_type(FILTER))
    assert set(filters) == EXPECTED
    for control, resource in filters.items():
        pattern = resource.inputs["pattern"]
        assert well_formed(pattern), (control, pattern)
        assert SIGNATURES[control] in pattern, control
        assert len(pattern) <= 1024  # PutMetricFilter's limit
        assert resource.inputs["logGroupName"] == LOG_GROUP
        transformation = resource.inputs["metricTransformation"]
        assert transformation["namespace"] == "CISBenchmark"
        assert transformation["value"] == "1"
        assert transformation["name"].startswith("af-prod-")


def test_patterns_are_the_benchmarks(plan: Plan) -> None:
    filters = by_control(plan.by_type(FILTER))
    # Exactly as AWS Security Hub CloudWatch.1/.3/.7 require them (no extra terms).
    assert filters["4.3"].inputs["pattern"] == (
        '{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && '
        '$.eventType !="AwsServiceEvent"}'
    )
    assert filters["4.2"].inputs["pattern"] == (
        '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && '
        '($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }'
    )
    assert filters["4.7"].inputs["pattern"] == (
        "{($.eventSource=kms.amazonaws.com) && "
        "(($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}"
    )
    assert filters["4.15"].inputs["pattern"].count("$.eventName =") == 18


def test_malformed_patterns_are_caught() -> None:
    assert well_formed("{($.eventName=A) || ($.eventName=B)}")
    assert not well_formed("{($.eventName=A) || ($.eventName=B)")
    assert not well_formed("{($.eventName=A) ($.eventName=B)}")
    assert not well_formed("{($.eventName=A) || }")
    assert not well_formed("($.eventName=A)")


def test_each_alarm_reads_its_metric_and_pages_the_topic(plan: Plan) -> None:
    filters = by_control(plan.by_type(FILTER))
    alarms = by_control(plan.by_type(ALARM))
    assert set(alarms) == EXPECTED
    runbook = RUNBOOK.read_text()
    assert "## Check" in runbook and "## Act" in runbook
    for control, alarm in alarms.items():
        inputs = alarm.inputs
        metric = filters[control].inputs["metricTransformation"]
        assert inputs["metricName"] == metric["name"]
        assert inputs["namespace"] == metric["namespace"] == "CISBenchmark"
        assert inputs["statistic"] == "Sum"
        assert inputs["period"] == 300
        assert inputs["evaluationPeriods"] == 1
        assert inputs["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert inputs["threshold"] == 1
        assert inputs["treatMissingData"] == "notBreaching"
        assert inputs["alarmActions"] == [TOPIC]
        assert filters[control].urn in alarm.dependencies
        description = inputs["alarmDescription"]
        assert description.startswith(f"CIS AWS Foundations {control}: ")
        link = f"{RUNBOOK_BASE}/cis-security-event.md#cis-{control.replace('.', '-')}"
        assert link in description
        assert f'<a id="cis-{control.replace(".", "-")}"></a>' in runbook
        assert len(description) <= 1024


def test_names_carry_the_prefix_and_are_unique(plan: Plan) -> None:
    names = [r.inputs["name"] for r in plan.by_type(ALARM)]
    assert len(set(names)) == len(names) == 15
    assert all(name.startswith("af-prod-CIS-4.") for name in names)
    component = plan.by_type("agentfactory:platform:TrailAlarms")[0]
    assert all(r.parent == component.urn for r in plan.by_type(ALARM) + plan.by_type(FILTER))

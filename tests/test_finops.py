"""Cost controls over the stacks' plans: budgets and their notifications, the account's
anomaly monitor and cost-allocation tags in one stack per account, dev's off-hours
schedules on the right Auto Scaling groups, arm64 pools, OpenCost."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from components.addons import kube_prometheus_stack, opencost
from components.addons.charts import CHARTS
from components.addons.keda import quota_for
from components.cluster.nodepools import capacity_groups
from components.finops.costs import COST_ALLOCATION_TAGS
from components.settings import SettingsError, load_settings
from policy.agentfactory_policies.tags import DEFAULT_REQUIRED
from tests.conftest import SERVICES, by_name, synth_with
from tools.checks import StackPlan, check_global_names
from tools.stackconfig import stack_settings
from tools.synth import ROOT, Plan, PlannedResource

BUDGET = "aws:budgets/budget:Budget"
MONITOR = "aws:costexplorer/anomalyMonitor:AnomalyMonitor"
SUBSCRIPTION = "aws:costexplorer/anomalySubscription:AnomalySubscription"
TAG = "aws:costexplorer/costAllocationTag:CostAllocationTag"
SCHEDULE = "aws:autoscaling/schedule:Schedule"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
BUDGETS_USD = {
    "dev": 2500.0,
    "staging": 8000.0,
    "prod": 17875.0,
    "prod-us-west-2": 17875.0,
    "prod-eu-west-1": 17875.0,
}
# One owner of the account-global cost resources per account (dev, staging, prod).
OWNERS = {"dev", "staging", "prod"}


def one(plan: Plan, type_: str) -> PlannedResource:
    [resource] = plan.by_type(type_)
    return resource


def alarm_topic(plan: Plan) -> PlannedResource:
    return by_name(plan, TOPIC)[f"{plan.stack}-observability-alarms"]


def arn_of(plan: Plan, resource: PlannedResource) -> str:
    return str(plan.states[resource.urn]["arn"])


@pytest.mark.parametrize("stack", sorted(BUDGETS_USD))
def test_every_stack_has_its_monthly_budget_with_80_and_100_percent_alerts(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    plan = plan_of(stack)
    budget = one(plan, BUDGET)
    inputs = budget.inputs
    assert inputs["name"] == f"agent-factory-{stack}-monthly"
    assert (inputs["budgetType"], inputs["timeUnit"], inputs["limitUnit"]) == (
        "COST",
        "MONTHLY",
        "USD",
    )
    assert float(inputs["limitAmount"]) == BUDGETS_USD[stack]
    # Only what carries this stack's tag (the provider's default tags put it everywhere).
    assert inputs["costFilters"] == [{"name": "TagKeyValue", "values": [f"user:Stack${stack}"]}]
    topic = arn_of(plan, alarm_topic(plan))
    notifications = inputs["notifications"]
    assert [n["threshold"] for n in notifications] == [80.0, 100.0]
    for notification in notifications:
        assert notification["notificationType"] == "ACTUAL"
        assert notification["thresholdType"] == "PERCENTAGE"
        assert notification["comparisonOperator"] == "GREATER_THAN"
        assert notification["subscriberSnsTopicArns"] == [topic]
    # The topic must accept AWS Budgets before a budget names it.
    policy = by_name(plan, TOPIC_POLICY)[f"{stack}-observability-alarms-policy"]
    assert policy.urn in budget.dependencies


def _statement(document: str, sid: str) -> dict[str, Any]:
    return next(s for s in json.loads(document)["Statement"] if s["Sid"] == sid)


def test_budgets_and_anomaly_detection_may_publish_to_the_encrypted_alarm_topic(
    plan_of: Callable[[str], Plan],
) -> None:
    plan = plan_of("prod")
    topic = alarm_topic(plan)
    policy = by_name(plan, TOPIC_POLICY)["prod-observability-alarms-policy"]
    document = policy.inputs["policy"]
    assert policy.inputs["arn"] == arn_of(plan, topic)
    budgets = _statement(document, "AwsBudgets")
    assert budgets["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert budgets["Action"] == "sns:Publish"
    assert budgets["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    assert budgets["Condition"]["ArnLike"] == {"aws:SourceArn": "arn:aws:budgets::123456789012:*"}
    anomalies = _statement(document, "CostAnomalyDetection")
    assert anomalies["Principal"] == {"Service": "costalerts.amazonaws.com"}
    # CloudWatch alarms keep publishing once the default policy is replaced.
    assert _statement(document, "CloudWatchAlarms")["Principal"] == {
        "Service": "cloudwatch.amazonaws.com"
    }
    # The topic is encrypted with the logs key: its policy lets the publishers use it.
    logs_key = by_name(plan, "aws:kms/key:Key")["prod-keys-logs"]
    assert topic.inputs["kmsMasterKeyId"] == arn_of(plan, logs_key)
    for sid, service in (
        ("CloudWatchAlarmsToSns", "cloudwatch.amazonaws.com"),
        ("BudgetsToSns", "budgets.amazonaws.com"),
        ("CostAnomalyDetectionToSns", "costalerts.amazonaws.com"),
    ):
        sns = _statement(logs_key.inputs["policy"], sid)
        assert sns["Principal"] == {"Service": service}
        assert set(sns["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


@pytest.mark.parametrize("stack", sorted(BUDGETS_USD))
def test_one_stack_per_account_owns_the_anomaly_monitor_and_cost_allocation_tags(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    plan = plan_of(stack)
    account = stack_settings(ROOT, stack).account
    monitors, subscriptions, tags = (plan.by_type(t) for t in (MONITOR, SUBSCRIPTION, TAG))
    if stack not in OWNERS:
        assert (monitors, subscriptions, tags) == ([], [], [])
        return
    [monitor], [subscription] = monitors, subscriptions
    assert monitor.inputs["name"] == f"agent-factory-{account}-cost-anomalies"
    assert monitor.inputs["monitorType"] == "CUSTOM"
    assert json.loads(monitor.inputs["monitorSpecification"]) == {
        "Tags": {"Key": "Project", "Values": ["agent-factory"], "MatchOptions": ["EQUALS"]}
    }
    sub = subscription.inputs
    assert sub["frequency"] == "IMMEDIATE"  # the only frequency SNS subscribers take
    assert sub["monitorArnLists"] == [arn_of(plan, monitor)]
    assert sub["subscribers"] == [{"type": "SNS", "address": arn_of(plan, alarm_topic(plan))}]
    assert sub["thresholdExpression"]["dimension"] == {
        "key": "ANOMALY_TOTAL_IMPACT_ABSOLUTE",
        "matchOptions": ["GREATER_THAN_OR_EQUAL"],
        "values": ["100"],
    }
    # The tag policy's mandatory keys, which the provider's default tags apply.
    assert sorted(t.inputs["tagKey"] for t in tags) == sorted(DEFAULT_REQUIRED)
    assert {t.inputs["status"] for t in tags} == {"Active"}
    assert set(COST_ALLOCATION_TAGS) == set(stack_settings(ROOT, stack).tags)


def test_a_second_owner_in_the_prod_account_fails_the_global_name_check(
    plan_of: Callable[[str], Plan],
) -> None:
    prod, west = plan_of("prod"), plan_of("prod-us-west-2")

    def billing(plan: Plan) -> Plan:
        kinds = {BUDGET, MONITOR, SUBSCRIPTION, TAG}
        return dataclasses.replace(plan, resources=[r for r in plan.resources if r.type in kinds])

    stacks = [StackPlan(billing(prod), "prod", "us-east-1")]
    clean, _ = check_global_names([*stacks, StackPlan(billing(west), "prod", "us-west-2")])
    assert clean == []
    # prod-us-west-2 claiming ownership too: the same names in the same account.
    owning_west = dataclasses.replace(
        billing(west), stack="prod-us-west-2", resources=billing(prod).resources
    )
    findings, _ = check_global_names([*stacks, StackPlan(owning_west, "prod", "us-west-2")])
    clashing = {f.message.split(" is created by")[0] for f in findings}
    assert any("agent-factory-prod-cost-anomalies" in c for c in clashing)
    assert sum("Stack" in c or "CostCenter" in c for c in clashing) == 2
    assert all("prod, prod-us-west-2" in f.message for f in findings)


def test_dev_pools_but_system_sleep_on_their_own_auto_scaling_groups(
    plan_of: Callable[[str], Plan],
) -> None:
    plan = plan_of("dev")
    settings = stack_settings(ROOT, "dev")
    groups = by_name(plan, NODE_GROUP)
    schedules = by_name(plan, SCHEDULE)
    expected: set[str] = set()
    for pool_name, pool in settings.node_pools.items():
        for group in capacity_groups(pool):
            key = f"{pool_name}-{group.suffix}"
            node_group = groups[f"dev-nodes-{key}"]
            if pool_name == "system":
                assert f"dev-offhours-{key}-down" not in schedules
                continue
            expected |= {f"dev-offhours-{key}-down", f"dev-offhours-{key}-up"}
            asg = plan.states[node_group.urn]["resources"][0]["autoscalingGroups"][0]["name"]
            down = schedules[f"dev-offhours-{key}-down"]
            up = schedules[f"dev-offhours-{key}-up"]
            for action in (down, up):
                assert action.inputs["autoscalingGroupName"] == asg
                assert node_group.urn in action.dependencies
                assert action.inputs["timeZone"] == "America/New_York"
            # max 0 too: the cluster autoscaler would otherwise bring the nodes back.
            assert (down.inputs["minSize"], down.inputs["maxSize"]) == (0, 0)
            assert down.inputs["desiredCapacity"] == 0
            assert down.inputs["recurrence"] == "0 20 * * MON-FRI"
            assert up.inputs["recurrence"] == "0 7 * * MON-FRI"
            assert (up.inputs["minSize"], up.inputs["maxSize"], up.inputs["desiredCapacity"]) == (
                group.min_size,
                group.max_size,
                group.desired_size,
            )
    assert set(schedules) == expected
    assert len(expected) == 12  # 6 node groups outside the system pool


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_only_dev_sleeps_by_default(plan_of: Callable[[str], Plan], stack: str) -> None:
    assert plan_of(stack).by_type(SCHEDULE) == []


BASE = {
    "team": "platform-sre",
    "costCenter": "agent-factory",
    "services": SERVICES,
}


def load(environment: str, **objects: Any) -> Any:
    values = {**BASE, "environment": environment, "account": environment, **objects}
    return load_settings(environment, "us-east-1", values)


def error(environment: str, **objects: Any) -> str:
    with pytest.raises(SettingsError) as caught:
        load(environment, **objects)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_scale_down_is_refused_in_prod_and_opt_in_elsewhere() -> None:
    message = error("prod", finops={"scaleDown": {"enabled": True}})
    assert message.startswith("agent-factory:finops.scaleDown.enabled: prod pools serve users")
    staging = load("staging", finops={"scaleDown": {"enabled": True, "pools": ["worker"]}})
    assert staging.scaled_down_pools == ("worker",)
    assert load("staging").scaled_down_pools == ()
    assert "system" not in load("dev").scaled_down_pools
    assert load("dev", finops={"scaleDown": {"enabled": False}}).scaled_down_pools == ()


@pytest.mark.parametrize(
    ("scale_down", "key", "fragment"),
    [
        ({"timezone": "Mars/Olympus"}, "finops.scaleDown.timezone", "not an IANA time zone"),
        ({"downAt": "25:00"}, "finops.scaleDown.downAt", "not a time of day"),
        ({"days": "WEEKDAYS"}, "finops.scaleDown.days", "not a cron day-of-week"),
        ({"upAt": "20:00"}, "finops.scaleDown.upAt", "equals downAt"),
        ({"pools": ["gpu"]}, "finops.scaleDown.pools", "['gpu'] are not in nodePools"),
    ],
)
def test_bad_schedules_name_the_key(scale_down: dict[str, Any], key: str, fragment: str) -> None:
    message = error("dev", finops={"scaleDown": scale_down})
    assert message.startswith(f"agent-factory:{key}: ") and fragment in message, message


def test_schedule_hours_become_cron_recurrences() -> None:
    scale_down = load(
        "dev",
        finops={"scaleDown": {"timezone": "Europe/Berlin", "downAt": "19:30", "upAt": "06:05"}},
    ).finops.scale_down
    assert (scale_down.down_recurrence, scale_down.up_recurrence) == (
        "30 19 * * MON-FRI",
        "5 6 * * MON-FRI",
    )


def test_budget_and_ownership_settings() -> None:
    assert error("dev", finops={"budget": {"monthlyUsd": 0}}).startswith(
        "agent-factory:finops.budget.monthlyUsd: "
    )
    assert "distinct" in error("dev", finops={"budget": {"thresholdsPercent": [80, 80]}})
    assert load("prod").owns_account_cost_resources is True
    secondary = load("prod", finops={"ownsAccountResources": False})
    assert secondary.owns_account_cost_resources is False


ARM = {"amiType": "AL2023_ARM_64_STANDARD"}


@pytest.mark.parametrize(
    ("pool", "key", "fragment"),
    [
        (
            {**ARM, "instanceTypes": ["m7g.large", "m6i.large"]},
            "nodePools.worker.instanceTypes",
            "['m6i.large'] do not run amiType AL2023_ARM_64_STANDARD, which needs arm64",
        ),
        (
            {
                **ARM,
                "instanceTypes": ["m7g.large"],
                "spotInstanceTypes": ["m7g.large", "m6a.large"],
            },
            "nodePools.worker.spotInstanceTypes",
            "['m6a.large'] do not run amiType AL2023_ARM_64_STANDARD",
        ),
        (
            {"instanceTypes": ["c7g.large"], "spotPercentage": 0},
            "nodePools.worker.instanceTypes",
            "['c7g.large'] do not run amiType AL2023_x86_64_STANDARD",
        ),
        (
            {"amiType": "BOTTLEROCKET_ARM_64", "instanceTypes": ["m7g.large"]},
            "nodePools.worker.amiType",
            "AL2023_ARM_64_STANDARD",
        ),
    ],
)
def test_arm64_pools_take_graviton_types_only(
    pool: dict[str, Any], key: str, fragment: str
) -> None:
    message = error("dev", nodePools={"worker": pool})
    assert message.startswith(f"agent-factory:{key}: ") and fragment in message, message


def test_an_arm64_pool_runs_the_arm64_ami_and_says_its_images_must_be_multi_arch() -> None:
    worker = {
        **ARM,
        "instanceTypes": ["m7g.large"],
        "spotInstanceTypes": ["m7g.large", "m6g.large", "t4g.large"],
    }
    plan = synth_with("dev", nodePools={"worker": worker})
    groups = by_name(plan, NODE_GROUP)
    assert groups["dev-nodes-worker-on-demand"].inputs["amiType"] == "AL2023_ARM_64_STANDARD"
    assert groups["dev-nodes-worker-spot"].inputs["instanceTypes"] == [
        "m7g.large",
        "m6g.large",
        "t4g.large",
    ]
    assert groups["dev-nodes-system-on-demand"].inputs["amiType"] == "AL2023_x86_64_STANDARD"
    [nodes] = plan.by_type("agentfactory:platform:NodePools")
    [prerequisite] = nodes.outputs["prerequisites"]
    assert prerequisite["what"].startswith("pool worker runs AL2023_ARM_64_STANDARD (arm64)")
    assert "(worker)" in prerequisite["what"]  # the services workload scheduled there
    assert "linux/arm64" in prerequisite["how"]


def test_x86_stacks_state_no_multi_arch_prerequisite(plan_of: Callable[[str], Plan]) -> None:
    [nodes] = plan_of("dev").by_type("agentfactory:platform:NodePools")
    assert nodes.outputs["prerequisites"] == []


def test_opencost_reads_the_platform_prometheus_from_a_fenced_namespace(
    plan_of: Callable[[str], Plan],
) -> None:
    plan = plan_of("prod")
    releases = by_name(plan, "kubernetes:helm.sh/v3:Release")
    release = releases["prod-cost-attribution-opencost"]
    chart = CHARTS["opencost"]
    assert (release.inputs["chart"], release.inputs["version"]) == ("opencost", "2.1.5")
    assert release.inputs["repositoryOpts"]["repo"] == chart.repo
    assert release.inputs["namespace"] == "opencost"
    values = release.inputs["values"]
    internal = values["opencost"]["prometheus"]["internal"]
    assert internal == {
        "enabled": True,
        "serviceName": f"{kube_prometheus_stack.NAME}-prometheus",
        "namespaceName": kube_prometheus_stack.NAMESPACE,
        "port": 9090,
    }
    assert values["opencost"]["exporter"]["defaultClusterId"] == "agent-factory-prod"
    assert values["opencost"]["exporter"]["securityContext"]["readOnlyRootFilesystem"] is True
    prometheus = releases["prod-observability-kube-prometheus-stack"]
    assert prometheus.urn in release.dependencies
    # Scraped: a ServiceMonitor after the monitoring CRDs, keeping OpenCost's own labels.
    [monitor] = [
        r
        for r in plan.by_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
        if r.name == "prod-cost-attribution-opencost-servicemonitor"
    ]
    assert monitor.inputs["metadata"]["namespace"] == "monitoring"
    assert monitor.inputs["spec"]["namespaceSelector"] == {"matchNames": ["opencost"]}
    assert monitor.inputs["spec"]["endpoints"][0]["honorLabels"] is True
    assert prometheus.urn in monitor.dependencies
    # Fenced like the other add-ons: restricted PSA and a quota sized from its footprint.
    namespace = by_name(plan, "kubernetes:core/v1:Namespace")["prod-security-ns-opencost"]
    labels = namespace.inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    quota = by_name(plan, "kubernetes:core/v1:ResourceQuota")["prod-security-ns-opencost-quota"]
    hard = quota.inputs["spec"]["hard"]
    expected = quota_for(opencost.footprint(), opencost.MAX_CONTAINER)
    assert hard["pods"] == str(expected.pods) == "2"  # one exporter and its rollout surge
    assert hard["requests.cpu"] == "100m" and hard["requests.memory"] == "512Mi"

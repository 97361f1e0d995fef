"""Backups (seed Sprint 9), read from the synthesized plans: Velero's Schedule, storage
location, IRSA policy, pod security and scrape source; the data stores' backup windows;
the EventBridge rules and S3 replication notifications on the alarm topic, and the topic
and key policies that let EventBridge and S3 publish to it.

Chart evidence (pin in components/addons/charts.py): velero 11.3.2 (vmware-tanzu/helm-charts,
app 1.17, packaged as 11.3.2-bb.2 by Big Bang with velero-plugin-for-aws v1.13.2); value
keys from its templates deployment.yaml, service.yaml, upgrade-crds/upgrade-crds.yaml and
the 11.x list layout of configuration.backupStorageLocation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from components.addons import velero
from components.addons.charts import CHARTS
from components.addons.cluster_addons import EBS_SNAPSHOT_CLASS
from components.backups.events import REPLICATION_EVENTS
from components.k8s.namespaces import CONTAINER_SECURITY
from components.settings import SettingsError, load_settings
from components.settings.data import windows_overlap
from policy.agentfactory_policies.hygiene import DEFAULT_REPOSITORIES
from tests.conftest import REGIONS, SERVICES, by_name
from tools import restore
from tools.checks import check_order, check_scrapes
from tools.synth import Plan, PlannedResource

PROD_STACKS = ("prod", "prod-us-west-2", "prod-eu-west-1")
RELEASE = "kubernetes:helm.sh/v3:Release"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
TOPIC = "aws:sns/topic:Topic"
KEY = "aws:kms/key:Key"
NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PlanOf = Callable[[str], Plan]


def state(plan: Plan, resource: PlannedResource) -> dict[str, Any]:
    return plan.states[resource.urn]


def one(plan: Plan, type_: str, suffix: str) -> PlannedResource:
    (found,) = [r for r in plan.by_type(type_) if r.name.endswith(suffix)]
    return found


def velero_values(plan: Plan) -> dict[str, Any]:
    values: dict[str, Any] = by_name(plan, RELEASE)[f"{plan.stack}-velero-velero"].inputs["values"]
    return values


def backups_bucket(plan: Plan) -> dict[str, Any]:
    return state(plan, by_name(plan, "aws:s3/bucket:Bucket")[f"{plan.stack}-data-backups"])


def key_arn(plan: Plan, purpose: str) -> str:
    return str(state(plan, by_name(plan, KEY)[f"{plan.stack}-keys-{purpose}"])["arn"])


def statements(document: str) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in json.loads(document)["Statement"]}


# -- Velero ---------------------------------------------------------------------------


def test_velero_chart_is_pinned_from_an_allowed_repository() -> None:
    chart = CHARTS["velero"]
    assert (chart.version, chart.repo) == ("11.3.2", "https://vmware-tanzu.github.io/helm-charts")
    assert chart.repo in DEFAULT_REPOSITORIES


@pytest.mark.parametrize(("stack", "hours"), [*((s, 720) for s in PROD_STACKS), ("dev", 168)])
def test_schedule_runs_every_six_hours_and_keeps_backups_per_environment(
    plan_of: PlanOf, stack: str, hours: int
) -> None:
    schedules = velero_values(plan_of(stack))["schedules"]
    assert list(schedules) == [velero.SCHEDULE_KEY]
    schedule = schedules[velero.SCHEDULE_KEY]
    assert schedule["schedule"] == "0 */6 * * *"
    assert schedule["disabled"] is False
    assert schedule["template"]["ttl"] == f"{hours}h0m0s"
    assert schedule["template"]["storageLocation"] == velero.STORAGE_LOCATION
    assert schedule["template"]["snapshotVolumes"] is True


@pytest.mark.parametrize("stack", PROD_STACKS)
def test_storage_location_is_the_kms_encrypted_backups_bucket_under_its_prefix(
    plan_of: PlanOf, stack: str
) -> None:
    plan = plan_of(stack)
    configuration = velero_values(plan)["configuration"]
    (location,) = configuration["backupStorageLocation"]
    bucket = backups_bucket(plan)
    s3_key = key_arn(plan, "s3")
    assert location["name"] == velero.STORAGE_LOCATION and location["default"] is True
    assert (location["provider"], location["bucket"], location["prefix"]) == (
        "aws",
        bucket["bucket"],
        "velero",
    )
    assert location["config"] == {"region": REGIONS[plan.stack], "kmsKeyId": s3_key}
    # The key Velero writes with is the bucket's own default encryption key.
    (sse,) = [r for r in plan.by_type(SSE) if r.name == f"{plan.stack}-data-backups-sse"]
    rule = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert rule == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": s3_key}
    # CSI snapshots only: no AWS-plugin EBS snapshotter, no node-agent.
    assert configuration["features"] == "EnableCSI"
    assert configuration["volumeSnapshotLocation"] == []
    values = velero_values(plan)
    assert (values["snapshotsEnabled"], values["deployNodeAgent"]) == (False, False)
    assert values["credentials"] == {"useSecret": False}


@pytest.mark.parametrize("stack", PROD_STACKS)
def test_irsa_policy_is_scoped_to_the_bucket_prefix_and_key(plan_of: PlanOf, stack: str) -> None:
    plan = plan_of(stack)
    bucket_arn = backups_bucket(plan)["arn"]
    policy = statements(
        by_name(plan, "aws:iam/rolePolicy:RolePolicy")[f"{stack}-velero-velero-policy"].inputs[
            "policy"
        ]
    )
    assert set(policy) == {"ListVeleroPrefix", "VeleroObjects", "BackupsKeyThroughS3"}
    assert policy["ListVeleroPrefix"]["Resource"] == bucket_arn
    assert policy["ListVeleroPrefix"]["Condition"] == {"StringLike": {"s3:prefix": ["velero/*"]}}
    assert policy["VeleroObjects"]["Resource"] == f"{bucket_arn}/velero/*"
    assert policy["BackupsKeyThroughS3"]["Resource"] == key_arn(plan, "s3")
    assert policy["BackupsKeyThroughS3"]["Condition"] == {
        "StringEquals": {"kms:ViaService": f"s3.{REGIONS[plan.stack]}.amazonaws.com"}
    }
    actions = [
        a
        for s in policy.values()
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert not any(a.startswith(("ec2:", "iam:")) or a == "*" for a in actions)
    assert all(s["Resource"] != "*" for s in policy.values())
    # Only the chart's server ServiceAccount assumes it, and the chart is given the role.
    role = by_name(plan, "aws:iam/role:Role")[f"{stack}-velero-velero-role"]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Condition"]
    assert f"system:serviceaccount:velero:{velero.SERVICE_ACCOUNT}" in json.dumps(trust)
    account = velero_values(plan)["serviceAccount"]["server"]
    assert account["name"] == velero.SERVICE_ACCOUNT
    assert account["annotations"]["eks.amazonaws.com/role-arn"] == state(plan, role)["arn"]


def test_velero_pods_pass_restricted_in_their_namespace(plan_of: PlanOf) -> None:
    plan = plan_of("prod")
    values = velero_values(plan)
    pod = values["podSecurityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] == 65534
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert values["containerSecurityContext"] == CONTAINER_SECURITY
    assert values["kubectl"]["containerSecurityContext"] == CONTAINER_SECURITY
    (plugin,) = values["initContainers"]
    assert (
        plugin["image"] == velero.PLUGIN_IMAGE and plugin["securityContext"] == CONTAINER_SECURITY
    )
    namespace = by_name(plan, "kubernetes:core/v1:Namespace")["prod-velero-ns"]
    labels = namespace.inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    release = by_name(plan, RELEASE)["prod-velero-velero"]
    assert release.inputs["namespace"] == "velero"


def test_backup_alerts_are_on_and_their_metrics_are_scraped(plan_of: PlanOf) -> None:
    plan = plan_of("prod")
    monitor = by_name(plan, "kubernetes:monitoring.coreos.com/v1:PodMonitor")[
        "prod-velero-velero-podmonitor"
    ]
    assert monitor.inputs["metadata"]["namespace"] == "monitoring"
    spec = monitor.inputs["spec"]
    assert spec["namespaceSelector"] == {"matchNames": ["velero"]}
    assert spec["podMetricsEndpoints"] == [{"port": "http-monitoring", "interval": "30s"}]
    rules = [
        r
        for r in plan.by_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
        if r.inputs["metadata"]["name"] == "agent-factory-backups"
    ]
    (group,) = rules[0].inputs["spec"]["groups"]
    exprs = {rule["alert"]: rule["expr"] for rule in group["rules"]}
    assert set(exprs) == {"BackupFailed", "BackupMissing"}
    assert f'schedule="{velero.SCHEDULE}"' in exprs["BackupMissing"]
    findings, examined = check_scrapes(plan)
    assert examined and not findings, findings


def test_velero_objects_wait_for_their_namespace_crds_and_snapshot_class(plan_of: PlanOf) -> None:
    plan = plan_of("prod")
    findings, _ = check_order(plan)
    assert not findings, findings
    release = by_name(plan, RELEASE)["prod-velero-velero"]
    snapshot_class = one(plan, "kubernetes:snapshot.storage.k8s.io/v1:VolumeSnapshotClass", "")
    assert snapshot_class.urn in release.dependencies
    assert snapshot_class.inputs["driver"] == "ebs.csi.aws.com"
    assert snapshot_class.inputs["metadata"]["name"] == EBS_SNAPSHOT_CLASS
    assert snapshot_class.inputs["metadata"]["labels"][velero.CSI_CLASS_LABEL] == "true"
    addon = by_name(plan, "aws:eks/addon:Addon")["prod-addons-snapshot-controller"]
    assert addon.inputs["addonName"] == "snapshot-controller"
    assert addon.urn in snapshot_class.dependencies


def test_a_snapshot_class_without_its_addon_is_caught(plan_of: PlanOf) -> None:
    """The order check must fail a VolumeSnapshotClass no snapshot-controller add-on
    precedes (the add-on is what installs its CRDs)."""
    plan = plan_of("dev")
    addon = by_name(plan, "aws:eks/addon:Addon")["dev-addons-snapshot-controller"]
    stripped = replace(plan, resources=[r for r in plan.resources if r.urn != addon.urn])
    findings, _ = check_order(stripped)
    assert any("snapshot.storage.k8s.io" in f.message for f in findings)


# -- data-store windows ---------------------------------------------------------------


@pytest.mark.parametrize("stack", PROD_STACKS)
def test_backup_windows_are_the_seeds_and_apart_from_maintenance(
    plan_of: PlanOf, stack: str
) -> None:
    plan = plan_of(stack)
    writers = [r for r in plan.by_type("aws:rds/instance:Instance") if r.inputs.get("backupWindow")]
    for instance in writers:
        assert instance.inputs["backupWindow"] == "02:00-03:00"
        assert not windows_overlap("02:00-03:00", instance.inputs["maintenanceWindow"])
    (cache,) = plan.by_type("aws:elasticache/replicationGroup:ReplicationGroup")
    assert cache.inputs["snapshotWindow"] == "03:00-04:00"
    assert not windows_overlap("03:00-04:00", cache.inputs["maintenanceWindow"])
    # Only the primary takes automated backups; the secondaries' replicas keep none.
    assert bool(writers) == (stack == "prod")


@pytest.mark.parametrize(
    ("daily", "weekly", "overlaps"),
    [
        ("02:00-03:00", "sun:04:00-sun:05:00", False),
        ("02:00-03:00", "sun:02:30-sun:03:30", True),
        ("03:00-04:00", "mon:03:59-mon:04:30", True),
        ("23:30-00:30", "tue:00:00-tue:00:15", True),
        ("02:00-03:00", "sat:23:00-sun:02:00", False),
        ("02:00-03:00", "sat:23:00-sun:02:01", True),
    ],
)
def test_window_overlap(daily: str, weekly: str, overlaps: bool) -> None:
    assert windows_overlap(daily, weekly) is overlaps


BASE = {
    "environment": "prod",
    "team": "platform-sre",
    "costCenter": "agent-factory",
    "account": "prod",
    "services": SERVICES,
}


@pytest.mark.parametrize(
    ("overrides", "key", "fragment"),
    [
        (
            {"dataStores": {"postgres": {"maintenanceWindow": "wed:02:30-wed:03:30"}}},
            "dataStores.postgres.maintenanceWindow",
            "overlaps backupWindow 02:00-03:00",
        ),
        (
            {"dataStores": {"cache": {"maintenanceWindow": "fri:03:00-fri:04:00"}}},
            "dataStores.cache.maintenanceWindow",
            "overlaps snapshotWindow 03:00-04:00",
        ),
        ({"backups": {"schedule": "every 6 hours"}}, "backups.schedule", "five-field cron"),
        ({"backups": {"retentionDays": 90}}, "backups.retentionDays", "Glacier transition"),
    ],
)
def test_bad_backup_settings_name_the_key(
    overrides: dict[str, Any], key: str, fragment: str
) -> None:
    config = {
        k: v if isinstance(v, str) else json.dumps(v) for k, v in {**BASE, **overrides}.items()
    }
    with pytest.raises(SettingsError) as caught:
        load_settings("prod", "us-east-1", config)
    message = str(caught.value)
    assert message.startswith(f"agent-factory:{key}: "), message
    assert fragment in message


# -- events to the alarm topic --------------------------------------------------------


@pytest.mark.parametrize("stack", PROD_STACKS)
def test_failure_rules_target_the_alarm_topic(plan_of: PlanOf, stack: str) -> None:
    plan = plan_of(stack)
    topic = state(plan, by_name(plan, TOPIC)[f"{stack}-observability-alarms"])["arn"]
    prefix = f"agent-factory-{stack}"
    rules = {r.inputs["name"]: json.loads(r.inputs["eventPattern"]) for r in plan.by_type(RULE)}
    ours = {name: p for name, p in rules.items() if name.endswith("-failed")}
    assert set(ours) == {
        f"{prefix}-rds-backup-failed",
        f"{prefix}-cache-snapshot-failed",
        f"{prefix}-aws-backup-failed",
    }
    rds = ours[f"{prefix}-rds-backup-failed"]
    assert rds["source"] == ["aws.rds"]
    assert rds["detail"]["EventCategories"] == ["backup"]
    assert {"prefix": f"{prefix}-postgres"} in rds["detail"]["SourceIdentifier"]
    cache = ours[f"{prefix}-cache-snapshot-failed"]
    assert cache["source"] == ["aws.elasticache"]
    assert "Snapshot Creation Failed" in cache["detail-type"]
    assert cache["detail"]["SourceIdentifier"] == [{"prefix": f"{prefix}-cache"}]
    backup = ours[f"{prefix}-aws-backup-failed"]
    assert backup["source"] == ["aws.backup"]
    assert backup["detail"]["state"] == ["FAILED", "ABORTED", "EXPIRED"]
    targets = {t.inputs["rule"]: t.inputs["arn"] for t in plan.by_type(TARGET)}
    assert all(targets[name] == topic for name in ours)
    policy = one(plan, "aws:sns/topicPolicy:TopicPolicy", "-observability-alarms-policy")
    for target in plan.by_type(TARGET):
        assert policy.urn in target.dependencies


@pytest.mark.parametrize("stack", PROD_STACKS)
def test_topic_and_key_policies_admit_the_publishers(plan_of: PlanOf, stack: str) -> None:
    plan = plan_of(stack)
    topic_resource = by_name(plan, TOPIC)[f"{stack}-observability-alarms"]
    topic = state(plan, topic_resource)["arn"]
    logs_key = key_arn(plan, "logs")
    assert topic_resource.inputs["kmsMasterKeyId"] == logs_key
    policy = one(plan, "aws:sns/topicPolicy:TopicPolicy", "-observability-alarms-policy")
    assert policy.inputs["arn"] == topic
    topic_statements = statements(policy.inputs["policy"])
    account = plan.states[topic_resource.urn]["arn"].split(":")[4]
    for sid, service, source in (
        (
            "EventBridgeRules",
            "events.amazonaws.com",
            f":events:{REGIONS[plan.stack]}:{account}:rule/*",
        ),
        ("S3ReplicationEvents", "s3.amazonaws.com", f":s3:::agent-factory-{stack}-*"),
        ("CloudWatchAlarms", "cloudwatch.amazonaws.com", f":{account}:alarm:*"),
    ):
        statement = topic_statements[sid]
        assert statement["Principal"] == {"Service": service}
        assert statement["Action"] == "sns:Publish" and statement["Resource"] == topic
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": account}
        assert statement["Condition"]["ArnLike"]["aws:SourceArn"].endswith(source)
    key = statements(by_name(plan, KEY)[f"{stack}-keys-logs"].inputs["policy"])
    for sid, service in (
        ("EventBridgeRulesToSns", "events.amazonaws.com"),
        ("S3NotificationsToSns", "s3.amazonaws.com"),
        ("CloudWatchAlarmsToSns", "cloudwatch.amazonaws.com"),
    ):
        assert key[sid]["Principal"] == {"Service": service}
        assert set(key[sid]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


def test_replicated_buckets_notify_missed_thresholds_where_rtc_is_on(plan_of: PlanOf) -> None:
    plan = plan_of("prod")
    topic = state(plan, by_name(plan, TOPIC)["prod-observability-alarms"])["arn"]
    notifications = {n.name: n for n in plan.by_type(NOTIFICATION)}
    assert set(notifications) == {
        "prod-backup-events-audit-logs-replication",
        "prod-backup-events-backups-replication",
    }
    buckets = by_name(plan, "aws:s3/bucket:Bucket")
    for purpose in ("audit-logs", "backups"):
        notification = notifications[f"prod-backup-events-{purpose}-replication"]
        assert notification.inputs["bucket"] == state(plan, buckets[f"prod-data-{purpose}"])["id"]
        (target,) = notification.inputs["topics"]
        assert target["topicArn"] == topic
        assert set(target["events"]) == set(REPLICATION_EVENTS)
    # The events exist only for rules with replication metrics and RTC.
    for config in plan.by_type(REPLICATION):
        for rule in config.inputs["rules"]:
            destination = rule["destination"]
            assert destination["metrics"]["status"] == "Enabled"
            assert destination["replicationTime"]["status"] == "Enabled"
    # Secondaries replicate nothing out, so they get no notifications.
    assert not plan_of("prod-us-west-2").by_type(NOTIFICATION)


# -- the restore tool agrees with what is deployed ------------------------------------


def test_restore_tool_names_what_the_plan_deploys(plan_of: PlanOf) -> None:
    plan = plan_of("prod")
    values = velero_values(plan)
    release = by_name(plan, RELEASE)["prod-velero-velero"]
    assert release.inputs["namespace"] == restore.VELERO_NAMESPACE
    # The chart names the Schedule <fullname>-<key>; the fullname of release "velero" of
    # chart "velero" (no override) is the release name. Alerts and runbooks use that name.
    (key,) = values["schedules"]
    assert "fullnameOverride" not in values and "nameOverride" not in values
    assert restore.VELERO_SCHEDULE == f"{release.inputs['name']}-{key}" == "velero-platform-6h"
    (location,) = values["configuration"]["backupStorageLocation"]
    assert location["name"] == restore.VELERO_LOCATION
    procedure = restore.velero_namespace(plan, "tenant-acme")
    first = procedure.steps[0].command
    assert first is not None
    assert first.argv[:4] == ("velero", "backup-location", "get", restore.VELERO_LOCATION)
    without = replace(plan, resources=[r for r in plan.resources if r.urn != release.urn])
    with pytest.raises(restore.RestoreError, match="does not install Velero"):
        restore.velero_namespace(without, "tenant-acme")

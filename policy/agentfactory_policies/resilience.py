"""Production resilience: mandatory on prod stacks, advisory elsewhere (policy/config)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .core import Finding, Resource, Rule, as_bool, as_int, as_list, guarded, must, present

AREA = "resilience"
STATEFUL = frozenset(
    {
        "aws:rds/instance:Instance",
        "aws:rds/cluster:Cluster",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
        "eks:index:Cluster",
        "aws:eks/cluster:Cluster",
        "aws:msk/cluster:Cluster",
        "aws:opensearch/domain:Domain",
        "aws:dynamodb/table:Table",
        # Audit and detection: deleting the trail or the detector blinds the account.
        "aws:cloudtrail/trail:Trail",
        "aws:guardduty/detector:Detector",
    }
)
CONTROL_PLANE_LOGS = {"api", "audit", "authenticator", "controllerManager", "scheduler"}


def _is_replica(r: Resource) -> bool:
    return present(r.props.get("replicateSourceDb"))


def rds_multi_az(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    yield from must(
        lambda: _is_replica(r) or as_bool(r.props.get("multiAz")),
        "multiAz must be true for a primary instance",
    )


def rds_backups(r: Resource, config: Mapping[str, Any]) -> Iterator[Finding]:
    minimum = int(config.get("minimumDays", 7))
    days = r.props.get("backupRetentionPeriod")
    yield from must(
        lambda: _is_replica(r) or as_int(days) >= minimum,
        f"backupRetentionPeriod {days or 0} is below {minimum} days",
    )


def rds_deletion_protection(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    yield from must(
        lambda: as_bool(r.props.get("deletionProtection")), "deletionProtection must be true"
    )


def elasticache_failover(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    yield from must(
        lambda: as_bool(r.props.get("automaticFailoverEnabled")),
        "automaticFailoverEnabled must be true",
    )
    yield from must(lambda: as_bool(r.props.get("multiAzEnabled")), "multiAzEnabled must be true")
    yield from must(
        lambda: as_int(r.props.get("snapshotRetentionLimit")) >= 1,
        "snapshotRetentionLimit must be at least 1 day",
    )


def stateful_protected(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    if not r.protect:
        yield "stateful resource without protect=True: a careless change could delete it"


def control_plane_logs(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    def check() -> Iterator[Finding]:
        enabled = set(as_list(r.props.get("enabledClusterLogTypes")))
        missing = sorted(CONTROL_PLANE_LOGS - enabled)
        if missing:
            yield f"control-plane log types missing: {missing}"

    yield from guarded(check)


RULES = [
    Rule(
        "rds-multi-az",
        "Primary RDS instances run Multi-AZ.",
        "high",
        "Set multi_az=True.",
        AREA,
        resource_check=rds_multi_az,
        types=frozenset({"aws:rds/instance:Instance"}),
    ),
    Rule(
        "rds-backup-retention",
        "RDS keeps automated backups for at least the configured number of days.",
        "high",
        "Raise backup_retention_period (prod: 30 days).",
        AREA,
        resource_check=rds_backups,
        types=frozenset({"aws:rds/instance:Instance", "aws:rds/cluster:Cluster"}),
        config_schema={
            "minimumDays": {"type": "integer", "minimum": 1, "default": 7, "x-relax": "min"}
        },
    ),
    Rule(
        "rds-deletion-protection",
        "RDS instances and clusters have deletion protection.",
        "high",
        "Set deletion_protection=True.",
        AREA,
        resource_check=rds_deletion_protection,
        types=frozenset({"aws:rds/instance:Instance", "aws:rds/cluster:Cluster"}),
    ),
    Rule(
        "elasticache-failover",
        "ElastiCache fails over automatically across AZs and keeps snapshots.",
        "high",
        "Set automatic_failover_enabled, multi_az_enabled and snapshot_retention_limit >= 1.",
        AREA,
        resource_check=elasticache_failover,
        types=frozenset({"aws:elasticache/replicationGroup:ReplicationGroup"}),
    ),
    Rule(
        "stateful-protected",
        "Stateful resources (databases, caches, buckets, clusters, the trail and the "
        "detector) are protected in Pulumi.",
        "high",
        "Pass protect=True in the resource options of the stateful resource.",
        AREA,
        resource_check=stateful_protected,
        types=STATEFUL,
    ),
    Rule(
        "eks-control-plane-logs",
        "EKS sends all five control-plane log types to CloudWatch.",
        "medium",
        "Set enabled_cluster_log_types to api, audit, authenticator, controllerManager, scheduler.",
        AREA,
        resource_check=control_plane_logs,
        types=frozenset({"eks:index:Cluster", "aws:eks/cluster:Cluster"}),
    ),
]

"""Production resilience: mandatory on prod stacks, advisory elsewhere (policy/config)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .core import Resource, Rule, as_bool, as_list

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
    }
)
CONTROL_PLANE_LOGS = {"api", "audit", "authenticator", "controllerManager", "scheduler"}


def _is_replica(r: Resource) -> bool:
    return bool(r.props.get("replicateSourceDb"))


def rds_multi_az(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    if not _is_replica(r) and not as_bool(r.props.get("multiAz")):
        yield "multiAz must be true for a primary instance"


def rds_backups(r: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    minimum = int(config.get("minimumDays", 7))
    days = int(r.props.get("backupRetentionPeriod") or 0)
    if not _is_replica(r) and days < minimum:
        yield f"backupRetentionPeriod {days} is below {minimum} days"


def rds_deletion_protection(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    if not as_bool(r.props.get("deletionProtection")):
        yield "deletionProtection must be true"


def elasticache_failover(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    if not as_bool(r.props.get("automaticFailoverEnabled")):
        yield "automaticFailoverEnabled must be true"
    if not as_bool(r.props.get("multiAzEnabled")):
        yield "multiAzEnabled must be true"
    if int(r.props.get("snapshotRetentionLimit") or 0) < 1:
        yield "snapshotRetentionLimit must be at least 1 day"


def stateful_protected(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    if not r.protect:
        yield "stateful resource without protect=True: a careless change could delete it"


def control_plane_logs(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    key = "enabledClusterLogTypes"
    enabled = set(as_list(r.props.get(key)))
    missing = sorted(CONTROL_PLANE_LOGS - enabled)
    if missing:
        yield f"control-plane log types missing: {missing}"


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
        config_schema={"minimumDays": {"type": "integer", "minimum": 1, "default": 7}},
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
        "Stateful resources (databases, caches, buckets, clusters) are protected in Pulumi.",
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

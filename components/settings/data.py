"""``agent-factory:dataStores``: PostgreSQL, the cache, S3 buckets, Kafka and the
application secrets."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from components.offerings import check_service_class
from components.settings.base import (
    DailyWindow,
    KeyedError,
    LogRetentionDays,
    SettingsModel,
    WeeklyWindow,
)

_ENGINE_VERSION = re.compile(r"^(\d+)(\.\d+)?(\.\d+)?$")
# Majors RDS offers for PostgreSQL (13 reached end of standard support in 2026).
POSTGRES_MAJORS = (14, 15, 16, 17, 18)
_SECRET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEK = 7 * 24 * 60


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def windows_overlap(daily: str, weekly: str) -> bool:
    """Whether a daily ``hh:mm-hh:mm`` window meets a weekly ``ddd:hh:mm-ddd:hh:mm`` one on
    any day (either may wrap past midnight or the week's end). RDS rejects a backup window
    that overlaps the maintenance window; a snapshot during maintenance is skipped."""
    start, end = (_minutes(part) for part in daily.split("-"))
    length = (end - start) % (24 * 60)
    first, last = weekly.split("-")
    w_start = _DAYS.index(first[:3]) * 24 * 60 + _minutes(first[4:])
    w_length = (_DAYS.index(last[:3]) * 24 * 60 + _minutes(last[4:]) - w_start) % _WEEK
    for day in range(7):
        d_start = day * 24 * 60 + start
        # Two intervals on a circle meet when either starts inside the other.
        if (d_start - w_start) % _WEEK < w_length or (w_start - d_start) % _WEEK < length:
            return True
    return False


class PostgresSettings(SettingsModel):
    """RDS PostgreSQL: seed defaults are prod's (db.r6g.2xlarge Multi-AZ + 3 replicas)."""

    # Major version only by default: RDS picks the newest minor and
    # auto_minor_version_upgrade keeps it current, so the program never fights a patch
    # upgrade as drift.
    engine_version: str = Field(
        "18", description="PostgreSQL version, a major (18) or major.minor (18.1)."
    )
    instance_class: str = Field("db.r6g.2xlarge", description="RDS class of the writer.")
    replica_instance_class: str = Field(
        "db.r6g.xlarge", description="RDS class of each read replica."
    )
    read_replicas: Annotated[int, Field(ge=0, le=15)] = Field(
        3, description="Read replicas in the region (0 in a secondary: it is itself a replica)."
    )
    multi_az: bool = Field(True, description="Standby of the writer in another zone.")
    allocated_storage_gib: Annotated[int, Field(ge=20, le=65536)] = Field(
        500, description="Storage at creation in GiB."
    )
    max_allocated_storage_gib: Annotated[int, Field(ge=20, le=65536)] = Field(
        2000, description="Ceiling of storage autoscaling in GiB."
    )
    backup_retention_days: Annotated[int, Field(ge=1, le=35)] = Field(
        30, description="Days automated backups (point-in-time restore) are kept."
    )
    backup_window: DailyWindow = Field(
        "02:00-03:00", description="Daily UTC window of automated backups."
    )
    maintenance_window: WeeklyWindow = Field(
        "sun:04:00-sun:05:00", description="Weekly UTC maintenance window."
    )
    max_connections: Annotated[int, Field(ge=10, le=8000)] = Field(
        500, description="PostgreSQL max_connections; the connections alarm fires at 90 %."
    )
    shared_buffers_percent: Annotated[int, Field(ge=10, le=60)] = Field(
        25,
        description="shared_buffers as percent of instance memory (RDS evaluates it per "
        "instance class).",
    )
    work_mem_kib: Annotated[int, Field(ge=64, le=2097151)] = Field(
        16384, description="PostgreSQL work_mem in KiB."
    )
    slow_query_ms: Annotated[int, Field(ge=-1)] = Field(
        1000, description="Statements slower than this are logged (-1 turns it off)."
    )
    performance_insights_retention_days: Literal[7, 31, 93, 186, 372, 731] = Field(
        7, description="Days Performance Insights keeps its data."
    )
    monitoring_interval_seconds: Literal[1, 5, 10, 15, 30, 60] = Field(
        30, description="Enhanced Monitoring interval in seconds."
    )

    @field_validator("engine_version")
    @classmethod
    def _check_version(cls, value: str) -> str:
        match = _ENGINE_VERSION.match(value)
        if not match:
            raise ValueError(f"'{value}' is not a PostgreSQL version like 18 or 18.1")
        if int(match.group(1)) not in POSTGRES_MAJORS:
            raise ValueError(
                f"PostgreSQL {value} is not offered by RDS; majors "
                f"{POSTGRES_MAJORS[0]}-{POSTGRES_MAJORS[-1]}"
            )
        return value

    @field_validator("instance_class", "replica_instance_class")
    @classmethod
    def _check_class(cls, value: str) -> str:
        return check_service_class(value, "db", "RDS instance class", "db.r6g.xlarge")

    @model_validator(mode="after")
    def _check_windows(self) -> PostgresSettings:
        if windows_overlap(self.backup_window, self.maintenance_window):
            raise KeyedError(
                "maintenanceWindow",
                f"{self.maintenance_window} overlaps backupWindow {self.backup_window}",
            )
        return self

    @model_validator(mode="after")
    def _check_storage(self) -> PostgresSettings:
        if self.max_allocated_storage_gib < self.allocated_storage_gib:
            raise KeyedError(
                "maxAllocatedStorageGib",
                f"{self.max_allocated_storage_gib} is below allocatedStorageGib "
                f"{self.allocated_storage_gib}",
            )
        return self

    @property
    def major_version(self) -> str:
        return self.engine_version.split(".", 1)[0]

    @property
    def parameter_family(self) -> str:
        return f"postgres{self.major_version}"


class CacheSettings(SettingsModel):
    """ElastiCache, cluster mode on: prod 3 shards x 1 replica (seed)."""

    engine: Literal["redis", "valkey"] = Field("valkey", description="Cache engine.")
    engine_version: str = Field(
        "8.0", description="Engine version: redis 7.0 or 7.1, valkey 7.2, 8.0 or 8.1."
    )
    node_type: str = Field("cache.r7g.large", description="ElastiCache node type.")
    shards: Annotated[int, Field(ge=1, le=500)] = Field(3, description="Shards (node groups).")
    replicas_per_shard: Annotated[int, Field(ge=0, le=5)] = Field(
        1, description="Replicas of each shard's primary (0 turns failover off)."
    )
    snapshot_retention_days: Annotated[int, Field(ge=1, le=35)] = Field(
        7, description="Days daily snapshots are kept."
    )
    snapshot_window: DailyWindow = Field(
        "03:00-04:00", description="Daily UTC window of the snapshot."
    )
    maintenance_window: WeeklyWindow = Field(
        "sun:05:00-sun:06:00", description="Weekly UTC maintenance window."
    )

    @field_validator("node_type")
    @classmethod
    def _check_node(cls, value: str) -> str:
        return check_service_class(value, "cache", "ElastiCache node type", "cache.r7g.large")

    @model_validator(mode="after")
    def _check_windows(self) -> CacheSettings:
        if windows_overlap(self.snapshot_window, self.maintenance_window):
            raise KeyedError(
                "maintenanceWindow",
                f"{self.maintenance_window} overlaps snapshotWindow {self.snapshot_window}",
            )
        return self

    @model_validator(mode="after")
    def _check_engine(self) -> CacheSettings:
        allowed = {"redis": ("7.0", "7.1"), "valkey": ("7.2", "8.0", "8.1")}[self.engine]
        if self.engine_version not in allowed:
            raise KeyedError(
                "engineVersion",
                f"{self.engine} {self.engine_version} is not offered; allowed: {list(allowed)}",
            )
        return self

    @property
    def parameter_family(self) -> str:
        return f"{self.engine}{self.engine_version.split('.', 1)[0]}"

    @property
    def has_replicas(self) -> bool:
        return self.replicas_per_shard > 0


class StorageSettings(SettingsModel):
    """S3 buckets: retention and lifecycle schedules in days."""

    audit_lock_mode: Literal["COMPLIANCE", "GOVERNANCE"] | None = Field(
        None,
        description="Object Lock mode of the audit bucket; default COMPLIANCE in prod, "
        "GOVERNANCE elsewhere.",
    )
    audit_retention_days: Annotated[int, Field(ge=1, le=36500)] = Field(
        2557, description="Days audit objects are locked and kept."
    )
    audit_glacier_after_days: Annotated[int, Field(ge=1)] = Field(
        90, description="Days before audit objects move to Glacier Flexible Retrieval."
    )
    audit_deep_archive_after_days: Annotated[int, Field(ge=1)] = Field(
        365,
        description="Days before audit objects move to Deep Archive (90 or more after "
        "auditGlacierAfterDays).",
    )
    backups_infrequent_access_after_days: Annotated[int, Field(ge=30)] = Field(
        30, description="Days before backups move to Standard-IA."
    )
    backups_glacier_after_days: Annotated[int, Field(ge=1)] = Field(
        90,
        description="Days before backups move to Glacier (30 or more after "
        "backupsInfrequentAccessAfterDays).",
    )
    backups_expire_after_days: Annotated[int, Field(ge=1)] = Field(
        365,
        description="Days before backups expire (90 or more after backupsGlacierAfterDays).",
    )
    noncurrent_version_expire_days: Annotated[int, Field(ge=1)] = Field(
        90, description="Days overwritten or deleted object versions are kept."
    )
    access_logs_expire_after_days: Annotated[int, Field(ge=1)] = Field(
        365, description="Days S3 server access logs are kept."
    )
    # The traces bucket expires what Tempo's compactor missed.
    traces_retention_days: Annotated[int, Field(ge=1, le=365)] = Field(
        14, description="Days Tempo keeps traces."
    )

    @model_validator(mode="after")
    def _check_schedules(self) -> StorageSettings:
        # S3 rejects transitions to deeper classes that come earlier than shallower ones;
        # Glacier Flexible and Deep Archive also need 90 more days before expiry.
        if self.audit_deep_archive_after_days < self.audit_glacier_after_days + 90:
            raise KeyedError(
                "auditDeepArchiveAfterDays",
                "must be at least 90 days after auditGlacierAfterDays",
            )
        if self.backups_glacier_after_days < self.backups_infrequent_access_after_days + 30:
            raise KeyedError(
                "backupsGlacierAfterDays",
                "must be at least 30 days after backupsInfrequentAccessAfterDays",
            )
        if self.backups_expire_after_days < self.backups_glacier_after_days + 90:
            raise KeyedError(
                "backupsExpireAfterDays", "must be at least 90 days after backupsGlacierAfterDays"
            )
        return self


class KafkaSettings(SettingsModel):
    """MSK: TLS and IAM auth, brokers spread over the data subnets."""

    enabled: bool = Field(True, description="Create the MSK cluster.")
    kafka_version: str = Field("3.9.x", description="Kafka version MSK runs.")
    broker_instance_type: str = Field("kafka.m7g.large", description="MSK broker type.")
    brokers_per_zone: Annotated[int, Field(ge=1, le=10)] = Field(
        1, description="Brokers in each availability zone."
    )
    volume_size_gib: Annotated[int, Field(ge=1, le=16384)] = Field(
        1000, description="EBS storage of each broker in GiB."
    )
    log_retention_days: LogRetentionDays = Field(
        365, description="Days the broker log group keeps logs (a CloudWatch retention)."
    )

    @field_validator("broker_instance_type")
    @classmethod
    def _check_broker(cls, value: str) -> str:
        return check_service_class(value, "kafka", "MSK broker type", "kafka.m7g.large")


class DataStoresSettings(SettingsModel):
    """The region's stateful stores."""

    postgres: PostgresSettings = Field(
        PostgresSettings(), description="RDS PostgreSQL, the platform's database."
    )
    cache: CacheSettings = Field(CacheSettings(), description="ElastiCache (cluster mode).")
    storage: StorageSettings = Field(
        StorageSettings(), description="S3 buckets: retention and lifecycle in days."
    )
    kafka: KafkaSettings = Field(KafkaSettings(), description="Amazon MSK.")
    application_secrets: list[str] = Field(
        default_factory=lambda: ["anthropic-api-key", "anthropic-api-key-fallback"],
        description="Secrets Manager secrets the applications read; the stack creates them "
        "empty and their values are set out of band, never in code.",
    )

    @field_validator("application_secrets")
    @classmethod
    def _check_secrets(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _SECRET_NAME.match(name):
                raise ValueError(f"'{name}' must be lowercase letters, digits and '-'")
        if len(set(value)) != len(value):
            raise ValueError("names a secret twice")
        return value

"""The stack's typed settings: one model, validated on load, testable without Pulumi.

Defaults are the seed's production numbers (``devops-sre-todo.md``, Appendix A); each
``Pulumi.<stack>.yaml`` states only what differs. Object-valued keys (``network``,
``cluster``, ``nodePools``, ``autoscaler``) are deep-merged over those defaults, so a
stack file that changes one field of one pool leaves the others at the seed values.

Every validation error is reported as a single :class:`SettingsError` line that names the
config key (``agent-factory:nodePools.worker.minSize``) and what is allowed.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components.network.addressing import AddressingError, SubnetPlan, plan_subnets
from components.offerings import (
    check_instance_type,
    check_region,
    check_service_class,
    is_graviton,
)

PROJECT = "agent-factory"
ENVIRONMENTS = ("dev", "staging", "prod")

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

# Kubernetes minor versions in EKS standard support on 2026-11-30 (1.34 leaves it on
# 2026-12-02); bump together with the cluster-autoscaler image tag.
KUBERNETES_VERSION = "1.35"

_IAM_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_IAM_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_K8S_VERSION = re.compile(r"^1\.(\d+)$")
_K8S_LABEL_KEY = re.compile(r"^([a-z0-9.-]+/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")
_WINDOW = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")
_WEEKLY_WINDOW = re.compile(
    r"^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d-"
    r"(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d$"
)
_CHART_VERSION = re.compile(r"^v?\d+\.\d+\.\d+$")


class SettingsError(ValueError):
    """A config value is invalid; the message is one line naming the key."""


class _KeyedError(ValueError):
    """Raised from a model validator; ``key`` is relative to the model that raised it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


class _Model(BaseModel):
    """camelCase in YAML, snake_case in Python; unknown keys are errors (typos)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


def _minor(version: str) -> int:
    match = _K8S_VERSION.match(version)
    if not match:
        raise ValueError(f"'{version}' is not a Kubernetes minor version like {KUBERNETES_VERSION}")
    return int(match.group(1))


def _private_network(value: str) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"'{value}' is not an IPv4 CIDR block ({exc})") from None
    if not network.is_private:
        raise ValueError(f"{network} is not in a private range (RFC 1918)")
    if not 16 <= network.prefixlen <= 24:
        raise ValueError(f"{network}: a VPC must be between /16 and /24")
    return network


def _log_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(f"{value} is not a CloudWatch retention; allowed: {LOG_RETENTION_DAYS}")
    return value


def _window(pattern: re.Pattern[str], example: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"'{value}' is not a UTC window like {example}")
        return value

    return AfterValidator(check)


def _chart(value: str) -> str:
    if not _CHART_VERSION.match(value):
        raise ValueError(f"'{value}' is not a pinned chart version like 4.14.1 (no ranges)")
    return value


# Reusable field types: one rule, one message, wherever the field appears.
LogRetentionDays = Annotated[int, AfterValidator(_log_retention)]
DailyWindow = Annotated[str, _window(_WINDOW, "02:00-03:00")]
WeeklyWindow = Annotated[str, _window(_WEEKLY_WINDOW, "sun:04:00-sun:05:00")]
ChartVersion = Annotated[str, AfterValidator(_chart)]


class SubnetPrefixLengths(_Model):
    """Prefix length of each tier's subnets; private is largest (pods take VPC IPs)."""

    public: Annotated[int, Field(ge=16, le=28)] = 22
    private: Annotated[int, Field(ge=16, le=28)] = 19
    data: Annotated[int, Field(ge=16, le=28)] = 22

    def as_dict(self) -> dict[str, int]:
        return {"public": self.public, "private": self.private, "data": self.data}


class NetworkSettings(_Model):
    vpc_cidr: str = "10.0.0.0/16"
    az_count: Annotated[int, Field(ge=2, le=6)] = 3
    availability_zones: list[str] | None = None
    nat_gateways: Literal["single", "per-az"] = "per-az"
    subnet_prefix_lengths: SubnetPrefixLengths = SubnetPrefixLengths()
    flow_log_retention_days: LogRetentionDays = 365
    interface_endpoints: list[str] = Field(
        default_factory=lambda: [
            "ecr.api",
            "ecr.dkr",
            "sts",
            "logs",
            "ec2",
            "elasticloadbalancing",
            "autoscaling",
            "ssm",
            "ssmmessages",
            "ec2messages",
        ]
    )

    @field_validator("vpc_cidr")
    @classmethod
    def _check_cidr(cls, value: str) -> str:
        return str(_private_network(value))

    @field_validator("interface_endpoints")
    @classmethod
    def _check_endpoints(cls, value: list[str]) -> list[str]:
        required = {"ecr.api", "ecr.dkr", "sts", "logs", "ec2"}
        missing = sorted(required - set(value))
        if missing:
            raise ValueError(f"private nodes need endpoints for {missing}")
        if len(set(value)) != len(value):
            raise ValueError("lists a service twice")
        return value

    @model_validator(mode="after")
    def _check_zones(self) -> NetworkSettings:
        zones = self.availability_zones
        if zones is not None and (len(zones) != self.az_count or len(set(zones)) != len(zones)):
            raise _KeyedError(
                "availabilityZones",
                f"must name {self.az_count} distinct zones (azCount), got {zones}",
            )
        return self

    @property
    def vpc_network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.vpc_cidr)

    @property
    def subnets(self) -> SubnetPlan:
        return plan_subnets(self.vpc_network, self.az_count, self.subnet_prefix_lengths.as_dict())


class ClusterSettings(_Model):
    version: str = KUBERNETES_VERSION
    min_version: str = KUBERNETES_VERSION
    # Public API endpoint: off when empty, otherwise reachable only from these CIDRs.
    public_access_cidrs: list[str] = Field(default_factory=list)
    # IAM role names (resolved in the stack's account) or full role ARNs.
    admin_roles: list[str] = Field(default_factory=lambda: ["AgentFactorySRE"])
    developer_roles: list[str] = Field(default_factory=lambda: ["AgentFactoryDeveloper"])
    deletion_protection: bool | None = None
    log_retention_days: LogRetentionDays = 365

    @field_validator("version", "min_version")
    @classmethod
    def _check_version(cls, value: str) -> str:
        _minor(value)
        return value

    @field_validator("public_access_cidrs")
    @classmethod
    def _check_cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError as exc:
                raise ValueError(f"'{cidr}' is not a CIDR block ({exc})") from None
        return value

    @field_validator("admin_roles", "developer_roles")
    @classmethod
    def _check_roles(cls, value: list[str]) -> list[str]:
        for role in value:
            if not (_IAM_ROLE_ARN.match(role) or _IAM_ROLE_NAME.match(role)):
                raise ValueError(f"'{role}' is neither an IAM role name nor a role ARN")
        return value

    @model_validator(mode="after")
    def _check_minimum(self) -> ClusterSettings:
        if _minor(self.version) < _minor(self.min_version):
            raise _KeyedError(
                "version",
                f"{self.version} is below the minimum {self.min_version} (minVersion)",
            )
        return self


class Taint(_Model):
    key: str
    value: str = ""
    effect: Literal["NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"] = "NO_SCHEDULE"


class NodePoolSettings(_Model):
    instance_types: Annotated[list[str], Field(min_length=1)]
    min_size: Annotated[int, Field(ge=0)]
    max_size: Annotated[int, Field(ge=1)]
    desired_size: Annotated[int, Field(ge=0)] | None = None
    spot_percentage: Annotated[int, Field(ge=0, le=100)] = 0
    # Same-size alternatives for the spot group: more pools, fewer interruptions.
    spot_instance_types: list[str] = Field(default_factory=list)
    disk_size_gib: Annotated[int, Field(ge=20, le=16384)] = 100
    labels: dict[str, str] = Field(default_factory=dict)
    taints: list[Taint] = Field(default_factory=list)

    @field_validator("instance_types", "spot_instance_types")
    @classmethod
    def _check_types(cls, value: list[str]) -> list[str]:
        for instance_type in value:
            check_instance_type(instance_type)
            if is_graviton(instance_type):
                # The pools' launch templates use the AL2023 x86_64 AMI.
                raise ValueError(f"'{instance_type}' is arm64 (Graviton); pools run x86_64 nodes")
        return value

    @field_validator("labels")
    @classmethod
    def _check_labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not _K8S_LABEL_KEY.match(key):
                raise ValueError(f"'{key}' is not a valid Kubernetes label key")
        return value

    @model_validator(mode="after")
    def _check_sizes(self) -> NodePoolSettings:
        if self.min_size > self.max_size:
            raise _KeyedError("minSize", f"{self.min_size} is greater than maxSize {self.max_size}")
        desired = self.desired
        if not self.min_size <= desired <= self.max_size:
            raise _KeyedError(
                "desiredSize",
                f"{desired} is outside [minSize {self.min_size}, maxSize {self.max_size}]",
            )
        if self.spot_percentage:
            sizes = {t.split(".", 1)[1] for t in self.instance_types[:1] + self.spot_instance_types}
            if len(self.spot_instance_types) < 2:
                raise _KeyedError(
                    "spotInstanceTypes",
                    "needs at least two same-size types when spotPercentage > 0",
                )
            if len(sizes) != 1:
                raise _KeyedError(
                    "spotInstanceTypes",
                    f"must all be the size of {self.instance_types[0]}, "
                    f"got {self.spot_instance_types}",
                )
        return self

    @property
    def desired(self) -> int:
        return self.min_size if self.desired_size is None else self.desired_size


class AutoscalerSettings(_Model):
    chart_version: ChartVersion = "9.54.0"
    # The autoscaler's minor must match the cluster's (upstream compatibility rule).
    image_tag: str = "v1.35.0"
    scale_down_utilization_threshold: Annotated[float, Field(gt=0, lt=1)] = 0.5
    # metrics-server: the resource metrics API behind kubectl top and CPU/memory HPAs.
    metrics_server_chart_version: ChartVersion = "3.13.1"


def _seed_node_pools() -> dict[str, dict[str, Any]]:
    """Appendix A of the seed: the production node pools."""
    return {
        "system": {
            "instanceTypes": ["m6i.xlarge"],
            "minSize": 3,
            "maxSize": 5,
            "taints": [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}],
        },
        "api-gateway": {"instanceTypes": ["c6i.2xlarge"], "minSize": 3, "maxSize": 10},
        "agent-factory": {
            "instanceTypes": ["m6i.2xlarge"],
            "minSize": 3,
            "maxSize": 20,
        },
        "agent-runtime": {
            "instanceTypes": ["c6i.xlarge"],
            "minSize": 10,
            "maxSize": 100,
            "spotPercentage": 60,
            "spotInstanceTypes": [
                "c6i.xlarge",
                "c6a.xlarge",
                "c5.xlarge",
                "c5a.xlarge",
                "c7i.xlarge",
            ],
        },
        "worker": {
            "instanceTypes": ["m6i.xlarge"],
            "minSize": 5,
            "maxSize": 50,
            "spotPercentage": 80,
            "spotInstanceTypes": [
                "m6i.xlarge",
                "m6a.xlarge",
                "m5.xlarge",
                "m5a.xlarge",
                "m7i.xlarge",
            ],
        },
    }


_ENGINE_VERSION = re.compile(r"^(\d+)(\.\d+)?(\.\d+)?$")
# Majors RDS offers for PostgreSQL (13 reached end of standard support in 2026).
POSTGRES_MAJORS = (14, 15, 16, 17, 18)
_SECRET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class PostgresSettings(_Model):
    """RDS PostgreSQL: seed defaults are prod's (db.r6g.2xlarge Multi-AZ + 3 replicas)."""

    # Major version only: RDS picks the newest minor and auto_minor_version_upgrade
    # keeps it current, so the program never fights a patch upgrade as drift.
    engine_version: str = "18"
    instance_class: str = "db.r6g.2xlarge"
    replica_instance_class: str = "db.r6g.xlarge"
    read_replicas: Annotated[int, Field(ge=0, le=15)] = 3
    multi_az: bool = True
    allocated_storage_gib: Annotated[int, Field(ge=20, le=65536)] = 500
    max_allocated_storage_gib: Annotated[int, Field(ge=20, le=65536)] = 2000
    backup_retention_days: Annotated[int, Field(ge=1, le=35)] = 30
    backup_window: DailyWindow = "02:00-03:00"
    maintenance_window: WeeklyWindow = "sun:04:00-sun:05:00"
    max_connections: Annotated[int, Field(ge=10, le=8000)] = 500
    # Percent of instance memory; RDS evaluates the formula per instance class.
    shared_buffers_percent: Annotated[int, Field(ge=10, le=60)] = 25
    work_mem_kib: Annotated[int, Field(ge=64, le=2097151)] = 16384
    slow_query_ms: Annotated[int, Field(ge=-1)] = 1000
    performance_insights_retention_days: Literal[7, 31, 93, 186, 372, 731] = 7
    monitoring_interval_seconds: Literal[1, 5, 10, 15, 30, 60] = 30

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
    def _check_storage(self) -> PostgresSettings:
        if self.max_allocated_storage_gib < self.allocated_storage_gib:
            raise _KeyedError(
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


class CacheSettings(_Model):
    """ElastiCache, cluster mode on: prod 3 shards x 1 replica (seed)."""

    engine: Literal["redis", "valkey"] = "valkey"
    engine_version: str = "8.0"
    node_type: str = "cache.r7g.large"
    shards: Annotated[int, Field(ge=1, le=500)] = 3
    replicas_per_shard: Annotated[int, Field(ge=0, le=5)] = 1
    snapshot_retention_days: Annotated[int, Field(ge=1, le=35)] = 7
    snapshot_window: DailyWindow = "03:00-04:00"
    maintenance_window: WeeklyWindow = "sun:05:00-sun:06:00"

    @field_validator("node_type")
    @classmethod
    def _check_node(cls, value: str) -> str:
        return check_service_class(value, "cache", "ElastiCache node type", "cache.r7g.large")

    @model_validator(mode="after")
    def _check_engine(self) -> CacheSettings:
        allowed = {"redis": ("7.0", "7.1"), "valkey": ("7.2", "8.0", "8.1")}[self.engine]
        if self.engine_version not in allowed:
            raise _KeyedError(
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


class StorageSettings(_Model):
    """S3 buckets: retention and lifecycle schedules in days."""

    # Object Lock mode of the audit bucket; None means COMPLIANCE in prod, GOVERNANCE elsewhere.
    audit_lock_mode: Literal["COMPLIANCE", "GOVERNANCE"] | None = None
    audit_retention_days: Annotated[int, Field(ge=1, le=36500)] = 2557
    audit_glacier_after_days: Annotated[int, Field(ge=1)] = 90
    audit_deep_archive_after_days: Annotated[int, Field(ge=1)] = 365
    backups_infrequent_access_after_days: Annotated[int, Field(ge=30)] = 30
    backups_glacier_after_days: Annotated[int, Field(ge=1)] = 90
    backups_expire_after_days: Annotated[int, Field(ge=1)] = 365
    noncurrent_version_expire_days: Annotated[int, Field(ge=1)] = 90
    access_logs_expire_after_days: Annotated[int, Field(ge=1)] = 365
    # Tempo keeps traces this long; the traces bucket expires what its compactor missed.
    traces_retention_days: Annotated[int, Field(ge=1, le=365)] = 14

    @model_validator(mode="after")
    def _check_schedules(self) -> StorageSettings:
        # S3 rejects transitions to deeper classes that come earlier than shallower ones;
        # Glacier Flexible and Deep Archive also need 90 more days before expiry.
        if self.audit_deep_archive_after_days < self.audit_glacier_after_days + 90:
            raise _KeyedError(
                "auditDeepArchiveAfterDays",
                "must be at least 90 days after auditGlacierAfterDays",
            )
        if self.backups_glacier_after_days < self.backups_infrequent_access_after_days + 30:
            raise _KeyedError(
                "backupsGlacierAfterDays",
                "must be at least 30 days after backupsInfrequentAccessAfterDays",
            )
        if self.backups_expire_after_days < self.backups_glacier_after_days + 90:
            raise _KeyedError(
                "backupsExpireAfterDays", "must be at least 90 days after backupsGlacierAfterDays"
            )
        return self


class KafkaSettings(_Model):
    """MSK: TLS and IAM auth, brokers spread over the data subnets."""

    enabled: bool = True
    kafka_version: str = "3.9.x"
    broker_instance_type: str = "kafka.m7g.large"
    brokers_per_zone: Annotated[int, Field(ge=1, le=10)] = 1
    volume_size_gib: Annotated[int, Field(ge=1, le=16384)] = 1000
    log_retention_days: LogRetentionDays = 365

    @field_validator("broker_instance_type")
    @classmethod
    def _check_broker(cls, value: str) -> str:
        return check_service_class(value, "kafka", "MSK broker type", "kafka.m7g.large")


class DataStoresSettings(_Model):
    postgres: PostgresSettings = PostgresSettings()
    cache: CacheSettings = CacheSettings()
    storage: StorageSettings = StorageSettings()
    kafka: KafkaSettings = KafkaSettings()
    # Application secrets whose values are set out of band (console / CLI), never in code.
    application_secrets: list[str] = Field(
        default_factory=lambda: ["anthropic-api-key", "anthropic-api-key-fallback"]
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


_DNS_LABEL = re.compile(r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$")
_DOMAIN = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}$")
_ORIGIN = re.compile(r"^https://([a-z0-9*]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}(:\d+)?$")

# Seed Sprint 2: the workload namespace's quota per environment (CPU cores, memory GiB).
WORKLOAD_QUOTAS = {"dev": (50, 100), "staging": (75, 150), "prod": (200, 400)}


class QuotaTier(_Model):
    """What one tenant tier may use: a ResourceQuota plus LimitRange bounds."""

    cpu: Annotated[int, Field(ge=1)]
    memory_gib: Annotated[int, Field(ge=1)]
    pods: Annotated[int, Field(ge=1)]
    max_container_cpu: str
    max_container_memory: str


def _seed_tiers() -> dict[str, QuotaTier]:
    # Seed Sprint 10 names the tiers; sizes grow about 4x per tier.
    sizes = {
        # tier: (cpu, memory GiB, pods, max container cpu, max container memory)
        "small": (4, 8, 20, "1", "2Gi"),
        "medium": (16, 32, 60, "2", "4Gi"),
        "large": (64, 128, 200, "4", "8Gi"),
        "enterprise": (200, 400, 600, "8", "16Gi"),
    }
    return {
        tier: QuotaTier(
            cpu=cpu, memory_gib=mem, pods=pods, max_container_cpu=ccpu, max_container_memory=cmem
        )
        for tier, (cpu, mem, pods, ccpu, cmem) in sizes.items()
    }


class TenantSettings(_Model):
    name: str
    tier: Literal["small", "medium", "large", "enterprise"]
    # An existing IAM role (name or ARN) to map as the tenant's admins. None: the stack
    # creates AgentFactoryTenant-<name>-<stack>, assumable only by admin_principals.
    admin_role: str | None = None
    # Who may assume the created admin role: role names, ARNs or ARN patterns (e.g.
    # aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_TenantAcme_*). Default: the role
    # AgentFactoryTenantAdmin-<name> of the stack's account.
    admin_principals: list[str] = Field(default_factory=list)

    @property
    def admin_principals_or_default(self) -> list[str]:
        return self.admin_principals or [f"AgentFactoryTenantAdmin-{self.name}"]

    @field_validator("admin_principals")
    @classmethod
    def _check_principals(cls, value: list[str]) -> list[str]:
        pattern = re.compile(r"^(arn:aws[a-z-]*:iam::\d{12}:role/)?[\w+=,.@/*-]{1,512}$")
        for principal in value:
            if not pattern.match(principal):
                raise ValueError(f"'{principal}' is not an IAM role name, ARN or ARN pattern")
        return value

    @model_validator(mode="after")
    def _check_admins(self) -> TenantSettings:
        if self.admin_role is not None and self.admin_principals:
            raise _KeyedError(
                "adminPrincipals", "applies only to the role the stack creates (no adminRole)"
            )
        return self

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _DNS_LABEL.match(value):
            raise ValueError(f"'{value}' must be a DNS label of at most 40 characters")
        return value

    @field_validator("admin_role")
    @classmethod
    def _check_role(cls, value: str | None) -> str | None:
        if value is not None and not (_IAM_ROLE_ARN.match(value) or _IAM_ROLE_NAME.match(value)):
            raise ValueError(f"'{value}' is neither an IAM role name nor a role ARN")
        return value


class IngressSettings(_Model):
    # ingress-nginx is retired upstream (last releases March 2026); see docs/architecture.md.
    chart_version: ChartVersion = "4.14.1"
    replicas: Annotated[int, Field(ge=1, le=20)] = 3
    rate_limit_rps: Annotated[int, Field(ge=1)] = 1000
    cors_allowed_origins: list[str] = Field(default_factory=lambda: ["https://app.greenlang.ai"])

    @field_validator("cors_allowed_origins")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if not _ORIGIN.match(origin):
                raise ValueError(f"'{origin}' is not an https origin like https://app.example.com")
        return value


class SecuritySettings(_Model):
    domain: str = "greenlang.ai"
    acme_email: str = "platform-sre@greenlang.ai"
    # Route 53 zone for DNS-01; None lets cert-manager find the zone by the domain name.
    hosted_zone_id: str | None = None
    ingress: IngressSettings = IngressSettings()
    # Versions shown to exist upstream (cert-manager v1.21.2 was never released).
    cert_manager_chart_version: ChartVersion = "v1.21.1"
    external_secrets_chart_version: ChartVersion = "2.10.0"
    platform_replicas: Annotated[int, Field(ge=1, le=10)] = 3
    # Override of the seed quota of greenlang-<environment> (CPU cores, memory GiB).
    workload_quota_cpu: Annotated[int, Field(ge=1)] | None = None
    workload_quota_memory_gib: Annotated[int, Field(ge=1)] | None = None
    # Namespaces that may not enforce "restricted", with the reason (policy config must agree).
    pod_security_exemptions: dict[str, str] = Field(
        default_factory=lambda: {
            "monitoring": "node-exporter reads host /proc and /sys with hostPID and hostNetwork",
            "logging": "fluent-bit tails container logs from hostPath /var/log on every node",
        }
    )
    tiers: dict[str, QuotaTier] = Field(default_factory=_seed_tiers)
    tenants: list[TenantSettings] = Field(default_factory=list)
    # GuardDuty allows one detector per account and region: only one stack per account
    # and region may own it.
    guard_duty: bool = True
    cloudtrail: bool = True

    @field_validator("domain")
    @classmethod
    def _check_domain(cls, value: str) -> str:
        if not _DOMAIN.match(value):
            raise ValueError(f"'{value}' is not a DNS domain like greenlang.ai")
        return value

    @field_validator("pod_security_exemptions")
    @classmethod
    def _check_exemptions(cls, value: dict[str, str]) -> dict[str, str]:
        for namespace, reason in value.items():
            if not reason.strip():
                raise ValueError(f"exemption of '{namespace}' needs a reason")
        return value

    @model_validator(mode="after")
    def _check_tenants(self) -> SecuritySettings:
        names = [t.name for t in self.tenants]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise _KeyedError("tenants", f"tenant names must be unique, repeated: {duplicates}")
        missing = sorted({t.tier for t in self.tenants} - set(self.tiers))
        if missing:
            raise _KeyedError("tiers", f"tenants use undefined tiers {missing}")
        return self


class SloSettings(_Model):
    """Targets in percent; the seed raises availability by phase (99.9 -> 99.95 -> 99.99)."""

    availability: Annotated[float, Field(gt=90, lt=100)] = 99.9
    latency_seconds: Annotated[float, Field(gt=0)] = 0.5
    latency_objective: Annotated[float, Field(gt=50, lt=100)] = 95.0
    error_rate: Annotated[float, Field(gt=0, lt=10)] = 0.5

    @field_validator("latency_seconds")
    @classmethod
    def _check_bucket(cls, value: float) -> float:
        # The latency SLI counts requests in the ingress histogram bucket le="<latency>":
        # a value between buckets matches no series and the alerts fire forever.
        buckets = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
        if value not in buckets:
            raise ValueError(
                f"{value:g} is not a bucket of the ingress-nginx latency histogram; "
                f"allowed: {', '.join(f'{b:g}' for b in buckets)}"
            )
        return value


class OpenSearchSettings(_Model):
    engine_version: str = "OpenSearch_2.19"
    instance_type: str = "r7g.large.search"
    instance_count: Annotated[int, Field(ge=1, le=80)] = 3
    volume_gib: Annotated[int, Field(ge=10, le=16384)] = 500
    # Days a log index lives before ISM deletes it (hot all along: no UltraWarm).
    retention_days: Annotated[int, Field(ge=1, le=3650)] = 30


class ObservabilitySettings(_Model):
    kube_prometheus_stack_chart_version: ChartVersion = "79.5.0"
    # Probes the other regions' health endpoints in multi-region stacks.
    blackbox_exporter_chart_version: ChartVersion = "11.17.2"
    fluent_bit_chart_version: ChartVersion = "0.54.0"
    otel_collector_chart_version: ChartVersion = "0.140.0"
    tempo_chart_version: ChartVersion = "1.24.0"
    prometheus_retention_days: Annotated[int, Field(ge=1, le=365)] = 30
    prometheus_storage_gib: Annotated[int, Field(ge=10)] = 100
    grafana_oidc_issuer: str = "https://greenlang.okta.com"
    grafana_oidc_client_id: str = "agent-factory-grafana"
    # Percent of traces kept (seed: 1 % in prod, more elsewhere).
    trace_sampling_percent: Annotated[float, Field(gt=0, le=100)] = 1.0
    slo: SloSettings = SloSettings()
    opensearch: OpenSearchSettings = OpenSearchSettings()
    # HTTPS endpoint of the PagerDuty CloudWatch integration that the data-store alarm
    # topic notifies. A secret: set it with
    # `pulumi config set --secret --path observability.alarmEndpoint <url>`; absent, the
    # preview lists that command as a prerequisite and the topic has no subscriber.
    alarm_endpoint: str | None = None

    @field_validator("grafana_oidc_issuer")
    @classmethod
    def _check_issuer(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError(f"'{value}' must be an https issuer URL")
        return value.rstrip("/")

    @field_validator("alarm_endpoint")
    @classmethod
    def _check_alarm_endpoint(cls, value: str | None) -> str | None:
        # "[secret]": the offline preview's stand-in for a value it cannot decrypt.
        if value is not None and value != "[secret]" and not value.startswith("https://"):
            raise ValueError("must be the https:// URL of the PagerDuty CloudWatch integration")
        return value


# A Pulumi stack name, or organization/project/stack for a stack in another project.
_STACK_NAME = re.compile(r"^([A-Za-z0-9_.-]+/){0,2}[A-Za-z0-9_.-]{1,100}$")
_HEALTH_PATH = re.compile(r"^/[A-Za-z0-9/._~-]*$")


def _stack_name(value: str) -> str:
    if not _STACK_NAME.match(value):
        raise ValueError(f"'{value}' is not a stack name like prod or acme/agent-factory/prod")
    return value


StackName = Annotated[str, AfterValidator(_stack_name)]


class MultiRegionSettings(_Model):
    """This stack's part in the multi-region deployment; absent means a single-region stack.

    The primary owns the writer database, the hosted zone and S3 replication; each
    secondary holds a cross-region replica and its own regional copy of everything else.
    """

    role: Literal["primary", "secondary"]
    # secondary: the stack it replicates from (read with a StackReference).
    primary_stack: StackName | None = None
    # primary: stacks that receive S3 replicas; one not deployed yet is skipped.
    secondary_stacks: list[StackName] = Field(default_factory=list)
    # Default api.<security.domain> (seed: api.greenlang.ai).
    api_hostname: str | None = None
    # What Route 53 requests through this region's ingress to call the region healthy.
    health_check_path: str = "/healthz"
    # ElastiCache Global Datastore: secondaries become read-only members of the primary's
    # cache. Off by default: active-active regions need a writable cache each.
    cache_global_datastore: bool = False
    # Failover switch of a secondary: its database replica becomes a standalone writer.
    promote_database: bool = False
    # Secondary: also keep copies of the primary's automated backups (snapshots and
    # transaction logs) here, for a point-in-time restore that a replica cannot give after
    # a bad write. One region is enough; it is the region the runbook fails over to.
    replicate_backups: bool = False

    @field_validator("api_hostname")
    @classmethod
    def _check_hostname(cls, value: str | None) -> str | None:
        if value is not None and not _DOMAIN.match(value):
            raise ValueError(f"'{value}' is not a DNS name like api.greenlang.ai")
        return value

    @field_validator("health_check_path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if not _HEALTH_PATH.match(value) or len(value) > 255:
            raise ValueError(f"'{value}' is not an HTTP path like /healthz")
        return value

    @model_validator(mode="after")
    def _check_role(self) -> MultiRegionSettings:
        if self.role == "secondary":
            if self.primary_stack is None:
                raise _KeyedError(
                    "primaryStack",
                    "a secondary region needs the stack it replicates from (e.g. prod)",
                )
            if self.secondary_stacks:
                raise _KeyedError("secondaryStacks", "only the primary lists secondaries")
        else:
            if self.primary_stack is not None:
                raise _KeyedError("primaryStack", "the primary does not replicate from a stack")
            if self.promote_database:
                raise _KeyedError("promoteDatabase", "only a secondary's replica can be promoted")
            if self.replicate_backups:
                raise _KeyedError(
                    "replicateBackups", "only a secondary keeps the primary's backups"
                )
            if len(set(self.secondary_stacks)) != len(self.secondary_stacks):
                raise _KeyedError("secondaryStacks", "names a stack twice")
        return self


_POOL_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}$")


class Settings(_Model):
    """Everything one stack needs, validated as a whole."""

    project: str = PROJECT
    stack: str
    region: str
    environment: Literal["dev", "staging", "prod"]
    team: str
    cost_center: str
    # The AWS account this stack deploys into, by name: stacks that share one must not
    # share account-global names (IAM, S3) or per-region singletons (GuardDuty).
    account: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")]
    network: NetworkSettings = NetworkSettings()
    cluster: ClusterSettings = ClusterSettings()
    node_pools: dict[str, NodePoolSettings]
    autoscaler: AutoscalerSettings = AutoscalerSettings()
    data_stores: DataStoresSettings = DataStoresSettings()
    security: SecuritySettings = SecuritySettings()
    observability: ObservabilitySettings = ObservabilitySettings()
    multi_region: MultiRegionSettings | None = None
    # Chart name -> version, overriding components/addons/charts.py for this stack.
    charts: dict[str, ChartVersion] = Field(default_factory=dict)

    @field_validator("region")
    @classmethod
    def _check_region(cls, value: str) -> str:
        return check_region(value)

    @field_validator("charts")
    @classmethod
    def _check_charts(cls, value: dict[str, str]) -> dict[str, str]:
        from components.addons.charts import CHARTS

        unknown = sorted(set(value) - set(CHARTS))
        if unknown:
            raise ValueError(f"unknown charts {unknown}; the table has {sorted(CHARTS)}")
        return value

    @field_validator("node_pools")
    @classmethod
    def _check_pools(cls, value: dict[str, NodePoolSettings]) -> dict[str, NodePoolSettings]:
        for name in value:
            if not _POOL_NAME.match(name):
                raise ValueError(f"pool name '{name}' must be lowercase letters, digits and '-'")
        if "system" not in value:
            raise ValueError("a 'system' pool is required for cluster add-ons")
        return value

    @model_validator(mode="after")
    def _check_environment_rules(self) -> Settings:
        if self.environment == "prod":
            for cidr in self.cluster.public_access_cidrs:
                if ipaddress.ip_network(cidr).prefixlen == 0:
                    raise _KeyedError(
                        "cluster.publicAccessCidrs",
                        f"{cidr} opens the prod API endpoint to the internet; "
                        "list VPN/CI egress CIDRs or leave it empty for a private endpoint",
                    )
        try:
            self.network.subnets  # noqa: B018 - validates that the layout fits
        except AddressingError as exc:
            raise _KeyedError("network.subnetPrefixLengths", str(exc)) from None
        zones = self.network.availability_zones or []
        foreign = [zone for zone in zones if not re.fullmatch(rf"{self.region}[a-z]", zone)]
        if foreign:
            raise _KeyedError(
                "network.availabilityZones", f"{foreign} are not zones of {self.region}"
            )
        self._check_multi_region()
        return self

    def _check_multi_region(self) -> None:
        multi = self.multi_region
        if multi is None:
            return
        if multi.primary_stack is not None and self._is_own_stack(multi.primary_stack):
            raise _KeyedError("multiRegion.primaryStack", "a stack cannot replicate from itself")
        if any(self._is_own_stack(name) for name in multi.secondary_stacks):
            raise _KeyedError("multiRegion.secondaryStacks", "lists this stack itself")
        replicating = multi.role == "secondary" and not multi.promote_database
        if replicating and self.data_stores.postgres.read_replicas:
            raise _KeyedError(
                "dataStores.postgres.readReplicas",
                "a secondary's database is itself a cross-region replica; set 0",
            )
        node_type = self.data_stores.cache.node_type
        if multi.cache_global_datastore and node_type.startswith("cache.t"):
            raise _KeyedError(
                "dataStores.cache.nodeType",
                f"{node_type}: a Global Datastore needs M5/R5 or newer nodes",
            )

    @property
    def cluster_name(self) -> str:
        return f"{self.project}-{self.stack}"

    @property
    def workload_namespace(self) -> str:
        return f"greenlang-{self.environment}"

    @property
    def workload_quota(self) -> tuple[int, int]:
        cpu, memory = WORKLOAD_QUOTAS[self.environment]
        security = self.security
        return (security.workload_quota_cpu or cpu, security.workload_quota_memory_gib or memory)

    @property
    def trail_name(self) -> str:
        return f"{self.cluster_name}-trail"

    def _is_own_stack(self, reference: str) -> bool:
        parts = reference.split("/")
        project = parts[-2] if len(parts) > 1 else self.project
        return parts[-1] == self.stack and project == self.project

    @property
    def role(self) -> Literal["standalone", "primary", "secondary"]:
        return "standalone" if self.multi_region is None else self.multi_region.role

    @property
    def api_hostname(self) -> str:
        explicit = self.multi_region.api_hostname if self.multi_region else None
        return explicit or f"api.{self.security.domain}"

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def deletion_protection(self) -> bool:
        explicit = self.cluster.deletion_protection
        return self.is_prod if explicit is None else explicit

    @property
    def audit_lock_mode(self) -> str:
        explicit = self.data_stores.storage.audit_lock_mode
        if explicit is not None:
            return explicit
        return "COMPLIANCE" if self.is_prod else "GOVERNANCE"

    @property
    def max_node_count(self) -> int:
        """Nodes the pools can reach together: DaemonSets run one pod on each."""
        return sum(pool.max_size for pool in self.node_pools.values())

    @property
    def nat_gateway_count(self) -> int:
        return 1 if self.network.nat_gateways == "single" else self.network.az_count

    @property
    def tags(self) -> dict[str, str]:
        """The mandatory tags, applied as the AWS provider's default tags."""
        return {
            "Project": self.project,
            "Environment": self.environment,
            "Team": self.team,
            "CostCenter": self.cost_center,
            "ManagedBy": "pulumi",
            "Stack": self.stack,
        }


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


_OBJECT_KEYS = (
    "charts",
    "network",
    "cluster",
    "nodePools",
    "autoscaler",
    "dataStores",
    "security",
    "observability",
    "multiRegion",
)
_SCALAR_KEYS = ("environment", "team", "costCenter", "account")


def _format_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    location = [str(part) for part in error["loc"]]
    message = error["msg"]
    ctx = error.get("ctx") or {}
    inner = ctx.get("error")
    if isinstance(inner, _KeyedError):
        location, message = location + inner.key.split("."), inner.message
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    if error["type"] == "literal_error":
        message = f"got {error['input']!r}; {message[0].lower()}{message[1:]}"
    elif error["type"] == "extra_forbidden":
        message = "unknown key (check the spelling against Pulumi.yaml)"
    elif error["type"] == "missing":
        message = "is required"
    if location == ["region"]:
        return f"aws:region: {message}"
    key = ".".join(location) if location else "(stack)"
    return f"agent-factory:{key}: {message}"


# The stack name is part of bucket, domain and cluster names; the tightest limit wins.
MAX_STACK_NAME = 20
_DERIVED_FROM_STACK = re.compile(rf"^[a-z][a-z0-9-]{{0,{MAX_STACK_NAME - 1}}}$")


def load_settings(stack: str, region: str | None, values: Mapping[str, Any]) -> Settings:
    """Build and validate settings from raw config ``values`` (project keys, no namespace).

    Object values may arrive as JSON strings (that is how Pulumi hands them to programs).
    Raises :class:`SettingsError` with one line naming the key.
    """
    raw: dict[str, Any] = {}
    for key, given in values.items():
        value = given
        if key in _OBJECT_KEYS and isinstance(given, str):
            try:
                value = json.loads(given)
            except json.JSONDecodeError as exc:
                raise SettingsError(f"agent-factory:{key}: is not a valid object ({exc})") from None
            if not isinstance(value, dict):
                raise SettingsError(f"agent-factory:{key}: must be an object, got {value!r}")
        elif key not in _OBJECT_KEYS and key not in _SCALAR_KEYS:
            raise SettingsError(f"agent-factory:{key}: unknown key (check Pulumi.yaml)")
        raw[key] = value

    if not _DERIVED_FROM_STACK.match(stack):
        raise SettingsError(
            f"stack '{stack}': names derived from it need 1-{MAX_STACK_NAME} lowercase letters, "
            "digits or '-' (the OpenSearch domain af-<stack>-logs allows 28 characters)"
        )
    if region is None:
        raise SettingsError("aws:region: is required (set it in Pulumi.<stack>.yaml)")
    environment = raw.get("environment")
    if environment not in ENVIRONMENTS:
        raise SettingsError(
            f"agent-factory:environment: got {environment!r}; allowed: {', '.join(ENVIRONMENTS)}"
        )
    pools = raw.pop("nodePools", {})
    if not isinstance(pools, Mapping):
        raise SettingsError(f"agent-factory:nodePools: must be an object, got {pools!r}")
    merged_pools = _deep_merge(_seed_node_pools(), pools)
    # A pool set to null in a stack file removes it (a stack without that workload).
    merged_pools = {name: spec for name, spec in merged_pools.items() if spec is not None}
    document = {**raw, "stack": stack, "region": region, "nodePools": merged_pools}
    try:
        return Settings.model_validate(document)
    except ValidationError as exc:
        raise SettingsError(_format_error(exc)) from None
    except _KeyedError as exc:
        raise SettingsError(f"agent-factory:{exc.key}: {exc.message}") from None


def settings_from_pulumi() -> Settings:
    """Read every ``agent-factory:*`` key of the running stack, so typos are caught too."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    prefix = f"{PROJECT}:"
    keys = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    values: dict[str, Any] = {}
    for full_key in sorted(keys):
        if full_key.startswith(prefix):
            values[full_key.removeprefix(prefix)] = runtime_config.get_config(full_key)
    region = pulumi.Config("aws").get("region")
    return load_settings(pulumi.get_stack(), region, values)

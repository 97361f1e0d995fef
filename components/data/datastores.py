"""DataStores: PostgreSQL, the cache, S3 buckets, Kafka and the platform's secrets.

Everything here is stateful. In prod every store carries ``protect=True`` (and buckets
``retain_on_delete``), RDS and the cache take final snapshots, and every store is reachable
only from the cluster's node security group on its own port, inside the data subnets.
Passwords never enter code or state: RDS manages its master password in Secrets Manager;
the cache's auth token comes from ``pulumi_random`` (a secret in state) and is delivered
through Secrets Manager.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.context import AccountContext
from components.data.buckets import (
    BucketSpec,
    Lifecycle,
    ObjectLock,
    SecureBucket,
    Transition,
    access_log_delivery_statements,
    cloudtrail_delivery_statements,
)
from components.iam import service_trust_policy
from components.network.network import nodes_only_security_group
from components.prerequisites import Prerequisite, prerequisites_output
from components.settings import CacheSettings, DataStoresSettings, PostgresSettings

POSTGRES_PORT = 5432
POSTGRES_LOGS = ("postgresql", "upgrade")
REDIS_PORT = 6379
# MSK: 9098 is TLS with IAM authentication, the only listener we enable.
KAFKA_IAM_PORT = 9098
# The application database the writer creates (replicas inherit it).
DATABASE_NAME = "agentfactory"
BUCKET_PURPOSES = ("access-logs", "artifacts", "audit-logs", "backups", "traces")


@dataclass(frozen=True)
class GlobalCacheMember:
    """Join the primary's cache Global Datastore as a read-only member."""

    group_id: pulumi.Input[str]
    # AUTH is inherited from the primary: clients here need the primary's token.
    auth_token: pulumi.Input[str]


@dataclass(frozen=True)
class CrossRegionSource:
    """A secondary region's stores follow the primary region's."""

    # The primary's RDS instance ARN: this region's database is its cross-region replica.
    postgres_arn: pulumi.Input[str]
    # Failover: the replica becomes a standalone writer (irreversible).
    promote: bool = False
    # Copy the primary's automated backups into this region, kept this many days.
    backup_copy_days: int | None = None
    cache: GlobalCacheMember | None = None


@dataclass(frozen=True)
class DataStoresArgs:
    account: AccountContext
    settings: DataStoresSettings
    project: str
    stack: str
    cluster_name: str
    vpc_id: pulumi.Input[str]
    data_subnet_ids: pulumi.Input[list[str]]
    node_security_group_id: pulumi.Input[str]
    zone_count: int
    data_key_arn: pulumi.Input[str]
    s3_key_arn: pulumi.Input[str]
    secrets_key_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    audit_lock_mode: str
    trail_name: str
    # prod: protect, deletion protection, final snapshots.
    protect: bool
    # Secondary region: replicate from the primary region instead of starting empty.
    source: CrossRegionSource | None = None
    # Primary region: make the cache the primary of a Global Datastore.
    cache_global_datastore: bool = False
    # Primary region: the secondaries' client subnets, admitted to the database and cache
    # over the Transit Gateway (docs/multi-region.md).
    remote_clients: pulumi.Input[list[str]] | None = None


@dataclass(frozen=True)
class CacheNode:
    """One node of the cluster-mode cache, as CloudWatch names it (``CacheClusterId``)."""

    id: str
    shard: int
    # 1 is the shard's first node; replicas follow.
    member: int

    @property
    def label(self) -> str:
        """``<shard:04>-<member:03>``: the node's place in the group, as its id ends."""
        return f"{self.shard:04d}-{self.member:03d}"


@dataclass(frozen=True)
class PostgresOutputs:
    """What the rest of the platform needs of this region's PostgreSQL."""

    # The main instance first, then the read replicas.
    identifiers: tuple[str, ...]
    endpoint: pulumi.Output[str]
    reader_endpoints: pulumi.Output[list[str]]
    instance_arn: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    # None while the main instance is a replica (the secret lives with the primary).
    master_secret_arn: pulumi.Output[str] | None
    is_replica: bool
    security_group_id: pulumi.Output[str]


@dataclass(frozen=True)
class CacheOutputs:
    """What the rest of the platform needs of this region's cache."""

    endpoint: pulumi.Output[str]
    nodes: tuple[CacheNode, ...]
    auth_secret_arn: pulumi.Output[str]
    auth_token: pulumi.Output[str]
    # Set only where this cache is the primary of a Global Datastore.
    global_group_id: pulumi.Output[str] | None
    security_group_id: pulumi.Output[str]


# Keyword arguments of the stateful constructors, typed so that mypy checks every one of
# them against the provider's signature (a misspelt or mistyped key is an error, not a
# silently ignored input on the resources that hold the data).


class PostgresInstanceCommon(TypedDict):
    """What every PostgreSQL instance here shares, the main one and its read replicas."""

    engine: str
    storage_encrypted: bool
    kms_key_id: pulumi.Input[str]
    vpc_security_group_ids: Sequence[pulumi.Input[str]]
    parameter_group_name: pulumi.Input[str]
    publicly_accessible: bool
    auto_minor_version_upgrade: bool
    iam_database_authentication_enabled: bool
    performance_insights_enabled: bool
    performance_insights_kms_key_id: pulumi.Input[str]
    performance_insights_retention_period: int
    monitoring_interval: int
    monitoring_role_arn: pulumi.Input[str]
    enabled_cloudwatch_logs_exports: Sequence[str]
    deletion_protection: bool
    copy_tags_to_snapshot: bool
    ca_cert_identifier: str
    maintenance_window: str
    storage_type: str
    max_allocated_storage: int


class PostgresPlacement(TypedDict):
    """Size and subnets of the main instance, a writer or a cross-region replica."""

    instance_class: str
    multi_az: bool
    db_subnet_group_name: pulumi.Input[str]


class PostgresWriter(PostgresPlacement):
    """What only a writer has: backups and a final snapshot."""

    backup_retention_period: int
    backup_window: str
    delete_automated_backups: bool
    skip_final_snapshot: bool
    final_snapshot_identifier: str | None


class CacheGroupCommon(TypedDict):
    """The replication group's arguments whether or not it joins a Global Datastore."""

    replication_group_id: str
    description: str
    port: int
    replicas_per_node_group: int
    automatic_failover_enabled: bool
    multi_az_enabled: bool
    subnet_group_name: pulumi.Input[str]
    security_group_ids: Sequence[pulumi.Input[str]]
    kms_key_id: pulumi.Input[str]
    auto_minor_version_upgrade: bool
    snapshot_retention_limit: int
    snapshot_window: str
    maintenance_window: str
    final_snapshot_identifier: str | None


def postgres_instance_common(
    pg: PostgresSettings,
    *,
    protect: bool,
    key_arn: pulumi.Input[str],
    security_group_id: pulumi.Input[str],
    parameter_group_name: pulumi.Input[str],
    monitoring_role_arn: pulumi.Input[str],
) -> PostgresInstanceCommon:
    return PostgresInstanceCommon(
        engine="postgres",
        storage_encrypted=True,
        kms_key_id=key_arn,
        vpc_security_group_ids=[security_group_id],
        parameter_group_name=parameter_group_name,
        publicly_accessible=False,
        auto_minor_version_upgrade=True,
        iam_database_authentication_enabled=True,
        performance_insights_enabled=True,
        performance_insights_kms_key_id=key_arn,
        performance_insights_retention_period=pg.performance_insights_retention_days,
        monitoring_interval=pg.monitoring_interval_seconds,
        monitoring_role_arn=monitoring_role_arn,
        enabled_cloudwatch_logs_exports=list(POSTGRES_LOGS),
        deletion_protection=protect,
        copy_tags_to_snapshot=True,
        ca_cert_identifier="rds-ca-rsa2048-g1",
        maintenance_window=pg.maintenance_window,
        storage_type="gp3",
        max_allocated_storage=pg.max_allocated_storage_gib,
    )


def postgres_placement(
    pg: PostgresSettings, subnet_group_name: pulumi.Input[str]
) -> PostgresPlacement:
    return PostgresPlacement(
        instance_class=pg.instance_class,
        multi_az=pg.multi_az,
        db_subnet_group_name=subnet_group_name,
    )


def postgres_writer(
    pg: PostgresSettings, *, identifier: str, protect: bool, subnet_group_name: pulumi.Input[str]
) -> PostgresWriter:
    return PostgresWriter(
        **postgres_placement(pg, subnet_group_name),
        backup_retention_period=pg.backup_retention_days,
        backup_window=pg.backup_window,
        delete_automated_backups=not protect,
        skip_final_snapshot=not protect,
        final_snapshot_identifier=f"{identifier}-final" if protect else None,
    )


def cache_group_common(
    cache: CacheSettings,
    *,
    group_id: str,
    cluster_name: str,
    protect: bool,
    subnet_group_name: pulumi.Input[str],
    security_group_id: pulumi.Input[str],
    key_arn: pulumi.Input[str],
) -> CacheGroupCommon:
    return CacheGroupCommon(
        replication_group_id=group_id,
        description=f"{cluster_name}: cache and rate-limit state",
        port=REDIS_PORT,
        replicas_per_node_group=cache.replicas_per_shard,
        # Cluster mode requires automatic failover; Multi-AZ needs a replica to fail to.
        automatic_failover_enabled=True,
        multi_az_enabled=cache.has_replicas,
        subnet_group_name=subnet_group_name,
        security_group_ids=[security_group_id],
        kms_key_id=key_arn,
        auto_minor_version_upgrade=True,
        snapshot_retention_limit=cache.snapshot_retention_days,
        snapshot_window=cache.snapshot_window,
        maintenance_window=cache.maintenance_window,
        final_snapshot_identifier=f"{cluster_name}-cache-final" if protect else None,
    )


def cache_nodes(group_id: str, shards: int, replicas_per_shard: int) -> list[CacheNode]:
    """Cluster-mode node ids are deterministic: ``<group>-<shard:04>-<member:03>``."""
    return [
        CacheNode(f"{group_id}-{shard:04d}-{member:03d}", shard, member)
        for shard in range(1, shards + 1)
        for member in range(1, replicas_per_shard + 2)
    ]


def bucket_name(project: str, stack: str, purpose: str, account_id: str) -> str:
    """Globally unique and readable: two stacks or two accounts never collide."""
    name = f"{project}-{stack}-{purpose}-{account_id}"
    if len(name) > 63:
        raise ValueError(f"bucket name {name} is longer than S3's 63 characters")
    return name


def postgres_parameters(settings: DataStoresSettings) -> list[dict[str, str]]:
    pg = settings.postgres
    # shared_buffers is in 8 KiB pages: bytes * percent / 100 / 8192.
    shared_buffers = f"{{DBInstanceClassMemory*{pg.shared_buffers_percent}/819200}}"
    # Static parameters only take effect after a reboot; RDS rejects "immediate" for them.
    static, dynamic = "pending-reboot", "immediate"
    values = [
        ("rds.force_ssl", "1", static),
        ("max_connections", str(pg.max_connections), static),
        ("shared_buffers", shared_buffers, static),
        ("shared_preload_libraries", "pg_stat_statements", static),
        ("work_mem", str(pg.work_mem_kib), dynamic),
        ("log_min_duration_statement", str(pg.slow_query_ms), dynamic),
        ("log_lock_waits", "1", dynamic),
        ("log_temp_files", "0", dynamic),
    ]
    return [{"name": n, "value": v, "apply_method": m} for n, v, m in values]


def kafka_server_properties(zone_count: int) -> str:
    replication = min(3, zone_count)
    return "\n".join(
        [
            "auto.create.topics.enable=false",
            f"default.replication.factor={replication}",
            f"min.insync.replicas={max(1, replication - 1)}",
            "unclean.leader.election.enable=false",
            "num.partitions=6",
        ]
    )


class DataStores(pulumi.ComponentResource):
    postgres_endpoint: pulumi.Output[str]
    postgres_reader_endpoints: pulumi.Output[list[str]]
    postgres_port: int
    postgres_instance_arn: pulumi.Output[str]
    postgres_resource_id: pulumi.Output[str]
    # None while this region's database is a replica (the secret lives with the primary).
    postgres_master_secret_arn: pulumi.Output[str] | None
    # True in a secondary region until promotion: the region's main instance is a replica.
    postgres_is_replica: bool
    postgres_security_group_id: pulumi.Output[str]
    cache_endpoint: pulumi.Output[str]
    cache_nodes: list[CacheNode]
    # The nodes' ids only: what Observability reads until it takes ``cache_nodes``.
    postgres_identifiers: list[str]
    cache_port: int
    database_name: str
    kafka_port: int
    cache_auth_secret_arn: pulumi.Output[str]
    cache_auth_token: pulumi.Output[str]
    cache_global_group_id: pulumi.Output[str] | None
    cache_security_group_id: pulumi.Output[str]
    kafka_bootstrap_brokers: pulumi.Output[str] | None
    kafka_cluster_arn: pulumi.Output[str] | None
    bucket_names: dict[str, pulumi.Output[str]]
    bucket_arns: dict[str, pulumi.Output[str]]
    buckets: dict[str, SecureBucket]
    application_secret_arns: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: DataStoresArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:DataStores", name, None, opts)
        self._name = name
        self._args = args

        postgres = self._postgres()
        self.postgres_identifiers = list(postgres.identifiers)
        self.postgres_endpoint = postgres.endpoint
        self.postgres_reader_endpoints = postgres.reader_endpoints
        self.postgres_port = POSTGRES_PORT
        self.postgres_instance_arn = postgres.instance_arn
        self.postgres_resource_id = postgres.resource_id
        self.postgres_is_replica = postgres.is_replica
        self.postgres_master_secret_arn = postgres.master_secret_arn
        self.postgres_security_group_id = postgres.security_group_id

        cache = self._cache()
        self.cache_endpoint = cache.endpoint
        self.cache_nodes = list(cache.nodes)
        self.cache_port = REDIS_PORT
        self.database_name = DATABASE_NAME
        self.kafka_port = KAFKA_IAM_PORT
        self.cache_auth_secret_arn = cache.auth_secret_arn
        self.cache_auth_token = cache.auth_token
        self.cache_global_group_id = cache.global_group_id
        self.cache_security_group_id = cache.security_group_id

        self.buckets = self._buckets()
        self.bucket_names = {purpose: b.bucket_name for purpose, b in self.buckets.items()}
        self.bucket_arns = {purpose: b.arn for purpose, b in self.buckets.items()}
        kafka = self._kafka() if args.settings.kafka.enabled else None
        self.kafka_bootstrap_brokers = kafka.bootstrap_brokers_sasl_iam if kafka else None
        self.kafka_cluster_arn = kafka.arn if kafka else None
        self._prerequisites: list[Prerequisite] = []
        self.application_secret_arns = self._application_secrets()
        self.register_outputs(
            {
                **prerequisites_output(self._prerequisites),
                "postgresEndpoint": self.postgres_endpoint,
                "postgresMasterSecretArn": self.postgres_master_secret_arn,
                "cacheEndpoint": self.cache_endpoint,
                "cacheAuthSecretArn": self.cache_auth_secret_arn,
                "bucketNames": self.bucket_names,
                "kafkaBootstrapBrokers": self.kafka_bootstrap_brokers,
            }
        )

    # -- shared ----------------------------------------------------------------------

    def _security_group(
        self, store: str, port: int, service: str, *, remote: bool = False
    ) -> aws.ec2.SecurityGroup:
        args = self._args
        return nodes_only_security_group(
            f"{self._name}-{store}-sg",
            args.vpc_id,
            args.node_security_group_id,
            port,
            service,
            parent=self,
            remote_clients=args.remote_clients if remote else None,
        )

    def _stateful(self, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(
            parent=self, protect=self._args.protect, depends_on=list(depends_on)
        )

    # -- PostgreSQL ------------------------------------------------------------------

    def _postgres(self) -> PostgresOutputs:
        args, name = self._args, self._name
        pg = args.settings.postgres
        child = pulumi.ResourceOptions(parent=self)
        identifier = f"{args.cluster_name}-postgres"
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-postgres-subnets",
            description=f"{args.cluster_name}: PostgreSQL in the data subnets",
            subnet_ids=args.data_subnet_ids,
            opts=child,
        )
        security_group = self._security_group("postgres", POSTGRES_PORT, "PostgreSQL", remote=True)
        parameters = aws.rds.ParameterGroup(
            f"{name}-postgres-params",
            family=pg.parameter_family,
            description=f"{args.cluster_name}: TLS only, seed connection and memory settings",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(**p) for p in postgres_parameters(args.settings)
            ],
            opts=child,
        )
        monitoring_role = aws.iam.Role(
            f"{name}-postgres-monitoring",
            assume_role_policy=service_trust_policy("monitoring.rds.amazonaws.com"),
            opts=child,
        )
        monitoring_attachment = aws.iam.RolePolicyAttachment(
            f"{name}-postgres-monitoring-policy",
            role=monitoring_role.name,
            policy_arn=pulumi.Output.concat(
                "arn:",
                args.account.partition,
                ":iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
            ),
            opts=child,
        )

        # RDS would create these groups without retention or a key; owning them first, for
        # every instance, fixes both.
        def log_groups(resource_name: str, instance: str) -> list[aws.cloudwatch.LogGroup]:
            return [
                aws.cloudwatch.LogGroup(
                    f"{resource_name}-{log}-logs",
                    name=f"/aws/rds/instance/{instance}/{log}",
                    retention_in_days=args.log_retention_days,
                    kms_key_id=args.logs_key_arn,
                    opts=child,
                )
                for log in POSTGRES_LOGS
            ]

        common = postgres_instance_common(
            pg,
            protect=args.protect,
            key_arn=args.data_key_arn,
            security_group_id=security_group.id,
            parameter_group_name=parameters.name,
            monitoring_role_arn=monitoring_role.arn,
        )
        primary_opts = self._stateful(
            depends_on=[*log_groups(f"{name}-postgres", identifier), monitoring_attachment]
        )
        source = args.source
        if source is None:
            primary = aws.rds.Instance(
                f"{name}-postgres",
                identifier=identifier,
                engine_version=pg.engine_version,
                # Extended support bills per vCPU-hour once a major leaves standard support;
                # refusing it makes an end-of-life version an explicit upgrade decision.
                engine_lifecycle_support="open-source-rds-extended-support-disabled",
                allocated_storage=pg.allocated_storage_gib,
                db_name=DATABASE_NAME,
                username="agentfactory_admin",
                manage_master_user_password=True,
                master_user_secret_kms_key_id=args.secrets_key_arn,
                **postgres_writer(
                    pg,
                    identifier=identifier,
                    protect=args.protect,
                    subnet_group_name=subnet_group.name,
                ),
                **common,
                opts=primary_opts,
            )
        elif source.promote:
            # A promoted cross-region replica (replicate_source_db removed): this region's
            # writer now. Engine, version, storage and users came from the old source.
            primary = aws.rds.Instance(
                f"{name}-postgres",
                identifier=identifier,
                manage_master_user_password=True,
                master_user_secret_kms_key_id=args.secrets_key_arn,
                **postgres_writer(
                    pg,
                    identifier=identifier,
                    protect=args.protect,
                    subnet_group_name=subnet_group.name,
                ),
                **common,
                opts=primary_opts,
            )
        else:
            # A cross-region replica: engine, version, storage and users come from the
            # source; the key, parameters, subnets and monitoring are this region's own.
            primary = aws.rds.Instance(
                f"{name}-postgres",
                identifier=identifier,
                replicate_source_db=source.postgres_arn,
                **postgres_placement(pg, subnet_group.name),
                # Backups start with promotion; until then the primary keeps them.
                backup_retention_period=0,
                skip_final_snapshot=True,
                **common,
                opts=primary_opts,
            )
        replica_identifiers = [
            f"{identifier}-replica-{index}" for index in range(1, pg.read_replicas + 1)
        ]
        replicas = [
            aws.rds.Instance(
                f"{name}-postgres-replica-{index}",
                identifier=replica_identifier,
                replicate_source_db=primary.identifier,
                instance_class=pg.replica_instance_class,
                # Replicas are disposable copies: no snapshot, backups stay on the primary.
                skip_final_snapshot=True,
                backup_retention_period=0,
                **common,
                opts=self._stateful(
                    depends_on=[
                        *log_groups(f"{name}-postgres-replica-{index}", replica_identifier),
                        monitoring_attachment,
                    ]
                ),
            )
            for index, replica_identifier in enumerate(replica_identifiers, start=1)
        ]

        if source is not None and source.backup_copy_days:
            # Created in this (the destination) region, encrypted with this region's key.
            aws.rds.InstanceAutomatedBackupsReplication(
                f"{name}-postgres-backup-copy",
                source_db_instance_arn=source.postgres_arn,
                kms_key_id=args.data_key_arn,
                retention_period=source.backup_copy_days,
                opts=self._stateful(),
            )
        is_replica = source is not None and not source.promote
        return PostgresOutputs(
            identifiers=(identifier, *replica_identifiers),
            endpoint=primary.address,
            reader_endpoints=pulumi.Output.all(*[r.address for r in replicas]),
            instance_arn=primary.arn,
            resource_id=primary.resource_id,
            master_secret_arn=None if is_replica else primary.master_user_secrets[0].secret_arn,
            is_replica=is_replica,
            security_group_id=security_group.id,
        )

    # -- cache -----------------------------------------------------------------------

    def _cache(self) -> CacheOutputs:
        args, name = self._args, self._name
        cache = args.settings.cache
        child = pulumi.ResourceOptions(parent=self)
        subnet_group = aws.elasticache.SubnetGroup(
            f"{name}-cache-subnets",
            description=f"{args.cluster_name}: cache in the data subnets",
            subnet_ids=args.data_subnet_ids,
            opts=child,
        )
        security_group = self._security_group("cache", REDIS_PORT, cache.engine, remote=True)
        group_id = f"{args.cluster_name}-cache"[:40]
        common = cache_group_common(
            cache,
            group_id=group_id,
            cluster_name=args.cluster_name,
            protect=args.protect,
            subnet_group_name=subnet_group.name,
            security_group_id=security_group.id,
            key_arn=args.data_key_arn,
        )
        member = args.source.cache if args.source else None
        token: pulumi.Output[str]
        if member is not None:
            # A Global Datastore member inherits engine, version, shards, parameters and
            # encryption from the primary; setting them here is an API error.
            token = pulumi.Output.secret(member.auth_token)
            replication_group = aws.elasticache.ReplicationGroup(
                f"{name}-cache",
                global_replication_group_id=member.group_id,
                **common,
                opts=self._stateful(),
            )
        else:
            # ElastiCache forbids @, " and / in tokens; letters and digits are always safe.
            token = random.RandomPassword(
                f"{name}-cache-auth-token", length=64, special=False, opts=child
            ).result
            parameters = aws.elasticache.ParameterGroup(
                f"{name}-cache-params",
                family=cache.parameter_family,
                description=f"{args.cluster_name}: cluster mode, evict least recently used keys",
                parameters=[
                    aws.elasticache.ParameterGroupParameterArgs(
                        name="cluster-enabled", value="yes"
                    ),
                    aws.elasticache.ParameterGroupParameterArgs(
                        name="maxmemory-policy", value="allkeys-lru"
                    ),
                ],
                opts=child,
            )
            replication_group = aws.elasticache.ReplicationGroup(
                f"{name}-cache",
                engine=cache.engine,
                engine_version=cache.engine_version,
                node_type=cache.node_type,
                cluster_mode="enabled",
                num_node_groups=cache.shards,
                parameter_group_name=parameters.name,
                at_rest_encryption_enabled=True,
                transit_encryption_enabled=True,
                transit_encryption_mode="required",
                auth_token=token,
                auth_token_update_strategy="ROTATE",
                **common,
                opts=self._stateful(),
            )
        global_group_id = None
        if args.cache_global_datastore:
            global_group = aws.elasticache.GlobalReplicationGroup(
                f"{name}-cache-global",
                # AWS puts a prefix of its own in front of this suffix.
                global_replication_group_id_suffix=group_id,
                primary_replication_group_id=replication_group.id,
                global_replication_group_description=(
                    f"{args.cluster_name}: cache replicated to the secondary regions"
                ),
                opts=self._stateful(),
            )
            global_group_id = global_group.global_replication_group_id
        secret = aws.secretsmanager.Secret(
            f"{name}-cache-auth",
            name=f"{args.cluster_name}/cache/auth-token",
            description="Auth token and endpoint of the platform cache (cluster mode, TLS)",
            kms_key_id=args.secrets_key_arn,
            recovery_window_in_days=30 if args.protect else 7,
            opts=child,
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-cache-auth-version",
            secret_id=secret.id,
            # The token is secret, so the whole document stays secret.
            secret_string=pulumi.Output.all(
                token, replication_group.configuration_endpoint_address
            ).apply(
                lambda v: json.dumps(
                    {"authToken": v[0], "host": v[1], "port": REDIS_PORT, "tls": True}
                )
            ),
            opts=child,
        )
        return CacheOutputs(
            endpoint=replication_group.configuration_endpoint_address,
            nodes=tuple(cache_nodes(group_id, cache.shards, cache.replicas_per_shard)),
            auth_secret_arn=secret.arn,
            auth_token=token,
            global_group_id=global_group_id,
            security_group_id=security_group.id,
        )

    # -- S3 --------------------------------------------------------------------------

    def _buckets(self) -> dict[str, SecureBucket]:
        args, name = self._args, self._name
        storage = args.settings.storage
        account, partition = args.account.account_id, args.account.partition

        def name_of(purpose: str) -> pulumi.Output[str]:
            return pulumi.Output.from_input(account).apply(
                lambda a: bucket_name(args.project, args.stack, purpose, a)
            )

        names = {purpose: name_of(purpose) for purpose in BUCKET_PURPOSES}
        region = args.account.region
        arns = {
            purpose: pulumi.Output.all(partition, names[purpose]).apply(
                lambda v: f"arn:{v[0]}:s3:::{v[1]}"
            )
            for purpose in BUCKET_PURPOSES
        }
        trail_arn = pulumi.Output.all(partition, account).apply(
            lambda v: f"arn:{v[0]}:cloudtrail:{region}:{v[1]}:trail/{args.trail_name}"
        )
        logged = [p for p in BUCKET_PURPOSES if p != "access-logs"]
        access_logs = SecureBucket(
            f"{name}-access-logs",
            BucketSpec(
                purpose="access-logs",
                bucket_name=names["access-logs"],
                kms_key_arn=None,
                lifecycle=Lifecycle(
                    noncurrent_expire_days=storage.noncurrent_version_expire_days,
                    expire_days=storage.access_logs_expire_after_days,
                ),
                extra_statements=pulumi.Output.all(
                    arns["access-logs"], account, partition, *[names[p] for p in logged]
                ).apply(lambda v: access_log_delivery_statements(v[0], v[1], v[2], list(v[3:]))),
            ),
            protect=args.protect,
            opts=pulumi.ResourceOptions(parent=self),
        )

        def encrypted(
            purpose: str,
            lifecycle: Lifecycle,
            object_lock: ObjectLock | None = None,
            extra_statements: pulumi.Input[list[dict[str, Any]]] | None = None,
        ) -> BucketSpec:
            """SSE-KMS with the S3 key, access-logged: every bucket but the log target."""
            return BucketSpec(
                purpose=purpose,
                bucket_name=names[purpose],
                kms_key_arn=args.s3_key_arn,
                lifecycle=lifecycle,
                log_target=access_logs.bucket_name,
                object_lock=object_lock,
                extra_statements=[] if extra_statements is None else extra_statements,
            )

        specs = {
            "artifacts": encrypted(
                "artifacts",
                lifecycle=Lifecycle(
                    noncurrent_expire_days=storage.noncurrent_version_expire_days,
                    transitions=(Transition(30, "INTELLIGENT_TIERING"),),
                ),
            ),
            "audit-logs": encrypted(
                "audit-logs",
                # Locked versions cannot expire before their retention anyway.
                lifecycle=Lifecycle(
                    noncurrent_expire_days=storage.audit_retention_days + 1,
                    transitions=(
                        Transition(storage.audit_glacier_after_days, "GLACIER"),
                        Transition(storage.audit_deep_archive_after_days, "DEEP_ARCHIVE"),
                    ),
                ),
                object_lock=ObjectLock(args.audit_lock_mode, storage.audit_retention_days),
                extra_statements=pulumi.Output.all(arns["audit-logs"], trail_arn, account).apply(
                    lambda v: cloudtrail_delivery_statements(v[0], v[1], v[2])
                ),
            ),
            "backups": encrypted(
                "backups",
                lifecycle=Lifecycle(
                    noncurrent_expire_days=storage.noncurrent_version_expire_days,
                    transitions=(
                        Transition(storage.backups_infrequent_access_after_days, "STANDARD_IA"),
                        Transition(storage.backups_glacier_after_days, "GLACIER"),
                    ),
                    expire_days=storage.backups_expire_after_days,
                ),
            ),
            # Traces are high-volume and short-lived: apart from backups so that backup
            # lifecycle and cross-region replication never carry them.
            "traces": encrypted(
                "traces",
                lifecycle=Lifecycle(
                    # Tempo's compactor deletes expired blocks; keep no old versions.
                    noncurrent_expire_days=1,
                    expire_days=storage.traces_retention_days + 1,
                ),
            ),
        }
        secured = {"access-logs": access_logs}
        for purpose, spec in specs.items():
            secured[purpose] = SecureBucket(
                f"{name}-{purpose}",
                spec,
                protect=args.protect,
                opts=pulumi.ResourceOptions(parent=self),
            )
        return secured

    # -- Kafka -----------------------------------------------------------------------

    def _kafka(self) -> aws.msk.Cluster:
        args, name = self._args, self._name
        kafka = args.settings.kafka
        child = pulumi.ResourceOptions(parent=self)
        security_group = self._security_group("kafka", KAFKA_IAM_PORT, "MSK")
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-kafka-logs",
            name=f"/aws/msk/{args.cluster_name}",
            retention_in_days=kafka.log_retention_days,
            kms_key_id=args.logs_key_arn,
            opts=child,
        )
        configuration = aws.msk.Configuration(
            f"{name}-kafka-config",
            name=f"{args.cluster_name}-kafka",
            kafka_versions=[kafka.kafka_version],
            server_properties=kafka_server_properties(args.zone_count),
            opts=child,
        )
        cluster = aws.msk.Cluster(
            f"{name}-kafka",
            cluster_name=f"{args.cluster_name}-kafka",
            kafka_version=kafka.kafka_version,
            number_of_broker_nodes=kafka.brokers_per_zone * args.zone_count,
            broker_node_group_info=aws.msk.ClusterBrokerNodeGroupInfoArgs(
                instance_type=kafka.broker_instance_type,
                client_subnets=args.data_subnet_ids,
                security_groups=[security_group.id],
                storage_info=aws.msk.ClusterBrokerNodeGroupInfoStorageInfoArgs(
                    ebs_storage_info=aws.msk.ClusterBrokerNodeGroupInfoStorageInfoEbsStorageInfoArgs(
                        volume_size=kafka.volume_size_gib
                    )
                ),
            ),
            client_authentication=aws.msk.ClusterClientAuthenticationArgs(
                sasl=aws.msk.ClusterClientAuthenticationSaslArgs(iam=True),
                unauthenticated=False,
            ),
            encryption_info=aws.msk.ClusterEncryptionInfoArgs(
                encryption_at_rest_kms_key_arn=args.data_key_arn,
                encryption_in_transit=aws.msk.ClusterEncryptionInfoEncryptionInTransitArgs(
                    client_broker="TLS", in_cluster=True
                ),
            ),
            configuration_info=aws.msk.ClusterConfigurationInfoArgs(
                arn=configuration.arn, revision=configuration.latest_revision
            ),
            logging_info=aws.msk.ClusterLoggingInfoArgs(
                broker_logs=aws.msk.ClusterLoggingInfoBrokerLogsArgs(
                    cloudwatch_logs=aws.msk.ClusterLoggingInfoBrokerLogsCloudwatchLogsArgs(
                        enabled=True, log_group=log_group.name
                    )
                )
            ),
            enhanced_monitoring="PER_TOPIC_PER_BROKER",
            opts=self._stateful(),
        )
        return cluster

    # -- application secrets ---------------------------------------------------------

    def _application_secrets(self) -> dict[str, pulumi.Output[str]]:
        args, name = self._args, self._name
        arns: dict[str, pulumi.Output[str]] = {}
        for secret_name in args.settings.application_secrets:
            entry = f"{args.cluster_name}/app/{secret_name}"
            # The services' pods mount it through an ExternalSecret: no value, no pod.
            self._prerequisites.append(
                Prerequisite(
                    what=f"Secrets Manager entry {entry} holds {secret_name} (the services' "
                    "pods that read it do not start until it does)",
                    how=(
                        f"its owner runs aws secretsmanager put-secret-value --region "
                        f"{args.account.region} --secret-id {entry} --secret-string <value>"
                    ),
                    secret=entry,
                )
            )
            # No SecretVersion: the value is put out of band (aws secretsmanager
            # put-secret-value) so it never exists in code, config or state.
            secret = aws.secretsmanager.Secret(
                f"{name}-{secret_name}",
                name=entry,
                description=f"{secret_name}: value set out of band, rotated by its owner",
                kms_key_id=args.secrets_key_arn,
                recovery_window_in_days=30 if args.protect else 7,
                opts=pulumi.ResourceOptions(parent=self),
            )
            arns[secret_name] = secret.arn
        return arns

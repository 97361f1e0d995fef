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
from dataclasses import dataclass
from typing import Any

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
from components.settings import DataStoresSettings

POSTGRES_PORT = 5432
POSTGRES_LOGS = ("postgresql", "upgrade")
REDIS_PORT = 6379
# MSK: 9098 is TLS with IAM authentication, the only listener we enable.
KAFKA_IAM_PORT = 9098
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
    cache_node_ids: list[str]
    postgres_identifiers: list[str]
    cache_port: int
    cache_auth_secret_arn: pulumi.Output[str]
    cache_auth_token: pulumi.Output[str]
    cache_global_group_id: pulumi.Output[str] | None
    cache_security_group_id: pulumi.Output[str]
    kafka_bootstrap_brokers: pulumi.Output[str] | None
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
        self._postgres()
        self._cache()
        self._buckets()
        self.kafka_bootstrap_brokers = self._kafka() if args.settings.kafka.enabled else None
        self._application_secrets()
        self.register_outputs(
            {
                "postgresEndpoint": self.postgres_endpoint,
                "postgresMasterSecretArn": self.postgres_master_secret_arn,
                "cacheEndpoint": self.cache_endpoint,
                "cacheAuthSecretArn": self.cache_auth_secret_arn,
                "bucketNames": self.bucket_names,
                "kafkaBootstrapBrokers": self.kafka_bootstrap_brokers,
            }
        )

    # -- shared ----------------------------------------------------------------------

    def _security_group(self, store: str, port: int, service: str) -> aws.ec2.SecurityGroup:
        args = self._args
        return nodes_only_security_group(
            f"{self._name}-{store}-sg",
            args.vpc_id,
            args.node_security_group_id,
            port,
            service,
            parent=self,
        )

    def _stateful(self, **extra: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, protect=self._args.protect, **extra)

    # -- PostgreSQL ------------------------------------------------------------------

    def _postgres(self) -> None:
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
        security_group = self._security_group("postgres", POSTGRES_PORT, "PostgreSQL")
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

        common: dict[str, Any] = {
            "engine": "postgres",
            "storage_encrypted": True,
            "kms_key_id": args.data_key_arn,
            "vpc_security_group_ids": [security_group.id],
            "parameter_group_name": parameters.name,
            "publicly_accessible": False,
            "auto_minor_version_upgrade": True,
            "iam_database_authentication_enabled": True,
            "performance_insights_enabled": True,
            "performance_insights_kms_key_id": args.data_key_arn,
            "performance_insights_retention_period": pg.performance_insights_retention_days,
            "monitoring_interval": pg.monitoring_interval_seconds,
            "monitoring_role_arn": monitoring_role.arn,
            "enabled_cloudwatch_logs_exports": list(POSTGRES_LOGS),
            "deletion_protection": args.protect,
            "copy_tags_to_snapshot": True,
            "ca_cert_identifier": "rds-ca-rsa2048-g1",
            "maintenance_window": pg.maintenance_window,
            "storage_type": "gp3",
            "max_allocated_storage": pg.max_allocated_storage_gib,
        }
        primary_logs = log_groups(f"{name}-postgres", identifier)
        placement: dict[str, Any] = {
            "instance_class": pg.instance_class,
            "multi_az": pg.multi_az,
            "db_subnet_group_name": subnet_group.name,
        }
        # What only a writer has: backups and a final snapshot.
        writer: dict[str, Any] = {
            **placement,
            "backup_retention_period": pg.backup_retention_days,
            "backup_window": pg.backup_window,
            "delete_automated_backups": not args.protect,
            "skip_final_snapshot": not args.protect,
            "final_snapshot_identifier": f"{identifier}-final" if args.protect else None,
        }
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
                db_name="agentfactory",
                username="agentfactory_admin",
                manage_master_user_password=True,
                master_user_secret_kms_key_id=args.secrets_key_arn,
                **writer,
                **common,
                opts=self._stateful(depends_on=[*primary_logs, monitoring_attachment]),
            )
        else:
            # A cross-region replica: engine, version, storage and users come from the
            # source; the key, parameters, subnets and monitoring are this region's own.
            # Promotion (removing replicate_source_db) turns it into this region's writer.
            role: dict[str, Any] = (
                {
                    "manage_master_user_password": True,
                    "master_user_secret_kms_key_id": args.secrets_key_arn,
                    **writer,
                }
                if source.promote
                else {
                    "replicate_source_db": source.postgres_arn,
                    **placement,
                    # Backups start with promotion; until then the primary keeps them.
                    "backup_retention_period": 0,
                    "skip_final_snapshot": True,
                }
            )
            primary = aws.rds.Instance(
                f"{name}-postgres",
                identifier=identifier,
                **role,
                **common,
                opts=self._stateful(depends_on=[*primary_logs, monitoring_attachment]),
            )
        replicas = [
            aws.rds.Instance(
                f"{name}-postgres-replica-{index}",
                identifier=f"{identifier}-replica-{index}",
                replicate_source_db=primary.identifier,
                instance_class=pg.replica_instance_class,
                # Replicas are disposable copies: no snapshot, backups stay on the primary.
                skip_final_snapshot=True,
                backup_retention_period=0,
                **common,
                opts=self._stateful(
                    depends_on=[
                        *log_groups(
                            f"{name}-postgres-replica-{index}", f"{identifier}-replica-{index}"
                        ),
                        monitoring_attachment,
                    ]
                ),
            )
            for index in range(1, pg.read_replicas + 1)
        ]

        self.postgres_identifiers = [identifier] + [
            f"{identifier}-replica-{index}" for index in range(1, pg.read_replicas + 1)
        ]
        self.postgres_endpoint = primary.address
        self.postgres_reader_endpoints = pulumi.Output.all(*[r.address for r in replicas])
        self.postgres_port = POSTGRES_PORT
        self.postgres_instance_arn = primary.arn
        self.postgres_resource_id = primary.resource_id
        if source is not None and source.backup_copy_days:
            # Created in this (the destination) region, encrypted with this region's key.
            aws.rds.InstanceAutomatedBackupsReplication(
                f"{name}-postgres-backup-copy",
                source_db_instance_arn=source.postgres_arn,
                kms_key_id=args.data_key_arn,
                retention_period=source.backup_copy_days,
                opts=self._stateful(),
            )
        self.postgres_is_replica = source is not None and not source.promote
        self.postgres_master_secret_arn = (
            None if self.postgres_is_replica else primary.master_user_secrets[0].secret_arn
        )
        self.postgres_security_group_id = security_group.id

    # -- cache -----------------------------------------------------------------------

    def _cache(self) -> None:
        args, name = self._args, self._name
        cache = args.settings.cache
        child = pulumi.ResourceOptions(parent=self)
        subnet_group = aws.elasticache.SubnetGroup(
            f"{name}-cache-subnets",
            description=f"{args.cluster_name}: cache in the data subnets",
            subnet_ids=args.data_subnet_ids,
            opts=child,
        )
        security_group = self._security_group("cache", REDIS_PORT, cache.engine)
        group_id = f"{args.cluster_name}-cache"[:40]
        # Cluster-mode node ids are deterministic: <group>-<shard:04>-<node:03>.
        self.cache_node_ids = [
            f"{group_id}-{shard:04d}-{node:03d}"
            for shard in range(1, cache.shards + 1)
            for node in range(1, cache.replicas_per_shard + 2)
        ]
        common: dict[str, Any] = {
            "replication_group_id": group_id,
            "description": f"{args.cluster_name}: cache and rate-limit state",
            "port": REDIS_PORT,
            "replicas_per_node_group": cache.replicas_per_shard,
            # Cluster mode requires automatic failover; Multi-AZ needs a replica to fail to.
            "automatic_failover_enabled": True,
            "multi_az_enabled": cache.has_replicas,
            "subnet_group_name": subnet_group.name,
            "security_group_ids": [security_group.id],
            "kms_key_id": args.data_key_arn,
            "auto_minor_version_upgrade": True,
            "snapshot_retention_limit": cache.snapshot_retention_days,
            "snapshot_window": cache.snapshot_window,
            "maintenance_window": cache.maintenance_window,
            "final_snapshot_identifier": (
                f"{args.cluster_name}-cache-final" if args.protect else None
            ),
        }
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
        self.cache_global_group_id = None
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
            self.cache_global_group_id = global_group.global_replication_group_id
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
        self.cache_endpoint = replication_group.configuration_endpoint_address
        self.cache_port = REDIS_PORT
        self.cache_auth_secret_arn = secret.arn
        self.cache_auth_token = token
        self.cache_security_group_id = security_group.id

    # -- S3 --------------------------------------------------------------------------

    def _buckets(self) -> None:
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

        def encrypted(purpose: str, lifecycle: Lifecycle, **extra: Any) -> BucketSpec:
            """SSE-KMS with the S3 key, access-logged: every bucket but the log target."""
            return BucketSpec(
                purpose=purpose,
                bucket_name=names[purpose],
                kms_key_arn=args.s3_key_arn,
                lifecycle=lifecycle,
                log_target=access_logs.bucket_name,
                **extra,
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
        self.buckets = secured
        self.bucket_names = {purpose: b.bucket_name for purpose, b in secured.items()}
        self.bucket_arns = {purpose: b.arn for purpose, b in secured.items()}

    # -- Kafka -----------------------------------------------------------------------

    def _kafka(self) -> pulumi.Output[str]:
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
        return cluster.bootstrap_brokers_sasl_iam

    # -- application secrets ---------------------------------------------------------

    def _application_secrets(self) -> None:
        args, name = self._args, self._name
        self.application_secret_arns = {}
        for secret_name in args.settings.application_secrets:
            # No SecretVersion: the value is put out of band (aws secretsmanager
            # put-secret-value) so it never exists in code, config or state.
            secret = aws.secretsmanager.Secret(
                f"{name}-{secret_name}",
                name=f"{args.cluster_name}/app/{secret_name}",
                description=f"{secret_name}: value set out of band, rotated by its owner",
                kms_key_id=args.secrets_key_arn,
                recovery_window_in_days=30 if args.protect else 7,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.application_secret_arns[secret_name] = secret.arn

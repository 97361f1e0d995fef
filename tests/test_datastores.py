"""DataStores under mocks: sizes per environment, encryption, placement, buckets, secrets."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from components.data.datastores import (
    CacheNode,
    bucket_name,
    cache_nodes,
    postgres_parameters,
    postgres_writer,
)
from components.settings import DataStoresSettings, PostgresSettings
from tests.conftest import by_name, synth_with
from tools.synth import Plan, PlannedResource

RDS = "aws:rds/instance:Instance"
CACHE = "aws:elasticache/replicationGroup:ReplicationGroup"
BUCKET = "aws:s3/bucket:Bucket"
SECRET = "aws:secretsmanager/secret:Secret"
KEY = "aws:kms/key:Key"


def state(plan: Plan, resource: PlannedResource) -> dict[str, Any]:
    return plan.states[resource.urn]


def key_arn(plan: Plan, purpose: str) -> str:
    return str(state(plan, by_name(plan, KEY)[f"{plan.stack}-keys-{purpose}"])["arn"])


def data_subnet_ids(plan: Plan) -> set[str]:
    return {
        state(plan, s)["id"]
        for s in plan.by_type("aws:ec2/subnet:Subnet")
        if s.inputs["tags"]["Tier"] == "data"
    }


def guard(plan: Plan, bucket: str, kind: str) -> dict[str, Any]:
    return by_name(plan, kind)[f"{plan.stack}-data-{bucket}-{kind_suffix(kind)}"].inputs


def kind_suffix(kind: str) -> str:
    return {
        "aws:s3/bucketVersioning:BucketVersioning": "versioning",
        "aws:s3/bucketPolicy:BucketPolicy": "policy",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "lifecycle",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "public-access",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "ownership",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
            "sse"
        ),
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": "object-lock",
        "aws:s3/bucketLogging:BucketLogging": "access-logs",
    }[kind]


# -- PostgreSQL ---------------------------------------------------------------------------


def test_prod_postgres_is_multi_az_with_three_replicas(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    instances = by_name(plan, RDS)
    primary = instances["prod-data-postgres"].inputs
    assert primary["instanceClass"] == "db.r6g.2xlarge"
    assert primary["multiAz"] is True
    assert primary["engine"] == "postgres"
    assert primary["engineVersion"] == "18"
    assert primary["backupRetentionPeriod"] == 30
    assert primary["backupWindow"] == "02:00-03:00"
    assert primary["deletionProtection"] is True
    assert primary["skipFinalSnapshot"] is False
    assert primary["finalSnapshotIdentifier"] == "agent-factory-prod-postgres-final"
    replicas = [r for name, r in instances.items() if "replica" in name]
    assert len(replicas) == 3
    source = state(plan, instances["prod-data-postgres"])["identifier"]
    for replica in replicas:
        assert replica.inputs["instanceClass"] == "db.r6g.xlarge"
        assert replica.inputs["replicateSourceDb"] == source
        assert "username" not in replica.inputs


def test_dev_postgres_is_one_small_instance(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("dev")
    (instance,) = plan.by_type(RDS)
    assert instance.inputs["instanceClass"] == "db.t4g.medium"
    assert instance.inputs["multiAz"] is False
    assert instance.inputs["backupRetentionPeriod"] == 7
    assert instance.inputs["deletionProtection"] is False
    assert instance.inputs["skipFinalSnapshot"] is True
    assert not instance.protect


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_postgres_is_encrypted_private_and_audited(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    plan = plan_of(stack)
    data_key = key_arn(plan, "data")
    for instance in plan.by_type(RDS):
        inputs = instance.inputs
        assert inputs["storageEncrypted"] is True
        assert inputs["kmsKeyId"] == data_key
        assert inputs["performanceInsightsEnabled"] is True
        assert inputs["performanceInsightsKmsKeyId"] == data_key
        assert inputs["storageType"] == "gp3"
        assert inputs["publiclyAccessible"] is False
        assert inputs["iamDatabaseAuthenticationEnabled"] is True
        assert inputs["autoMinorVersionUpgrade"] is True
        assert inputs["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
        assert inputs["monitoringInterval"] == 30
        role = by_name(plan, "aws:iam/role:Role")[f"{stack}-data-postgres-monitoring"]
        assert inputs["monitoringRoleArn"] == state(plan, role)["arn"]
        assert "monitoring.rds.amazonaws.com" in role.inputs["assumeRolePolicy"]
        assert "password" not in inputs
    log_groups = {
        g.inputs["name"]: g.inputs for g in plan.by_type("aws:cloudwatch/logGroup:LogGroup")
    }
    for instance in plan.by_type(RDS):
        identifier = state(plan, instance)["identifier"]
        for log in ("postgresql", "upgrade"):
            group = log_groups[f"/aws/rds/instance/{identifier}/{log}"]
            assert group["kmsKeyId"] == key_arn(plan, "logs")
    primary = by_name(plan, RDS)[f"{stack}-data-postgres"].inputs
    assert primary["manageMasterUserPassword"] is True
    assert primary["masterUserSecretKmsKeyId"] == key_arn(plan, "secrets")
    (subnet_group,) = plan.by_type("aws:rds/subnetGroup:SubnetGroup")
    assert set(subnet_group.inputs["subnetIds"]) == data_subnet_ids(plan)


def test_postgres_admits_only_the_cluster_nodes_on_5432(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    sg = by_name(plan, "aws:ec2/securityGroup:SecurityGroup")["prod-data-postgres-sg"]
    # The second rule admits the secondaries' clients (tests/test_transit.py).
    rule, remote = sg.inputs["ingress"]
    assert (rule["fromPort"], rule["toPort"], rule["protocol"]) == (5432, 5432, "tcp")
    assert rule["securityGroups"] == [plan.outputs["clusterSecurityGroupId"]]
    assert "cidrBlocks" not in rule
    assert (remote["fromPort"], remote["toPort"], "securityGroups" in remote) == (5432, 5432, False)
    assert sg.inputs["egress"] == []
    primary = by_name(plan, RDS)["prod-data-postgres"].inputs
    assert primary["vpcSecurityGroupIds"] == [state(plan, sg)["id"]]


def test_postgres_parameter_group_values(plan_of: Callable[[str], Plan]) -> None:
    (group,) = plan_of("prod").by_type("aws:rds/parameterGroup:ParameterGroup")
    assert group.inputs["family"] == "postgres18"
    values = {p["name"]: p["value"] for p in group.inputs["parameters"]}
    assert values["rds.force_ssl"] == "1"
    assert values["max_connections"] == "500"
    assert values["work_mem"] == "16384"
    assert values["log_min_duration_statement"] == "1000"
    # 25 % of memory in 8 KiB pages.
    assert values["shared_buffers"] == "{DBInstanceClassMemory*25/819200}"


def test_static_parameters_wait_for_a_reboot() -> None:
    methods = {p["name"]: p["apply_method"] for p in postgres_parameters(DataStoresSettings())}
    # RDS rejects "immediate" for static parameters such as these.
    for static in ("rds.force_ssl", "max_connections", "shared_buffers"):
        assert methods[static] == "pending-reboot"


# -- cache --------------------------------------------------------------------------------


def test_prod_cache_is_three_shards_with_a_replica_each(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    (group,) = plan.by_type(CACHE)
    inputs = group.inputs
    assert (inputs["numNodeGroups"], inputs["replicasPerNodeGroup"]) == (3, 1)
    assert inputs["clusterMode"] == "enabled"
    assert inputs["automaticFailoverEnabled"] is True
    assert inputs["multiAzEnabled"] is True
    assert inputs["snapshotWindow"] == "03:00-04:00"
    assert inputs["snapshotRetentionLimit"] == 7
    assert group.protect


def test_dev_cache_is_a_single_small_node(plan_of: Callable[[str], Plan]) -> None:
    (group,) = plan_of("dev").by_type(CACHE)
    inputs = group.inputs
    assert (inputs["numNodeGroups"], inputs["replicasPerNodeGroup"]) == (1, 0)
    assert inputs["nodeType"] == "cache.t4g.small"
    assert inputs["multiAzEnabled"] is False


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_cache_encryption_auth_and_parameters(plan_of: Callable[[str], Plan], stack: str) -> None:
    plan = plan_of(stack)
    (group,) = plan.by_type(CACHE)
    inputs = group.inputs
    assert inputs["atRestEncryptionEnabled"] is True
    assert inputs["kmsKeyId"] == key_arn(plan, "data")
    assert inputs["transitEncryptionEnabled"] is True
    assert inputs["transitEncryptionMode"] == "required"
    assert inputs["authToken"] == "[secret]"
    assert (inputs["engine"], inputs["engineVersion"]) == ("valkey", "8.0")
    (params,) = plan.by_type("aws:elasticache/parameterGroup:ParameterGroup")
    assert params.inputs["family"] == "valkey8"
    values = {p["name"]: p["value"] for p in params.inputs["parameters"]}
    assert values == {"cluster-enabled": "yes", "maxmemory-policy": "allkeys-lru"}
    sg = by_name(plan, "aws:ec2/securityGroup:SecurityGroup")[f"{stack}-data-cache-sg"]
    # Further rules only admit other regions' clients (tests/test_transit.py).
    rule, *remote = sg.inputs["ingress"]
    assert all("securityGroups" not in r for r in remote)
    assert (rule["fromPort"], rule["securityGroups"]) == (
        6379,
        [plan.outputs["clusterSecurityGroupId"]],
    )
    (subnets,) = plan.by_type("aws:elasticache/subnetGroup:SubnetGroup")
    assert set(subnets.inputs["subnetIds"]) == data_subnet_ids(plan)


def test_cache_nodes_are_typed_in_cluster_mode_order() -> None:
    nodes = cache_nodes("agent-factory-prod-cache", shards=2, replicas_per_shard=1)
    assert nodes == [
        CacheNode("agent-factory-prod-cache-0001-001", 1, 1),
        CacheNode("agent-factory-prod-cache-0001-002", 1, 2),
        CacheNode("agent-factory-prod-cache-0002-001", 2, 1),
        CacheNode("agent-factory-prod-cache-0002-002", 2, 2),
    ]
    assert [n.label for n in nodes] == ["0001-001", "0001-002", "0002-001", "0002-002"]
    assert all(n.id.endswith(n.label) for n in nodes)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_cache_node_is_alarmed_under_its_own_id(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    """The typed node list is what the data-store alarms watch, node by node."""
    plan = plan_of(stack)
    (group,) = plan.by_type(CACHE)
    inputs = group.inputs
    # Plan numbers are protobuf JSON numbers (floats).
    expected = cache_nodes(
        inputs["replicationGroupId"],
        int(inputs["numNodeGroups"]),
        int(inputs["replicasPerNodeGroup"]),
    )
    alarms = plan.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    # The CIS alarms on the trail's log metrics have no dimensions.
    by_node = {a.name: a.inputs.get("dimensions", {}).get("CacheClusterId") for a in alarms}
    assert set(by_node.values()) - {None} == {node.id for node in expected}
    names = {name for name, node in by_node.items() if node is not None}
    for node in expected:
        assert any(f"-cache-{node.label}-" in name for name in names)


def test_only_a_protected_writer_takes_a_final_snapshot() -> None:
    pg = PostgresSettings()
    kept = postgres_writer(pg, identifier="db", protect=True, subnet_group_name="subnets")
    assert (kept["skip_final_snapshot"], kept["final_snapshot_identifier"]) == (False, "db-final")
    assert kept["delete_automated_backups"] is False
    scratch = postgres_writer(pg, identifier="db", protect=False, subnet_group_name="subnets")
    assert (scratch["skip_final_snapshot"], scratch["final_snapshot_identifier"]) == (True, None)
    assert scratch["db_subnet_group_name"] == "subnets"


def test_redis_7_can_be_chosen_instead_of_valkey() -> None:
    plan = synth_with("dev", dataStores={"cache": {"engine": "redis", "engineVersion": "7.1"}})
    (params,) = plan.by_type("aws:elasticache/parameterGroup:ParameterGroup")
    assert params.inputs["family"] == "redis7"


# -- secrets ------------------------------------------------------------------------------


def _walk(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for item in value.values() for s in _walk(item)]
    if isinstance(value, list):
        return [s for item in value for s in _walk(item)]
    return [value] if isinstance(value, str) else []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_secret_appears_in_plain_text(plan_of: Callable[[str], Plan], stack: str) -> None:
    plan = plan_of(stack)
    passwords = plan.by_type("random:index/randomPassword:RandomPassword")
    assert len(passwords) == 2  # cache auth token, Grafana admin
    for password in passwords:
        token = state(plan, password)["result"]
        for resource in plan.resources:
            assert not any(token in text for text in _walk(resource.inputs)), resource.urn
    (version,) = [
        v
        for v in plan.by_type("aws:secretsmanager/secretVersion:SecretVersion")
        if v.name.startswith(f"{stack}-data-")
    ]
    assert version.inputs["secretString"] == "[secret]"


def test_every_secret_uses_the_secrets_key(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    secrets = by_name(plan, SECRET)
    assert {n for n in secrets if n.startswith("prod-data-")} == {
        "prod-data-cache-auth",
        "prod-data-anthropic-api-key",
        "prod-data-anthropic-api-key-fallback",
    }
    for secret in secrets.values():
        assert secret.inputs["kmsKeyId"] == key_arn(plan, "secrets")
    # Application secrets have no version: their values are set out of band.
    versions = plan.by_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert [v.name for v in versions if v.name.startswith("prod-data-")] == [
        "prod-data-cache-auth-version"
    ]


# -- buckets ------------------------------------------------------------------------------


def test_bucket_names_are_unique_per_stack_and_account(plan_of: Callable[[str], Plan]) -> None:
    names = {b.inputs["bucket"] for b in plan_of("prod").by_type(BUCKET)}
    assert names == {
        f"agent-factory-prod-{purpose}-123456789012"
        for purpose in ("access-logs", "artifacts", "audit-logs", "backups", "traces")
    }
    dev = {b.inputs["bucket"] for b in plan_of("dev").by_type(BUCKET)}
    assert not names & dev
    with pytest.raises(ValueError, match="63"):
        bucket_name("agent-factory", "a-very-long-stack-name-for-a-region", "audit-logs", "1" * 12)


@pytest.mark.parametrize("purpose", ["access-logs", "artifacts", "audit-logs", "backups", "traces"])
def test_every_bucket_is_locked_down(plan_of: Callable[[str], Plan], purpose: str) -> None:
    plan = plan_of("prod")
    prefix = "aws:s3/"
    versioning = guard(plan, purpose, prefix + "bucketVersioning:BucketVersioning")
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    block = guard(plan, purpose, prefix + "bucketPublicAccessBlock:BucketPublicAccessBlock")
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    assert all(block[flag] is True for flag in flags)
    ownership = guard(plan, purpose, prefix + "bucketOwnershipControls:BucketOwnershipControls")
    assert ownership["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    policy = json.loads(guard(plan, purpose, prefix + "bucketPolicy:BucketPolicy")["policy"])
    deny = policy["Statement"][0]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    sse_kind = (
        prefix + "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    (rule,) = guard(plan, purpose, sse_kind)["rules"]
    default = rule["applyServerSideEncryptionByDefault"]
    if purpose == "access-logs":
        # S3 log delivery cannot write into an SSE-KMS bucket.
        assert default == {"sseAlgorithm": "AES256"}
    else:
        assert default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn(plan, "s3")}
        assert rule["bucketKeyEnabled"] is True
        logging = guard(plan, purpose, prefix + "bucketLogging:BucketLogging")
        assert logging["targetBucket"] == "agent-factory-prod-access-logs-123456789012"
        assert logging["targetPrefix"] == f"{purpose}/"
    lifecycle = guard(
        plan, purpose, prefix + "bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    )
    noncurrent = [r for r in lifecycle["rules"] if r["id"] == "noncurrent-versions"]
    assert noncurrent[0]["noncurrentVersionExpiration"]["noncurrentDays"] >= 1


@pytest.mark.parametrize(
    ("stack", "mode", "days"), [("prod", "COMPLIANCE", 2557), ("dev", "GOVERNANCE", 30)]
)
def test_audit_bucket_is_worm(
    plan_of: Callable[[str], Plan], stack: str, mode: str, days: int
) -> None:
    plan = plan_of(stack)
    bucket = by_name(plan, BUCKET)[f"{stack}-data-audit-logs"]
    assert bucket.inputs["objectLockEnabled"] is True
    lock = guard(
        plan, "audit-logs", "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
    )
    assert lock["rule"]["defaultRetention"] == {"mode": mode, "days": days}
    others = [b for b in plan.by_type(BUCKET) if b is not bucket]
    assert all(b.inputs["objectLockEnabled"] is False for b in others)


def test_lifecycle_schedules_come_from_settings(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    kind = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"

    def transitions(purpose: str) -> list[tuple[int, str]]:
        rules = guard(plan, purpose, kind)["rules"]
        (current,) = [r for r in rules if r["id"] == "current-versions"]
        return [(t["days"], t["storageClass"]) for t in current.get("transitions", [])]

    assert transitions("audit-logs") == [(90, "GLACIER"), (365, "DEEP_ARCHIVE")]
    assert transitions("backups") == [(30, "STANDARD_IA"), (90, "GLACIER")]


def test_traces_live_in_their_own_short_lived_bucket(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    kind = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    rules = {r["id"]: r for r in guard(plan, "traces", kind)["rules"]}
    # Tempo keeps 14 days; the bucket removes what its compactor missed a day later.
    assert rules["current-versions"]["expiration"] == {"days": 15}
    assert "transitions" not in rules["current-versions"]
    assert rules["noncurrent-versions"]["noncurrentVersionExpiration"] == {"noncurrentDays": 1}
    tempo = by_name(plan, "kubernetes:helm.sh/v3:Release")["prod-observability-tempo"]
    values = tempo.inputs["values"]["tempo"]
    assert values["retention"] == "336h"
    assert values["storage"]["trace"]["s3"]["bucket"] == "agent-factory-prod-traces-123456789012"


def test_audit_bucket_lets_only_our_trail_write(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    policy = json.loads(guard(plan, "audit-logs", "aws:s3/bucketPolicy:BucketPolicy")["policy"])
    trail = "arn:aws:cloudtrail:us-east-1:123456789012:trail/agent-factory-prod-trail"
    writes = [s for s in policy["Statement"] if s.get("Sid") == "CloudTrailWrite"]
    assert writes[0]["Condition"]["StringEquals"]["aws:SourceArn"] == trail
    assert writes[0]["Resource"].endswith("/cloudtrail/AWSLogs/123456789012/*")


# -- Kafka --------------------------------------------------------------------------------


def test_prod_has_msk_and_dev_does_not(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    (kafka,) = plan.by_type("aws:msk/cluster:Cluster")
    inputs = kafka.inputs
    assert inputs["numberOfBrokerNodes"] == 3
    assert set(inputs["brokerNodeGroupInfo"]["clientSubnets"]) == data_subnet_ids(plan)
    assert inputs["encryptionInfo"]["encryptionAtRestKmsKeyArn"] == key_arn(plan, "data")
    assert inputs["encryptionInfo"]["encryptionInTransit"] == {
        "clientBroker": "TLS",
        "inCluster": True,
    }
    assert inputs["clientAuthentication"]["sasl"] == {"iam": True}
    assert inputs["clientAuthentication"]["unauthenticated"] is False
    assert inputs["loggingInfo"]["brokerLogs"]["cloudwatchLogs"]["enabled"] is True
    assert kafka.protect
    assert plan_of("dev").by_type("aws:msk/cluster:Cluster") == []
    assert plan_of("dev").outputs.get("kafkaBootstrapBrokers") is None


# -- keeping data safe --------------------------------------------------------------------

ZONE = "aws:route53/zone:Zone"
STATEFUL = (RDS, CACHE, BUCKET, KEY, ZONE, "aws:msk/cluster:Cluster")

# Renaming or re-parenting any of these replaces a database, cache, bucket or key. If this
# list must change, the change needs `aliases` so the old URN maps onto the new one.
PROD_STATEFUL_URNS = sorted(
    [
        *(
            "urn:pulumi:prod::agent-factory::agentfactory:platform:Region$"
            f"agentfactory:platform:DataStores${t}::{n}"
            for t, n in [
                (RDS, "prod-data-postgres"),
                (RDS, "prod-data-postgres-replica-1"),
                (RDS, "prod-data-postgres-replica-2"),
                (RDS, "prod-data-postgres-replica-3"),
                (CACHE, "prod-data-cache"),
                ("aws:msk/cluster:Cluster", "prod-data-kafka"),
            ]
        ),
        *(
            "urn:pulumi:prod::agent-factory::agentfactory:platform:Region$"
            "agentfactory:platform:DataStores$agentfactory:platform:SecureBucket$"
            f"{BUCKET}::prod-data-{p}"
            for p in ("access-logs", "artifacts", "audit-logs", "backups", "traces")
        ),
        *(
            "urn:pulumi:prod::agent-factory::agentfactory:platform:Region$"
            f"agentfactory:platform:Keys${KEY}::prod-keys-{p}"
            for p in ("logs", "eks-secrets", "ebs", "data", "s3", "secrets")
        ),
        # Deleting the zone would take every record (and the delegation) with it.
        "urn:pulumi:prod::agent-factory::agentfactory:platform:Region$"
        f"agentfactory:platform:PublicZone${ZONE}::prod-zone",
        # Its signing key: deleting it breaks DNSSEC validation for the whole domain.
        "urn:pulumi:prod::agent-factory::agentfactory:platform:Region$"
        f"agentfactory:platform:PublicZone${KEY}::prod-zone-dnssec",
        # The services' images are encrypted under it (docs/supply-chain.md).
        "urn:pulumi:prod::agent-factory::agentfactory:platform:Region$"
        f"agentfactory:platform:ImageRegistry${KEY}::prod-registry-key",
    ]
)


def test_prod_stateful_urns_are_pinned(plan_of: Callable[[str], Plan]) -> None:
    stateful = sorted(r.urn for r in plan_of("prod").resources if r.type in STATEFUL)
    assert stateful == PROD_STATEFUL_URNS


def test_prod_stateful_resources_are_protected(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    for resource in plan.resources:
        if resource.type in STATEFUL:
            assert resource.protect, resource.urn
        if resource.type in (BUCKET, KEY, ZONE):
            assert resource.retain_on_delete, resource.urn


def test_keys_keep_their_foundation_urns_through_an_alias(plan_of: Callable[[str], Plan]) -> None:
    (keys,) = plan_of("prod").by_type("agentfactory:platform:Keys")
    assert {"spec": {"type": "agentfactory:platform:PlatformKeys", "parentUrn": ""}} in keys.aliases

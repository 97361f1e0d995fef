"""Encryption at rest and in transit."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .core import (
    Finding,
    Resource,
    Rule,
    Undecided,
    UnknownRead,
    as_bool,
    as_list,
    as_mapping,
    get,
    guarded,
    is_everyone,
    is_unknown,
    known,
    matches,
    must,
    present,
    principals,
    statements,
)

AREA = "encryption"
RDS = frozenset({"aws:rds/instance:Instance", "aws:rds/cluster:Cluster"})
BUCKETS = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
SSE_CONFIG = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)


def rds_storage_encrypted(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    yield from must(
        lambda: as_bool(r.props.get("storageEncrypted")), "storageEncrypted must be true"
    )
    yield from must(
        lambda: present(r.props.get("kmsKeyId")),
        "kmsKeyId must name a customer-managed KMS key",
    )


def elasticache_encrypted(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    kms = "kmsKeyId must name a customer-managed KMS key"
    member = r.props.get("globalReplicationGroupId")
    if is_unknown(member) or member:
        # A Global Datastore member inherits encryption and AUTH from the primary group
        # (checked there); only its own region's key is set here.
        yield from must(lambda: present(r.props.get("kmsKeyId")), f"{kms} in this region")
        if is_unknown(member):
            yield Undecided(member.path)
        return
    yield from must(
        lambda: as_bool(r.props.get("atRestEncryptionEnabled")),
        "atRestEncryptionEnabled must be true",
    )
    yield from must(lambda: present(r.props.get("kmsKeyId")), kms)
    yield from must(
        lambda: as_bool(r.props.get("transitEncryptionEnabled")),
        "transitEncryptionEnabled must be true",
    )
    yield from must(
        lambda: r.props.get("transitEncryptionMode") != "preferred",
        "transitEncryptionMode must be 'required', not 'preferred'",
    )
    yield from must(
        lambda: present(r.props.get("authToken")) or present(r.props.get("userGroupIds")),
        "set an authToken or userGroupIds: the cache must authenticate clients",
    )


def _volume(mapping: Mapping[str, Any]) -> Iterator[Finding]:
    ebs = as_mapping(mapping.get("ebs"))
    device = mapping.get("deviceName", "?")
    if not as_bool(ebs.get("encrypted")):
        yield f"volume {device} is not encrypted"
    elif not present(ebs.get("kmsKeyId")):
        yield f"volume {device} has no customer-managed kmsKeyId"


def launch_template_ebs_encrypted(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    try:
        mappings = as_list(r.props.get("blockDeviceMappings"))
    except UnknownRead as exc:
        yield Undecided(exc.path)
        return
    if not mappings:
        yield "declare the root volume in blockDeviceMappings with encrypted = true"
    for mapping in mappings:
        yield from guarded(_volume, mapping)


def ebs_volume_encrypted(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    yield from must(lambda: as_bool(r.props.get("encrypted")), "encrypted must be true")
    yield from must(
        lambda: present(r.props.get("kmsKeyId")),
        "kmsKeyId must name a customer-managed KMS key",
    )


def eks_secrets_encrypted(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    if r.type == "eks:index:Cluster":
        yield from must(
            lambda: present(r.props.get("encryptionConfigKeyArn")),
            "encryptionConfigKeyArn must be set: secrets are not envelope-encrypted",
        )
        return
    yield from must(
        lambda: any(
            "secrets" in as_list(c.get("resources"))
            for c in as_list(r.props.get("encryptionConfig"))
        ),
        "encryptionConfig must cover 'secrets' with a KMS key",
    )


def log_group_kms(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    yield from must(
        lambda: present(r.props.get("kmsKeyId")),
        "kmsKeyId must be set: log groups hold request paths, IPs and audit events",
    )


def secret_cmk(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    yield from must(
        lambda: present(r.props.get("kmsKeyId")),
        "kmsKeyId must be a customer-managed key (aws/secretsmanager cannot be scoped)",
    )


def msk_encrypted(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    yield from must(
        lambda: present(get(r.props, "encryptionInfo.encryptionAtRestKmsKeyArn")),
        "encryptionInfo.encryptionAtRestKmsKeyArn must be set",
    )
    in_transit = get(r.props, "encryptionInfo.encryptionInTransit")
    yield from must(
        lambda: get(in_transit, "clientBroker", "TLS") in (None, "TLS"),
        "encryptionInTransit.clientBroker must be TLS",
    )
    yield from must(
        lambda: known(get(in_transit, "inCluster")) is not False,
        "encryptionInTransit.inCluster must be true",
    )


def opensearch_encrypted(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    yield from must(
        lambda: as_bool(get(r.props, "encryptAtRest.enabled")), "encryptAtRest.enabled must be true"
    )
    yield from must(
        lambda: as_bool(get(r.props, "nodeToNodeEncryption.enabled")),
        "nodeToNodeEncryption.enabled must be true",
    )
    yield from must(
        lambda: as_bool(get(r.props, "domainEndpointOptions.enforceHttps")),
        "domainEndpointOptions.enforceHttps must be true",
    )
    policy = get(r.props, "domainEndpointOptions.tlsSecurityPolicy", "")
    yield from must(
        lambda: not (policy and "TLS-1-0" in str(policy)),
        f"tlsSecurityPolicy {policy} allows TLS 1.0",
    )


def sns_encrypted(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    yield from must(lambda: present(r.props.get("kmsMasterKeyId")), "kmsMasterKeyId must be set")


def sqs_encrypted(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    yield from must(
        lambda: (
            present(r.props.get("kmsMasterKeyId")) or as_bool(r.props.get("sqsManagedSseEnabled"))
        ),
        "set kmsMasterKeyId (or at least sqsManagedSseEnabled)",
    )


def kms_rotation(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    spec = r.props.get("customerMasterKeySpec", "SYMMETRIC_DEFAULT")
    yield from must(
        lambda: spec != "SYMMETRIC_DEFAULT" or as_bool(r.props.get("enableKeyRotation")),
        "enableKeyRotation must be true",
    )


def bucket_of(r: Resource) -> set[str]:
    """The bucket a helper (policy, SSE, versioning...) configures: what its ``bucket``
    input was computed from. Plain ``dependsOn`` does not count: a helper cannot lend its
    settings to a bucket it merely waits for."""
    return r.deps("bucket")


def _sse_algorithms(r: Resource) -> set[Any]:
    return {
        get(rule, "applyServerSideEncryptionByDefault.sseAlgorithm")
        for rule in as_list(r.props.get("rules"))
    }


def s3_sse_kms(  # noqa: PLR0912 - one branch per kind of SSE configuration
    resources: Sequence[Resource], config: Mapping[str, Any]
) -> Iterator[tuple[str, Finding]]:
    """Every bucket needs an SSE configuration using aws:kms for it.

    The one exception is a server-access-log bucket (S3 log delivery cannot write to a
    bucket whose default encryption is SSE-KMS). It is granted by the policy config
    (``accessLogBuckets``, names of bucket resources), never by the plan: a BucketLogging
    that targets a bucket does not exempt that bucket by itself.
    """
    exempt_names = list(config.get("accessLogBuckets", []))
    log_targets: set[str] = set()
    for r in resources:
        if r.type == "aws:s3/bucketLogging:BucketLogging":
            log_targets.update(r.deps("targetBucket"))
    covered: set[str] = set()
    aes: set[str] = set()
    undecided: dict[str, str] = {}
    for r in resources:
        if r.type != SSE_CONFIG:
            continue
        try:
            algorithms = _sse_algorithms(r)
        except UnknownRead as exc:
            for urn in bucket_of(r):
                undecided[urn] = exc.path
            continue
        if any(is_unknown(a) for a in algorithms):
            for urn in bucket_of(r):
                undecided[urn] = "rules"
        elif algorithms & {"aws:kms", "aws:kms:dsse"}:
            covered.update(bucket_of(r))
        elif "AES256" in algorithms:
            aes.update(bucket_of(r))
    for r in resources:
        if r.type not in BUCKETS or r.urn in covered:
            continue
        if r.urn in undecided:
            yield r.urn, Undecided(undecided[r.urn])
        elif r.urn in aes and r.urn in log_targets and matches(r.name, exempt_names):
            continue
        else:
            yield r.urn, "no BucketServerSideEncryptionConfiguration with aws:kms for this bucket"


def _covers_bucket(resources: list[Any], bucket: Any) -> bool:
    if "*" in resources:
        return True
    if is_unknown(bucket) or not bucket:
        # The bucket's name is not known: any bucket-and-objects pair will do.
        arns = [str(a) for a in resources]
        return any(a.endswith("/*") and a[:-2] in arns for a in arns)
    arn = f"arn:aws:s3:::{bucket}"
    return {arn, f"{arn}/*"} <= set(resources) or f"{arn}*" in resources


def _denies_insecure_transport(policy: Any, bucket: Any) -> bool:
    """A Deny for every principal and every S3 action on the bucket and its objects
    whenever aws:SecureTransport is false. NotPrincipal/NotAction carve holes in it."""
    for statement in statements(policy):
        if statement.get("Effect") != "Deny":
            continue
        if {"NotPrincipal", "NotAction", "NotResource"} & set(statement):
            continue
        if not any(is_everyone(kind, value) for kind, value in principals(statement)):
            continue
        actions = {str(a) for a in as_list(statement.get("Action"))}
        if not actions & {"s3:*", "*"}:
            continue
        if not _covers_bucket(as_list(statement.get("Resource")), bucket):
            continue
        condition = as_mapping(statement.get("Condition"))
        for operator in ("Bool", "BoolIfExists"):
            secure = get(condition, f"{operator}.aws:SecureTransport")
            if str(secure).lower() == "false" or secure is False:
                return True
    return False


def s3_tls_only(
    resources: Sequence[Resource], _c: Mapping[str, Any]
) -> Iterator[tuple[str, Finding]]:
    covered: set[str] = set()
    undecided: dict[str, str] = {}
    for r in resources:
        if r.type != "aws:s3/bucketPolicy:BucketPolicy":
            continue
        try:
            if _denies_insecure_transport(r.props.get("policy"), r.props.get("bucket")):
                covered.update(bucket_of(r))
        except UnknownRead as exc:
            for urn in bucket_of(r):
                undecided[urn] = exc.path
    for r in resources:
        if r.type in BUCKETS and r.urn not in covered:
            if r.urn in undecided:
                yield r.urn, Undecided(undecided[r.urn])
            else:
                yield (
                    r.urn,
                    (
                        "no bucket policy denying every principal every s3 action on the bucket "
                        "and its objects when aws:SecureTransport is false"
                    ),
                )


def rds_force_ssl(
    resources: Sequence[Resource], _c: Mapping[str, Any]
) -> Iterator[tuple[str, Finding]]:
    """PostgreSQL instances must use a parameter group with rds.force_ssl = 1."""
    forcing: set[str] = set()
    undecided: set[str] = set()
    for r in resources:
        if r.type in (
            "aws:rds/parameterGroup:ParameterGroup",
            "aws:rds/clusterParameterGroup:ClusterParameterGroup",
        ):
            try:
                for parameter in as_list(r.props.get("parameters")):
                    if (
                        parameter.get("name") == "rds.force_ssl"
                        and str(parameter.get("value")) == "1"
                    ):
                        forcing.add(r.urn)
            except UnknownRead:
                undecided.add(r.urn)
    for r in resources:
        if r.type not in RDS:
            continue
        engine = r.props.get("engine", "")
        if is_unknown(engine):
            yield r.urn, Undecided("engine")
            continue
        if "postgres" not in str(engine):
            continue
        groups = r.deps("parameterGroupName", "dbClusterParameterGroupName")
        if groups & forcing:
            continue
        if groups & undecided:
            yield r.urn, Undecided("parameterGroupName")
        else:
            yield r.urn, "its parameter group does not set rds.force_ssl = 1"


def _replication_rule(rule: Mapping[str, Any]) -> Iterator[Finding]:
    rule_id = rule.get("id", "?")
    yield from must(
        lambda: present(get(rule, "destination.encryptionConfiguration.replicaKmsKeyId")),
        f"rule {rule_id}: set destination.encryptionConfiguration.replicaKmsKeyId",
    )
    yield from must(
        lambda: get(rule, "sourceSelectionCriteria.sseKmsEncryptedObjects.status") == "Enabled",
        f"rule {rule_id}: SSE-KMS objects are not copied unless sseKmsEncryptedObjects is Enabled",
    )


def s3_replication_encrypted(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    try:
        rules = as_list(r.props.get("rules"))
    except UnknownRead as exc:
        yield Undecided(exc.path)
        return
    if not rules:
        yield "a replication configuration needs at least one rule"
    for rule in rules:
        yield from guarded(_replication_rule, rule)


RULES = [
    Rule(
        "rds-storage-encrypted",
        "RDS storage is encrypted with a customer-managed KMS key.",
        "critical",
        "Set storage_encrypted=True and kms_key_id to the data-stores key.",
        AREA,
        resource_check=rds_storage_encrypted,
        types=RDS,
    ),
    Rule(
        "rds-force-ssl",
        "PostgreSQL on RDS rejects connections without TLS.",
        "high",
        "Attach a parameter group with rds.force_ssl = 1 to every PostgreSQL instance.",
        AREA,
        stack_check=rds_force_ssl,
    ),
    Rule(
        "elasticache-encrypted",
        "ElastiCache encrypts at rest (KMS) and in transit, and authenticates clients.",
        "critical",
        "Set at_rest_encryption_enabled, kms_key_id, transit_encryption_enabled and an auth_token.",
        AREA,
        resource_check=elasticache_encrypted,
        types=frozenset({"aws:elasticache/replicationGroup:ReplicationGroup"}),
    ),
    Rule(
        "s3-replication-encrypted",
        "S3 replication copies SSE-KMS objects and re-encrypts them with a destination-region key.",
        "high",
        "Per rule: destination.encryption_configuration.replica_kms_key_id and "
        "source_selection_criteria.sse_kms_encrypted_objects.status = Enabled.",
        AREA,
        resource_check=s3_replication_encrypted,
        types=frozenset({"aws:s3/bucketReplicationConfig:BucketReplicationConfig"}),
    ),
    Rule(
        "s3-sse-kms",
        "Every S3 bucket has default encryption with SSE-KMS.",
        "high",
        "Add a BucketServerSideEncryptionConfiguration with sse_algorithm aws:kms for the bucket.",
        AREA,
        stack_check=s3_sse_kms,
        config_schema={
            "accessLogBuckets": {
                "type": "array",
                "items": {"type": "string"},
                "description": "bucket resource names (globs) that receive S3 server access "
                "logs and may therefore use SSE-S3",
                "default": ["*-access-logs"],
                "x-relax": "subset",
            }
        },
    ),
    Rule(
        "s3-tls-only",
        "Every S3 bucket denies requests that do not use TLS.",
        "high",
        "Add a bucket policy statement: Deny, Principal *, Action s3:*, Resource the bucket "
        "and bucket/*, Condition Bool aws:SecureTransport false.",
        AREA,
        stack_check=s3_tls_only,
    ),
    Rule(
        "launch-template-ebs-encrypted",
        "Launch templates encrypt every EBS volume with a customer-managed key.",
        "high",
        "Declare block_device_mappings with ebs.encrypted='true' and kms_key_id.",
        AREA,
        resource_check=launch_template_ebs_encrypted,
        types=frozenset({"aws:ec2/launchTemplate:LaunchTemplate"}),
    ),
    Rule(
        "ebs-volume-encrypted",
        "EBS volumes are encrypted with a customer-managed key.",
        "high",
        "Set encrypted=True and kms_key_id.",
        AREA,
        resource_check=ebs_volume_encrypted,
        types=frozenset({"aws:ebs/volume:Volume"}),
    ),
    Rule(
        "eks-secrets-encrypted",
        "EKS envelope-encrypts Kubernetes secrets with KMS.",
        "critical",
        "Pass encryption_config_key_arn to eks.Cluster (the eks-secrets key).",
        AREA,
        resource_check=eks_secrets_encrypted,
        types=frozenset({"eks:index:Cluster", "aws:eks/cluster:Cluster"}),
    ),
    Rule(
        "log-group-kms",
        "CloudWatch log groups are encrypted with a KMS key.",
        "medium",
        "Set kms_key_id to the logs key (its policy must allow logs.<region>.amazonaws.com).",
        AREA,
        resource_check=log_group_kms,
        types=frozenset({"aws:cloudwatch/logGroup:LogGroup"}),
    ),
    Rule(
        "secret-customer-key",
        "Secrets Manager secrets use a customer-managed KMS key.",
        "high",
        "Set kms_key_id on the secret.",
        AREA,
        resource_check=secret_cmk,
        types=frozenset({"aws:secretsmanager/secret:Secret"}),
    ),
    Rule(
        "msk-encrypted",
        "MSK encrypts at rest with KMS and uses TLS between clients and brokers.",
        "high",
        "Set encryption_info with a KMS key and client_broker='TLS'.",
        AREA,
        resource_check=msk_encrypted,
        types=frozenset({"aws:msk/cluster:Cluster"}),
    ),
    Rule(
        "opensearch-encrypted",
        "OpenSearch encrypts at rest, node to node, and serves HTTPS only.",
        "high",
        "Enable encrypt_at_rest, node_to_node_encryption and enforce_https on the endpoint.",
        AREA,
        resource_check=opensearch_encrypted,
        types=frozenset({"aws:opensearch/domain:Domain"}),
    ),
    Rule(
        "sns-encrypted",
        "SNS topics are encrypted with KMS.",
        "medium",
        "Set kms_master_key_id.",
        AREA,
        resource_check=sns_encrypted,
        types=frozenset({"aws:sns/topic:Topic"}),
    ),
    Rule(
        "sqs-encrypted",
        "SQS queues are encrypted.",
        "medium",
        "Set kms_master_key_id (preferred) or sqs_managed_sse_enabled.",
        AREA,
        resource_check=sqs_encrypted,
        types=frozenset({"aws:sqs/queue:Queue"}),
    ),
    Rule(
        "kms-key-rotation",
        "Symmetric KMS keys rotate automatically.",
        "medium",
        "Set enable_key_rotation=True.",
        AREA,
        resource_check=kms_rotation,
        types=frozenset({"aws:kms/key:Key"}),
    ),
]

"""Encryption at rest and in transit."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .core import Resource, Rule, as_bool, as_json, as_list, get

AREA = "encryption"
RDS = frozenset({"aws:rds/instance:Instance", "aws:rds/cluster:Cluster"})
BUCKETS = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
SSE_CONFIG = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)


def rds_storage_encrypted(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    if not as_bool(r.props.get("storageEncrypted")):
        yield "storageEncrypted must be true"
    if not r.props.get("kmsKeyId"):
        yield "kmsKeyId must name a customer-managed KMS key"


def elasticache_encrypted(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    if r.props.get("globalReplicationGroupId"):
        # A Global Datastore member inherits encryption and AUTH from the primary group
        # (checked there); only its own region's key is set here.
        if not r.props.get("kmsKeyId"):
            yield "kmsKeyId must name a customer-managed KMS key in this region"
        return
    if not as_bool(r.props.get("atRestEncryptionEnabled")):
        yield "atRestEncryptionEnabled must be true"
    if not r.props.get("kmsKeyId"):
        yield "kmsKeyId must name a customer-managed KMS key"
    if not as_bool(r.props.get("transitEncryptionEnabled")):
        yield "transitEncryptionEnabled must be true"
    if r.props.get("transitEncryptionMode") == "preferred":
        yield "transitEncryptionMode must be 'required', not 'preferred'"
    if not r.props.get("authToken") and not r.props.get("userGroupIds"):
        yield "set an authToken or userGroupIds: the cache must authenticate clients"


def launch_template_ebs_encrypted(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    mappings = as_list(r.props.get("blockDeviceMappings"))
    if not mappings:
        yield "declare the root volume in blockDeviceMappings with encrypted = true"
    for mapping in mappings:
        ebs = mapping.get("ebs") or {}
        if not as_bool(ebs.get("encrypted")):
            yield f"volume {mapping.get('deviceName', '?')} is not encrypted"
        elif not ebs.get("kmsKeyId"):
            yield f"volume {mapping.get('deviceName', '?')} has no customer-managed kmsKeyId"


def ebs_volume_encrypted(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    if not as_bool(r.props.get("encrypted")):
        yield "encrypted must be true"
    if not r.props.get("kmsKeyId"):
        yield "kmsKeyId must name a customer-managed KMS key"


def eks_secrets_encrypted(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    if r.type == "eks:index:Cluster":
        if not r.props.get("encryptionConfigKeyArn"):
            yield "encryptionConfigKeyArn must be set: secrets are not envelope-encrypted"
        return
    configs = as_list(r.props.get("encryptionConfig"))
    if not any("secrets" in as_list(c.get("resources")) for c in configs):
        yield "encryptionConfig must cover 'secrets' with a KMS key"


def log_group_kms(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    if not r.props.get("kmsKeyId"):
        yield "kmsKeyId must be set: log groups hold request paths, IPs and audit events"


def secret_cmk(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    if not r.props.get("kmsKeyId"):
        yield "kmsKeyId must be a customer-managed key (aws/secretsmanager cannot be scoped)"


def msk_encrypted(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    if not get(r.props, "encryptionInfo.encryptionAtRestKmsKeyArn"):
        yield "encryptionInfo.encryptionAtRestKmsKeyArn must be set"
    in_transit = get(r.props, "encryptionInfo.encryptionInTransit", {}) or {}
    if in_transit.get("clientBroker", "TLS") != "TLS":
        yield "encryptionInTransit.clientBroker must be TLS"
    if in_transit.get("inCluster") is False:
        yield "encryptionInTransit.inCluster must be true"


def opensearch_encrypted(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    if not as_bool(get(r.props, "encryptAtRest.enabled")):
        yield "encryptAtRest.enabled must be true"
    if not as_bool(get(r.props, "nodeToNodeEncryption.enabled")):
        yield "nodeToNodeEncryption.enabled must be true"
    if not as_bool(get(r.props, "domainEndpointOptions.enforceHttps")):
        yield "domainEndpointOptions.enforceHttps must be true"
    policy = get(r.props, "domainEndpointOptions.tlsSecurityPolicy", "")
    if policy and "TLS-1-0" in policy:
        yield f"tlsSecurityPolicy {policy} allows TLS 1.0"


def sns_encrypted(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    if not r.props.get("kmsMasterKeyId"):
        yield "kmsMasterKeyId must be set"


def sqs_encrypted(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    if not r.props.get("kmsMasterKeyId") and not as_bool(r.props.get("sqsManagedSseEnabled")):
        yield "set kmsMasterKeyId (or at least sqsManagedSseEnabled)"


def kms_rotation(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    spec = r.props.get("customerMasterKeySpec", "SYMMETRIC_DEFAULT")
    if spec == "SYMMETRIC_DEFAULT" and not as_bool(r.props.get("enableKeyRotation")):
        yield "enableKeyRotation must be true"


def s3_sse_kms(resources: Sequence[Resource], _c: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Every bucket needs an SSE configuration using aws:kms that depends on it.

    The one exception is a server-access-log target: S3 log delivery cannot write to a
    bucket whose default encryption is SSE-KMS, so SSE-S3 (AES256) is accepted there.
    """
    log_targets: set[str] = set()
    for r in resources:
        if r.type == "aws:s3/bucketLogging:BucketLogging":
            log_targets.update(r.property_dependencies.get("targetBucket", []))
    covered: set[str] = set()
    for r in resources:
        if r.type != SSE_CONFIG:
            continue
        rules = as_list(r.props.get("rules"))
        algorithms = {
            get(rule, "applyServerSideEncryptionByDefault.sseAlgorithm") for rule in rules
        }
        if algorithms & {"aws:kms", "aws:kms:dsse"}:
            covered.update(r.dependencies)
        elif "AES256" in algorithms:
            covered.update(set(r.dependencies) & log_targets)
    for r in resources:
        if r.type in BUCKETS and r.urn not in covered:
            yield r.urn, "no BucketServerSideEncryptionConfiguration with aws:kms for this bucket"


def _denies_insecure_transport(policy: Any) -> bool:
    document = as_json(policy) or {}
    for statement in as_list(document.get("Statement")):
        condition = statement.get("Condition", {})
        secure = get(condition, "Bool.aws:SecureTransport")
        if statement.get("Effect") == "Deny" and str(secure).lower() == "false":
            return True
    return False


def s3_tls_only(resources: Sequence[Resource], _c: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    covered: set[str] = set()
    for r in resources:
        if r.type == "aws:s3/bucketPolicy:BucketPolicy" and _denies_insecure_transport(
            r.props.get("policy")
        ):
            covered.update(r.dependencies)
    for r in resources:
        if r.type in BUCKETS and r.urn not in covered:
            yield r.urn, "no bucket policy denying requests with aws:SecureTransport = false"


def rds_force_ssl(
    resources: Sequence[Resource], _c: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    """PostgreSQL instances must use a parameter group with rds.force_ssl = 1."""
    forcing: set[str] = set()
    for r in resources:
        if r.type in (
            "aws:rds/parameterGroup:ParameterGroup",
            "aws:rds/clusterParameterGroup:ClusterParameterGroup",
        ):
            for parameter in as_list(r.props.get("parameters")):
                if parameter.get("name") == "rds.force_ssl" and str(parameter.get("value")) == "1":
                    forcing.add(r.urn)
    for r in resources:
        if r.type in RDS and "postgres" in str(r.props.get("engine", "")):
            groups = set(r.property_dependencies.get("parameterGroupName", [])) | set(
                r.property_dependencies.get("dbClusterParameterGroupName", [])
            )
            if not groups & forcing:
                yield r.urn, "its parameter group does not set rds.force_ssl = 1"


def s3_replication_encrypted(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    rules = as_list(r.props.get("rules"))
    if not rules:
        yield "a replication configuration needs at least one rule"
    for rule in rules:
        rule_id = rule.get("id", "?")
        if not get(rule, "destination.encryptionConfiguration.replicaKmsKeyId"):
            yield f"rule {rule_id}: set destination.encryptionConfiguration.replicaKmsKeyId"
        if get(rule, "sourceSelectionCriteria.sseKmsEncryptedObjects.status") != "Enabled":
            skipped = "SSE-KMS objects are not copied"
            yield f"rule {rule_id}: {skipped} unless sseKmsEncryptedObjects is Enabled"


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
    ),
    Rule(
        "s3-tls-only",
        "Every S3 bucket denies requests that do not use TLS.",
        "high",
        "Add a bucket policy statement: Deny s3:* when aws:SecureTransport is false.",
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

"""SecureBucket: one S3 bucket with every guard the platform requires, as pure policy helpers
plus a small builder used by DataStores.

Each bucket gets SSE-KMS with a bucket key, versioning, the four public-access blocks,
``BucketOwnerEnforced`` (ACLs off), a policy denying non-TLS requests, lifecycle rules and
server access logging to the access-log bucket. The access-log bucket itself is the one
exception to SSE-KMS: S3 server access logging cannot deliver to a bucket whose default
encryption is SSE-KMS, so it uses SSE-S3 (the policy pack allows exactly that case).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class Transition:
    days: int
    storage_class: str


@dataclass(frozen=True)
class Lifecycle:
    noncurrent_expire_days: int
    transitions: tuple[Transition, ...] = ()
    expire_days: int | None = None


@dataclass(frozen=True)
class ObjectLock:
    mode: str
    days: int


@dataclass(frozen=True)
class BucketSpec:
    purpose: str
    bucket_name: pulumi.Input[str]
    lifecycle: Lifecycle
    # None means SSE-S3: only for the access-log bucket (see module docstring).
    kms_key_arn: pulumi.Input[str] | None
    object_lock: ObjectLock | None = None
    # Bucket name receiving this bucket's server access logs.
    log_target: pulumi.Input[str] | None = None
    extra_statements: pulumi.Input[list[dict[str, Any]]] = field(default_factory=list)


def tls_only_statement(bucket_arn: str) -> dict[str, Any]:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def bucket_policy(bucket_arn: str, extra: list[dict[str, Any]]) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [tls_only_statement(bucket_arn), *extra]}
    )


def access_log_delivery_statements(
    bucket_arn: str, account_id: str, partition: str, source_buckets: list[str]
) -> list[dict[str, Any]]:
    """The S3 logging service may write only logs of our own buckets into this one."""
    return [
        {
            "Sid": "S3ServerAccessLogs",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnLike": {
                    "aws:SourceArn": [f"arn:{partition}:s3:::{name}" for name in source_buckets]
                },
            },
        }
    ]


def cloudtrail_delivery_statements(
    bucket_arn: str, trail_arn: str, account_id: str
) -> list[dict[str, Any]]:
    """CloudTrail checks the ACL and writes under AWSLogs/<account>/ for one trail only."""
    condition = {"StringEquals": {"aws:SourceArn": trail_arn}}
    return [
        {
            "Sid": "CloudTrailAclCheck",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:GetBucketAcl",
            "Resource": bucket_arn,
            "Condition": condition,
        },
        {
            "Sid": "CloudTrailWrite",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/cloudtrail/AWSLogs/{account_id}/*",
            "Condition": {
                "StringEquals": {
                    "aws:SourceArn": trail_arn,
                    "s3:x-amz-acl": "bucket-owner-full-control",
                }
            },
        },
    ]


def lifecycle_rules(
    lifecycle: Lifecycle,
) -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
    current = aws.s3.BucketLifecycleConfigurationRuleArgs(
        id="current-versions",
        status="Enabled",
        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
        transitions=[
            aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                days=t.days, storage_class=t.storage_class
            )
            for t in lifecycle.transitions
        ]
        or None,
        expiration=(
            aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=lifecycle.expire_days)
            if lifecycle.expire_days
            else None
        ),
        abort_incomplete_multipart_upload=(
            aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=7
            )
        ),
    )
    noncurrent = aws.s3.BucketLifecycleConfigurationRuleArgs(
        id="noncurrent-versions",
        status="Enabled",
        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
        noncurrent_version_expiration=(
            aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=lifecycle.noncurrent_expire_days
            )
        ),
    )
    return [current, noncurrent]


class SecureBucket(pulumi.ComponentResource):
    """A bucket plus its guard resources; ``bucket`` is kept for replication and logging."""

    bucket: aws.s3.Bucket
    bucket_name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        spec: BucketSpec,
        protect: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("agentfactory:platform:SecureBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(
            name,
            bucket=spec.bucket_name,
            object_lock_enabled=spec.object_lock is not None,
            force_destroy=False,
            opts=pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=protect),
        )
        guard = pulumi.ResourceOptions(parent=self, depends_on=[bucket])
        if spec.kms_key_arn is None:
            default = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(  # noqa: E501
                sse_algorithm="AES256"
            )
        else:
            default = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(  # noqa: E501
                sse_algorithm="aws:kms", kms_master_key_id=spec.kms_key_arn
            )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-sse",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=default,
                    # One KMS data key per bucket, not per object: fewer KMS calls and cost.
                    bucket_key_enabled=spec.kms_key_arn is not None,
                )
            ],
            opts=guard,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=guard,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=guard,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=guard,
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, spec.extra_statements).apply(
                lambda v: bucket_policy(v[0], list(v[1]))
            ),
            opts=guard,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=lifecycle_rules(spec.lifecycle),
            # Lifecycle on an unversioned bucket would treat every object as current.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        if spec.object_lock is not None:
            aws.s3.BucketObjectLockConfiguration(
                f"{name}-object-lock",
                bucket=bucket.id,
                rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                    default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                        mode=spec.object_lock.mode, days=spec.object_lock.days
                    )
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
            )
        if spec.log_target is not None:
            aws.s3.BucketLogging(
                f"{name}-access-logs",
                bucket=bucket.id,
                target_bucket=spec.log_target,
                target_prefix=f"{spec.purpose}/",
                opts=child,
            )

        self.bucket = bucket
        self.bucket_name = bucket.bucket
        self.arn = bucket.arn
        self.register_outputs({"bucket": self.bucket_name, "arn": self.arn})

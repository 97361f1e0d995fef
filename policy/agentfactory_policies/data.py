"""Data protection: buckets that keep their history and refuse public access, the WORM
audit bucket, databases, streams, search, logs and secrets that survive a mistake."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from operator import contains
from typing import Any

from .core import (
    Finding,
    Resource,
    Rule,
    Undecided,
    UnknownRead,
    as_bool,
    as_int,
    as_list,
    as_mapping,
    get,
    guarded,
    is_unknown,
    matches,
    must,
    present,
)
from .encryption import BUCKETS, bucket_of

AREA = "data"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
VERSIONING_V2 = "aws:s3/bucketVersioningV2:BucketVersioningV2"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
TRAIL = "aws:cloudtrail/trail:Trail"
RDS_INSTANCE = "aws:rds/instance:Instance"
RDS = frozenset({RDS_INSTANCE, "aws:rds/cluster:Cluster"})


def _helpers(
    resources: Sequence[Resource], types: frozenset[str], decide: Any
) -> tuple[set[str], dict[str, str]]:
    """Buckets that a helper of ``types`` configures as ``decide(helper)`` wants, and the
    buckets whose helper cannot be judged yet (path of the unknown)."""
    good: set[str] = set()
    undecided: dict[str, str] = {}
    for r in resources:
        if r.type not in types:
            continue
        try:
            ok = decide(r)
        except UnknownRead as exc:
            for urn in bucket_of(r):
                undecided[urn] = exc.path
            continue
        if ok:
            good |= bucket_of(r)
    return good, undecided


def _per_bucket(
    resources: Sequence[Resource], good: set[str], undecided: dict[str, str], message: str
) -> Iterator[tuple[str, Finding]]:
    for r in resources:
        if r.type in BUCKETS and r.urn not in good:
            yield r.urn, Undecided(undecided[r.urn]) if r.urn in undecided else message


def s3_versioning(
    resources: Sequence[Resource], _c: Mapping[str, Any]
) -> Iterator[tuple[str, Finding]]:
    good, undecided = _helpers(
        resources,
        frozenset({VERSIONING, VERSIONING_V2}),
        lambda r: get(r.props, "versioningConfiguration.status") == "Enabled",
    )
    for r in resources:  # the v1 Bucket's inline versioning counts too
        inline = get(r.props, "versioning.enabled")
        if r.type in BUCKETS and is_unknown(inline):
            undecided[r.urn] = inline.path
        elif r.type in BUCKETS and inline is True:
            good.add(r.urn)
    yield from _per_bucket(
        resources, good, undecided, "no BucketVersioning with status Enabled for this bucket"
    )


def s3_public_access_blocked(
    resources: Sequence[Resource], _c: Mapping[str, Any]
) -> Iterator[tuple[str, Finding]]:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    good, undecided = _helpers(
        resources, frozenset({PAB}), lambda r: all(as_bool(r.props.get(f)) for f in flags)
    )
    yield from _per_bucket(
        resources, good, undecided, "no BucketPublicAccessBlock with all four flags for this bucket"
    )


def s3_owner_enforced(
    resources: Sequence[Resource], _c: Mapping[str, Any]
) -> Iterator[tuple[str, Finding]]:
    good, undecided = _helpers(
        resources,
        frozenset({OWNERSHIP}),
        lambda r: get(r.props, "rule.objectOwnership") == "BucketOwnerEnforced",
    )
    yield from _per_bucket(
        resources,
        good,
        undecided,
        "no BucketOwnershipControls with BucketOwnerEnforced: ACLs could still grant access",
    )


def s3_no_force_destroy(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    yield from must(
        lambda: not as_bool(r.props.get("forceDestroy")),
        "forceDestroy deletes every object (and version) when the bucket is removed",
    )


def _retention_days(rule: Any) -> int:
    retention = as_mapping(get(rule, "defaultRetention", {}))
    days = as_int(retention.get("days"), 0)
    years = as_int(retention.get("years"), 0)
    return days or years * 365


def _audit_buckets(resources: Sequence[Resource], names: list[str]) -> set[str]:
    """The trail's bucket (what CloudTrail writes to), plus buckets named as audit buckets
    in the config (replicas in other regions, a stack whose trail lives elsewhere)."""
    audit: set[str] = set()
    for r in resources:
        if r.type == TRAIL:
            audit |= {u for u in r.deps("s3BucketName")}
        if r.type in BUCKETS and matches(r.name, names):
            audit.add(r.urn)
    return audit & {r.urn for r in resources if r.type in BUCKETS}


def _lock_findings(
    bucket: Resource, locks: list[Resource], lifecycles: list[Resource], config: Mapping[str, Any]
) -> Iterator[Finding]:
    modes = list(config.get("modes", ["COMPLIANCE"]))
    minimum = int(config.get("minimumRetentionDays", 365))
    yield from must(
        lambda: as_bool(bucket.props.get("objectLockEnabled")),
        "objectLockEnabled must be true (it can only be set when the bucket is created)",
    )
    if not locks:
        yield f"no BucketObjectLockConfiguration: audit logs must be WORM ({'/'.join(modes)})"
        return
    for lock in locks:
        rule = lock.props.get("rule")
        mode = get(rule, "defaultRetention.mode")
        yield from must(partial(contains, modes, mode), f"object lock mode {mode} is not {modes}")
        try:
            days = _retention_days(rule)
        except UnknownRead as exc:
            yield Undecided(exc.path)
            continue
        if days < minimum:
            yield f"object lock retention {days} days is below {minimum}"
        for lifecycle in lifecycles:
            yield from guarded(_expiry, lifecycle, days)


def _expiry(lifecycle: Resource, days: int) -> Iterator[str]:
    for item in as_list(lifecycle.props.get("rules")):
        rule = as_mapping(item)
        if rule.get("status") == "Disabled":
            continue
        expires = get(rule, "expiration.days")
        if expires is not None and as_int(expires) < days:
            yield (
                f"lifecycle rule {rule.get('id')} expires objects after {expires} days, "
                "before the lock ends"
            )
        noncurrent = get(rule, "noncurrentVersionExpiration.noncurrentDays")
        if noncurrent is not None and as_int(noncurrent) < days:
            yield (
                f"lifecycle rule {rule.get('id')} expires old versions after {noncurrent} days, "
                "before the lock ends"
            )


def s3_audit_object_lock(
    resources: Sequence[Resource], config: Mapping[str, Any]
) -> Iterator[tuple[str, Finding]]:
    by_urn = {r.urn: r for r in resources}
    audit = _audit_buckets(resources, list(config.get("auditBuckets", ["*-audit-logs"])))
    locks: dict[str, list[Resource]] = {}
    lifecycles: dict[str, list[Resource]] = {}
    for r in resources:
        if r.type == LOCK:
            for urn in bucket_of(r):
                locks.setdefault(urn, []).append(r)
        elif r.type == LIFECYCLE:
            for urn in bucket_of(r):
                lifecycles.setdefault(urn, []).append(r)
    for urn in sorted(audit):
        for finding in guarded(
            _lock_findings, by_urn[urn], locks.get(urn, []), lifecycles.get(urn, []), config
        ):
            yield urn, finding


def _is_replica(r: Resource) -> bool:
    return present(r.props.get("replicateSourceDb")) or present(
        r.props.get("replicationSourceIdentifier")
    )


def rds_final_snapshot(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    if _is_replica(r):
        return  # a replica's data lives on in its primary's snapshots
    yield from must(
        lambda: not as_bool(r.props.get("skipFinalSnapshot")),
        "skipFinalSnapshot must be false: deleting the database must leave a snapshot",
    )
    yield from must(
        lambda: present(r.props.get("finalSnapshotIdentifier")),
        "finalSnapshotIdentifier must be set",
    )


def rds_iam_auth(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    yield from must(
        lambda: as_bool(r.props.get("iamDatabaseAuthenticationEnabled")),
        "iamDatabaseAuthenticationEnabled must be true (short-lived IAM tokens instead of "
        "shared passwords)",
    )


def rds_engine_supported(r: Resource, config: Mapping[str, Any]) -> Iterator[Finding]:
    engines = dict(config.get("engines", {"postgres": 16, "aurora-postgresql": 16}))
    engine = r.props.get("engine")
    if is_unknown(engine):
        yield Undecided(engine.path)
        return
    if _is_replica(r) and engine is None:
        return
    if engine not in engines:
        yield f"engine {engine} is not one of {sorted(engines)}"
        return
    version = r.props.get("engineVersion")
    if version is None:
        if not _is_replica(r):
            yield "pin engineVersion (its major) so upgrades are a reviewed change"
        return
    yield from must(
        lambda: int(str(version).split(".", 1)[0]) >= int(engines[engine]),
        f"{engine} {version} is older than the supported major {engines[engine]}",
    )


def rds_performance_insights(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    yield from must(
        lambda: as_bool(r.props.get("performanceInsightsEnabled")),
        "performanceInsightsEnabled must be true",
    )
    yield from must(
        lambda: (
            not as_bool(r.props.get("performanceInsightsEnabled"))
            or present(r.props.get("performanceInsightsKmsKeyId"))
        ),
        "performanceInsightsKmsKeyId must name a customer-managed key (PI holds query text)",
    )


def rds_managed_password(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    yield from must(
        lambda: not present(r.props.get("password")),
        "no password in code or state: set manageMasterUserPassword",
    )
    if _is_replica(r):
        return
    yield from must(
        lambda: as_bool(r.props.get("manageMasterUserPassword")),
        "manageMasterUserPassword must be true (Secrets Manager holds and rotates it)",
    )


def msk_private(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    auth = get(r.props, "clientAuthentication", {})
    yield from must(
        lambda: not as_bool(get(auth, "unauthenticated")),
        "clientAuthentication.unauthenticated must be false",
    )
    yield from must(
        lambda: (
            as_bool(get(auth, "sasl.iam"))
            or as_bool(get(auth, "sasl.scram"))
            or bool(as_list(get(auth, "tls.certificateAuthorityArns")))
        ),
        "clientAuthentication must require IAM, SCRAM or TLS client certificates",
    )
    public = get(r.props, "brokerNodeGroupInfo.connectivityInfo.publicAccess.type", "DISABLED")
    yield from must(
        lambda: public in ("DISABLED", None),
        f"brokerNodeGroupInfo.connectivityInfo.publicAccess.type {public} exposes the brokers",
    )


def opensearch_private(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    yield from must(
        lambda: bool(as_list(get(r.props, "vpcOptions.subnetIds"))),
        "vpcOptions.subnetIds must place the domain in the VPC (no public endpoint)",
    )
    yield from must(
        lambda: as_bool(get(r.props, "advancedSecurityOptions.enabled")),
        "advancedSecurityOptions.enabled must be true (fine-grained access control)",
    )
    yield from must(
        lambda: not as_bool(get(r.props, "advancedSecurityOptions.anonymousAuthEnabled")),
        "advancedSecurityOptions.anonymousAuthEnabled must be false",
    )
    yield from must(
        lambda: present(get(r.props, "encryptAtRest.kmsKeyId")),
        "encryptAtRest.kmsKeyId must name a customer-managed key",
    )


def log_retention(r: Resource, config: Mapping[str, Any]) -> Iterator[Finding]:
    minimum = int(config.get("minimumDays", 30))
    days = r.props.get("retentionInDays")
    yield from must(
        lambda: days is None or as_int(days) == 0 or as_int(days) >= minimum,
        f"retentionInDays {days} is below {minimum}",
    )


def secret_recovery_window(r: Resource, config: Mapping[str, Any]) -> Iterator[Finding]:
    minimum = int(config.get("minimumDays", 7))
    days = r.props.get("recoveryWindowInDays")
    yield from must(
        lambda: days is None or as_int(days) >= minimum,
        f"recoveryWindowInDays {days} is below {minimum}: a deleted secret could not be restored",
    )
    yield from must(
        lambda: not as_bool(r.props.get("forceOverwriteReplicaSecret")),
        "forceOverwriteReplicaSecret overwrites a secret of the same name in the replica region",
    )


RULES = [
    Rule(
        "s3-versioning",
        "Every S3 bucket has versioning enabled.",
        "high",
        "Add an aws.s3.BucketVersioning with status Enabled for the bucket.",
        AREA,
        stack_check=s3_versioning,
    ),
    Rule(
        "s3-public-access-blocked",
        "Every S3 bucket has a public access block with all four flags.",
        "critical",
        "Add an aws.s3.BucketPublicAccessBlock for the bucket with all four flags true.",
        AREA,
        stack_check=s3_public_access_blocked,
    ),
    Rule(
        "s3-owner-enforced",
        "Every S3 bucket disables ACLs (BucketOwnerEnforced).",
        "high",
        "Add aws.s3.BucketOwnershipControls with object_ownership BucketOwnerEnforced.",
        AREA,
        stack_check=s3_owner_enforced,
    ),
    Rule(
        "s3-no-force-destroy",
        "No bucket is force-destroyable.",
        "high",
        "Remove force_destroy; empty a bucket deliberately before deleting it.",
        AREA,
        resource_check=s3_no_force_destroy,
        types=BUCKETS,
    ),
    Rule(
        "s3-audit-object-lock",
        "The audit-log bucket is WORM: object lock in the required mode, a minimum retention, "
        "and no lifecycle expiry before the lock ends.",
        "critical",
        "Create the bucket with object_lock_enabled, a BucketObjectLockConfiguration "
        "(COMPLIANCE in prod) and lifecycle expiry after the retention.",
        AREA,
        stack_check=s3_audit_object_lock,
        config_schema={
            "modes": {
                "type": "array",
                "items": {"type": "string", "enum": ["COMPLIANCE", "GOVERNANCE"]},
                "default": ["COMPLIANCE"],
                "x-relax": "subset",
            },
            "minimumRetentionDays": {
                "type": "integer",
                "minimum": 1,
                "default": 365,
                "x-relax": "min",
            },
            "auditBuckets": {
                "type": "array",
                "items": {"type": "string"},
                "description": "bucket resource names (globs) holding audit logs, besides the "
                "trail's own bucket",
                "default": ["*-audit-logs"],
                "x-relax": "superset",
            },
        },
    ),
    Rule(
        "rds-final-snapshot",
        "Deleting a primary database leaves a final snapshot.",
        "high",
        "Set skip_final_snapshot=False and final_snapshot_identifier.",
        AREA,
        resource_check=rds_final_snapshot,
        types=RDS,
    ),
    Rule(
        "rds-iam-auth",
        "RDS accepts IAM database authentication.",
        "medium",
        "Set iam_database_authentication_enabled=True.",
        AREA,
        resource_check=rds_iam_auth,
        types=RDS,
    ),
    Rule(
        "rds-engine-supported",
        "RDS runs a supported engine at or above its minimum major version.",
        "high",
        "Use an engine from the config's engines at a supported major.",
        AREA,
        resource_check=rds_engine_supported,
        types=RDS,
        config_schema={
            "engines": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": "engine -> minimum major version",
                "default": {"postgres": 16, "aurora-postgresql": 16},
            }
        },
    ),
    Rule(
        "rds-performance-insights-cmk",
        "RDS Performance Insights is on and encrypted with a customer-managed key.",
        "medium",
        "Set performance_insights_enabled and performance_insights_kms_key_id.",
        AREA,
        resource_check=rds_performance_insights,
        types=frozenset({RDS_INSTANCE}),
    ),
    Rule(
        "rds-managed-master-password",
        "The master password is managed by RDS in Secrets Manager, never in code or state.",
        "critical",
        "Set manage_master_user_password=True and remove password.",
        AREA,
        resource_check=rds_managed_password,
        types=RDS,
    ),
    Rule(
        "msk-authenticated-private",
        "MSK requires client authentication and has no public access.",
        "critical",
        "Set client_authentication.sasl.iam, unauthenticated false, public access DISABLED.",
        AREA,
        resource_check=msk_private,
        types=frozenset({"aws:msk/cluster:Cluster"}),
    ),
    Rule(
        "opensearch-private-fgac",
        "OpenSearch is VPC-only, with fine-grained access control and a customer-managed key.",
        "critical",
        "Set vpc_options, advanced_security_options.enabled and encrypt_at_rest.kms_key_id.",
        AREA,
        resource_check=opensearch_private,
        types=frozenset({"aws:opensearch/domain:Domain"}),
    ),
    Rule(
        "log-group-retention",
        "CloudWatch log groups keep logs at least the configured number of days.",
        "medium",
        "Raise retention_in_days (prod: 365).",
        AREA,
        resource_check=log_retention,
        types=frozenset({"aws:cloudwatch/logGroup:LogGroup"}),
        config_schema={
            "minimumDays": {"type": "integer", "minimum": 1, "default": 30, "x-relax": "min"}
        },
    ),
    Rule(
        "secret-recovery-window",
        "Deleted secrets stay recoverable for at least the configured number of days.",
        "medium",
        "Set recovery_window_in_days (7-30); never 0.",
        AREA,
        resource_check=secret_recovery_window,
        types=frozenset({"aws:secretsmanager/secret:Secret"}),
        config_schema={
            "minimumDays": {"type": "integer", "minimum": 7, "default": 7, "x-relax": "min"}
        },
    ),
]

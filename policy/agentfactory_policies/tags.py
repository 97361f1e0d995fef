"""Mandatory AWS tags (effective: resource tags merged over provider default tags) and
the recommended Kubernetes labels."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .core import (
    Finding,
    Resource,
    Rule,
    Undecided,
    UnknownRead,
    as_json,
    as_mapping,
    get,
    is_unknown,
    present,
)

AREA = "tags"

# AWS types that have no tags argument at all; everything else under aws: is taggable.
UNTAGGABLE = frozenset(
    {
        "aws:autoscaling/tag:Tag",
        "aws:ec2/route:Route",
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "aws:ec2/securityGroupRule:SecurityGroupRule",
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:kms/alias:Alias",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketLogging:BucketLogging",
        "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        "aws:secretsmanager/secretVersion:SecretVersion",
        "aws:sns/topicSubscription:TopicSubscription",
        "aws:route53/record:Record",
    }
)
DEFAULT_REQUIRED = ["Project", "Environment", "Team", "CostCenter", "ManagedBy", "Stack"]
K8S_UNLABELLED = frozenset({"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"})


def provider_default_tags(provider_props: Mapping[str, Any]) -> dict[str, str]:
    default_tags = as_json(provider_props.get("defaultTags")) or {}
    tags = as_mapping(default_tags).get("tags")
    return dict(as_mapping(as_json(tags))) if tags else {}


def effective_tags(r: Resource) -> dict[str, str]:
    own = as_mapping(as_json(r.props.get("tags")) or {})
    return {**provider_default_tags(r.provider_props), **own}


def mandatory_tags(r: Resource, config: Mapping[str, Any]) -> Iterator[Finding]:
    if not r.type.startswith("aws:") or r.type in UNTAGGABLE:
        return
    try:
        tags = effective_tags(r)
    except UnknownRead as exc:
        yield Undecided(exc.path)
        return
    missing = [k for k in config.get("requiredTags", DEFAULT_REQUIRED) if not present(tags.get(k))]
    if missing:
        yield f"missing tags {missing} (own tags merged with the provider's defaultTags)"
    for key, allowed in (config.get("allowedValues") or {}).items():
        if key in tags and is_unknown(tags[key]):
            yield Undecided(f"tags.{key}")
        elif key in tags and tags[key] not in allowed:
            yield f"tag {key}={tags[key]!r} is not one of {allowed}"


def recommended_labels(r: Resource, config: Mapping[str, Any]) -> Iterator[Finding]:
    if not r.type.startswith("kubernetes:") or r.type in K8S_UNLABELLED:
        return
    labels = get(r.props, "metadata.labels") or {}
    if is_unknown(labels):
        yield Undecided(labels.path)
        return
    missing = [key for key in config.get("requiredLabels", []) if not present(labels.get(key))]
    if missing:
        yield f"missing labels {missing}"


RULES = [
    Rule(
        "aws-mandatory-tags",
        "Every taggable AWS resource carries the mandatory tags (own or provider default tags).",
        "medium",
        "Keep the tags in the stack's aws.Provider default_tags; tag resources AWS does not "
        "tag through them (ASGs, launch-template instances) explicitly.",
        AREA,
        resource_check=mandatory_tags,
        config_schema={
            "requiredTags": {
                "type": "array",
                "items": {"type": "string"},
                "default": DEFAULT_REQUIRED,
                "x-relax": "free",
            },
            "allowedValues": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
                "default": {"Environment": ["dev", "staging", "prod"], "ManagedBy": ["pulumi"]},
                "x-relax": "free",
            },
        },
        security=False,
    ),
    Rule(
        "k8s-recommended-labels",
        "Kubernetes objects carry the app.kubernetes.io recommended labels.",
        "low",
        "Add app.kubernetes.io/name, part-of and managed-by labels to metadata.labels.",
        AREA,
        resource_check=recommended_labels,
        config_schema={
            "requiredLabels": {
                "type": "array",
                "items": {"type": "string"},
                "default": [
                    "app.kubernetes.io/name",
                    "app.kubernetes.io/part-of",
                    "app.kubernetes.io/managed-by",
                ],
                "x-relax": "free",
            }
        },
        security=False,
    ),
]

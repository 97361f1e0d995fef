"""What the stacks of one multi-region deployment read from each other.

The contract is a handful of stack outputs, named here once:

- the primary exports ``region``, ``postgresInstanceArn``, ``hostedZoneId``, ``vpcCidr``
  and, with a cache Global Datastore, ``cacheGlobalReplicationGroupId`` and
  ``cacheAuthToken``;
- each secondary exports ``replicationTarget`` (its region, bucket ARNs and S3 key).

Secondaries cannot work without the primary, so what they read is required and fails with
the stack's name and the deploy order. The primary tolerates a secondary that has not been
deployed yet: it replicates to the secondaries that have published a target.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi

REGION = "region"
POSTGRES_ARN = "postgresInstanceArn"
HOSTED_ZONE_ID = "hostedZoneId"
VPC_CIDR = "vpcCidr"
CACHE_GLOBAL_GROUP = "cacheGlobalReplicationGroupId"
CACHE_AUTH_TOKEN = "cacheAuthToken"
REPLICATION_TARGET = "replicationTarget"
# The buckets whose loss would hurt most in a regional disaster: WORM audit logs and backups.
REPLICATED_BUCKETS = ("audit-logs", "backups")


def qualified_stack_name(stack: str) -> str:
    """``prod`` -> ``<organization>/<project>/prod``; a qualified name stays as it is."""
    if "/" in stack:
        return stack
    return f"{pulumi.get_organization()}/{pulumi.get_project()}/{stack}"


@dataclass(frozen=True)
class ReplicationTarget:
    """Where one secondary keeps copies of the primary's buckets (plain values)."""

    region: str
    bucket_arns: dict[str, str]
    kms_key_arn: str

    @classmethod
    def from_output(cls, stack: str, value: Any) -> ReplicationTarget | None:
        """``None`` while the secondary has not been deployed (no output yet)."""
        if not value:
            return None
        try:
            return cls(
                region=str(value["region"]),
                bucket_arns={p: str(value["bucketArns"][p]) for p in REPLICATED_BUCKETS},
                kms_key_arn=str(value["kmsKeyArn"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"stack {stack}: {REPLICATION_TARGET} lacks {exc}") from None

    def to_output(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "bucketArns": self.bucket_arns,
            "kmsKeyArn": self.kms_key_arn,
        }


def _require(reference: pulumi.StackReference, stack: str, name: str) -> pulumi.Output[Any]:
    """``require_output`` with a message that says which stack and what to do about it."""

    def check(value: Any) -> Any:
        if value is None:
            raise ValueError(
                f"stack {stack} has no output '{name}': deploy it first "
                "(docs/multi-region.md, deployment order)"
            )
        return value

    return reference.get_output(name).apply(check)


@dataclass(frozen=True)
class PrimaryOutputs:
    """What a secondary needs from the primary."""

    stack: str
    region: pulumi.Output[str]
    postgres_instance_arn: pulumi.Output[str]
    hosted_zone_id: pulumi.Output[str]
    vpc_cidr: pulumi.Output[str]
    # Only with a cache Global Datastore.
    cache_global_group_id: pulumi.Output[str] | None
    cache_auth_token: pulumi.Output[str] | None


def read_primary(
    name: str, stack: str, *, cache_global: bool, parent: pulumi.Resource
) -> PrimaryOutputs:
    qualified = qualified_stack_name(stack)
    reference = pulumi.StackReference(
        f"{name}-primary", stack_name=qualified, opts=pulumi.ResourceOptions(parent=parent)
    )
    return PrimaryOutputs(
        stack=qualified,
        region=_require(reference, qualified, REGION),
        postgres_instance_arn=_require(reference, qualified, POSTGRES_ARN),
        hosted_zone_id=_require(reference, qualified, HOSTED_ZONE_ID),
        vpc_cidr=_require(reference, qualified, VPC_CIDR),
        cache_global_group_id=(
            _require(reference, qualified, CACHE_GLOBAL_GROUP) if cache_global else None
        ),
        cache_auth_token=(
            pulumi.Output.secret(_require(reference, qualified, CACHE_AUTH_TOKEN))
            if cache_global
            else None
        ),
    )


def _target_of(stack: str) -> Callable[[Any], ReplicationTarget | None]:
    def parse(value: Any) -> ReplicationTarget | None:
        return ReplicationTarget.from_output(stack, value)

    return parse


def read_replication_targets(
    name: str, stacks: list[str], *, parent: pulumi.Resource
) -> pulumi.Output[list[ReplicationTarget]]:
    """The secondaries that have published a target, in the order the settings list them."""
    outputs = []
    for stack in stacks:
        qualified = qualified_stack_name(stack)
        reference = pulumi.StackReference(
            f"{name}-{stack.rsplit('/', 1)[-1]}",
            stack_name=qualified,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        outputs.append(reference.get_output(REPLICATION_TARGET).apply(_target_of(qualified)))

    def deployed(targets: list[ReplicationTarget | None]) -> list[ReplicationTarget]:
        for stack, target in zip(stacks, targets, strict=True):
            if target is None:
                pulumi.log.warn(
                    f"secondary {stack} has no {REPLICATION_TARGET} yet: not replicating to it"
                )
        return [target for target in targets if target is not None]

    return pulumi.Output.all(*outputs).apply(deployed)

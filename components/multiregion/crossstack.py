"""What the stacks of one multi-region deployment read from each other.

The contract is a handful of stack outputs, named here once:

- the primary exports ``region``, ``postgresInstanceArn``, its writer
  (``postgresEndpoint``, ``postgresPort``, ``postgresResourceId``: where a secondary's
  services write, and what their IAM authentication names), ``hostedZoneId``, ``vpcCidr``,
  its Transit Gateway (``transitGatewayId``, ``transitGatewayRouteTableId``) and
  ``dataSubnetCidrs`` and, with a cache Global Datastore, ``cacheGlobalReplicationGroupId``
  and ``cacheAuthToken``;
- each secondary exports ``replicationTarget`` (its region, bucket ARNs and S3 key) and
  ``regionLink`` (its VPC CIDR and client subnets, once its peering to the primary is up).

Secondaries cannot work without the primary, so what they read is required and fails with
the stack's name and the deploy order. The primary tolerates a secondary that has not been
deployed yet: it replicates to the secondaries that have published a target.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi

REGION = "region"
POSTGRES_ARN = "postgresInstanceArn"
POSTGRES_ENDPOINT = "postgresEndpoint"
POSTGRES_PORT = "postgresPort"
POSTGRES_RESOURCE_ID = "postgresResourceId"
HOSTED_ZONE_ID = "hostedZoneId"
VPC_CIDR = "vpcCidr"
CACHE_GLOBAL_GROUP = "cacheGlobalReplicationGroupId"
CACHE_AUTH_TOKEN = "cacheAuthToken"
REPLICATION_TARGET = "replicationTarget"
TRANSIT_GATEWAY_ID = "transitGatewayId"
TRANSIT_ROUTE_TABLE_ID = "transitGatewayRouteTableId"
DATA_SUBNET_CIDRS = "dataSubnetCidrs"
REGION_LINK = "regionLink"
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


@dataclass(frozen=True)
class RegionLink:
    """A secondary's end of the private path to the primary (plain values)."""

    region: str
    vpc_cidr: str
    # The secondary's private (nodes, pods) and data subnets: what the primary admits.
    client_cidrs: tuple[str, ...]

    @classmethod
    def from_output(cls, stack: str, value: Any) -> RegionLink | None:
        """``None`` while the secondary has not published its link (not deployed yet)."""
        if not value:
            return None
        try:
            return cls(
                region=str(value["region"]),
                vpc_cidr=str(value["vpcCidr"]),
                client_cidrs=tuple(str(cidr) for cidr in value["clientCidrs"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"stack {stack}: {REGION_LINK} lacks {exc}") from None

    def to_output(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "vpcCidr": self.vpc_cidr,
            "clientCidrs": list(self.client_cidrs),
        }


def dbuser_arn(instance_arn: str, resource_id: str, user: str) -> str:
    """The ``rds-db:connect`` resource of ``user`` on the instance ``instance_arn``: IAM
    authentication names the instance by its resource id (``db-...``), in the instance's
    own partition, region and account, which its ARN carries."""
    parts = instance_arn.split(":")
    if len(parts) != 7 or parts[2] != "rds" or parts[5] != "db":
        raise ValueError(f"{instance_arn!r} is not the ARN of an RDS DB instance")
    _, partition, _, region, account, _, _ = parts
    return f"arn:{partition}:rds-db:{region}:{account}:dbuser:{resource_id}/{user}"


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
    # The writer a secondary's services send their writes to, over the private path.
    postgres_endpoint: pulumi.Output[str]
    postgres_port: pulumi.Output[int]
    postgres_resource_id: pulumi.Output[str]
    hosted_zone_id: pulumi.Output[str]
    vpc_cidr: pulumi.Output[str]
    transit_gateway_id: pulumi.Output[str]
    transit_route_table_id: pulumi.Output[str]
    data_subnet_cidrs: pulumi.Output[list[str]]
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
        postgres_endpoint=_require(reference, qualified, POSTGRES_ENDPOINT),
        # Stack outputs travel as JSON numbers (floats in Python): a port is an integer.
        postgres_port=_require(reference, qualified, POSTGRES_PORT).apply(int),
        postgres_resource_id=_require(reference, qualified, POSTGRES_RESOURCE_ID),
        hosted_zone_id=_require(reference, qualified, HOSTED_ZONE_ID),
        vpc_cidr=_require(reference, qualified, VPC_CIDR),
        transit_gateway_id=_require(reference, qualified, TRANSIT_GATEWAY_ID),
        transit_route_table_id=_require(reference, qualified, TRANSIT_ROUTE_TABLE_ID),
        data_subnet_cidrs=_require(reference, qualified, DATA_SUBNET_CIDRS),
        cache_global_group_id=(
            _require(reference, qualified, CACHE_GLOBAL_GROUP) if cache_global else None
        ),
        cache_auth_token=(
            pulumi.Output.secret(_require(reference, qualified, CACHE_AUTH_TOKEN))
            if cache_global
            else None
        ),
    )


@dataclass(frozen=True)
class SecondaryOutputs:
    """What the primary reads from its secondaries: only those that have published it."""

    targets: pulumi.Output[list[ReplicationTarget]]
    links: pulumi.Output[list[RegionLink]]


def _deployed(kind: str, stacks: list[str]) -> Callable[[list[Any]], list[Any]]:
    def keep(values: list[Any]) -> list[Any]:
        for stack, value in zip(stacks, values, strict=True):
            if value is None:
                pulumi.log.warn(f"secondary {stack} has no {kind} yet: not using it")
        return [value for value in values if value is not None]

    return keep


def read_secondaries(name: str, stacks: list[str], *, parent: pulumi.Resource) -> SecondaryOutputs:
    """The secondaries' replication targets and region links, in the settings' order."""
    targets, links = [], []
    for stack in stacks:
        qualified = qualified_stack_name(stack)
        reference = pulumi.StackReference(
            f"{name}-{stack.rsplit('/', 1)[-1]}",
            stack_name=qualified,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        targets.append(
            reference.get_output(REPLICATION_TARGET).apply(
                functools.partial(ReplicationTarget.from_output, qualified)
            )
        )
        links.append(
            reference.get_output(REGION_LINK).apply(
                functools.partial(RegionLink.from_output, qualified)
            )
        )
    return SecondaryOutputs(
        targets=pulumi.Output.all(*targets).apply(_deployed(REPLICATION_TARGET, stacks)),
        links=pulumi.Output.all(*links).apply(_deployed(REGION_LINK, stacks)),
    )

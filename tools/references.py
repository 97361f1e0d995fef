"""What a StackReference reads offline: the outputs a referenced stack would have.

The offline preview has no backend to read another stack's outputs from, so they are
derived from that stack's own ``Pulumi.<stack>.yaml`` with the same naming rules the program
uses and the same formats the mocks answer with. A stack without a stack file reads as not
deployed (no outputs), which is how a real secondary looks before its first ``pulumi up``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from components.data.datastores import bucket_name
from components.multiregion import crossstack
from components.settings import PROJECT, Settings, SettingsError
from tools.mocks import (
    ACCOUNT_ID,
    PARTITION,
    hosted_zone_id,
    kms_key_arn,
    rds_address,
    rds_resource_id,
    stable_hex,
)
from tools.stackconfig import StackConfigError, stack_settings

Outputs = dict[str, Any]


def outputs_of(settings: Settings) -> Outputs:
    """The multi-region contract of one deployed stack (components/multiregion/crossstack.py)."""
    region, stack = settings.region, settings.stack
    # The writer (or replica) Region's DataStores create: <stack>-data-postgres.
    identifier, postgres = f"{settings.cluster_name}-postgres", f"{stack}-data-postgres"
    outputs: Outputs = {
        "region": region,
        crossstack.VPC_CIDR: str(settings.network.vpc_network),
        crossstack.DATA_SUBNET_CIDRS: [str(cidr) for cidr in settings.network.subnets.data],
        crossstack.POSTGRES_ARN: f"arn:{PARTITION}:rds:{region}:{ACCOUNT_ID}:db:{identifier}",
        crossstack.POSTGRES_ENDPOINT: rds_address(identifier, region),
        crossstack.POSTGRES_PORT: 5432,
        crossstack.POSTGRES_RESOURCE_ID: rds_resource_id(postgres),
    }
    multi = settings.multi_region
    if multi is not None:
        # The Transit Gateway Network builds for a multi-region stack (the mocks' ids).
        gateway = f"{stack}-network-tgw"
        outputs[crossstack.TRANSIT_GATEWAY_ID] = f"tgw-{stable_hex(gateway)}"
        outputs[crossstack.TRANSIT_ROUTE_TABLE_ID] = f"tgw-rtb-{stable_hex(gateway + '-rt')}"
    if settings.role == "primary" and multi is not None:
        # Resource names as Region gives them, so ids match that stack's own plan.
        outputs[crossstack.HOSTED_ZONE_ID] = hosted_zone_id(f"{stack}-zone")
        if multi.cache_global_datastore:
            outputs[crossstack.CACHE_GLOBAL_GROUP] = (
                f"{stable_hex(stack, 5)}-{settings.cluster_name}-cache"
            )
            outputs[crossstack.CACHE_AUTH_TOKEN] = "offline" + stable_hex(stack + "cache", 57)
    if settings.role == "secondary":
        subnets = settings.network.subnets
        outputs[crossstack.REGION_LINK] = crossstack.RegionLink(
            region=region,
            vpc_cidr=str(settings.network.vpc_network),
            client_cidrs=tuple(str(cidr) for cidr in (*subnets.private, *subnets.data)),
        ).to_output()
        outputs[crossstack.REPLICATION_TARGET] = crossstack.ReplicationTarget(
            region=region,
            bucket_arns={
                purpose: f"arn:{PARTITION}:s3:::{bucket_name(PROJECT, stack, purpose, ACCOUNT_ID)}"
                for purpose in crossstack.REPLICATED_BUCKETS
            },
            kms_key_arn=kms_key_arn(region, f"{stack}-keys-s3"),
        ).to_output()
    return outputs


def from_stack_files(root: Path) -> Callable[[str], Outputs | None]:
    """Outputs by qualified stack name (organization/project/stack)."""

    def outputs(qualified: str) -> Outputs | None:
        stack = qualified.rsplit("/", 1)[-1]
        if not (root / f"Pulumi.{stack}.yaml").is_file():
            return None
        try:
            settings = stack_settings(root, stack)
        except (StackConfigError, SettingsError) as exc:
            # About the peer, not the stack being previewed: say which one.
            raise SettingsError(f"referenced stack {stack}: {exc}") from None
        return outputs_of(settings)

    return outputs

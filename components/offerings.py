"""What AWS offers, from the enums the pulumi-aws SDK ships: regions and instance types.

Settings reject a value AWS would reject at load, naming the key, instead of letting the
first ``pulumi up`` fail half-way. The SDK's RDS class enum lags behind new families
(it has no db.r7g), so a managed-service class (``db.``, ``cache.``, ``kafka.``,
``.search``) is accepted when its RDS enum entry or its EC2 instance type exists.
"""

from __future__ import annotations

import re
from functools import cache

# A Graviton (arm64) family: a1, or a generation digit followed by "g" (m7g, c6gn, r6gd,
# t4g, im4gn, is4gen, x2gd).
_GRAVITON = re.compile(r"^(a1|[a-z]+\d+g[a-z-]*)$")


@cache
def regions() -> frozenset[str]:
    from pulumi_aws import Region

    return frozenset(region.value for region in Region)


@cache
def ec2_instance_types() -> frozenset[str]:
    from pulumi_aws.ec2 import InstanceType

    return frozenset(instance.value for instance in InstanceType)


@cache
def _rds_classes() -> frozenset[str]:
    from pulumi_aws.rds import InstanceType

    return frozenset(instance.value for instance in InstanceType)


def is_graviton(instance_type: str) -> bool:
    return bool(_GRAVITON.match(instance_type.split(".", 1)[0]))


def check_instance_type(value: str) -> str:
    if value not in ec2_instance_types():
        raise ValueError(f"'{value}' is not an EC2 instance type (e.g. m6i.xlarge)")
    return value


def check_service_class(value: str, prefix: str, kind: str, example: str) -> str:
    """``db.r6g.large``, ``cache.r7g.large``, ``kafka.m7g.large``: prefix + an EC2 type."""
    ec2 = value.removeprefix(f"{prefix}.")
    known = ec2 != value and ec2 in ec2_instance_types()
    if not known and not (prefix == "db" and value in _rds_classes()):
        raise ValueError(f"'{value}' is not an {kind} AWS offers (e.g. {example})")
    return value


def check_region(value: str) -> str:
    if value not in regions():
        raise ValueError(f"'{value}' is not an AWS region (e.g. us-east-1)")
    return value

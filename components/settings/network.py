"""``agent-factory:network``: the VPC's address space, zones, NAT and endpoints."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from components.addressing import SubnetPlan, plan_subnets
from components.settings.base import KeyedError, LogRetentionDays, SettingsModel

# Private nodes pull images, assume roles, ship logs and join the cluster through these.
_REQUIRED_ENDPOINTS = {"ecr.api", "ecr.dkr", "sts", "logs", "ec2"}


def _private_network(value: str) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"'{value}' is not an IPv4 CIDR block ({exc})") from None
    if not network.is_private:
        raise ValueError(f"{network} is not in a private range (RFC 1918)")
    if not 16 <= network.prefixlen <= 24:
        raise ValueError(f"{network}: a VPC must be between /16 and /24")
    return network


PrefixLength = Annotated[int, Field(ge=16, le=28)]


class SubnetPrefixLengths(SettingsModel):
    """Prefix length of each tier's subnets; private is largest (pods take VPC IPs)."""

    public: PrefixLength = Field(22, description="Public subnets (load balancers, NAT).")
    private: PrefixLength = Field(19, description="Private subnets (nodes and pods).")
    data: PrefixLength = Field(22, description="Data subnets (RDS, ElastiCache, MSK).")

    def as_dict(self) -> dict[str, int]:
        return {"public": self.public, "private": self.private, "data": self.data}


class NetworkSettings(SettingsModel):
    """The region's VPC: address space, zones, NAT gateways, flow logs and endpoints."""

    vpc_cidr: str = Field(
        "10.0.0.0/16",
        description="VPC CIDR block: private (RFC 1918), /16 to /24, never overlapping "
        "another stack's.",
    )
    az_count: Annotated[int, Field(ge=2, le=6)] = Field(
        3, description="Availability zones the subnets span (2-6)."
    )
    availability_zones: list[str] | None = Field(
        None,
        description="Zones to use, azCount distinct zones of the stack's region; "
        "default the region's first azCount zones.",
    )
    nat_gateways: Literal["single", "per-az"] = Field(
        "per-az", description="One NAT gateway for the VPC (cheap) or one per zone (resilient)."
    )
    subnet_prefix_lengths: SubnetPrefixLengths = Field(
        SubnetPrefixLengths(), description="Prefix length of each subnet tier."
    )
    flow_log_retention_days: LogRetentionDays = Field(
        365, description="Days VPC flow logs stay in CloudWatch (a CloudWatch retention)."
    )
    interface_endpoints: list[str] = Field(
        default_factory=lambda: [
            "ecr.api",
            "ecr.dkr",
            "sts",
            "logs",
            "ec2",
            "elasticloadbalancing",
            "autoscaling",
            "ssm",
            "ssmmessages",
            "ec2messages",
        ],
        description="AWS services reached through interface endpoints; must include "
        "ecr.api, ecr.dkr, sts, logs and ec2.",
    )

    @field_validator("vpc_cidr")
    @classmethod
    def _check_cidr(cls, value: str) -> str:
        return str(_private_network(value))

    @field_validator("interface_endpoints")
    @classmethod
    def _check_endpoints(cls, value: list[str]) -> list[str]:
        missing = sorted(_REQUIRED_ENDPOINTS - set(value))
        if missing:
            raise ValueError(f"private nodes need endpoints for {missing}")
        if len(set(value)) != len(value):
            raise ValueError("lists a service twice")
        return value

    @model_validator(mode="after")
    def _check_zones(self) -> NetworkSettings:
        zones = self.availability_zones
        if zones is not None and (len(zones) != self.az_count or len(set(zones)) != len(zones)):
            raise KeyedError(
                "availabilityZones",
                f"must name {self.az_count} distinct zones (azCount), got {zones}",
            )
        return self

    @property
    def vpc_network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.vpc_cidr)

    @property
    def subnets(self) -> SubnetPlan:
        return plan_subnets(self.vpc_network, self.az_count, self.subnet_prefix_lengths.as_dict())

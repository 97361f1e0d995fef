"""Subnet layout for the VPC, computed with ``ipaddress`` (pure, no Pulumi)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

TIERS: tuple[str, ...] = ("private", "public", "data")


class AddressingError(ValueError):
    """The requested subnets cannot be carved out of the VPC."""


@dataclass(frozen=True)
class SubnetPlan:
    """CIDRs per tier, one per availability zone, in AZ order."""

    public: tuple[ipaddress.IPv4Network, ...]
    private: tuple[ipaddress.IPv4Network, ...]
    data: tuple[ipaddress.IPv4Network, ...]

    def tier(self, name: str) -> tuple[ipaddress.IPv4Network, ...]:
        return {"public": self.public, "private": self.private, "data": self.data}[name]


def plan_subnets(
    vpc: ipaddress.IPv4Network, az_count: int, prefix_lengths: dict[str, int]
) -> SubnetPlan:
    """Allocate ``az_count`` subnets per tier from ``vpc``.

    Largest subnets are placed first so smaller ones pack into the remaining space
    without alignment gaps. The result is deterministic: the same inputs always give
    the same CIDRs, so a plan never moves a subnet (which would replace it).
    """
    order = sorted(TIERS, key=lambda tier: (prefix_lengths[tier], TIERS.index(tier)))
    taken: list[ipaddress.IPv4Network] = []
    result: dict[str, list[ipaddress.IPv4Network]] = {}
    for tier in order:
        prefix = prefix_lengths[tier]
        if prefix < vpc.prefixlen:
            raise AddressingError(f"/{prefix} {tier} subnets are larger than the VPC {vpc}")
        picked: list[ipaddress.IPv4Network] = []
        for candidate in vpc.subnets(new_prefix=prefix):
            if any(candidate.overlaps(used) for used in taken):
                continue
            picked.append(candidate)
            taken.append(candidate)
            if len(picked) == az_count:
                break
        if len(picked) < az_count:
            raise AddressingError(
                f"{az_count} /{prefix} {tier} subnets do not fit in {vpc} next to the other tiers"
            )
        result[tier] = picked
    return SubnetPlan(
        public=tuple(result["public"]),
        private=tuple(result["private"]),
        data=tuple(result["data"]),
    )

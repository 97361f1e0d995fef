"""PublicZone: the Route 53 hosted zone of the platform's domain, owned by the primary.

A zone that already exists (the domain was registered with Route 53, which creates one) is
looked up by its id instead of created, so the program never runs a second zone whose name
servers nobody delegated to. Secondaries do not build this component: they read the
primary's zone id through a StackReference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class PublicZoneArgs:
    domain: str
    # Look this zone up instead of creating one.
    existing_zone_id: str | None
    protect: bool


def _matching(domain: str, zone_id: str, zone_name: str) -> str:
    if zone_name.rstrip(".") != domain:
        raise ValueError(
            f"agent-factory:security.hostedZoneId: zone {zone_id} is {zone_name}, not {domain}"
        )
    return zone_id


class PublicZone(pulumi.ComponentResource):
    zone_id: pulumi.Output[str]
    name_servers: pulumi.Output[Sequence[str]]

    def __init__(
        self, name: str, args: PublicZoneArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:PublicZone", name, None, opts)
        if args.existing_zone_id is not None:
            found = aws.route53.get_zone_output(
                zone_id=args.existing_zone_id,
                private_zone=False,
                opts=pulumi.InvokeOutputOptions(parent=self),
            )
            self.zone_id = pulumi.Output.all(found.zone_id, found.name).apply(
                lambda v: _matching(args.domain, v[0], v[1])
            )
            self.name_servers = found.name_servers
        else:
            zone = aws.route53.Zone(
                name,
                name=args.domain,
                comment=f"{args.domain}: public zone of the Agent Factory platform",
                # Records owned by other stacks (regions, cert-manager) must block deletion.
                force_destroy=False,
                opts=pulumi.ResourceOptions(
                    parent=self, protect=args.protect, retain_on_delete=args.protect
                ),
            )
            self.zone_id = zone.zone_id
            self.name_servers = zone.name_servers
        self.register_outputs({"zoneId": self.zone_id, "nameServers": self.name_servers})

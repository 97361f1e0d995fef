"""RegionPeering: a secondary's private path to the primary, owned by the secondary.

The secondary requests a Transit Gateway peering attachment from its own gateway to the
primary's and accepts it on the primary's side; both ends then associate the attachment
with their gateway's route table and add one static route to the other region's VPC
(peering attachments carry no propagated routes). The primary-side resources name the
primary's region in their ``region`` argument (pulumi-aws 7 manages a resource in any
region through the stack's one provider), so the primary's stack never changes when a
secondary joins or leaves: destroying the secondary removes its link.

What the primary owns on its side, from the secondaries' ``regionLink`` outputs: routes
back from its data subnets and the ingress rules of its database and cache
(components/network/network.py, components/data/datastores.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class RegionPeeringArgs:
    # This (the secondary) region's gateway and route table, and its VPC range.
    transit_gateway_id: pulumi.Input[str]
    route_table_id: pulumi.Input[str]
    vpc_cidr: str
    # The primary's, read from its stack outputs.
    primary_region: pulumi.Input[str]
    primary_transit_gateway_id: pulumi.Input[str]
    primary_route_table_id: pulumi.Input[str]
    primary_vpc_cidr: pulumi.Input[str]


class RegionPeering(pulumi.ComponentResource):
    attachment_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: RegionPeeringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:RegionPeering", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        request = aws.ec2transitgateway.PeeringAttachment(
            name,
            transit_gateway_id=args.transit_gateway_id,
            peer_transit_gateway_id=args.primary_transit_gateway_id,
            peer_region=args.primary_region,
            # Same account: peer_account_id defaults to the caller's.
            tags={"Name": name},
            opts=child,
        )
        accept = aws.ec2transitgateway.PeeringAttachmentAccepter(
            f"{name}-accept",
            transit_gateway_attachment_id=request.id,
            region=args.primary_region,
            tags={"Name": name},
            opts=child,
        )
        # Associations and routes need an available attachment: read its id from the
        # acceptance, so they wait for it.
        attachment_id = accept.transit_gateway_attachment_id
        aws.ec2transitgateway.RouteTableAssociation(
            f"{name}-association",
            transit_gateway_attachment_id=attachment_id,
            transit_gateway_route_table_id=args.route_table_id,
            opts=child,
        )
        aws.ec2transitgateway.RouteTableAssociation(
            f"{name}-primary-association",
            transit_gateway_attachment_id=attachment_id,
            transit_gateway_route_table_id=args.primary_route_table_id,
            region=args.primary_region,
            opts=child,
        )
        aws.ec2transitgateway.Route(
            f"{name}-to-primary",
            destination_cidr_block=args.primary_vpc_cidr,
            transit_gateway_route_table_id=args.route_table_id,
            transit_gateway_attachment_id=attachment_id,
            opts=child,
        )
        aws.ec2transitgateway.Route(
            f"{name}-from-primary",
            destination_cidr_block=args.vpc_cidr,
            transit_gateway_route_table_id=args.primary_route_table_id,
            transit_gateway_attachment_id=attachment_id,
            region=args.primary_region,
            opts=child,
        )
        self.attachment_id = attachment_id
        self.register_outputs({"attachmentId": self.attachment_id})

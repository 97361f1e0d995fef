"""TransitGateway: the region's hub for private traffic to the other prod regions.

One gateway per multi-region stack, with its own route table instead of the gateway's
default one (default association and propagation are off): every association and every
route is then a resource in the plan, so a test can follow a packet through them.

- The VPC attachment sits in the data subnets, one per zone (a gateway needs one subnet in
  each zone it serves; routes from any subnet of that zone then reach it). Traffic the
  gateway delivers into the VPC is routed by the attachment subnets' route table, whose
  local route reaches every subnet.
- The attachment is associated with the route table (traffic from the VPC is looked up
  there) and propagates the VPC's CIDR into it (traffic for the VPC is sent to it).
- Peering attachments to other regions' gateways and their static routes belong to
  ``components/multiregion/peering.py``; they use this route table too.

``transit_gateway_id`` is read from the attachment, so a VPC route that targets it waits
for the attachment: EC2 refuses a route to a gateway that is not attached to the VPC.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class TransitGatewayArgs:
    vpc_id: pulumi.Input[str]
    subnet_ids: list[pulumi.Input[str]]
    # Private ASN, distinct per region (components/settings/multiregion.py).
    amazon_side_asn: int


class TransitGateway(pulumi.ComponentResource):
    transit_gateway_id: pulumi.Output[str]
    route_table_id: pulumi.Output[str]
    vpc_attachment_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: TransitGatewayArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:TransitGateway", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        gateway = aws.ec2transitgateway.TransitGateway(
            name,
            description=f"{name}: private paths to the other prod regions",
            amazon_side_asn=args.amazon_side_asn,
            # Explicit route table, associations and propagations (see the module docstring).
            default_route_table_association="disable",
            default_route_table_propagation="disable",
            auto_accept_shared_attachments="disable",
            dns_support="enable",
            vpn_ecmp_support="disable",
            tags={"Name": name},
            opts=child,
        )
        table = aws.ec2transitgateway.RouteTable(
            f"{name}-rt",
            transit_gateway_id=gateway.id,
            tags={"Name": f"{name}-rt"},
            opts=child,
        )
        attachment = aws.ec2transitgateway.VpcAttachment(
            f"{name}-vpc",
            transit_gateway_id=gateway.id,
            vpc_id=args.vpc_id,
            subnet_ids=args.subnet_ids,
            dns_support="enable",
            # Managed by the association and propagation below, never by defaults.
            transit_gateway_default_route_table_association=False,
            transit_gateway_default_route_table_propagation=False,
            tags={"Name": f"{name}-vpc"},
            opts=child,
        )
        aws.ec2transitgateway.RouteTableAssociation(
            f"{name}-vpc-association",
            transit_gateway_attachment_id=attachment.id,
            transit_gateway_route_table_id=table.id,
            opts=child,
        )
        aws.ec2transitgateway.RouteTablePropagation(
            f"{name}-vpc-propagation",
            transit_gateway_attachment_id=attachment.id,
            transit_gateway_route_table_id=table.id,
            opts=child,
        )
        self.transit_gateway_id = attachment.transit_gateway_id
        self.route_table_id = table.id
        self.vpc_attachment_id = attachment.id
        self.register_outputs(
            {
                "transitGatewayId": self.transit_gateway_id,
                "routeTableId": self.route_table_id,
                "vpcAttachmentId": self.vpc_attachment_id,
            }
        )

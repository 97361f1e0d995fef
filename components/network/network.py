"""Network: the VPC the platform runs in.

Three tiers per availability zone: public (load balancers, NAT), private (nodes and pods,
routed out through NAT) and data (databases and caches, no route to the internet at all).
A multi-region stack also gets a Transit Gateway attached in the data subnets
(``transit.py``), and routes to the other regions' address ranges through it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.addressing import SubnetPlan
from components.context import AccountContext
from components.network.transit import TransitGateway, TransitGatewayArgs


@dataclass(frozen=True)
class TransitRouting:
    """Private routes to other regions through this region's Transit Gateway."""

    amazon_side_asn: int
    # Routed from the private subnets (nodes, pods); None leaves their route tables alone.
    private_destinations: pulumi.Input[list[str]] | None
    # Routed from the data subnets (and the gateway's attachment, which sits there).
    data_destinations: pulumi.Input[list[str]]


@dataclass(frozen=True)
class NetworkArgs:
    account: AccountContext
    cluster_name: str
    vpc_cidr: str
    subnets: SubnetPlan
    availability_zones: pulumi.Input[list[str]]
    nat_gateway_count: int
    flow_log_retention_days: int
    flow_log_key_arn: pulumi.Input[str]
    interface_endpoints: tuple[str, ...]
    transit: TransitRouting | None = None


def _with_transit_routes(
    nat_gateway_id: pulumi.Input[str] | None,
    transit_gateway_id: pulumi.Output[str],
    destinations: pulumi.Input[list[str]],
) -> pulumi.Output[list[aws.ec2.RouteTableRouteArgs]]:
    """The default route through NAT (if any) plus one route per destination to the
    gateway, all inline like the rest: EC2 route resources next to inline routes would
    fight over the table."""
    return pulumi.Output.all(nat_gateway_id, transit_gateway_id, destinations).apply(
        lambda v: [
            *(
                [aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=v[0])]
                if v[0]
                else []
            ),
            *[
                aws.ec2.RouteTableRouteArgs(cidr_block=cidr, transit_gateway_id=v[1])
                for cidr in v[2]
            ],
        ]
    )


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    public_subnet_ids: pulumi.Output[list[str]]
    private_subnet_ids: pulumi.Output[list[str]]
    data_subnet_ids: pulumi.Output[list[str]]
    endpoint_security_group_id: pulumi.Output[str]
    transit_gateway: TransitGateway | None

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        zones = pulumi.Output.from_input(args.availability_zones)
        az_count = len(args.subnets.private)

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": name},
            opts=child,
        )
        # Adopting the default group with no rules removes AWS's allow-all-within-group rules.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            ingress=[],
            egress=[],
            tags={"Name": f"{name}-default-unused"},
            opts=child,
        )
        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags={"Name": f"{name}-igw"}, opts=child
        )

        cluster_tag = f"kubernetes.io/cluster/{args.cluster_name}"
        tier_tags = {
            "public": {"kubernetes.io/role/elb": "1", cluster_tag: "shared"},
            "private": {"kubernetes.io/role/internal-elb": "1", cluster_tag: "shared"},
            "data": {},
        }
        subnets: dict[str, list[aws.ec2.Subnet]] = {"public": [], "private": [], "data": []}
        for tier, ids in subnets.items():
            for index, cidr in enumerate(args.subnets.tier(tier)):
                ids.append(
                    aws.ec2.Subnet(
                        f"{name}-{tier}-{index}",
                        vpc_id=vpc.id,
                        cidr_block=str(cidr),
                        availability_zone=zones[index],
                        map_public_ip_on_launch=False,
                        tags={"Name": f"{name}-{tier}-{index}", "Tier": tier, **tier_tags[tier]},
                        opts=child,
                    )
                )

        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags={"Name": f"{name}-public"},
            opts=child,
        )
        for index, subnet in enumerate(subnets["public"]):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-rta-{index}",
                subnet_id=subnet.id,
                route_table_id=public_rt.id,
                opts=child,
            )

        nat_ids: list[pulumi.Output[str]] = []
        for index in range(args.nat_gateway_count):
            eip = aws.ec2.Eip(
                f"{name}-nat-eip-{index}",
                domain="vpc",
                tags={"Name": f"{name}-nat-{index}"},
                opts=child,
            )
            nat = aws.ec2.NatGateway(
                f"{name}-nat-{index}",
                allocation_id=eip.id,
                subnet_id=subnets["public"][index].id,
                connectivity_type="public",
                tags={"Name": f"{name}-nat-{index}"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
            )
            nat_ids.append(nat.id)

        self.transit_gateway = None
        transit = args.transit
        if transit is not None:
            self.transit_gateway = TransitGateway(
                f"{name}-tgw",
                TransitGatewayArgs(
                    vpc_id=vpc.id,
                    subnet_ids=[subnet.id for subnet in subnets["data"]],
                    amazon_side_asn=transit.amazon_side_asn,
                ),
                opts=child,
            )

        private_route_tables: list[pulumi.Output[str]] = []
        data_route_tables: list[pulumi.Output[str]] = []
        for index in range(az_count):
            # Each AZ egresses through its own NAT when there is one per AZ, so an AZ
            # outage never takes another AZ's egress with it.
            nat_id = nat_ids[index % len(nat_ids)]
            private_routes: pulumi.Input[list[aws.ec2.RouteTableRouteArgs]] = [
                aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat_id)
            ]
            data_routes: pulumi.Input[list[aws.ec2.RouteTableRouteArgs]] | None = None
            if self.transit_gateway is not None and transit is not None:
                gateway_id = self.transit_gateway.transit_gateway_id
                if transit.private_destinations is not None:
                    private_routes = _with_transit_routes(
                        nat_id, gateway_id, transit.private_destinations
                    )
                data_routes = _with_transit_routes(None, gateway_id, transit.data_destinations)
            private_rt = aws.ec2.RouteTable(
                f"{name}-private-rt-{index}",
                vpc_id=vpc.id,
                routes=private_routes,
                tags={"Name": f"{name}-private-{index}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-rta-{index}",
                subnet_id=subnets["private"][index].id,
                route_table_id=private_rt.id,
                opts=child,
            )
            # Data subnets never route to the internet; in a multi-region stack they route
            # to the other regions' ranges through the Transit Gateway.
            data_rt = aws.ec2.RouteTable(
                f"{name}-data-rt-{index}",
                vpc_id=vpc.id,
                routes=data_routes,
                tags={"Name": f"{name}-data-{index}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-data-rta-{index}",
                subnet_id=subnets["data"][index].id,
                route_table_id=data_rt.id,
                opts=child,
            )
            private_route_tables.append(private_rt.id)
            data_route_tables.append(data_rt.id)

        self._flow_logs(name, args, vpc)

        region = args.account.region
        # Endpoint service names are not the DNS suffix reversed: in the China partition the
        # prefix differs per service (com.amazonaws for S3, cn.com.amazonaws for most
        # interface endpoints), so a partition other than aws or aws-us-gov needs each name
        # looked up (aws.ec2.get_vpc_endpoint_service) rather than derived here.
        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=private_route_tables + data_route_tables,
            tags={"Name": f"{name}-s3"},
            opts=child,
        )
        endpoint_sg = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg",
            vpc_id=vpc.id,
            description="HTTPS from inside the VPC to interface endpoints",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    description="HTTPS from the VPC",
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    cidr_blocks=[args.vpc_cidr],
                )
            ],
            tags={"Name": f"{name}-endpoints"},
            opts=child,
        )
        private_ids = [subnet.id for subnet in subnets["private"]]
        for service in args.interface_endpoints:
            aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}",
                vpc_id=vpc.id,
                service_name=f"com.amazonaws.{region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=private_ids,
                security_group_ids=[endpoint_sg.id],
                tags={"Name": f"{name}-{service}"},
                opts=child,
            )

        self.vpc_id = vpc.id
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in subnets["public"]])
        self.private_subnet_ids = pulumi.Output.all(*private_ids)
        self.data_subnet_ids = pulumi.Output.all(*[s.id for s in subnets["data"]])
        self.endpoint_security_group_id = endpoint_sg.id
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "publicSubnetIds": self.public_subnet_ids,
                "privateSubnetIds": self.private_subnet_ids,
                "dataSubnetIds": self.data_subnet_ids,
            }
        )

    def _flow_logs(self, name: str, args: NetworkArgs, vpc: aws.ec2.Vpc) -> None:
        child = pulumi.ResourceOptions(parent=self)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=f"/aws/vpc/{args.cluster_name}/flow-logs",
            retention_in_days=args.flow_log_retention_days,
            kms_key_id=args.flow_log_key_arn,
            opts=child,
        )
        account = args.account
        trust = pulumi.Output.all(account.account_id, account.partition).apply(
            lambda v: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                            # Confused-deputy guard: only flow logs of this account.
                            "Condition": {"StringEquals": {"aws:SourceAccount": v[0]}},
                        }
                    ],
                }
            )
        )
        role = aws.iam.Role(f"{name}-flow-logs-role", assume_role_policy=trust, opts=child)
        aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=role.id,
            policy=log_group.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": [
                                    "logs:CreateLogStream",
                                    "logs:PutLogEvents",
                                    "logs:DescribeLogStreams",
                                ],
                                "Resource": [arn, f"{arn}:*"],
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags={"Name": f"{name}-flow-log"},
            opts=child,
        )


def nodes_only_security_group(
    name: str,
    vpc_id: pulumi.Input[str],
    node_security_group_id: pulumi.Input[str],
    port: int,
    service: str,
    *,
    parent: pulumi.Resource,
    remote_clients: pulumi.Input[list[str]] | None = None,
) -> aws.ec2.SecurityGroup:
    """A managed service's group: ``port`` from the cluster's nodes, nothing else, no egress.

    Stores never open connections; replies to inbound flows need no egress rule.
    ``remote_clients``: CIDRs of other regions' client subnets (the primary's writer and
    cache serve the secondaries), admitted on the same port only.
    """
    nodes = aws.ec2.SecurityGroupIngressArgs(
        description="cluster nodes",
        protocol="tcp",
        from_port=port,
        to_port=port,
        security_groups=[node_security_group_id],
    )
    ingress: pulumi.Input[list[aws.ec2.SecurityGroupIngressArgs]] = [nodes]
    if remote_clients is not None:
        ingress = pulumi.Output.all(node_security_group_id, remote_clients).apply(
            lambda v: [
                aws.ec2.SecurityGroupIngressArgs(
                    description="cluster nodes",
                    protocol="tcp",
                    from_port=port,
                    to_port=port,
                    security_groups=[v[0]],
                ),
                *(
                    [
                        aws.ec2.SecurityGroupIngressArgs(
                            description="other regions' clients (Transit Gateway)",
                            protocol="tcp",
                            from_port=port,
                            to_port=port,
                            cidr_blocks=sorted(v[1]),
                        )
                    ]
                    if v[1]
                    else []
                ),
            ]
        )
    return aws.ec2.SecurityGroup(
        name,
        description=f"{service}: port {port} from cluster nodes only",
        vpc_id=vpc_id,
        ingress=ingress,
        egress=[],
        opts=pulumi.ResourceOptions(parent=parent),
    )

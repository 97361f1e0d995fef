"""The private path between prod regions: Transit Gateways, peering, routes, SG rules.

The secondaries' plans read the primary's outputs from its stack file (tools/references.py),
so ids in a secondary's plan (the primary's gateway and route table) are checked against the
resources of the primary's own plan: a packet is followed hop by hop through both.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from components.settings import SettingsError, load_settings
from tests.conftest import by_name
from tests.test_multiregion import PRIMARY, PROD_STACKS, SECONDARIES, raw, settings_of
from tools.synth import Plan

TGW = "aws:ec2transitgateway/transitGateway:TransitGateway"
TGW_TABLE = "aws:ec2transitgateway/routeTable:RouteTable"
TGW_ROUTE = "aws:ec2transitgateway/route:Route"
TGW_ASSOCIATION = "aws:ec2transitgateway/routeTableAssociation:RouteTableAssociation"
TGW_PROPAGATION = "aws:ec2transitgateway/routeTablePropagation:RouteTablePropagation"
VPC_ATTACHMENT = "aws:ec2transitgateway/vpcAttachment:VpcAttachment"
PEERING = "aws:ec2transitgateway/peeringAttachment:PeeringAttachment"
ACCEPTER = "aws:ec2transitgateway/peeringAttachmentAccepter:PeeringAttachmentAccepter"
VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
RTA = "aws:ec2/routeTableAssociation:RouteTableAssociation"
SG = "aws:ec2/securityGroup:SecurityGroup"
RDS = "aws:rds/instance:Instance"
CACHE = "aws:elasticache/replicationGroup:ReplicationGroup"
POSTGRES_PORT, REDIS_PORT, KAFKA_PORT = 5432, 6379, 9098

Routes = list[tuple[ipaddress.IPv4Network, str]]


def rid(plan: Plan, resource: Any) -> str:
    return str(plan.states[resource.urn]["id"])


def longest_match(routes: Routes, address: ipaddress.IPv4Address) -> str | None:
    matches = [(net.prefixlen, target) for net, target in routes if address in net]
    return max(matches)[1] if matches else None


@dataclass
class Region:
    """One stack's network as a router sees it."""

    plan: Plan
    vpc_cidr: ipaddress.IPv4Network
    gateway: str
    attachment: str
    subnets: dict[str, ipaddress.IPv4Network]  # id -> CIDR
    tables: dict[str, Routes]  # subnet id -> its route table's routes

    @classmethod
    def of(cls, plan: Plan) -> Region:
        (vpc,) = plan.by_type(VPC)
        (gateway,) = plan.by_type(TGW)
        (attachment,) = plan.by_type(VPC_ATTACHMENT)
        cidr = ipaddress.IPv4Network(vpc.inputs["cidrBlock"])
        subnets = {
            rid(plan, s): ipaddress.IPv4Network(s.inputs["cidrBlock"]) for s in plan.by_type(SUBNET)
        }
        routes: dict[str, Routes] = {}
        for table in plan.by_type(ROUTE_TABLE):
            entries = [(cidr, "local")]
            for route in table.inputs.get("routes") or []:
                target = next(
                    route[k]
                    for k in ("transitGatewayId", "natGatewayId", "gatewayId")
                    if k in route
                )
                entries.append((ipaddress.IPv4Network(route["cidrBlock"]), target))
            routes[rid(plan, table)] = entries
        tables = {a.inputs["subnetId"]: routes[a.inputs["routeTableId"]] for a in plan.by_type(RTA)}
        return cls(plan, cidr, rid(plan, gateway), rid(plan, attachment), subnets, tables)

    def tier(self, tier: str) -> list[ipaddress.IPv4Network]:
        return [
            ipaddress.IPv4Network(s.inputs["cidrBlock"])
            for s in self.plan.by_type(SUBNET)
            if s.inputs["tags"]["Tier"] == tier
        ]

    def next_hop(self, source: ipaddress.IPv4Network, to: ipaddress.IPv4Address) -> str | None:
        subnet = next(i for i, cidr in self.subnets.items() if cidr == source)
        return longest_match(self.tables[subnet], to)


@dataclass
class Gateways:
    """Every Transit Gateway table of the deployment, from all plans together: a secondary
    owns routes and associations in the primary's tables."""

    table_of: dict[tuple[str, str], str]  # (attachment, gateway) -> route table
    routes: dict[str, Routes]  # route table -> routes
    peers: dict[str, tuple[str, str]]  # peering attachment -> (requester, accepter gateway)
    accepted: set[str]

    @classmethod
    def of(cls, regions: list[Region]) -> Gateways:
        gateway_of_table: dict[str, str] = {}
        vpc_of_attachment: dict[str, ipaddress.IPv4Network] = {}
        for region in regions:
            for table in region.plan.by_type(TGW_TABLE):
                gateway_of_table[rid(region.plan, table)] = table.inputs["transitGatewayId"]
            vpc_of_attachment[region.attachment] = region.vpc_cidr
        table_of: dict[tuple[str, str], str] = {}
        routes: dict[str, Routes] = {}
        peers: dict[str, tuple[str, str]] = {}
        accepted: set[str] = set()
        for region in regions:
            plan = region.plan
            for association in plan.by_type(TGW_ASSOCIATION):
                table = association.inputs["transitGatewayRouteTableId"]
                key = (association.inputs["transitGatewayAttachmentId"], gateway_of_table[table])
                assert key not in table_of, f"{key} associated twice"
                table_of[key] = table
            for propagation in plan.by_type(TGW_PROPAGATION):
                attachment = propagation.inputs["transitGatewayAttachmentId"]
                routes.setdefault(propagation.inputs["transitGatewayRouteTableId"], []).append(
                    (vpc_of_attachment[attachment], attachment)
                )
            for route in plan.by_type(TGW_ROUTE):
                routes.setdefault(route.inputs["transitGatewayRouteTableId"], []).append(
                    (
                        ipaddress.IPv4Network(route.inputs["destinationCidrBlock"]),
                        route.inputs["transitGatewayAttachmentId"],
                    )
                )
            for peering in plan.by_type(PEERING):
                peers[rid(plan, peering)] = (
                    peering.inputs["transitGatewayId"],
                    peering.inputs["peerTransitGatewayId"],
                )
            accepted |= {a.inputs["transitGatewayAttachmentId"] for a in plan.by_type(ACCEPTER)}
        return cls(table_of, routes, peers, accepted)

    def forward(self, gateway: str, arrived_on: str, to: ipaddress.IPv4Address) -> tuple[str, str]:
        """(attachment the packet leaves on, gateway it arrives at next or '' for a VPC)."""
        table = self.table_of[(arrived_on, gateway)]
        leave = longest_match(self.routes.get(table, []), to)
        assert leave is not None, f"{gateway}: no route to {to} in {table}"
        if leave in self.peers:
            assert leave in self.accepted, f"peering {leave} is never accepted"
            requester, accepter = self.peers[leave]
            return leave, accepter if gateway == requester else requester
        return leave, ""


def deliver(
    gateways: Gateways, start: Region, regions: list[Region], source: Any, to: Any
) -> Region:
    """Follow a packet from the VPC of ``start`` (leaving on its attachment) to the VPC it
    is delivered into."""
    gateway, arrived_on = start.gateway, start.attachment
    for _hop in range(4):
        leave, next_gateway = gateways.forward(gateway, arrived_on, to)
        if not next_gateway:
            return next(r for r in regions if r.attachment == leave)
        gateway, arrived_on = next_gateway, leave
    raise AssertionError(f"{source} -> {to}: routing loop")


def admitted(group: Any, port: int, address: ipaddress.IPv4Address) -> bool:
    return any(
        rule["fromPort"] <= port <= rule["toPort"]
        and any(address in ipaddress.IPv4Network(c) for c in rule.get("cidrBlocks", []))
        for rule in group.inputs["ingress"]
    )


def store_groups(plan: Plan) -> dict[int, Any]:
    """Port -> the security group of the primary's writer (5432) and cache (6379)."""
    groups = {rid(plan, g): g for g in plan.by_type(SG)}
    writer = by_name(plan, RDS)[f"{plan.stack}-data-postgres"]
    (cache,) = plan.by_type(CACHE)
    return {
        POSTGRES_PORT: groups[writer.inputs["vpcSecurityGroupIds"][0]],
        REDIS_PORT: groups[cache.inputs["securityGroupIds"][0]],
    }


@pytest.fixture(scope="module")
def regions(plan_of: Callable[[str], Plan]) -> dict[str, Region]:
    return {stack: Region.of(plan_of(stack)) for stack in PROD_STACKS}


@pytest.mark.parametrize("secondary", SECONDARIES)
def test_secondary_clients_have_a_routed_admitted_path_to_the_primary_writer(
    regions: dict[str, Region], secondary: str
) -> None:
    primary, here = regions[PRIMARY], regions[secondary]
    everyone = list(regions.values())
    gateways = Gateways.of(everyone)
    groups = store_groups(primary.plan)
    # Multi-AZ: the writer and cache nodes may sit in any of the primary's data subnets.
    writer = by_name(primary.plan, RDS)[f"{PRIMARY}-data-postgres"]
    assert writer.inputs["multiAz"] is True
    for client_subnet in [*here.tier("private"), *here.tier("data")]:
        client = client_subnet[10]
        for store_subnet in primary.tier("data"):
            store = store_subnet[10]
            # There: the client's subnet sends it to its gateway, across the peering,
            # into the primary's VPC.
            assert here.next_hop(client_subnet, store) == here.gateway
            assert deliver(gateways, here, everyone, client, store) is primary
            for port in (POSTGRES_PORT, REDIS_PORT):
                assert admitted(groups[port], port, client), (client, port)
            # Back: the store's subnet routes the reply to the primary's gateway and on to
            # the secondary's VPC.
            assert primary.next_hop(store_subnet, client) == primary.gateway
            assert deliver(gateways, primary, everyone, store, client) is here


@pytest.mark.parametrize("secondary", SECONDARIES)
def test_the_path_reaches_only_the_primarys_data_subnets(
    regions: dict[str, Region], secondary: str
) -> None:
    primary, here = regions[PRIMARY], regions[secondary]
    groups = store_groups(primary.plan)
    for client_subnet in here.tier("private"):
        # The primary's nodes are not routed to: the default route (NAT) takes it.
        for node_subnet in primary.tier("private"):
            assert str(here.next_hop(client_subnet, node_subnet[10])).startswith("nat-")
    for public in here.tier("public"):
        assert not admitted(groups[POSTGRES_PORT], POSTGRES_PORT, public[10])
        assert str(here.next_hop(public, primary.tier("data")[0][10])).startswith("igw-")
    # Kafka is per region: nothing from another region is admitted to the brokers.
    kafka = by_name(primary.plan, SG)[f"{PRIMARY}-data-kafka-sg"]
    assert all("cidrBlocks" not in rule for rule in kafka.inputs["ingress"])


def test_the_primary_admits_exactly_the_secondaries_client_subnets(
    regions: dict[str, Region],
) -> None:
    expected = sorted(
        str(cidr)
        for stack in SECONDARIES
        for cidr in (*regions[stack].tier("private"), *regions[stack].tier("data"))
    )
    for port, group in store_groups(regions[PRIMARY].plan).items():
        remote = [rule for rule in group.inputs["ingress"] if "cidrBlocks" in rule]
        assert len(remote) == 1
        assert (remote[0]["fromPort"], remote[0]["toPort"]) == (port, port)
        assert sorted(remote[0]["cidrBlocks"]) == expected
    # Secondaries serve nobody outside their VPC.
    for stack in SECONDARIES:
        for group in store_groups(regions[stack].plan).values():
            assert all("cidrBlocks" not in rule for rule in group.inputs["ingress"])


def test_each_region_has_its_own_gateway_with_explicit_tables(
    regions: dict[str, Region],
) -> None:
    asns = set()
    for stack, region in regions.items():
        plan = region.plan
        (gateway,) = plan.by_type(TGW)
        assert gateway.inputs["defaultRouteTableAssociation"] == "disable"
        assert gateway.inputs["defaultRouteTablePropagation"] == "disable"
        assert gateway.inputs["autoAcceptSharedAttachments"] == "disable"
        asns.add(gateway.inputs["amazonSideAsn"])
        (attachment,) = plan.by_type(VPC_ATTACHMENT)
        data = {i for i, cidr in region.subnets.items() if cidr in region.tier("data")}
        assert set(attachment.inputs["subnetIds"]) == data
        assert attachment.inputs["transitGatewayDefaultRouteTableAssociation"] is False
        # The gateway is the region's provider's; only a secondary's link reaches out.
        for resource in plan.resources:
            if resource.type.startswith("aws:ec2transitgateway/") and "region" in resource.inputs:
                assert stack in SECONDARIES
                assert resource.inputs["region"] == settings_of(PRIMARY).region
        assert plan.outputs["transitGatewayId"] == region.gateway
    assert len(asns) == len(PROD_STACKS)


def test_a_secondary_owns_its_link_and_the_primary_owns_none(
    regions: dict[str, Region],
) -> None:
    primary = regions[PRIMARY].plan
    assert not primary.by_type(PEERING) and not primary.by_type(ACCEPTER)
    assert not primary.by_type(TGW_ROUTE)
    for stack in SECONDARIES:
        plan = regions[stack].plan
        (peering,) = plan.by_type(PEERING)
        assert peering.inputs["peerRegion"] == settings_of(PRIMARY).region
        assert peering.inputs["peerTransitGatewayId"] == regions[PRIMARY].gateway
        (accepter,) = plan.by_type(ACCEPTER)
        # Routes and associations wait for the acceptance (an attachment must be available).
        for resource in [*plan.by_type(TGW_ROUTE), *by_name(plan, TGW_ASSOCIATION).values()]:
            if resource.inputs["transitGatewayAttachmentId"] == rid(plan, peering):
                assert accepter.urn in resource.property_dependencies["transitGatewayAttachmentId"]
        link = plan.outputs["regionLink"]
        assert link["vpcCidr"] == str(regions[stack].vpc_cidr)


def test_single_region_stacks_have_no_transit_gateway(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("dev")
    assert not plan.by_type(TGW)
    assert "transitGatewayId" not in plan.outputs
    for table in plan.by_type(ROUTE_TABLE):
        assert all("transitGatewayId" not in route for route in table.inputs.get("routes") or [])


def test_a_transit_gateway_asn_must_be_private() -> None:
    multi = {"role": "primary", "transitGatewayAsn": 65000}
    assert load_settings("prod", "us-east-1", raw(multiRegion=multi)).multi_region
    with pytest.raises(SettingsError) as error:
        load_settings("prod", "us-east-1", raw(multiRegion={**multi, "transitGatewayAsn": 16509}))
    assert str(error.value).startswith("agent-factory:multiRegion.transitGatewayAsn: ")

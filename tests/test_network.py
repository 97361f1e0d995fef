"""Network under mocks: subnets, NAT, routes, flow logs, endpoints, default SG."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable

import pytest

from tests.conftest import by_name, synth_with
from tools.synth import Plan

SUBNET = "aws:ec2/subnet:Subnet"
NAT = "aws:ec2/natGateway:NatGateway"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


def subnets_by_tier(plan: Plan) -> dict[str, list[dict[str, object]]]:
    tiers: dict[str, list[dict[str, object]]] = {"public": [], "private": [], "data": []}
    for subnet in plan.by_type(SUBNET):
        tiers[subnet.inputs["tags"]["Tier"]].append(subnet.inputs)
    return tiers


def test_prod_has_nine_subnets_over_three_zones(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    tiers = subnets_by_tier(plan)
    assert {tier: len(subnets) for tier, subnets in tiers.items()} == {
        "public": 3,
        "private": 3,
        "data": 3,
    }
    for subnets in tiers.values():
        zones = {s["availabilityZone"] for s in subnets}
        assert zones == {"us-east-1a", "us-east-1b", "us-east-1c"}


@pytest.mark.parametrize(
    ("stack", "vpc"),
    [("dev", "10.10.0.0/16"), ("staging", "10.20.0.0/16"), ("prod", "10.0.0.0/16")],
)
def test_cidrs_inside_the_vpc_and_disjoint(
    plan_of: Callable[[str], Plan], stack: str, vpc: str
) -> None:
    plan = plan_of(stack)
    (vpc_resource,) = plan.by_type("aws:ec2/vpc:Vpc")
    assert vpc_resource.inputs["cidrBlock"] == vpc
    assert vpc_resource.inputs["enableDnsHostnames"] is True
    network = ipaddress.IPv4Network(vpc)
    cidrs = [ipaddress.IPv4Network(s.inputs["cidrBlock"]) for s in plan.by_type(SUBNET)]
    assert all(cidr.subnet_of(network) for cidr in cidrs)
    for index, cidr in enumerate(cidrs):
        assert not any(cidr.overlaps(other) for other in cidrs[index + 1 :])


def test_no_subnet_assigns_public_ips(plan_of: Callable[[str], Plan]) -> None:
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in plan_of("prod").by_type(SUBNET))


def test_load_balancer_discovery_tags(plan_of: Callable[[str], Plan]) -> None:
    tiers = subnets_by_tier(plan_of("prod"))
    cluster_tag = "kubernetes.io/cluster/agent-factory-prod"
    for subnet in tiers["public"]:
        assert subnet["tags"]["kubernetes.io/role/elb"] == "1"
        assert subnet["tags"][cluster_tag] == "shared"
    for subnet in tiers["private"]:
        assert subnet["tags"]["kubernetes.io/role/internal-elb"] == "1"
    for subnet in tiers["data"]:
        assert not any(key.startswith("kubernetes.io") for key in subnet["tags"])


@pytest.mark.parametrize(("stack", "nats"), [("dev", 1), ("staging", 3), ("prod", 3)])
def test_nat_gateways_per_environment(
    plan_of: Callable[[str], Plan], stack: str, nats: int
) -> None:
    plan = plan_of(stack)
    assert len(plan.by_type(NAT)) == nats
    assert len(plan.by_type("aws:ec2/eip:Eip")) == nats
    public_subnet_ids = {
        s.inputs["cidrBlock"] for s in plan.by_type(SUBNET) if s.inputs["tags"]["Tier"] == "public"
    }
    assert len(public_subnet_ids) == 3


def _private_nat_targets(plan: Plan) -> list[str]:
    tables = by_name(plan, ROUTE_TABLE)
    return [
        tables[f"{plan.stack}-network-private-rt-{i}"].inputs["routes"][0]["natGatewayId"]
        for i in range(3)
    ]


def test_prod_private_zones_egress_through_their_own_nat(plan_of: Callable[[str], Plan]) -> None:
    assert len(set(_private_nat_targets(plan_of("prod")))) == 3


def test_dev_private_zones_share_one_nat(plan_of: Callable[[str], Plan]) -> None:
    assert len(set(_private_nat_targets(plan_of("dev")))) == 1


def test_data_subnets_have_no_internet_route(plan_of: Callable[[str], Plan]) -> None:
    tables = by_name(plan_of("prod"), ROUTE_TABLE)
    for index in range(3):
        # Only the other prod regions, through the Transit Gateway (tests/test_transit.py).
        routes = tables[f"prod-network-data-rt-{index}"].inputs.get("routes") or []
        assert all(set(route) == {"cidrBlock", "transitGatewayId"} for route in routes)
        assert "0.0.0.0/0" not in {route["cidrBlock"] for route in routes}
    assert tables["prod-network-public-rt"].inputs["routes"][0]["cidrBlock"] == "0.0.0.0/0"


def test_flow_logs_encrypted_with_the_logs_key(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    keys = by_name(plan, "aws:kms/key:Key")
    (log_group,) = [
        g for g in plan.by_type("aws:cloudwatch/logGroup:LogGroup") if "flow-logs" in g.name
    ]
    logs_key = keys["prod-keys-logs"]
    assert log_group.inputs["kmsKeyId"].startswith("arn:aws:kms:us-east-1:")
    assert logs_key.inputs["enableKeyRotation"] is True
    assert log_group.inputs["retentionInDays"] == 365
    (flow_log,) = plan.by_type("aws:ec2/flowLog:FlowLog")
    assert flow_log.inputs["trafficType"] == "ALL"
    assert flow_log.inputs["logDestinationType"] == "cloud-watch-logs"
    policy = json.loads(logs_key.inputs["policy"])
    services = [s["Principal"].get("Service") for s in policy["Statement"]]
    assert "logs.us-east-1.amazonaws.com" in services


def test_dev_flow_log_retention_is_shorter(plan_of: Callable[[str], Plan]) -> None:
    groups = plan_of("dev").by_type("aws:cloudwatch/logGroup:LogGroup")
    assert {g.inputs["retentionInDays"] for g in groups} == {30}


def test_default_security_group_is_emptied(plan_of: Callable[[str], Plan]) -> None:
    (default_sg,) = plan_of("prod").by_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default_sg.inputs.get("ingress", []) == []
    assert default_sg.inputs.get("egress", []) == []


def test_endpoints_admit_https_from_the_vpc_only(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    endpoint_sg = by_name(plan, "aws:ec2/securityGroup:SecurityGroup")["prod-network-endpoints-sg"]
    (rule,) = endpoint_sg.inputs["ingress"]
    assert (rule["fromPort"], rule["toPort"], rule["protocol"]) == (443, 443, "tcp")
    assert rule["cidrBlocks"] == ["10.0.0.0/16"]
    interface = [e for e in plan.by_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Interface"]
    services = {e.inputs["serviceName"].removeprefix("com.amazonaws.us-east-1.") for e in interface}
    assert {"ecr.api", "ecr.dkr", "sts", "logs", "ec2"} <= services
    assert all(e.inputs["privateDnsEnabled"] is True for e in interface)
    assert all(len(e.inputs["subnetIds"]) == 3 for e in interface)


def test_s3_gateway_endpoint_serves_private_and_data_tables(plan_of: Callable[[str], Plan]) -> None:
    (s3,) = [
        e for e in plan_of("prod").by_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Gateway"
    ]
    assert s3.inputs["serviceName"] == "com.amazonaws.us-east-1.s3"
    assert len(s3.inputs["routeTableIds"]) == 6


def test_four_zones_and_explicit_zone_names() -> None:
    zones = ["us-east-1a", "us-east-1b", "us-east-1d", "us-east-1f"]
    plan = synth_with("staging", network={"azCount": 4, "availabilityZones": zones})
    tiers = subnets_by_tier(plan)
    assert [s["availabilityZone"] for s in tiers["private"]] == zones
    assert len(plan.by_type(NAT)) == 4
    assert len(plan.by_type(SUBNET)) == 12

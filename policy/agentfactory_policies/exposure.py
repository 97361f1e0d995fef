"""Public exposure: buckets, databases, security groups, the EKS API, the VPC's edges."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .core import Resource, Rule, as_bool, as_list, get

AREA = "exposure"
WORLD = ("0.0.0.0/0", "::/0")
PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)


def _is_world(cidr: str) -> bool:
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen == 0
    except ValueError:
        return False


def public_access_block(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    off = [flag for flag in PUBLIC_ACCESS_FLAGS if not as_bool(r.props.get(flag))]
    if off:
        yield f"{', '.join(off)} must be true"


def rds_private(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    if as_bool(r.props.get("publiclyAccessible")):
        yield "publiclyAccessible must be false"


def _world_ingress(rules: list[Any], allowed_ports: set[int], load_balancer: bool) -> Iterator[str]:
    for rule in rules:
        cidrs = as_list(rule.get("cidrBlocks")) + as_list(rule.get("ipv6CidrBlocks"))
        cidrs += as_list(rule.get("cidrIpv4")) + as_list(rule.get("cidrIpv6"))
        if not any(_is_world(c) for c in cidrs):
            continue
        ports = set(
            range(int(rule.get("fromPort", 0) or 0), int(rule.get("toPort", 65535) or 0) + 1)
        )
        if rule.get("protocol") in ("-1", "all") or not ports:
            ports = set(range(65536))
        if not load_balancer or not ports <= allowed_ports:
            yield f"ingress from the internet on ports {rule.get('fromPort')}-{rule.get('toPort')}"


def security_group_ingress(r: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    allowed = set(config.get("loadBalancerPorts", [80, 443]))
    tags = r.props.get("tags") or {}
    load_balancer = tags.get(config.get("loadBalancerTag", "Role")) == "load-balancer"
    if r.type == "aws:ec2/securityGroup:SecurityGroup":
        rules = as_list(r.props.get("ingress"))
    elif r.type == "aws:ec2/securityGroupRule:SecurityGroupRule":
        rules = [r.props] if r.props.get("type") == "ingress" else []
    else:
        rules = [r.props]
    yield from _world_ingress(rules, allowed, load_balancer)


def eks_endpoint_restricted(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    props = r.props if r.type == "eks:index:Cluster" else (r.props.get("vpcConfig") or {})
    public = props.get("endpointPublicAccess", True)
    if not as_bool(public):
        return
    cidrs = as_list(props.get("publicAccessCidrs"))
    if not cidrs:
        yield "public endpoint without publicAccessCidrs is open to 0.0.0.0/0"
    elif any(_is_world(c) for c in cidrs):
        yield "publicAccessCidrs must not contain 0.0.0.0/0"
    if not as_bool(props.get("endpointPrivateAccess")):
        yield "endpointPrivateAccess must be true so nodes reach the API inside the VPC"


def default_sg_empty(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    if as_list(r.props.get("ingress")) or as_list(r.props.get("egress")):
        yield "the default security group must have no rules"


def no_public_ip_on_launch(r: Resource, _c: Mapping[str, Any]) -> Iterator[str]:
    if as_bool(r.props.get("mapPublicIpOnLaunch")):
        yield "mapPublicIpOnLaunch must be false: instances get public IPs only on purpose"


def vpc_flow_logs(
    resources: Sequence[Resource], _c: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    logged: set[str] = set()
    for r in resources:
        if r.type == "aws:ec2/flowLog:FlowLog" and get(r.props, "trafficType") == "ALL":
            logged.update(r.property_dependencies.get("vpcId", r.dependencies))
    for r in resources:
        if r.type == "aws:ec2/vpc:Vpc" and r.urn not in logged:
            yield r.urn, "no flow log capturing ALL traffic for this VPC"


RULES = [
    Rule(
        "s3-public-access-block",
        "S3 public access blocks set all four flags.",
        "critical",
        "Set block_public_acls, block_public_policy, ignore_public_acls, restrict_public_buckets.",
        AREA,
        resource_check=public_access_block,
        types=frozenset({"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"}),
    ),
    Rule(
        "rds-not-public",
        "RDS instances are not publicly accessible.",
        "critical",
        "Set publicly_accessible=False; reach the database from the VPC.",
        AREA,
        resource_check=rds_private,
        types=frozenset({"aws:rds/instance:Instance"}),
    ),
    Rule(
        "sg-no-world-ingress",
        "Security groups admit nothing from 0.0.0.0/0 or ::/0, except 80/443 on load balancers.",
        "critical",
        "Narrow the source to the VPC or a peer security group; tag load-balancer groups "
        "Role=load-balancer to allow 80/443.",
        AREA,
        resource_check=security_group_ingress,
        types=frozenset(
            {
                "aws:ec2/securityGroup:SecurityGroup",
                "aws:ec2/securityGroupRule:SecurityGroupRule",
                "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            }
        ),
        config_schema={
            "loadBalancerPorts": {
                "type": "array",
                "items": {"type": "integer"},
                "default": [80, 443],
            },
            "loadBalancerTag": {"type": "string", "default": "Role"},
        },
    ),
    Rule(
        "eks-endpoint-restricted",
        "The EKS API endpoint is private, or public only to listed CIDRs.",
        "critical",
        "Set cluster.publicAccessCidrs to VPN/CI egress ranges, or leave it empty (private).",
        AREA,
        resource_check=eks_endpoint_restricted,
        types=frozenset({"eks:index:Cluster", "aws:eks/cluster:Cluster"}),
    ),
    Rule(
        "default-sg-empty",
        "The VPC's default security group has no rules.",
        "high",
        "Adopt it with aws.ec2.DefaultSecurityGroup and no ingress/egress.",
        AREA,
        resource_check=default_sg_empty,
        types=frozenset({"aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"}),
    ),
    Rule(
        "subnet-no-auto-public-ip",
        "Subnets do not hand out public IPs automatically.",
        "medium",
        "Set map_public_ip_on_launch=False.",
        AREA,
        resource_check=no_public_ip_on_launch,
        types=frozenset({"aws:ec2/subnet:Subnet"}),
    ),
    Rule(
        "vpc-flow-logs",
        "Every VPC has a flow log capturing ALL traffic.",
        "high",
        "Add an aws.ec2.FlowLog with traffic_type='ALL' for the VPC.",
        AREA,
        stack_check=vpc_flow_logs,
    ),
]

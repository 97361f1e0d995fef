"""Public exposure: buckets, databases, security groups, the EKS API, the VPC's edges."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from typing import Any

from .core import (
    Finding,
    Resource,
    Rule,
    Undecided,
    UnknownRead,
    as_bool,
    as_int,
    as_list,
    covers_internet,
    get,
    guarded,
    is_unknown,
    matches,
    must,
    public_addresses,
)

AREA = "exposure"
PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)
SG_TYPES = frozenset(
    {
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/securityGroupRule:SecurityGroupRule",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    }
)
# Protocols whose rule admits only the listed port range; anything else ("-1", "all",
# icmp, a protocol number) admits every port.
PORTED = frozenset({"tcp", "udp", "6", "17"})


def public_access_block(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    for flag in PUBLIC_ACCESS_FLAGS:
        yield from must(partial(as_bool, r.props.get(flag)), f"{flag} must be true")


def rds_private(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    yield from must(
        lambda: not as_bool(r.props.get("publiclyAccessible")), "publiclyAccessible must be false"
    )


def rule_cidrs(rule: Mapping[str, Any]) -> list[Any]:
    """Every CIDR an ingress rule admits, in the shapes the three SG resource types use."""
    cidrs: list[Any] = []
    for key in ("cidrBlocks", "ipv6CidrBlocks", "cidrIpv4", "cidrIpv6"):
        cidrs += as_list(rule.get(key))
    for cidr in cidrs:
        if is_unknown(cidr):
            raise UnknownRead(cidr.path)
    return cidrs


def rule_ports(rule: Mapping[str, Any]) -> set[int]:
    """The ports a rule admits. ``protocol`` (SecurityGroup, SecurityGroupRule) and
    ``ipProtocol`` (vpc.SecurityGroupIngressRule) both count; "-1" means every port
    whatever fromPort and toPort say."""
    protocol = rule.get("ipProtocol", rule.get("protocol"))
    if is_unknown(protocol):
        raise UnknownRead(protocol.path)
    if str(protocol).lower() not in PORTED:
        return set(range(65536))
    low = as_int(rule.get("fromPort"), 0)
    high = as_int(rule.get("toPort"), 65535)
    return set(range(low, high + 1)) or set(range(65536))


def _world_ingress(
    rules: list[Any], allowed_ports: set[int], load_balancer: bool
) -> Iterator[Finding]:
    # The CIDRs of all rules count together: 0.0.0.0/0 split into halves is still the
    # internet. Ports are reported per rule.
    public_rules = []
    cidrs: list[Any] = []
    for rule in rules:
        try:
            found = rule_cidrs(rule)
        except UnknownRead as exc:
            yield Undecided(exc.path)
            continue
        if any(public_addresses(found)):
            public_rules.append((rule, found))
            cidrs += found
    if not covers_internet(cidrs):
        return
    for rule, found in public_rules:
        try:
            ports = rule_ports(rule)
        except UnknownRead as exc:
            yield Undecided(exc.path)
            continue
        if not load_balancer or not ports <= allowed_ports:
            span = f"{min(ports)}-{max(ports)}"
            yield f"ingress from the internet ({', '.join(map(str, found))}) on ports {span}"


def security_group_ingress(r: Resource, config: Mapping[str, Any]) -> Iterator[Finding]:
    allowed = set(config.get("loadBalancerPorts", [80, 443]))
    # Load-balancer groups are named in the policy config, never by a tag on the group:
    # whoever writes the group must not be able to exempt it.
    load_balancer = matches(r.name, config.get("loadBalancerGroups", []))
    try:
        if r.type == "aws:ec2/securityGroup:SecurityGroup":
            rules = as_list(r.props.get("ingress"))
        elif r.type == "aws:ec2/securityGroupRule:SecurityGroupRule":
            kind = r.props.get("type")
            if is_unknown(kind):
                raise UnknownRead(kind.path)
            rules = [r.props] if kind == "ingress" else []
        else:
            rules = [r.props]
    except UnknownRead as exc:
        yield Undecided(exc.path)
        return
    yield from _world_ingress(rules, allowed, load_balancer)


def _endpoint(props: Mapping[str, Any]) -> Iterator[Finding]:
    public = props.get("endpointPublicAccess", True)
    if not as_bool(public):
        return
    cidrs = as_list(props.get("publicAccessCidrs"))
    if not cidrs:
        yield "public endpoint without publicAccessCidrs is open to 0.0.0.0/0"
    elif any(is_unknown(c) for c in cidrs):
        yield Undecided("publicAccessCidrs")
    elif covers_internet(cidrs):
        yield "publicAccessCidrs together cover the internet"


def eks_endpoint_restricted(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    props = r.props if r.type == "eks:index:Cluster" else get(r.props, "vpcConfig", {})
    if is_unknown(props):
        yield Undecided(props.path)
        return
    yield from guarded(_endpoint, props)
    yield from must(
        lambda: (
            not as_bool(props.get("endpointPublicAccess", True))
            or as_bool(props.get("endpointPrivateAccess"))
        ),
        "endpointPrivateAccess must be true so nodes reach the API inside the VPC",
    )


def default_sg_empty(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    yield from must(
        lambda: not as_list(r.props.get("ingress")) and not as_list(r.props.get("egress")),
        "the default security group must have no rules",
    )


def no_public_ip_on_launch(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    yield from must(
        lambda: not as_bool(r.props.get("mapPublicIpOnLaunch")),
        "mapPublicIpOnLaunch must be false: instances get public IPs only on purpose",
    )


def vpc_flow_logs(
    resources: Sequence[Resource], _c: Mapping[str, Any]
) -> Iterator[tuple[str, Finding]]:
    logged: set[str] = set()
    undecided: set[str] = set()
    for r in resources:
        if r.type != "aws:ec2/flowLog:FlowLog":
            continue
        traffic = get(r.props, "trafficType")
        vpcs = r.deps("vpcId")
        if is_unknown(traffic):
            undecided |= vpcs
        elif traffic == "ALL":
            logged |= vpcs
    for r in resources:
        if r.type == "aws:ec2/vpc:Vpc" and r.urn not in logged:
            if r.urn in undecided:
                yield r.urn, Undecided("trafficType")
            else:
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
        "Security groups admit nothing from the internet (any set of CIDRs covering more "
        "than a /8 of public addresses), except 80/443 on load balancers named in the config.",
        "critical",
        "Narrow the source to the VPC or a peer security group; a load balancer's group is "
        "listed by resource name in the policy config's loadBalancerGroups.",
        AREA,
        resource_check=security_group_ingress,
        types=SG_TYPES,
        config_schema={
            "loadBalancerPorts": {
                "type": "array",
                "items": {"type": "integer"},
                "default": [80, 443],
                "x-relax": "subset",
            },
            "loadBalancerGroups": {
                "type": "array",
                "items": {"type": "string"},
                "description": "security group resource names (globs) of internet-facing "
                "load balancers",
                "default": [],
                "x-relax": "free",
            },
        },
    ),
    Rule(
        "eks-endpoint-restricted",
        "The EKS API endpoint is private, or public only to listed CIDRs that are not the "
        "internet.",
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

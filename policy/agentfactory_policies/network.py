"""Network placement: what may reach the data stores, which subnets reach the internet,
and where nodes run. Links between resources are the plan's property dependencies (what an
input was computed from), never names or tags a resource could choose for itself."""

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
    as_list,
    as_mapping,
    get,
    guarded,
    is_unknown,
    must,
    network,
    present,
    public_addresses,
)
from .exposure import rule_cidrs

AREA = "network"
SG = "aws:ec2/securityGroup:SecurityGroup"
SUBNET = "aws:ec2/subnet:Subnet"
IGW = "aws:ec2/internetGateway:InternetGateway"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE = "aws:ec2/route:Route"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
TGW_ATTACHMENT = "aws:ec2transitgateway/vpcAttachment:VpcAttachment"
SG_RULES = frozenset(
    {
        "aws:ec2/securityGroupRule:SecurityGroupRule",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    }
)
SUBNET_GROUPS = frozenset(
    {
        "aws:rds/subnetGroup:SubnetGroup",
        "aws:elasticache/subnetGroup:SubnetGroup",
    }
)
# Data stores and the inputs that place them (security groups, subnets, subnet groups).
DATA_STORES = {
    "aws:rds/instance:Instance": ("vpcSecurityGroupIds", "dbSubnetGroupName"),
    "aws:rds/cluster:Cluster": ("vpcSecurityGroupIds", "dbSubnetGroupName"),
    "aws:elasticache/replicationGroup:ReplicationGroup": ("securityGroupIds", "subnetGroupName"),
    "aws:elasticache/cluster:Cluster": ("securityGroupIds", "subnetGroupName"),
    "aws:msk/cluster:Cluster": ("brokerNodeGroupInfo",),
    "aws:opensearch/domain:Domain": ("vpcOptions",),
    "aws:memorydb/cluster:Cluster": ("securityGroupIds", "subnetGroupName"),
}


class Topology:
    """The plan's network as the rules need it."""

    def __init__(self, resources: Sequence[Resource]) -> None:
        self.by_urn = {r.urn: r for r in resources}
        self.resources = resources

    def of_type(self, urns: set[str], *types: str) -> set[str]:
        return {u for u in urns if u in self.by_urn and self.by_urn[u].type in types}

    def data_placement(self) -> tuple[dict[str, str], dict[str, str]]:
        """(security group urn -> store name, subnet urn -> store name) of every data store."""
        groups: dict[str, str] = {}
        subnets: dict[str, str] = {}
        for r in self.resources:
            keys = DATA_STORES.get(r.type)
            if keys is None:
                continue
            deps = r.deps(*keys)
            for urn in self.of_type(deps, SG):
                groups.setdefault(urn, r.name)
            for urn in self.of_type(deps, SUBNET):
                subnets.setdefault(urn, r.name)
            for group in self.of_type(deps, *SUBNET_GROUPS):
                for urn in self.of_type(self.by_urn[group].deps("subnetIds"), SUBNET):
                    subnets.setdefault(urn, r.name)
        return groups, subnets

    def internet_routes(self) -> dict[str, list[Finding]]:
        """Route table urn -> findings: routes to an internet gateway (or undecided)."""
        found: dict[str, list[Finding]] = {}
        gateways = {r.urn for r in self.resources if r.type == IGW}
        for r in self.resources:
            if r.type == ROUTE_TABLE:
                if r.deps("routes") & gateways:
                    found.setdefault(r.urn, []).append("a route to the internet gateway")
                    continue
                try:
                    for route in as_list(r.props.get("routes")):
                        gateway = as_mapping(route).get("gatewayId")
                        if is_unknown(gateway):
                            found.setdefault(r.urn, []).append(Undecided("routes.gatewayId"))
                        elif str(gateway or "").startswith("igw-"):
                            found.setdefault(r.urn, []).append(f"a route to {gateway}")
                except UnknownRead as exc:
                    found.setdefault(r.urn, []).append(Undecided(exc.path))
            elif r.type == ROUTE:
                gateway = r.props.get("gatewayId")
                igw = bool(r.deps("gatewayId") & gateways) or (
                    not is_unknown(gateway) and str(gateway or "").startswith("igw-")
                )
                for table in r.deps("routeTableId"):
                    if igw:
                        found.setdefault(table, []).append("a route to the internet gateway")
                    elif is_unknown(gateway):
                        found.setdefault(table, []).append(Undecided("gatewayId"))
        return found

    def subnet_tables(self) -> dict[str, set[str]]:
        tables: dict[str, set[str]] = {}
        for r in self.resources:
            if r.type == ASSOCIATION:
                for subnet in r.deps("subnetId"):
                    tables.setdefault(subnet, set()).update(r.deps("routeTableId"))
        return tables

    def public_subnets(self) -> dict[str, list[Finding]]:
        """Subnet urn -> why it is public (a route to an internet gateway)."""
        routes = self.internet_routes()
        public: dict[str, list[Finding]] = {}
        for subnet, tables in self.subnet_tables().items():
            for table in tables:
                if table in routes:
                    public.setdefault(subnet, []).extend(routes[table])
        return public

    def group_subnets(self, group: str) -> set[str]:
        """The subnets of every data store that uses security group ``group``."""
        subnets: set[str] = set()
        for r in self.resources:
            keys = DATA_STORES.get(r.type)
            if keys is None or group not in r.deps(*keys):
                continue
            deps = r.deps(*keys)
            subnets |= self.of_type(deps, SUBNET)
            for subnet_group in self.of_type(deps, *SUBNET_GROUPS):
                subnets |= self.of_type(self.by_urn[subnet_group].deps("subnetIds"), SUBNET)
        return subnets

    def transit_destinations(self, group: str) -> list[Any]:
        """CIDRs every subnet behind ``group`` routes to a Transit Gateway attached to a VPC
        of this stack (inline routes whose target comes from that attachment): a private
        path to another region. Empty when any of those subnets has none."""
        subnets = sorted(self.group_subnets(group))
        attachments = {r.urn for r in self.resources if r.type == TGW_ATTACHMENT}
        tables = self.subnet_tables()
        common: set[str] | None = None
        for subnet in subnets:
            routed: set[str] = set()
            for table in self.of_type(tables.get(subnet, set()), ROUTE_TABLE):
                resource = self.by_urn[table]
                if not resource.deps("routes") & attachments:
                    continue
                for entry in as_list(resource.props.get("routes")):
                    route = as_mapping(entry)
                    cidr = route.get("cidrBlock")
                    if present(route.get("transitGatewayId")) and not is_unknown(cidr):
                        routed.add(str(cidr))
            common = routed if common is None else common & routed
        return sorted(common or ())

    def vpc_cidr(self, r: Resource) -> Any:
        for urn in self.of_type(r.deps("vpcId"), "aws:ec2/vpc:Vpc"):
            return self.by_urn[urn].props.get("cidrBlock")
        return None


def _inside(cidr: Any, vpc: Any) -> bool:
    parsed = network(cidr)
    if parsed is None:
        return False
    if vpc is None:
        return not any(public_addresses([cidr]))
    outer = network(vpc)
    return outer is not None and parsed.version == outer.version and parsed.subnet_of(outer)  # type: ignore[arg-type]


def _transit(cidr: Any, destinations: Sequence[Any]) -> bool:
    """Inside a private range the store's subnets route to the Transit Gateway."""
    parsed = network(cidr)
    return (
        parsed is not None
        and not any(public_addresses([cidr]))
        and any(_inside(cidr, destination) for destination in destinations)
    )


def _sources(rule: Mapping[str, Any], vpc: Any, transit: Sequence[Any] = ()) -> Iterator[Finding]:
    """Findings for one ingress rule of a data store's group."""
    for cidr in rule_cidrs(rule):
        if is_unknown(vpc):
            yield Undecided(vpc.path)
        elif not _inside(cidr, vpc) and not _transit(cidr, transit):
            yield (
                f"admits {cidr}, which is outside the VPC ({vpc or 'unknown'}) and not "
                "routed from the store's subnets to the Transit Gateway"
            )
    for key in ("prefixListIds", "prefixListId"):
        if as_list(rule.get(key)):
            yield f"admits prefix list {rule.get(key)}: only security groups or the VPC may"


def data_sg_ingress(
    resources: Sequence[Resource], _c: Mapping[str, Any]
) -> Iterator[tuple[str, Finding]]:
    topology = Topology(resources)
    groups, _ = topology.data_placement()
    for r in resources:
        if r.type == SG and r.urn in groups:
            vpc = topology.vpc_cidr(r)

            def check(group: Resource = r, vpc: Any = vpc) -> Iterator[Finding]:
                transit = topology.transit_destinations(group.urn)
                for rule in as_list(group.props.get("ingress")):
                    yield from guarded(_sources, as_mapping(rule), vpc, transit)

            for finding in guarded(check):
                yield r.urn, _labelled(finding, f"group of {groups[r.urn]}")
        elif r.type in SG_RULES:
            targets = topology.of_type(r.deps("securityGroupId"), SG) & set(groups)
            if not targets:
                continue
            kind = r.props.get("type", "ingress")
            if is_unknown(kind):
                yield r.urn, Undecided(kind.path)
                continue
            if kind != "ingress":
                continue
            group = topology.by_urn[next(iter(targets))]
            for finding in guarded(_sources, r.props, topology.vpc_cidr(group)):
                yield r.urn, _labelled(finding, f"rule of {groups[group.urn]}'s group")


def _labelled(finding: Finding, label: str) -> Finding:
    return finding if isinstance(finding, Undecided) else f"{label}: {finding}"


def data_subnets_private(
    resources: Sequence[Resource], _c: Mapping[str, Any]
) -> Iterator[tuple[str, Finding]]:
    topology = Topology(resources)
    _, subnets = topology.data_placement()
    public = topology.public_subnets()
    for urn, store in sorted(subnets.items()):
        for finding in public.get(urn, []):
            yield urn, _labelled(finding, f"subnet of {store} has")


def _falsy(value: Any) -> bool:
    return not as_bool(value)


def launch_template_no_public_ip(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    def check() -> Iterator[Finding]:
        for index, interface in enumerate(as_list(r.props.get("networkInterfaces"))):
            public = as_mapping(interface).get("associatePublicIpAddress")
            yield from must(
                partial(_falsy, public), f"networkInterfaces[{index}] associates a public IP"
            )

    yield from guarded(check)


def nodegroup_hardened(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    yield from must(
        lambda: not get(r.props, "remoteAccess"),
        "remoteAccess opens SSH to the nodes; use SSM Session Manager",
    )
    yield from must(
        lambda: (
            present(get(r.props, "launchTemplate.id"))
            or present(get(r.props, "launchTemplate.name"))
        ),
        "launchTemplate must be the pool's hardened template (IMDSv2, encrypted root volume)",
    )


def nodegroup_private(
    resources: Sequence[Resource], _c: Mapping[str, Any]
) -> Iterator[tuple[str, Finding]]:
    topology = Topology(resources)
    public = topology.public_subnets()
    templates = {r.urn for r in resources if r.type == "aws:ec2/launchTemplate:LaunchTemplate"}
    for r in resources:
        if r.type != "aws:eks/nodeGroup:NodeGroup":
            continue
        subnets = topology.of_type(r.deps("subnetIds"), SUBNET)
        if not subnets:
            yield r.urn, "subnetIds are not subnets of this stack: nodes run in private subnets"
        for subnet in sorted(subnets):
            name = topology.by_urn[subnet].name
            for finding in public.get(subnet, []):
                yield r.urn, _labelled(finding, f"subnet {name} has")
            mapped = topology.by_urn[subnet].props.get("mapPublicIpOnLaunch")
            if is_unknown(mapped):
                yield r.urn, Undecided(f"{name}.mapPublicIpOnLaunch")
            elif as_bool(mapped):
                yield r.urn, f"subnet {name} maps public IPs on launch"
        if get(r.props, "launchTemplate") and not r.deps("launchTemplate") & templates:
            yield r.urn, "launchTemplate is not one of this stack's (policy-checked) templates"


RULES = [
    Rule(
        "data-sg-internal-only",
        "Security groups of data stores admit only security groups, addresses inside the VPC, "
        "or private ranges the store's subnets route to the stack's Transit Gateway.",
        "critical",
        "Reference the client's security group (source_security_group_id) or the VPC CIDR; "
        "another region's clients only over a Transit Gateway route from the data subnets.",
        AREA,
        stack_check=data_sg_ingress,
    ),
    Rule(
        "data-subnet-no-internet-route",
        "Subnets that hold data stores never route to an internet gateway.",
        "critical",
        "Put data stores in subnets whose route table has only local routes (and VPC endpoints).",
        AREA,
        stack_check=data_subnets_private,
    ),
    Rule(
        "launch-template-no-public-ip",
        "Launch templates never associate public IP addresses.",
        "high",
        "Set network_interfaces[].associate_public_ip_address = false (or leave it out).",
        AREA,
        resource_check=launch_template_no_public_ip,
        types=frozenset({"aws:ec2/launchTemplate:LaunchTemplate"}),
    ),
    Rule(
        "eks-nodegroup-hardened",
        "Node groups have no SSH remote access and use the hardened launch template.",
        "high",
        "Remove remote_access; pass launch_template={id, version} of the pool's template.",
        AREA,
        resource_check=nodegroup_hardened,
        types=frozenset({"aws:eks/nodeGroup:NodeGroup"}),
    ),
    Rule(
        "eks-nodegroup-private",
        "Node groups run only in private subnets of this stack, with this stack's launch "
        "templates.",
        "critical",
        "Pass the private subnets (routes via NAT, no public IPs) and the pool's template.",
        AREA,
        stack_check=nodegroup_private,
    ),
]

"""``python -m tools.cost <stack> [--at min|desired|max] [--json PATH]``: monthly list-price cost.

What-if levers without editing a stack file: ``--set KEY=JSON`` deep-merges JSON into the
stack's ``agent-factory:KEY`` config before the program runs (so the settings' validation
applies: ``--set 'nodePools={"worker":{"spotPercentage":100}}'``), and ``--swap OLD=NEW``
replaces an instance type in the planned node groups after it (for types this branch's
settings do not accept yet, such as Graviton m7g/c7g: the price of a what-if, not a plan).

Synthesizes the stack offline and prices it line by line from ``tools/prices.json``, grouped
by component (each resource's nearest ``agentfactory:platform:*`` ancestor). A month is 730
hours. Node groups are priced at their minimum, desired or maximum size, spot groups at a
family discount. Traffic-driven charges (data processed, logs, S3) cannot be known from a
plan: they are listed apart with their unit price and are not in the total.

Every resource type of a plan is either priced, usage-priced or deliberately free
(:data:`FREE_TYPES`); anything else, and any price missing from the file, fails the run with
the complete list rather than producing a low estimate. Prices the file marks unverified are
used and listed. Exit codes: 0 ok, 1 a type or price the tool cannot price, 2 a bad input
(unknown stack, bad config, --json path).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tools.stackconfig import StackConfig, StackConfigError, load_stack_config
from tools.synth import ROOT, Plan, PlannedResource, SynthError, synth, synth_config

PRICES_FILE = Path(__file__).with_name("prices.json")
COMPONENT_PREFIX = "agentfactory:platform:"
SCALING_KEYS = {"min": "minSize", "desired": "desiredSize", "max": "maxSize"}
NO_COMPONENT = "(stack)"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"

EXIT_OK = 0
EXIT_UNPRICED = 1
EXIT_USAGE = 2


@dataclass(frozen=True)
class Price:
    item: str
    region: str
    price: float
    unit: str
    source: str
    date: str
    verified: bool
    evidence: str


@dataclass(frozen=True)
class PriceBook:
    prices: dict[tuple[str, str], Price]
    spot_discounts: dict[str, float]
    hours_per_month: float

    @classmethod
    def load(cls, path: Path = PRICES_FILE) -> PriceBook:
        raw = json.loads(path.read_text())
        prices = {(p["item"], p["region"]): Price(**p) for p in raw["prices"]}
        return cls(prices, dict(raw["spot"]["discounts"]), float(raw["hours_per_month"]))


@dataclass(frozen=True)
class Line:
    """A fixed monthly charge: ``quantity`` of ``unit`` (per month) at ``unit_price``."""

    component: str
    resource: str
    type: str
    what: str
    item: str
    quantity: float
    unit: str
    unit_price: float
    verified: bool

    @property
    def monthly(self) -> float:
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class UsageLine:
    """A charge that scales with traffic or data the plan cannot know."""

    component: str
    resource: str
    type: str
    what: str
    item: str
    unit: str
    unit_price: float
    verified: bool


@dataclass
class Estimate:
    stack: str
    region: str
    at: str
    hours_per_month: float
    lines: list[Line] = field(default_factory=list)
    usage: list[UsageLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The what-if options the estimate was made with (none: the stack as its files say).
    what_if: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(line.monthly for line in self.lines)

    def by_component(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.component] = totals.get(line.component, 0.0) + line.monthly
        return totals

    def unverified(self) -> list[str]:
        items = {line.item for line in self.lines if not line.verified}
        items |= {line.item for line in self.usage if not line.verified}
        return sorted(items)

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "region": self.region,
            "at": self.at,
            "hours_per_month": self.hours_per_month,
            "total_monthly": round(self.total, 2),
            "components": {k: round(v, 2) for k, v in sorted(self.by_component().items())},
            "lines": [{**asdict(line), "monthly": round(line.monthly, 2)} for line in self.lines],
            "usage": [asdict(line) for line in self.usage],
            "notes": self.notes,
            "what_if": self.what_if,
            "unverified_prices": self.unverified(),
        }


class UnpricedError(Exception):
    """Types or prices the tool cannot price: the estimate would be silently low."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__("cannot price: " + "; ".join(missing))


# Types with no charge of their own, and why. Anything not here, in PRICERS or in USAGE fails.
FREE_TYPES: dict[str, str] = {
    "aws:autoscaling/tag:Tag": "tags cost nothing",
    "aws:autoscaling/schedule:Schedule": "scheduled actions cost nothing",
    "aws:budgets/budget:Budget": "budgets without actions are free (AWS Budgets pricing)",
    "aws:cloudwatch/eventRule:EventRule": "AWS service events on the default bus are free",
    "aws:cloudwatch/eventTarget:EventTarget": "configuration only (publishes are SNS usage)",
    "aws:costexplorer/anomalyMonitor:AnomalyMonitor": "Cost Anomaly Detection is free",
    "aws:costexplorer/anomalySubscription:AnomalySubscription": "Cost Anomaly Detection is free",
    "aws:costexplorer/costAllocationTag:CostAllocationTag": "tag activation is free",
    "aws:ec2transitgateway/transitGateway:TransitGateway": "no charge of its own: attachments are",
    "aws:ec2transitgateway/route:Route": "configuration only",
    "aws:ec2transitgateway/routeTable:RouteTable": "configuration only",
    "aws:ec2transitgateway/routeTableAssociation:RouteTableAssociation": "configuration only",
    "aws:ec2transitgateway/routeTablePropagation:RouteTablePropagation": "configuration only",
    "aws:s3/bucketNotification:BucketNotification": "bucket settings (publishes are SNS usage)",
    "aws:sns/topicPolicy:TopicPolicy": "configuration only",
    "aws:cloudtrail/trail:Trail": "first copy of management events is free; its S3 and logs "
    "delivery is priced with the bucket and log group",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": "configuration only",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "security groups are free",
    "aws:ec2/internetGateway:InternetGateway": "internet gateways are free (transfer is usage)",
    "aws:ec2/launchTemplate:LaunchTemplate": "priced with the node groups that launch it",
    "aws:ec2/routeTable:RouteTable": "route tables are free",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "route tables are free",
    "aws:ec2/securityGroup:SecurityGroup": "security groups are free",
    "aws:ec2/subnet:Subnet": "subnets are free",
    "aws:ec2/vpc:Vpc": "VPCs are free",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "repository settings",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": "IAM is free",
    "aws:eks/accessEntry:AccessEntry": "EKS access entries are free",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": "EKS access entries are free",
    "aws:eks/addon:Addon": "managed add-ons are free (they run on the nodes)",
    "aws:elasticache/parameterGroup:ParameterGroup": "configuration only",
    "aws:elasticache/subnetGroup:SubnetGroup": "configuration only",
    "aws:iam/role:Role": "IAM is free",
    "aws:iam/rolePolicy:RolePolicy": "IAM is free",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "IAM is free",
    "aws:kms/alias:Alias": "aliases are free (the key is priced)",
    "aws:msk/configuration:Configuration": "configuration only",
    "aws:rds/parameterGroup:ParameterGroup": "configuration only",
    "aws:route53/hostedZoneDnsSec:HostedZoneDnsSec": "DNSSEC signing is free (its key is priced)",
    "aws:route53/keySigningKey:KeySigningKey": "DNSSEC signing is free (its KMS key is priced)",
    "aws:route53/queryLog:QueryLog": "query logs are priced as their log group's ingestion",
    "aws:rds/subnetGroup:SubnetGroup": "configuration only",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "bucket settings",
    "aws:s3/bucketLogging:BucketLogging": "bucket settings (log objects are S3 storage)",
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": "bucket settings",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "bucket settings",
    "aws:s3/bucketPolicy:BucketPolicy": "bucket settings",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "bucket settings",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "bucket settings (KMS requests are usage)"
    ),
    "aws:s3/bucketVersioning:BucketVersioning": "bucket settings (old versions are S3 storage)",
    "aws:secretsmanager/secretVersion:SecretVersion": "included in the secret's price",
    "kubernetes:argoproj.io/v1alpha1:AnalysisTemplate": "runs on the nodes",
    "kubernetes:argoproj.io/v1alpha1:AppProject": "runs on the nodes",
    "kubernetes:argoproj.io/v1alpha1:Application": "its rendered objects are priced one by one",
    "kubernetes:argoproj.io/v1alpha1:ApplicationSet": "its Applications' objects are priced",
    "kubernetes:argoproj.io/v1alpha1:Rollout": "runs on the nodes",
    "kubernetes:kyverno.io/v1:ClusterPolicy": "runs on the nodes",
    "kubernetes:monitoring.coreos.com/v1:PodMonitor": "runs on the nodes",
    "kubernetes:snapshot.storage.k8s.io/v1:VolumeSnapshotClass": "snapshots are EBS usage",
    "kubernetes:apps/v1:Deployment": "runs on the nodes",
    "kubernetes:autoscaling.k8s.io/v1:VerticalPodAutoscaler": "runs on the nodes",
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": "runs on the nodes",
    "kubernetes:batch/v1:Job": "runs on the nodes",
    "kubernetes:cert-manager.io/v1:Certificate": "runs on the nodes",
    "kubernetes:cert-manager.io/v1:ClusterIssuer": "runs on the nodes",
    "kubernetes:core/v1:ConfigMap": "runs on the nodes",
    "kubernetes:core/v1:LimitRange": "runs on the nodes",
    "kubernetes:core/v1:Namespace": "runs on the nodes",
    "kubernetes:core/v1:ResourceQuota": "runs on the nodes",
    "kubernetes:core/v1:Secret": "runs on the nodes",
    "kubernetes:core/v1:ServiceAccount": "runs on the nodes",
    "kubernetes:external-secrets.io/v1:ClusterSecretStore": "runs on the nodes",
    "kubernetes:external-secrets.io/v1:ExternalSecret": "runs on the nodes",
    # Pulumi renders the chart itself: each object it renders is in the plan on its own.
    "kubernetes:helm.sh/v4:Chart": "its rendered objects are priced one by one",
    "kubernetes:keda.sh/v1alpha1:ScaledObject": "runs on the nodes",
    "kubernetes:keda.sh/v1alpha1:TriggerAuthentication": "runs on the nodes",
    "kubernetes:monitoring.coreos.com/v1:Probe": "runs on the nodes",
    "kubernetes:monitoring.coreos.com/v1:PrometheusRule": "runs on the nodes",
    "kubernetes:monitoring.coreos.com/v1:ServiceMonitor": "runs on the nodes",
    "kubernetes:networking.k8s.io/v1:Ingress": "served by ingress-nginx (priced)",
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": "runs on the nodes",
    "kubernetes:policy/v1:PodDisruptionBudget": "runs on the nodes",
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole": "runs on the nodes",
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": "runs on the nodes",
    "kubernetes:storage.k8s.io/v1:StorageClass": "volumes are priced where charts claim them",
    "random:index/randomPassword:RandomPassword": "local value",
}

# Traffic-driven charges: listed with their unit price, never in the total.
USAGE: dict[str, list[tuple[str, str]]] = {
    "aws:cloudwatch/logGroup:LogGroup": [
        ("log ingestion", "cloudwatch/logs-ingestion"),
        ("log storage", "cloudwatch/logs-storage"),
    ],
    # Each filter publishes one custom metric, billed for the hours it receives data.
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": [
        ("custom metric published by the filter", "cloudwatch/custom-metric")
    ],
    "aws:ec2/flowLog:FlowLog": [("flow logs to CloudWatch", "cloudwatch/vended-logs-ingestion")],
    "aws:guardduty/detector:Detector": [
        ("CloudTrail event analysis", "guardduty/cloudtrail-management-events")
    ],
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication": [
        ("backups copied to another region", "transfer/inter-region")
    ],
    "aws:s3/bucket:Bucket": [("Standard storage", "s3/standard-storage")],
    "aws:ecr/repository:Repository": [("image storage", "ecr/storage")],
    # Enhanced scanning bills Amazon Inspector per image pushed and per rescan.
    "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration": [
        ("enhanced scan of each image pushed", "inspector/ecr-initial-scan"),
        ("continuous rescans", "inspector/ecr-rescan"),
    ],
    "aws:ecr/replicationConfiguration:ReplicationConfiguration": [
        ("images replicated to another region", "transfer/inter-region")
    ],
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": [
        ("objects replicated to another region", "transfer/inter-region")
    ],
    "aws:sns/topic:Topic": [("publishes", "sns/publish")],
}

# GuardDuty protection plans, by detector feature name.
GUARDDUTY_FEATURES = {
    "EKS_AUDIT_LOGS": ("EKS audit log analysis", "guardduty/eks-audit-logs"),
    "RUNTIME_MONITORING": ("runtime monitoring of node vCPUs", "guardduty/runtime-monitoring"),
}

# Charts that claim persistent volumes: the values paths of their StatefulSet specs, each with
# ``replicas`` and ``storageSpec.volumeClaimTemplate``. Other charts asking for volumes fail.
CHART_VOLUMES = {
    "kube-prometheus-stack": ("prometheus.prometheusSpec", "alertmanager.alertmanagerSpec"),
}
VOLUME_KEYS = ("volumeClaimTemplate", "persistence")
LB_TYPE_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-type"
LB_SCHEME_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-scheme"
SIZE_UNITS = {"Mi": 1 / 1024, "Gi": 1.0, "Ti": 1024.0, "M": 1 / 1000, "G": 1.0, "T": 1000.0}


def component_name(resource_type: str) -> str:
    return resource_type.removeprefix(COMPONENT_PREFIX)


def plan_region(plan: Plan) -> str:
    """The region of the stack's explicit AWS provider (every AWS resource uses it)."""
    regions = {
        r.inputs["region"]
        for r in plan.resources
        if r.type == "pulumi:providers:aws" and "region" in r.inputs
    }
    if len(regions) != 1:
        raise UnpricedError([f"one AWS provider region expected, found {sorted(regions)}"])
    return str(regions.pop())


def dig(value: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (dotted path, node) of a JSON value, the root first."""
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, f"{path}[{index}]")


def size_gb(quantity: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([A-Za-z]*)", quantity)
    if match is None or match.group(2) not in SIZE_UNITS:
        raise UnpricedError([f"volume size {quantity!r}"])
    return float(match.group(1)) * SIZE_UNITS[match.group(2)]


class Pricer:
    """Prices one plan; collects every missing price before failing."""

    def __init__(self, plan: Plan, region: str, at: str, book: PriceBook) -> None:
        self.plan = plan
        self.by_urn = {r.urn: r for r in plan.resources}
        self.book = book
        self.region = region
        self.at = at
        self.estimate = Estimate(plan.stack, region, at, book.hours_per_month)
        self.missing: set[str] = set()

    # -- helpers --------------------------------------------------------------------------

    def component(self, resource: PlannedResource) -> str:
        parent = self.by_urn.get(resource.parent)
        while parent is not None:
            if parent.type.startswith(COMPONENT_PREFIX):
                return f"{component_name(parent.type)} {parent.name}"
            parent = self.by_urn.get(parent.parent)
        return NO_COMPONENT

    def price(self, item: str) -> Price | None:
        found = self.book.prices.get((item, self.region))
        if found is None:
            self.missing.add(f"{item} in {self.region}")
        return found

    def add(
        self,
        resource: PlannedResource,
        what: str,
        item: str,
        quantity: float,
        discount: float = 0.0,
    ) -> None:
        price = self.price(item)
        if price is None or quantity == 0:
            return
        self.estimate.lines.append(
            Line(
                component=self.component(resource),
                resource=resource.name,
                type=resource.type,
                what=what,
                item=item,
                quantity=quantity,
                unit=price.unit,
                unit_price=price.price * (1 - discount),
                # A spot discount is a planning assumption, never a read price.
                verified=price.verified and discount == 0,
            )
        )

    def hours(self, count: float) -> float:
        return count * self.book.hours_per_month

    def usage(self, resource: PlannedResource, what: str, item: str) -> None:
        price = self.price(item)
        if price is None:
            return
        self.estimate.usage.append(
            UsageLine(
                self.component(resource),
                resource.name,
                resource.type,
                what,
                item,
                price.unit,
                price.price,
                price.verified,
            )
        )

    def note(self, resource: PlannedResource, text: str) -> None:
        self.estimate.notes.append(f"{resource.name}: {text}")

    def dependency(
        self, resource: PlannedResource, prop: str, type_: str
    ) -> PlannedResource | None:
        for urn in resource.property_dependencies.get(prop, []):
            found = self.by_urn.get(urn)
            if found is not None and found.type == type_:
                return found
        return None

    # -- per type ---------------------------------------------------------------------------

    def eks_cluster(self, r: PlannedResource) -> None:
        self.add(r, "EKS control plane", "eks/cluster-standard-support", self.hours(1))
        support = dig(r.inputs, "upgradePolicy.supportType")
        if support != "STANDARD":
            extended = self.price("eks/cluster-extended-support")
            rate = f"${extended.price}/h" if extended else "a higher rate"
            self.note(
                r,
                f"support type {support or 'EXTENDED (AWS default)'}: {rate} once the "
                "Kubernetes version leaves standard support",
            )

    def node_group(self, r: PlannedResource) -> None:
        count = float(r.inputs["scalingConfig"][SCALING_KEYS[self.at]])
        instance_type = r.inputs["instanceTypes"][0]
        if r.inputs.get("capacityType") == "SPOT":
            family = instance_type.split(".")[0]
            discount = self.book.spot_discounts.get(family)
            if discount is None:
                self.missing.add(f"spot discount for family {family}")
                return
            what = f"{count:g} x {instance_type} spot ({discount:.0%} below on-demand)"
            self.add(r, what, f"ec2/{instance_type}", self.hours(count), discount)
        else:
            what = f"{count:g} x {instance_type} on-demand"
            self.add(r, what, f"ec2/{instance_type}", self.hours(count))
        template = self.dependency(r, "launchTemplate", "aws:ec2/launchTemplate:LaunchTemplate")
        if template is None:
            self.note(r, "no launch template: root volumes not priced")
            return
        for mapping in template.inputs.get("blockDeviceMappings", []):
            ebs = mapping.get("ebs", {})
            size = float(ebs.get("volumeSize", 0))
            volume_type = ebs.get("volumeType", "gp3")
            what = f"{count:g} x {size:g} GB {volume_type} root volume"
            self.add(r, what, f"ebs/{volume_type}", count * size)

    def nat_gateway(self, r: PlannedResource) -> None:
        self.add(r, "NAT gateway", "vpc/nat-gateway", self.hours(1))
        self.usage(r, "data processed", "vpc/nat-gateway-data")
        self.usage(r, "data transfer out to the internet", "transfer/internet-out")

    def tgw_attachment(self, r: PlannedResource) -> None:
        """VPC and peering attachments bill per hour; a peering bills both sides, and the
        secondary creates both (the accepter in prod's region, at the same US/EU price)."""
        self.add(r, "Transit Gateway attachment", "tgw/attachment", self.hours(1))
        if r.type.endswith(":VpcAttachment"):
            self.usage(r, "data processed by the Transit Gateway", "tgw/data-processed")

    def eip(self, r: PlannedResource) -> None:
        self.add(r, "public IPv4 address", "vpc/public-ipv4", self.hours(1))

    def vpc_endpoint(self, r: PlannedResource) -> None:
        if r.inputs.get("vpcEndpointType") != "Interface":
            return  # gateway endpoints (S3, DynamoDB) are free
        zones = len(r.inputs.get("subnetIds", []))
        service = r.inputs["serviceName"].split(f".{self.region}.", 1)[-1]
        self.add(
            r, f"{service} endpoint in {zones} AZs", "vpc/interface-endpoint", self.hours(zones)
        )
        self.usage(r, "data processed", "vpc/interface-endpoint-data")

    def rds_source(self, r: PlannedResource) -> PlannedResource | None:
        """The primary of a read replica, when it is in the same plan."""
        source = r.inputs.get("replicateSourceDb")
        if not source:
            return None
        identifier = source.rsplit(":db:", 1)[-1]
        for other in self.plan.by_type(r.type):
            if other.inputs.get("identifier") == identifier:
                return other
        return None

    def rds_engine(self, r: PlannedResource, source: PlannedResource | None) -> str | None:
        engine = r.inputs.get("engine") or (source.inputs.get("engine") if source else None)
        if engine:
            return str(engine)
        # A cross-region replica names neither its engine nor its primary's: the parameter
        # group's family does (postgres18 -> postgres).
        group = self.dependency(r, "parameterGroupName", "aws:rds/parameterGroup:ParameterGroup")
        family = group.inputs.get("family", "") if group else ""
        return re.sub(r"[\d.]+$", "", family) or None

    def rds_instance(self, r: PlannedResource) -> None:
        source = self.rds_source(r)
        engine = self.rds_engine(r, source)
        deployment = "multi-az" if r.inputs.get("multiAz") else "single-az"
        instance_class = r.inputs["instanceClass"]
        if engine is None:
            self.missing.add(f"engine of RDS instance {r.name}")
            return
        self.add(
            r,
            f"{instance_class} {engine} {deployment}",
            f"rds/{engine}/{instance_class}/{deployment}",
            self.hours(1),
        )
        storage = r.inputs.get("allocatedStorage") or (
            source.inputs.get("allocatedStorage") if source else None
        )
        if storage is None:
            self.note(
                r,
                f"storage inherited from {r.inputs.get('replicateSourceDb')}, which is "
                "not in this plan: not priced",
            )
            return
        storage_type = r.inputs.get("storageType") or "gp2"
        self.add(
            r,
            f"{float(storage):g} GB {storage_type} storage ({deployment})",
            f"rds/{storage_type}/{deployment}",
            float(storage),
        )

    def cache(self, r: PlannedResource) -> None:
        engine = r.inputs.get("engine", "redis")
        node_type = r.inputs["nodeType"]
        if "numNodeGroups" in r.inputs:
            shards = float(r.inputs["numNodeGroups"])
            nodes = shards * (1 + float(r.inputs.get("replicasPerNodeGroup", 0)))
        else:
            nodes = float(r.inputs.get("numCacheClusters", 1))
        self.add(
            r,
            f"{nodes:g} x {node_type} {engine} nodes",
            f"elasticache/{engine}/{node_type}",
            self.hours(nodes),
        )

    def kafka(self, r: PlannedResource) -> None:
        info = r.inputs["brokerNodeGroupInfo"]
        brokers = float(r.inputs["numberOfBrokerNodes"])
        broker_type = info["instanceType"]
        self.add(
            r, f"{brokers:g} x {broker_type} brokers", f"msk/{broker_type}", self.hours(brokers)
        )
        volume = float(dig(info, "storageInfo.ebsStorageInfo.volumeSize") or 0)
        self.add(r, f"{brokers:g} x {volume:g} GB broker storage", "msk/storage", brokers * volume)

    def opensearch(self, r: PlannedResource) -> None:
        config = r.inputs.get("clusterConfig", {})
        nodes = float(config.get("instanceCount", 1))
        node_type = config["instanceType"]
        self.add(
            r, f"{nodes:g} x {node_type} data nodes", f"opensearch/{node_type}", self.hours(nodes)
        )
        if config.get("dedicatedMasterEnabled"):
            masters = float(config.get("dedicatedMasterCount", 3))
            master_type = config["dedicatedMasterType"]
            self.add(
                r,
                f"{masters:g} x {master_type} dedicated masters",
                f"opensearch/{master_type}",
                self.hours(masters),
            )
        ebs = r.inputs.get("ebsOptions", {})
        if ebs.get("ebsEnabled"):
            size = float(ebs.get("volumeSize", 0))
            volume_type = ebs.get("volumeType", "gp2")
            self.add(
                r,
                f"{nodes:g} x {size:g} GB {volume_type} storage",
                f"opensearch/{volume_type}",
                nodes * size,
            )

    def monthly_fee(self, what: str, item: str) -> Callable[[PlannedResource], None]:
        def price(r: PlannedResource) -> None:
            self.add(r, what, item, 1)

        return price

    def health_check(self, r: PlannedResource) -> None:
        self.add(r, "health check (AWS endpoint)", "route53/health-check-aws-endpoint", 1)
        check_type = str(r.inputs.get("type", ""))
        features = [
            name
            for name, enabled in (
                ("HTTPS", check_type.startswith("HTTPS")),
                ("string matching", check_type.endswith("STR_MATCH")),
                ("fast interval", float(r.inputs.get("requestInterval", 30)) == 10),
                ("latency measurement", bool(r.inputs.get("measureLatency"))),
            )
            if enabled
        ]
        if features:
            self.add(
                r,
                "optional features: " + ", ".join(features),
                "route53/health-check-optional-feature",
                len(features),
            )

    def record(self, r: PlannedResource) -> None:
        if not r.inputs.get("aliases"):  # alias queries to AWS resources are free
            self.usage(r, "DNS queries", "route53/standard-queries")

    def alarm(self, r: PlannedResource) -> None:
        metrics = len(r.inputs.get("metricQueries", [])) or 1
        high_resolution = float(r.inputs.get("period", 60)) < 60
        item = (
            "cloudwatch/alarm-high-resolution" if high_resolution else "cloudwatch/alarm-standard"
        )
        self.add(r, f"alarm on {metrics} metric(s)", item, metrics)

    def guardduty_feature(self, r: PlannedResource) -> None:
        feature = GUARDDUTY_FEATURES.get(r.inputs.get("name", ""))
        if feature is None:
            self.missing.add(f"GuardDuty feature {r.inputs.get('name')}")
            return
        self.usage(r, *feature)

    def helm_release(self, r: PlannedResource) -> None:
        chart = r.inputs.get("chart", "")
        values = r.inputs.get("values", {})
        handled: list[str] = []
        for spec_path in CHART_VOLUMES.get(chart, ()):
            spec = dig(values, spec_path) or {}
            claim = dig(spec, "storageSpec.volumeClaimTemplate.spec.resources.requests.storage")
            if claim is None:
                continue
            replicas = float(spec.get("replicas", 1))
            size = size_gb(str(claim))
            self.add(
                r,
                f"{replicas:g} x {size:g} GB gp3 volume ({spec_path})",
                "ebs/gp3",
                replicas * size,
            )
            handled.append(spec_path)
        for path, node in walk(values):
            if not isinstance(node, dict):
                continue
            if node.get("type") == "LoadBalancer":
                self.load_balancer(r, path, node)
            for key in VOLUME_KEYS:
                claimed = node.get(key)
                if claimed is None or dig(claimed, "enabled") is False:
                    continue
                if not any(path.startswith(spec) for spec in handled):
                    self.missing.add(f"volumes of chart {chart} at {path}.{key}")

    def service(self, r: PlannedResource) -> None:
        """A rendered Service: only a LoadBalancer one costs (the controller makes an NLB)."""
        spec = r.inputs.get("spec", {})
        if spec.get("type") == "LoadBalancer":
            annotations = dig(r.inputs, "metadata.annotations") or {}
            self.load_balancer(r, "spec", {**spec, "annotations": annotations})

    def load_balancer(self, r: PlannedResource, path: str, service: dict[str, Any]) -> None:
        annotations = service.get("annotations", {})
        if annotations.get(LB_TYPE_ANNOTATION) not in ("nlb", "external"):
            self.missing.add(f"classic load balancer of {r.name} at {path}")
            return
        self.add(r, f"network load balancer ({path})", "elb/nlb", self.hours(1))
        self.usage(r, "load balancer capacity units", "elb/nlcu")
        if annotations.get(LB_SCHEME_ANNOTATION) == "internet-facing":
            self.usage(r, "data transfer out to the internet", "transfer/internet-out")
            # An internet-facing NLB holds one public address in each public subnet.
            zones = sum(
                1
                for s in self.plan.by_type("aws:ec2/subnet:Subnet")
                if dig(s.inputs, "tags") and s.inputs["tags"].get("kubernetes.io/role/elb")
            )
            self.add(
                r,
                f"{zones} public IPv4 addresses of the load balancer",
                "vpc/public-ipv4",
                self.hours(zones),
            )

    def pricers(self) -> dict[str, Callable[[PlannedResource], None]]:
        return {
            "eks:index:Cluster": self.eks_cluster,
            "aws:eks/nodeGroup:NodeGroup": self.node_group,
            "aws:ec2/natGateway:NatGateway": self.nat_gateway,
            "aws:ec2transitgateway/vpcAttachment:VpcAttachment": self.tgw_attachment,
            "aws:ec2transitgateway/peeringAttachment:PeeringAttachment": self.tgw_attachment,
            "aws:ec2transitgateway/peeringAttachmentAccepter:PeeringAttachmentAccepter": (
                self.tgw_attachment
            ),
            "aws:ec2/eip:Eip": self.eip,
            "aws:ec2/vpcEndpoint:VpcEndpoint": self.vpc_endpoint,
            "aws:rds/instance:Instance": self.rds_instance,
            "aws:elasticache/replicationGroup:ReplicationGroup": self.cache,
            "aws:msk/cluster:Cluster": self.kafka,
            "aws:opensearch/domain:Domain": self.opensearch,
            "aws:kms/key:Key": self.monthly_fee("customer managed key", "kms/key"),
            "aws:secretsmanager/secret:Secret": self.monthly_fee("secret", "secretsmanager/secret"),
            "aws:route53/zone:Zone": self.monthly_fee("hosted zone", "route53/hosted-zone"),
            "aws:route53/healthCheck:HealthCheck": self.health_check,
            "aws:route53/record:Record": self.record,
            "aws:cloudwatch/metricAlarm:MetricAlarm": self.alarm,
            "aws:guardduty/detectorFeature:DetectorFeature": self.guardduty_feature,
            "kubernetes:helm.sh/v3:Release": self.helm_release,
            "kubernetes:core/v1:Service": self.service,
        }

    def run(self) -> Estimate:
        pricers = self.pricers()
        for resource in self.plan.resources:
            if not resource.custom and not resource.remote:
                continue  # a component: its children carry the cost
            if resource.type.startswith("pulumi:providers:") or resource.type in FREE_TYPES:
                continue
            if resource.type in pricers:
                pricers[resource.type](resource)
            elif resource.type in USAGE:
                for what, item in USAGE[resource.type]:
                    self.usage(resource, what, item)
            else:
                self.missing.add(f"resource type {resource.type}")
        if self.missing:
            raise UnpricedError(sorted(self.missing))
        return self.estimate


class WhatIfError(ValueError):
    """A --set or --swap the tool cannot apply: the message is for the user."""


def deep_merge(base: Any, override: Any) -> Any:
    """``override`` laid over ``base``: objects merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(base.get(key), value)
        return merged
    return override


def with_settings(config: StackConfig, sets: list[str]) -> StackConfig:
    """The stack config with each ``KEY=JSON`` merged into ``agent-factory:KEY``."""
    values = dict(config.values)
    for assignment in sets:
        key, sep, text = assignment.partition("=")
        if not sep or not key:
            raise WhatIfError(f"--set {assignment!r}: expected KEY=JSON")
        try:
            override = json.loads(text)
        except json.JSONDecodeError as exc:
            raise WhatIfError(f"--set {key}: not JSON ({exc.msg})") from None
        full_key = f"{config.project}:{key}"
        current = values.get(full_key)
        base = json.loads(current) if current is not None else None
        values[full_key] = json.dumps(deep_merge(base, override))
    return StackConfig(config.project, config.stack, values, config.secret_keys)


def parse_swaps(swaps: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for swap in swaps:
        old, sep, new = swap.partition("=")
        if not sep or not old or not new:
            raise WhatIfError(f"--swap {swap!r}: expected OLD=NEW instance types")
        mapping[old] = new
    return mapping


def swap_instance_types(plan: Plan, mapping: dict[str, str]) -> Plan:
    """A copy of ``plan`` whose node groups run ``mapping[t]`` wherever they ran ``t``."""
    used = {t for r in plan.by_type(NODE_GROUP) for t in r.inputs.get("instanceTypes", [])}
    unused = sorted(set(mapping) - used)
    if unused:
        raise WhatIfError(f"--swap: no node group of {plan.stack} runs {', '.join(unused)}")

    def swapped(resource: PlannedResource) -> PlannedResource:
        if resource.type != NODE_GROUP:
            return resource
        types = [mapping.get(t, t) for t in resource.inputs.get("instanceTypes", [])]
        return replace(resource, inputs={**resource.inputs, "instanceTypes": types})

    return replace(plan, resources=[swapped(r) for r in plan.resources])


def plan_for(
    stack: str, sets: list[str] | None = None, swaps: list[str] | None = None, root: Path = ROOT
) -> Plan:
    """The stack's plan, with the what-if settings and instance type swaps applied."""
    plan = (
        synth_config(with_settings(load_stack_config(root, stack), sets), root)
        if sets
        else synth(stack, root)
    )
    return swap_instance_types(plan, parse_swaps(swaps)) if swaps else plan


def estimate(plan: Plan, at: str = "desired", book: PriceBook | None = None) -> Estimate:
    """The monthly estimate of ``plan`` at the node groups' ``at`` size."""
    book = book or PriceBook.load()
    return Pricer(plan, plan_region(plan), at, book).run()


def money(value: float) -> str:
    return f"${value:,.2f}"


def render(result: Estimate, console: Console) -> None:
    groups: dict[str, list[Line]] = {}
    for line in result.lines:
        groups.setdefault(line.component, []).append(line)
    title = f"{result.stack} ({result.region}) monthly cost at {result.at} size"
    if result.what_if:
        title += " (what-if: " + " ".join(result.what_if) + ")"
    table = Table(title=title)
    for column, justify in (
        ("component / resource", "left"),
        ("what", "left"),
        ("quantity", "right"),
        ("unit price", "right"),
        ("monthly", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for component, lines in sorted(groups.items()):
        subtotal = sum(line.monthly for line in lines)
        table.add_row(f"[bold]{component}[/bold]", "", "", "", f"[bold]{money(subtotal)}[/bold]")
        for line in sorted(lines, key=lambda item: (-item.monthly, item.resource)):
            mark = "" if line.verified else " *"
            table.add_row(
                f"  {line.resource}",
                line.what,
                f"{line.quantity:,.0f} {line.unit}",
                f"${line.unit_price:.4f}{mark}",
                money(line.monthly),
            )
    table.add_row("[bold]total[/bold]", "", "", "", f"[bold]{money(result.total)}[/bold]")
    console.print(table)
    if result.usage:
        usage = Table(title="usage-priced (not in the total): unit prices")
        for column in ("what", "unit price", "resources"):
            usage.add_column(column)
        grouped: dict[tuple[str, str], list[UsageLine]] = {}
        for usage_line in result.usage:
            grouped.setdefault((usage_line.item, usage_line.what), []).append(usage_line)
        for (_, what), same in sorted(grouped.items()):
            first = same[0]
            mark = "" if first.verified else " *"
            names = ", ".join(sorted(u.resource for u in same)[:3])
            more = f" and {len(same) - 3} more" if len(same) > 3 else ""
            usage.add_row(what, f"${first.unit_price:g} per {first.unit}{mark}", names + more)
        console.print(usage)
    for note in result.notes:
        console.print(f"[yellow]note[/yellow] {note}")
    if result.unverified():
        console.print(
            f"[yellow]* {len(result.unverified())} prices used are not verified "
            "against their source (tools/prices.json 'evidence')[/yellow]"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.cost", description=__doc__.split("\n")[0]
    )
    parser.add_argument("stack")
    parser.add_argument(
        "--at",
        choices=sorted(SCALING_KEYS),
        default="desired",
        help="node group size to price (default: desired)",
    )
    parser.add_argument("--json", type=Path, help="also write the estimate as JSON")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="what-if: merge JSON into the stack's agent-factory:KEY (repeatable)",
    )
    parser.add_argument(
        "--swap",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="what-if: node groups run instance type NEW instead of OLD (repeatable)",
    )
    args = parser.parse_args(argv)
    console = Console()
    errors = Console(stderr=True)
    try:
        plan = plan_for(args.stack, args.set, args.swap)
    except (StackConfigError, SynthError, WhatIfError) as exc:
        errors.print(f"[red]error:[/red] {exc}")
        return EXIT_USAGE
    try:
        result = estimate(plan, args.at)
    except UnpricedError as exc:
        errors.print(f"[red]error:[/red] {args.stack}: {exc}")
        return EXIT_UNPRICED
    result.what_if = [f"--set {s}" for s in args.set] + [f"--swap {s}" for s in args.swap]
    render(result, console)
    if args.json:
        try:
            args.json.write_text(json.dumps(result.to_json(), indent=2) + "\n")
        except OSError as exc:
            errors.print(f"[red]error:[/red] --json {args.json}: {exc.strerror}")
            return EXIT_USAGE
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

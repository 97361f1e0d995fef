"""Mocks that answer like AWS and EKS would: ids, ARNs, endpoints, a kubeconfig.

Outputs are derived from a hash of the resource name, so two runs of the same stack give
the same plan (diffable JSON) and two resources never share an id.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks

from tools import sdk

ACCOUNT_ID = "123456789012"
PARTITION = "aws"
TLDS = ("com", "net", "org", "co.uk")
# Canonical hosted zones of Network Load Balancers (AWS "Elastic Load Balancing endpoints").
NLB_ZONES = {
    "us-east-1": "Z26RNL4JYFTOTI",
    "us-west-2": "Z18D5FSROUN65G",
    "eu-west-1": "Z2IFOLAFXWLO4F",
}
# The zone the offline account holds when a stack looks one up by id.
OFFLINE_ZONE_NAME = "greenlang.ai."

State = dict[str, Any]


def stable_hex(seed: str, length: int = 17) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def kms_key_arn(region: str, resource_name: str) -> str:
    """The ARN the mocks give the KMS key registered as ``resource_name``."""
    return (
        f"arn:{PARTITION}:kms:{region}:{ACCOUNT_ID}:key/{uuid.UUID(stable_hex(resource_name, 32))}"
    )


def rds_address(identifier: str, region: str) -> str:
    """An RDS instance's DNS name: <identifier>.<account and region hash>.<region>...."""
    return f"{identifier}.c{stable_hex(region, 12)}.{region}.rds.amazonaws.com"


def rds_resource_id(resource_name: str) -> str:
    """An RDS instance's DbiResourceId (db-<26 upper-case characters>)."""
    return f"db-{stable_hex(resource_name, 26).upper()}"


def hosted_zone_id(resource_name: str) -> str:
    return f"Z{stable_hex(resource_name, 20).upper()}"


def _physical_name(args: MockResourceArgs) -> str:
    # Pulumi auto-names with the logical name plus a random 7-character suffix.
    return f"{args.name}-{stable_hex(args.name, 7)}"


class PlatformMocks(Mocks):
    """Realistic outputs per resource type and answers to the invokes the program makes."""

    def __init__(
        self,
        region: str,
        stack_outputs: Callable[[str], State | None] = lambda _stack: None,
    ) -> None:
        self.region = region
        # Outputs of a referenced stack by its qualified name; None: not deployed yet.
        self.stack_outputs = stack_outputs
        self.monitor: sdk.RecordingMockMonitor | None = None
        self._outputs: dict[str, Callable[[MockResourceArgs, State], State]] = {
            "aws:ec2/vpc:Vpc": self._with_id("vpc"),
            "aws:ec2/subnet:Subnet": self._with_id("subnet"),
            "aws:ec2/internetGateway:InternetGateway": self._with_id("igw"),
            "aws:ec2/natGateway:NatGateway": self._with_id("nat"),
            "aws:ec2/eip:Eip": self._eip,
            "aws:ec2/routeTable:RouteTable": self._with_id("rtb"),
            "aws:ec2/securityGroup:SecurityGroup": self._with_id("sg"),
            "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": self._with_id("sg"),
            "aws:ec2/vpcEndpoint:VpcEndpoint": self._with_id("vpce"),
            "aws:ec2/flowLog:FlowLog": self._with_id("fl"),
            "aws:ec2transitgateway/transitGateway:TransitGateway": self._with_id("tgw"),
            "aws:ec2transitgateway/routeTable:RouteTable": self._with_id("tgw-rtb"),
            "aws:ec2transitgateway/vpcAttachment:VpcAttachment": self._with_id("tgw-attach"),
            "aws:ec2transitgateway/peeringAttachment:PeeringAttachment": self._with_id(
                "tgw-attach"
            ),
            "aws:ec2transitgateway/peeringAttachmentAccepter:PeeringAttachmentAccepter": (
                self._accepted
            ),
            "aws:ec2/launchTemplate:LaunchTemplate": self._launch_template,
            "aws:kms/key:Key": self._kms_key,
            "aws:iam/role:Role": self._iam_role,
            "aws:cloudwatch/logGroup:LogGroup": self._log_group,
            "aws:eks/nodeGroup:NodeGroup": self._node_group,
            "aws:rds/instance:Instance": self._rds_instance,
            "aws:elasticache/replicationGroup:ReplicationGroup": self._replication_group,
            "aws:s3/bucket:Bucket": self._bucket,
            "aws:secretsmanager/secret:Secret": self._secret,
            "aws:msk/cluster:Cluster": self._msk_cluster,
            "aws:msk/configuration:Configuration": self._msk_configuration,
            "random:index/randomPassword:RandomPassword": self._random_password,
            "aws:opensearch/domain:Domain": self._opensearch,
            "eks:index:Cluster": self._eks_cluster,
            "aws:route53/zone:Zone": self._zone,
            "aws:route53/healthCheck:HealthCheck": self._with_id("hc"),
            "aws:elasticache/globalReplicationGroup:GlobalReplicationGroup": self._global_cache,
            "kubernetes:helm.sh/v3:Release": self._helm_release,
            "kubernetes:core/v1:Service": self._service,
            "pulumi:pulumi:StackReference": self._stack_reference,
        }

    # -- resources -------------------------------------------------------------------

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, State]:
        state: State = dict(args.inputs)
        resource_id = f"{args.name}-id"
        if args.typ.startswith("aws:") and "arn" not in state:
            service = args.typ.split(":")[1].split("/")[0]
            state["arn"] = (
                f"arn:{PARTITION}:{service}:{self.region}:{ACCOUNT_ID}:{args.name}/{stable_hex(args.name)}"
            )
        if args.typ.startswith("aws:") and "name" not in state:
            # AWS auto-naming: logical name plus a random suffix.
            state["name"] = _physical_name(args)
        extra = self._outputs.get(args.typ)
        if extra is not None:
            state.update(extra(args, state))
            resource_id = state.get("id", resource_id)
        state.pop("id", None)
        return resource_id, state

    def _with_id(self, prefix: str) -> Callable[[MockResourceArgs, State], State]:
        def outputs(args: MockResourceArgs, _state: State) -> State:
            return {"id": f"{prefix}-{stable_hex(args.name)}"}

        return outputs

    def _accepted(self, args: MockResourceArgs, state: State) -> State:
        # The accepter adopts the requester's attachment: same id on both sides.
        return {"id": state["transitGatewayAttachmentId"]}

    def _eip(self, args: MockResourceArgs, _state: State) -> State:
        digest = hashlib.sha256(args.name.encode()).digest()
        return {
            "id": f"eipalloc-{stable_hex(args.name)}",
            "allocationId": f"eipalloc-{stable_hex(args.name)}",
            # 198.18.0.0/15 is reserved for benchmarks: never a real public address.
            "publicIp": f"198.18.{digest[0]}.{digest[1]}",
        }

    def _launch_template(self, args: MockResourceArgs, _state: State) -> State:
        return {"id": f"lt-{stable_hex(args.name)}", "latestVersion": 1, "defaultVersion": 1}

    def _kms_key(self, args: MockResourceArgs, _state: State) -> State:
        arn = kms_key_arn(self.region, args.name)
        key_id = arn.rsplit("/", 1)[1]
        return {"id": key_id, "keyId": key_id, "arn": arn}

    def _iam_role(self, args: MockResourceArgs, state: State) -> State:
        name = state.get("name") or _physical_name(args)
        return {
            "id": name,
            "name": name,
            "arn": f"arn:{PARTITION}:iam::{ACCOUNT_ID}:role/{name}",
            "uniqueId": f"AROA{stable_hex(args.name, 17).upper()}",
        }

    def _log_group(self, args: MockResourceArgs, state: State) -> State:
        name = state.get("name") or _physical_name(args)
        return {
            "id": name,
            "name": name,
            "arn": f"arn:{PARTITION}:logs:{self.region}:{ACCOUNT_ID}:log-group:{name}",
        }

    def _rds_instance(self, args: MockResourceArgs, state: State) -> State:
        identifier = state.get("identifier") or _physical_name(args)
        address = rds_address(identifier, self.region)
        secret_arn = (
            f"arn:{PARTITION}:secretsmanager:{self.region}:{ACCOUNT_ID}:secret:"
            f"rds!db-{stable_hex(args.name, 8)}"
        )
        managed = bool(state.get("manageMasterUserPassword"))
        return {
            "id": rds_resource_id(args.name),
            "resourceId": rds_resource_id(args.name),
            "identifier": identifier,
            "arn": f"arn:{PARTITION}:rds:{self.region}:{ACCOUNT_ID}:db:{identifier}",
            "address": address,
            "endpoint": f"{address}:5432",
            "port": 5432,
            "masterUserSecrets": (
                [
                    {
                        "secretArn": secret_arn,
                        "secretStatus": "active",
                    }
                ]
                if managed
                else []
            ),
        }

    def _replication_group(self, args: MockResourceArgs, state: State) -> State:
        group = state.get("replicationGroupId") or _physical_name(args)
        return {
            "id": group,
            "arn": (
                f"arn:{PARTITION}:elasticache:{self.region}:{ACCOUNT_ID}:replicationgroup:{group}"
            ),
            "configurationEndpointAddress": (
                f"clustercfg.{group}.{stable_hex(group, 6)}.use1.cache.amazonaws.com"
            ),
        }

    def _bucket(self, args: MockResourceArgs, state: State) -> State:
        name = state.get("bucket") or _physical_name(args)
        return {
            "id": name,
            "bucket": name,
            "arn": f"arn:{PARTITION}:s3:::{name}",
            "bucketRegionalDomainName": f"{name}.s3.{self.region}.amazonaws.com",
        }

    def _secret(self, args: MockResourceArgs, state: State) -> State:
        name = state.get("name") or _physical_name(args)
        return {
            "id": name,
            "arn": (
                f"arn:{PARTITION}:secretsmanager:{self.region}:{ACCOUNT_ID}:secret:"
                f"{name}-{stable_hex(args.name, 6)}"
            ),
        }

    def _msk_cluster(self, args: MockResourceArgs, state: State) -> State:
        name = state.get("clusterName") or _physical_name(args)
        brokers = [
            f"b-{n}.{name}.{stable_hex(name, 6)}.c2.kafka.{self.region}.amazonaws.com:9098"
            for n in range(1, int(state.get("numberOfBrokerNodes") or 3) + 1)
        ]
        cluster_id = stable_hex(name)
        return {
            "arn": f"arn:{PARTITION}:kafka:{self.region}:{ACCOUNT_ID}:cluster/{name}/{cluster_id}",
            "bootstrapBrokersSaslIam": ",".join(brokers),
        }

    def _msk_configuration(self, args: MockResourceArgs, state: State) -> State:
        return {"latestRevision": 1}

    def _opensearch(self, args: MockResourceArgs, state: State) -> State:
        name = state.get("domainName") or _physical_name(args)
        return {
            "arn": f"arn:{PARTITION}:es:{self.region}:{ACCOUNT_ID}:domain/{name}",
            "endpoint": f"vpc-{name}-{stable_hex(name, 26)}.{self.region}.es.amazonaws.com",
        }

    def _random_password(self, args: MockResourceArgs, state: State) -> State:
        # Deterministic and obviously fake; the program must treat it as a secret.
        length = int(state.get("length") or 32)
        return {"result": ("offline" + stable_hex(args.name, 64))[:length]}

    def _node_group(self, args: MockResourceArgs, _state: State) -> State:
        name = _physical_name(args)
        return {
            "id": name,
            "nodeGroupName": name,
            "status": "ACTIVE",
            "resources": [
                {
                    "autoscalingGroups": [{"name": f"eks-{name}-{stable_hex(name, 8)}"}],
                    "remoteAccessSecurityGroupId": "",
                }
            ],
        }

    def _eks_cluster(self, args: MockResourceArgs, state: State) -> State:
        name = state.get("name") or _physical_name(args)
        oidc_id = stable_hex(name, 32).upper()
        issuer = f"oidc.eks.{self.region}.amazonaws.com/id/{oidc_id}"
        endpoint = f"https://{oidc_id}.gr7.{self.region}.eks.amazonaws.com"
        ca_data = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"
        security_group_id = f"sg-{stable_hex(name + 'cluster')}"
        cluster_state: State = {
            "name": name,
            "arn": f"arn:{PARTITION}:eks:{self.region}:{ACCOUNT_ID}:cluster/{name}",
            "endpoint": endpoint,
            "version": state.get("version"),
            "vpcConfig": {
                "clusterSecurityGroupId": security_group_id,
                "endpointPrivateAccess": state.get("endpointPrivateAccess"),
                "endpointPublicAccess": state.get("endpointPublicAccess"),
                "publicAccessCidrs": state.get("publicAccessCidrs") or [],
            },
            "identities": [{"oidcs": [{"issuer": f"https://{issuer}"}]}],
            "certificateAuthority": {"data": ca_data},
        }
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": name,
                    "cluster": {
                        "server": endpoint,
                        "certificate-authority-data": ca_data,
                    },
                }
            ],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
            "users": [
                {
                    "name": name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": ["eks", "get-token", "--cluster-name", name],
                        }
                    },
                }
            ],
        }
        return {
            "id": name,
            "eksCluster": self._register_reference(
                args, "aws:eks/cluster:Cluster", f"{args.name}-eksCluster", name, cluster_state
            ),
            "kubeconfig": kubeconfig,
            "kubeconfigJson": json.dumps(kubeconfig),
            "oidcProviderArn": f"arn:{PARTITION}:iam::{ACCOUNT_ID}:oidc-provider/{issuer}",
            "oidcProviderUrl": issuer,
            "oidcIssuer": issuer,
            "clusterSecurityGroupId": security_group_id,
        }

    def _zone(self, args: MockResourceArgs, state: State) -> State:
        zone_id = hosted_zone_id(args.name)
        return {
            "id": zone_id,
            "zoneId": zone_id,
            "arn": f"arn:{PARTITION}:route53:::hostedzone/{zone_id}",
            "nameServers": [f"ns-{n}.awsdns-{n:02d}.{tld}" for n, tld in enumerate(TLDS, 1)],
        }

    def _global_cache(self, args: MockResourceArgs, state: State) -> State:
        # AWS prefixes the suffix with five letters of its own.
        group = f"{stable_hex(args.name, 5)}-{state.get('globalReplicationGroupIdSuffix')}"
        return {"id": group, "globalReplicationGroupId": group}

    def _helm_release(self, args: MockResourceArgs, state: State) -> State:
        name, namespace = state.get("name") or args.name, state.get("namespace") or "default"
        return {
            "id": f"{namespace}/{name}",
            "status": {"name": name, "namespace": namespace, "status": "deployed"},
        }

    def _service(self, args: MockResourceArgs, _state: State) -> State:
        # A Service read back from the cluster: the cloud provider gave it an NLB.
        digest = stable_hex(args.name, 32)
        hostname = f"a{digest}-{stable_hex(digest, 16)}.elb.{self.region}.amazonaws.com"
        return {"status": {"loadBalancer": {"ingress": [{"hostname": hostname}]}}}

    def _stack_reference(self, args: MockResourceArgs, state: State) -> State:
        name = str(state.get("name") or args.resource_id)
        return {"id": name, "name": name, "outputs": self.stack_outputs(name) or {}}

    def _register_reference(
        self, parent: MockResourceArgs, typ: str, name: str, resource_id: str, state: State
    ) -> dict[str, str]:
        """A resource reference the SDK can resolve (pulumi-eks returns these)."""
        if self.monitor is None:
            raise RuntimeError("PlatformMocks.monitor must be set before resources register")
        parent_type = "eks:index:Cluster"
        urn = self.monitor.make_urn("", f"{parent_type}${typ}", name)
        self.monitor.add_resource(urn, resource_id, state)
        return sdk.resource_reference(urn, resource_id)

    # -- invokes ---------------------------------------------------------------------

    def call(self, args: MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        answers: dict[str, Callable[[], dict[str, Any]]] = {
            "aws:index/getCallerIdentity:getCallerIdentity": lambda: {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:{PARTITION}:iam::{ACCOUNT_ID}:role/offline-preview",
                "id": ACCOUNT_ID,
                "userId": "AROAOFFLINEPREVIEW",
            },
            "aws:index/getPartition:getPartition": lambda: {
                "id": PARTITION,
                "partition": PARTITION,
                "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws",
            },
            "aws:index/getRegion:getRegion": lambda: {
                "id": self.region,
                "name": self.region,
                "region": self.region,
                "endpoint": f"ec2.{self.region}.amazonaws.com",
                "description": self.region,
            },
            "aws:lb/getHostedZoneId:getHostedZoneId": lambda: {
                "id": NLB_ZONES.get(self.region, "Z0OFFLINENLBZONE")
            },
            "aws:route53/getZone:getZone": lambda: {
                "id": args.args.get("zoneId"),
                "zoneId": args.args.get("zoneId"),
                "name": OFFLINE_ZONE_NAME,
                "nameServers": [f"ns-{n}.awsdns-{n:02d}.{tld}" for n, tld in enumerate(TLDS, 1)],
                "privateZone": False,
            },
            # The S3 gateway endpoint's prefix list: S3's regional public ranges.
            "aws:ec2/getPrefixList:getPrefixList": lambda: {
                "id": f"pl-{stable_hex(str(args.args.get('name')), 8)}",
                "prefixListId": f"pl-{stable_hex(str(args.args.get('name')), 8)}",
                "name": args.args.get("name"),
                "cidrBlocks": ["52.216.0.0/15", "54.231.0.0/16", "3.5.0.0/19"],
                "filters": [],
            },
            "aws:index/getAvailabilityZones:getAvailabilityZones": lambda: {
                "id": self.region,
                "names": [f"{self.region}{suffix}" for suffix in "abcdef"],
                "zoneIds": [f"{self.region}-az{n}" for n in range(1, 7)],
                "groupNames": [self.region] * 6,
            },
        }
        answer = answers.get(args.token)
        if answer is None:
            # An unanswered invoke would silently return None inside the program.
            raise NotImplementedError(f"offline preview has no mock for invoke {args.token}")
        return answer()

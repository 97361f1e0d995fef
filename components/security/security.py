"""Security: the fence around every team and tenant, plus account-level guards.

Namespaces (PSA restricted unless exempt, quota, limits, default-deny network policies),
RBAC for SREs and developers, IRSA service accounts for the platform's workloads, tenants,
ingress-nginx behind an NLB, cert-manager with Let's Encrypt over Route 53 DNS-01, External
Secrets for Secrets Manager, GuardDuty and CloudTrail (to S3 and to CloudWatch Logs). KMS keys
live in :mod:`components.security.keys` because the network and cluster need them before a cluster
exists.

The three charts are :class:`HelmAddon` releases; their values, footprints and IAM policies
live in their modules under :mod:`components.addons`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.addons import (
    argo_rollouts,
    cert_manager,
    external_secrets,
    ingress_nginx,
    keda,
    opencost,
    vpa,
)
from components.addons.charts import pinned
from components.addons.registry import HelmAddon, IrsaSpec, install
from components.cluster.cluster import DEVELOPER_GROUP, SRE_GROUP
from components.context import ClusterContext
from components.footprint import ReleaseFootprint
from components.iam import IrsaRole, policy_document
from components.k8s.namespaces import (
    FencedNamespace,
    Ingress,
    NamespaceSpec,
    Quota,
    with_daemonset,
)
from components.k8s.tenancy import Tenant, TenantArgs
from components.node_agents import FLUENT_BIT, NODE_EXPORTER
from components.prerequisites import Prerequisite, prerequisites_output
from components.settings import SecuritySettings

LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
WILDCARD_SECRET = "wildcard-tls"
SECRET_STORE = "aws-secrets-manager"
# The database user agents log in as with IAM authentication (rds-db:connect).
DATABASE_USER = "agent_factory"
PLATFORM_QUOTA = Quota(
    cpu=32, memory_gib=64, pods=200, max_container_cpu="4", max_container_memory="8Gi"
)
MONITORING_QUOTA = Quota(
    cpu=32, memory_gib=128, pods=300, max_container_cpu="8", max_container_memory="32Gi"
)
WEBHOOK = 10250
DATA_PORTS = (5432, 6379, 9098, 443)
# Account-wide service-linked roles this stack relies on but must not create: one per
# account, shared by every stack in it, and usually already there (AWS creates them the
# first time a service needs them through the console).
OPENSEARCH_SERVICE_LINKED_ROLE = Prerequisite(
    what=(
        "IAM service-linked role AWSServiceRoleForAmazonOpenSearchService exists in the "
        "account (the VPC OpenSearch domain of the log pipeline needs it to place its ENIs)"
    ),
    how=(
        "once per account: aws iam create-service-linked-role "
        "--aws-service-name opensearchservice.amazonaws.com (an error that the name has "
        "been taken means it exists)"
    ),
)
# Read-only CloudWatch APIs that have no resource-level permissions: "*" is the only
# resource IAM accepts for them.
UNSCOPED_READ_ACTIONS = (
    "cloudwatch:GetMetricData",
    "cloudwatch:ListMetrics",
    "logs:DescribeLogGroups",
    "logs:GetQueryResults",
    "logs:StopQuery",
    "tag:GetResources",
)


@dataclass(frozen=True)
class SecurityArgs:
    cluster: ClusterContext
    settings: SecuritySettings
    # The stack's chart overrides (``agent-factory:charts``).
    charts: Mapping[str, str]
    stack: str
    environment: str
    team: str
    # Deleting the GuardDuty detector or the trail blinds the account: protected in prod.
    protect: bool
    trail_name: str
    # Retention of the trail's CloudWatch log group.
    log_retention_days: int
    vpc_cidr: str
    data_subnet_cidrs: tuple[str, ...]
    workload_namespace: str
    # CPU cores and memory GiB of the workload namespace's quota.
    workload_quota: tuple[int, int]
    # Nodes the pools can reach together: DaemonSets run a pod on each.
    max_node_count: int
    s3_key_arn: pulumi.Input[str]
    secrets_key_arn: pulumi.Input[str]
    # Encrypts the trail's CloudWatch log group.
    logs_key_arn: pulumi.Input[str]
    audit_bucket: pulumi.Input[str]
    artifacts_bucket_arn: pulumi.Input[str]
    application_secret_arns: list[pulumi.Input[str]]
    postgres_resource_id: pulumi.Input[str]
    # None where the stack runs no Kafka.
    kafka: KafkaAccess | None
    # Only the primary region's trail records every region (no duplicate global events).
    multi_region_trail: bool
    # Route 53 zone for DNS-01; None lets cert-manager find the zone by the domain name.
    hosted_zone_id: pulumi.Input[str] | None
    # A secondary's services also log in to the primary's writer: its rds-db:connect ARN.
    remote_writer_user_arn: pulumi.Input[str] | None = None


def _one_or_list(first: str, second: str | None) -> str | list[str]:
    """An IAM Resource: one ARN as a string (as before a second existed), two as a list."""
    return first if not second else [first, second]


@dataclass(frozen=True)
class KafkaAccess:
    """The MSK cluster the services use with IAM authentication, and the one topic and
    consumer group they may touch."""

    cluster_arn: pulumi.Input[str]
    topic: str
    consumer_group: str


def kafka_statements(cluster_arn: str, topic: str, group: str, *, consume: bool) -> list[Any]:
    """Produce to (agent-factory, agent-runtime) or consume from (worker) one topic. MSK
    names topics and groups under the cluster: arn:...:topic/<name>/<uuid>/<topic>."""
    topic_arn = cluster_arn.replace(":cluster/", ":topic/", 1) + f"/{topic}"
    group_arn = cluster_arn.replace(":cluster/", ":group/", 1) + f"/{group}"
    statements: list[Any] = [
        {
            "Sid": "KafkaConnect",
            "Effect": "Allow",
            # Kafka clients produce idempotently by default; MSK authorizes that on the cluster.
            "Action": [
                "kafka-cluster:Connect",
                "kafka-cluster:DescribeCluster",
                *([] if consume else ["kafka-cluster:WriteDataIdempotently"]),
            ],
            "Resource": cluster_arn,
        },
        {
            "Sid": "KafkaTopic",
            "Effect": "Allow",
            "Action": [
                "kafka-cluster:DescribeTopic",
                "kafka-cluster:ReadData" if consume else "kafka-cluster:WriteData",
            ],
            "Resource": topic_arn,
        },
    ]
    if consume:
        statements.append(
            {
                "Sid": "KafkaGroup",
                "Effect": "Allow",
                "Action": ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"],
                "Resource": group_arn,
            }
        )
    return statements


@dataclass(frozen=True)
class SecretStore:
    """The ClusterSecretStore as ExternalSecrets elsewhere need it: the name they reference
    and the object they wait for (and, through it, the External Secrets CRDs)."""

    name: str
    resource: k8s.apiextensions.CustomResource


def _load_balancer_hostname(status: k8s.core.v1.outputs.ServiceStatus | None) -> str:
    ingress = status.load_balancer.ingress if status and status.load_balancer else None
    if not ingress or not ingress[0].hostname:
        raise ValueError("ingress-nginx-controller has no load balancer hostname yet")
    return ingress[0].hostname


def platform_namespaces(args: SecurityArgs) -> list[NamespaceSpec]:
    """The seed's namespaces (one workload namespace per cluster) and the platform's own."""
    vpc = args.vpc_cidr
    data = tuple((cidr, DATA_PORTS) for cidr in args.data_subnet_cidrs)
    exemptions = args.settings.pod_security_exemptions
    cpu, memory = args.workload_quota
    workload_quota = Quota(
        cpu, memory, pods=1000, max_container_cpu="8", max_container_memory="16Gi"
    )
    # DaemonSets run a pod on every node the pools can reach, not on today's nodes.
    nodes = args.max_node_count
    monitoring_quota = with_daemonset(MONITORING_QUOTA, NODE_EXPORTER, nodes)
    logging_quota = with_daemonset(PLATFORM_QUOTA, FLUENT_BIT, nodes)
    # The controller's LoadBalancer Service: one load balancer, a node port per port.
    ingress_quota = replace(PLATFORM_QUOTA, load_balancers=1, node_ports=len(ingress_nginx.PORTS))
    scraped = Ingress(from_namespace="monitoring")
    api = ((vpc, (443,)),)

    def application(name: str, quota: Quota) -> NamespaceSpec:
        return NamespaceSpec(
            name,
            quota,
            ingress=(Ingress(from_namespace="ingress-nginx"), scraped),
            egress=(*data, *api),
            internet_https=True,
        )

    specs = [
        application("greenlang-system", PLATFORM_QUOTA),
        # The services' chart (charts/agent-factory) brings a NetworkPolicy per workload: who
        # may call it, which data stores and which LLM provider ranges it reaches. Here only
        # what every pod needs: DNS and the AWS APIs through the VPC endpoints.
        NamespaceSpec(args.workload_namespace, workload_quota, egress=api, same_namespace=False),
        NamespaceSpec(
            "monitoring",
            monitoring_quota,
            ingress=(
                Ingress(from_namespace="ingress-nginx"),
                Ingress(from_cidr=vpc, ports=(WEBHOOK,)),
                # OpenCost queries Prometheus for usage and its own cost series.
                Ingress(from_namespace=opencost.NAMESPACE, ports=(opencost.PROMETHEUS_PORT,)),
                # The analysis runs of Argo Rollouts query Prometheus.
                Ingress(
                    from_namespace=argo_rollouts.NAMESPACE,
                    ports=argo_rollouts.EGRESS_TO_PROMETHEUS[1],
                ),
            ),
            egress=((vpc, (443, 9100, WEBHOOK)),),
            internet_https=True,
            egress_to_all_namespaces=True,
        ),
        NamespaceSpec(
            "ingress-nginx",
            ingress_quota,
            ingress=(
                Ingress(from_cidr="0.0.0.0/0", ports=ingress_nginx.PORTS),
                Ingress(from_cidr=vpc, ports=(8443,)),
                scraped,
            ),
            egress=api,
            egress_to_all_namespaces=True,
        ),
        NamespaceSpec(
            "cert-manager",
            PLATFORM_QUOTA,
            ingress=(Ingress(from_cidr=vpc, ports=(WEBHOOK,)), scraped),
            egress=api,
            internet_https=True,
        ),
        NamespaceSpec(
            "external-secrets",
            PLATFORM_QUOTA,
            ingress=(Ingress(from_cidr=vpc, ports=(WEBHOOK,)), scraped),
            egress=api,
            internet_https=True,
        ),
        NamespaceSpec(
            "logging",
            logging_quota,
            ingress=(scraped,),
            egress=(*data, *api),
        ),
        NamespaceSpec(
            "tracing",
            PLATFORM_QUOTA,
            ingress=(Ingress(from_namespace="*", ports=(4317, 4318)), scraped),
            egress=api,
            internet_https=True,
            egress_to_all_namespaces=True,
        ),
        # The API server calls the external metrics APIService and the admission webhook;
        # the operator reads consumer lag from MSK (IAM listener) and STS through the VPC.
        NamespaceSpec(
            keda.NAMESPACE,
            keda.quota(args.settings.platform_replicas),
            ingress=(
                Ingress(from_cidr=vpc, ports=(keda.METRICS_API_PORT, keda.WEBHOOK_PORT)),
                scraped,
            ),
            egress=(
                *((cidr, (keda.KAFKA_IAM_PORT,)) for cidr in args.data_subnet_cidrs),
                *api,
            ),
        ),
        # OpenCost: Prometheus scrapes it; it reads Prometheus (monitoring), the API server
        # and the AWS public price list (HTTPS).
        NamespaceSpec(
            opencost.NAMESPACE,
            opencost.quota(),
            ingress=(Ingress(from_namespace="monitoring", ports=(opencost.PORT,)),),
            egress=api,
            internet_https=True,
            egress_to_all_namespaces=True,
        ),
        # The Rollouts controller has no webhook: it calls the API server and, for the
        # analysis runs, Prometheus.
        NamespaceSpec(
            argo_rollouts.NAMESPACE,
            argo_rollouts.quota(args.settings.platform_replicas),
            ingress=(scraped,),
            egress=api,
            egress_namespaces=(argo_rollouts.EGRESS_TO_PROMETHEUS,),
        ),
        # Recommender only: no webhook, so nothing but Prometheus calls in.
        NamespaceSpec(
            vpa.NAMESPACE,
            vpa.quota(args.settings.platform_replicas),
            ingress=(scraped,),
            egress=api,
        ),
    ]
    return [replace(spec, exemption=exemptions.get(spec.name)) for spec in specs]


@dataclass(frozen=True)
class _TrailLogs:
    group: aws.cloudwatch.LogGroup
    role: aws.iam.Role
    policy: aws.iam.RolePolicy


def cloudtrail_trust_policy(partition: str, account_id: str, region: str, trail: str) -> str:
    """Only CloudTrail, and only for this trail of this account, may assume the role."""
    return policy_document(
        [
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {
                        "aws:SourceAccount": account_id,
                        "aws:SourceArn": (
                            f"arn:{partition}:cloudtrail:{region}:{account_id}:trail/{trail}"
                        ),
                    }
                },
            }
        ]
    )


def monitoring_statements(
    partition: str, account_id: str, region: str, cluster_name: str
) -> list[dict[str, Any]]:
    """Grafana's CloudWatch data source: metrics and alarms of the account, but log queries
    only on this stack's own log groups (all named /aws/<service>/<cluster>...)."""
    arn = f"arn:{partition}:logs:{region}:{account_id}:log-group:/aws/*/{cluster_name}*"
    return [
        {
            "Sid": "CloudWatchReadUnscoped",
            "Effect": "Allow",
            "Action": list(UNSCOPED_READ_ACTIONS),
            "Resource": "*",
        },
        {
            "Sid": "AlarmsOfThisRegion",
            "Effect": "Allow",
            "Action": "cloudwatch:DescribeAlarms",
            "Resource": f"arn:{partition}:cloudwatch:{region}:{account_id}:alarm:*",
        },
        {
            "Sid": "QueryOwnLogGroups",
            "Effect": "Allow",
            "Action": [
                "logs:StartQuery",
                "logs:GetLogGroupFields",
                "logs:GetLogEvents",
                "logs:FilterLogEvents",
            ],
            "Resource": arn,
        },
    ]


def developer_rules() -> list[dict[str, Any]]:
    """Read-only on workloads plus pod logs; never secrets, never exec."""
    read = ["get", "list", "watch"]
    return [
        {
            "apiGroups": [""],
            "resources": [
                "pods",
                "services",
                "endpoints",
                "configmaps",
                "events",
                "namespaces",
                "persistentvolumeclaims",
                "resourcequotas",
                "limitranges",
                "serviceaccounts",
            ],
            "verbs": read,
        },
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
        {
            "apiGroups": ["apps", "batch", "autoscaling", "networking.k8s.io", "policy"],
            "resources": ["*"],
            "verbs": read,
        },
    ]


class Security(pulumi.ComponentResource):
    namespaces: dict[str, pulumi.Output[str]]
    tenant_namespaces: dict[str, pulumi.Output[str]]
    service_account_roles: dict[str, pulumi.Output[str]]
    # Each Agent Factory workload -> the ServiceAccount its pods run as (charts/agent-factory
    # references them; IRSA trust names them), and the objects to wait for.
    workload_service_accounts: dict[str, str]
    workload_identities: list[k8s.core.v1.ServiceAccount]
    ingress_namespace: str
    cluster_issuer: str
    ingress_class: str
    # DNS name of the ingress load balancer, once the cloud provider has created it.
    ingress_hostname: pulumi.Output[str]
    # The ingress-nginx release: Ingresses elsewhere wait for its admission webhook.
    ingress_release: k8s.helm.v3.Release
    fenced_namespaces: dict[str, FencedNamespace]
    secret_store: SecretStore
    # The KEDA and VPA releases: objects of keda.sh / autoscaling.k8s.io kinds wait for them.
    autoscaling_releases: list[pulumi.Resource]
    # The Argo Rollouts release: Rollouts and AnalysisTemplates (argoproj.io) wait for it.
    rollouts_release: pulumi.Resource
    # The CloudWatch log group CloudTrail delivers to (CIS metric filters read it); None
    # when this stack runs no trail.
    trail_log_group_name: pulumi.Output[str] | None

    def __init__(self, name: str, args: SecurityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("agentfactory:platform:Security", name, None, opts)
        self._name = name
        self._args = args
        self._labels = {
            "app.kubernetes.io/part-of": "agent-factory",
            "app.kubernetes.io/managed-by": "pulumi",
            "agent-factory.io/team": args.team,
            "agent-factory.io/environment": args.environment,
        }
        self._on_cluster = pulumi.ResourceOptions(parent=self, provider=args.cluster.k8s_provider)

        fenced = {
            spec.name: FencedNamespace(
                f"{name}-ns-{spec.name}", spec, self._labels, opts=self._on_cluster
            )
            for spec in platform_namespaces(args)
        }
        self.namespaces = {ns: f.namespace for ns, f in fenced.items()}
        # Objects other components put into these namespaces wait for them (a child does
        # not inherit its component's depends_on).
        self.fenced_namespaces = fenced
        self._fenced = fenced
        self._rbac()
        self.service_account_roles = self._service_accounts()
        self.tenant_namespaces = self._tenants()
        self.ingress_release = self._ingress_nginx()
        self.ingress_hostname = self._ingress_hostname(self.ingress_release)
        self.cluster_issuer = self._cert_manager(self.ingress_release)
        self.secret_store = self._external_secrets()
        self.autoscaling_releases = self._autoscaling()
        self.rollouts_release = self._rollouts()
        self.ingress_class = ingress_nginx.INGRESS_CLASS
        self.ingress_namespace = ingress_nginx.NAMESPACE
        self.trail_log_group_name = self._account_guards()
        self.register_outputs(
            {
                "namespaces": self.namespaces,
                "tenantNamespaces": self.tenant_namespaces,
                "serviceAccountRoles": self.service_account_roles,
                "clusterIssuer": self.cluster_issuer,
                "clusterSecretStore": self.secret_store.name,
                "ingressHostname": self.ingress_hostname,
                "trailLogGroupName": self.trail_log_group_name,
                **prerequisites_output([OPENSEARCH_SERVICE_LINKED_ROLE]),
            }
        )

    # -- helpers ---------------------------------------------------------------------

    def _in(self, namespace: str, **extra: Any) -> pulumi.ResourceOptions:
        """Options for an object that lives in one of our fenced namespaces."""
        depends = [self._fenced[namespace], *extra.pop("depends_on", [])]
        return pulumi.ResourceOptions(
            parent=self, provider=self._args.cluster.k8s_provider, depends_on=depends, **extra
        )

    def _meta(self, name: str, namespace: str | None = None) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(
            name=name, namespace=namespace, labels={**self._labels, "app.kubernetes.io/name": name}
        )

    def _addon(
        self,
        chart: str,
        values: Mapping[str, Any],
        footprint: ReleaseFootprint,
        irsa: IrsaSpec | None = None,
    ) -> HelmAddon:
        """A chart released into the fenced namespace its footprint names."""
        return install(
            self,
            self._name,
            pinned(chart, self._args.charts),
            values=values,
            footprint=footprint,
            cluster=self._args.cluster,
            depends_on=[self._fenced[footprint.namespace]],
            irsa=irsa,
        )

    def _irsa_role(
        self, key: str, namespace: str, service_account: str, statements: pulumi.Input[list[Any]]
    ) -> IrsaRole:
        return IrsaRole(
            f"{self._name}-{key}",
            self._args.cluster.oidc,
            namespace,
            service_account,
            parent=self,
            statements=statements,
        )

    # -- RBAC ------------------------------------------------------------------------

    def _rbac(self) -> None:
        name = self._name
        developer = "agent-factory-developer"
        role = k8s.rbac.v1.ClusterRole(
            f"{name}-{developer}",
            metadata=self._meta(developer),
            rules=developer_rules(),  # type: ignore[arg-type]
            opts=self._on_cluster,
        )
        self._bind(developer, developer, DEVELOPER_GROUP, depends_on=[role])
        # SREs get the built-in cluster-admin: a home-made copy of */*/* is the same power
        # with a name that hides it. roleRef is immutable, so the binding that used to
        # point at agent-factory-sre is replaced (deleted first: same object name).
        self._bind("agent-factory-sre", "cluster-admin", SRE_GROUP, delete_before_replace=True)

    def _bind(
        self,
        binding: str,
        cluster_role: str,
        group: str,
        *,
        depends_on: list[pulumi.Resource] | None = None,
        delete_before_replace: bool = False,
    ) -> k8s.rbac.v1.ClusterRoleBinding:
        return k8s.rbac.v1.ClusterRoleBinding(
            f"{self._name}-{binding}-binding",
            metadata=self._meta(binding),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=cluster_role
            ),
            subjects=[
                k8s.rbac.v1.SubjectArgs(
                    kind="Group", name=group, api_group="rbac.authorization.k8s.io"
                )
            ],
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=self._args.cluster.k8s_provider,
                depends_on=depends_on,
                delete_before_replace=delete_before_replace,
            ),
        )

    # -- workload identities ---------------------------------------------------------

    def _service_accounts(self) -> dict[str, pulumi.Output[str]]:
        args = self._args
        account = args.cluster.account
        workload = args.workload_namespace
        secrets_read = pulumi.Output.all(args.secrets_key_arn, *args.application_secret_arns).apply(
            lambda v: [
                {
                    "Sid": "ReadApplicationSecrets",
                    "Effect": "Allow",
                    "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    "Resource": list(v[1:]),
                },
                {
                    "Sid": "DecryptSecrets",
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": v[0],
                },
            ]
        )
        artifacts = pulumi.Output.all(args.artifacts_bucket_arn, args.s3_key_arn).apply(
            lambda v: [
                {
                    "Sid": "Artifacts",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                    "Resource": f"{v[0]}/*",
                },
                {
                    "Sid": "ListArtifacts",
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": v[0],
                },
                {
                    "Sid": "ArtifactsKey",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": v[1],
                },
            ]
        )
        database = pulumi.Output.all(
            account.partition,
            account.account_id,
            args.postgres_resource_id,
            args.remote_writer_user_arn,
        ).apply(
            lambda v: [
                {
                    "Sid": "DatabaseIamAuth",
                    "Effect": "Allow",
                    "Action": "rds-db:connect",
                    # The local database (a secondary's replica serves the reads) and, in a
                    # secondary, the primary's writer (its writes).
                    "Resource": _one_or_list(
                        f"arn:{v[0]}:rds-db:{account.region}:{v[1]}:dbuser:{v[2]}/{DATABASE_USER}",
                        v[3],
                    ),
                }
            ]
        )
        monitoring = pulumi.Output.all(
            account.partition, account.account_id, args.cluster.name
        ).apply(lambda v: monitoring_statements(v[0], v[1], account.region, v[2]))

        def kafka(consume: bool) -> pulumi.Input[list[Any]]:
            access = args.kafka
            if access is None:
                return []
            return pulumi.Output.from_input(access.cluster_arn).apply(
                lambda arn: kafka_statements(
                    arn, access.topic, access.consumer_group, consume=consume
                )
            )

        def joined(*parts: pulumi.Input[list[Any]]) -> pulumi.Output[list[Any]]:
            return pulumi.Output.all(*parts).apply(lambda v: [s for part in v for s in part])

        # What each workload of charts/agent-factory calls in AWS (None: nothing, no role).
        identities: dict[str, tuple[str, pulumi.Input[list[Any]] | None]] = {
            "agent-factory": (
                workload,
                joined(secrets_read, artifacts, database, kafka(consume=False)),
            ),
            "agent-runtime": (
                workload,
                joined(secrets_read, artifacts, database, kafka(consume=False)),
            ),
            "agent-registry": (workload, joined(artifacts, database)),
            "worker": (
                workload,
                joined(secrets_read, artifacts, database, kafka(consume=True)),
            ),
            "api-gateway": (workload, None),
            "monitoring": ("monitoring", monitoring),
        }
        roles: dict[str, pulumi.Output[str]] = {}
        self.workload_service_accounts = {}
        self.workload_identities = []
        for account_name, (namespace, statements) in identities.items():
            annotations = None
            if statements is not None:
                role = self._irsa_role(account_name, namespace, account_name, statements)
                roles[account_name] = role.arn
                annotations = role.annotations
            service_account = k8s.core.v1.ServiceAccount(
                f"{self._name}-sa-{account_name}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=account_name,
                    namespace=namespace,
                    labels={**self._labels, "app.kubernetes.io/name": account_name},
                    annotations=annotations,
                ),
                # IRSA projects its own web-identity token; a pod that calls the Kubernetes
                # API opts in on its own spec.
                automount_service_account_token=False,
                opts=self._in(namespace),
            )
            if namespace == workload:
                self.workload_service_accounts[account_name] = account_name
                self.workload_identities.append(service_account)
        return roles

    # -- tenants ---------------------------------------------------------------------

    def _tenants(self) -> dict[str, pulumi.Output[str]]:
        args, settings = self._args, self._args.settings
        cluster = args.cluster
        data = tuple((cidr, DATA_PORTS) for cidr in args.data_subnet_cidrs)
        namespaces: dict[str, pulumi.Output[str]] = {}
        for tenant in settings.tenants:
            tier = settings.tiers[tenant.tier]
            created = Tenant(
                f"{self._name}-tenant-{tenant.name}",
                TenantArgs(
                    account=cluster.account,
                    stack=args.stack,
                    tenant=tenant.name,
                    tier=tenant.tier,
                    quota=Quota(
                        tier.cpu,
                        tier.memory_gib,
                        tier.pods,
                        tier.max_container_cpu,
                        tier.max_container_memory,
                    ),
                    cluster_name=cluster.name,
                    cluster_arn=cluster.arn,
                    admin_role=tenant.admin_role,
                    admin_principals=tuple(tenant.admin_principals_or_default),
                    data_egress=data,
                    common_labels=self._labels,
                    k8s_provider=cluster.k8s_provider,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            namespaces[tenant.name] = created.namespace
        return namespaces

    # -- ingress ---------------------------------------------------------------------

    def _ingress_nginx(self) -> k8s.helm.v3.Release:
        ingress = self._args.settings.ingress
        addon = self._addon(
            ingress_nginx.NAME,
            ingress_nginx.values(
                replicas=ingress.replicas,
                rate_limit_rps=ingress.rate_limit_rps,
                cors_allowed_origins=ingress.cors_allowed_origins,
                default_certificate=f"{ingress_nginx.NAMESPACE}/{WILDCARD_SECRET}",
            ),
            ingress_nginx.footprint(ingress.replicas),
        )
        return addon.release

    def _ingress_hostname(self, release: k8s.helm.v3.Release) -> pulumi.Output[str]:
        """Read the controller Service the chart made (<release>-controller) for its NLB."""
        service = k8s.core.v1.Service.get(
            f"{self._name}-ingress-service",
            # From the release's status: unknown (and not read) until the release exists.
            release.status.apply(lambda status: f"{status.namespace}/{status.name}-controller"),
            opts=pulumi.ResourceOptions(parent=self, provider=self._args.cluster.k8s_provider),
        )
        return service.status.apply(_load_balancer_hostname)

    # -- certificates ----------------------------------------------------------------

    def _cert_manager(self, ingress: k8s.helm.v3.Release) -> str:
        args, security = self._args, self._args.settings
        zone = args.hosted_zone_id
        statements = pulumi.Output.all(args.cluster.account.partition, zone).apply(
            lambda v: cert_manager.policy(v[0], v[1], security.domain)
        )
        replicas = security.platform_replicas
        addon = self._addon(
            cert_manager.NAME,
            cert_manager.values(replicas),
            cert_manager.footprint(replicas),
            irsa=IrsaSpec(cert_manager.SERVICE_ACCOUNT, statements),
        )
        release = addon.release
        issuer_name = "letsencrypt-prod"
        dns01: dict[str, Any] = {"route53": {"region": args.cluster.account.region}}
        if zone:
            dns01["route53"]["hostedZoneID"] = zone
        issuer = k8s.apiextensions.CustomResource(
            f"{self._name}-cluster-issuer",
            api_version="cert-manager.io/v1",
            kind="ClusterIssuer",
            metadata=self._meta(issuer_name),
            spec={
                "acme": {
                    "server": LETS_ENCRYPT,
                    "email": security.acme_email,
                    "privateKeySecretRef": {"name": f"{issuer_name}-account-key"},
                    "solvers": [{"selector": {"dnsZones": [security.domain]}, "dns01": dns01}],
                }
            },
            opts=pulumi.ResourceOptions(
                parent=self, provider=args.cluster.k8s_provider, depends_on=[release]
            ),
        )
        k8s.apiextensions.CustomResource(
            f"{self._name}-wildcard-certificate",
            api_version="cert-manager.io/v1",
            kind="Certificate",
            metadata=self._meta("wildcard", ingress_nginx.NAMESPACE),
            spec={
                "secretName": WILDCARD_SECRET,
                "dnsNames": [security.domain, f"*.{security.domain}"],
                "issuerRef": {"name": issuer_name, "kind": "ClusterIssuer"},
                "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                "duration": "2160h",
                "renewBefore": "720h",
            },
            # The issuer already waits for the CRDs; naming the release says so directly.
            opts=self._in(ingress_nginx.NAMESPACE, depends_on=[release, issuer, ingress]),
        )
        return issuer_name

    # -- secrets delivery ------------------------------------------------------------

    def _external_secrets(self) -> SecretStore:
        """The ClusterSecretStore; an ExternalSecret that waits for it also waits for the CRDs."""
        args = self._args
        account = args.cluster.account
        statements = pulumi.Output.all(
            account.partition, account.account_id, args.cluster.name, args.secrets_key_arn
        ).apply(lambda v: external_secrets.policy(v[0], v[1], account.region, v[2], v[3]))
        replicas = args.settings.platform_replicas
        addon = self._addon(
            external_secrets.NAME,
            external_secrets.values(replicas),
            external_secrets.footprint(replicas),
            irsa=IrsaSpec(external_secrets.SERVICE_ACCOUNT, statements),
        )
        store = k8s.apiextensions.CustomResource(
            f"{self._name}-cluster-secret-store",
            api_version="external-secrets.io/v1",
            kind="ClusterSecretStore",
            metadata=self._meta(SECRET_STORE),
            spec={
                "provider": {
                    "aws": {
                        "service": "SecretsManager",
                        "region": account.region,
                        "auth": {
                            "jwt": {
                                "serviceAccountRef": {
                                    "name": external_secrets.SERVICE_ACCOUNT,
                                    "namespace": external_secrets.NAMESPACE,
                                }
                            }
                        },
                    }
                }
            },
            opts=pulumi.ResourceOptions(
                parent=self, provider=args.cluster.k8s_provider, depends_on=[addon.release]
            ),
        )
        return SecretStore(SECRET_STORE, store)

    # -- autoscaling -----------------------------------------------------------------

    def _autoscaling(self) -> list[pulumi.Resource]:
        """KEDA (its operator reads MSK consumer lag with its own IRSA role) and the VPA
        recommender; returns the releases that install their CRDs."""
        args = self._args
        account = args.cluster.account
        statements = pulumi.Output.all(
            account.partition, account.account_id, args.cluster.name
        ).apply(lambda v: keda.policy(v[0], v[1], account.region, v[2]))
        replicas = args.settings.platform_replicas
        scaler = self._addon(
            keda.NAME,
            keda.values(replicas),
            keda.footprint(replicas),
            irsa=IrsaSpec(
                keda.SERVICE_ACCOUNT, statements, values_path=keda.SERVICE_ACCOUNT_VALUES
            ),
        )
        recommender = self._addon(vpa.CHART, vpa.values(replicas), vpa.footprint(replicas))
        return [scaler.release, recommender.release]

    def _rollouts(self) -> pulumi.Resource:
        """The Argo Rollouts controller and its CRDs (HA where the stack runs two or more
        platform replicas); returns the release the services' Rollouts wait for."""
        replicas = self._args.settings.platform_replicas
        addon = self._addon(
            argo_rollouts.CHART, argo_rollouts.values(replicas), argo_rollouts.footprint(replicas)
        )
        return addon.release

    # -- account guards --------------------------------------------------------------

    def _account_guards(self) -> pulumi.Output[str] | None:
        """GuardDuty and CloudTrail; returns the trail's CloudWatch log group name."""
        args, settings = self._args, self._args.settings
        child = pulumi.ResourceOptions(parent=self)
        guarded = pulumi.ResourceOptions(parent=self, protect=args.protect)
        # GuardDuty allows one detector per account and region: a stack may enable it only
        # where no other stack of its account runs in the same region (tests check the
        # stack files; the preview's global-name check treats the detector as a singleton).
        if settings.guard_duty:
            detector = aws.guardduty.Detector(
                f"{self._name}-guardduty",
                enable=True,
                finding_publishing_frequency="FIFTEEN_MINUTES",
                opts=guarded,
            )
            aws.guardduty.DetectorFeature(
                f"{self._name}-guardduty-eks-audit",
                detector_id=detector.id,
                name="EKS_AUDIT_LOGS",
                status="ENABLED",
                opts=child,
            )
            aws.guardduty.DetectorFeature(
                f"{self._name}-guardduty-runtime",
                detector_id=detector.id,
                name="RUNTIME_MONITORING",
                status="ENABLED",
                additional_configurations=[
                    # GuardDuty installs and updates its EKS agent add-on itself.
                    aws.guardduty.DetectorFeatureAdditionalConfigurationArgs(
                        name="EKS_ADDON_MANAGEMENT", status="ENABLED"
                    )
                ],
                opts=child,
            )
        if not settings.cloudtrail:
            return None
        logs = self._trail_logs()
        aws.cloudtrail.Trail(
            f"{self._name}-trail",
            name=args.trail_name,
            s3_bucket_name=args.audit_bucket,
            s3_key_prefix="cloudtrail",
            kms_key_id=args.s3_key_arn,
            enable_log_file_validation=True,
            is_multi_region_trail=args.multi_region_trail,
            include_global_service_events=args.multi_region_trail,
            enable_logging=True,
            # CloudTrail wants the group's ARN with the ":*" (all streams) suffix.
            cloud_watch_logs_group_arn=logs.group.arn.apply(lambda arn: f"{arn}:*"),
            cloud_watch_logs_role_arn=logs.role.arn,
            # CloudTrail checks on create that the role can write to the group.
            opts=pulumi.ResourceOptions.merge(
                guarded, pulumi.ResourceOptions(depends_on=[logs.policy])
            ),
        )
        return logs.group.name

    def _trail_logs(self) -> _TrailLogs:
        """The KMS-encrypted log group the trail also delivers to, and the role it writes
        with (CIS metric filters and alarms read the group)."""
        args = self._args
        account = args.cluster.account
        trail = args.trail_name
        child = pulumi.ResourceOptions(parent=self)
        group = aws.cloudwatch.LogGroup(
            f"{self._name}-trail-logs",
            name=pulumi.Output.concat("/aws/cloudtrail/", args.cluster.name),
            kms_key_id=args.logs_key_arn,
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        role = aws.iam.Role(
            f"{self._name}-trail-logs-role",
            description=f"CloudTrail {trail} writes to its CloudWatch log group",
            assume_role_policy=pulumi.Output.all(account.partition, account.account_id).apply(
                lambda v: cloudtrail_trust_policy(v[0], v[1], account.region, trail)
            ),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{self._name}-trail-logs-policy",
            role=role.id,
            policy=group.arn.apply(
                lambda arn: policy_document(
                    [
                        {
                            "Sid": "DeliverTrailEvents",
                            "Effect": "Allow",
                            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                            "Resource": f"{arn}:log-stream:*",
                        }
                    ]
                )
            ),
            opts=child,
        )
        return _TrailLogs(group, role, policy)

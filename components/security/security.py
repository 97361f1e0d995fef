"""Security: the fence around every team and tenant, plus account-level guards.

Namespaces (PSA restricted unless exempt, quota, limits, default-deny network policies),
RBAC for SREs and developers, IRSA service accounts for the platform's workloads, tenants,
ingress-nginx behind an NLB, cert-manager with Let's Encrypt over Route 53 DNS-01, External
Secrets for Secrets Manager, GuardDuty and CloudTrail (to S3 and to CloudWatch Logs). KMS keys
live in :mod:`components.security.keys` because the network and cluster need them before a cluster
exists.

Every chart's footprint (pods, Services, CRDs, metrics) is declared next to its values from
the same numbers, so the offline admission checks count what the cluster will admit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.cluster.cluster import DEVELOPER_GROUP, SRE_GROUP
from components.context import AccountContext
from components.footprint import (
    Metrics,
    ReleaseFootprint,
    Resources,
    Service,
    Workload,
    footprints_output,
)
from components.iam import OidcProvider, irsa_role, policy_document
from components.k8s.namespaces import (
    CONTAINER_SECURITY,
    POD_SECURITY,
    FencedNamespace,
    Ingress,
    NamespaceSpec,
    Quota,
    rolling_surge,
    with_daemonset,
)
from components.k8s.tenancy import Tenant, TenantArgs
from components.node_agents import FLUENT_BIT, NODE_EXPORTER
from components.prerequisites import Prerequisite, prerequisites_output
from components.settings import Settings

INGRESS_NGINX_REPO = "https://kubernetes.github.io/ingress-nginx"
CERT_MANAGER_REPO = "https://charts.jetstack.io"
EXTERNAL_SECRETS_REPO = "https://charts.external-secrets.io"
LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
WILDCARD_SECRET = "wildcard-tls"
SECRET_STORE = "aws-secrets-manager"
LB = "service.beta.kubernetes.io/aws-load-balancer"
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
# The ports of the ingress controller's LoadBalancer Service (http, https): the NLB listens
# on them, the NetworkPolicy admits them, and each takes one node port of the quota.
INGRESS_PORTS = (80, 443)
# Metrics the observability component scrapes with these ServiceMonitors (monitoring ns).
INGRESS_NGINX_SCRAPER = "ServiceMonitor/monitoring/ingress-nginx-controller"
CERT_MANAGER_SCRAPER = "ServiceMonitor/monitoring/cert-manager"

# Per-container resources, handed to the charts with ``.values()`` and declared in the
# releases' footprints from the same objects.
INGRESS_CONTROLLER = Resources("500m", "512Mi", "2", "1Gi")
# kube-webhook-certgen (the admission webhook's certificate Jobs): a short Go binary.
INGRESS_ADMISSION_JOB = Resources("10m", "32Mi", "100m", "64Mi")
CERT_MANAGER_CONTROLLER = Resources("50m", "128Mi", "500m", "512Mi")
CERT_MANAGER_WEBHOOK = Resources("20m", "64Mi", "200m", "256Mi")
CERT_MANAGER_CAINJECTOR = Resources("20m", "128Mi", "200m", "512Mi")
CERT_MANAGER_STARTUPAPICHECK = Resources("10m", "32Mi", "100m", "128Mi")
EXTERNAL_SECRETS_CONTROLLER = Resources("50m", "128Mi", "500m", "512Mi")
EXTERNAL_SECRETS_WEBHOOK = Resources("20m", "64Mi", "200m", "256Mi")
EXTERNAL_SECRETS_CERT_CONTROLLER = Resources("20m", "64Mi", "200m", "256Mi")
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
    account: AccountContext
    settings: Settings
    cluster_name: pulumi.Input[str]
    cluster_arn: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    oidc_provider_url: pulumi.Input[str]
    k8s_provider: k8s.Provider
    s3_key_arn: pulumi.Input[str]
    secrets_key_arn: pulumi.Input[str]
    # Encrypts the trail's CloudWatch log group.
    logs_key_arn: pulumi.Input[str]
    audit_bucket: pulumi.Input[str]
    artifacts_bucket_arn: pulumi.Input[str]
    application_secret_arns: list[pulumi.Input[str]]
    postgres_resource_id: pulumi.Input[str]
    # Only the primary region's trail records every region (no duplicate global events).
    multi_region_trail: bool
    # Route 53 zone for DNS-01; None lets cert-manager find the zone by the domain name.
    hosted_zone_id: pulumi.Input[str] | None


def _load_balancer_hostname(status: k8s.core.v1.outputs.ServiceStatus | None) -> str:
    ingress = status.load_balancer.ingress if status and status.load_balancer else None
    if not ingress or not ingress[0].hostname:
        raise ValueError("ingress-nginx-controller has no load balancer hostname yet")
    return ingress[0].hostname


def nginx_snippets(rate_rps: int, origins: list[str]) -> dict[str, str]:
    """Global per-IP rate limit and a CORS allow-list, as controller ConfigMap snippets.

    ingress-nginx has per-Ingress annotations for both but no global setting; the
    ConfigMap snippets apply to every server it renders.
    """
    allowed = "\n".join(f'    "{origin}" $http_origin;' for origin in origins)
    http = (
        f"limit_req_zone $binary_remote_addr zone=per_ip:32m rate={rate_rps}r/s;\n"
        "limit_req_status 429;\n"
        f'map $http_origin $cors_origin {{\n    default "";\n{allowed}\n}}\n'
    )
    location = (
        f"limit_req zone=per_ip burst={rate_rps * 2} nodelay;\n"
        'more_set_headers "Access-Control-Allow-Origin: $cors_origin";\n'
        'more_set_headers "Access-Control-Allow-Methods: GET, POST, PUT, PATCH, DELETE, OPTIONS";\n'
        'more_set_headers "Access-Control-Allow-Headers: Authorization, Content-Type";\n'
        'more_set_headers "Vary: Origin";\n'
    )
    return {"http-snippet": http, "location-snippet": location}


def platform_namespaces(settings: Settings) -> list[NamespaceSpec]:
    """The seed's namespaces (one workload namespace per cluster) and the platform's own."""
    vpc = settings.network.vpc_cidr
    data = tuple((str(cidr), DATA_PORTS) for cidr in settings.network.subnets.data)
    exemptions = settings.security.pod_security_exemptions
    cpu, memory = settings.workload_quota
    workload_quota = Quota(
        cpu, memory, pods=1000, max_container_cpu="8", max_container_memory="16Gi"
    )
    # DaemonSets run a pod on every node the pools can reach, not on today's nodes.
    nodes = settings.max_node_count
    monitoring_quota = with_daemonset(MONITORING_QUOTA, NODE_EXPORTER, nodes)
    logging_quota = with_daemonset(PLATFORM_QUOTA, FLUENT_BIT, nodes)
    # The controller's LoadBalancer Service: one load balancer, a node port per port.
    ingress_quota = replace(PLATFORM_QUOTA, load_balancers=1, node_ports=len(INGRESS_PORTS))
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
        application(settings.workload_namespace, workload_quota),
        NamespaceSpec(
            "monitoring",
            monitoring_quota,
            ingress=(
                Ingress(from_namespace="ingress-nginx"),
                Ingress(from_cidr=vpc, ports=(WEBHOOK,)),
            ),
            egress=((vpc, (443, 9100, WEBHOOK)),),
            internet_https=True,
            egress_to_all_namespaces=True,
        ),
        NamespaceSpec(
            "ingress-nginx",
            ingress_quota,
            ingress=(
                Ingress(from_cidr="0.0.0.0/0", ports=INGRESS_PORTS),
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
    cluster_secret_store: str
    cluster_issuer: str
    ingress_class: str
    # DNS name of the ingress load balancer, once the cloud provider has created it.
    ingress_hostname: pulumi.Output[str]
    fenced_namespaces: dict[str, FencedNamespace]
    secret_store: k8s.apiextensions.CustomResource
    # The CloudWatch log group CloudTrail delivers to (CIS metric filters read it); None
    # when this stack runs no trail.
    trail_log_group_name: pulumi.Output[str] | None

    def __init__(self, name: str, args: SecurityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("agentfactory:platform:Security", name, None, opts)
        self._name = name
        self._args = args
        settings = args.settings
        self._labels = {
            "app.kubernetes.io/part-of": "agent-factory",
            "app.kubernetes.io/managed-by": "pulumi",
            "agent-factory.io/team": settings.team,
            "agent-factory.io/environment": settings.environment,
        }
        self._on_cluster = pulumi.ResourceOptions(parent=self, provider=args.k8s_provider)

        fenced = {
            spec.name: FencedNamespace(
                f"{name}-ns-{spec.name}", spec, self._labels, opts=self._on_cluster
            )
            for spec in platform_namespaces(settings)
        }
        self.namespaces = {ns: f.namespace for ns, f in fenced.items()}
        # Objects other components put into these namespaces wait for them (a child does
        # not inherit its component's depends_on).
        self.fenced_namespaces = fenced
        self._fenced = fenced
        self._footprints: list[ReleaseFootprint] = []
        self._rbac()
        self.service_account_roles = self._service_accounts()
        self.tenant_namespaces = self._tenants()
        ingress = self._ingress_nginx()
        # Ingresses elsewhere wait for it: its admission webhook validates them.
        self.ingress_release = ingress
        self.ingress_hostname = self._ingress_hostname(ingress)
        self.cluster_issuer = self._cert_manager(ingress)
        self.secret_store = self._external_secrets()
        self.cluster_secret_store = SECRET_STORE
        self.ingress_class = "nginx"
        self.trail_log_group_name = self._account_guards()
        self.register_outputs(
            {
                "namespaces": self.namespaces,
                "tenantNamespaces": self.tenant_namespaces,
                "serviceAccountRoles": self.service_account_roles,
                "clusterIssuer": self.cluster_issuer,
                "clusterSecretStore": self.cluster_secret_store,
                "ingressHostname": self.ingress_hostname,
                "trailLogGroupName": self.trail_log_group_name,
                **footprints_output(self._footprints),
                **prerequisites_output([OPENSEARCH_SERVICE_LINKED_ROLE]),
            }
        )

    # -- helpers ---------------------------------------------------------------------

    def _in(self, namespace: str, **extra: Any) -> pulumi.ResourceOptions:
        """Options for an object that lives in one of our fenced namespaces."""
        depends = [self._fenced[namespace], *extra.pop("depends_on", [])]
        return pulumi.ResourceOptions(
            parent=self, provider=self._args.k8s_provider, depends_on=depends, **extra
        )

    def _meta(self, name: str, namespace: str | None = None) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(
            name=name, namespace=namespace, labels={**self._labels, "app.kubernetes.io/name": name}
        )

    def _irsa_role(
        self, key: str, namespace: str, service_account: str, statements: pulumi.Input[list[Any]]
    ) -> aws.iam.Role:
        oidc = OidcProvider(self._args.oidc_provider_arn, self._args.oidc_provider_url)
        return irsa_role(
            f"{self._name}-{key}",
            oidc,
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
                provider=self._args.k8s_provider,
                depends_on=depends_on,
                delete_before_replace=delete_before_replace,
            ),
        )

    # -- workload identities ---------------------------------------------------------

    def _service_accounts(self) -> dict[str, pulumi.Output[str]]:
        args, settings = self._args, self._args.settings
        account = args.account
        workload = settings.workload_namespace
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
            account.partition, account.account_id, args.postgres_resource_id
        ).apply(
            lambda v: [
                {
                    "Sid": "DatabaseIamAuth",
                    "Effect": "Allow",
                    "Action": "rds-db:connect",
                    "Resource": (
                        f"arn:{v[0]}:rds-db:{account.region}:{v[1]}:dbuser:{v[2]}/{DATABASE_USER}"
                    ),
                }
            ]
        )
        monitoring = pulumi.Output.all(account.partition, account.account_id).apply(
            lambda v: monitoring_statements(v[0], v[1], account.region, settings.cluster_name)
        )
        identities: dict[str, tuple[str, pulumi.Input[list[Any]]]] = {
            "agent-factory": (
                workload,
                pulumi.Output.all(secrets_read, artifacts, database).apply(
                    lambda v: [*v[0], *v[1], *v[2]]
                ),
            ),
            "agent-runtime": (
                workload,
                pulumi.Output.all(secrets_read, artifacts).apply(lambda v: [*v[0], *v[1]]),
            ),
            "monitoring": ("monitoring", monitoring),
        }
        roles: dict[str, pulumi.Output[str]] = {}
        for account_name, (namespace, statements) in identities.items():
            role = self._irsa_role(account_name, namespace, account_name, statements)
            k8s.core.v1.ServiceAccount(
                f"{self._name}-sa-{account_name}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=account_name,
                    namespace=namespace,
                    labels={**self._labels, "app.kubernetes.io/name": account_name},
                    annotations={"eks.amazonaws.com/role-arn": role.arn},
                ),
                # IRSA projects its own web-identity token; a pod that calls the Kubernetes
                # API opts in on its own spec.
                automount_service_account_token=False,
                opts=self._in(namespace),
            )
            roles[account_name] = role.arn
        return roles

    # -- tenants ---------------------------------------------------------------------

    def _tenants(self) -> dict[str, pulumi.Output[str]]:
        args, settings = self._args, self._args.settings
        data = tuple((str(cidr), DATA_PORTS) for cidr in settings.network.subnets.data)
        namespaces: dict[str, pulumi.Output[str]] = {}
        for tenant in settings.security.tenants:
            tier = settings.security.tiers[tenant.tier]
            created = Tenant(
                f"{self._name}-tenant-{tenant.name}",
                TenantArgs(
                    account=args.account,
                    stack=settings.stack,
                    tenant=tenant.name,
                    tier=tenant.tier,
                    quota=Quota(
                        tier.cpu,
                        tier.memory_gib,
                        tier.pods,
                        tier.max_container_cpu,
                        tier.max_container_memory,
                    ),
                    cluster_name=args.cluster_name,
                    cluster_arn=args.cluster_arn,
                    admin_role=tenant.admin_role,
                    admin_principals=tuple(tenant.admin_principals_or_default),
                    data_egress=data,
                    common_labels=self._labels,
                    k8s_provider=args.k8s_provider,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            namespaces[tenant.name] = created.namespace
        return namespaces

    # -- ingress ---------------------------------------------------------------------

    def _pdb(self) -> dict[str, Any]:
        replicas = self._args.settings.security.platform_replicas
        # A PDB of 2 on fewer than 3 replicas would block every node drain.
        return {"enabled": replicas >= 3, "minAvailable": 2}

    def _ingress_nginx(self) -> k8s.helm.v3.Release:
        settings = self._args.settings.security
        ingress = settings.ingress
        config = {
            "use-http2": "true",
            "use-gzip": "true",
            "ssl-protocols": "TLSv1.2 TLSv1.3",
            "hsts": "true",
            "hsts-include-subdomains": "true",
            "server-tokens": "false",
            "use-forwarded-headers": "false",
            **nginx_snippets(ingress.rate_limit_rps, ingress.cors_allowed_origins),
        }
        release = k8s.helm.v3.Release(
            f"{self._name}-ingress-nginx",
            name="ingress-nginx",
            chart="ingress-nginx",
            version=ingress.chart_version,
            namespace="ingress-nginx",
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=INGRESS_NGINX_REPO),
            atomic=True,
            values={
                "controller": {
                    "replicaCount": ingress.replicas,
                    "minAvailable": 2 if ingress.replicas >= 3 else 0,
                    "config": config,
                    # Snippets above are admin-owned; tenants must not inject their own.
                    "allowSnippetAnnotations": False,
                    "extraArgs": {"default-ssl-certificate": f"ingress-nginx/{WILDCARD_SECRET}"},
                    "ingressClassResource": {"name": "nginx", "default": True},
                    "service": {
                        "type": "LoadBalancer",
                        "externalTrafficPolicy": "Local",
                        # http and https (INGRESS_PORTS): the quota grants a node port each.
                        "enableHttp": True,
                        "enableHttps": True,
                        "annotations": {
                            f"{LB}-type": "nlb",
                            f"{LB}-scheme": "internet-facing",
                            f"{LB}-cross-zone-load-balancing-enabled": "true",
                            f"{LB}-backend-protocol": "tcp",
                        },
                    },
                    "podSecurityContext": POD_SECURITY,
                    # The controller binds 80/443 as uid 101: restricted allows NET_BIND_SERVICE.
                    "containerSecurityContext": {
                        **CONTAINER_SECURITY,
                        "readOnlyRootFilesystem": False,
                        "runAsUser": 101,
                        "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                    },
                    "resources": INGRESS_CONTROLLER.values(),
                    # Scraped by the observability component's ServiceMonitor once the
                    # monitoring CRDs exist; the chart's own would fail before them.
                    "metrics": {"enabled": True, "serviceMonitor": {"enabled": False}},
                    "admissionWebhooks": {
                        "enabled": True,
                        "createSecretJob": {"resources": INGRESS_ADMISSION_JOB.values()},
                        "patchWebhookJob": {"resources": INGRESS_ADMISSION_JOB.values()},
                    },
                },
            },
            opts=self._in("ingress-nginx"),
        )
        self._footprints.append(
            ReleaseFootprint(
                release="ingress-nginx",
                namespace="ingress-nginx",
                workloads=(
                    Workload(
                        "controller",
                        "Deployment",
                        (INGRESS_CONTROLLER,),
                        replicas=ingress.replicas,
                        surge=rolling_surge(ingress.replicas),
                    ),
                    # Helm hooks that create and patch the admission webhook's certificate.
                    Workload("admission-create", "Job", (INGRESS_ADMISSION_JOB,)),
                    Workload("admission-patch", "Job", (INGRESS_ADMISSION_JOB,)),
                ),
                services=(
                    Service("ingress-nginx-controller", "LoadBalancer", len(INGRESS_PORTS)),
                    Service("ingress-nginx-controller-admission", "ClusterIP"),
                    Service("ingress-nginx-controller-metrics", "ClusterIP"),
                ),
                metrics=(Metrics(("nginx_ingress_controller_",), via=INGRESS_NGINX_SCRAPER),),
            )
        )
        return release

    def _ingress_hostname(self, release: k8s.helm.v3.Release) -> pulumi.Output[str]:
        """Read the controller Service the chart made (<release>-controller) for its NLB."""
        service = k8s.core.v1.Service.get(
            f"{self._name}-ingress-service",
            # From the release's status: unknown (and not read) until the release exists.
            release.status.apply(lambda status: f"{status.namespace}/{status.name}-controller"),
            opts=pulumi.ResourceOptions(parent=self, provider=self._args.k8s_provider),
        )
        return service.status.apply(_load_balancer_hostname)

    # -- certificates ----------------------------------------------------------------

    def _cert_manager(self, ingress: k8s.helm.v3.Release) -> str:
        args, security = self._args, self._args.settings.security
        zone = args.hosted_zone_id
        zone_arn = pulumi.Output.concat(
            "arn:", args.account.partition, ":route53:::hostedzone/", zone if zone else "*"
        )
        role = self._irsa_role(
            "cert-manager",
            "cert-manager",
            "cert-manager",
            [
                {
                    "Effect": "Allow",
                    "Action": "route53:GetChange",
                    "Resource": "arn:aws:route53:::change/*",
                },
                {
                    "Effect": "Allow",
                    "Action": [
                        "route53:ChangeResourceRecordSets",
                        "route53:ListResourceRecordSets",
                    ],
                    "Resource": zone_arn,
                    # Only the ACME challenge records, nothing else in the zone.
                    "Condition": {
                        "ForAllValues:StringLike": {
                            "route53:ChangeResourceRecordSetsNormalizedRecordNames": [
                                f"_acme-challenge.{security.domain}"
                            ]
                        }
                    },
                },
                {"Effect": "Allow", "Action": "route53:ListHostedZonesByName", "Resource": "*"},
            ],
        )
        replicas = security.platform_replicas
        cainjector_replicas = 2 if replicas >= 3 else 1
        release = k8s.helm.v3.Release(
            f"{self._name}-cert-manager",
            name="cert-manager",
            chart="cert-manager",
            version=security.cert_manager_chart_version,
            namespace="cert-manager",
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CERT_MANAGER_REPO),
            atomic=True,
            values={
                "crds": {"enabled": True, "keep": True},
                "replicaCount": replicas,
                "podDisruptionBudget": self._pdb(),
                "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": role.arn}},
                "securityContext": POD_SECURITY,
                "containerSecurityContext": CONTAINER_SECURITY,
                "resources": CERT_MANAGER_CONTROLLER.values(),
                "webhook": {
                    "replicaCount": replicas,
                    "podDisruptionBudget": self._pdb(),
                    "securityContext": POD_SECURITY,
                    "containerSecurityContext": CONTAINER_SECURITY,
                    "resources": CERT_MANAGER_WEBHOOK.values(),
                },
                "cainjector": {
                    "replicaCount": cainjector_replicas,
                    "securityContext": POD_SECURITY,
                    "containerSecurityContext": CONTAINER_SECURITY,
                    "resources": CERT_MANAGER_CAINJECTOR.values(),
                },
                "startupapicheck": {
                    "securityContext": POD_SECURITY,
                    "containerSecurityContext": CONTAINER_SECURITY,
                    "resources": CERT_MANAGER_STARTUPAPICHECK.values(),
                },
                # The metrics Service; the observability component's ServiceMonitor
                # scrapes it (the chart's own would need the monitoring CRDs first).
                "prometheus": {"enabled": True, "servicemonitor": {"enabled": False}},
            },
            opts=self._in("cert-manager"),
        )
        self._footprints.append(
            ReleaseFootprint(
                release="cert-manager",
                namespace="cert-manager",
                workloads=(
                    Workload(
                        "controller",
                        "Deployment",
                        (CERT_MANAGER_CONTROLLER,),
                        replicas=replicas,
                        surge=rolling_surge(replicas),
                    ),
                    Workload(
                        "webhook",
                        "Deployment",
                        (CERT_MANAGER_WEBHOOK,),
                        replicas=replicas,
                        surge=rolling_surge(replicas),
                    ),
                    Workload(
                        "cainjector",
                        "Deployment",
                        (CERT_MANAGER_CAINJECTOR,),
                        replicas=cainjector_replicas,
                        surge=rolling_surge(cainjector_replicas),
                    ),
                    # Post-install hook that waits for the webhook.
                    Workload("startupapicheck", "Job", (CERT_MANAGER_STARTUPAPICHECK,)),
                ),
                services=(
                    Service("cert-manager", "ClusterIP"),
                    Service("cert-manager-webhook", "ClusterIP"),
                    Service("cert-manager-cainjector", "ClusterIP"),
                ),
                crds=("cert-manager.io", "acme.cert-manager.io"),
                metrics=(Metrics(("certmanager_",), via=CERT_MANAGER_SCRAPER),),
            )
        )
        issuer_name = "letsencrypt-prod"
        dns01: dict[str, Any] = {"route53": {"region": args.account.region}}
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
                parent=self, provider=args.k8s_provider, depends_on=[release]
            ),
        )
        k8s.apiextensions.CustomResource(
            f"{self._name}-wildcard-certificate",
            api_version="cert-manager.io/v1",
            kind="Certificate",
            metadata=self._meta("wildcard", "ingress-nginx"),
            spec={
                "secretName": WILDCARD_SECRET,
                "dnsNames": [security.domain, f"*.{security.domain}"],
                "issuerRef": {"name": issuer_name, "kind": "ClusterIssuer"},
                "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                "duration": "2160h",
                "renewBefore": "720h",
            },
            # The issuer already waits for the CRDs; naming the release says so directly.
            opts=self._in("ingress-nginx", depends_on=[release, issuer, ingress]),
        )
        return issuer_name

    # -- secrets delivery ------------------------------------------------------------

    def _external_secrets(self) -> k8s.apiextensions.CustomResource:
        """The ClusterSecretStore; an ExternalSecret that waits for it also waits for the CRDs."""
        args, settings = self._args, self._args.settings
        account = args.account
        scope = pulumi.Output.all(
            account.partition, account.account_id, args.secrets_key_arn
        ).apply(
            lambda v: [
                {
                    "Sid": "PlatformSecretsOnly",
                    "Effect": "Allow",
                    "Action": [
                        "secretsmanager:GetSecretValue",
                        "secretsmanager:DescribeSecret",
                        "secretsmanager:ListSecretVersionIds",
                    ],
                    "Resource": (
                        f"arn:{v[0]}:secretsmanager:{account.region}:{v[1]}:secret:"
                        f"{settings.cluster_name}/*"
                    ),
                },
                {
                    "Sid": "DecryptPlatformSecrets",
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": v[2],
                },
            ]
        )
        service_account = "external-secrets"
        role = self._irsa_role("external-secrets", "external-secrets", service_account, scope)
        replicas = settings.security.platform_replicas
        release = k8s.helm.v3.Release(
            f"{self._name}-external-secrets",
            name="external-secrets",
            chart="external-secrets",
            version=settings.security.external_secrets_chart_version,
            namespace="external-secrets",
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=EXTERNAL_SECRETS_REPO),
            atomic=True,
            values={
                "installCRDs": True,
                "replicaCount": replicas,
                # More than one controller reconciling the same ExternalSecrets fights.
                "leaderElect": replicas > 1,
                "podDisruptionBudget": self._pdb(),
                "serviceAccount": {
                    "name": service_account,
                    "annotations": {"eks.amazonaws.com/role-arn": role.arn},
                },
                "podSecurityContext": POD_SECURITY,
                "securityContext": CONTAINER_SECURITY,
                "resources": EXTERNAL_SECRETS_CONTROLLER.values(),
                "webhook": {
                    "replicaCount": replicas,
                    "podDisruptionBudget": self._pdb(),
                    "podSecurityContext": POD_SECURITY,
                    "securityContext": CONTAINER_SECURITY,
                    "resources": EXTERNAL_SECRETS_WEBHOOK.values(),
                },
                "certController": {
                    "replicaCount": 1,
                    "podSecurityContext": POD_SECURITY,
                    "securityContext": CONTAINER_SECURITY,
                    "resources": EXTERNAL_SECRETS_CERT_CONTROLLER.values(),
                },
            },
            opts=self._in("external-secrets"),
        )
        self._footprints.append(
            ReleaseFootprint(
                release="external-secrets",
                namespace="external-secrets",
                workloads=(
                    Workload(
                        "controller",
                        "Deployment",
                        (EXTERNAL_SECRETS_CONTROLLER,),
                        replicas=replicas,
                        surge=rolling_surge(replicas),
                    ),
                    Workload(
                        "webhook",
                        "Deployment",
                        (EXTERNAL_SECRETS_WEBHOOK,),
                        replicas=replicas,
                        surge=rolling_surge(replicas),
                    ),
                    Workload(
                        "cert-controller",
                        "Deployment",
                        (EXTERNAL_SECRETS_CERT_CONTROLLER,),
                        surge=rolling_surge(1),
                    ),
                ),
                # Metrics Services are off by default; only the webhook's is rendered.
                services=(Service("external-secrets-webhook", "ClusterIP"),),
                crds=("external-secrets.io", "generators.external-secrets.io"),
            )
        )
        store = SECRET_STORE
        return k8s.apiextensions.CustomResource(
            f"{self._name}-cluster-secret-store",
            api_version="external-secrets.io/v1",
            kind="ClusterSecretStore",
            metadata=self._meta(store),
            spec={
                "provider": {
                    "aws": {
                        "service": "SecretsManager",
                        "region": account.region,
                        "auth": {
                            "jwt": {
                                "serviceAccountRef": {
                                    "name": service_account,
                                    "namespace": "external-secrets",
                                }
                            }
                        },
                    }
                }
            },
            opts=pulumi.ResourceOptions(
                parent=self, provider=args.k8s_provider, depends_on=[release]
            ),
        )

    # -- account guards --------------------------------------------------------------

    def _account_guards(self) -> pulumi.Output[str] | None:
        """GuardDuty and CloudTrail; returns the trail's CloudWatch log group name."""
        args, settings = self._args, self._args.settings
        child = pulumi.ResourceOptions(parent=self)
        # Deleting the detector or the trail blinds the account: protected in prod.
        guarded = pulumi.ResourceOptions(parent=self, protect=settings.is_prod)
        # GuardDuty allows one detector per account and region: a stack may enable it only
        # where no other stack of its account runs in the same region (tests check the
        # stack files; the preview's global-name check treats the detector as a singleton).
        if settings.security.guard_duty:
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
        if not settings.security.cloudtrail:
            return None
        logs = self._trail_logs()
        aws.cloudtrail.Trail(
            f"{self._name}-trail",
            name=settings.trail_name,
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
        args, settings = self._args, self._args.settings
        account = args.account
        child = pulumi.ResourceOptions(parent=self)
        group = aws.cloudwatch.LogGroup(
            f"{self._name}-trail-logs",
            name=f"/aws/cloudtrail/{settings.cluster_name}",
            kms_key_id=args.logs_key_arn,
            retention_in_days=settings.cluster.log_retention_days,
            opts=child,
        )
        role = aws.iam.Role(
            f"{self._name}-trail-logs-role",
            description=f"CloudTrail {settings.trail_name} writes to its CloudWatch log group",
            assume_role_policy=pulumi.Output.all(account.partition, account.account_id).apply(
                lambda v: cloudtrail_trust_policy(v[0], v[1], account.region, settings.trail_name)
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

"""Security: the fence around every team and tenant, plus account-level guards.

Namespaces (PSA restricted unless exempt, quota, limits, default-deny network policies),
RBAC for SREs and developers, IRSA service accounts for the platform's workloads, tenants,
ingress-nginx behind an NLB, cert-manager with Let's Encrypt over Route 53 DNS-01, External
Secrets for Secrets Manager, GuardDuty and CloudTrail. KMS keys live in :mod:`components.keys`
because the network and cluster need them before a cluster exists.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.cluster import DEVELOPER_GROUP, SRE_GROUP
from components.iam import OidcProvider, irsa_role
from components.keys import AccountContext
from components.namespaces import FencedNamespace, Ingress, NamespaceSpec, Quota
from components.settings import Settings
from components.tenancy import Tenant, TenantArgs

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
# Non-root, no privilege escalation, no capabilities, RuntimeDefault seccomp: PSS restricted.
POD_SECURITY = {
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}


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
            MONITORING_QUOTA,
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
            PLATFORM_QUOTA,
            ingress=(
                Ingress(from_cidr="0.0.0.0/0", ports=(80, 443)),
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
            PLATFORM_QUOTA,
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


def sre_rules() -> list[dict[str, Any]]:
    return [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        {"nonResourceURLs": ["*"], "verbs": ["*"]},
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
        self._rbac()
        self.service_account_roles = self._service_accounts()
        self.tenant_namespaces = self._tenants()
        ingress = self._ingress_nginx()
        self.ingress_hostname = self._ingress_hostname(ingress)
        self.cluster_issuer = self._cert_manager(ingress)
        self.secret_store = self._external_secrets()
        self.cluster_secret_store = SECRET_STORE
        self.ingress_class = "nginx"
        self._account_guards()
        self.register_outputs(
            {
                "namespaces": self.namespaces,
                "tenantNamespaces": self.tenant_namespaces,
                "serviceAccountRoles": self.service_account_roles,
                "clusterIssuer": self.cluster_issuer,
                "clusterSecretStore": self.cluster_secret_store,
                "ingressHostname": self.ingress_hostname,
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
        for role_name, rules, group in (
            ("agent-factory-sre", sre_rules(), SRE_GROUP),
            ("agent-factory-developer", developer_rules(), DEVELOPER_GROUP),
        ):
            role = k8s.rbac.v1.ClusterRole(
                f"{name}-{role_name}",
                metadata=self._meta(role_name),
                rules=rules,  # type: ignore[arg-type]
                opts=self._on_cluster,
            )
            k8s.rbac.v1.ClusterRoleBinding(
                f"{name}-{role_name}-binding",
                metadata=self._meta(role_name),
                role_ref=k8s.rbac.v1.RoleRefArgs(
                    api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role_name
                ),
                subjects=[
                    k8s.rbac.v1.SubjectArgs(
                        kind="Group", name=group, api_group="rbac.authorization.k8s.io"
                    )
                ],
                opts=pulumi.ResourceOptions(
                    parent=self, provider=self._args.k8s_provider, depends_on=[role]
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
        monitoring = [
            {
                "Sid": "CloudWatchRead",
                "Effect": "Allow",
                "Action": [
                    "cloudwatch:GetMetricData",
                    "cloudwatch:ListMetrics",
                    "cloudwatch:DescribeAlarms",
                    "logs:DescribeLogGroups",
                    "logs:StartQuery",
                    "logs:GetQueryResults",
                    "tag:GetResources",
                ],
                "Resource": "*",
            }
        ]
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
        return k8s.helm.v3.Release(
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
                    "resources": {
                        "requests": {"cpu": "500m", "memory": "512Mi"},
                        "limits": {"cpu": "2", "memory": "1Gi"},
                    },
                    "metrics": {"enabled": True, "serviceMonitor": {"enabled": False}},
                    "admissionWebhooks": {"enabled": True},
                },
            },
            opts=self._in("ingress-nginx"),
        )

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
                "resources": {
                    "requests": {"cpu": "50m", "memory": "128Mi"},
                    "limits": {"cpu": "500m", "memory": "512Mi"},
                },
                "webhook": {
                    "replicaCount": replicas,
                    "podDisruptionBudget": self._pdb(),
                    "securityContext": POD_SECURITY,
                    "containerSecurityContext": CONTAINER_SECURITY,
                    "resources": {
                        "requests": {"cpu": "20m", "memory": "64Mi"},
                        "limits": {"cpu": "200m", "memory": "256Mi"},
                    },
                },
                "cainjector": {
                    "replicaCount": 2 if replicas >= 3 else 1,
                    "securityContext": POD_SECURITY,
                    "containerSecurityContext": CONTAINER_SECURITY,
                    "resources": {
                        "requests": {"cpu": "20m", "memory": "128Mi"},
                        "limits": {"cpu": "200m", "memory": "512Mi"},
                    },
                },
                "startupapicheck": {
                    "securityContext": POD_SECURITY,
                    "containerSecurityContext": CONTAINER_SECURITY,
                },
                "prometheus": {"enabled": True},
            },
            opts=self._in("cert-manager"),
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
            opts=self._in("ingress-nginx", depends_on=[issuer, ingress]),
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
                "podDisruptionBudget": self._pdb(),
                "serviceAccount": {
                    "name": service_account,
                    "annotations": {"eks.amazonaws.com/role-arn": role.arn},
                },
                "podSecurityContext": POD_SECURITY,
                "securityContext": CONTAINER_SECURITY,
                "resources": {
                    "requests": {"cpu": "50m", "memory": "128Mi"},
                    "limits": {"cpu": "500m", "memory": "512Mi"},
                },
                "webhook": {
                    "replicaCount": replicas,
                    "podDisruptionBudget": self._pdb(),
                    "podSecurityContext": POD_SECURITY,
                    "securityContext": CONTAINER_SECURITY,
                    "resources": {
                        "requests": {"cpu": "20m", "memory": "64Mi"},
                        "limits": {"cpu": "200m", "memory": "256Mi"},
                    },
                },
                "certController": {
                    "podSecurityContext": POD_SECURITY,
                    "securityContext": CONTAINER_SECURITY,
                    "resources": {
                        "requests": {"cpu": "20m", "memory": "64Mi"},
                        "limits": {"cpu": "200m", "memory": "256Mi"},
                    },
                },
            },
            opts=self._in("external-secrets"),
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

    def _account_guards(self) -> None:
        args, settings = self._args, self._args.settings
        child = pulumi.ResourceOptions(parent=self)
        if settings.security.guard_duty:
            detector = aws.guardduty.Detector(
                f"{self._name}-guardduty",
                enable=True,
                finding_publishing_frequency="FIFTEEN_MINUTES",
                opts=child,
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
        if settings.security.cloudtrail:
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
                opts=child,
            )

"""Tenant: one customer fenced into its own namespace (seed Sprint 10).

A tenant is one line in the stack's settings (name and tier). It gets a FencedNamespace
with its tier's quota, NetworkPolicies that admit nobody but itself, ingress-nginx and
Prometheus, a ServiceAccount for its agents, and an admin IAM role whose EKS access entry
is scoped to the tenant's namespace only.

The admin role is per stack (IAM names are global to the account, and the prod regions
share one): ``AgentFactoryTenant-<tenant>-<stack>``. Only the tenant's own principals may
assume it (``aws:PrincipalArn``), never any principal of the account that happens to hold
``sts:AssumeRole`` on ``*``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.context import AccountContext
from components.iam import bounded_name, policy_document, role_arn
from components.k8s.namespaces import FencedNamespace, Ingress, NamespaceSpec, Quota

TENANT_PREFIX = "tenant-"


@dataclass(frozen=True)
class TenantArgs:
    account: AccountContext
    # The stack's name: part of the admin role's (account-global) name.
    stack: str
    tenant: str
    tier: str
    quota: Quota
    cluster_name: pulumi.Input[str]
    cluster_arn: pulumi.Input[str]
    admin_role: str | None
    # Who may assume the admin role this component creates (role names, ARNs or ARN
    # patterns); unused when ``admin_role`` names an existing role.
    admin_principals: tuple[str, ...]
    data_egress: tuple[tuple[str, tuple[int, ...]], ...]
    common_labels: dict[str, str]
    k8s_provider: k8s.Provider


def tenant_namespace(tenant: str) -> str:
    return f"{TENANT_PREFIX}{tenant}"


def tenant_spec(args: TenantArgs) -> NamespaceSpec:
    return NamespaceSpec(
        name=tenant_namespace(args.tenant),
        quota=args.quota,
        labels={"agent-factory.io/tenant": args.tenant, "agent-factory.io/tier": args.tier},
        ingress=(Ingress(from_namespace="ingress-nginx"), Ingress(from_namespace="monitoring")),
        egress=args.data_egress,
        internet_https=True,
    )


def admin_role_name(tenant: str, stack: str) -> str:
    return bounded_name(f"AgentFactoryTenant-{tenant}-{stack}")


def assume_by_tenant(partition: str, account_id: str, principals: tuple[str, ...]) -> str:
    """Trust the account, but only the tenant's principals in it.

    A condition rather than the principals themselves: IAM rejects a trust policy that
    names a role that does not exist yet, and the condition takes ARN patterns (an IAM
    Identity Center permission set's role, for one).
    """
    return policy_document(
        [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "ArnLike": {
                        "aws:PrincipalArn": [
                            role_arn(principal, partition, account_id) for principal in principals
                        ]
                    }
                },
            }
        ]
    )


class Tenant(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    admin_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: TenantArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("agentfactory:platform:Tenant", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.k8s_provider)
        spec = tenant_spec(args)
        fenced = FencedNamespace(name, spec, args.common_labels, opts=on_cluster)
        k8s.core.v1.ServiceAccount(
            f"{name}-agents",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="tenant-agents",
                namespace=spec.name,
                labels={
                    **args.common_labels,
                    "app.kubernetes.io/name": "tenant-agents",
                    "agent-factory.io/tenant": args.tenant,
                },
            ),
            automount_service_account_token=False,
            opts=pulumi.ResourceOptions(
                parent=self, provider=args.k8s_provider, depends_on=[fenced]
            ),
        )
        account = args.account
        if args.admin_role is None:
            principals = args.admin_principals
            role = aws.iam.Role(
                f"{name}-admin",
                name=admin_role_name(args.tenant, args.stack),
                description=f"Admins of tenant {args.tenant}: namespace {spec.name} only",
                assume_role_policy=pulumi.Output.all(account.partition, account.account_id).apply(
                    lambda v: assume_by_tenant(v[0], v[1], principals)
                ),
                opts=child,
            )
            # Enough to build a kubeconfig; Kubernetes rights come from the access entry.
            aws.iam.RolePolicy(
                f"{name}-admin-describe",
                role=role.id,
                policy=pulumi.Output.from_input(args.cluster_arn).apply(
                    lambda arn: policy_document(
                        [{"Effect": "Allow", "Action": "eks:DescribeCluster", "Resource": arn}]
                    )
                ),
                opts=child,
            )
            principal: pulumi.Output[str] = role.arn
        else:
            configured = args.admin_role
            principal = pulumi.Output.all(account.partition, account.account_id).apply(
                lambda v: role_arn(configured, v[0], v[1])
            )
        entry = aws.eks.AccessEntry(
            f"{name}-access",
            cluster_name=args.cluster_name,
            principal_arn=principal,
            type="STANDARD",
            opts=child,
        )
        aws.eks.AccessPolicyAssociation(
            f"{name}-access-admin",
            cluster_name=args.cluster_name,
            principal_arn=entry.principal_arn,
            policy_arn=pulumi.Output.concat(
                "arn:", account.partition, ":eks::aws:cluster-access-policy/AmazonEKSAdminPolicy"
            ),
            access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(
                type="namespace", namespaces=[spec.name]
            ),
            opts=child,
        )
        self.namespace = fenced.namespace
        self.admin_role_arn = principal
        self.register_outputs({"namespace": self.namespace, "adminRoleArn": self.admin_role_arn})

"""CiIdentity: GitHub Actions' OIDC provider and the roles CI assumes instead of keys.

The provider (``token.actions.githubusercontent.com``) is one per account: the stack that
owns the account's globals creates it (dev, staging, prod; a secondary names it by ARN).
Roles, each trusted only for ``aud`` = sts.amazonaws.com and an exact ``sub``:

- **deploy** (per stack): the deploy workflow's job in the GitHub environment named after the
  stack (``repo:agent-factory/platform:environment:<stack>``). It may change only the
  services the program uses; IAM, EKS, S3 and Secrets Manager writes are limited to this
  stack's names, regional writes to the stack's region. It cannot change the CI roles
  themselves, create users or keys, or rewrite key policies: those stay with an SRE.
- **preview** (per stack): the PR preview and the drift job in ``<stack>-readonly``.
  Describe/Get/List of the same services, never object data, secret values or decryption.

Both have an EKS access entry on the stack's cluster: deploy with AmazonEKSClusterAdminPolicy
(it applies every Kubernetes object of the program), preview with AmazonEKSViewPolicy.
- **image push** (owner only): the platform's reusable image workflow
  (``job_workflow_ref`` = agent-factory/platform/.github/workflows/image.yml@refs/heads/main)
  called from the service repositories of ``supplyChain.imageRepositories`` on their
  ``imageRefs``; push to this region's ``agent-factory/*`` repositories only.

Trust on ``job_workflow_ref`` uses the GitHub claim keys AWS STS accepts since February 2026.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.context import AccountContext
from components.iam import bounded_name, policy_document, web_identity_trust_policy
from components.settings.supply import IMAGE_WORKFLOW, PLATFORM_REPOSITORY

ISSUER = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
IMAGE_PUSH_ROLE = "AgentFactoryImagePush"
IMAGE_WORKFLOW_REF = f"{PLATFORM_REPOSITORY}/{IMAGE_WORKFLOW}@refs/heads/main"
# IAM prefixes of the services the program creates resources in (tests compare them with
# every stack's plan). Written with generic verbs in the stack's region.
REGIONAL_SERVICES = (
    "autoscaling",
    "cloudtrail",
    "cloudwatch",
    "ec2",
    "ecr",
    "elasticache",
    "es",
    "events",
    "guardduty",
    "inspector2",
    "kafka",
    "logs",
    "rds",
    "sns",
)
# Written only through statements scoped to this stack's names (or global endpoints).
SCOPED_SERVICES = ("budgets", "ce", "eks", "iam", "kms", "route53", "s3", "secretsmanager")
WRITE_VERBS = (
    "Create*",
    "Delete*",
    "Update*",
    "Modify*",
    "Put*",
    "Tag*",
    "Untag*",
    "AddTags*",
    "RemoveTags*",
    "Associate*",
    "Disassociate*",
    "Attach*",
    "Detach*",
    "Authorize*",
    "Revoke*",
    "Allocate*",
    "Release*",
    "Replace*",
    "Enable*",
    "Disable*",
    "Set*",
    "Reboot*",
    "BatchDelete*",
    # A Transit Gateway accepts its peering attachments.
    "Accept*",
)
# Read actions per service where Get* or List* would include data (object contents, secret
# values, log events, image layers, instance passwords).
_NARROW_READS: Mapping[str, tuple[str, ...]] = {
    "s3": (
        "s3:GetBucket*",
        "s3:GetLifecycleConfiguration",
        "s3:GetReplicationConfiguration",
        "s3:GetEncryptionConfiguration",
        "s3:GetAccelerateConfiguration",
        "s3:GetIntelligentTieringConfiguration",
        "s3:GetMetricsConfiguration",
        "s3:GetInventoryConfiguration",
        "s3:GetAnalyticsConfiguration",
        "s3:ListBucket",
        "s3:ListAllMyBuckets",
    ),
    "secretsmanager": (
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetResourcePolicy",
        "secretsmanager:ListSecrets",
        "secretsmanager:ListSecretVersionIds",
    ),
    "logs": ("logs:Describe*", "logs:ListTagsForResource", "logs:ListTagsLogGroup"),
    "ecr": (
        "ecr:DescribeRepositories",
        "ecr:DescribeRegistry",
        "ecr:DescribeImages",
        "ecr:GetLifecyclePolicy",
        "ecr:GetRepositoryPolicy",
        "ecr:GetRegistryPolicy",
        "ecr:GetRegistryScanningConfiguration",
        "ecr:ListTagsForResource",
    ),
    "budgets": ("budgets:ViewBudget", "budgets:ListTagsForResource"),
    "ce": (
        "ce:GetAnomalyMonitors",
        "ce:GetAnomalySubscriptions",
        "ce:ListCostAllocationTags",
        "ce:ListTagsForResource",
    ),
    "ec2": (
        "ec2:Describe*",
        "ec2:GetManagedPrefixListEntries",
        "ec2:GetEbsEncryptionByDefault",
        "ec2:GetEbsDefaultKmsKeyId",
        "ec2:GetLaunchTemplateData",
    ),
}
# Actions neither role may have in any form: reading data, or minting long-lived keys.
DATA_AND_KEY_ACTIONS = (
    "s3:GetObject",
    "secretsmanager:GetSecretValue",
    "kms:Decrypt",
    "logs:GetLogEvents",
    "logs:FilterLogEvents",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchGetImage",
    "ec2:GetPasswordData",
    "iam:CreateUser",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
)


def read_actions() -> list[str]:
    services = sorted({*REGIONAL_SERVICES, *SCOPED_SERVICES})
    actions: list[str] = []
    for service in services:
        actions += _NARROW_READS.get(
            service, (f"{service}:Describe*", f"{service}:Get*", f"{service}:List*")
        )
    return actions


def github_trust(
    provider_arn: str, subjects: Sequence[str], workflow_ref: str | None = None
) -> str:
    """Only tokens for STS whose subject is one of ``subjects`` (and, for the push role,
    minted in the platform's image workflow) may assume the role."""
    claims = {} if workflow_ref is None else {"job_workflow_ref": workflow_ref}
    return web_identity_trust_policy(provider_arn, ISSUER, AUDIENCE, subjects, **claims)


def push_subjects(repositories: Sequence[str], refs: Sequence[str]) -> list[str]:
    return [f"repo:{repo}:ref:{ref}" for repo in repositories for ref in refs]


def push_statements(repository_arns: Sequence[str]) -> list[dict[str, Any]]:
    return [
        {
            # GetAuthorizationToken has no resource-level permissions.
            "Sid": "RegistryLogin",
            "Effect": "Allow",
            "Action": "ecr:GetAuthorizationToken",
            "Resource": "*",
        },
        {
            "Sid": "PushServiceImages",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability",
                "ecr:InitiateLayerUpload",
                "ecr:UploadLayerPart",
                "ecr:CompleteLayerUpload",
                "ecr:PutImage",
                # cosign reads the manifest it signs and pushes the signature beside it.
                "ecr:BatchGetImage",
                "ecr:DescribeImages",
            ],
            "Resource": list(repository_arns),
        },
    ]


def preview_statements() -> list[dict[str, Any]]:
    return [
        {"Sid": "ReadConfiguration", "Effect": "Allow", "Action": read_actions(), "Resource": "*"}
    ]


@dataclass(frozen=True)
class DeployScope:
    """The names a stack's deploy role may write (plain values)."""

    partition: str
    account_id: str
    region: str
    stack: str
    cluster_name: str
    bucket_arns: tuple[str, ...]
    dns_suffix: str = "amazonaws.com"
    # A secondary accepts its Transit Gateway peering in the primary's region.
    primary_region: str | None = None


def deploy_statements(scope: DeployScope) -> list[dict[str, Any]]:
    p, account, region = scope.partition, scope.account_id, scope.region
    iam = f"arn:{p}:iam::{account}"
    eks = f"arn:{p}:eks:{region}:{account}"
    in_region = {"StringEquals": {"aws:RequestedRegion": region}}
    return [
        *preview_statements(),
        {
            "Sid": "RegionalWrites",
            "Effect": "Allow",
            "Action": [f"{s}:{verb}" for s in REGIONAL_SERVICES for verb in WRITE_VERBS],
            "Resource": "*",
            "Condition": in_region,
        },
        {
            # Key ids are random: writes on every key of the region, but no grants and no
            # key policy changes (the policies are reviewed with an SRE's apply).
            "Sid": "KeyLifecycle",
            "Effect": "Allow",
            "Action": [
                "kms:CreateKey",
                "kms:CreateAlias",
                "kms:UpdateAlias",
                "kms:DeleteAlias",
                "kms:EnableKeyRotation",
                "kms:UpdateKeyDescription",
                "kms:TagResource",
                "kms:UntagResource",
                "kms:ScheduleKeyDeletion",
            ],
            "Resource": "*",
            "Condition": in_region,
        },
        {
            # Pulumi names roles and policies after their resources: <stack>-...; tenant
            # admin roles AgentFactoryTenant-<tenant>-<stack>. Never the CI roles.
            "Sid": "OwnRoles",
            "Effect": "Allow",
            "Action": [
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:UpdateRole",
                "iam:UpdateRoleDescription",
                "iam:UpdateAssumeRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:AttachRolePolicy",
                "iam:DetachRolePolicy",
                "iam:PassRole",
                "iam:CreatePolicy",
                "iam:DeletePolicy",
                "iam:CreatePolicyVersion",
                "iam:DeletePolicyVersion",
                "iam:TagPolicy",
                "iam:UntagPolicy",
                "iam:CreateInstanceProfile",
                "iam:DeleteInstanceProfile",
                "iam:AddRoleToInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
                "iam:TagInstanceProfile",
            ],
            "Resource": [
                f"{iam}:role/{scope.stack}-*",
                f"{iam}:role/AgentFactoryTenant-*-{scope.stack}",
                f"{iam}:policy/{scope.stack}-*",
                f"{iam}:instance-profile/{scope.stack}-*",
            ],
        },
        {
            "Sid": "ClusterIdentityProvider",
            "Effect": "Allow",
            "Action": [
                "iam:CreateOpenIDConnectProvider",
                "iam:DeleteOpenIDConnectProvider",
                "iam:UpdateOpenIDConnectProviderThumbprint",
                "iam:AddClientIDToOpenIDConnectProvider",
                "iam:TagOpenIDConnectProvider",
                "iam:UntagOpenIDConnectProvider",
            ],
            "Resource": f"{iam}:oidc-provider/oidc.eks.{region}.{scope.dns_suffix}/id/*",
        },
        {
            # ECR replication and enhanced scanning create their service-linked roles.
            "Sid": "RegistryServiceLinkedRoles",
            "Effect": "Allow",
            "Action": "iam:CreateServiceLinkedRole",
            "Resource": [
                f"{iam}:role/aws-service-role/replication.ecr.amazonaws.com/"
                "AWSServiceRoleForECRReplication",
                f"{iam}:role/aws-service-role/inspector2.amazonaws.com/"
                "AWSServiceRoleForAmazonInspector2",
            ],
        },
        {
            "Sid": "OwnCluster",
            "Effect": "Allow",
            "Action": [f"eks:{verb}" for verb in WRITE_VERBS],
            "Resource": [
                f"{eks}:cluster/{scope.cluster_name}",
                f"{eks}:nodegroup/{scope.cluster_name}/*",
                f"{eks}:addon/{scope.cluster_name}/*",
                f"{eks}:access-entry/{scope.cluster_name}/*",
                f"{eks}:podidentityassociation/{scope.cluster_name}/*",
            ],
        },
        {
            "Sid": "OwnBuckets",
            "Effect": "Allow",
            "Action": [f"s3:{verb}" for verb in ("CreateBucket", "DeleteBucket*", "Put*")],
            "Resource": list(scope.bucket_arns),
        },
        {
            # The deploy reads back the values it writes (SecretVersion); this stack's only.
            "Sid": "OwnSecrets",
            "Effect": "Allow",
            "Action": [
                *(f"secretsmanager:{verb}" for verb in WRITE_VERBS),
                "secretsmanager:GetSecretValue",
            ],
            "Resource": (
                f"arn:{p}:secretsmanager:{region}:{account}:secret:{scope.cluster_name}/*"
            ),
        },
        {
            "Sid": "Dns",
            "Effect": "Allow",
            "Action": [f"route53:{verb}" for verb in ("Create*", "Delete*", "Change*", "Update*")],
            "Resource": "*",
        },
        {
            # Budgets is a global API: this stack's budget by name, not by region.
            "Sid": "OwnBudget",
            "Effect": "Allow",
            "Action": ["budgets:ModifyBudget", "budgets:TagResource", "budgets:UntagResource"],
            "Resource": f"arn:{p}:budgets::{account}:budget/*-{scope.stack}-monthly",
        },
        {
            # Anomaly monitors and subscriptions get random ids; tag activation is per account.
            "Sid": "CostWatchers",
            "Effect": "Allow",
            "Action": [
                "ce:CreateAnomalyMonitor",
                "ce:UpdateAnomalyMonitor",
                "ce:DeleteAnomalyMonitor",
                "ce:CreateAnomalySubscription",
                "ce:UpdateAnomalySubscription",
                "ce:DeleteAnomalySubscription",
                "ce:UpdateCostAllocationTagsStatus",
                "ce:TagResource",
                "ce:UntagResource",
            ],
            "Resource": "*",
        },
        *(
            [
                {
                    # The accepting side of this secondary's peering, routes and association
                    # live in the primary's region (components/multiregion/peering.py).
                    "Sid": "PeeringInPrimaryRegion",
                    "Effect": "Allow",
                    "Action": [
                        "ec2:AcceptTransitGatewayPeeringAttachment",
                        "ec2:AssociateTransitGatewayRouteTable",
                        "ec2:DisassociateTransitGatewayRouteTable",
                        "ec2:CreateTransitGatewayRoute",
                        "ec2:DeleteTransitGatewayRoute",
                        "ec2:ReplaceTransitGatewayRoute",
                        "ec2:DeleteTransitGatewayPeeringAttachment",
                        "ec2:CreateTags",
                        "ec2:DeleteTags",
                    ],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:RequestedRegion": scope.primary_region}},
                }
            ]
            if scope.primary_region
            else []
        ),
    ]


@dataclass(frozen=True)
class CiIdentityArgs:
    account: AccountContext
    stack: str
    cluster_name: str
    # The cluster's name (its output): the deploy and preview roles get access entries.
    cluster: pulumi.Input[str]
    # True in the stack that owns the account's globals: provider and image push role.
    owns_account: bool
    bucket_arns: Sequence[pulumi.Input[str]]
    # The registry's repository names in this region (the push role's resources).
    repository_names: Sequence[str]
    image_repositories: Sequence[str]
    image_refs: Sequence[str]
    # A secondary's primary region (its peering's accepting side), else None.
    primary_region: pulumi.Input[str] | None = None


class CiIdentity(pulumi.ComponentResource):
    provider_arn: pulumi.Output[str]
    deploy_role_arn: pulumi.Output[str]
    preview_role_arn: pulumi.Output[str]
    # Only in the stack that owns the account's globals.
    image_push_role_arn: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: CiIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:CiIdentity", name, None, opts)
        account = args.account
        child = pulumi.ResourceOptions(parent=self)
        if args.owns_account:
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-github",
                url=f"https://{ISSUER}",
                client_id_lists=[AUDIENCE],
                opts=child,
            )
            self.provider_arn = provider.arn
        else:
            self.provider_arn = pulumi.Output.concat(
                "arn:", account.partition, ":iam::", account.account_id, ":oidc-provider/", ISSUER
            )
        provider_arn = self.provider_arn

        def role(
            suffix: str,
            role_name: str,
            description: str,
            trust: pulumi.Output[str],
            statements: pulumi.Input[list[Any]],
        ) -> aws.iam.Role:
            created = aws.iam.Role(
                f"{name}-{suffix}",
                name=role_name,
                description=description,
                assume_role_policy=trust,
                max_session_duration=3600,
                opts=child,
            )
            aws.iam.RolePolicy(
                f"{name}-{suffix}-policy",
                role=created.id,
                policy=pulumi.Output.from_input(statements).apply(policy_document),
                opts=child,
            )
            return created

        repo = PLATFORM_REPOSITORY
        scope = pulumi.Output.all(
            account.partition,
            account.account_id,
            account.dns_suffix,
            args.primary_region,
            *args.bucket_arns,
        ).apply(
            lambda v: DeployScope(
                partition=v[0],
                account_id=v[1],
                region=account.region,
                stack=args.stack,
                cluster_name=args.cluster_name,
                bucket_arns=tuple(v[4:]),
                dns_suffix=v[2],
                primary_region=v[3],
            )
        )
        deploy = role(
            "deploy",
            bounded_name(f"{args.cluster_name}-ci-deploy"),
            f"GitHub Actions: pulumi up of {args.stack} (environment {args.stack})",
            provider_arn.apply(
                lambda arn: github_trust(arn, [f"repo:{repo}:environment:{args.stack}"])
            ),
            scope.apply(deploy_statements),
        )
        preview = role(
            "preview",
            bounded_name(f"{args.cluster_name}-ci-preview"),
            f"GitHub Actions: pulumi preview and drift of {args.stack} "
            f"(environment {args.stack}-readonly)",
            provider_arn.apply(
                lambda arn: github_trust(arn, [f"repo:{repo}:environment:{args.stack}-readonly"])
            ),
            preview_statements(),
        )
        # In the cluster: deploy applies every object (cluster admin); preview reads them.
        for suffix, created, policy in (
            ("deploy", deploy, "AmazonEKSClusterAdminPolicy"),
            ("preview", preview, "AmazonEKSViewPolicy"),
        ):
            entry = aws.eks.AccessEntry(
                f"{name}-{suffix}-access",
                cluster_name=args.cluster,
                principal_arn=created.arn,
                type="STANDARD",
                opts=child,
            )
            aws.eks.AccessPolicyAssociation(
                f"{name}-{suffix}-access-policy",
                cluster_name=args.cluster,
                principal_arn=created.arn,
                policy_arn=pulumi.Output.concat(
                    "arn:", account.partition, ":eks::aws:cluster-access-policy/", policy
                ),
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]),
            )
        self.deploy_role_arn = deploy.arn
        self.preview_role_arn = preview.arn
        self.image_push_role_arn = None
        if args.owns_account:
            subjects = push_subjects(args.image_repositories, args.image_refs)
            push = role(
                "image-push",
                IMAGE_PUSH_ROLE,
                "GitHub Actions: the platform's image workflow pushes the services' images",
                provider_arn.apply(lambda arn: github_trust(arn, subjects, IMAGE_WORKFLOW_REF)),
                pulumi.Output.all(account.partition, account.account_id).apply(
                    lambda v: push_statements(
                        [
                            f"arn:{v[0]}:ecr:{account.region}:{v[1]}:repository/{repository}"
                            for repository in args.repository_names
                        ]
                    )
                ),
            )
            self.image_push_role_arn = push.arn
        self.register_outputs(
            {
                "githubOidcProviderArn": self.provider_arn,
                "deployRoleArn": self.deploy_role_arn,
                "previewRoleArn": self.preview_role_arn,
                "imagePushRoleArn": self.image_push_role_arn,
            }
        )

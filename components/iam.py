"""IAM documents shared by components (pure functions) and the IRSA role builder."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws


def irsa_trust_policy(
    oidc_provider_arn: str, oidc_provider_url: str, namespace: str, service_account: str
) -> str:
    """Trust policy letting exactly one Kubernetes ServiceAccount assume a role (IRSA)."""
    issuer = oidc_provider_url.removeprefix("https://")
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": oidc_provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                            f"{issuer}:aud": "sts.amazonaws.com",
                        }
                    },
                }
            ],
        }
    )


def service_trust_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def policy_document(statements: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def bounded_name(name: str, limit: int = 64) -> str:
    """``name`` within an IAM name limit (roles: 64): a longer one keeps its start and gets
    a hash of the whole, so two long names never collapse into one."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - len(digest) - 1]}-{digest}"


def role_arn(role: str, partition: str, account_id: str) -> str:
    """Settings accept a role name (resolved in the stack's account) or a full ARN."""
    if role.startswith("arn:"):
        return role
    return f"arn:{partition}:iam::{account_id}:role/{role}"


@dataclass(frozen=True)
class OidcProvider:
    """The cluster's OIDC provider, as IRSA trust policies need it."""

    arn: pulumi.Input[str]
    url: pulumi.Input[str]


def irsa_role(
    name: str,
    oidc: OidcProvider,
    namespace: str,
    service_account: str,
    *,
    parent: pulumi.Resource,
    statements: pulumi.Input[list[Any]] | None = None,
) -> aws.iam.Role:
    """A role only ``namespace/service_account`` can assume, with an optional inline policy.

    Creates ``<name>-role`` and ``<name>-policy`` as children of ``parent``.
    """
    role = aws.iam.Role(
        f"{name}-role",
        description=f"IRSA for {namespace}/{service_account}",
        assume_role_policy=pulumi.Output.all(oidc.arn, oidc.url).apply(
            lambda v: irsa_trust_policy(v[0], v[1], namespace, service_account)
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    if statements is not None:
        aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.from_input(statements).apply(policy_document),
            opts=pulumi.ResourceOptions(parent=parent),
        )
    return role

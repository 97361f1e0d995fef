"""IAM documents shared by components (pure functions) and the IRSA role (:class:`IrsaRole`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
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


def web_identity_trust_policy(
    provider_arn: str, issuer: str, audience: str, subjects: Sequence[str], **claims: str
) -> str:
    """Tokens of an OIDC provider other than a cluster's (GitHub Actions): ``aud`` pinned,
    ``sub`` one of ``subjects`` (StringLike when one has a wildcard), and each further claim
    ``<issuer>:<claim>`` equal to its value."""
    equals: dict[str, Any] = {f"{issuer}:aud": audience}
    equals.update({f"{issuer}:{claim}": value for claim, value in claims.items()})
    condition: dict[str, dict[str, Any]] = {"StringEquals": equals}
    if any("*" in subject for subject in subjects):
        condition["StringLike"] = {f"{issuer}:sub": list(subjects)}
    else:
        equals[f"{issuer}:sub"] = list(subjects)
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": condition,
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


class IrsaRole:
    """A role only ``namespace/service_account`` can assume (IRSA), with an optional inline
    policy, and the annotation that binds the service account to it.

    A plain class, not a component: the role (``<name>-role``) and its policy
    (``<name>-policy``) are children of ``parent``, so roles that existed before it keep their
    URNs. ``aliases`` carry a role's old identity when it moves to another parent.
    """

    role: aws.iam.Role
    arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        oidc: OidcProvider,
        namespace: str,
        service_account: str,
        *,
        parent: pulumi.Resource,
        statements: pulumi.Input[list[Any]] | None = None,
        described: bool = True,
        aliases: Sequence[pulumi.Alias] = (),
    ) -> None:
        # described=False: the roles first created without a description keep having none
        # (adding one now would be an update for nothing).
        opts = pulumi.ResourceOptions(parent=parent, aliases=list(aliases))
        self.role = aws.iam.Role(
            f"{name}-role",
            description=f"IRSA for {namespace}/{service_account}" if described else None,
            assume_role_policy=pulumi.Output.all(oidc.arn, oidc.url).apply(
                lambda v: irsa_trust_policy(v[0], v[1], namespace, service_account)
            ),
            opts=opts,
        )
        if statements is not None:
            aws.iam.RolePolicy(
                f"{name}-policy",
                role=self.role.id,
                policy=pulumi.Output.from_input(statements).apply(policy_document),
                opts=opts,
            )
        self.arn = self.role.arn

    @property
    def annotations(self) -> dict[str, pulumi.Input[str]]:
        """The service account's annotations: EKS injects the role's credentials into its pods."""
        return {"eks.amazonaws.com/role-arn": self.arn}

"""IAM documents shared by components (pure functions: easy to test and to read)."""

from __future__ import annotations

import json
from typing import Any


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


def role_arn(role: str, partition: str, account_id: str) -> str:
    """Settings accept a role name (resolved in the stack's account) or a full ARN."""
    if role.startswith("arn:"):
        return role
    return f"arn:{partition}:iam::{account_id}:role/{role}"

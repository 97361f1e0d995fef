"""Secrets Manager entries whose values a person sets out of band (integration keys, SSO
client secrets).

Each entry starts with a placeholder that names its runbook, so External Secrets has
something to sync and the pods that mount it start; the real value is the prerequisite the
preview prints, and ``ignore_changes`` keeps Pulumi from putting the placeholder back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.prerequisites import Prerequisite


@dataclass(frozen=True)
class OutOfBandSecret:
    secret: aws.secretsmanager.Secret
    # What an ExternalSecret of the entry waits for: the entry has a value to sync.
    placeholder: aws.secretsmanager.SecretVersion
    prerequisite: Prerequisite


def placeholder_value(runbook: str) -> str:
    """Not a key, not a URL: whatever reads it fails loudly and names the runbook."""
    return f"UNSET: see {runbook}"


@dataclass(frozen=True)
class SecretSpec:
    """The entry ``<cluster>/<path>``: a JSON object with ``properties`` holding
    ``purpose`` (how the preview's prerequisite describes it)."""

    path: str
    properties: Sequence[str]
    purpose: str
    runbook: str


def out_of_band_secret(
    resource_name: str,
    spec: SecretSpec,
    *,
    cluster_name: str,
    region: str,
    kms_key_arn: pulumi.Input[str],
    protect: bool,
    parent: pulumi.Resource,
) -> OutOfBandSecret:
    entry = f"{cluster_name}/{spec.path}"
    secret = aws.secretsmanager.Secret(
        resource_name,
        name=entry,
        description=f"JSON with keys {', '.join(spec.properties)}; values set out of band",
        kms_key_id=kms_key_arn,
        recovery_window_in_days=30 if protect else 7,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    placeholder = aws.secretsmanager.SecretVersion(
        f"{resource_name}-placeholder",
        secret_id=secret.id,
        secret_string=json.dumps(dict.fromkeys(spec.properties, placeholder_value(spec.runbook))),
        opts=pulumi.ResourceOptions(parent=parent, ignore_changes=["secret_string"]),
    )
    value = json.dumps({key: f"<{key}>" for key in spec.properties})
    prerequisite = Prerequisite(
        what=f"Secrets Manager entry {entry} holds {spec.purpose} (until then it holds "
        f"placeholders and what reads them fails; see {spec.runbook})",
        how=(
            f"aws secretsmanager put-secret-value --region {region} "
            f"--secret-id {entry} --secret-string '{value}'"
        ),
        secret=entry,
    )
    return OutOfBandSecret(secret, placeholder, prerequisite)

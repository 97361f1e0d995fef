"""``agent-factory:security.admission``: Kyverno, the in-cluster admission policies."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from components.settings.base import SettingsModel

IMAGE_WORKFLOW = (
    "https://github.com/agent-factory/platform/.github/workflows/image.yml@refs/heads/main"
)
GITHUB_ACTIONS_ISSUER = "https://token.actions.githubusercontent.com"
_HTTPS = re.compile(r"^https://[^\s]+$")


class AdmissionSettings(SettingsModel):
    """Kyverno and its policies: signed, digest-pinned images and PSS restricted in the
    greenlang-* and tenant namespaces."""

    enabled: bool = Field(
        True, description="Install Kyverno and enforce its policies in the workload namespaces."
    )
    enforce: bool = Field(
        True,
        description="Reject what the policies refuse (Enforce); false only reports it (Audit), "
        "the break-glass step of docs/runbooks/kyverno-break-glass.md.",
    )
    signer_subject: str = Field(
        IMAGE_WORKFLOW,
        description="Certificate identity (cosign keyless subject) that must have signed the "
        "project's images: the image workflow of this repository at refs/heads/main.",
    )
    signer_issuer: str = Field(
        GITHUB_ACTIONS_ISSUER,
        description="OIDC issuer of the signing certificate (GitHub Actions).",
    )

    @field_validator("signer_subject", "signer_issuer")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not _HTTPS.match(value):
            raise ValueError(f"'{value}' is not an https URL")
        return value

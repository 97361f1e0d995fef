"""``agent-factory:supplyChain``: where the services' images live and who may put them there
(docs/supply-chain.md)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator

from components.settings.base import SettingsModel

# The platform repository: its workflows assume the preview and deploy roles, and its
# reusable image workflow is the only one allowed to push (job_workflow_ref).
PLATFORM_REPOSITORY = "agent-factory/platform"
IMAGE_WORKFLOW = ".github/workflows/image.yml"
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_REF = re.compile(r"^refs/(heads|tags)/[A-Za-z0-9_./*-]+$")


class SupplyChainSettings(SettingsModel):
    """Registries, their scanning and lifecycle, and the GitHub identities of CI."""

    image_repositories: list[str] = Field(
        default_factory=lambda: [
            "agent-factory/agent-factory",
            "agent-factory/agent-registry",
            "agent-factory/agent-runtime",
            "agent-factory/api-gateway",
            "agent-factory/worker",
        ],
        description="GitHub repositories (owner/name) whose calls of the platform's image "
        "workflow may push to the registry (the push role's trust).",
    )
    image_refs: list[str] = Field(
        default_factory=lambda: ["refs/heads/main", "refs/tags/v*"],
        description="Git refs of those repositories that may push (the token's ref claim).",
    )
    scanning: Literal["enhanced", "basic"] = Field(
        "enhanced",
        description="Registry scanning: enhanced (Amazon Inspector, continuous rescans of "
        "the agent-factory/* repositories) or basic (ECR scan on push only).",
    )
    images_kept: Annotated[int, Field(ge=30, le=10000)] = Field(
        500,
        description="Tagged images (including their signature and SBOM tags) kept per "
        "repository; older ones expire.",
    )
    untagged_expire_days: Annotated[int, Field(ge=1, le=365)] = Field(
        14, description="Days after which an untagged manifest (a superseded build) expires."
    )

    @field_validator("image_repositories")
    @classmethod
    def _check_repositories(cls, value: list[str]) -> list[str]:
        for repository in value:
            if not _REPOSITORY.match(repository):
                raise ValueError(f"'{repository}' is not a GitHub repository owner/name")
        return value

    @field_validator("image_refs")
    @classmethod
    def _check_refs(cls, value: list[str]) -> list[str]:
        for ref in value:
            if not _REF.match(ref):
                raise ValueError(f"'{ref}' is not a git ref like refs/heads/main or refs/tags/v*")
        return value

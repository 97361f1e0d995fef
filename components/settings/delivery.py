"""``agent-factory:delivery``: Argo CD, which delivers the services' chart from git
(docs/delivery.md): the repository it may read, who may do what, and when prod syncs."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from components.settings.base import SettingsModel

_SCHEDULE = re.compile(r"^(\S+\s+){4}\S+$")
_DURATION = re.compile(r"^\d+[hm]$")


class SyncWindow(SettingsModel):
    """An Argo CD ``allow`` window: automated syncs of prod run only inside one."""

    schedule: str = Field(description="Cron expression of the window's start (UTC).")
    duration: str = Field(description="How long it stays open, e.g. 3h or 90m.")

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, value: str) -> str:
        if not _SCHEDULE.match(value.strip()):
            raise ValueError(f"'{value}' is not a five-field cron expression")
        return value.strip()

    @field_validator("duration")
    @classmethod
    def _check_duration(cls, value: str) -> str:
        if not _DURATION.match(value):
            raise ValueError(f"'{value}' is not a duration like 3h or 90m")
        return value


class DeliverySettings(SettingsModel):
    """Argo CD in this stack's cluster."""

    repo_url: str = Field(
        "https://github.com/agent-factory/platform.git",
        description="The only git repository Argo CD may deliver from (this repository).",
    )
    target_revision: str = Field("main", description="Branch the Applications follow.")
    oidc_issuer: str = Field(
        "https://greenlang.okta.com", description="https URL of Argo CD's OIDC issuer."
    )
    oidc_client_id: str = Field("agent-factory-argocd", description="Argo CD's OIDC client id.")
    sre_groups: list[str] = Field(
        default_factory=lambda: ["platform-sre"],
        description="OIDC groups that are Argo CD admins.",
    )
    developer_groups: list[str] = Field(
        default_factory=lambda: ["agent-factory-developers"],
        description="OIDC groups that read every Application and, outside prod, sync them.",
    )
    sync_windows: list[SyncWindow] = Field(
        # Plain data, validated into SyncWindows: the config reference prints it.
        default_factory=lambda: [{"schedule": "0 14 * * 1-4", "duration": "3h"}],
        validate_default=True,
        description="prod only: when automated syncs may run (UTC); outside them a change "
        "waits, or an SRE syncs by hand.",
    )

    @field_validator("repo_url")
    @classmethod
    def _check_repo(cls, value: str) -> str:
        url = urlsplit(value)
        if url.scheme != "https" or not url.hostname or not url.path.endswith(".git"):
            raise ValueError(f"'{value}' must be an https git URL ending in .git")
        return value

    @field_validator("oidc_issuer")
    @classmethod
    def _check_issuer(cls, value: str) -> str:
        url = urlsplit(value)
        if url.scheme != "https" or not url.hostname:
            raise ValueError(f"'{value}' must be an https issuer URL with a host")
        return value.rstrip("/")

    @field_validator("sre_groups")
    @classmethod
    def _check_admins(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one group must administer Argo CD")
        return value

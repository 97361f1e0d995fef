"""``agent-factory:backups``: Velero's Kubernetes state backups (seed Sprint 9)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, field_validator

from components.settings.base import SettingsModel

# Five cron fields, each digits, '*', ranges, lists and steps (what Velero's parser takes).
_CRON_FIELD = r"(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*"
_CRON = re.compile(rf"^{_CRON_FIELD}( {_CRON_FIELD}){{4}}$")


class BackupsSettings(SettingsModel):
    """Velero: a Schedule of whole-cluster backups with CSI volume snapshots, kept in the
    stack's backups bucket under ``velero/``."""

    velero: bool = Field(True, description="Install Velero and its backup Schedule.")
    schedule: str = Field(
        "0 */6 * * *", description="Cron (UTC) of the Velero Schedule; the seed asks every 6 hours."
    )
    retention_days: Annotated[int, Field(ge=1, le=3650)] = Field(
        30,
        description="Days a Velero backup is kept (its TTL); below "
        "dataStores.storage.backupsGlacierAfterDays, since Velero cannot read archived objects.",
    )

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, value: str) -> str:
        if not _CRON.match(value):
            raise ValueError(f"'{value}' is not a five-field cron like 0 */6 * * *")
        return value

"""``agent-factory:multiRegion``: this stack's part in the multi-region deployment."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from components.settings.base import DOMAIN, KeyedError, SettingsModel

# A Pulumi stack name, or organization/project/stack for a stack in another project.
_STACK_NAME = re.compile(r"^([A-Za-z0-9_.-]+/){0,2}[A-Za-z0-9_.-]{1,100}$")
_HEALTH_PATH = re.compile(r"^/[A-Za-z0-9/._~-]*$")


def _stack_name(value: str) -> str:
    if not _STACK_NAME.match(value):
        raise ValueError(f"'{value}' is not a stack name like prod or acme/agent-factory/prod")
    return value


StackName = Annotated[str, AfterValidator(_stack_name)]


class StandbySettings(SettingsModel):
    """A warm standby secondary: deployed, replicating, serving, but smaller until promoted.

    Promotion removes this block (docs/runbooks/dr-region-failure.md), which brings every
    size back to the stack's active values in one ``pulumi up``.
    """

    node_pool_min_percent: Annotated[int, Field(ge=0, le=100)] = Field(
        25,
        description="Each node pool's minSize in standby, as a percent of its active "
        "minSize (rounded up; a pool with a minimum keeps at least one node).",
    )
    min_replicas_percent: Annotated[int, Field(ge=0, le=100)] = Field(
        25,
        description="Each service workload's autoscaling.minReplicas in standby, as a "
        "percent of the chart's value for the environment (rounded up, never below its "
        "PodDisruptionBudget's minAvailable + 1); the maxima stay.",
    )
    cache_replicas_per_shard: Annotated[int, Field(ge=0, le=5)] | None = Field(
        None,
        description="Cache replicas per shard in standby (added online at promotion); "
        "default the active count. Prod's policy wants Multi-AZ caches, which need one.",
    )
    cache_node_type: str | None = Field(
        None,
        description="Cache node type in standby (scaled up online at promotion); default "
        "the active type.",
    )
    kafka_broker_instance_type: str | None = Field(
        None,
        description="MSK broker type in standby (a rolling broker update at promotion); "
        "default the active type.",
    )


class MultiRegionSettings(SettingsModel):
    """This stack's part in the multi-region deployment; absent means a single-region stack.

    The primary owns the writer database, the hosted zone and S3 replication; each
    secondary holds a cross-region replica and its own regional copy of everything else.
    """

    role: Literal["primary", "secondary"] = Field(description="This stack's role.")
    primary_stack: StackName | None = Field(
        None,
        description="Secondary: the stack it follows (e.g. prod), read with a StackReference; "
        "the secondary also serves the tenants of that stack's file.",
    )
    secondary_stacks: list[StackName] = Field(
        default_factory=list,
        description="Primary: the stacks that receive S3 replicas; one not deployed yet is "
        "skipped.",
    )
    api_hostname: str | None = Field(
        None, description="Global API hostname; default api.<security.domain>."
    )
    health_check_path: str = Field(
        "/healthz",
        description="HTTP path Route 53 requests through this region's ingress to call the "
        "region healthy.",
    )
    # Off by default: active-active regions need a writable cache each.
    cache_global_datastore: bool = Field(
        False,
        description="ElastiCache Global Datastore: secondaries become read-only members of "
        "the primary's cache.",
    )
    promote_database: bool = Field(
        False,
        description="Secondary failover switch: its database replica becomes a standalone writer.",
    )
    # One region is enough; it is the region the runbook fails over to.
    replicate_backups: bool = Field(
        False,
        description="Secondary: also keep copies of the primary's automated backups "
        "(snapshots and transaction logs) here, for a point-in-time restore that a replica "
        "cannot give after a bad write.",
    )

    transit_gateway_asn: int = Field(
        64512,
        description="Private ASN of this region's Transit Gateway (64512-65534 or "
        "4200000000-4294967294), different in every region of the deployment.",
    )

    standby: StandbySettings | None = Field(
        None,
        description="Secondary only: run as a warm standby with the sizes given here; "
        "removing the block is the scale-up step of a failover.",
    )

    @field_validator("transit_gateway_asn")
    @classmethod
    def _check_asn(cls, value: int) -> int:
        if not (64512 <= value <= 65534 or 4200000000 <= value <= 4294967294):
            raise ValueError(f"{value} is not a private ASN (64512-65534, 4200000000-4294967294)")
        return value

    @field_validator("api_hostname")
    @classmethod
    def _check_hostname(cls, value: str | None) -> str | None:
        if value is not None and not DOMAIN.match(value):
            raise ValueError(f"'{value}' is not a DNS name like api.greenlang.ai")
        return value

    @field_validator("health_check_path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if not _HEALTH_PATH.match(value) or len(value) > 255:
            raise ValueError(f"'{value}' is not an HTTP path like /healthz")
        return value

    @model_validator(mode="after")
    def _check_role(self) -> MultiRegionSettings:
        if self.role == "secondary":
            if self.primary_stack is None:
                raise KeyedError(
                    "primaryStack",
                    "a secondary region needs the stack it replicates from (e.g. prod)",
                )
            if self.secondary_stacks:
                raise KeyedError("secondaryStacks", "only the primary lists secondaries")
            if self.standby is not None and self.promote_database:
                raise KeyedError(
                    "standby",
                    "a promoted secondary is the writer: remove standby when promoting",
                )
        else:
            if self.primary_stack is not None:
                raise KeyedError("primaryStack", "the primary does not replicate from a stack")
            if self.promote_database:
                raise KeyedError("promoteDatabase", "only a secondary's replica can be promoted")
            if self.replicate_backups:
                raise KeyedError("replicateBackups", "only a secondary keeps the primary's backups")
            if self.standby is not None:
                raise KeyedError("standby", "only a secondary may run as a warm standby")
            if len(set(self.secondary_stacks)) != len(self.secondary_stacks):
                raise KeyedError("secondaryStacks", "names a stack twice")
        return self

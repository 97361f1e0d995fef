"""``agent-factory:services``: the Agent Factory workloads the in-repo chart deploys
(``charts/agent-factory``): which image each runs, on which pool, and where they may call out.
"""

from __future__ import annotations

import ipaddress
import re

from pydantic import Field, field_validator

from components.settings.base import SettingsModel

# The chart's workloads (charts/agent-factory/values.yaml). The seed gives each a node pool
# of its name, except the registry, which shares the agent-factory pool.
WORKLOADS = ("agent-factory", "agent-registry", "agent-runtime", "api-gateway", "worker")
_SEED_POOLS = {"agent-registry": "agent-factory"}
# The Claude API's published inbound ranges (platform.claude.com/docs/en/api/ip-addresses).
ANTHROPIC_API_CIDRS = ("160.79.104.0/23", "153.61.224.0/22")

_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_REGISTRY = re.compile(r"^[a-z0-9.-]+(:\d+)?(/[a-z0-9._-]+)*$")


class ImageSettings(SettingsModel):
    """One image, by tag and digest: the tag says what it is, the digest what runs."""

    tag: str = Field(description="Release tag, e.g. 1.4.2 (never latest).")
    digest: str = Field(description="sha256 digest the tag pointed at when it was promoted.")

    @field_validator("tag")
    @classmethod
    def _check_tag(cls, value: str) -> str:
        if not _TAG.match(value):
            raise ValueError(f"'{value}' is not an image tag")
        if value == "latest":
            raise ValueError("'latest' moves under running pods; pin a release tag")
        return value

    @field_validator("digest")
    @classmethod
    def _check_digest(cls, value: str) -> str:
        if not _DIGEST.match(value):
            raise ValueError(f"'{value}' is not a digest like sha256:<64 hex digits>")
        return value


class ServicesSettings(SettingsModel):
    """The services' release in this stack. A secondary region runs its primary's images."""

    registry: str | None = Field(
        None,
        description="Registry host and path the images come from; default this account's "
        "ECR in the stack's region (<account>.dkr.ecr.<region>.amazonaws.com).",
    )
    images: dict[str, ImageSettings] = Field(
        default_factory=dict,
        description="Workload -> image tag and digest, one entry per workload "
        f"({', '.join(WORKLOADS)}); set by the promotion pull request.",
    )
    pools: dict[str, str] = Field(
        default_factory=dict,
        description="Workload -> node pool it runs on; default the pool of its own name "
        "(agent-registry: agent-factory).",
    )
    llm_egress_cidrs: list[str] = Field(
        default_factory=lambda: list(ANTHROPIC_API_CIDRS),
        description="Public CIDRs the LLM-calling workloads may reach on 443 (the "
        "providers' published API ranges); nothing else on the internet is allowed.",
    )
    kafka_topic: str = Field("agent-tasks", description="Topic the worker consumes.")
    kafka_consumer_group: str = Field(
        "agent-worker", description="The worker's consumer group (KEDA scales on its lag)."
    )

    @field_validator("registry")
    @classmethod
    def _check_registry(cls, value: str | None) -> str | None:
        if value is not None and not _REGISTRY.match(value):
            raise ValueError(f"'{value}' is not a registry host[/path] like ghcr.io/greenlang")
        return value

    @field_validator("images", "pools")
    @classmethod
    def _check_workloads(cls, value: dict[str, object]) -> dict[str, object]:
        unknown = sorted(set(value) - set(WORKLOADS))
        if unknown:
            raise ValueError(f"unknown workloads {unknown}; the chart has {list(WORKLOADS)}")
        return value

    @field_validator("llm_egress_cidrs")
    @classmethod
    def _check_cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                network = ipaddress.ip_network(cidr)
            except ValueError:
                raise ValueError(f"'{cidr}' is not a CIDR") from None
            if not network.is_global:
                raise ValueError(f"{cidr} is not a public range; LLM providers are on the internet")
        return value

    def pool(self, workload: str) -> str:
        return self.pools.get(workload, _SEED_POOLS.get(workload, workload))

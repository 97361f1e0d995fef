"""``agent-factory:cluster``, ``nodePools`` and ``autoscaler``: the EKS control plane, its
managed node groups and what scales them."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from components.offerings import check_instance_type, is_graviton
from components.settings.base import (
    KeyedError,
    LogRetentionDays,
    SettingsModel,
    is_iam_role,
)

# Kubernetes minor versions in EKS standard support on 2026-11-30 (1.34 leaves it on
# 2026-12-02). The autoscaler's image tag must follow (Settings checks it).
KUBERNETES_VERSION = "1.35"

_K8S_VERSION = re.compile(r"^1\.(\d+)$")
_K8S_LABEL_KEY = re.compile(r"^([a-z0-9.-]+/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")
_AUTOSCALER_TAG = re.compile(r"^v1\.(\d+)\.\d+$")
_POOL_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}$")


def kubernetes_minor(version: str) -> int:
    match = _K8S_VERSION.match(version)
    if not match:
        raise ValueError(f"'{version}' is not a Kubernetes minor version like {KUBERNETES_VERSION}")
    return int(match.group(1))


class ClusterSettings(SettingsModel):
    """The EKS control plane: version, API endpoint access, who administers it."""

    version: str = Field(
        KUBERNETES_VERSION,
        description="Kubernetes minor version of the control plane and the node groups.",
    )
    min_version: str = Field(
        KUBERNETES_VERSION,
        description="Lowest Kubernetes minor that version may be (guards against a downgrade).",
    )
    public_access_cidrs: list[str] = Field(
        default_factory=list,
        description="CIDRs that may reach the public API endpoint; empty turns the public "
        "endpoint off (private only). Never 0.0.0.0/0 in prod.",
    )
    admin_roles: list[str] = Field(
        default_factory=lambda: ["AgentFactorySRE"],
        description="IAM role names (of the stack's account) or ARNs mapped as cluster admins.",
    )
    developer_roles: list[str] = Field(
        default_factory=lambda: ["AgentFactoryDeveloper"],
        description="IAM role names or ARNs given read-only (view) access.",
    )
    deletion_protection: bool | None = Field(
        None, description="Protect the cluster from deletion; default true in prod only."
    )
    log_retention_days: LogRetentionDays = Field(
        365,
        description="Days the platform's CloudWatch log groups keep logs (control plane, "
        "databases, DNS queries, observability); a CloudWatch retention.",
    )

    @field_validator("version", "min_version")
    @classmethod
    def _check_version(cls, value: str) -> str:
        kubernetes_minor(value)
        return value

    @field_validator("public_access_cidrs")
    @classmethod
    def _check_cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError as exc:
                raise ValueError(f"'{cidr}' is not a CIDR block ({exc})") from None
        return value

    @field_validator("admin_roles", "developer_roles")
    @classmethod
    def _check_roles(cls, value: list[str]) -> list[str]:
        for role in value:
            if not is_iam_role(role):
                raise ValueError(f"'{role}' is neither an IAM role name nor a role ARN")
        return value

    @model_validator(mode="after")
    def _check_minimum(self) -> ClusterSettings:
        if kubernetes_minor(self.version) < kubernetes_minor(self.min_version):
            raise KeyedError(
                "version",
                f"{self.version} is below the minimum {self.min_version} (minVersion)",
            )
        return self


_KUBERNETES_EFFECTS = {
    "NO_SCHEDULE": "NoSchedule",
    "NO_EXECUTE": "NoExecute",
    "PREFER_NO_SCHEDULE": "PreferNoSchedule",
}


class Taint(SettingsModel):
    """A Kubernetes taint on every node of the pool."""

    key: str = Field(description="Taint key.")
    value: str = Field("", description="Taint value.")
    effect: Literal["NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"] = Field(
        "NO_SCHEDULE", description="What the taint does to pods that do not tolerate it."
    )

    @property
    def kubernetes_effect(self) -> str:
        """The effect as Kubernetes spells it (the node group API says NO_SCHEDULE)."""
        return _KUBERNETES_EFFECTS[self.effect]


# The EKS AMI types a pool may run and their CPU architecture. Bottlerocket is not
# offered: its launch template would need a second (data) volume mapping, /dev/xvdb.
AMI_ARCHITECTURES: dict[str, Literal["x86_64", "arm64"]] = {
    "AL2023_x86_64_STANDARD": "x86_64",
    "AL2023_ARM_64_STANDARD": "arm64",
}
AmiType = Literal["AL2023_x86_64_STANDARD", "AL2023_ARM_64_STANDARD"]


class NodePoolSettings(SettingsModel):
    """One managed node pool: an on-demand group plus, with spotPercentage, a spot group."""

    instance_types: Annotated[list[str], Field(min_length=1)] = Field(
        description="EC2 instance types of the on-demand group (the first sets the pool's "
        "size class), all of amiType's architecture."
    )
    min_size: Annotated[int, Field(ge=0)] = Field(description="Fewest nodes of the pool.")
    max_size: Annotated[int, Field(ge=1)] = Field(
        description="Most nodes the autoscaler may grow the pool to."
    )
    desired_size: Annotated[int, Field(ge=0)] | None = Field(
        None, description="Nodes at creation, within [minSize, maxSize]; default minSize."
    )
    spot_percentage: Annotated[int, Field(ge=0, le=100)] = Field(
        0, description="Percent of the pool's nodes that run on spot (0-100)."
    )
    spot_instance_types: list[str] = Field(
        default_factory=list,
        description="Spot group's instance types, at least two of the size of "
        "instanceTypes[0]: more capacity pools, fewer interruptions.",
    )
    ami_type: AmiType = Field(
        "AL2023_x86_64_STANDARD",
        description="EKS AMI of the pool's nodes: AL2023_x86_64_STANDARD, or "
        "AL2023_ARM_64_STANDARD for Graviton (arm64) types such as m7g, c7g, r7g, t4g; "
        "an arm64 pool needs multi-arch images (docs/services.md).",
    )
    disk_size_gib: Annotated[int, Field(ge=20, le=16384)] = Field(
        100, description="Root volume of each node in GiB."
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="Kubernetes labels on every node of the pool."
    )
    taints: list[Taint] = Field(
        default_factory=list, description="Kubernetes taints on every node of the pool."
    )

    @field_validator("instance_types", "spot_instance_types")
    @classmethod
    def _check_types(cls, value: list[str]) -> list[str]:
        for instance_type in value:
            check_instance_type(instance_type)
        return value

    @field_validator("labels")
    @classmethod
    def _check_labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not _K8S_LABEL_KEY.match(key):
                raise ValueError(f"'{key}' is not a valid Kubernetes label key")
        return value

    @model_validator(mode="after")
    def _check_architecture(self) -> NodePoolSettings:
        arm64 = self.architecture == "arm64"
        for key, types in (
            ("instanceTypes", self.instance_types),
            ("spotInstanceTypes", self.spot_instance_types),
        ):
            wrong = [t for t in types if is_graviton(t) != arm64]
            if wrong:
                want = "arm64 (Graviton: m7g, c7g, r7g, t4g, ...)" if arm64 else "x86_64"
                raise KeyedError(
                    key,
                    f"{wrong} do not run amiType {self.ami_type}, which needs {want} types "
                    "only (no mixed list)",
                )
        return self

    @property
    def architecture(self) -> Literal["x86_64", "arm64"]:
        return AMI_ARCHITECTURES[self.ami_type]

    @model_validator(mode="after")
    def _check_sizes(self) -> NodePoolSettings:
        if self.min_size > self.max_size:
            raise KeyedError("minSize", f"{self.min_size} is greater than maxSize {self.max_size}")
        desired = self.desired
        if not self.min_size <= desired <= self.max_size:
            raise KeyedError(
                "desiredSize",
                f"{desired} is outside [minSize {self.min_size}, maxSize {self.max_size}]",
            )
        if self.spot_percentage:
            sizes = {t.split(".", 1)[1] for t in self.instance_types[:1] + self.spot_instance_types}
            if len(self.spot_instance_types) < 2:
                raise KeyedError(
                    "spotInstanceTypes",
                    "needs at least two same-size types when spotPercentage > 0",
                )
            if len(sizes) != 1:
                raise KeyedError(
                    "spotInstanceTypes",
                    f"must all be the size of {self.instance_types[0]}, "
                    f"got {self.spot_instance_types}",
                )
        return self

    @property
    def desired(self) -> int:
        return self.min_size if self.desired_size is None else self.desired_size


def check_pool_names(pools: dict[str, NodePoolSettings]) -> None:
    for name in pools:
        if not _POOL_NAME.match(name):
            raise ValueError(f"pool name '{name}' must be lowercase letters, digits and '-'")
    if "system" not in pools:
        raise ValueError("a 'system' pool is required for cluster add-ons")


class AutoscalerSettings(SettingsModel):
    """cluster-autoscaler (scales the node pools) and metrics-server (resource metrics)."""

    image_tag: str = Field(
        "v1.35.0",
        description="cluster-autoscaler image tag; its minor must equal cluster.version's "
        "(upstream supports each release on its own Kubernetes minor only).",
    )
    scale_down_utilization_threshold: Annotated[float, Field(gt=0, lt=1)] = Field(
        0.5, description="Node utilization below which the autoscaler removes a node (0-1)."
    )

    @field_validator("image_tag")
    @classmethod
    def _check_tag(cls, value: str) -> str:
        if not _AUTOSCALER_TAG.match(value):
            raise ValueError(f"'{value}' is not a cluster-autoscaler release tag like v1.35.0")
        return value

    @property
    def kubernetes_minor(self) -> int:
        """The Kubernetes minor this autoscaler release is built for (v1.35.0 -> 35)."""
        return int(self.image_tag.split(".", 2)[1])


def seed_node_pools() -> dict[str, dict[str, Any]]:
    """Appendix A of the seed: the production node pools."""
    return {
        "system": {
            "instanceTypes": ["m6i.xlarge"],
            "minSize": 3,
            "maxSize": 5,
            "taints": [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}],
        },
        "api-gateway": {"instanceTypes": ["c6i.2xlarge"], "minSize": 3, "maxSize": 10},
        "agent-factory": {
            "instanceTypes": ["m6i.2xlarge"],
            "minSize": 3,
            "maxSize": 20,
        },
        "agent-runtime": {
            "instanceTypes": ["c6i.xlarge"],
            "minSize": 10,
            "maxSize": 100,
            "spotPercentage": 60,
            "spotInstanceTypes": [
                "c6i.xlarge",
                "c6a.xlarge",
                "c5.xlarge",
                "c5a.xlarge",
                "c7i.xlarge",
            ],
        },
        "worker": {
            "instanceTypes": ["m6i.xlarge"],
            "minSize": 5,
            "maxSize": 50,
            "spotPercentage": 80,
            "spotInstanceTypes": [
                "m6i.xlarge",
                "m6a.xlarge",
                "m5.xlarge",
                "m5a.xlarge",
                "m7i.xlarge",
            ],
        },
    }

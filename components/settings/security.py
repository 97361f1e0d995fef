"""``agent-factory:security``: namespaces and their quotas, tenants, ingress, certificates
and the account's guards."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import EmailStr, Field, field_validator, model_validator

from components.settings.admission import AdmissionSettings
from components.settings.base import DOMAIN, KeyedError, SettingsModel, is_iam_role

_DNS_LABEL = re.compile(r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$")
_ORIGIN = re.compile(r"^https://([a-z0-9*]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}(:\d+)?$")
_PRINCIPAL = re.compile(r"^(arn:aws[a-z-]*:iam::\d{12}:role/)?[\w+=,.@/*-]{1,512}$")

# Seed Sprint 2: the workload namespace's quota per environment (CPU cores, memory GiB).
WORKLOAD_QUOTAS = {"dev": (50, 100), "staging": (75, 150), "prod": (200, 400)}


class QuotaTier(SettingsModel):
    """What one tenant tier may use: a ResourceQuota plus LimitRange bounds."""

    cpu: Annotated[int, Field(ge=1)] = Field(description="CPU cores the namespace may request.")
    memory_gib: Annotated[int, Field(ge=1)] = Field(
        description="Memory in GiB the namespace may request."
    )
    pods: Annotated[int, Field(ge=1)] = Field(description="Pods the namespace may run.")
    max_container_cpu: str = Field(description="CPU limit of one container (e.g. 2).")
    max_container_memory: str = Field(description="Memory limit of one container (e.g. 4Gi).")


def _seed_tiers() -> dict[str, QuotaTier]:
    # Seed Sprint 10 names the tiers; sizes grow about 4x per tier.
    sizes = {
        # tier: (cpu, memory GiB, pods, max container cpu, max container memory)
        "small": (4, 8, 20, "1", "2Gi"),
        "medium": (16, 32, 60, "2", "4Gi"),
        "large": (64, 128, 200, "4", "8Gi"),
        "enterprise": (200, 400, 600, "8", "16Gi"),
    }
    return {
        tier: QuotaTier(
            cpu=cpu, memory_gib=mem, pods=pods, max_container_cpu=ccpu, max_container_memory=cmem
        )
        for tier, (cpu, mem, pods, ccpu, cmem) in sizes.items()
    }


class TenantSettings(SettingsModel):
    """One tenant: a fenced namespace tenant-<name> with its tier's quota and admins."""

    name: str = Field(description="DNS label of at most 40 characters.")
    tier: Literal["small", "medium", "large", "enterprise"] = Field(
        description="Quota tier (a key of tiers)."
    )
    admin_role: str | None = Field(
        None,
        description="An existing IAM role (name or ARN) to map as the tenant's admins; "
        "default: the stack creates AgentFactoryTenant-<name>-<stack>.",
    )
    admin_principals: list[str] = Field(
        default_factory=list,
        description="Who may assume the created admin role: role names, ARNs or ARN patterns "
        "(e.g. aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_TenantAcme_*); default the "
        "role AgentFactoryTenantAdmin-<name> of the stack's account. Not with adminRole.",
    )

    @property
    def admin_principals_or_default(self) -> list[str]:
        return self.admin_principals or [f"AgentFactoryTenantAdmin-{self.name}"]

    @field_validator("admin_principals")
    @classmethod
    def _check_principals(cls, value: list[str]) -> list[str]:
        for principal in value:
            if not _PRINCIPAL.match(principal):
                raise ValueError(f"'{principal}' is not an IAM role name, ARN or ARN pattern")
        return value

    @model_validator(mode="after")
    def _check_admins(self) -> TenantSettings:
        if self.admin_role is not None and self.admin_principals:
            raise KeyedError(
                "adminPrincipals", "applies only to the role the stack creates (no adminRole)"
            )
        return self

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _DNS_LABEL.match(value):
            raise ValueError(f"'{value}' must be a DNS label of at most 40 characters")
        return value

    @field_validator("admin_role")
    @classmethod
    def _check_role(cls, value: str | None) -> str | None:
        if value is not None and not is_iam_role(value):
            raise ValueError(f"'{value}' is neither an IAM role name nor a role ARN")
        return value


class IngressSettings(SettingsModel):
    """ingress-nginx, the public entry point."""

    replicas: Annotated[int, Field(ge=1, le=20)] = Field(3, description="Controller replicas.")
    rate_limit_rps: Annotated[int, Field(ge=1)] = Field(
        1000, description="Requests per second allowed per client IP (burst twice that)."
    )
    cors_allowed_origins: list[str] = Field(
        default_factory=lambda: ["https://app.greenlang.ai"],
        description="https origins browsers may call the API from (CORS).",
    )

    @field_validator("cors_allowed_origins")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if not _ORIGIN.match(origin):
                raise ValueError(f"'{origin}' is not an https origin like https://app.example.com")
        return value


class SecuritySettings(SettingsModel):
    """Namespaces, tenants, ingress, certificates and the account's guards."""

    domain: str = Field("greenlang.ai", description="DNS domain the platform serves.")
    acme_email: EmailStr = Field(
        "platform-sre@greenlang.ai", description="Let's Encrypt account e-mail of cert-manager."
    )
    hosted_zone_id: str | None = Field(
        None,
        description="Route 53 zone of domain for DNS-01; default: found by the domain name.",
    )
    ingress: IngressSettings = Field(
        IngressSettings(), description="ingress-nginx, the public entry point."
    )
    platform_replicas: Annotated[int, Field(ge=1, le=10)] = Field(
        3,
        description="Replicas of the platform controllers (cert-manager, external-secrets); "
        "3 or more also get a PodDisruptionBudget.",
    )
    workload_quota_cpu: Annotated[int, Field(ge=1)] | None = Field(
        None,
        description="CPU cores of greenlang-<environment>'s quota; default the seed's "
        "(dev 50, staging 75, prod 200).",
    )
    workload_quota_memory_gib: Annotated[int, Field(ge=1)] | None = Field(
        None,
        description="Memory GiB of greenlang-<environment>'s quota; default the seed's "
        "(dev 100, staging 150, prod 400).",
    )
    pod_security_exemptions: dict[str, str] = Field(
        default_factory=lambda: {
            "monitoring": "node-exporter reads host /proc and /sys with hostPID and hostNetwork",
            "logging": "fluent-bit tails container logs from hostPath /var/log on every node",
        },
        description="Namespace -> reason, for namespaces that may not enforce the restricted "
        "Pod Security Standard; policy/config/<stack>.json must agree.",
    )
    tiers: dict[str, QuotaTier] = Field(
        default_factory=_seed_tiers,
        description="Tenant quota tiers by name (seed: small, medium, large, enterprise).",
    )
    tenants: list[TenantSettings] = Field(
        default_factory=list,
        description="The tenants this stack serves. A secondary region (multiRegion.role "
        "secondary) serves its primary's tenants, read from the primary's stack file, and "
        "must not list its own.",
    )
    admission: AdmissionSettings = Field(
        AdmissionSettings(),
        description="Kyverno: signed, digest-pinned images and PSS restricted in the "
        "greenlang-* and tenant namespaces.",
    )
    vulnerability_scanning: bool = Field(
        True,
        description="Run trivy-operator: vulnerability reports of the running images, and an "
        "alert on critical CVEs.",
    )
    # GuardDuty allows one detector per account and region: only one stack per account
    # and region may own it.
    guard_duty: bool = Field(
        True, description="Own the account's GuardDuty detector in this region."
    )
    cloudtrail: bool = Field(
        True,
        description="Create the account's multi-region trail (also delivered to the "
        "KMS-encrypted log group /aws/cloudtrail/<cluster>); one stack per account.",
    )

    @field_validator("domain")
    @classmethod
    def _check_domain(cls, value: str) -> str:
        if not DOMAIN.match(value):
            raise ValueError(f"'{value}' is not a DNS domain like greenlang.ai")
        return value

    @field_validator("pod_security_exemptions")
    @classmethod
    def _check_exemptions(cls, value: dict[str, str]) -> dict[str, str]:
        for namespace, reason in value.items():
            if not reason.strip():
                raise ValueError(f"exemption of '{namespace}' needs a reason")
        return value

    @model_validator(mode="after")
    def _check_tenants(self) -> SecuritySettings:
        names = [t.name for t in self.tenants]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise KeyedError("tenants", f"tenant names must be unique, repeated: {duplicates}")
        missing = sorted({t.tier for t in self.tenants} - set(self.tiers))
        if missing:
            raise KeyedError("tiers", f"tenants use undefined tiers {missing}")
        return self

"""The stack's typed settings: one model, validated on load, testable without Pulumi.

Defaults are the seed's production numbers (``devops-sre-todo.md``, Appendix A); each
``Pulumi.<stack>.yaml`` states only what differs. Object-valued keys are merged over those
defaults (``nodePools`` pool by pool), so a stack file that changes one field of one pool
leaves the others at the seed values. One module per area holds that area's models; every
field carries the description ``tools/configdoc.py`` writes into ``Pulumi.yaml``.

Every validation error is reported as a single :class:`SettingsError` line that names the
config key (``agent-factory:nodePools.worker.minSize``) and what is allowed.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_origin

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo

from components.addressing import AddressingError
from components.offerings import check_region
from components.settings.backups import BackupsSettings
from components.settings.base import (
    ENVIRONMENTS,
    PROJECT,
    ChartVersion,
    KeyedError,
    SettingsError,
    SettingsModel,
)
from components.settings.cluster import (
    KUBERNETES_VERSION,
    AutoscalerSettings,
    ClusterSettings,
    NodePoolSettings,
    Taint,
    check_pool_names,
    kubernetes_minor,
    seed_node_pools,
)
from components.settings.data import (
    CacheSettings,
    DataStoresSettings,
    KafkaSettings,
    PostgresSettings,
    StorageSettings,
)
from components.settings.delivery import DeliverySettings
from components.settings.finops import FinOpsSettings
from components.settings.multiregion import MultiRegionSettings
from components.settings.network import NetworkSettings, SubnetPrefixLengths
from components.settings.observability import (
    ObservabilitySettings,
    OpenSearchSettings,
    SloSettings,
)
from components.settings.security import (
    WORKLOAD_QUOTAS,
    IngressSettings,
    QuotaTier,
    SecuritySettings,
    TenantSettings,
)
from components.settings.services import WORKLOADS, ImageSettings, ServicesSettings
from components.settings.standby import standby_sizes
from components.settings.supply import SupplyChainSettings

__all__ = [
    "ENVIRONMENTS",
    "KUBERNETES_VERSION",
    "PROJECT",
    "PROJECT_DEFAULTS",
    "WORKLOADS",
    "AutoscalerSettings",
    "BackupsSettings",
    "CacheSettings",
    "ClusterSettings",
    "DataStoresSettings",
    "DeliverySettings",
    "FinOpsSettings",
    "ImageSettings",
    "IngressSettings",
    "KafkaSettings",
    "MultiRegionSettings",
    "NetworkSettings",
    "NodePoolSettings",
    "ObservabilitySettings",
    "OpenSearchSettings",
    "PostgresSettings",
    "QuotaTier",
    "SecuritySettings",
    "ServicesSettings",
    "Settings",
    "SettingsError",
    "SloSettings",
    "StorageSettings",
    "SubnetPrefixLengths",
    "SupplyChainSettings",
    "Taint",
    "TenantSettings",
    "config_fields",
    "is_scalar_field",
    "load_settings",
    "settings_from_pulumi",
]

# Where Pulumi.yaml and the stack files live: the checkout the program runs from, in a
# real `pulumi up` as in the offline preview (the program is __main__.py next to them).
PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Project-level defaults (Pulumi.yaml `default:`), which Pulumi supplies to every stack
# that does not set the key. The model still requires the keys, so a run that bypasses
# Pulumi.yaml fails naming them instead of tagging resources with a made-up value.
PROJECT_DEFAULTS = {"team": "platform-sre", "costCenter": "agent-factory"}

# Settings fields the program fills in itself; every other field is a config key.
_DERIVED_FIELDS = ("project", "stack", "region")


class Settings(SettingsModel):
    """Everything one stack needs, validated as a whole."""

    project: str = Field(PROJECT, description="Pulumi project name.")
    stack: str = Field(description="Pulumi stack name.")
    region: str = Field(description="AWS region of the stack (aws:region).")
    environment: Literal["dev", "staging", "prod"] = Field(
        description="Which environment this stack is; drives prod-only safeguards."
    )
    team: str = Field(description="Owning team, applied as the Team tag on every AWS resource.")
    cost_center: str = Field(
        description="Cost center, applied as the CostCenter tag on every AWS resource."
    )
    account: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")] = Field(
        description="Name of the AWS account the stack deploys into (e.g. prod). Stacks that "
        "share an account must not share account-global names (IAM, S3) or per-region "
        "singletons (GuardDuty); the offline preview checks them together."
    )
    network: NetworkSettings = Field(NetworkSettings(), description="The region's VPC.")
    cluster: ClusterSettings = Field(ClusterSettings(), description="The EKS control plane.")
    node_pools: dict[str, NodePoolSettings] = Field(
        description="Managed node pools by name, merged over the seed's pools (system, "
        "api-gateway, agent-factory, agent-runtime, worker); a pool set to null is removed. "
        "The system pool (cluster add-ons) is required."
    )
    autoscaler: AutoscalerSettings = Field(
        AutoscalerSettings(), description="cluster-autoscaler and metrics-server."
    )
    data_stores: DataStoresSettings = Field(
        DataStoresSettings(), description="Stateful stores: database, cache, S3, Kafka, secrets."
    )
    security: SecuritySettings = Field(
        SecuritySettings(),
        description="Namespaces, tenants, ingress, certificates and the account's guards.",
    )
    observability: ObservabilitySettings = Field(
        ObservabilitySettings(), description="Metrics, logs, traces, SLOs and alarms."
    )
    services: ServicesSettings = Field(
        ServicesSettings(),
        description="The Agent Factory workloads (charts/agent-factory): images, pools, "
        "egress. A secondary region runs its primary's images and lists none itself.",
    )
    finops: FinOpsSettings = Field(
        FinOpsSettings(),
        description="Budget, cost anomaly detection, cost-allocation tags, off-hours "
        "scale-down (docs/finops.md).",
    )
    backups: BackupsSettings = Field(
        BackupsSettings(), description="Velero's Kubernetes state backups."
    )
    delivery: DeliverySettings = Field(
        DeliverySettings(),
        description="Argo CD, which delivers the services' chart from git (docs/delivery.md).",
    )
    supply_chain: SupplyChainSettings = Field(
        SupplyChainSettings(),
        description="Container registries, image scanning and CI's GitHub OIDC roles "
        "(docs/supply-chain.md).",
    )
    multi_region: MultiRegionSettings | None = Field(
        None,
        description="This stack's part in the multi-region deployment (docs/multi-region.md); "
        "absent in a single-region stack.",
    )
    charts: dict[str, ChartVersion] = Field(
        default_factory=dict,
        description="Chart name -> version, overriding the pinned chart table "
        "(components/addons/charts.py) in this stack only, e.g. to try an upgrade in dev first.",
    )

    @field_validator("region")
    @classmethod
    def _check_region(cls, value: str) -> str:
        return check_region(value)

    @field_validator("charts")
    @classmethod
    def _check_charts(cls, value: dict[str, str]) -> dict[str, str]:
        from components.addons.charts import CHARTS

        unknown = sorted(set(value) - set(CHARTS))
        if unknown:
            raise ValueError(f"unknown charts {unknown}; the table has {sorted(CHARTS)}")
        return value

    @field_validator("node_pools")
    @classmethod
    def _check_pools(cls, value: dict[str, NodePoolSettings]) -> dict[str, NodePoolSettings]:
        check_pool_names(value)
        return value

    @model_validator(mode="after")
    def _check_environment_rules(self) -> Settings:
        if self.environment == "prod":
            for cidr in self.cluster.public_access_cidrs:
                if ipaddress.ip_network(cidr).prefixlen == 0:
                    raise KeyedError(
                        "cluster.publicAccessCidrs",
                        f"{cidr} opens the prod API endpoint to the internet; "
                        "list VPN/CI egress CIDRs or leave it empty for a private endpoint",
                    )
        try:
            self.network.subnets  # noqa: B018 - validates that the layout fits
        except AddressingError as exc:
            raise KeyedError("network.subnetPrefixLengths", str(exc)) from None
        zones = self.network.availability_zones or []
        foreign = [zone for zone in zones if not re.fullmatch(rf"{self.region}[a-z]", zone)]
        if foreign:
            raise KeyedError(
                "network.availabilityZones", f"{foreign} are not zones of {self.region}"
            )
        self._check_multi_region()
        self._check_finops()
        for workload in WORKLOADS:
            if workload not in self.services.images:
                raise KeyedError(f"services.images.{workload}", "is required (tag and digest)")
            pool = self.services.pool(workload)
            if pool not in self.node_pools:
                raise KeyedError(
                    f"services.pools.{workload}",
                    f"pool '{pool}' is not in nodePools ({', '.join(self.node_pools)})",
                )
        return self

    @model_validator(mode="after")
    def _check_backups(self) -> Settings:
        # Velero reads its backups back (sync, restore, deletion): an object moved to
        # Glacier by the bucket's lifecycle would be unreadable while the backup still lives.
        glacier = self.data_stores.storage.backups_glacier_after_days
        if self.backups.velero and self.backups.retention_days >= glacier:
            raise KeyedError(
                "backups.retentionDays",
                f"{self.backups.retention_days} days reaches the backups bucket's Glacier "
                f"transition (dataStores.storage.backupsGlacierAfterDays {glacier})",
            )
        return self

    @model_validator(mode="after")
    def _check_autoscaler_version(self) -> Settings:
        # Upstream builds and tests each cluster-autoscaler release against one Kubernetes
        # minor only; another minor's scheduler simulation misjudges which pods fit.
        tag, version = self.autoscaler.image_tag, self.cluster.version
        if self.autoscaler.kubernetes_minor != kubernetes_minor(version):
            raise KeyedError(
                "autoscaler.imageTag",
                f"{tag} is built for Kubernetes 1.{self.autoscaler.kubernetes_minor} but "
                f"cluster.version is {version}; use a v{version}.x release",
            )
        return self

    def _check_finops(self) -> None:
        scale_down = self.finops.scale_down
        if scale_down.enabled and self.is_prod:
            raise KeyedError(
                "finops.scaleDown.enabled",
                "prod pools serve users around the clock; off-hours scale-down is for dev "
                "and staging only",
            )
        unknown = sorted(set(scale_down.pools or ()) - set(self.node_pools))
        if unknown:
            raise KeyedError(
                "finops.scaleDown.pools",
                f"{unknown} are not in nodePools ({', '.join(self.node_pools)})",
            )

    @property
    def scaled_down_pools(self) -> tuple[str, ...]:
        """The pools at zero outside working hours (none where scale-down is off)."""
        scale_down = self.finops.scale_down
        enabled = self.environment == "dev" if scale_down.enabled is None else scale_down.enabled
        if not enabled:
            return ()
        if scale_down.pools is not None:
            return tuple(scale_down.pools)
        return tuple(pool for pool in self.node_pools if pool != "system")

    @property
    def owns_account_cost_resources(self) -> bool:
        """Whether this stack creates the account's anomaly monitor and cost-allocation
        tags (one stack per account; a secondary region shares its primary's account)."""
        explicit = self.finops.owns_account_resources
        return self.role != "secondary" if explicit is None else explicit

    def _check_multi_region(self) -> None:
        multi = self.multi_region
        if multi is None:
            return
        if multi.primary_stack is not None and self._is_own_stack(multi.primary_stack):
            raise KeyedError("multiRegion.primaryStack", "a stack cannot replicate from itself")
        if any(self._is_own_stack(name) for name in multi.secondary_stacks):
            raise KeyedError("multiRegion.secondaryStacks", "lists this stack itself")
        replicating = multi.role == "secondary" and not multi.promote_database
        if replicating and self.data_stores.postgres.read_replicas:
            raise KeyedError(
                "dataStores.postgres.readReplicas",
                "a secondary's database is itself a cross-region replica; set 0",
            )
        node_type = self.data_stores.cache.node_type
        if multi.cache_global_datastore and node_type.startswith("cache.t"):
            raise KeyedError(
                "dataStores.cache.nodeType",
                f"{node_type}: a Global Datastore needs M5/R5 or newer nodes",
            )

    @property
    def cluster_name(self) -> str:
        return f"{self.project}-{self.stack}"

    @property
    def workload_namespace(self) -> str:
        return f"greenlang-{self.environment}"

    @property
    def workload_quota(self) -> tuple[int, int]:
        cpu, memory = WORKLOAD_QUOTAS[self.environment]
        security = self.security
        return (security.workload_quota_cpu or cpu, security.workload_quota_memory_gib or memory)

    @property
    def trail_name(self) -> str:
        return f"{self.cluster_name}-trail"

    def _is_own_stack(self, reference: str) -> bool:
        parts = reference.split("/")
        project = parts[-2] if len(parts) > 1 else self.project
        return parts[-1] == self.stack and project == self.project

    @property
    def role(self) -> Literal["standalone", "primary", "secondary"]:
        return "standalone" if self.multi_region is None else self.multi_region.role

    @property
    def api_hostname(self) -> str:
        explicit = self.multi_region.api_hostname if self.multi_region else None
        return explicit or f"api.{self.security.domain}"

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def deletion_protection(self) -> bool:
        explicit = self.cluster.deletion_protection
        return self.is_prod if explicit is None else explicit

    @property
    def audit_lock_mode(self) -> str:
        explicit = self.data_stores.storage.audit_lock_mode
        if explicit is not None:
            return explicit
        return "COMPLIANCE" if self.is_prod else "GOVERNANCE"

    @property
    def max_node_count(self) -> int:
        """Nodes the pools can reach together: DaemonSets run one pod on each."""
        return sum(pool.max_size for pool in self.node_pools.values())

    @property
    def nat_gateway_count(self) -> int:
        return 1 if self.network.nat_gateways == "single" else self.network.az_count

    @property
    def tags(self) -> dict[str, str]:
        """The mandatory tags, applied as the AWS provider's default tags."""
        return {
            "Project": self.project,
            "Environment": self.environment,
            "Team": self.team,
            "CostCenter": self.cost_center,
            "ManagedBy": "pulumi",
            "Stack": self.stack,
        }


def config_fields() -> dict[str, FieldInfo]:
    """The stack config keys (camelCase, without the project namespace), in model order."""
    return {
        field.alias or name: field
        for name, field in Settings.model_fields.items()
        if name not in _DERIVED_FIELDS
    }


def is_scalar_field(field: FieldInfo) -> bool:
    """Strings arrive as given; every other key is an object Pulumi may hand over as JSON."""
    return field.annotation is str or get_origin(field.annotation) is Literal


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _format_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    location = [str(part) for part in error["loc"]]
    message = error["msg"]
    ctx = error.get("ctx") or {}
    inner = ctx.get("error")
    if isinstance(inner, KeyedError):
        location, message = location + inner.key.split("."), inner.message
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    if error["type"] == "literal_error":
        message = f"got {error['input']!r}; {message[0].lower()}{message[1:]}"
    elif error["type"] == "extra_forbidden":
        message = "unknown key (check the spelling against Pulumi.yaml)"
    elif error["type"] == "missing":
        message = "is required"
    if location == ["region"]:
        return f"aws:region: {message}"
    key = ".".join(location) if location else "(stack)"
    return f"agent-factory:{key}: {message}"


def _validate(document: dict[str, Any]) -> Settings:
    try:
        settings = Settings.model_validate(document)
        # A warm standby secondary deploys its standby sizes (components/settings/standby.py).
        return settings.model_copy(
            update=standby_sizes(settings.multi_region, settings.node_pools, settings.data_stores)
        )
    except ValidationError as exc:
        raise SettingsError(_format_error(exc)) from None
    except KeyedError as exc:
        raise SettingsError(f"agent-factory:{exc.key}: {exc.message}") from None


# The stack name is part of bucket, domain and cluster names; the tightest limit wins.
MAX_STACK_NAME = 20
_DERIVED_FROM_STACK = re.compile(rf"^[a-z][a-z0-9-]{{0,{MAX_STACK_NAME - 1}}}$")


def _primary_section(stack_dir: Path, reference: str, section: str, field: str) -> Any:
    """``<section>.<key>`` of the primary's stack file. Every region serves every tenant
    (latency routing) with the same release of the services, so the tenant list and the
    images live once, with the primary."""
    *qualifiers, name = reference.split("/")
    key = f"{PROJECT}:multiRegion.primaryStack"
    if qualifiers and qualifiers[-1] != PROJECT:
        raise SettingsError(
            f"{key}: {reference} is in another project; a secondary reads {section}.{field} "
            "from its primary's stack file, which must be in this project"
        )
    path = stack_dir / f"Pulumi.{name}.yaml"
    try:
        config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
        values = config.get(f"{PROJECT}:{section}") or {}
        # An object set with `pulumi config set` (no --path) is stored as a JSON string.
        if isinstance(values, str):
            values = json.loads(values)
        return values.get(field, [] if field == "tenants" else {})
    # ValueError: broken JSON; AttributeError: a section that is not a mapping.
    except (OSError, ValueError, yaml.YAMLError, AttributeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not a readable stack file"
        raise SettingsError(
            f"{key}: cannot read this secondary's {section}.{field} from {path.name} ({reason})"
        ) from None


def load_settings(
    stack: str,
    region: str | None,
    values: Mapping[str, Any],
    *,
    stack_dir: Path = PROJECT_ROOT,
) -> Settings:
    """Build and validate settings from raw config ``values`` (project keys, no namespace).

    Object values may arrive as JSON strings (that is how Pulumi hands them to programs).
    A secondary region's tenants are read from its primary's file in ``stack_dir``.
    Raises :class:`SettingsError` with one line naming the key.
    """
    fields = config_fields()
    raw: dict[str, Any] = {}
    for key, given in values.items():
        value = given
        if key not in fields:
            raise SettingsError(f"agent-factory:{key}: unknown key (check Pulumi.yaml)")
        if not is_scalar_field(fields[key]) and isinstance(given, str):
            try:
                value = json.loads(given)
            except json.JSONDecodeError as exc:
                raise SettingsError(f"agent-factory:{key}: is not a valid object ({exc})") from None
            if not isinstance(value, dict):
                raise SettingsError(f"agent-factory:{key}: must be an object, got {value!r}")
        raw[key] = value

    if not _DERIVED_FROM_STACK.match(stack):
        raise SettingsError(
            f"stack '{stack}': names derived from it need 1-{MAX_STACK_NAME} lowercase letters, "
            "digits or '-' (the OpenSearch domain af-<stack>-logs allows 28 characters)"
        )
    if region is None:
        raise SettingsError("aws:region: is required (set it in Pulumi.<stack>.yaml)")
    environment = raw.get("environment")
    if environment not in ENVIRONMENTS:
        raise SettingsError(
            f"agent-factory:environment: got {environment!r}; allowed: {', '.join(ENVIRONMENTS)}"
        )
    pools = raw.pop("nodePools", {})
    if not isinstance(pools, Mapping):
        raise SettingsError(f"agent-factory:nodePools: must be an object, got {pools!r}")
    merged_pools = _deep_merge(seed_node_pools(), pools)
    # A pool set to null in a stack file removes it (a stack without that workload).
    merged_pools = {name: spec for name, spec in merged_pools.items() if spec is not None}
    document = {**raw, "stack": stack, "region": region, "nodePools": merged_pools}
    primary_stack = _primary_stack(raw.get("multiRegion"))
    # A stack naming itself as primary is reported by the model, not read from its file.
    if primary_stack is not None and primary_stack.rsplit("/", 1)[-1] != stack:
        document = _from_primary(document, primary_stack, stack_dir)
    return _validate(document)


def _primary_stack(multi_region: Any) -> str | None:
    """The primary a secondary's (still unvalidated) ``multiRegion`` names, if it is valid;
    an invalid one is reported by the whole model's validation."""
    if not isinstance(multi_region, Mapping):
        return None
    try:
        return MultiRegionSettings.model_validate(multi_region).primary_stack
    except ValidationError:
        return None


def _from_primary(document: dict[str, Any], primary_stack: str, stack_dir: Path) -> dict[str, Any]:
    """A secondary's document with the tenants and images of its primary's stack file."""
    primary_file = f"Pulumi.{primary_stack.rsplit('/', 1)[-1]}.yaml"
    security = document.get("security", {})
    if "tenants" in security:
        raise SettingsError(
            f"agent-factory:security.tenants: a secondary serves the tenants of its primary "
            f"{primary_stack}; list them in {primary_file} only"
        )
    services = document.get("services", {})
    if "images" in services:
        raise SettingsError(
            f"agent-factory:services.images: a secondary runs the release of its primary "
            f"{primary_stack}; promote images in {primary_file} only"
        )
    tenants = _primary_section(stack_dir, primary_stack, "security", "tenants")
    images = _primary_section(stack_dir, primary_stack, "services", "images")
    return {
        **document,
        "security": {**security, "tenants": tenants},
        "services": {**services, "images": images},
    }


def settings_from_pulumi() -> Settings:
    """Read every ``agent-factory:*`` key of the running stack, so typos are caught too."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    prefix = f"{PROJECT}:"
    keys = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    values: dict[str, Any] = {}
    for full_key in sorted(keys):
        if full_key.startswith(prefix):
            values[full_key.removeprefix(prefix)] = runtime_config.get_config(full_key)
    region = pulumi.Config("aws").get("region")
    return load_settings(pulumi.get_stack(), region, values)

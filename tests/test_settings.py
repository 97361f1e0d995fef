"""Settings load and validate without Pulumi; every error is one line naming the key."""

from __future__ import annotations

import copy
import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.addressing import AddressingError, plan_subnets
from components.settings import KUBERNETES_VERSION, SettingsError, load_settings
from components.settings.base import SettingsModel
from tests.conftest import ENVIRONMENTS, REGIONS, SERVICES, STACKS
from tools import configdoc
from tools.stackconfig import load_stack_config
from tools.stackconfig import stack_settings as settings_of_stack
from tools.synth import ROOT

BASE = {
    "environment": "prod",
    "team": "platform-sre",
    "costCenter": "agent-factory",
    "account": "prod",
    "services": SERVICES,
}


def load(**overrides: Any) -> Any:
    return load_settings("prod", "us-east-1", {**BASE, **overrides})


def stack_settings(stack: str) -> Any:
    return settings_of_stack(ROOT, stack)


def test_defaults_are_the_seed_production_shape() -> None:
    settings = load()
    pools = settings.node_pools
    assert set(pools) == {"system", "api-gateway", "agent-factory", "agent-runtime", "worker"}
    assert (pools["system"].instance_types, pools["system"].min_size) == (["m6i.xlarge"], 3)
    assert (pools["api-gateway"].min_size, pools["api-gateway"].max_size) == (3, 10)
    assert (pools["agent-factory"].instance_types, pools["agent-factory"].max_size) == (
        ["m6i.2xlarge"],
        20,
    )
    runtime = pools["agent-runtime"]
    assert (runtime.min_size, runtime.max_size, runtime.spot_percentage) == (10, 100, 60)
    worker = pools["worker"]
    assert (worker.min_size, worker.max_size, worker.spot_percentage) == (5, 50, 80)
    assert pools["system"].taints[0].key == "CriticalAddonsOnly"
    assert settings.network.vpc_cidr == "10.0.0.0/16"
    assert settings.network.az_count == 3
    assert settings.cluster.version == KUBERNETES_VERSION
    assert settings.deletion_protection is True
    assert settings.nat_gateway_count == 3


def test_tags_are_the_mandatory_set() -> None:
    assert load().tags == {
        "Project": "agent-factory",
        "Environment": "prod",
        "Team": "platform-sre",
        "CostCenter": "agent-factory",
        "ManagedBy": "pulumi",
        "Stack": "prod",
    }


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_file_is_valid(stack: str) -> None:
    settings = stack_settings(stack)
    assert settings.stack == stack
    assert settings.region == REGIONS[stack]
    assert settings.environment == ENVIRONMENTS[stack]


def test_stack_files_merge_over_the_seed_defaults() -> None:
    dev = stack_settings("dev")
    assert dev.network.nat_gateways == "single"
    assert dev.nat_gateway_count == 1
    assert dev.node_pools["system"].instance_types == ["m6i.large"]
    # Not set in Pulumi.dev.yaml: inherited from the seed pool.
    assert dev.node_pools["system"].taints[0].key == "CriticalAddonsOnly"
    assert dev.deletion_protection is False
    staging = stack_settings("staging")
    assert staging.node_pools["agent-runtime"].spot_percentage == 60
    assert staging.node_pools["agent-runtime"].max_size == 50


def test_object_values_arrive_as_json_strings() -> None:
    settings = load(network=json.dumps({"azCount": 4, "vpcCidr": "10.4.0.0/16"}))
    assert settings.network.az_count == 4
    assert len(settings.network.subnets.private) == 4


def test_a_pool_set_to_null_is_removed() -> None:
    # The gateway moves to the agent-factory pool with it.
    services = {**SERVICES, "pools": {"api-gateway": "agent-factory"}}
    settings = load(nodePools={"api-gateway": None}, services=services)
    assert "api-gateway" not in settings.node_pools
    assert settings.services.pool("api-gateway") == "agent-factory"


def test_a_workload_on_a_removed_pool_names_the_key() -> None:
    with pytest.raises(SettingsError) as error:
        load(nodePools={"api-gateway": None})
    assert str(error.value) == (
        "agent-factory:services.pools.api-gateway: pool 'api-gateway' is not in nodePools "
        "(system, agent-factory, agent-runtime, worker)"
    )


def test_a_new_pool_can_be_added() -> None:
    gpu = {"instanceTypes": ["g5.xlarge"], "minSize": 0, "maxSize": 4}
    settings = load(nodePools={"gpu": gpu})
    assert settings.node_pools["gpu"].desired == 0


INVALID: list[tuple[dict[str, Any], str, str]] = [
    ({"network": {"vpcCidr": "10.0.0.0/33"}}, "network.vpcCidr", "not an IPv4 CIDR"),
    ({"network": {"vpcCidr": "not-a-cidr"}}, "network.vpcCidr", "not an IPv4 CIDR"),
    ({"services": {}}, "services.images.agent-factory", "is required (tag and digest)"),
    (
        {
            "services": {
                "images": {
                    **SERVICES["images"],
                    "worker": {"tag": "latest", "digest": "sha256:" + "0" * 64},
                }
            }
        },
        "services.images.worker.tag",
        "'latest' moves under running pods",
    ),
    (
        {"services": {"images": {**SERVICES["images"], "worker": {"tag": "1.0", "digest": "abc"}}}},
        "services.images.worker.digest",
        "not a digest like sha256:",
    ),
    (
        {"services": {**SERVICES, "pools": {"billing": "worker"}}},
        "services.pools",
        "unknown workloads ['billing']",
    ),
    (
        {"services": {**SERVICES, "llmEgressCidrs": ["10.0.0.0/8"]}},
        "services.llmEgressCidrs",
        "not a public range",
    ),
    ({"network": {"vpcCidr": "8.8.0.0/16"}}, "network.vpcCidr", "not in a private range"),
    ({"network": {"vpcCidr": "10.0.0.1/16"}}, "network.vpcCidr", "host bits set"),
    ({"network": {"azCount": 1}}, "network.azCount", "greater than or equal to 2"),
    ({"network": {"azCount": 7}}, "network.azCount", "less than or equal to 6"),
    (
        {"network": {"subnetPrefixLengths": {"private": 17}}},
        "network.subnetPrefixLengths",
        "do not fit",
    ),
    ({"network": {"vpcCidr": "10.0.0.0/20"}}, "network.subnetPrefixLengths", "larger than"),
    ({"network": {"natGateways": "two"}}, "network.natGateways", "'single' or 'per-az'"),
    ({"network": {"flowLogRetentionDays": 10}}, "network.flowLogRetentionDays", "retention"),
    ({"network": {"interfaceEndpoints": ["sts"]}}, "network.interfaceEndpoints", "ecr.api"),
    (
        {"network": {"availabilityZones": ["us-east-1a"]}},
        "network.availabilityZones",
        "3 distinct zones",
    ),
    ({"network": {"vpcCidrr": "10.0.0.0/16"}}, "network.vpcCidrr", "unknown key"),
    ({"nodePools": {"worker": {"minSize": 60}}}, "nodePools.worker.minSize", "greater than"),
    (
        {"nodePools": {"worker": {"desiredSize": 51}}},
        "nodePools.worker.desiredSize",
        "outside [minSize 5, maxSize 50]",
    ),
    (
        {"nodePools": {"worker": {"spotPercentage": 120}}},
        "nodePools.worker.spotPercentage",
        "less than or equal to 100",
    ),
    (
        {"nodePools": {"worker": {"spotPercentage": -1}}},
        "nodePools.worker.spotPercentage",
        "greater than or equal to 0",
    ),
    (
        {"nodePools": {"worker": {"spotInstanceTypes": ["m6i.xlarge", "m6i.large"]}}},
        "nodePools.worker.spotInstanceTypes",
        "size of m6i.xlarge",
    ),
    (
        {"nodePools": {"system": {"spotPercentage": 50}}},
        "nodePools.system.spotInstanceTypes",
        "at least two",
    ),
    (
        {"nodePools": {"worker": {"instanceTypes": ["huge"]}}},
        "nodePools.worker.instanceTypes",
        "not an EC2 instance type",
    ),
    ({"nodePools": {"gpu": {"minSize": 1}}}, "nodePools.gpu.instanceTypes", "is required"),
    ({"nodePools": {"system": None}}, "nodePools", "'system' pool is required"),
    ({"environment": "qa"}, "environment", "allowed: dev, staging, prod"),
    ({"cluster": {"version": "1.30"}}, "cluster.version", "below the minimum"),
    ({"cluster": {"version": "latest"}}, "cluster.version", "not a Kubernetes minor"),
    (
        {"cluster": {"publicAccessCidrs": ["0.0.0.0/0"]}},
        "cluster.publicAccessCidrs",
        "opens the prod API endpoint",
    ),
    ({"cluster": {"publicAccessCidrs": ["300.1.1.1/32"]}}, "cluster.publicAccessCidrs", "CIDR"),
    ({"cluster": {"adminRoles": ["not a role!"]}}, "cluster.adminRoles", "IAM role"),
    ({"network": "{broken"}, "network", "not a valid object"),
    ({"typo": "x"}, "typo", "unknown key"),
    (
        {"dataStores": {"postgres": {"instanceClass": "r6g.large"}}},
        "dataStores.postgres.instanceClass",
        "not an RDS instance class",
    ),
    (
        {"dataStores": {"postgres": {"backupWindow": "2am"}}},
        "dataStores.postgres.backupWindow",
        "UTC window like 02:00-03:00",
    ),
    (
        {"dataStores": {"postgres": {"backupRetentionDays": 40}}},
        "dataStores.postgres.backupRetentionDays",
        "less than or equal to 35",
    ),
    (
        {"dataStores": {"postgres": {"maxAllocatedStorageGib": 100}}},
        "dataStores.postgres.maxAllocatedStorageGib",
        "below allocatedStorageGib 500",
    ),
    (
        {"dataStores": {"cache": {"engine": "valkey", "engineVersion": "7.0"}}},
        "dataStores.cache.engineVersion",
        "allowed: ['7.2', '8.0', '8.1']",
    ),
    (
        {"dataStores": {"storage": {"auditLockMode": "LEGAL_HOLD"}}},
        "dataStores.storage.auditLockMode",
        "'COMPLIANCE' or 'GOVERNANCE'",
    ),
    (
        {"dataStores": {"storage": {"backupsExpireAfterDays": 100}}},
        "dataStores.storage.backupsExpireAfterDays",
        "90 days after backupsGlacierAfterDays",
    ),
    (
        {"dataStores": {"cache": {"maintenanceWindow": "03:00-04:00"}}},
        "dataStores.cache.maintenanceWindow",
        "like sun:04:00-sun:05:00",
    ),
    (
        {"charts": {"ingress-nginx": "4.x"}},
        "charts.ingress-nginx",
        "pinned chart version",
    ),
    (
        {"charts": {"cluster-autoscaler": "^9.54"}},
        "charts.cluster-autoscaler",
        "pinned chart version",
    ),
    (
        {"charts": {"nginx": "1.0.0"}},
        "charts",
        "unknown charts ['nginx']",
    ),
    (
        {"security": {"ingress": {"chartVersion": "4.14.1"}}},
        "security.ingress.chartVersion",
        "unknown key",
    ),
    (
        {"security": {"tenants": [{"name": "a", "tier": "small"}, {"name": "a", "tier": "large"}]}},
        "security.tenants",
        "repeated: ['a']",
    ),
    (
        {"dataStores": {"applicationSecrets": ["Anthropic Key"]}},
        "dataStores.applicationSecrets",
        "lowercase",
    ),
    # Values AWS would reject, caught at load from the SDK's own enums.
    (
        {"nodePools": {"worker": {"instanceTypes": ["m6i.huge"]}}},
        "nodePools.worker.instanceTypes",
        "'m6i.huge' is not an EC2 instance type",
    ),
    (
        {"nodePools": {"system": {"instanceTypes": ["m7g.xlarge"]}}},
        "nodePools.system.instanceTypes",
        "do not run amiType AL2023_x86_64_STANDARD, which needs x86_64 types only",
    ),
    (
        {"dataStores": {"postgres": {"instanceClass": "db.r6g.huge"}}},
        "dataStores.postgres.instanceClass",
        "'db.r6g.huge' is not an RDS instance class AWS offers",
    ),
    (
        {"dataStores": {"postgres": {"engineVersion": "9.6"}}},
        "dataStores.postgres.engineVersion",
        "PostgreSQL 9.6 is not offered by RDS; majors 14-18",
    ),
    (
        {"dataStores": {"cache": {"nodeType": "cache.m6i.mega"}}},
        "dataStores.cache.nodeType",
        "not an ElastiCache node type AWS offers",
    ),
    (
        {"dataStores": {"kafka": {"brokerInstanceType": "kafka.x9.large"}}},
        "dataStores.kafka.brokerInstanceType",
        "not an MSK broker type AWS offers",
    ),
    (
        {"security": {"acmeEmail": "platform-sre.greenlang.ai"}},
        "security.acmeEmail",
        "value is not a valid email address",
    ),
    (
        {"observability": {"grafanaOidcIssuer": "https://"}},
        "observability.grafanaOidcIssuer",
        "'https://' must be an https issuer URL with a host",
    ),
    (
        {"network": {"availabilityZones": ["us-west-2a", "us-west-2b", "us-west-2c"]}},
        "network.availabilityZones",
        "['us-west-2a', 'us-west-2b', 'us-west-2c'] are not zones of us-east-1",
    ),
    # cluster-autoscaler supports only the Kubernetes minor it was released for.
    (
        {"autoscaler": {"imageTag": "v1.34.2"}},
        "autoscaler.imageTag",
        "v1.34.2 is built for Kubernetes 1.34 but cluster.version is 1.35; use a v1.35.x release",
    ),
    (
        {"cluster": {"version": "1.36"}},
        "autoscaler.imageTag",
        "v1.35.0 is built for Kubernetes 1.35 but cluster.version is 1.36; use a v1.36.x release",
    ),
    (
        {"autoscaler": {"imageTag": "latest"}},
        "autoscaler.imageTag",
        "'latest' is not a cluster-autoscaler release tag like v1.35.0",
    ),
]


@pytest.mark.parametrize("instance_class", ["db.r7g.large", "db.r6g.2xlarge", "db.t4g.medium"])
def test_rds_classes_newer_than_the_sdk_enum_are_accepted(instance_class: str) -> None:
    """The SDK's RDS enum has no db.r7g: an existing EC2 type behind db. is enough."""
    postgres = load(dataStores={"postgres": {"instanceClass": instance_class}}).data_stores
    assert postgres.postgres.instance_class == instance_class


@pytest.mark.parametrize("stack", ["Prod", "a-stack-name-far-too-long-for-names", "9lives"])
def test_stack_names_that_break_derived_names_are_rejected(stack: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(stack, "us-east-1", BASE)
    assert str(caught.value) == (
        f"stack '{stack}': names derived from it need 1-20 lowercase letters, digits or '-' "
        "(the OpenSearch domain af-<stack>-logs allows 28 characters)"
    )


@pytest.mark.parametrize(("overrides", "key", "fragment"), INVALID)
def test_invalid_values_name_the_key(overrides: dict[str, Any], key: str, fragment: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load(**overrides)
    message = str(caught.value)
    assert message.startswith(f"agent-factory:{key}: "), message
    assert fragment in message
    assert "\n" not in message


def test_audit_lock_mode_follows_the_environment() -> None:
    assert load().audit_lock_mode == "COMPLIANCE"
    assert load(environment="dev").audit_lock_mode == "GOVERNANCE"
    explicit = load(environment="dev", dataStores={"storage": {"auditLockMode": "COMPLIANCE"}})
    assert explicit.audit_lock_mode == "COMPLIANCE"


def test_world_open_endpoint_is_allowed_outside_prod() -> None:
    settings = load_settings(
        "dev",
        "us-east-1",
        {**BASE, "environment": "dev", "cluster": {"publicAccessCidrs": ["0.0.0.0/0"]}},
    )
    assert settings.cluster.public_access_cidrs == ["0.0.0.0/0"]


def test_missing_region_names_aws_region() -> None:
    with pytest.raises(SettingsError, match=r"^aws:region: is required"):
        load_settings("prod", None, BASE)


def test_bad_region_is_rejected() -> None:
    with pytest.raises(SettingsError, match=r"^aws:region: 'mars-1' is not an AWS region"):
        load_settings("prod", "mars-1", BASE)


@pytest.mark.parametrize("az_count", [2, 3, 4, 5, 6])
def test_subnet_plan_fits_and_never_overlaps(az_count: int) -> None:
    vpc = ipaddress.IPv4Network("10.0.0.0/16")
    plan = plan_subnets(vpc, az_count, {"public": 22, "private": 19, "data": 22})
    every = [*plan.public, *plan.private, *plan.data]
    assert len(every) == 3 * az_count
    assert all(subnet.subnet_of(vpc) for subnet in every)
    for index, subnet in enumerate(every):
        assert not any(subnet.overlaps(other) for other in every[index + 1 :])
    assert {s.prefixlen for s in plan.private} == {19}
    assert {s.prefixlen for s in plan.public} == {22}


def test_subnet_plan_is_stable() -> None:
    vpc = ipaddress.IPv4Network("10.0.0.0/16")
    plan = plan_subnets(vpc, 3, {"public": 22, "private": 19, "data": 22})
    assert [str(s) for s in plan.private] == ["10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"]
    assert [str(s) for s in plan.public] == ["10.0.96.0/22", "10.0.100.0/22", "10.0.104.0/22"]
    assert [str(s) for s in plan.data] == ["10.0.108.0/22", "10.0.112.0/22", "10.0.116.0/22"]


def test_subnet_plan_reports_what_does_not_fit() -> None:
    with pytest.raises(AddressingError, match="3 /18 private subnets do not fit"):
        plan_subnets(
            ipaddress.IPv4Network("10.0.0.0/17"), 3, {"public": 22, "private": 18, "data": 22}
        )


def test_a_cluster_upgrade_moves_the_autoscaler_with_it() -> None:
    settings = load(cluster={"version": "1.36"}, autoscaler={"imageTag": "v1.36.1"})
    assert (settings.cluster.version, settings.autoscaler.image_tag) == ("1.36", "v1.36.1")


# -- Pulumi.yaml's config: is generated from the model ------------------------------


def project_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    return config


def test_every_settings_field_has_a_description() -> None:
    models = SettingsModel.__subclasses__()
    assert len(models) > 15
    undescribed = [
        f"{model.__name__}.{name}"
        for model in models
        for name, field in model.model_fields.items()
        if not field.description
    ]
    assert undescribed == []


def test_pulumi_yaml_documents_every_model_key_and_no_other() -> None:
    assert configdoc.differences(project_config()) == [], "run python -m tools.configdoc"


def test_pulumi_yaml_is_what_the_generator_writes() -> None:
    """Descriptions, allowed values and defaults too, not only the key names."""
    text = (ROOT / "Pulumi.yaml").read_text()
    assert configdoc.render(text) == text, "run python -m tools.configdoc"


def test_a_key_documented_on_one_side_only_is_named() -> None:
    config = copy.deepcopy(project_config())
    del config["charts"]
    config["legacy"] = {"description": "a key the model dropped"}
    network = config["network"]["description"]
    config["network"]["description"] = network.replace("- azCount:", "- zoneCount:")
    assert configdoc.differences(config) == [
        "charts: in the model, not documented",
        "legacy: documented, not in the model",
        "network.azCount: in the model, not documented",
        "network.zoneCount: documented, not in the model",
    ]


def test_nested_keys_are_listed_with_their_paths() -> None:
    assert configdoc.model_keys("nodePools")[:3] == [
        "<name>.instanceTypes",
        "<name>.minSize",
        "<name>.maxSize",
    ]
    assert "tenants[].adminPrincipals" in configdoc.model_keys("security")
    assert "subnetPrefixLengths.private" in configdoc.model_keys("network")
    assert configdoc.model_keys("charts") == []


def test_pulumi_yaml_config_stays_a_valid_project_schema() -> None:
    """Pulumi's project schema types a declaration as string, integer, boolean or array
    only; object keys carry just a description. team and costCenter default for every
    stack, as the CLI and tools/stackconfig.py read them."""
    for key, entry in project_config().items():
        assert set(entry) <= {"type", "description", "default"}, key
        assert entry.get("type", "string") == "string", key
        assert isinstance(entry["description"], str), key
    defaults = {k: e["default"] for k, e in project_config().items() if "default" in e}
    assert defaults == {"team": "platform-sre", "costCenter": "agent-factory"}
    assert load_stack_config(ROOT, "dev").get("agent-factory:costCenter") == "agent-factory"


def test_configdoc_check_fails_on_a_stale_file_and_regenerates_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = (ROOT / "Pulumi.yaml").read_text().replace("  charts:", "  chartz:")
    (tmp_path / "Pulumi.yaml").write_text(stale)
    assert configdoc.main(["--check"], root=tmp_path) == 1
    err = capsys.readouterr().err
    assert "charts: in the model, not documented" in err
    assert "chartz: documented, not in the model" in err
    assert configdoc.main([], root=tmp_path) == 0
    assert (tmp_path / "Pulumi.yaml").read_text() == (ROOT / "Pulumi.yaml").read_text()
    assert configdoc.main(["--check"], root=tmp_path) == 0

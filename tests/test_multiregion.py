"""Multi-region: prod (primary), prod-us-west-2 and prod-eu-west-1 (secondaries).

StackReferences are answered from the referenced stack's own file (tools/references.py),
so what a secondary reads is checked against what the primary's plan really creates.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.multiregion.crossstack import ReplicationTarget
from components.settings import SettingsError, load_settings
from tests.conftest import REGIONS, SERVICES, STACKS, by_name, synth_with, with_overrides
from tools.references import from_stack_files
from tools.stackconfig import load_stack_config, stack_settings
from tools.synth import ROOT, Plan, SynthError, synth_config

PRIMARY = "prod"
SECONDARIES = ("prod-us-west-2", "prod-eu-west-1")
PROD_STACKS = (PRIMARY, *SECONDARIES)
RDS = "aws:rds/instance:Instance"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
RECORD = "aws:route53/record:Record"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
STACK_REFERENCE = "pulumi:pulumi:StackReference"


def settings_of(stack: str) -> Any:
    return stack_settings(ROOT, stack)


def raw(environment: str = "prod", **objects: Any) -> dict[str, Any]:
    """Config values as Pulumi hands them to the program (objects JSON-encoded)."""
    values = {
        "environment": environment,
        "team": "platform-sre",
        "costCenter": "agent-factory",
        "account": environment,
    }
    if "primaryStack" not in objects.get("multiRegion", {}):
        objects = {"services": SERVICES, **objects}
    return values | {key: json.dumps(value) for key, value in objects.items()}


def state(plan: Plan, urn: str) -> dict[str, Any]:
    return plan.states[urn]


def resource_named(plan: Plan, type_: str, name: str) -> Any:
    return by_name(plan, type_)[name]


def kms_key_arn(plan: Plan, stack: str, purpose: str) -> str:
    key = resource_named(plan, "aws:kms/key:Key", f"{stack}-keys-{purpose}")
    return str(state(plan, key.urn)["arn"])


# -- stacks and settings ------------------------------------------------------------


def test_prod_stacks_exist_in_three_regions() -> None:
    assert set(PROD_STACKS) <= set(STACKS)
    assert {REGIONS[s] for s in PROD_STACKS} == {"us-east-1", "us-west-2", "eu-west-1"}
    assert settings_of(PRIMARY).role == "primary"
    for stack in SECONDARIES:
        settings = settings_of(stack)
        assert settings.role == "secondary"
        assert settings.multi_region.primary_stack == PRIMARY
        assert settings.environment == "prod"
    assert settings_of(PRIMARY).multi_region.secondary_stacks == list(SECONDARIES)


def test_no_two_stacks_share_address_space() -> None:
    networks = {stack: settings_of(stack).network.vpc_network for stack in STACKS}
    for (a, net_a), (b, net_b) in itertools.combinations(networks.items(), 2):
        assert not net_a.overlaps(net_b), f"{a} {net_a} overlaps {b} {net_b}"


def stack_file_config(stack: str, root: Path = ROOT) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((root / f"Pulumi.{stack}.yaml").read_text())["config"]
    return config


def tenant_namespaces(plan: Plan) -> dict[str, str]:
    """Tenant namespace -> its tier, as the plan creates them."""
    return {
        r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"]["agent-factory.io/tier"]
        for r in plan.by_type("kubernetes:core/v1:Namespace")
        if r.inputs["metadata"]["name"].startswith("tenant-")
    }


def test_every_region_serves_the_same_tenants(plan_of: Callable[[str], Plan]) -> None:
    """Latency routing sends a tenant to any region: the list lives once, in the primary's
    stack file, and every secondary creates the same tenants from it."""
    listed = stack_file_config(PRIMARY)["agent-factory:security"]["tenants"]
    assert len(listed) == 10
    for stack in SECONDARIES:
        assert "tenants" not in stack_file_config(stack).get("agent-factory:security", {})
    for stack in PROD_STACKS:
        tenants = settings_of(stack).security.tenants
        assert [t.model_dump(by_alias=True, exclude_defaults=True) for t in tenants] == listed
    expected = {f"tenant-{t['name']}": t["tier"] for t in listed}
    for stack in PROD_STACKS:
        assert tenant_namespaces(plan_of(stack)) == expected, stack


SECONDARY = {
    "dataStores": {"postgres": {"readReplicas": 0}},
    "multiRegion": {"role": "secondary", "primaryStack": "main"},
}


def test_a_secondary_serves_the_tenants_of_its_primary_file(tmp_path: Path) -> None:
    tenants = [{"name": "acme", "tier": "large"}, {"name": "globex", "tier": "small"}]
    primary = {
        "config": {
            "agent-factory:security": {"tenants": tenants},
            "agent-factory:services": SERVICES,
        }
    }
    (tmp_path / "Pulumi.main.yaml").write_text(yaml.safe_dump(primary))
    for reference in ("main", "organization/agent-factory/main"):
        objects = SECONDARY | {"multiRegion": {"role": "secondary", "primaryStack": reference}}
        settings = load_settings("edge", "us-west-2", raw(**objects), stack_dir=tmp_path)
        assert [(t.name, t.tier) for t in settings.security.tenants] == [
            ("acme", "large"),
            ("globex", "small"),
        ]


def test_a_secondary_runs_its_primarys_images() -> None:
    assert settings_of("prod-eu-west-1").services.images == settings_of("prod").services.images
    values = raw(**SECONDARY, services=SERVICES)
    with pytest.raises(SettingsError) as error:
        load_settings("edge", "us-west-2", values)
    assert str(error.value) == (
        "agent-factory:services.images: a secondary runs the release of its primary main; "
        "promote images in Pulumi.main.yaml only"
    )


def test_a_secondary_may_not_list_tenants_of_its_own() -> None:
    values = raw(**SECONDARY, security={"tenants": [{"name": "acme", "tier": "small"}]})
    with pytest.raises(SettingsError) as error:
        load_settings("edge", "us-west-2", values)
    assert str(error.value) == (
        "agent-factory:security.tenants: a secondary serves the tenants of its primary main; "
        "list them in Pulumi.main.yaml only"
    )


@pytest.mark.parametrize(
    ("reference", "fragment"),
    [
        ("main", "cannot read this secondary's security.tenants from Pulumi.main.yaml"),
        ("acme/billing/main", "acme/billing/main is in another project"),
    ],
)
def test_a_primary_file_the_secondary_cannot_read_names_the_key(
    tmp_path: Path, reference: str, fragment: str
) -> None:
    objects = SECONDARY | {"multiRegion": {"role": "secondary", "primaryStack": reference}}
    with pytest.raises(SettingsError) as error:
        load_settings("edge", "us-west-2", raw(**objects), stack_dir=tmp_path)
    assert str(error.value).startswith("agent-factory:multiRegion.primaryStack: ")
    assert fragment in str(error.value)


def test_secondary_without_primary_reference_fails_clearly() -> None:
    values = raw(multiRegion={"role": "secondary"})
    with pytest.raises(SettingsError) as error:
        load_settings("prod-us-west-2", "us-west-2", values)
    assert str(error.value) == (
        "agent-factory:multiRegion.primaryStack: a secondary region needs the stack it "
        "replicates from (e.g. prod)"
    )
    with pytest.raises(SynthError, match=r"multiRegion\.primaryStack"):
        synth_with("prod-us-west-2", multiRegion={"role": "secondary"})


@pytest.mark.parametrize(
    ("multi_region", "key", "fragment"),
    [
        ({"role": "primary", "primaryStack": "prod"}, "multiRegion.primaryStack", "does not"),
        ({"role": "secondary", "primaryStack": "prod", "secondaryStacks": ["x"]},
         "multiRegion.secondaryStacks", "only the primary"),
        ({"role": "secondary", "primaryStack": "prod-us-west-2"},
         "multiRegion.primaryStack", "itself"),
        ({"role": "primary", "secondaryStacks": ["a", "a"]},
         "multiRegion.secondaryStacks", "twice"),
        ({"role": "primary", "promoteDatabase": True}, "multiRegion.promoteDatabase", "secondary"),
        ({"role": "primary", "replicateBackups": True},
         "multiRegion.replicateBackups", "secondary"),
        ({"role": "primary", "primaryStack": "bad name!"},
         "multiRegion.primaryStack", "stack name"),
        ({"role": "primary", "healthCheckPath": "healthz"}, "multiRegion.healthCheckPath", "path"),
        ({"role": "tertiary"}, "multiRegion.role", "tertiary"),
    ],
)  # fmt: skip
def test_invalid_multi_region_settings_name_the_key(
    multi_region: dict[str, Any], key: str, fragment: str
) -> None:
    values = raw(multiRegion=multi_region)
    with pytest.raises(SettingsError) as error:
        load_settings("prod-us-west-2", "us-west-2", values)
    assert str(error.value).startswith(f"agent-factory:{key}: ")
    assert fragment in str(error.value)


def test_a_secondary_database_has_no_cascading_replicas() -> None:
    values = raw(
        dataStores={"postgres": {"readReplicas": 2}},
        multiRegion={"role": "secondary", "primaryStack": "prod"},
    )
    with pytest.raises(SettingsError, match=r"^agent-factory:dataStores\.postgres\.readReplicas"):
        load_settings("prod-us-west-2", "us-west-2", values)


def test_global_datastore_needs_a_production_node_type() -> None:
    values = raw(
        "dev",
        dataStores={"cache": {"nodeType": "cache.t4g.small"}},
        multiRegion={"role": "primary", "cacheGlobalDatastore": True},
    )
    with pytest.raises(SettingsError, match=r"^agent-factory:dataStores\.cache\.nodeType"):
        load_settings("dev", "us-east-1", values)


MULTI_REGION_PARTS = ("PublicZone", "GlobalRouting", "BucketReplication")
EXPECTED_PARTS = {
    "dev": (0, 0, 0),
    "staging": (0, 0, 0),
    PRIMARY: (1, 1, 1),
    **{stack: (0, 1, 0) for stack in SECONDARIES},
}


@pytest.mark.parametrize("stack", STACKS)
def test_which_stack_builds_which_multi_region_part(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    plan = plan_of(stack)
    counts = tuple(len(plan.by_type(f"agentfactory:platform:{c}")) for c in MULTI_REGION_PARTS)
    assert counts == EXPECTED_PARTS[stack]


def test_workflows_run_every_stack_and_deploy_the_primary_first() -> None:
    matrices = {}
    for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        for job_name, job in yaml.safe_load(path.read_text())["jobs"].items():
            stacks = job.get("strategy", {}).get("matrix", {}).get("stack")
            if stacks is not None:
                matrices[f"{path.name}:{job_name}"] = stacks
    assert matrices
    for where, stacks in matrices.items():
        assert sorted(stacks) == sorted(STACKS), where
        assert all(stacks.index(PRIMARY) < stacks.index(s) for s in SECONDARIES), where


# -- database -------------------------------------------------------------------------


@pytest.mark.parametrize("stack", SECONDARIES)
def test_secondary_database_replicates_the_primary_from_the_reference(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    plan, primary_plan = plan_of(stack), plan_of(PRIMARY)
    (reference,) = [r for r in plan.reads if r.type == STACK_REFERENCE]
    assert reference.inputs["name"] == f"organization/agent-factory/{PRIMARY}"

    primary_db = resource_named(primary_plan, RDS, f"{PRIMARY}-data-postgres")
    replica = resource_named(plan, RDS, f"{stack}-data-postgres")
    # The ARN the secondary read is the ARN the primary's instance gets.
    assert replica.inputs["replicateSourceDb"] == state(primary_plan, primary_db.urn)["arn"]
    assert replica.inputs["replicateSourceDb"].startswith("arn:aws:rds:us-east-1:")
    # Its own key and parameter group, in its own region.
    region = REGIONS[stack]
    assert replica.inputs["kmsKeyId"] == kms_key_arn(plan, stack, "data")
    assert f":kms:{region}:" in replica.inputs["kmsKeyId"]
    params = resource_named(
        plan, "aws:rds/parameterGroup:ParameterGroup", f"{stack}-data-postgres-params"
    )
    assert replica.inputs["parameterGroupName"] == state(plan, params.urn)["name"]
    assert {"name": "rds.force_ssl", "value": "1", "applyMethod": "pending-reboot"} in (
        params.inputs["parameters"]
    )
    assert replica.inputs["multiAz"] is True
    assert replica.inputs["storageEncrypted"] is True
    assert replica.protect and replica.inputs["deletionProtection"] is True
    # A replica inherits engine, storage and users; setting them is an API error.
    for inherited in ("engineVersion", "allocatedStorage", "username", "dbName"):
        assert inherited not in replica.inputs
    assert len(plan.by_type(RDS)) == 1


@pytest.mark.parametrize("stack", SECONDARIES)
def test_replica_lag_is_alarmed_in_every_secondary(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    alarms = by_name(plan_of(stack), "aws:cloudwatch/metricAlarm:MetricAlarm")
    lag = alarms[f"{stack}-observability-rds-primary-lag"]
    assert lag.inputs["metricName"] == "ReplicaLag"
    assert lag.inputs["dimensions"] == {"DBInstanceIdentifier": f"agent-factory-{stack}-postgres"}
    assert f"{PRIMARY}-observability-rds-primary-lag" not in by_name(
        plan_of(PRIMARY), "aws:cloudwatch/metricAlarm:MetricAlarm"
    )


def test_the_failover_region_also_keeps_the_primary_backups(
    plan_of: Callable[[str], Plan],
) -> None:
    kind = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
    primary = plan_of(PRIMARY)
    primary_db = resource_named(primary, RDS, f"{PRIMARY}-data-postgres")
    (copy,) = plan_of("prod-us-west-2").by_type(kind)
    # Point-in-time restore in us-west-2 even after a bad write reached the replica.
    assert copy.inputs["sourceDbInstanceArn"] == state(primary, primary_db.urn)["arn"]
    assert copy.inputs["kmsKeyId"] == kms_key_arn(
        plan_of("prod-us-west-2"), "prod-us-west-2", "data"
    )
    assert copy.inputs["retentionPeriod"] == primary_db.inputs["backupRetentionPeriod"] == 30
    assert copy.protect
    assert not plan_of("prod-eu-west-1").by_type(kind)
    assert not primary.by_type(kind)


def test_promoting_a_secondary_makes_it_a_writer() -> None:
    plan = synth_with(
        "prod-us-west-2",
        multiRegion={"role": "secondary", "primaryStack": "prod", "promoteDatabase": True},
    )
    writer = resource_named(plan, RDS, "prod-us-west-2-data-postgres")
    assert "replicateSourceDb" not in writer.inputs
    assert writer.inputs["backupRetentionPeriod"] == 30
    assert writer.inputs["manageMasterUserPassword"] is True
    assert writer.inputs["finalSnapshotIdentifier"] == "agent-factory-prod-us-west-2-postgres-final"
    # Same URN as the replica: promotion is an update, never a replacement.
    assert writer.urn.endswith("::prod-us-west-2-data-postgres")
    assert "postgresMasterSecretArn" in plan.outputs
    # Its services now write locally: no remote writer, one dbuser (its own instance).
    from tests.test_writepath import database_statements, platform_values

    assert "writer" not in platform_values(plan)["global"]["dataStores"]["postgres"]
    resource_id = state(plan, writer.urn)["resourceId"]
    assert set(database_statements(plan).values()) == {
        f"arn:aws:rds-db:us-west-2:123456789012:dbuser:{resource_id}/agent_factory"
    }


# -- object storage -------------------------------------------------------------------


def test_primary_replicates_audit_logs_and_backups_to_each_secondary(
    plan_of: Callable[[str], Plan],
) -> None:
    plan = plan_of(PRIMARY)
    configs = by_name(plan, REPLICATION)
    assert set(configs) == {f"{PRIMARY}-replication-audit-logs", f"{PRIMARY}-replication-backups"}
    for purpose in ("audit-logs", "backups"):
        config = configs[f"{PRIMARY}-replication-{purpose}"]
        source = resource_named(plan, "aws:s3/bucket:Bucket", f"{PRIMARY}-data-{purpose}")
        assert config.inputs["bucket"] == state(plan, source.urn)["id"]
        rules = config.inputs["rules"]
        assert [r["id"] for r in rules] == [f"{purpose}-to-{REGIONS[s]}" for s in SECONDARIES]
        assert sorted(r["priority"] for r in rules) == [1, 2]
        for rule, stack in zip(rules, SECONDARIES, strict=True):
            secondary = plan_of(stack)
            target = resource_named(secondary, "aws:s3/bucket:Bucket", f"{stack}-data-{purpose}")
            destination = rule["destination"]
            assert destination["bucket"] == state(secondary, target.urn)["arn"]
            # Re-encrypted with the secondary's own S3 key, in the secondary's region.
            key = destination["encryptionConfiguration"]["replicaKmsKeyId"]
            assert key == kms_key_arn(secondary, stack, "s3")
            assert f":kms:{REGIONS[stack]}:" in key
            assert rule["sourceSelectionCriteria"]["sseKmsEncryptedObjects"]["status"] == "Enabled"
            assert rule["sourceSelectionCriteria"]["replicaModifications"]["status"] == "Enabled"
            # WORM data: deleting in the primary never deletes the copies.
            assert rule["deleteMarkerReplication"]["status"] == "Disabled"
            assert destination["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15}}
            assert destination["metrics"]["status"] == "Enabled"
        # Versioning (inside the SecureBucket) and the role's policy come first.
        assert any(dep.endswith(f"::{PRIMARY}-data-{purpose}") for dep in config.dependencies)


def test_replication_role_reads_sources_and_writes_only_to_the_secondaries(
    plan_of: Callable[[str], Plan],
) -> None:
    plan = plan_of(PRIMARY)
    policy = json.loads(
        resource_named(
            plan, "aws:iam/rolePolicy:RolePolicy", f"{PRIMARY}-replication-policy"
        ).inputs["policy"]
    )
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["DecryptSource"]["Resource"] == kms_key_arn(plan, PRIMARY, "s3")
    for stack in SECONDARIES:
        sid = "".join(p.capitalize() for p in REGIONS[stack].split("-"))
        write = statements[f"WriteReplicas{sid}"]
        assert set(write["Action"]) == {"s3:ReplicateObject", "s3:ReplicateTags"}
        assert all(f"agent-factory-{stack}-" in arn for arn in write["Resource"])
        encrypt = statements[f"EncryptReplicas{sid}"]
        assert encrypt["Resource"] == kms_key_arn(plan_of(stack), stack, "s3")
        assert encrypt["Condition"]["StringEquals"]["kms:ViaService"] == (
            f"s3.{REGIONS[stack]}.amazonaws.com"
        )
    trust = json.loads(
        resource_named(plan, "aws:iam/role:Role", f"{PRIMARY}-replication-role").inputs[
            "assumeRolePolicy"
        ]
    )
    assert trust["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}


@pytest.mark.parametrize("stack", SECONDARIES)
def test_secondaries_publish_their_target_and_do_not_replicate(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    plan = plan_of(stack)
    assert not plan.by_type(REPLICATION)
    target = plan.outputs["replicationTarget"]
    assert (
        target == from_stack_files(ROOT)(f"organization/agent-factory/{stack}")["replicationTarget"]
    )


def test_a_malformed_replication_target_names_the_stack_and_the_gap() -> None:
    assert ReplicationTarget.from_output("org/p/prod-us-west-2", None) is None
    with pytest.raises(ValueError, match=r"stack org/p/prod-us-west-2: replicationTarget lacks"):
        ReplicationTarget.from_output("org/p/prod-us-west-2", {"region": "us-west-2"})


def test_primary_skips_a_secondary_that_is_not_deployed_yet() -> None:
    deployed = from_stack_files(ROOT)

    def only_us_west(stack: str) -> dict[str, Any] | None:
        return None if stack.endswith("/prod-eu-west-1") else deployed(stack)

    plan = synth_config(load_stack_config(ROOT, PRIMARY), stack_outputs=only_us_west)
    for config in plan.by_type(REPLICATION):
        assert [r["destination"]["bucket"].split(":::")[1] for r in config.inputs["rules"]] == [
            f"agent-factory-prod-us-west-2-{config.name.split('-replication-')[1]}-123456789012"
        ]


def test_primary_without_any_deployed_secondary_says_what_to_do() -> None:
    with pytest.raises(SynthError) as error:
        synth_config(load_stack_config(ROOT, PRIMARY), stack_outputs=lambda _stack: None)
    message = str(error.value)
    assert message.startswith("agent-factory:multiRegion.secondaryStacks: none of ")
    assert "docs/multi-region.md" in message


def test_secondary_before_the_primary_is_deployed_fails_with_the_stack_name() -> None:
    with pytest.raises(SynthError) as error:
        synth_config(load_stack_config(ROOT, "prod-eu-west-1"), stack_outputs=lambda _s: None)
    # The first output of the contract the secondary reads (Network needs prod's subnets).
    assert re.match(
        r"stack organization/agent-factory/prod has no output '\w+': deploy it first ",
        str(error.value),
    )


def test_overlapping_secondary_cidr_fails_against_the_primary() -> None:
    with pytest.raises(SynthError) as error:
        synth_with("prod-us-west-2", network={"vpcCidr": "10.0.128.0/17"})
    assert str(error.value) == (
        "agent-factory:network.vpcCidr: 10.0.128.0/17 overlaps 10.0.0.0/16 of "
        "organization/agent-factory/prod"
    )


# -- routing --------------------------------------------------------------------------


def test_primary_owns_the_zone_and_secondaries_use_it(plan_of: Callable[[str], Plan]) -> None:
    primary = plan_of(PRIMARY)
    (zone,) = primary.by_type("aws:route53/zone:Zone")
    assert zone.inputs["name"] == "greenlang.ai"
    assert zone.protect and zone.retain_on_delete
    zone_id = state(primary, zone.urn)["zoneId"]
    assert primary.outputs["hostedZoneId"] == zone_id
    for stack in PROD_STACKS:
        plan = plan_of(stack)
        if stack != PRIMARY:
            assert not plan.by_type("aws:route53/zone:Zone")
        assert {r.inputs["zoneId"] for r in plan.by_type(RECORD)} == {zone_id}
        # cert-manager solves DNS-01 in the same zone.
        (issuer,) = [r for r in plan.resources if r.name.endswith("-cluster-issuer")]
        solver = issuer.inputs["spec"]["acme"]["solvers"][0]["dns01"]["route53"]
        assert solver == {"region": REGIONS[stack], "hostedZoneID": zone_id}


def test_an_existing_zone_is_looked_up_not_created() -> None:
    plan = synth_with(PRIMARY, security={"hostedZoneId": "Z0EXISTING"})
    assert not plan.by_type("aws:route53/zone:Zone")
    assert {r.inputs["zoneId"] for r in plan.by_type(RECORD)} == {"Z0EXISTING"}
    with pytest.raises(SynthError, match=r"zone Z0EXISTING is greenlang\.ai\., not example\.com"):
        synth_with(PRIMARY, security={"hostedZoneId": "Z0EXISTING", "domain": "example.com"})


def test_the_primary_zone_is_signed_with_dnssec(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of(PRIMARY)
    (zone,) = plan.by_type("aws:route53/zone:Zone")
    zone_id = state(plan, zone.urn)["zoneId"]
    key = resource_named(plan, "aws:kms/key:Key", "prod-zone-dnssec")
    # Route 53 signs only with an asymmetric P-256 key in us-east-1.
    assert key.inputs["customerMasterKeySpec"] == "ECC_NIST_P256"
    assert key.inputs["keyUsage"] == "SIGN_VERIFY"
    assert state(plan, key.urn)["arn"].startswith("arn:aws:kms:us-east-1:")
    assert key.protect
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    signs = statements["Route53DnssecSigns"]
    assert signs["Principal"] == {"Service": "dnssec-route53.amazonaws.com"}
    assert set(signs["Action"]) == {"kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"}
    assert signs["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": f"arn:aws:route53:::hostedzone/{zone_id}"},
    }
    grants = statements["Route53DnssecGrants"]
    assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    (ksk,) = plan.by_type("aws:route53/keySigningKey:KeySigningKey")
    assert ksk.inputs["hostedZoneId"] == zone_id
    assert ksk.inputs["keyManagementServiceArn"] == state(plan, key.urn)["arn"]
    assert ksk.inputs["status"] == "ACTIVE"
    (signing,) = plan.by_type("aws:route53/hostedZoneDnsSec:HostedZoneDnsSec")
    assert signing.inputs["signingStatus"] == "SIGNING"
    assert ksk.urn in signing.dependencies
    # Signing is only trusted once the parent zone publishes the DS record.
    (owner,) = plan.by_type("agentfactory:platform:PublicZone")
    (prerequisite,) = owner.outputs["prerequisites"]
    assert "DS record" in prerequisite["what"]
    assert "dsRecord" in prerequisite["how"]
    for stack in SECONDARIES:
        assert not plan_of(stack).by_type("aws:route53/keySigningKey:KeySigningKey")


def test_the_primary_zone_logs_its_queries(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of(PRIMARY)
    (zone,) = plan.by_type("aws:route53/zone:Zone")
    zone_id = state(plan, zone.urn)["zoneId"]
    group = resource_named(plan, "aws:cloudwatch/logGroup:LogGroup", "prod-zone-query-logs")
    group_arn = state(plan, group.urn)["arn"]
    assert group.inputs["name"] == "/aws/route53/greenlang.ai"
    assert group_arn.startswith("arn:aws:logs:us-east-1:")
    assert group.inputs["kmsKeyId"] == kms_key_arn(plan, PRIMARY, "logs")
    assert group.inputs["retentionInDays"] == 365
    policy = resource_named(
        plan, "aws:cloudwatch/logResourcePolicy:LogResourcePolicy", "prod-zone-query-logs-policy"
    )
    (statement,) = json.loads(policy.inputs["policyDocument"])["Statement"]
    assert statement["Principal"] == {"Service": "route53.amazonaws.com"}
    assert statement["Resource"] == f"{group_arn}:*"
    assert statement["Condition"]["ArnLike"] == {
        "aws:SourceArn": f"arn:aws:route53:::hostedzone/{zone_id}"
    }
    (query_log,) = plan.by_type("aws:route53/queryLog:QueryLog")
    assert (query_log.inputs["zoneId"], query_log.inputs["cloudwatchLogGroupArn"]) == (
        zone_id,
        group_arn,
    )
    assert policy.urn in query_log.dependencies


def test_a_looked_up_zone_leaves_signing_and_logging_to_its_owner() -> None:
    plan = synth_with(PRIMARY, security={"hostedZoneId": "Z0EXISTING"})
    assert not plan.by_type("aws:route53/keySigningKey:KeySigningKey")
    assert not plan.by_type("aws:route53/queryLog:QueryLog")
    (owner,) = plan.by_type("agentfactory:platform:PublicZone")
    (prerequisite,) = owner.outputs["prerequisites"]
    assert "Z0EXISTING" in prerequisite["what"]


def test_the_zone_owner_must_run_in_us_east_1() -> None:
    config = with_overrides(PRIMARY)
    values = dict(config.values) | {"aws:region": "us-west-2"}
    moved = type(config)(config.project, config.stack, values, config.secret_keys)
    with pytest.raises(SynthError, match=r"DNSSEC key and query logs must be in us-east-1"):
        synth_config(moved)


@pytest.mark.parametrize("stack", PROD_STACKS)
def test_each_region_owns_one_health_check_and_one_latency_record(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    plan, region = plan_of(stack), REGIONS[stack]
    (check,) = plan.by_type(HEALTH_CHECK)
    regional_name = f"api-{region}.greenlang.ai"
    assert check.inputs["fqdn"] == regional_name
    assert (check.inputs["type"], check.inputs["port"]) == ("HTTPS", 443)
    assert check.inputs["resourcePath"] == "/healthz"
    assert check.inputs["requestInterval"] * check.inputs["failureThreshold"] <= 30
    assert len(check.inputs["regions"]) >= 3

    records = {n: r for n, r in by_name(plan, RECORD).items() if "-routing-" in n}
    assert set(records) == {f"{stack}-routing-regional", f"{stack}-routing-latency"}
    latency = records[f"{stack}-routing-latency"]
    assert latency.inputs["name"] == "api.greenlang.ai"
    assert latency.inputs["setIdentifier"] == region
    assert latency.inputs["latencyRoutingPolicies"] == [{"region": region}]
    assert latency.inputs["healthCheckId"] == state(plan, check.urn)["id"]
    regional = records[f"{stack}-routing-regional"]
    assert regional.inputs["name"] == regional_name
    # Both point at this region's ingress NLB, read from the controller's Service.
    (service,) = [r for r in plan.reads if r.type == "kubernetes:core/v1:Service"]
    assert service.id == "ingress-nginx/ingress-nginx-controller"
    hostname = state(plan, service.urn)["status"]["loadBalancer"]["ingress"][0]["hostname"]
    for record in (latency, regional):
        (alias,) = record.inputs["aliases"]
        assert alias["name"] == hostname and f".elb.{region}." in hostname
        assert alias["evaluateTargetHealth"] is True
    assert plan.outputs["regionalApiHostname"] == regional_name


def test_set_identifiers_never_collide_across_regions(plan_of: Callable[[str], Plan]) -> None:
    identifiers = [
        r.inputs["setIdentifier"]
        for stack in PROD_STACKS
        for r in plan_of(stack).by_type(RECORD)
        if "setIdentifier" in r.inputs
    ]
    assert sorted(identifiers) == sorted(REGIONS[s] for s in PROD_STACKS)


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_single_region_stacks_have_no_global_routing(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    plan = plan_of(stack)
    assert not plan.by_type(RECORD) and not plan.by_type(HEALTH_CHECK)
    assert not plan.by_type(REPLICATION)
    assert not [r for r in plan.reads if r.type == STACK_REFERENCE]


PROBE = "kubernetes:monitoring.coreos.com/v1:Probe"


@pytest.mark.parametrize(
    ("stack", "watched"),
    [
        (PRIMARY, ["us-west-2", "eu-west-1"]),
        ("prod-us-west-2", ["us-east-1"]),
        ("prod-eu-west-1", ["us-east-1"]),
    ],
)
def test_regions_watch_each_other_so_a_dead_region_still_pages(
    plan_of: Callable[[str], Plan], stack: str, watched: list[str]
) -> None:
    plan = plan_of(stack)
    (probe,) = plan.by_type(PROBE)
    spec = probe.inputs["spec"]
    assert spec["targets"]["staticConfig"]["static"] == [
        f"https://api-{region}.greenlang.ai/healthz" for region in watched
    ]
    assert spec["jobName"] == "peer-regions" and spec["module"] == "http_2xx"
    assert probe.inputs["metadata"]["namespace"] == "monitoring"
    exporter = by_name(plan, "kubernetes:helm.sh/v3:Release")[
        f"{stack}-observability-blackbox-exporter"
    ]
    assert spec["prober"]["url"].startswith(
        f"{exporter.inputs['values']['fullnameOverride']}.monitoring.svc:"
    )
    security = exporter.inputs["values"]["securityContext"]
    assert security["runAsNonRoot"] and not security["allowPrivilegeEscalation"]
    assert security["capabilities"] == {"drop": ["ALL"]}
    rules = [r for r in plan.resources if r.name == f"{stack}-observability-rules-regions"]
    (alert,) = rules[0].inputs["spec"]["groups"][0]["rules"]
    assert alert["alert"] == "RegionUnreachable" and alert["labels"]["severity"] == "critical"
    assert 'job="peer-regions"' in alert["expr"]


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_single_region_stacks_probe_no_peers(plan_of: Callable[[str], Plan], stack: str) -> None:
    plan = plan_of(stack)
    assert not plan.by_type(PROBE)
    assert f"{stack}-observability-rules-regions" not in {r.name for r in plan.resources}


# -- cache and audit trail ------------------------------------------------------------


def test_global_datastore_links_secondary_caches_to_the_primary() -> None:
    multi = {"role": "primary", "secondaryStacks": list(SECONDARIES), "cacheGlobalDatastore": True}
    primary = synth_with(PRIMARY, multiRegion=multi)
    (group,) = primary.by_type("aws:elasticache/globalReplicationGroup:GlobalReplicationGroup")
    primary_cache = resource_named(
        primary, "aws:elasticache/replicationGroup:ReplicationGroup", f"{PRIMARY}-data-cache"
    )
    assert group.inputs["primaryReplicationGroupId"] == state(primary, primary_cache.urn)["id"]
    assert group.protect
    assert primary.outputs["cacheAuthToken"] == "[secret]"

    # The secondary reads the id the primary's plan exports (and a token: secret offline).
    deployed = from_stack_files(ROOT)

    def primary_with_global_cache(stack: str) -> dict[str, Any] | None:
        outputs = deployed(stack)
        if outputs is not None and stack.endswith(f"/{PRIMARY}"):
            outputs["cacheGlobalReplicationGroupId"] = primary.outputs[
                "cacheGlobalReplicationGroupId"
            ]
            outputs["cacheAuthToken"] = "offline-primary-token"
        return outputs

    config = with_overrides(
        "prod-us-west-2",
        multiRegion={"role": "secondary", "primaryStack": PRIMARY, "cacheGlobalDatastore": True},
    )
    secondary = synth_config(config, stack_outputs=primary_with_global_cache)
    caches = by_name(secondary, "aws:elasticache/replicationGroup:ReplicationGroup")
    member = caches["prod-us-west-2-data-cache"]
    assert (
        member.inputs["globalReplicationGroupId"]
        == state(primary, group.urn)["globalReplicationGroupId"]
    )
    # Engine, size, parameters, encryption and AUTH are the global datastore's.
    for inherited in ("engine", "engineVersion", "nodeType", "numNodeGroups", "authToken",
                      "parameterGroupName", "atRestEncryptionEnabled"):  # fmt: skip
        assert inherited not in member.inputs
    assert member.inputs["kmsKeyId"] == kms_key_arn(secondary, "prod-us-west-2", "data")
    assert member.inputs["replicasPerNodeGroup"] == 1
    # Clients in this region authenticate with the primary's token: none is generated here.
    passwords = by_name(secondary, "random:index/randomPassword:RandomPassword")
    assert "prod-us-west-2-data-cache-auth-token" not in passwords
    version = resource_named(
        secondary,
        "aws:secretsmanager/secretVersion:SecretVersion",
        "prod-us-west-2-data-cache-auth-version",
    )
    assert version.inputs["secretString"] == "[secret]"


def test_only_the_primary_records_every_region_in_cloudtrail(
    plan_of: Callable[[str], Plan],
) -> None:
    (trail,) = plan_of(PRIMARY).by_type("aws:cloudtrail/trail:Trail")
    assert trail.inputs["isMultiRegionTrail"] is True
    for stack in SECONDARIES:
        assert not plan_of(stack).by_type("aws:cloudtrail/trail:Trail")
        # GuardDuty is regional: every region keeps its own detector.
        assert len(plan_of(stack).by_type("aws:guardduty/detector:Detector")) == 1


def test_vpc_cidr_is_exported_for_the_overlap_check(plan_of: Callable[[str], Plan]) -> None:
    for stack in PROD_STACKS:
        cidr = plan_of(stack).outputs["vpcCidr"]
        assert ipaddress.ip_network(cidr) == settings_of(stack).network.vpc_network

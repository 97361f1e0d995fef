"""Writes from a secondary region: its services read the local replica and write to the
primary's writer, over the private path, with IAM authentication on both.

The secondaries' plans read prod's outputs from its stack file (tools/references.py); what
they carry is checked against prod's own plan (its instance's address and resource id).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from components.multiregion.crossstack import dbuser_arn
from tests.test_multiregion import PRIMARY, SECONDARIES, resource_named, state
from tests.test_services import platform_values, rendered
from tools.synth import Plan

RDS = "aws:rds/instance:Instance"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
USER = "agent_factory"
# charts/agent-factory/values.yaml: the workloads with uses.postgres.
POSTGRES_USERS = {"agent-factory", "agent-registry", "agent-runtime", "worker"}


def database(plan: Plan, stack: str) -> dict[str, Any]:
    return state(plan, resource_named(plan, RDS, f"{stack}-data-postgres").urn)


def database_statements(plan: Plan) -> dict[str, Any]:
    """Workload role policy name -> its DatabaseIamAuth statement's Resource."""
    found = {}
    for policy in plan.by_type(ROLE_POLICY):
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            if statement.get("Sid") == "DatabaseIamAuth":
                assert statement["Action"] == "rds-db:connect"
                found[policy.name] = statement["Resource"]
    return found


def postgres_egress(policy: dict[str, Any]) -> list[tuple[list[str], int]]:
    return [
        (sorted(peer["ipBlock"]["cidr"] for peer in rule["to"]), rule["ports"][0]["port"])
        for rule in policy["spec"]["egress"]
        if [p["port"] for p in rule.get("ports", [])] == [5432]
    ]


def test_dbuser_arn_takes_partition_region_and_account_from_the_instance() -> None:
    arn = "arn:aws-us-gov:rds:us-gov-west-1:210987654321:db:agent-factory-prod-postgres"
    assert dbuser_arn(arn, "db-ABC", USER) == (
        "arn:aws-us-gov:rds-db:us-gov-west-1:210987654321:dbuser:db-ABC/agent_factory"
    )
    with pytest.raises(ValueError, match="not the ARN of an RDS DB instance"):
        dbuser_arn("arn:aws:rds:us-east-1:123456789012:cluster:x", "db-ABC", USER)


@pytest.mark.parametrize("stack", SECONDARIES)
def test_a_secondarys_chart_reads_locally_and_writes_to_the_primarys_writer(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    primary, plan = plan_of(PRIMARY), plan_of(stack)
    writer, replica = database(primary, PRIMARY), database(plan, stack)
    postgres = platform_values(plan)["global"]["dataStores"]["postgres"]
    prod_data = platform_values(primary)["global"]["dataStores"]["postgres"]["cidrs"]
    assert postgres["host"] == replica["address"] != writer["address"]
    assert postgres["writer"] == {
        "host": writer["address"],
        "region": "us-east-1",
        "port": 5432,
        "cidrs": prod_data,
    }
    assert all(cidr.startswith("10.0.") for cidr in prod_data)
    configs = rendered(plan, CONFIG_MAP)
    for workload in POSTGRES_USERS:
        data = configs[workload]["data"]
        assert data["DATABASE_HOST"] == replica["address"]
        assert data["DATABASE_WRITER_HOST"] == writer["address"]
        assert data["DATABASE_WRITER_PORT"] == "5432"
        assert data["DATABASE_WRITER_REGION"] == "us-east-1"
    policies = rendered(plan, NETPOL)
    for workload, policy in policies.items():
        egress = postgres_egress(policy)
        if workload in POSTGRES_USERS:
            # Its own replica, and prod's writer through the Transit Gateway.
            assert egress == [(sorted(postgres["cidrs"]), 5432), (sorted(prod_data), 5432)]
        else:
            assert egress == []


@pytest.mark.parametrize("stack", SECONDARIES)
def test_a_secondarys_roles_connect_to_its_replica_and_to_the_primarys_writer(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    primary, plan = plan_of(PRIMARY), plan_of(stack)
    writer, replica = database(primary, PRIMARY), database(plan, stack)
    region = plan.outputs["region"]
    expected = [
        f"arn:aws:rds-db:{region}:123456789012:dbuser:{replica['resourceId']}/{USER}",
        f"arn:aws:rds-db:us-east-1:123456789012:dbuser:{writer['resourceId']}/{USER}",
    ]
    statements = database_statements(plan)
    assert set(statements) == {f"{stack}-security-{w}-policy" for w in POSTGRES_USERS}
    assert all(resources == expected for resources in statements.values())
    # The primary's own roles name the same writer ARN: one dbuser, both regions.
    assert set(database_statements(primary).values()) == {expected[1]}


def test_the_primary_writes_to_its_own_database(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of(PRIMARY)
    writer = database(plan, PRIMARY)
    postgres = platform_values(plan)["global"]["dataStores"]["postgres"]
    assert "writer" not in postgres
    assert postgres["host"] == writer["address"]
    for workload in POSTGRES_USERS:
        data = rendered(plan, CONFIG_MAP)[workload]["data"]
        assert data["DATABASE_WRITER_HOST"] == data["DATABASE_HOST"] == writer["address"]
        assert data["DATABASE_WRITER_REGION"] == "us-east-1"
        assert len(postgres_egress(rendered(plan, NETPOL)[workload])) == 1
    # What a secondary reads is what prod exports.
    assert plan.outputs["postgresEndpoint"] == writer["address"]
    assert plan.outputs["postgresResourceId"] == writer["resourceId"]
    assert plan.outputs["postgresPort"] == 5432

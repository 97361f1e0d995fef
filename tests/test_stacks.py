"""Every Pulumi.<stack>.yaml synthesizes; providers, tags and outputs hold across stacks."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.conftest import ENVIRONMENTS, REGIONS, STACKS, ancestors, synth_with
from tools.checks import StackPlan, check_global_names, run_checks
from tools.gate import run_gate
from tools.stackconfig import stack_settings
from tools.synth import ROOT, Plan

COMPONENTS = {
    "agentfactory:platform:Region": 1,
    "agentfactory:platform:Keys": 1,
    "agentfactory:platform:Network": 1,
    "agentfactory:platform:Cluster": 1,
    "agentfactory:platform:NodePools": 1,
    "agentfactory:platform:ClusterAddons": 1,
    "agentfactory:platform:DataStores": 1,
    "agentfactory:platform:SecureBucket": 5,
}


def test_the_three_first_stacks_exist() -> None:
    assert {"dev", "staging", "prod"} <= set(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_stack_synthesizes_a_full_region(plan_of: Callable[[str], Plan], stack: str) -> None:
    plan = plan_of(stack)
    for type_, count in COMPONENTS.items():
        assert len(plan.by_type(type_)) == count, type_
    assert len(plan.by_type("eks:index:Cluster")) == 1
    assert len(plan.by_type("aws:eks/nodeGroup:NodeGroup")) == 7


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_has_an_explicit_provider(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    plan = plan_of(stack)
    (aws_provider,) = plan.by_type("pulumi:providers:aws")
    (k8s_provider,) = plan.by_type("pulumi:providers:kubernetes")
    (random_provider,) = plan.by_type("pulumi:providers:random")
    for resource in plan.resources:
        if resource.type.startswith("aws:"):
            assert resource.provider.startswith(aws_provider.urn + "::"), resource.urn
        elif resource.type.startswith("random:"):
            assert resource.provider.startswith(random_provider.urn + "::"), resource.urn
        elif resource.type.startswith("kubernetes:"):
            assert resource.provider.startswith(k8s_provider.urn + "::"), resource.urn
        elif resource.remote:
            assert resource.providers["aws"].startswith(aws_provider.urn + "::")


@pytest.mark.parametrize("stack", STACKS)
def test_provider_default_tags(plan_of: Callable[[str], Plan], stack: str) -> None:
    (provider,) = plan_of(stack).by_type("pulumi:providers:aws")
    assert provider.inputs["region"] == REGIONS[stack]
    tags = json.loads(provider.inputs["defaultTags"])["tags"]
    assert tags["Stack"] == stack
    assert tags["Environment"] == ENVIRONMENTS[stack]
    assert tags["ManagedBy"] == "pulumi"
    assert set(tags) == {"Project", "Environment", "Team", "CostCenter", "ManagedBy", "Stack"}


@pytest.mark.parametrize("stack", STACKS)
def test_children_live_under_the_region_and_derive_their_names(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    plan = plan_of(stack)
    for resource in plan.resources:
        if resource.type.startswith("pulumi:providers:") and resource.parent.endswith(
            f"pulumi:pulumi:Stack::agent-factory-{stack}"
        ):
            continue
        assert resource.name.startswith(stack), resource.name
        if resource.type != "agentfactory:platform:Region":
            assert "agentfactory:platform:Region" in ancestors(plan, resource), resource.urn


@pytest.mark.parametrize("stack", STACKS)
def test_stack_outputs(plan_of: Callable[[str], Plan], stack: str) -> None:
    outputs = plan_of(stack).outputs
    assert outputs["clusterName"] == f"agent-factory-{stack}"
    assert outputs["kubeconfig"] == "[secret]"
    assert outputs["vpcId"].startswith("vpc-")
    assert len(outputs["privateSubnetIds"]) == 3
    assert len(outputs["dataSubnetIds"]) == 3
    assert outputs["oidcProviderArn"].startswith("arn:aws:iam::123456789012:oidc-provider/")
    assert outputs["clusterSecurityGroupId"].startswith("sg-")


def test_synth_is_deterministic(plan_of: Callable[[str], Plan]) -> None:
    from tools.synth import synth

    again = synth("dev")
    assert json.dumps(again.to_json(), sort_keys=True) == json.dumps(
        plan_of("dev").to_json(), sort_keys=True
    )


@pytest.mark.parametrize("stack", STACKS)
def test_stack_passes_the_policy_gate(plan_of: Callable[[str], Plan], stack: str) -> None:
    result = run_gate(plan_of(stack))
    assert result.rules >= 40
    assert result.checked == len(plan_of(stack).resources)
    assert result.mandatory == []


def test_world_open_api_endpoint_fails_the_gate() -> None:
    plan = synth_with("dev", cluster={"publicAccessCidrs": ["0.0.0.0/0"]})
    rules = {(v.rule, v.urn.rsplit("::", 1)[-1]) for v in run_gate(plan).mandatory}
    assert ("eks-endpoint-restricted", "dev-cluster-eks") in rules


def test_missing_default_tag_fails_the_gate() -> None:
    plan = synth_with("staging", team="")
    mandatory = run_gate(plan).mandatory
    assert {v.rule for v in mandatory} == {"aws-mandatory-tags"}
    assert all("Team" in v.message for v in mandatory)


def _stack_plan(plan_of: Callable[[str], Plan], stack: str) -> StackPlan:
    settings = stack_settings(ROOT, stack)
    return StackPlan(plan_of(stack), settings.account, settings.region)


@pytest.mark.parametrize("stack", STACKS)
def test_stack_passes_the_admission_and_wiring_checks(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    account = stack_settings(ROOT, stack).account
    peers = [
        _stack_plan(plan_of, other)
        for other in STACKS
        if stack_settings(ROOT, other).account == account
    ]
    result = run_checks(plan_of(stack), peers)
    assert [f.message for f in result.findings] == []
    assert result.examined["quota"] > 0 and result.examined["order"] > 0


def test_physical_names_are_unique_across_every_stack(plan_of: Callable[[str], Plan]) -> None:
    """S3 bucket names are unique in all of AWS, not only in one account."""
    findings, examined = check_global_names([_stack_plan(plan_of, s) for s in STACKS])
    assert examined > 100
    assert [f.message for f in findings] == []

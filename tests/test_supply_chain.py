"""The supply chain in each stack's plan: registries, replication, CI's OIDC trust and roles."""

from __future__ import annotations

import json
from fnmatch import fnmatch
from typing import Any

import pytest

from components.settings import WORKLOADS
from components.supply.identity import (
    DATA_AND_KEY_ACTIONS,
    IMAGE_WORKFLOW_REF,
    REGIONAL_SERVICES,
    SCOPED_SERVICES,
)
from tests.conftest import REGIONS, by_name
from tools.checks import StackPlan, check_global_names
from tools.synth import Plan

REPOSITORY = "aws:ecr/repository:Repository"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
ISSUER = "token.actions.githubusercontent.com"
# Pulumi module of a resource type -> the IAM prefixes its API calls use.
IAM_PREFIXES = {
    "cloudwatch": {"cloudwatch", "logs", "events"},
    "costexplorer": {"ce"},
    "ec2transitgateway": {"ec2"},
    "msk": {"kafka"},
    "opensearch": {"es"},
}


def _statements(document: str) -> list[dict[str, Any]]:
    return list(json.loads(document)["Statement"])


def _allowed(stack_plan: Plan, name: str) -> list[dict[str, Any]]:
    return _statements(by_name(stack_plan, ROLE_POLICY)[name].inputs["policy"])


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def _grants(statements: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [
        s
        for s in statements
        if s["Effect"] == "Allow" and any(fnmatch(action.lower(), a.lower()) for a in _actions(s))
    ]


@pytest.mark.parametrize("stack", sorted(REGIONS))
def test_every_workload_has_an_immutable_kms_encrypted_repository(plan_of, stack):
    plan = plan_of(stack)
    repositories = {r.inputs["name"]: r for r in plan.by_type(REPOSITORY)}
    assert set(repositories) == {f"agent-factory/{w}" for w in WORKLOADS}
    keys = {r.name: r for r in plan.by_type("aws:kms/key:Key")}
    registry_key = keys[f"{stack}-registry-key"]
    assert registry_key.inputs["enableKeyRotation"] is True
    for repository in repositories.values():
        assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        [encryption] = repository.inputs["encryptionConfigurations"]
        assert encryption["encryptionType"] == "KMS"
        assert encryption["kmsKey"].startswith(f"arn:aws:kms:{REGIONS[stack]}:")
        assert repository.inputs["forceDelete"] is (not stack.startswith("prod"))


@pytest.mark.parametrize("stack", sorted(REGIONS))
def test_registry_scans_continuously_and_expires_old_images(plan_of, stack):
    plan = plan_of(stack)
    [scanning] = plan.by_type("aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration")
    assert scanning.inputs["scanType"] == "ENHANCED"
    [rule] = scanning.inputs["rules"]
    assert rule["scanFrequency"] == "CONTINUOUS_SCAN"
    assert rule["repositoryFilters"] == [{"filter": "agent-factory/*", "filterType": "WILDCARD"}]
    policies = plan.by_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    assert len(policies) == len(WORKLOADS)
    rules = json.loads(policies[0].inputs["policy"])["rules"]
    untagged, any_tag = sorted(rules, key=lambda r: r["rulePriority"])
    assert untagged["selection"]["tagStatus"] == "untagged"
    assert untagged["selection"]["countNumber"] == 14
    # ECR requires the tagStatus any rule to be evaluated last.
    assert any_tag["selection"] == {
        "tagStatus": "any",
        "countType": "imageCountMoreThan",
        "countNumber": 500,
    }


def test_only_the_primary_replicates_to_the_secondaries(plan_of):
    replication = "aws:ecr/replicationConfiguration:ReplicationConfiguration"
    [config] = plan_of("prod").by_type(replication)
    [rule] = config.inputs["replicationConfiguration"]["rules"]
    assert {d["region"] for d in rule["destinations"]} == {"us-west-2", "eu-west-1"}
    assert {d["registryId"] for d in rule["destinations"]} == {"123456789012"}
    assert rule["repositoryFilters"] == [{"filter": "agent-factory/", "filterType": "PREFIX_MATCH"}]
    for stack in ("dev", "staging", "prod-us-west-2", "prod-eu-west-1"):
        assert plan_of(stack).by_type(replication) == []


@pytest.mark.parametrize("stack", sorted(REGIONS))
def test_nodes_may_decrypt_the_registry_key_through_ecr_only(plan_of, stack):
    plan = plan_of(stack)
    [statement] = _allowed(plan, f"{stack}-registry-node-pull")
    assert statement["Action"] == "kms:Decrypt"
    assert statement["Resource"] == by_name(plan, "aws:kms/key:Key")[
        f"{stack}-registry-key"
    ].outputs.get("arn", statement["Resource"])
    assert statement["Condition"] == {
        "StringEquals": {"kms:ViaService": f"ecr.{REGIONS[stack]}.amazonaws.com"}
    }
    pull = by_name(plan, ROLE_POLICY)[f"{stack}-registry-node-pull"]
    assert pull.inputs["role"].startswith(f"{stack}-nodes-node-role")


@pytest.mark.parametrize("stack", sorted(REGIONS))
def test_the_chart_pulls_from_this_regions_registry(plan_of, stack):
    images = plan_of(stack).outputs["imageRegistry"]
    assert images == f"123456789012.dkr.ecr.{REGIONS[stack]}.amazonaws.com"


@pytest.mark.parametrize(
    ("stack", "owner"),
    [("dev", True), ("staging", True), ("prod", True), ("prod-us-west-2", False)],
)
def test_one_github_provider_per_account(plan_of, stack, owner):
    plan = plan_of(stack)
    providers = plan.by_type(OIDC_PROVIDER)
    push = by_name(plan, ROLE).get(f"{stack}-ci-image-push")
    if owner:
        [provider] = providers
        assert provider.inputs == {
            "clientIdLists": ["sts.amazonaws.com"],
            "url": f"https://{ISSUER}",
        }
        assert push is not None and push.inputs["name"] == "AgentFactoryImagePush"
        assert "imagePushRoleArn" in plan.outputs
    else:
        assert providers == [] and push is None
        assert "imagePushRoleArn" not in plan.outputs


def _trust(plan: Plan, name: str) -> dict[str, Any]:
    [statement] = _statements(by_name(plan, ROLE)[name].inputs["assumeRolePolicy"])
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"]["StringEquals"][f"{ISSUER}:aud"] == "sts.amazonaws.com"
    return dict(statement["Condition"])


@pytest.mark.parametrize("stack", ["dev", "prod", "prod-eu-west-1"])
def test_deploy_and_preview_roles_trust_one_environment_each(plan_of, stack):
    plan = plan_of(stack)
    deploy = _trust(plan, f"{stack}-ci-deploy")
    assert deploy == {
        "StringEquals": {
            f"{ISSUER}:aud": "sts.amazonaws.com",
            f"{ISSUER}:sub": [f"repo:agent-factory/platform:environment:{stack}"],
        }
    }
    preview = _trust(plan, f"{stack}-ci-preview")
    assert preview["StringEquals"][f"{ISSUER}:sub"] == [
        f"repo:agent-factory/platform:environment:{stack}-readonly"
    ]
    assert "StringLike" not in preview
    arns = plan.outputs
    assert arns["ciDeployRoleArn"].endswith(f":role/agent-factory-{stack}-ci-deploy")
    assert arns["ciPreviewRoleArn"].endswith(f":role/agent-factory-{stack}-ci-preview")


def test_image_push_trusts_only_the_platform_workflow_from_the_service_repositories(plan_of):
    trust = _trust(plan_of("prod"), "prod-ci-image-push")
    assert trust["StringEquals"][f"{ISSUER}:job_workflow_ref"] == IMAGE_WORKFLOW_REF
    assert IMAGE_WORKFLOW_REF == (
        "agent-factory/platform/.github/workflows/image.yml@refs/heads/main"
    )
    subjects = trust["StringLike"][f"{ISSUER}:sub"]
    assert len(subjects) == len(WORKLOADS) * 2
    assert "repo:agent-factory/worker:ref:refs/heads/main" in subjects
    assert "repo:agent-factory/worker:ref:refs/tags/v*" in subjects
    assert all(s.startswith("repo:agent-factory/") and ":ref:refs/" in s for s in subjects)


def test_image_push_writes_only_the_services_repositories(plan_of):
    plan = plan_of("prod")
    login, push = _allowed(plan, "prod-ci-image-push-policy")
    assert (login["Action"], login["Resource"]) == ("ecr:GetAuthorizationToken", "*")
    assert set(push["Resource"]) == {
        f"arn:aws:ecr:us-east-1:123456789012:repository/agent-factory/{w}" for w in WORKLOADS
    }
    assert "ecr:PutImage" in push["Action"]
    assert not [a for a in push["Action"] if "*" in a or "Delete" in a or "Policy" in a]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_preview_role_reads_configuration_never_data(plan_of, stack):
    [read] = _allowed(plan_of(stack), f"{stack}-ci-preview-policy")
    verbs = {a.split(":", 1)[1] for a in _actions(read)}
    # budgets:ViewBudget is the Budgets API's only read.
    assert all(v.startswith(("Describe", "Get", "List", "View")) for v in verbs), verbs
    for action in DATA_AND_KEY_ACTIONS:
        assert not _grants([read], action), action


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_deploy_role_writes_only_this_stacks_names(plan_of, stack):
    plan = plan_of(stack)
    statements = _allowed(plan, f"{stack}-ci-deploy-policy")
    for action in DATA_AND_KEY_ACTIONS:
        grants = _grants(statements, action)
        if action == "secretsmanager:GetSecretValue":
            # Only this stack's secrets (the SecretVersions it writes and reads back).
            [grant] = grants
            assert grant["Resource"].endswith(f":secret:agent-factory-{stack}/*")
        else:
            assert not grants, action
    for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:PassRole"):
        [grant] = _grants(statements, action)
        assert all(
            r.endswith((f":role/{stack}-*", f"-{stack}", f":policy/{stack}-*"))
            or r.endswith(f":instance-profile/{stack}-*")
            for r in grant["Resource"]
        )
        # The CI roles are not the deploy role's to change.
        assert not any(
            fnmatch(f"arn:aws:iam::123456789012:role/agent-factory-{stack}-ci-deploy", r)
            for r in grant["Resource"]
        )
    [buckets] = _grants(statements, "s3:PutBucketPolicy")
    assert sorted(buckets["Resource"]) == sorted(plan.outputs["bucketArns"].values())
    [cluster] = _grants(statements, "eks:CreateAccessEntry")
    assert all(
        f":cluster/agent-factory-{stack}" in r or f"/agent-factory-{stack}/" in r
        for r in cluster["Resource"]
    )
    assert not _grants(statements, "kms:PutKeyPolicy")
    assert not _grants(statements, "kms:CreateGrant")
    [regional] = [s for s in statements if s.get("Sid") == "RegionalWrites"]
    assert regional["Condition"] == {"StringEquals": {"aws:RequestedRegion": REGIONS[stack]}}


@pytest.mark.parametrize("stack", sorted(REGIONS))
def test_ci_roles_cover_every_service_the_plan_uses(plan_of, stack):
    """A new kind of resource in the program must reach the deploy and preview roles."""
    modules = {
        r.type.split(":")[1].split("/")[0]
        for r in plan_of(stack).resources
        if r.type.startswith("aws:") and r.custom
    }
    prefixes = set().union(*(IAM_PREFIXES.get(m, {m}) for m in modules))
    assert prefixes <= {*REGIONAL_SERVICES, *SCOPED_SERVICES}, prefixes - {
        *REGIONAL_SERVICES,
        *SCOPED_SERVICES,
    }


def test_the_prod_account_creates_each_registry_and_identity_global_once(plan_of):
    prod = ("prod", "prod-us-west-2", "prod-eu-west-1")
    stacks = [StackPlan(plan_of(s), "prod", REGIONS[s]) for s in prod]
    assert check_global_names(stacks)[0] == []
    # A secondary that also created the provider would fail its first pulumi up.
    [provider] = plan_of("prod").by_type(OIDC_PROVIDER)
    twice = StackPlan(Plan("prod-us-west-2", "agent-factory", [provider], {}), "prod", "us-west-2")
    [finding] = check_global_names([stacks[0], twice])[0]
    assert finding.message.startswith(
        f"OpenIdConnectProvider https://{ISSUER} is created by prod, prod-us-west-2"
    )


@pytest.mark.parametrize("stack", ["staging", "prod-us-west-2"])
def test_deploy_administers_the_cluster_and_preview_only_views_it(plan_of, stack):
    plan = plan_of(stack)
    associations = by_name(plan, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    for role, policy in (
        ("deploy", "AmazonEKSClusterAdminPolicy"),
        ("preview", "AmazonEKSViewPolicy"),
    ):
        association = associations[f"{stack}-ci-{role}-access-policy"]
        assert association.inputs["policyArn"].endswith(f":cluster-access-policy/{policy}")
        assert association.inputs["accessScope"] == {"type": "cluster"}
        assert association.inputs["clusterName"] == f"agent-factory-{stack}"
        entry = by_name(plan, "aws:eks/accessEntry:AccessEntry")[f"{stack}-ci-{role}-access"]
        assert entry.inputs["type"] == "STANDARD"


@pytest.mark.parametrize(("stack", "primary"), [("prod", None), ("prod-eu-west-1", "us-east-1")])
def test_deploy_writes_its_own_budget_and_a_secondary_accepts_its_peering_in_prod(
    plan_of, stack, primary
):
    """Budgets is global (named, not regional); a secondary's peering is accepted in the
    primary's region, which its regional writes do not reach."""
    statements = {s["Sid"]: s for s in _allowed(plan_of(stack), f"{stack}-ci-deploy-policy")}
    assert statements["OwnBudget"]["Resource"].endswith(f":budget/*-{stack}-monthly")
    assert statements["OwnBudget"]["Action"] == [
        "budgets:ModifyBudget",
        "budgets:TagResource",
        "budgets:UntagResource",
    ]
    peering = statements.get("PeeringInPrimaryRegion")
    if primary is None:
        assert peering is None
        return
    assert peering["Condition"] == {"StringEquals": {"aws:RequestedRegion": primary}}
    assert "ec2:AcceptTransitGatewayPeeringAttachment" in peering["Action"]
    assert not [a for a in peering["Action"] if a.endswith("*")]

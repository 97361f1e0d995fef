"""The add-on registry: every Helm release is a HelmAddon with a pinned chart from the one
table, its footprint, and (where it has one) an IrsaRole; moved resources keep their URNs."""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from components.addons import cert_manager
from components.addons.charts import CHARTS, Chart
from components.addons.registry import HelmAddonArgs, with_annotations
from components.footprint import FOOTPRINTS_OUTPUT, ReleaseFootprint
from tests.conftest import STACKS, by_name, project_root, synth_with
from tools.synth import Plan, PlannedResource
from tools.urns import alias_urns, compose_urn

RELEASE = "kubernetes:helm.sh/v3:Release"
ADDON = "agentfactory:platform:HelmAddon"
SERVICES = "agentfactory:platform:Services"
ROLE = "aws:iam/role:Role"
COMPONENTS = project_root() / "components"
# The add-ons that carry their own IRSA role: resource name -> (service account, where the
# chart takes its service account in the values).
IRSA_ADDONS = {
    "prod-security-cert-manager": ("cert-manager", ("serviceAccount",)),
    "prod-security-external-secrets": ("external-secrets", ("serviceAccount",)),
    "prod-security-keda": ("keda-operator", ("serviceAccount", "operator")),
    "prod-observability-tempo": ("tempo", ("serviceAccount",)),
    "prod-nodes-cluster-autoscaler": ("cluster-autoscaler", ("rbac", "serviceAccount")),
}

# Releases first deployed through the registry: no earlier URN to alias.
BORN_IN_REGISTRY = {"opencost", "velero"}


def parent_of(plan: Plan, resource: PlannedResource) -> PlannedResource:
    (parent,) = [r for r in plan.resources if r.urn == resource.parent]
    return parent


@pytest.mark.parametrize("stack", STACKS)
def test_every_release_lives_in_its_addon_and_keeps_its_urn(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    plan = plan_of(stack)
    releases = plan.by_type(RELEASE)
    assert len(releases) == len(plan.by_type(ADDON)) >= 9
    for release in releases:
        addon = parent_of(plan, release)
        assert (addon.type, addon.name) == (ADDON, release.name)
        if release.inputs["name"] in BORN_IN_REGISTRY:
            # Never released outside the registry: no old identity to keep.
            assert alias_urns(plan, release) == set(), release.name
            continue
        # The alias names the component that created the release before the registry.
        owner = parent_of(plan, addon)
        old = compose_urn(plan.stack, plan.project, owner.urn, RELEASE, release.name)
        assert alias_urns(plan, release) == {old}, release.name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_footprint_is_registered_once_by_its_addon(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    plan = plan_of(stack)
    registered = [
        (owner, footprint)
        for owner in plan.resources
        for footprint in owner.outputs.get(FOOTPRINTS_OUTPUT) or []
    ]
    # The add-ons, and Services for its in-repo chart (what its ServiceMonitors scrape).
    assert {owner.type for owner, _ in registered} == {ADDON, SERVICES}
    (services,) = [f for owner, f in registered if owner.type == SERVICES]
    assert (services["namespace"], services["release"]) == (f"greenlang-{stack}", "agent-factory")
    assert services["workloads"] == [] and services["crds"] == []
    registered = [(owner, f) for owner, f in registered if owner.type == ADDON]
    by_owner = {owner.urn: footprint for owner, footprint in registered}
    assert len(by_owner) == len(registered)
    for release in plan.by_type(RELEASE):
        footprint = by_owner[release.parent]
        key = (release.inputs["namespace"], release.inputs["name"])
        assert (footprint["namespace"], footprint["release"]) == key


@pytest.mark.parametrize("addon_name", sorted(IRSA_ADDONS))
def test_irsa_annotation_comes_from_the_addons_role(
    plan_of: Callable[[str], Plan], addon_name: str
) -> None:
    plan = plan_of("prod")
    service_account, path = IRSA_ADDONS[addon_name]
    addon = by_name(plan, ADDON)[addon_name]
    (role,) = [r for r in plan.by_type(ROLE) if r.parent == addon.urn]
    values = by_name(plan, RELEASE)[addon_name].inputs["values"]
    for key in path:
        values = values[key]
    assert values["annotations"] == {"eks.amazonaws.com/role-arn": plan.states[role.urn]["arn"]}
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    subjects = [v for k, v in statement["Condition"]["StringEquals"].items() if k.endswith(":sub")]
    namespace = by_name(plan, RELEASE)[addon_name].inputs["namespace"]
    assert subjects == [f"system:serviceaccount:{namespace}:{service_account}"]
    # The role moved with the release: its alias reaches the URN it was deployed with.
    owner = parent_of(plan, addon)
    assert alias_urns(plan, role) == {
        compose_urn(plan.stack, plan.project, owner.urn, ROLE, role.name)
    }


def test_the_peer_probe_moved_into_the_blackbox_addon_under_its_old_name(
    plan_of: Callable[[str], Plan],
) -> None:
    plan = plan_of("prod")
    addon = by_name(plan, ADDON)["prod-observability-blackbox-exporter"]
    (probe,) = plan.by_type("kubernetes:monitoring.coreos.com/v1:Probe")
    assert probe.parent == addon.urn
    observability = parent_of(plan, addon)
    assert alias_urns(plan, probe) == {
        compose_urn(
            plan.stack,
            plan.project,
            observability.urn,
            probe.type,
            "prod-observability-peer-regions-probe",
        )
    }
    # It waits for its exporter and for the release that installs the Probe CRD.
    kps = by_name(plan, RELEASE)["prod-observability-kube-prometheus-stack"]
    exporter = by_name(plan, RELEASE)["prod-observability-blackbox-exporter"]
    assert {kps.urn, exporter.urn} <= set(probe.dependencies)
    (footprint,) = addon.outputs[FOOTPRINTS_OUTPUT]
    assert footprint["metrics"] == [
        {"prefixes": ["probe_"], "via": "Probe/monitoring/peer-regions"}
    ]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_chart_versions_and_repositories_come_from_the_table(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    for release in plan_of(stack).by_type(RELEASE):
        chart = CHARTS[release.inputs["chart"]]
        assert release.inputs["version"] == chart.version, release.name
        assert release.inputs["repositoryOpts"] == {"repo": chart.repo}


def test_a_stack_override_changes_one_chart_only(plan_of: Callable[[str], Plan]) -> None:
    overridden = synth_with("dev", charts={"tempo": "1.23.0"})
    versions = {r.name: r.inputs["version"] for r in overridden.by_type(RELEASE)}
    assert versions.pop("dev-observability-tempo") == "1.23.0"
    assert CHARTS["tempo"].version != "1.23.0"
    base = {r.name: r.inputs["version"] for r in plan_of("dev").by_type(RELEASE)}
    assert base.pop("dev-observability-tempo") == CHARTS["tempo"].version
    assert versions == base


def test_policies_and_endpoints_follow_the_partition(plan_of: Callable[[str], Plan]) -> None:
    statements = cert_manager.policy("aws-cn", None, "example.cn")
    assert {s["Resource"] for s in statements} == {
        "arn:aws-cn:route53:::change/*",
        "arn:aws-cn:route53:::hostedzone/*",
        "*",
    }
    # The region's S3 endpoint from the partition's DNS suffix (the mocks: amazonaws.com).
    tempo = by_name(plan_of("prod"), RELEASE)["prod-observability-tempo"].inputs["values"]
    s3 = tempo["tempo"]["storage"]["trace"]["s3"]
    assert s3["endpoint"] == "s3.us-east-1.amazonaws.com"


def test_an_addon_refuses_a_footprint_of_another_release() -> None:
    with pytest.raises(ValueError, match="does not describe the release"):
        HelmAddonArgs(
            chart=Chart("tempo", "https://example.com", "1.0.0"),
            release_name="tempo",
            namespace="tracing",
            values={},
            footprint=ReleaseFootprint("tempo", "monitoring"),
            cluster=None,  # type: ignore[arg-type]  # refused before it is used
        )


def test_annotations_are_merged_into_a_copy_of_the_values() -> None:
    values = {"rbac": {"serviceAccount": {"name": "sa", "annotations": {"a": "1"}}}, "x": 1}
    merged = with_annotations(values, ("rbac", "serviceAccount"), {"b": "2"})
    assert merged == {
        "rbac": {"serviceAccount": {"name": "sa", "annotations": {"a": "1", "b": "2"}}},
        "x": 1,
    }
    assert values["rbac"]["serviceAccount"]["annotations"] == {"a": "1"}
    assert with_annotations({}, ("serviceAccount",), {"b": "2"}) == {
        "serviceAccount": {"annotations": {"b": "2"}}
    }


# -- one home: the registry and IrsaRole --------------------------------------------------


def _calls(path: Path) -> list[str]:
    """Dotted names of everything ``path`` calls (``k8s.helm.v3.Release``, ``IrsaRole``)."""

    def dotted(node: ast.expr) -> str:
        if isinstance(node, ast.Attribute):
            return f"{dotted(node.value)}.{node.attr}"
        return node.id if isinstance(node, ast.Name) else ""

    tree = ast.parse(path.read_text(), filename=str(path))
    return [dotted(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)]


def _sources() -> dict[str, Path]:
    return {str(p.relative_to(COMPONENTS)): p for p in sorted(COMPONENTS.rglob("*.py"))}


def test_only_the_registry_constructs_helm_releases() -> None:
    builders = {
        name
        for name, path in _sources().items()
        if any(call.endswith("helm.v3.Release") for call in _calls(path))
    }
    assert builders == {"addons/registry.py"}


def test_only_irsa_role_builds_irsa_roles() -> None:
    """An IRSA role is one whose trust names a service account: only IrsaRole builds that
    trust, and only it writes the service account annotation."""
    trusts = {
        name
        for name, path in _sources().items()
        if "irsa_trust_policy" in _calls(path)
        or "sts:AssumeRoleWithWebIdentity" in path.read_text()
        or "eks.amazonaws.com/role-arn" in path.read_text()
    }
    assert trusts == {"iam.py"}
    tree = ast.parse((COMPONENTS / "iam.py").read_text())
    (irsa,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "IrsaRole"]
    inside = {
        n.func.id
        for n in ast.walk(irsa)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    assert "irsa_trust_policy" in inside
    # Nowhere else in iam.py: the function is called from IrsaRole only.
    outside = [
        n
        for top in tree.body
        if top is not irsa
        for n in ast.walk(top)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Name)
        and n.func.id == "irsa_trust_policy"
    ]
    assert outside == []

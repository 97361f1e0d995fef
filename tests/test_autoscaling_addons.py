"""KEDA and the VPA recommender: restricted pods, replicas per environment, only the
recommender of the VPA, CRDs from the charts, footprints that match the values and fit
their namespaces' quotas, and a KEDA IRSA role limited to describing the stack's MSK.

Chart evidence (pins in components/addons/charts.py):
- keda 2.20.1 (kedacore/charts): KEDA 2.20 is tested on Kubernetes 1.33-1.35
  (kedacore/keda-docs content/docs/2.21/operate/cluster.md). Value keys from the chart's
  templates (manager/metrics-server/webhooks deployment.yaml, poddisruptionbudget.yaml,
  manager/serviceaccount.yaml).
- vertical-pod-autoscaler 0.12.0 (kubernetes/autoscaler, released by chart-releaser on the
  version bump of PR #10092): README at 0.12.0 lists crds.enabled/keep,
  podSecurityContext, containerSecurityContext, admissionController.enabled,
  updater.enabled and recommender.*.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from components.addons import keda, vpa
from components.addons.charts import CHARTS
from components.footprint import ReleaseFootprint, Resources, Workload
from components.k8s.namespaces import CONTAINER_SECURITY, POD_SECURITY
from policy.agentfactory_policies.hygiene import DEFAULT_REPOSITORIES
from tests.conftest import by_name
from tools.checks import check_order, check_quotas
from tools.synth import Plan

RELEASE = "kubernetes:helm.sh/v3:Release"
ADDON = "agentfactory:platform:HelmAddon"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
QUOTA = "kubernetes:core/v1:ResourceQuota"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
EXPECTED_REPLICAS = {"prod": 2, "dev": 1}


def _release(plan: Plan, name: str) -> dict[str, Any]:
    release = by_name(plan, RELEASE)[f"{plan.stack}-security-{name}"]
    return release.inputs


def _values(plan: Plan, name: str) -> dict[str, Any]:
    values: dict[str, Any] = _release(plan, name)["values"]
    return values


# -- values -------------------------------------------------------------------------------


@pytest.mark.parametrize("replicas", [1, 2, 3])
def test_keda_pods_are_restricted(replicas: int) -> None:
    values = keda.values(replicas)
    for component in keda.COMPONENTS:
        assert values["podSecurityContext"][component] == POD_SECURITY
        assert values["securityContext"][component] == CONTAINER_SECURITY
    assert CONTAINER_SECURITY["allowPrivilegeEscalation"] is False
    assert CONTAINER_SECURITY["capabilities"] == {"drop": ["ALL"]}


@pytest.mark.parametrize("replicas", [1, 2, 3])
def test_vpa_pods_are_restricted(replicas: int) -> None:
    values = vpa.values(replicas)
    assert values["podSecurityContext"] == POD_SECURITY
    assert values["containerSecurityContext"] == CONTAINER_SECURITY


def test_only_the_vpa_recommender_runs_and_the_charts_install_their_crds() -> None:
    values = vpa.values(3)
    assert values["admissionController"] == {"enabled": False}
    assert values["updater"] == {"enabled": False}
    assert values["recommender"]["enabled"] is True
    assert values["crds"] == {"enabled": True, "keep": True}
    assert keda.values(3)["crds"] == {"install": True}
    assert keda.footprint(3).crds == ("keda.sh", "eventing.keda.sh")
    assert vpa.footprint(3).crds == ("autoscaling.k8s.io",)


@pytest.mark.parametrize("stack", sorted(EXPECTED_REPLICAS))
def test_replicas_follow_the_environment(plan_of: Callable[[str], Plan], stack: str) -> None:
    plan = plan_of(stack)
    want = EXPECTED_REPLICAS[stack]
    scaler = _values(plan, keda.NAME)
    assert scaler["operator"]["replicaCount"] == want
    assert scaler["metricsServer"]["replicaCount"] == want
    assert scaler["webhooks"]["replicaCount"] == want
    recommender = _values(plan, vpa.NAME)["recommender"]
    assert recommender["replicas"] == want
    assert recommender["leaderElection"] == {"enabled": want > 1}
    # A PodDisruptionBudget only where a second pod can carry on during a drain.
    budget = {"minAvailable": 1} if want >= 2 else {}
    assert scaler["podDisruptionBudget"] == dict.fromkeys(keda.COMPONENTS, budget)
    assert recommender["podDisruptionBudget"]["enabled"] is (want >= 2)


@pytest.mark.parametrize("stack", sorted(EXPECTED_REPLICAS))
def test_releases_come_from_the_pinned_charts(plan_of: Callable[[str], Plan], stack: str) -> None:
    plan = plan_of(stack)
    for name, chart in ((keda.NAME, "keda"), (vpa.NAME, "vertical-pod-autoscaler")):
        release = _release(plan, name)
        assert release["chart"] == chart
        assert release["version"] == CHARTS[chart].version
        assert release["repositoryOpts"] == {"repo": CHARTS[chart].repo}
        assert release["namespace"] == {keda.NAME: keda.NAMESPACE, vpa.NAME: vpa.NAMESPACE}[name]


def test_the_chart_repositories_are_allowed() -> None:
    allowed = {url.rstrip("/") for url in DEFAULT_REPOSITORIES}
    assert CHARTS["keda"].repo in allowed
    assert CHARTS["vertical-pod-autoscaler"].repo in allowed
    assert CHARTS["vertical-pod-autoscaler"].repo == CHARTS["cluster-autoscaler"].repo


# -- footprints and quotas ---------------------------------------------------------------------


@pytest.mark.parametrize("replicas", [1, 3])
def test_keda_footprint_matches_the_values(replicas: int) -> None:
    values = keda.values(replicas)
    workloads = {w.name: w for w in keda.footprint(replicas).workloads}
    declared = {
        "operator": (values["operator"]["replicaCount"], values["resources"]["operator"]),
        "metrics-apiserver": (
            values["metricsServer"]["replicaCount"],
            values["resources"]["metricServer"],
        ),
        "admission-webhooks": (
            values["webhooks"]["replicaCount"],
            values["resources"]["webhooks"],
        ),
    }
    assert set(workloads) == set(declared)
    for name, (count, resources) in declared.items():
        workload = workloads[name]
        assert workload.kind == "Deployment"
        assert workload.replicas == count
        assert [c.values() for c in workload.containers if c] == [resources]


@pytest.mark.parametrize("replicas", [1, 3])
def test_vpa_footprint_matches_the_values(replicas: int) -> None:
    recommender = vpa.values(replicas)["recommender"]
    (workload,) = vpa.footprint(replicas).workloads
    assert workload.name == "recommender"
    assert workload.replicas == recommender["replicas"]
    assert [c.values() for c in workload.containers if c] == [recommender["resources"]]


def test_quota_is_the_footprint_with_its_rollout_surge() -> None:
    quota = keda.quota(3)
    # Two replicas of three Deployments, each with one surge pod.
    assert quota.pods == 3 * (2 + 1)
    assert quota.cpu == pytest.approx(3 * (0.1 + 0.1 + 0.05))
    assert quota.memory_gib == pytest.approx(3 * (128 + 128 + 64) / 1024)
    assert quota.limits_memory_gib == pytest.approx(3 * (1000 + 1000 + 256) / 1024)
    one = vpa.quota(1)
    assert (one.pods, one.cpu, one.memory_gib) == (2, pytest.approx(0.1), 1000 / 1024)
    bare = ReleaseFootprint("x", "y", (Workload("w", "Deployment", (None,)),))
    with pytest.raises(ValueError, match="declares no resources"):
        keda.quota_for(bare, keda.MAX_CONTAINER)


@pytest.mark.parametrize("stack", sorted(EXPECTED_REPLICAS))
def test_the_namespaces_admit_their_footprints(plan_of: Callable[[str], Plan], stack: str) -> None:
    plan = plan_of(stack)
    findings, examined = check_quotas(plan)
    assert examined > 0
    mine = [f for f in findings if f"{keda.NAMESPACE}/" in f.message or "keda" in f.subject]
    mine += [f for f in findings if f"{vpa.NAMESPACE}/" in f.message or "vpa" in f.subject]
    assert mine == []
    quotas = {r.inputs["metadata"]["namespace"]: r for r in plan.by_type(QUOTA)}
    assert {keda.NAMESPACE, vpa.NAMESPACE} <= set(quotas)
    # Sized from the footprint: no pod more than the release needs.
    want = EXPECTED_REPLICAS[stack]
    assert quotas[keda.NAMESPACE].inputs["spec"]["hard"]["pods"] == str(3 * (want + 1))
    assert quotas[vpa.NAMESPACE].inputs["spec"]["hard"]["pods"] == str(want + 1)
    # The releases wait for their namespaces.
    releases = {f"{stack}-security-{keda.NAME}", f"{stack}-security-{vpa.NAME}"}
    assert [f for f in check_order(plan)[0] if f.subject.rsplit("::", 1)[-1] in releases] == []


def _policy(plan: Plan, namespace: str, name: str) -> dict[str, Any]:
    (found,) = [
        r
        for r in plan.by_type(NETWORK_POLICY)
        if r.inputs["metadata"]["namespace"] == namespace and r.inputs["metadata"]["name"] == name
    ]
    spec: dict[str, Any] = found.inputs["spec"]
    return spec


def test_keda_takes_the_api_server_and_reaches_msk(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    ingress = _policy(plan, keda.NAMESPACE, "allow-ingress")["ingress"]
    api_ports = {p["port"] for rule in ingress if "ports" in rule for p in rule["ports"]}
    assert api_ports == {keda.METRICS_API_PORT, keda.WEBHOOK_PORT}
    egress = _policy(plan, keda.NAMESPACE, "allow-egress")["egress"]
    ports = {p["port"] for rule in egress for p in rule["ports"]}
    assert ports == {keda.KAFKA_IAM_PORT, 443}
    # Only Prometheus calls into the recommender's namespace.
    (scraped,) = _policy(plan, vpa.NAMESPACE, "allow-ingress")["ingress"]
    assert scraped["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "monitoring"
    }


# -- IRSA ---------------------------------------------------------------------------------------


def test_keda_role_trusts_the_operator_and_reads_only_kafka(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    addon = by_name(plan, ADDON)["prod-security-keda"]
    (role,) = [r for r in plan.by_type(ROLE) if r.parent == addon.urn]
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    subjects = [v for k, v in statement["Condition"]["StringEquals"].items() if k.endswith(":sub")]
    assert subjects == [f"system:serviceaccount:{keda.NAMESPACE}:{keda.SERVICE_ACCOUNT}"]
    (policy,) = [r for r in plan.by_type(ROLE_POLICY) if r.parent == addon.urn]
    statements = json.loads(policy.inputs["policy"])["Statement"]
    actions = set()
    for allowed in statements:
        assert allowed["Effect"] == "Allow"
        listed = allowed["Action"] if isinstance(allowed["Action"], list) else [allowed["Action"]]
        actions.update(listed)
        resource = allowed["Resource"]
        assert resource.startswith("arn:aws:kafka:us-east-1:"), resource
        assert resource.split(":", 5)[5].split("/")[0] in {"cluster", "topic", "group"}
        assert resource.endswith("-kafka/*"), resource
    assert actions == {
        "kafka-cluster:Connect",
        "kafka-cluster:DescribeCluster",
        "kafka-cluster:DescribeTopic",
        "kafka-cluster:DescribeGroup",
    }
    # The chart's operator ServiceAccount carries the role.
    values = _values(plan, keda.NAME)
    annotations = values["serviceAccount"]["operator"]["annotations"]
    assert annotations == {"eks.amazonaws.com/role-arn": plan.states[role.urn]["arn"]}


def test_keda_policy_scopes_each_action_to_its_resource_type() -> None:
    statements = keda.policy("aws-cn", "111122223333", "cn-north-1", "c1")
    by_resource = {s["Resource"]: s["Action"] for s in statements}
    base = "arn:aws-cn:kafka:cn-north-1:111122223333"
    assert by_resource == {
        f"{base}:cluster/c1-kafka/*": ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"],
        f"{base}:topic/c1-kafka/*": "kafka-cluster:DescribeTopic",
        f"{base}:group/c1-kafka/*": "kafka-cluster:DescribeGroup",
    }


def test_resources_fit_the_limit_ranges() -> None:
    def fits(container: Resources, ceiling: tuple[str, str]) -> bool:
        return keda._amount(container.cpu_limit) <= keda._amount(ceiling[0]) and keda._amount(
            container.memory_limit
        ) <= keda._amount(ceiling[1])

    assert all(fits(r, keda.MAX_CONTAINER) for r in (keda.OPERATOR, keda.METRICS_SERVER))
    assert fits(keda.WEBHOOKS, keda.MAX_CONTAINER)
    assert fits(vpa.RECOMMENDER, vpa.MAX_CONTAINER)
